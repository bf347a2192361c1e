#!/usr/bin/env bash
# Memory of READERS slow readers of one recording (issue 11 item 2): recordings and clips are
# streamed from disk in chunks (actix-files NamedFile), so what a slow reader costs must not grow
# with the file. One `veza serve` (SQLite) records a short broadcast; the bench then puts a
# recording of LONG seconds (default 3,600: about 58 MB at 128 kb/s) and one of SHORT seconds
# (default 60) in its place in turn, and for each has READERS clients read it at RATE bytes/s
# for HOLD seconds while the server's RSS is sampled. Printed: RSS before, peak RSS under the
# readers, the growth per reader, and the ratio long/short (1.0: memory does not depend on the
# file's length; reading the file whole per request, as before issue 11, would grow by the file's
# size per reader).
#   READERS=400 RATE=16000 HOLD=20 LONG=3600 SHORT=60 bash scripts/bench-file-readers.sh
#   NOBUILD=1 skips the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
READERS=${READERS:-400}
RATE=${RATE:-16000}
HOLD=${HOLD:-20}
LONG=${LONG:-3600}
SHORT=${SHORT:-60}
if [ -z "${NOBUILD:-}" ]; then
  cargo build --release --locked -p veza --bin veza 2>&1 | tail -n 1
fi
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
pids=()
pg_db="veza_filereaders_$$"
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
trap bench_cleanup EXIT

# A minute of tone and noise at 128 kb/s; MP3 frames concatenate, so LONG/60 copies of it are a
# valid recording of LONG seconds.
ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=60" \
       -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=60:amplitude=0.2" \
       -filter_complex "[0:a][1:a]amix=inputs=2,aformat=channel_layouts=stereo" \
       -c:a libmp3lame -b:a 128k "$work/minute.mp3"
make_file() { # make_file SECONDS PATH
  : > "$2"
  for _ in $(seq $(( $1 / 60 ))); do cat "$work/minute.mp3" >> "$2"; done
}
make_file "$LONG" "$work/long.mp3"
make_file "$SHORT" "$work/short.mp3"

data_dir="$work/data"
start_veza sqlite "sqlite://$work/veza.db" VEZA_RECORDINGS=true VEZA_DATA_DIR="$data_dir"
python3 - "$VEZA_PORT" "$VEZA_PID" "$data_dir" "$work" "$READERS" "$RATE" "$HOLD" "$LONG" "$SHORT" <<'PY'
import asyncio, glob, json, os, shutil, subprocess, sys, time, urllib.request
port, pid, data_dir, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
readers, rate, hold, long_s, short_s = map(int, sys.argv[5:10])
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        return r.status, json.loads(r.read() or b"null")

_, reg = call("POST", "/api/v2/auth/register", {"username": "bench_dj", "password": "correct horse battery"})
token = reg["access_token"]
_, stream = call("POST", "/api/v2/streams", {"title": "Bench Archive"}, token)
# A 3 s broadcast, so that the server has a recording of its own to serve.
subprocess.run(["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                "sine=frequency=440:sample_rate=44100:duration=3", "-c:a", "libmp3lame",
                "-b:a", "128k", "-content_type", "audio/mpeg", "-f", "mp3", stream["ingest_url"]],
               check=True)
latest = f"/api/v2/streams/{stream['id']}/recording"
deadline = time.time() + 60
while True:
    try:
        with urllib.request.urlopen(base + latest) as r:
            if r.status == 200:
                break
    except urllib.error.HTTPError:
        pass
    if time.time() > deadline:
        sys.exit("the recording was not published within 60 s")
    time.sleep(0.2)
files = glob.glob(f"{data_dir}/recordings/*/*.mp3")
assert len(files) == 1, files
target = files[0]

def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

async def reader(stop, got):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {latest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await w.drain()
    chunk = max(1, rate // 10)
    while not stop.is_set():
        data = await r.read(chunk)
        if not data:
            break
        got[0] += len(data)
        await asyncio.sleep(0.1)
    w.close()

async def measure(label, seconds):
    shutil.copyfile(f"{work}/{label}.mp3", target)
    size = os.path.getsize(target)
    # One full read first, so the idle figure includes whatever the first request warms up.
    with urllib.request.urlopen(base + latest) as r:
        assert len(r.read()) == size
    before = rss_kib()
    stop, got = asyncio.Event(), [0]
    tasks = [asyncio.create_task(reader(stop, got)) for _ in range(readers)]
    peak, t0 = before, time.time()
    while time.time() - t0 < hold:
        await asyncio.sleep(0.5)
        peak = max(peak, rss_kib())
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    growth = peak - before
    print(f"{label:5}: {seconds:5} s recording ({size / 1e6:.1f} MB), {readers} readers at "
          f"{rate / 1000:.0f} kB/s for {hold} s, {got[0] / 1e6:.0f} MB read: RSS {before / 1024:.1f} MiB "
          f"-> peak {peak / 1024:.1f} MiB, +{growth / readers:.1f} KiB per reader "
          f"(whole-file reads would need +{size / 1024:.0f} KiB per reader)")
    return growth

async def main():
    short = await measure("short", short_s)
    long = await measure("long", long_s)
    print(f"growth with the {long_s} s file / with the {short_s} s file: "
          f"{long / max(short, 1):.2f}x (flat: about 1)")
asyncio.run(main())
PY
