#!/usr/bin/env bash
# Audio transcoding cost: Veza's live path (decode once, one LAME thread per rung) against ffmpeg
# encoding the same rungs with the same library from the same 60 s input, in one run. Prints CPU
# seconds per 60 s of audio and the ratio. Only the rungs Veza produces today (MP3) are compared.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
cargo build --release --locked -p veza-bench --bin veza-transcode 2>&1 | tail -n 1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
LADDER=${LADDER:-mp3-64,mp3-128,mp3-192,mp3-320}
ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=60" \
       -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=60:amplitude=0.2" \
       -filter_complex "[0:a][1:a]amix=inputs=2,aformat=channel_layouts=stereo" \
       -c:a libmp3lame -b:a 192k "$work/in.mp3"

ffmpeg_args=(-loglevel error -y -i "$work/in.mp3")
IFS=, read -ra rungs <<< "$LADDER"
for rung in "${rungs[@]}"; do
  kbps=${rung#mp3-}
  ffmpeg_args+=(-map 0:a -c:a libmp3lame -b:a "${kbps}k" -ar 44100 -f mp3 "$work/ff-$kbps.mp3")
done

python3 - "$work" "$LADDER" "${ffmpeg_args[@]}" <<'PY'
import json, resource, subprocess, sys, time
work, ladder, ffargs = sys.argv[1], sys.argv[2], sys.argv[3:]
def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.time()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, time.time() - t, out
rows = []
for i in range(3):
    ff_cpu, ff_wall, _ = run(["ffmpeg"] + ffargs)
    vz_cpu, vz_wall, out = run(["target/release/veza-transcode", f"{work}/in.mp3", ladder])
    rows.append((ff_cpu, vz_cpu, json.loads(out)))
ff = min(r[0] for r in rows); vz = min(r[1] for r in rows)
audio = rows[0][2]["audio_s"]
print(f"ladder: {ladder}; input: 60 s of 192k MP3, 44.1 kHz stereo; best of 3 runs")
print(f"ffmpeg (libmp3lame): {ff:.2f} CPU s per {audio:.0f} s of audio ({ff/audio*100:.1f} % of a core)")
print(f"veza   (LAME 3.100): {vz:.2f} CPU s per {audio:.0f} s of audio ({vz/audio*100:.1f} % of a core)")
print(f"ratio veza/ffmpeg: {vz/ff:.2f}x   (target <= 1.1x; one live input in real time needs < 25 % of a core)")
PY
