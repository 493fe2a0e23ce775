#!/usr/bin/env bash
# Stop the private PostgreSQL started by integration/postgres-start.sh and remove its directory.
#
#   integration/postgres-stop.sh    # uses ${POSTGRES_TEST_DIR:-/tmp/mailbox-gateway-postgres}
#
# Idempotent: exits 0 when nothing runs and nothing is left. A directory that postgres-start.sh
# did not make (no marker file) is left alone.
set -euo pipefail

STATE="$(realpath -m "${POSTGRES_TEST_DIR:-/tmp/mailbox-gateway-postgres}")"
DATA="$STATE/data"
PIDFILE="$DATA/postmaster.pid"

die() { echo "postgres-stop: $*" >&2; exit 1; }

case "$STATE" in /|/tmp|/root|/home|/var|/etc|/usr) die "refusing POSTGRES_TEST_DIR=$STATE";; esac
[ -e "$STATE" ] || exit 0
[ -f "$STATE/.mailbox-gateway-postgres" ] || die "$STATE was not created by postgres-start.sh; leaving it alone"

is_our_postmaster() {  # the pid is alive, is postgres, and runs our data directory
  [ -r "/proc/$1/cmdline" ] || return 1
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = postgres ] || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$DATA"* ]]
}

if [ -f "$PIDFILE" ]; then
  PID="$(head -n 1 "$PIDFILE" | tr -dc '0-9' || true)"
  if [ -n "$PID" ] && is_our_postmaster "$PID"; then
    # SIGINT is pg_ctl's "fast" shutdown: sessions are ended, nothing is waited for. Sent directly,
    # so stopping needs neither pg_ctl nor the postgres user.
    kill -INT "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do          # up to 10 s for a clean shutdown
      is_our_postmaster "$PID" || break
      sleep 0.1
    done
    if is_our_postmaster "$PID"; then
      echo "postgres-stop: postmaster $PID did not exit, sending SIGQUIT" >&2
      kill -QUIT "$PID" 2>/dev/null || true
      sleep 0.5
    fi
  fi
fi
rm -rf "$STATE"
exit 0
