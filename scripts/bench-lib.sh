# Shared by scripts/bench-chat.sh and scripts/bench-conn-memory.sh (sourced): a free port, waiting
# for a server, `veza serve` / the raw baseline server started in the background with the
# benchmarks' settings, and the clean-up. The caller defines `work` (a temporary directory), `pids`
# (the servers started) and `pg_db` (a PostgreSQL database it may create), then
# `trap bench_cleanup EXIT`.

bench_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "${VEZA_TEST_PG_URL:-}" ]; then
    psql "$VEZA_TEST_PG_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { for _ in $(seq 200); do curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

# start_veza LABEL DATABASE_URL [VAR=value...]: `veza serve` on a free port with no REST rate limits
# and a WebSocket send limit no benchmark reaches, plus the given variables; VEZA_WRAPPER prefixes
# the command (allocator experiments). Sets VEZA_PORT and VEZA_PID.
start_veza() {
  local label=$1 url=$2
  shift 2
  VEZA_PORT=$(free_port)
  env VEZA_BIND="127.0.0.1:$VEZA_PORT" VEZA_INGEST_BIND="127.0.0.1:$(free_port)" \
    VEZA_DATABASE_URL="$url" VEZA_DATA_DIR="$work/data-$label-$RANDOM" \
    VEZA_JWT_SECRET="bench-secret-bench-secret-bench-secret-0" \
    VEZA_AUTH_RATE_PER_MINUTE=0 VEZA_IP_RATE_PER_MINUTE=0 VEZA_USER_RATE_PER_MINUTE=0 \
    VEZA_WRITE_RATE_PER_MINUTE=0 VEZA_WS_SEND_RATE=1000 VEZA_WS_SEND_BURST=1000 \
    VEZA_MAX_WEBSOCKETS_PER_USER=10000000 VEZA_MEDIA_RATE_PER_MINUTE=0 VEZA_HTTP_MAX_PER_IP=10000000 \
    VEZA_LOG_LEVEL=warning VEZA_LOG_FORMAT=json "$@" \
    ${VEZA_WRAPPER:-} target/release/veza serve > "$work/veza-$label.log" 2>&1 &
  VEZA_PID=$!
  pids+=("$VEZA_PID")
  wait_http "$VEZA_PORT" || { echo "veza ($label) did not start"; cat "$work/veza-$label.log"; exit 1; }
}

# start_baseline: the raw tokio-tungstenite server on a free port. Sets BASE_PORT and BASE_PID.
start_baseline() {
  BASE_PORT=$(free_port)
  target/release/veza-baseline "127.0.0.1:$BASE_PORT" 2> "$work/baseline.log" &
  BASE_PID=$!
  pids+=("$BASE_PID")
  sleep 0.5
}
