#!/usr/bin/env bash
# Memory per idle WebSocket connection: the same load generator (veza-load --idle) opens CONNS
# connections spread over ROOMS rooms against the raw baseline server (veza-baseline,
# tokio-tungstenite) and against Veza (authenticated, joined), holds them silent for HOLD seconds
# (Veza pings every HEARTBEAT_MS, so at least one ping/pong round has happened), and prints
# (RSS after - RSS before) / connections for each, in one run. A few seconds per server.
#   CONNS=5000 ROOMS=50 USERS=20 HOLD=5 HEARTBEAT_MS=2000 bash scripts/bench-conn-memory.sh
#   BACKENDS="sqlite postgres" adds Veza on PostgreSQL (needs scripts/services.sh); NOBUILD=1 skips
#   the release build; REPEAT=N runs each server N times; VEZA_WRAPPER="env LD_PRELOAD=..." prefixes
#   the veza command (allocator experiments).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-5000}
ROOMS=${ROOMS:-50}
USERS=${USERS:-20}
HOLD=${HOLD:-5}
HEARTBEAT_MS=${HEARTBEAT_MS:-2000}
BACKENDS=${BACKENDS:-sqlite}
REPEAT=${REPEAT:-1}

if [ -z "${NOBUILD:-}" ]; then
  cargo build --release --locked -p veza -p veza-bench 2>&1 | tail -n 1
fi
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -le $((CONNS + 200)) ]; then
  echo "open-file limit $(ulimit -n) is too low for CONNS=$CONNS" >&2
  exit 1
fi

work=$(mktemp -d)
results="$work/results.jsonl"
pids=()
pg_db="veza_connmem_$$"

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
trap bench_cleanup EXIT

idle() { # idle LABEL PORT PID [extra args]
  local label=$1 port=$2 pid=$3; shift 3
  echo "== $label: $CONNS idle connections, $ROOMS rooms, held ${HOLD}s" >&2
  target/release/veza-load --addr "127.0.0.1:$port" --connections "$CONNS" --rooms "$ROOMS" \
    --users "$USERS" --idle "$HOLD" --server-pid "$pid" --label "$label" "$@" \
    | grep '^RESULT ' | sed 's/^RESULT //' >> "$results"
}

run_baseline() {
  start_baseline
  idle baseline "$BASE_PORT" "$BASE_PID" --baseline
  kill "$BASE_PID"; wait "$BASE_PID" 2>/dev/null || true
}

run_veza() { # run_veza LABEL DATABASE_URL
  start_veza "$1" "$2" VEZA_WS_HEARTBEAT_MS="$HEARTBEAT_MS"
  idle "$1" "$VEZA_PORT" "$VEZA_PID"
  kill -TERM "$VEZA_PID"; wait "$VEZA_PID" || true
}

if [[ " $BACKENDS " == *" postgres "* ]]; then
  # shellcheck source=scripts/services.sh
  source scripts/services.sh
  psql "$VEZA_TEST_PG_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
fi
for _ in $(seq "$REPEAT"); do
  run_baseline
  for backend in $BACKENDS; do
    case $backend in
      sqlite) run_veza sqlite "sqlite://$work/bench-$RANDOM.db" ;;
      postgres) run_veza postgres "${VEZA_TEST_PG_URL%/*}/$pg_db" ;;
      *) echo "unknown backend $backend" >&2; exit 1 ;;
    esac
  done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = [r["rss_per_conn_kib"] for r in rows if r["label"] == "baseline" and r["rss_per_conn_kib"]]
base = min(base) if base else None
print()
print(f'{"server":<10}{"conns":>7}{"failed":>8}{"RSS before KiB":>16}{"RSS idle KiB":>14}{"KiB/conn":>10}{"x baseline":>12}')
for r in rows:
    rss = r["server_rss_kib"]
    k = r["rss_per_conn_kib"] or 0
    ratio = f'{k / base:.2f}' if base else "-"
    print(f'{r["label"]:<10}{r["connections"]:>7}{r["failed"]:>8}{rss["before"] or 0:>16}{rss["idle_connected"] or 0:>14}{k:>10.2f}{ratio:>12}')
PY
