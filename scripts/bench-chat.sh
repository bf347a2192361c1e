#!/usr/bin/env bash
# Chat fan-out benchmark: the same load (veza-load) against Veza on SQLite, Veza on PostgreSQL, and
# the minimal baseline broadcast server (benches/load/src/bin/veza-baseline.rs), in one run.
# Prints each result and the ratios to the baseline. Sizes via env: CONNS ROOMS RATE SECS USERS.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-10000}
ROOMS=${ROOMS:-100}
RATE=${RATE:-1000}
SECS=${SECS:-20}
USERS=${USERS:-50}

bash scripts/deps.sh test
# shellcheck source=scripts/services.sh
source scripts/services.sh
cargo build --release --locked -p veza -p veza-bench 2>&1 | tail -n 1
ulimit -n "$(ulimit -Hn)"
echo "open-file limit: $(ulimit -n) (each side needs more than CONNS=$CONNS)"

work=$(mktemp -d)
results="$work/results.jsonl"
pids=()
pg_db="veza_bench_$$"

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
trap bench_cleanup EXIT

load() { # load LABEL PORT PID [extra args]
  local label=$1 port=$2 pid=$3; shift 3
  echo "== $label: $CONNS connections, $ROOMS rooms, $RATE sends/s, ${SECS}s" >&2
  target/release/veza-load --addr "127.0.0.1:$port" --connections "$CONNS" --rooms "$ROOMS" \
    --users "$USERS" --rate "$RATE" --seconds "$SECS" --server-pid "$pid" --label "$label" "$@" \
    | tee "$work/$label.txt" | grep '^RESULT ' | sed 's/^RESULT //' >> "$results"
}

run_veza() { # run_veza LABEL DATABASE_URL
  start_veza "$1" "$2"
  load "$1" "$VEZA_PORT" "$VEZA_PID"
  kill -TERM "$VEZA_PID"; wait "$VEZA_PID" || true
}

run_baseline() {
  start_baseline
  load baseline "$BASE_PORT" "$BASE_PID" --baseline
  kill "$BASE_PID"; wait "$BASE_PID" 2>/dev/null || true
}

run_baseline
run_veza sqlite "sqlite://$work/bench.db"
psql "$VEZA_TEST_PG_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
run_veza postgres "${VEZA_TEST_PG_URL%/*}/$pg_db"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = next((r for r in rows if r["label"] == "baseline"), None)
def per100k(r):
    c, d = r.get("server_cpu_cores"), r.get("deliveries_per_s") or 0
    return c / (d / 100000) if c and d else float("nan")
print()
print(f'{"server":<10}{"conns":>7}{"deliv/s":>10}{"of expected":>12}{"p50 ms":>9}{"p99 ms":>9}{"p999 ms":>9}{"max ms":>9}{"ack p99":>9}{"cores":>7}{"cores/100k/s":>13}{"KiB/conn":>10}{"errors":>8}{"loadgen cores":>14}')
for r in rows:
    d, a = r["delivery_ms"], r["ack_ms"]
    share = r["deliveries"] / r["expected_deliveries"] if r["expected_deliveries"] else float("nan")
    errs = sum(r["errors"].values()) + r["failed"]
    print(f'{r["label"]:<10}{r["connections"]:>7}{r["deliveries_per_s"]:>10.0f}{share:>12.4f}{d["p50"]:>9.2f}{d["p99"]:>9.2f}{d["p999"]:>9.2f}{d["max"]:>9.2f}{a["p99"]:>9.2f}{(r["server_cpu_cores"] or 0):>7.2f}{per100k(r):>13.2f}{(r["rss_per_conn_kib"] or 0):>10.1f}{errs:>8}{(r["loadgen_cpu_cores"] or 0):>14.2f}')
if base:
    print()
    for r in rows:
        if r is base: continue
        cpu = per100k(r) / per100k(base) if per100k(base) else float("nan")
        mem = (r["rss_per_conn_kib"] or 0) / base["rss_per_conn_kib"] if base.get("rss_per_conn_kib") else float("nan")
        p99 = r["delivery_ms"]["p99"] / base["delivery_ms"]["p99"] if base["delivery_ms"]["p99"] else float("nan")
        print(f'{r["label"]}: CPU per delivery {cpu:.2f}x baseline, RSS per connection {mem:.2f}x, p99 latency {p99:.2f}x, acked {r["acked"]}/{r["sent"]}')
PY
