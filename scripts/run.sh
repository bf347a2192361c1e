#!/usr/bin/env bash
# Builds and runs the server with its defaults: http://127.0.0.1:8080, SQLite in ./data. Installs the
# build packages it needs first. Extra arguments go to `veza` (e.g. `scripts/run.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh build
exec cargo run --release --locked --bin veza -- "$@"
