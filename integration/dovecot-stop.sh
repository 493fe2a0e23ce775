#!/usr/bin/env bash
# Stop the private Dovecot started by integration/dovecot-start.sh.
#
#   integration/dovecot-stop.sh    # uses ${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}
#
# Idempotent: exits 0 when nothing runs. Leaves the state dir (mail, logs) in place for
# inspection; the next dovecot-start.sh wipes it.
set -euo pipefail

STATE="$(realpath -m "${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}")"
PIDFILE="$STATE/run/master.pid"

[ -f "$PIDFILE" ] || exit 0
PID="$(tr -dc '0-9' < "$PIDFILE" || true)"
[ -n "$PID" ] || { rm -f "$PIDFILE"; exit 0; }

is_our_master() {  # the pid is alive, is dovecot, and was started with our config
  [ -r "/proc/$1/cmdline" ] || return 1
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = dovecot ] || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$STATE/dovecot.conf"* ]]
}

if is_our_master "$PID"; then
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 1 100); do            # up to 10 s for a clean shutdown
    is_our_master "$PID" || break
    sleep 0.1
  done
  if is_our_master "$PID"; then
    echo "dovecot-stop: master $PID did not exit, sending SIGKILL" >&2
    kill -KILL "$PID" 2>/dev/null || true
    sleep 0.2
  fi
fi
rm -f "$PIDFILE"
exit 0
