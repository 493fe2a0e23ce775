#!/usr/bin/env bash
# Stop the private GNU Mailutils imap4d started by integration/imap4d-start.sh.
#
#   integration/imap4d-stop.sh     # uses ${IMAP4D_TEST_DIR:-/tmp/mailbox-gateway-imap4d}
#
# Idempotent: exits 0 when nothing runs. Ends the daemon named in the pid file, then any
# session process it forked (they outlive their master until their client disconnects),
# each by pid and only if its command line names this state dir's config file. Leaves the
# state dir (mail, log) in place for inspection; the next imap4d-start.sh wipes it.
set -euo pipefail

STATE="$(realpath -m "${IMAP4D_TEST_DIR:-/tmp/mailbox-gateway-imap4d}")"
PIDFILE="$STATE/run/imap4d.pid"
CONF="$STATE/imap4d.conf"

ours() {  # the pid is alive (not a zombie) and runs imap4d with --config-file=<our config>
  local -a argv
  local a
  { mapfile -d '' argv < "/proc/$1/cmdline"; } 2>/dev/null || return 1
  for a in "${argv[@]}"; do
    [ "$a" = "--config-file=$CONF" ] && return 0
  done
  return 1
}

stop_pid() {  # TERM, up to 5 s, then KILL
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    ours "$pid" || return 0
    sleep 0.1
  done
  echo "imap4d-stop: imap4d $pid did not exit, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

if [ -f "$PIDFILE" ]; then
  PID="$(tr -dc '0-9' < "$PIDFILE" || true)"
  if [ -n "$PID" ] && ours "$PID"; then
    stop_pid "$PID"
  fi
  rm -f "$PIDFILE"
fi

# Session processes of this instance (children of the master, same command line).
for dir in /proc/[0-9]*; do
  pid="${dir#/proc/}"
  [ "$pid" = "$$" ] && continue
  if ours "$pid"; then
    stop_pid "$pid"
  fi
done
exit 0
