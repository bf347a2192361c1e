#!/usr/bin/env bash
# Installs the Debian packages Veza needs, only those that are missing, without prompting.
#   scripts/deps.sh build   what compiling the server needs
#   scripts/deps.sh test    that, plus the services and tools the test suite talks to
set -euo pipefail

want=(pkg-config gcc g++ make libc6-dev libpq-dev libsqlite3-dev libopus-dev ca-certificates curl)
if [ "${1:-build}" = "test" ]; then
  # prometheus: for promtool (alert rules); python3-venv: the deployment checks' tools from PyPI.
  want+=(postgresql postgresql-client redis-server redis-tools python3 python3-venv ffmpeg prometheus)
fi

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The prometheus package starts a server on :9090 where it can; the tests only want its promtool.
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    if [ -d /run/systemd/system ]; then
      $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/prometheus ]; then
      $sudo /etc/init.d/prometheus stop >/dev/null 2>&1 || true
      $sudo update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: cargo not found. Install the Rust toolchain first: https://rustup.rs" >&2
  exit 1
fi
