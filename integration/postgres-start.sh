#!/usr/bin/env bash
# Start a throwaway private PostgreSQL (Debian's postgresql 15) for the PostgreSQL store's tests.
#
#   integration/postgres-start.sh            # start (wipes ${POSTGRES_TEST_DIR} first)
#   . "${POSTGRES_TEST_DIR:-/tmp/mailbox-gateway-postgres}/env"   # then POSTGRES_TEST_URL is set
#   integration/postgres-stop.sh             # stop and remove the directory
#
# Installs the `postgresql` package with apt-get when initdb is missing (needs root for that).
# Environment (all optional):
#   POSTGRES_TEST_DIR      state dir (data, socket, log, env); default /tmp/mailbox-gateway-postgres;
#                          wiped on every start. Its parent must be searchable by the postgres user
#                          (so not under /root).
#   POSTGRES_TEST_PORT     TCP port on 127.0.0.1 (default 15432)
#   POSTGRES_BIN_DIR       where initdb, pg_ctl, psql live (default /usr/lib/postgresql/15/bin, else
#                          the newest /usr/lib/postgresql/*/bin)
#
# Loopback only and `trust` authentication: a test database, never reachable from elsewhere. The
# role `gateway` (password `gateway`, so the URL works unchanged against a server that checks
# passwords) owns the database `gateway`, and may create databases: the store tests make one per
# test. Writes ${POSTGRES_TEST_DIR}/env with `export POSTGRES_TEST_URL=...` and POSTGRES_TEST_PORT.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${POSTGRES_TEST_DIR:-/tmp/mailbox-gateway-postgres}"
PORT="${POSTGRES_TEST_PORT:-15432}"

die() { echo "postgres-start: $*" >&2; exit 1; }

case "$STATE" in *[[:space:]]*) die "POSTGRES_TEST_DIR must not contain whitespace";; esac
case "$STATE" in /|/tmp|/tmp/|/root|/home|/var|/etc|/usr) die "refusing POSTGRES_TEST_DIR=$STATE";; esac
case "$PORT" in ''|*[!0-9]*) die "POSTGRES_TEST_PORT must be a number";; esac
STATE="$(realpath -m "$STATE")"

# --- binaries ---------------------------------------------------------------------------
find_bin_dir() {
  if [ -n "${POSTGRES_BIN_DIR:-}" ]; then echo "$POSTGRES_BIN_DIR"; return; fi
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then echo /usr/lib/postgresql/15/bin; return; fi
  # Another major version (a newer Debian): the newest one installed.
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  echo "${newest:-/usr/lib/postgresql/15/bin}"
}
BIN="$(find_bin_dir)"
if [ ! -x "$BIN/initdb" ]; then
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and installing it needs root: apt-get install -y postgresql"
  echo "postgres-start: installing postgresql with apt-get" >&2
  # The package's own cluster (port 5432) is not used; only its binaries are.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  BIN="$(find_bin_dir)"
  [ -x "$BIN/initdb" ] || die "no initdb in $BIN after installing postgresql"
fi

# PostgreSQL refuses to run as root: as root, run its tools as the postgres user, which must
# then own the state dir; as anyone else, run them as that user.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "no postgres user (the postgresql package creates it)"
  OWNER=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  OWNER="$(id -un)"
  as_owner() { "$@"; }
fi

# Stop an instance still running from this state dir (and remove the dir) before starting anew.
POSTGRES_TEST_DIR="$STATE" "$SCRIPT_DIR/postgres-stop.sh"

# --- state dir ----------------------------------------------------------------------------
# Only a directory that is empty or was made by this script is ever wiped (postgres-stop.sh checks
# the same marker).
if [ -d "$STATE" ] && [ -n "$(ls -A "$STATE")" ] && [ ! -f "$STATE/.mailbox-gateway-postgres" ]; then
  die "$STATE exists and was not created by postgres-start.sh; refusing to wipe it"
fi
rm -rf "$STATE"
mkdir -p "$STATE"/{run,log}
touch "$STATE/.mailbox-gateway-postgres"
chown -R "$OWNER" "$STATE"
chmod 0700 "$STATE/run"
DATA="$STATE/data"
LOG="$STATE/log/postgres.log"

# --- cluster ------------------------------------------------------------------------------
# --no-sync and fsync=off etc.: a test cluster that is wiped on every start needs no durability,
# and the store tests create and drop a database per test.
as_owner "$BIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync >"$STATE/log/initdb.log" 2>&1 \
  || { tail -n 30 "$STATE/log/initdb.log" >&2; die "initdb failed"; }
cat >> "$DATA/postgresql.conf" <<EOF

# Added by integration/postgres-start.sh: a throwaway loopback test cluster.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$STATE/run'
fsync = off
synchronous_commit = off
full_page_writes = off
# Tests run in parallel, each with its own database and a client of a few connections.
max_connections = 300
# An autovacuum worker on a test's database would keep DROP DATABASE ... WITH (FORCE) of the
# non-superuser test role from ending its connection; short-lived test data needs no vacuum.
autovacuum = off
EOF

as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 start >/dev/null || {
  echo "postgres-start: pg_ctl start failed (port $PORT taken?); log:" >&2
  [ -f "$LOG" ] && tail -n 30 "$LOG" >&2
  exit 1
}

# pg_ctl -w already waits for start-up; pg_isready confirms that TCP on 127.0.0.1 answers.
deadline=$((SECONDS + 30))
until "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "postgres-start: not ready on 127.0.0.1:$PORT after 30 s; log:" >&2
    tail -n 30 "$LOG" >&2
    POSTGRES_TEST_DIR="$STATE" "$SCRIPT_DIR/postgres-stop.sh" || true
    exit 1
  fi
  sleep 0.1
done

# --- role and database --------------------------------------------------------------------------
as_owner "$BIN/psql" -q -v ON_ERROR_STOP=1 -h "$STATE/run" -p "$PORT" -U postgres -d postgres <<'EOF' >/dev/null
CREATE ROLE gateway LOGIN CREATEDB PASSWORD 'gateway';
CREATE DATABASE gateway OWNER gateway;
EOF

# --- env file -------------------------------------------------------------------------------------
URL="postgres://gateway:gateway@127.0.0.1:$PORT/gateway"
cat > "$STATE/env" <<EOF
# Generated by integration/postgres-start.sh; source it: . $STATE/env
export POSTGRES_TEST_URL=$URL
export POSTGRES_TEST_PORT=$PORT
EOF
chmod 0644 "$STATE/env"

echo "postgres-start: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PORT; source $STATE/env"
