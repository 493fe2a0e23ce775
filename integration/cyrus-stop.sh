#!/usr/bin/env bash
# Stop the private Cyrus started by integration/cyrus-start.sh.
#
#   integration/cyrus-stop.sh     # uses ${CYRUS_TEST_DIR:-/tmp/mailbox-gateway-cyrus}
#
# Idempotent: exits 0 when nothing runs. cyrmaster ends its imapd children on SIGTERM; any
# left over (started with this state dir's imapd.conf) are ended too, by pid. Leaves the state
# dir (mail spool, config) in place for inspection; the next cyrus-start.sh wipes it.
set -euo pipefail

STATE="$(realpath -m "${CYRUS_TEST_DIR:-/tmp/mailbox-gateway-cyrus}")"
PIDFILE="$STATE/run/master.pid"
CONF="$STATE/imapd.conf"

started_with_our_conf() {  # the pid is alive and its command line has `-C <our imapd.conf>`
  local -a argv
  local i
  mapfile -d '' argv < "/proc/$1/cmdline" 2>/dev/null || return 1
  for ((i = 1; i < ${#argv[@]}; i++)); do
    [ "${argv[i-1]}" = -C ] && [ "${argv[i]}" = "$CONF" ] && return 0
  done
  return 1
}

is_our_master() {
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = cyrmaster ] && started_with_our_conf "$1"
}

if [ -f "$PIDFILE" ]; then
  PID="$(tr -dc '0-9' < "$PIDFILE" || true)"
  if [ -n "$PID" ] && is_our_master "$PID"; then
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do            # up to 10 s for a clean shutdown
      is_our_master "$PID" || break
      sleep 0.1
    done
    if is_our_master "$PID"; then
      echo "cyrus-stop: cyrmaster $PID did not exit, sending SIGKILL" >&2
      kill -KILL "$PID" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$PIDFILE" "$PIDFILE.lock"
fi

# Children of this instance that outlived their master (imapd, ctl_cyrusdb): by pid, never by name.
for dir in /proc/[0-9]*; do
  pid="${dir#/proc/}"
  [ "$pid" = "$$" ] && continue
  if started_with_our_conf "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
done
exit 0
