#!/usr/bin/env bash
# Foundation figures: release binary size, idle RSS of `veza serve` on SQLite, and the auth-path
# micro benchmark (with its baseline). Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
cargo build --release --locked --bin veza >/dev/null
bin=target/release/veza
echo "binary: $(stat -c %s $bin) bytes ($(( $(stat -c %s $bin) / 1024 / 1024 )) MiB), unstripped"

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$dir" && VEZA_BIND=127.0.0.1:$port VEZA_INGEST_BIND=127.0.0.1:0 VEZA_LOG_FORMAT=json exec "$OLDPWD/$bin" serve >/dev/null) &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
sleep 1
echo "idle RSS after start: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status) (workers: $(nproc))"
for _ in $(seq 200); do curl -sf "127.0.0.1:$port/api/v2/status" >/dev/null; done
echo "RSS after 200 requests: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
kill -TERM $pid; wait $pid || true

cargo bench --locked --bench auth_paths 2>/dev/null | grep -v '^$'
