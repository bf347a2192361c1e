#!/usr/bin/env bash
# Scale-out benchmarks, each beside its baseline in the same run (figures in docs/benchmarks.md):
#   persist  messages committed per second by the persistence actors into PostgreSQL, and ack
#            latency, against plain store.apply batches with no actors (cargo bench --bench persistence)
#   rest     REST history pages and /users/me with wrk, against /health on the same server, on
#            SQLite and PostgreSQL (scripts/bench_scale.py rest)
#   idle     100,000 idle authenticated WebSockets over 6 nodes (PostgreSQL + Redis), RSS per
#            connection per node and in all, against the raw server (scripts/bench_scale.py idle)
#   fanout   10,000 clients in 100 rooms at 200 and 1,000 sends/s: raw server, Veza on one node,
#            Veza on 3 nodes through Redis; latency, lost, CPU per 1,000 deliveries
#            (scripts/bench_scale.py fanout)
# Usage: scripts/bench-scale.sh [persist|rest|idle|fanout]...   (default: all). Sizes: MESSAGES
# ROOMS IN_FLIGHT SHARDS for persist; SECS for rest and fanout; CONNS NODES HOLD for idle;
# FANOUT_CONNS FANOUT_ROOMS RATES for fanout. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(persist rest idle fanout)

bash scripts/deps.sh test
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk; }
# shellcheck source=scripts/services.sh
source scripts/services.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for part in "${parts[@]}"; do
  case "$part" in
    persist)
      echo "== persistence alone (PostgreSQL)"
      cargo bench --locked --bench persistence 2>&1 | grep -v '^\s*\(Compiling\|Finished\|Running\)'
      ;;
    rest)
      echo "== REST pages with wrk"
      cargo build --release --locked -p veza 2>&1 | tail -n 1
      python3 scripts/bench_scale.py "$work" rest
      ;;
    idle|fanout)
      echo "== WebSockets: $part"
      cargo build --release --locked -p veza -p veza-bench 2>&1 | tail -n 1
      # Each node and each load generator holds up to ~17,000 sockets.
      ulimit -n "$(ulimit -Hn)"
      python3 scripts/bench_scale.py "$work" "$part"
      ;;
    *) echo "unknown part: $part (persist|rest|idle|fanout)" >&2; exit 2 ;;
  esac
done
