#!/usr/bin/env bash
# Live-audio benchmarks, printed as figures and ratios against baselines run in the same command:
#  (a) transcoding cost of the live path itself: a real `veza serve` (release, SQLite, HLS and the
#      archive on) fed a 60 s music-like 192k MP3 in real time over the Icecast protocol, its CPU
#      from /proc over 60 s of audio minus its idle CPU, against ffmpeg encoding the same six
#      rungs from the same file (Debian's ffmpeg has no libfdk_aac: its AAC rung is ffmpeg's
#      native encoder). RUNS=N measures the server N times (ffmpeg: best of 3).
#  (b) how many concurrent broadcasts stay real time on this machine (scripts/bench_audio_live.py).
#  (c) N progressive listeners of one stream on Veza (Icecast port and main HTTP port) and on
#      Debian's icecast2 relaying the same audio, side by side (scripts/bench_audio_live.py).
# Environment: PARTS="a b c", RUNS=1, BROADCASTS="1 10 20 ...", LISTENERS="1000 5000 10000".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
PARTS=${PARTS:-a b c}
BROADCASTS=${BROADCASTS:-1 10 20 30 40 50 60}
LISTENERS=${LISTENERS:-1000 5000 10000}
if [[ $PARTS == *c* ]] && ! command -v icecast2 >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq icecast2
fi
cargo build --release --locked -p veza-bench --bin veza-listen 2>&1 | tail -n 1
cargo build --release --locked -p veza --bin veza 2>&1 | tail -n 1
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
ffmpeg -loglevel error -f lavfi -i "sine=frequency=440:sample_rate=44100:duration=60" \
       -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=60:amplitude=0.2" \
       -filter_complex "[0:a][1:a]amix=inputs=2,aformat=channel_layouts=stereo" \
       -c:a libmp3lame -b:a 192k "$work/in.mp3"

ffmpeg -loglevel error -i "$work/in.mp3" -c:a libmp3lame -b:a 128k "$work/in128.mp3"

if [[ $PARTS == *a* ]]; then
  # Music-like content: a chord (bass, root, third, fifth, octave) changing every second with a
  # struck envelope, a little different in each channel, plus independent pink noise per channel.
  # (A steady tone is what LAME finds cheapest; this costs ffmpeg about 4.5 CPU s per 60 s here.)
  v='st(0,mod(floor(t),4));st(1,7*eq(ld(0),1)+9*eq(ld(0),2)+5*eq(ld(0),3));st(2,220*pow(2,ld(1)/12))'
  v="$v;st(3,min(1,mod(t,1)*40)*exp(-1.2*mod(t,1)));st(4,pow(2,(4-eq(ld(1),9))/12));st(5,pow(2,7/12))"
  left="$v;ld(3)*(0.14*sin(2*PI*t*ld(2))+0.10*sin(2*PI*t*ld(2)*ld(4))+0.08*sin(2*PI*t*ld(2)*ld(5))+0.05*sin(4*PI*t*ld(2)))+0.12*sin(PI*t*ld(2))"
  right="$v;ld(3)*(0.10*sin(2*PI*t*ld(2))+0.14*sin(2*PI*t*ld(2)*ld(4))+0.06*sin(2*PI*t*ld(2)*ld(5))+0.07*sin(4*PI*t*ld(2)))+0.12*sin(PI*t*ld(2))"
  ffmpeg -loglevel error -f lavfi -i "aevalsrc=exprs='$left|$right':sample_rate=44100:duration=60" \
         -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=60:amplitude=0.08:seed=1" \
         -f lavfi -i "anoisesrc=color=pink:sample_rate=44100:duration=60:amplitude=0.08:seed=2" \
         -filter_complex "[1:a][2:a]join=inputs=2:channel_layout=stereo[n];[0:a][n]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo" \
         -c:a libmp3lame -b:a 192k "$work/music.mp3"
  python3 scripts/bench_audio_live.py "$work" transcode "${RUNS:-1}"
fi
if [[ $PARTS == *b* ]]; then
  # shellcheck disable=SC2086
  python3 scripts/bench_audio_live.py "$work" broadcasts $BROADCASTS
fi
if [[ $PARTS == *c* ]]; then
  # shellcheck disable=SC2086
  python3 scripts/bench_audio_live.py "$work" listeners $LISTENERS
fi
