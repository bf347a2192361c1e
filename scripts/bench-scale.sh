#!/usr/bin/env bash
# Scale-out benchmarks, each beside its baseline in the same run (figures in docs/benchmarks.md):
#   persist  messages committed per second by the persistence actors into PostgreSQL, and ack
#            latency, against plain store.apply batches with no actors (cargo bench --bench persistence)
#   rest     REST history pages and /users/me with wrk, against /health on the same server, on
#            SQLite and PostgreSQL (scripts/bench_scale.py rest)
# Usage: scripts/bench-scale.sh [persist|rest]...   (default: all). Sizes: MESSAGES ROOMS IN_FLIGHT
# SHARDS for persist, SECS for rest. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(persist rest)

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
    *) echo "unknown part: $part (persist|rest)" >&2; exit 2 ;;
  esac
done
