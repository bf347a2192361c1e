#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on 127.0.0.1 for the tests, starting them if needed (the
# commands are the ones in docs/operations.md). Source it: it exports VEZA_TEST_PG_URL and
# VEZA_TEST_REDIS_URL for the test run.

: "${VEZA_TEST_PG_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
: "${VEZA_TEST_REDIS_URL:=redis://127.0.0.1:6379}"
export VEZA_TEST_PG_URL VEZA_TEST_REDIS_URL

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sudo -u postgres sh -c "$*"; fi
}

wait_for() { # wait_for SECONDS COMMAND...
  local n=$(( $1 * 5 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "services: starting PostgreSQL" >&2
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for 30 pg_isready -q -h 127.0.0.1 -p 5432 || { echo "services: PostgreSQL did not start" >&2; exit 1; }
fi

# A stock Debian cluster asks for a password on 127.0.0.1; the dev machines trust it. If the URL
# does not work, create a test role with a password and CREATEDB and use that instead.
if ! psql "$VEZA_TEST_PG_URL" -qtAc "SELECT 1" >/dev/null 2>&1; then
  echo "services: $VEZA_TEST_PG_URL refused; creating role veza_test" >&2
  as_postgres "psql -qtAc \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'veza_test') THEN CREATE ROLE veza_test LOGIN CREATEDB PASSWORD 'veza_test'; END IF; END\\\$\\\$\""
  export VEZA_TEST_PG_URL="postgres://veza_test:veza_test@127.0.0.1:5432/postgres"
  psql "$VEZA_TEST_PG_URL" -qtAc "SELECT 1" >/dev/null || { echo "services: cannot reach PostgreSQL as veza_test" >&2; exit 1; }
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  echo "services: starting Redis" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for 10 sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG' || { echo "services: Redis did not start" >&2; exit 1; }
fi
