#!/usr/bin/env bash
# The web page in a real browser: headless Chromium driven by playwright-core (npm), against a
# freshly started server on SQLite (chat, the example bot answering /roll, then log in with GitHub
# against a provider the test starts). Installs Chromium (Debian) and playwright-core (npm) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "browser test: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
tools=target/browser-test
if [ ! -d "$tools/node_modules/playwright-core" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm init -y >/dev/null && npm install --no-audit --no-fund playwright-core@1 >/dev/null)
fi

cargo build --locked --bin veza >/dev/null 2>&1
# The example bot, built as the test suite builds it (--workspace: same features, no rebuild).
cargo build --workspace --locked --example bot >/dev/null 2>&1
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
# A GitHub-style OAuth provider that tests/browser/oauth.js starts on this port.
provider=$(free_port)
(cd "$work" && VEZA_BIND="127.0.0.1:$port" VEZA_INGEST_BIND="127.0.0.1:0" VEZA_LOG_FORMAT=json \
  VEZA_OAUTH_GITHUB_CLIENT_ID=browser-client VEZA_OAUTH_GITHUB_CLIENT_SECRET=browser-secret \
  VEZA_OAUTH_GITHUB_AUTH_URL="http://127.0.0.1:$provider/authorize" \
  VEZA_OAUTH_GITHUB_TOKEN_URL="http://127.0.0.1:$provider/token" \
  VEZA_OAUTH_GITHUB_API_URL="http://127.0.0.1:$provider/api" \
  exec "$OLDPWD/target/debug/veza" serve > "$work/veza.log" 2>&1) &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
NODE_PATH="$tools/node_modules" timeout 120 node tests/browser/chat.js "http://127.0.0.1:$port"
NODE_PATH="$tools/node_modules" timeout 120 node tests/browser/conversations.js "http://127.0.0.1:$port"
NODE_PATH="$tools/node_modules" timeout 120 node tests/browser/bot.js "http://127.0.0.1:$port" target/debug/examples/bot
NODE_PATH="$tools/node_modules" timeout 120 node tests/browser/api_docs.js "http://127.0.0.1:$port"
NODE_PATH="$tools/node_modules" timeout 120 node tests/browser/streams.js "http://127.0.0.1:$port"
NODE_PATH="$tools/node_modules" timeout 120 node tests/browser/oauth.js "http://127.0.0.1:$port" "$provider"
