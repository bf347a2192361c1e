#!/usr/bin/env bash
# Unread-tracking benchmark (issue 13): the same send load in ONE room of CONNS members (one account
# per connection, each a member: joining a public room makes you one), twice against the same
# build and store: first "off" (nobody sends `read`), then "on" (every connection sends `read` with
# the highest seq it saw, at most every READ_MS ms, like a client viewing the room, and drains the
# `unread` frames it gets back). Prints each run and the ratio on/off of server CPU per delivery.
#
# READ_MS is a list: one "on" run per value. Its default keeps the issue's proportion of reads to
# deliveries at the scaled-down send rate: the issue's room gets 100 sends/s and a viewing client
# (the page) says `read` at most every 300 ms, so 3.3 reads per 100 deliveries; at RATE sends/s the
# same proportion is one read every 300*100/RATE ms. 250 (4 reads/s whatever the rate) is the
# stress case: at RATE=10 it is 12 times the issue's proportion.
#
# The accounts are registered once per store (argon2 makes 10,000 registrations the slow part) into
# a seed database; each run gets a fresh copy of it (PostgreSQL: CREATE DATABASE ... TEMPLATE;
# SQLite: a copy of the file) and a fresh server process, so "on" does not inherit "off"'s messages.
# Sizes via env: CONNS RATE SECS READ_MS BACKENDS ("postgres sqlite", "postgres", ...).
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-10000}
RATE=${RATE:-5}
SECS=${SECS:-20}
READ_MS=${READ_MS:-"$((300 * 100 / RATE)) 250"}
BACKENDS=${BACKENDS:-postgres sqlite}

bash scripts/deps.sh test
# shellcheck source=scripts/services.sh
source scripts/services.sh
cargo build --release --locked -p veza -p veza-bench 2>&1 | tail -n 1
ulimit -n "$(ulimit -Hn)"
echo "open-file limit: $(ulimit -n) (the server and the generator each hold CONNS=$CONNS sockets)"

work=$(mktemp -d)
results="$work/results.jsonl"
pids=()
pg_db="veza_unread_$$"
pg_base="${VEZA_TEST_PG_URL%/*}"

# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
cleanup() {
  for db in "${pg_db}_seed" "${pg_db}_off" $(for ms in $READ_MS; do echo "${pg_db}_on$ms"; done); do
    psql "$VEZA_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  bench_cleanup
}
trap cleanup EXIT

# Tokens minted by the seed server must outlive the runs (default 15 minutes).
TTL=VEZA_ACCESS_TOKEN_TTL_S=86400

stop_veza() { kill -TERM "$VEZA_PID"; wait "$VEZA_PID" || true; }

# db_url BACKEND NAME: a database URL for the store.
db_url() {
  if [ "$1" = postgres ]; then echo "$pg_base/${pg_db}_$2"; else echo "sqlite://$work/$2.db"; fi
}

# seed BACKEND: the accounts, registered once into the seed database; tokens in $work/tokens-BACKEND.
# PG_SEED=DB PG_TOKENS=FILE reuse a seed database and its tokens kept from an earlier run.
seed() {
  local backend=$1
  if [ "$backend" = postgres ] && [ -n "${PG_SEED:-}" ]; then
    psql "$VEZA_TEST_PG_URL" -qc "CREATE DATABASE ${pg_db}_seed TEMPLATE $PG_SEED" >/dev/null
    cp "$PG_TOKENS" "$work/tokens-$backend"
    return
  fi
  [ "$backend" = postgres ] && psql "$VEZA_TEST_PG_URL" -qc "CREATE DATABASE ${pg_db}_seed" >/dev/null
  start_veza "$backend-seed" "$(db_url "$backend" seed)" "$TTL"
  echo "== $backend: registering $CONNS accounts (once; argon2)" >&2
  target/release/veza-load --addr "127.0.0.1:$VEZA_PORT" --users "$CONNS" \
    --tokens "$work/tokens-$backend" --setup-only
  stop_veza
}

# fresh BACKEND MODE: a copy of the seed database for one run.
fresh() {
  if [ "$1" = postgres ]; then
    psql "$VEZA_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS ${pg_db}_$2 WITH (FORCE)" >/dev/null
    psql "$VEZA_TEST_PG_URL" -qc "CREATE DATABASE ${pg_db}_$2 TEMPLATE ${pg_db}_seed" >/dev/null
  else
    for f in "$work"/seed.db*; do cp "$f" "${f/seed.db/$2.db}"; done
  fi
}

# run BACKEND MODE [veza-load args]: one measured run on a fresh copy and a fresh server.
run() {
  local backend=$1 mode=$2 label="$1-$2"
  shift 2
  fresh "$backend" "$mode"
  start_veza "$label" "$(db_url "$backend" "$mode")" "$TTL"
  echo "== $label: $CONNS connections in 1 room ($CONNS members), $RATE sends/s, ${SECS}s $*" >&2
  target/release/veza-load --addr "127.0.0.1:$VEZA_PORT" --connections "$CONNS" --rooms 1 \
    --users "$CONNS" --tokens "$work/tokens-$backend" --rate "$RATE" --seconds "$SECS" \
    --server-pid "$VEZA_PID" --label "$label" "$@" \
    | tee "$work/$label.txt" | grep '^RESULT ' | sed 's/^RESULT //' > "$work/$label.json"
  stop_veza
  local rows="null"
  if [ "$backend" = postgres ]; then
    # Rows the store updated in room_members (the read markers; joins insert) and transactions
    # committed, from PostgreSQL's statistics of the run's fresh database (flushed when the
    # server's connections closed).
    sleep 1
    rows=$(psql "${pg_base}/${pg_db}_$mode" -qtAc "SELECT json_build_object(
      'room_members_updated', (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'room_members'),
      'notifications_updated', (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'notifications'),
      'xact_commit', (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()))")
    psql "$VEZA_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS ${pg_db}_$mode WITH (FORCE)" >/dev/null
  fi
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["store"]=json.loads(sys.argv[2]); print(json.dumps(r))' \
    "$work/$label.json" "$rows" >> "$results"
}

for backend in $BACKENDS; do
  seed "$backend"
  run "$backend" off
  for ms in $READ_MS; do
    run "$backend" "on$ms" --read-every-ms "$ms"
  done
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def per100k(r):
    c, d = r.get("server_cpu_cores"), r.get("deliveries_per_s") or 0
    return c / (d / 100000) if c and d else float("nan")
print()
print(f'{"run":<14}{"conns":>7}{"sent":>6}{"deliv/s":>9}{"of expected":>12}{"p50 ms":>9}{"p99 ms":>9}{"ack p99":>9}{"cores":>7}{"cores/100k/s":>13}{"reads/s":>9}{"unread/s":>9}{"unread mean":>12}{"errors":>7}{"loadgen":>8}')
for r in rows:
    d, a = r["delivery_ms"], r["ack_ms"]
    share = r["deliveries"] / r["expected_deliveries"] if r["expected_deliveries"] else float("nan")
    errs = sum(r["errors"].values()) + r["failed"]
    secs = r["seconds"]
    print(f'{r["label"]:<14}{r["connections"]:>7}{r["sent"]:>6}{r["deliveries_per_s"]:>9.0f}{share:>12.4f}{d["p50"]:>9.2f}{d["p99"]:>9.2f}{a["p99"]:>9.2f}{(r["server_cpu_cores"] or 0):>7.2f}{per100k(r):>13.3f}{r["read_frames_in_window"] / secs:>9.0f}{r["unread_frames_in_window"] / secs:>9.0f}{(r["unread_mean"] or 0):>12.2f}{errs:>7}{(r["loadgen_cpu_cores"] or 0):>8.2f}')
print()
for r in rows:
    print(f'{r["label"]}: read frames sent {r["read_frames"]} ({r["read_frames_in_window"]} in the window), unread frames received {r["unread_frames"]} ({r["unread_frames_in_window"]} in the window), store {r["store"]}')
print()
by = {r["label"]: r for r in rows}
for backend in dict.fromkeys(r["label"].rsplit("-", 1)[0] for r in rows):
    off = by.get(f"{backend}-off")
    for label, on in by.items():
        if not off or not label.startswith(f"{backend}-on"):
            continue
        ms = label.rsplit("-on", 1)[1]
        reads = on["read_frames_in_window"] / max(on["deliveries"], 1)
        print(f'{backend}, read every {ms} ms ({100 * reads:.1f} reads per 100 deliveries): CPU per delivery on/off {per100k(on) / per100k(off):.2f}x (target <= 1.2x), deliveries/s {on["deliveries_per_s"] / off["deliveries_per_s"]:.2f}x, p99 {on["delivery_ms"]["p99"]:.1f} vs {off["delivery_ms"]["p99"]:.1f} ms')
PY
