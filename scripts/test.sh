#!/usr/bin/env bash
# The one test command: installs what is missing, starts PostgreSQL and Redis if needed, then runs
# formatting and lint checks and the whole test suite on both storage backends. Non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
# A build from nothing (CI) gains nothing from incremental compilation, which would keep gigabytes.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

bash scripts/deps.sh test
# shellcheck source=scripts/services.sh
source scripts/services.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests (PostgreSQL at ${VEZA_TEST_PG_URL%%@*}@..., Redis at $VEZA_TEST_REDIS_URL)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
echo "== deployment files"
bash scripts/test-deploy.sh
echo "== the REST API against its OpenAPI document (schemathesis)"
bash scripts/test-api-schema.sh
echo "== the web page in a real browser"
bash scripts/test-browser.sh
echo "== all green in $(( $(date +%s) - started )) s"
