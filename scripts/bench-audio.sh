#!/usr/bin/env bash
# Live-audio benchmarks, printed as figures and ratios against baselines run in the same command:
#  (a) transcoding cost: Veza's live path (decode once, one encoder thread per rung) against ffmpeg
#      encoding the same rungs from the same 60 s input. CPU seconds per 60 s of audio and the
#      ratio, for the MP3 rungs (same library, LAME, on both sides) and for the whole default
#      ladder (Debian's ffmpeg has no libfdk_aac, so its AAC rung uses ffmpeg's native encoder).
#  (b) how many concurrent broadcasts stay real time on this machine (scripts/bench_audio_live.py).
#  (c) N progressive listeners of one stream on Veza (Icecast port and main HTTP port) and on
#      Debian's icecast2 relaying the same audio, side by side (scripts/bench_audio_live.py).
# Environment: PARTS="a b c", BROADCASTS="1 10 20 ...", LISTENERS="1000 5000".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
PARTS=${PARTS:-a b c}
BROADCASTS=${BROADCASTS:-1 10 20 30 40 50 60}
LISTENERS=${LISTENERS:-1000 5000}
if [[ $PARTS == *c* ]] && ! command -v icecast2 >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq icecast2
fi
cargo build --release --locked -p veza-bench --bin veza-transcode --bin veza-listen 2>&1 | tail -n 1
cargo build --release --locked -p veza --bin veza 2>&1 | tail -n 1
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
LADDER=${LADDER:-mp3-64,mp3-128,mp3-192,mp3-320}
ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=60" \
       -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=60:amplitude=0.2" \
       -filter_complex "[0:a][1:a]amix=inputs=2,aformat=channel_layouts=stereo" \
       -c:a libmp3lame -b:a 192k "$work/in.mp3"

ffmpeg -loglevel error -i "$work/in.mp3" -c:a libmp3lame -b:a 128k "$work/in128.mp3"

FULL=${FULL:-mp3-64,mp3-128,mp3-192,mp3-320,aac-128,opus-96}

if [[ $PARTS == *a* ]]; then
python3 - "$work" "$LADDER" "$FULL" <<'PY'
import json, resource, subprocess, sys, time
work, ladder, full = sys.argv[1], sys.argv[2], sys.argv[3]
def ffmpeg_args(rungs):
    args = ["-loglevel", "error", "-y", "-i", f"{work}/in.mp3"]
    for rung in rungs.split(","):
        codec, kbps = rung.split("-")
        enc = {"mp3": ["-c:a", "libmp3lame", "-ar", "44100", "-f", "mp3"],
               "aac": ["-c:a", "aac", "-f", "adts"],
               "opus": ["-c:a", "libopus", "-ar", "48000", "-f", "ogg"]}[codec]
        args += ["-map", "0:a", "-b:a", f"{kbps}k"] + enc + [f"{work}/ff-{rung}"]
    return args
def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.time()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, time.time() - t, out
for rungs in (ladder, full):
    rows = []
    for i in range(3):
        ff_cpu, ff_wall, _ = run(["ffmpeg"] + ffmpeg_args(rungs))
        vz_cpu, vz_wall, out = run(["target/release/veza-transcode", f"{work}/in.mp3", rungs])
        rows.append((ff_cpu, vz_cpu, json.loads(out)))
    ff = min(r[0] for r in rows); vz = min(r[1] for r in rows)
    audio = rows[0][2]["audio_s"]
    print(f"ladder: {rungs}; input: 60 s of 192k MP3, 44.1 kHz stereo; best of 3 runs")
    print(f"  ffmpeg: {ff:.2f} CPU s per {audio:.0f} s of audio ({ff/audio*100:.1f} % of a core)")
    print(f"  veza:   {vz:.2f} CPU s per {audio:.0f} s of audio ({vz/audio*100:.1f} % of a core)")
    print(f"  ratio veza/ffmpeg: {vz/ff:.2f}x   (target <= 1.1x with the same libraries; real time needs < 25 % of a core)")
PY
fi
if [[ $PARTS == *b* ]]; then
  # shellcheck disable=SC2086
  python3 scripts/bench_audio_live.py "$work" broadcasts $BROADCASTS
fi
if [[ $PARTS == *c* ]]; then
  # shellcheck disable=SC2086
  python3 scripts/bench_audio_live.py "$work" listeners $LISTENERS
fi
