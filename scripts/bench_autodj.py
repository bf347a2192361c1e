#!/usr/bin/env python3
"""AutoDJ's CPU against a live source, on one release `veza serve`, in one run.

The same music-like file (made by bench-autodj.sh) goes on air twice, one after the other, each time
through the whole default ladder with HLS and the archive:
  autodj  uploaded as a track, played by the AutoDJ (decode with rodio, resample, loudness gain,
          crossfades at each loop, mix, the ladder);
  live    sent by ffmpeg at real-time pace over the Icecast protocol (`-c:a copy`), as a
          broadcaster would (decode with symphonia, the ladder).
Each is measured over SECONDS after a warm-up, as the server process's CPU seconds (from
/proc/PID/stat) minus the same server's idle CPU over the same time, and printed per 60 s of audio
with the ratio. Asserts nothing.

Usage: bench_autodj.py WORKDIR MUSIC.mp3 [SECONDS]
"""
import json, os, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_audio_live as live  # noqa: E402  (reads WORKDIR from sys.argv[1] too)

MUSIC = sys.argv[2]
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 30
WARMUP = 5


def upload(veza, path):
    boundary = "benchboundary7d1e"
    with open(path, "rb") as f:
        data = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"music.mp3\"\r\n"
            f"Content-Type: audio/mpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(veza.base + "/api/v2/tracks", data=body, method="POST")
    req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    req.add_header("Authorization", f"Bearer {veza.token}")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())["track"]["id"]


def cpu_over(pid, seconds):
    before = live.cpu_seconds(pid)
    time.sleep(seconds)
    return live.cpu_seconds(pid) - before


def main():
    veza = live.Veza()
    pid = veza.proc.pid
    idle = cpu_over(pid, SECONDS)
    track = upload(veza, MUSIC)
    playlist = live.call(veza.base, "POST", "/api/v2/playlists", {"name": "bench"}, veza.token)["id"]
    live.call(veza.base, "POST", f"/api/v2/playlists/{playlist}/items", {"track": track}, veza.token)

    dj = veza.stream("autodj")
    live.call(veza.base, "PUT", f"/api/v2/streams/{dj['id']}/autodj",
              {"playlist": playlist, "crossfade_ms": 4000}, veza.token)
    live.wait_live(veza, [dj])
    time.sleep(WARMUP)
    autodj = cpu_over(pid, SECONDS)
    live.call(veza.base, "DELETE", f"/api/v2/streams/{dj['id']}/autodj", None, veza.token)
    live.wait_live(veza, [dj], live=False)

    broadcast = veza.stream("live")
    source = live.push(broadcast["ingest_url"], MUSIC)
    live.wait_live(veza, [broadcast])
    time.sleep(WARMUP)
    on_air = cpu_over(pid, SECONDS)
    live.stop_all([source])
    veza.stop()

    per_minute = lambda cpu: (cpu - idle) * 60.0 / SECONDS
    a, l = per_minute(autodj), per_minute(on_air)
    print(f"idle server: {idle * 60.0 / SECONDS:.2f} CPU s per 60 s (subtracted below)")
    print("| source | CPU s per 60 s of audio (ladder + HLS + archive) | x live |")
    print("|---|---|---|")
    print(f"| live (ffmpeg -re, -c:a copy, Icecast protocol) | {l:.2f} | 1.00 |")
    print(f"| AutoDJ (rodio decode + resample + gain + crossfade + mix) | {a:.2f} | {a / l:.2f} |")


if __name__ == "__main__":
    main()
