#!/usr/bin/env bash
# AutoDJ's CPU (decode + mix + the full ladder) against the same ladder fed by a live source of the
# same music-like audio, on one release server in one run (scripts/bench_autodj.py). Figures only.
# Environment: SECONDS_MEASURED (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
cargo build --release --locked -p veza --bin veza 2>&1 | tail -n 1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# Music-like content: three chords of three voices changing every second or so, plus pink noise,
# as a 60 s 192k MP3.
ffmpeg -loglevel error \
  -f lavfi -i "aevalsrc=0.12*sin(2*PI*t*if(lt(mod(t\,3)\,1)\,261.6\,if(lt(mod(t\,3)\,2)\,293.7\,349.2)))+0.1*sin(2*PI*t*if(lt(mod(t\,3)\,1)\,329.6\,if(lt(mod(t\,3)\,2)\,370\,440)))+0.1*sin(2*PI*t*if(lt(mod(t\,3)\,1)\,392\,if(lt(mod(t\,3)\,2)\,440\,523.3))):s=44100:d=60" \
  -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=60:amplitude=0.08" \
  -filter_complex "[0:a][1:a]amix=inputs=2,aformat=channel_layouts=stereo" \
  -c:a libmp3lame -b:a 192k "$work/music.mp3"
python3 scripts/bench_autodj.py "$work" "$work/music.mp3" "${SECONDS_MEASURED:-30}"
