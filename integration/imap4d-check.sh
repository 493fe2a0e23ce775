#!/usr/bin/env bash
# The gateway against GNU Mailutils imap4d, in one command: a fresh imap4d bed, the
# end-to-end check, then the bed stopped again.
#
#   integration/imap4d-check.sh                       # uses .build/debug/mailbox-gateway
#   integration/imap4d-check.sh --binary PATH --keep  # arguments go to imap4d-check.py
#   IMAP4D_KEEP_BED=1 integration/imap4d-check.sh     # leave imap4d running afterwards
#
# Needs root (imap4d-start.sh installs mailutils-imap4d when missing) and a built gateway
# (swift build). Bed settings (IMAP4D_TEST_DIR, IMAP4D_TEST_PORT, ...) as in imap4d-start.sh.
# imap4d logs every session's transcript to ${IMAP4D_TEST_DIR}/log/imap4d.log (kept).
# Exit status: the check's (0 all passed, 1 a check failed, 2 no bed or no gateway).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export IMAP4D_TEST_DIR="${IMAP4D_TEST_DIR:-/tmp/mailbox-gateway-imap4d}"

"$SCRIPT_DIR/imap4d-start.sh"
if [ "${IMAP4D_KEEP_BED:-0}" != 1 ]; then
  trap '"$SCRIPT_DIR/imap4d-stop.sh"' EXIT
fi
status=0
python3 "$SCRIPT_DIR/imap4d-check.py" --env "$IMAP4D_TEST_DIR/env" "$@" || status=$?
[ "$status" -eq 0 ] || echo "imap4d-check: imap4d's transcript of every session: $IMAP4D_TEST_DIR/log/imap4d.log" >&2
exit "$status"
