#!/usr/bin/env python3
"""Live-audio benchmarks against a real `veza serve` (release build, SQLite in a temp dir):

  broadcasts  how many concurrent broadcasts (each the whole ladder, fed by ffmpeg at real-time
              pace) stay real time on this machine: output bytes per variant against the clock.
  transcode   one broadcast of WORKDIR/music.mp3 (the whole default ladder, HLS and the archive)
              against ffmpeg encoding the same six rungs from the same file: CPU seconds per
              60 s of audio on each side, and the ratio.
  listeners   N progressive listeners of one stream (veza-listen, playing out at 128 kbit/s):
              server RSS per listener, CPU, underruns; the same listeners against Debian's
              icecast2 relaying the same audio as a 128k MP3, side by side.

Usage: bench_audio_live.py WORKDIR broadcasts|transcode|listeners [N ...]
Prints figures; asserts nothing. VEZA_BIN overrides the server binary (default target/release/veza).
"""
import atexit, json, os, resource, secrets, signal, socket, subprocess, sys, tempfile, time, urllib.request

WORK = sys.argv[1]
CHILDREN = []


@atexit.register
def _reap():
    # Whatever the way out (an error included), leave no server, source or listener running.
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    CHILDREN.append(p)
    return p
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def call(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


class Veza:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="veza-", dir=WORK)
        self.port, self.ingest = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ,
                   VEZA_BIND=f"127.0.0.1:{self.port}", VEZA_INGEST_BIND=f"127.0.0.1:{self.ingest}",
                   VEZA_DATA_DIR=self.dir, VEZA_DATABASE_URL=f"sqlite://{self.dir}/veza.db",
                   VEZA_JWT_SECRET=secrets.token_hex(32), VEZA_LOG_FORMAT="json",
                   VEZA_AUTH_RATE_PER_MINUTE="0", VEZA_MEDIA_RATE_PER_MINUTE="0",
                   VEZA_INGEST_MAX_PER_IP="100000", VEZA_INGEST_MAX_CONNECTIONS="100000",
                   VEZA_HTTP_MAX_PER_IP="100000", VEZA_MAX_STREAMS_PER_USER="0")
        self.log = open(os.path.join(WORK, "veza.log"), "w")
        self.proc = spawn([os.environ.get("VEZA_BIN", os.path.join(ROOT, "target/release/veza")), "serve"],
                                     env=env, stdout=self.log, stderr=self.log)
        for _ in range(100):
            try:
                call(self.base, "GET", "/health")
                break
            except Exception:
                time.sleep(0.1)
        call(self.base, "POST", "/api/v2/auth/register",
             {"username": "bench", "password": "bench-password-1"})
        self.token = call(self.base, "POST", "/api/v2/auth/login",
                          {"username": "bench", "password": "bench-password-1"})["access_token"]

    def stream(self, title):
        return call(self.base, "POST", "/api/v2/streams", {"title": title}, self.token)

    def show(self, sid):
        return call(self.base, "GET", f"/api/v2/streams/{sid}")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def push(url, source):
    """ffmpeg sending `source` (looped) at real-time pace without re-encoding."""
    return spawn(["ffmpeg", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", source,
                             "-c:a", "copy", "-content_type", "audio/mpeg", "-f", "mp3", url],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_all(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_live(veza, streams, live=True):
    for _ in range(200):
        if all(veza.show(s["id"])["live"] == live for s in streams):
            return
        time.sleep(0.1)
    raise SystemExit("streams did not change state")


def variant_bytes(veza, sid):
    return {v["name"]: v["bytes_out"] for v in veza.show(sid)["variants"]}


def broadcasts(counts):
    source = os.path.join(WORK, "in.mp3")
    veza = Veza()
    streams = []
    print("concurrent broadcasts (each: 192k MP3 in, whole default ladder out + HLS + archive), "
          "15 s window after 5 s warm-up")
    print(f"  {'broadcasts':>10} {'server CPU':>11} {'per broadcast':>14} {'slowest output':>15}  real time?")
    try:
        for n in counts:
            while len(streams) < n:
                streams.append(veza.stream(f"bench {len(streams)}"))
            pushers = [push(s["ingest_url"], source) for s in streams[:n]]
            wait_live(veza, streams[:n])
            time.sleep(5)
            before = [variant_bytes(veza, s["id"]) for s in streams[:n]]
            c0, t0 = cpu_seconds(veza.proc.pid), time.time()
            time.sleep(15)
            after = [variant_bytes(veza, s["id"]) for s in streams[:n]]
            cpu, wall = cpu_seconds(veza.proc.pid) - c0, time.time() - t0
            # Output of each variant against its nominal bitrate over the window.
            ratios = []
            for b, a in zip(before, after):
                for name, end in a.items():
                    kbps = int(name.split("-")[1])
                    ratios.append((end - b.get(name, 0)) / (kbps * 1000 / 8 * wall))
            slowest = min(ratios)
            ok = slowest >= 0.95
            print(f"  {n:>10} {cpu / wall * 100:>10.1f}% {cpu / wall * 100 / n:>13.2f}% {slowest:>14.2f}x  "
                  f"{'yes' if ok else 'NO'}", flush=True)
            stop_all(pushers)
            wait_live(veza, streams[:n], live=False)
            if not ok:
                break
    finally:
        veza.stop()


# The default ladder, and how ffmpeg encodes each rung with its own defaults for that codec.
LADDER = ["mp3-64", "mp3-128", "mp3-192", "mp3-320", "aac-128", "opus-96"]
FFMPEG_CODEC = {"mp3": ["-c:a", "libmp3lame", "-ar", "44100", "-f", "mp3"],
                "aac": ["-c:a", "aac", "-f", "adts"],
                "opus": ["-c:a", "libopus", "-ar", "48000", "-f", "ogg"]}


def ffmpeg_ladder(source, rungs):
    """CPU seconds of one ffmpeg decoding `source` once and encoding every rung to a file."""
    args = ["ffmpeg", "-loglevel", "error", "-y", "-i", source]
    for rung in rungs:
        codec, kbps = rung.split("-")
        args += ["-map", "0:a", "-b:a", f"{kbps}k"] + FFMPEG_CODEC[codec] + [os.path.join(WORK, f"ff-{rung}")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def transcode(runs):
    """The live path itself: a real server, a real-time source, CPU from /proc against ffmpeg."""
    runs = runs[0] if runs else 1
    source = os.path.join(WORK, "music.mp3")
    ff = min(ffmpeg_ladder(source, LADDER) for _ in range(3))
    print("transcoding one live broadcast: 60 s of music-like 192k MP3 (chords + pink noise, 44.1 kHz "
          "stereo), the default six rungs")
    print(f"  ffmpeg (same file, same rungs, one process, best of 3): {ff:.2f} CPU s per 60 s of audio")
    for run in range(runs):
        veza = Veza()
        s = veza.stream("bench transcode")
        time.sleep(2)
        idle = idle_cpu(veza.proc.pid, 15)
        pusher = push(s["ingest_url"], source)
        wait_live(veza, [s])
        time.sleep(5)  # past start-up: measure the steady state
        b0 = variant_bytes(veza, s["id"])
        c0, t0 = cpu_seconds(veza.proc.pid), time.time()
        time.sleep(60)
        cpu, wall = cpu_seconds(veza.proc.pid) - c0, time.time() - t0
        b1 = variant_bytes(veza, s["id"])
        stop_all([pusher])
        wait_live(veza, [s], live=False)
        veza.stop()
        # Seconds of audio the window carried, from the constant-bitrate MP3 rungs' output.
        audio = min((b1[v] - b0.get(v, 0)) / (int(v.split("-")[1]) * 125) for v in b1 if v.startswith("mp3"))
        vz = (cpu - idle * wall) * 60 / audio
        print(f"  veza serve (HLS + archive on; run {run + 1}): {cpu:.2f} CPU s over {wall:.1f} s wall, "
              f"{audio:.1f} s of audio out; idle {idle * 100:.2f} % of a core; "
              f"{vz:.2f} CPU s per 60 s of audio for the broadcast")
        print(f"  ratio veza/ffmpeg: {vz / ff:.2f}x   (target <= 1.0x)", flush=True)


def icecast(port, clients):
    # Its own world-readable directory: icecast2 started as root drops to `nobody` before logging.
    d = tempfile.mkdtemp(prefix="veza-bench-icecast-")
    os.makedirs(os.path.join(d, "log"), exist_ok=True)
    os.chmod(d, 0o777)
    os.chmod(os.path.join(d, "log"), 0o777)
    conf = os.path.join(d, "icecast.xml")
    with open(conf, "w") as f:
        f.write(f"""<icecast>
  <limits><clients>{clients}</clients><sources>4</sources><queue-size>524288</queue-size>
    <burst-on-connect>1</burst-on-connect><burst-size>65535</burst-size></limits>
  <authentication><source-password>benchsource</source-password>
    <admin-user>admin</admin-user><admin-password>benchadmin</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>{d}/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot>{"<changeowner><user>nobody</user><group>nogroup</group></changeowner>" if os.getuid() == 0 else ""}</security>
</icecast>""")
    proc = spawn(["icecast2", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc


def listen(addr, path, n, seconds=30):
    """Runs veza-listen; returns its JSON and a sampler callback's result mid-run."""
    return spawn([os.path.join(ROOT, "target/release/veza-listen"), "--addr", addr,
                             "--path", path, "--listeners", str(n), "--seconds", str(seconds),
                             "--kbps", "128", "--ramp", "1000"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def idle_cpu(pid, seconds=10):
    """CPU share of `pid` with the stream on air and nobody listening."""
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.time() - t0)


def measure(pid, n, run, rss0):
    """CPU and RSS while `run` (veza-listen) is connected and listening."""
    time.sleep(n / 1000 + 3)  # ramp-up, then settle
    c0, t0 = cpu_seconds(pid), time.time()
    time.sleep(20)
    cpu, wall = cpu_seconds(pid) - c0, time.time() - t0
    rss1 = rss_kib(pid)
    out, _ = run.communicate(timeout=120)
    result = json.loads(out.strip().splitlines()[-1])
    return rss0, rss1, cpu / wall, result


def report(server, n, r, cpu, idle, rss0, rss1):
    """Prints one row; returns (CPU for listeners, RSS KiB) per connected listener."""
    connected = max(r["connected"], 1)
    per = (rss1 - rss0) / connected
    print(f"  {server:<9} {n:>9} {r['connected']:>9} {r['dropped']:>7} {r['underruns']:>9} "
          f"{r['listeners_with_underrun']:>9} {cpu * 100:>6.1f}% {(cpu - idle) * 100:>12.1f}% "
          f"{per:>9.2f} KiB {rss1 / 1024:>6.1f} MiB", flush=True)
    return (cpu - idle) / connected, per


def listeners(counts):
    source = os.path.join(WORK, "in.mp3")
    source128 = os.path.join(WORK, "in128.mp3")
    print("progressive listeners of one stream at 128 kbit/s (veza-listen: 1 s pre-buffer, plays out "
          "in real time; 20 s measured after ramp-up)")
    print("  CPU: the server's share of one core while listened to; 'for listeners' subtracts the same")
    print("  server with the stream on air and nobody listening (Veza transcodes the ladder, icecast relays)")
    print("  RSS/listener and the ratios are per connected listener (icecast2 may not take them all)")
    print(f"  {'server':<9} {'listeners':>9} {'connected':>9} {'dropped':>7} {'underruns':>9} "
          f"{'(lstnrs)':>9} {'CPU':>7} {'for listeners':>13} {'RSS/listener':>13} {'RSS total':>10}")
    for n in counts:
        figures = {}
        # Veza on its Icecast port (listeners served as Icecast does) and on the main HTTP port.
        for label, port_of in (("veza", lambda v: v.ingest), ("veza-http", lambda v: v.port)):
            veza = Veza()
            s = veza.stream("bench listeners")
            pusher = push(s["ingest_url"], source)
            wait_live(veza, [s])
            time.sleep(3)
            idle, rss0 = idle_cpu(veza.proc.pid), rss_kib(veza.proc.pid)
            run = listen(f"127.0.0.1:{port_of(veza)}", f"/live/{s['mount']}/mp3-128", n)
            rss0, rss1, cpu, r = measure(veza.proc.pid, n, run, rss0)
            figures[label] = report(label, n, r, cpu, idle, rss0, rss1)
            stop_all([pusher])
            veza.stop()

        port = free_port()
        ice = icecast(port, n + 100)
        pusher = push(f"icecast://source:benchsource@127.0.0.1:{port}/bench", source128)
        time.sleep(3)
        idle, rss0 = idle_cpu(ice.pid), rss_kib(ice.pid)
        run = listen(f"127.0.0.1:{port}", "/bench", n)
        rss0, rss1, cpu, r = measure(ice.pid, n, run, rss0)
        ice_cpu, ice_rss = report("icecast2", n, r, cpu, idle, rss0, rss1)
        stop_all([pusher, ice])
        for label, (cpu, per) in figures.items():
            print(f"  {n} listeners, {label}/icecast2: CPU per listener {cpu / max(ice_cpu, 1e-12):.2f}x "
                  f"(target <= 0.5x on the Icecast port), RSS per listener {per:.2f} KiB "
                  f"({per / max(ice_rss, 1e-9):.2f}x; target <= 2 KiB)", flush=True)


if __name__ == "__main__":
    what, counts = sys.argv[2], [int(c) for c in sys.argv[3:]]
    {"broadcasts": broadcasts, "transcode": transcode, "listeners": listeners}[what](counts)
