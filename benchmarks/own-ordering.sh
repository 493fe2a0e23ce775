#!/usr/bin/env bash
# Builds the gateway in release, starts a private Dovecot (its own directory and ports, so the test
# bed is left alone), and runs benchmarks/own-ordering.py: a 100,000-message folder listed with the
# server's SORT and with the gateway's own RFC 5256 ordering behind a SORT-refusing proxy.
#
#   benchmarks/own-ordering.sh                 # 100,000 messages, 5 runs per warm page
#   benchmarks/own-ordering.sh --count 20000   # arguments go to own-ordering.py
#
# Needs what integration/run-tests.sh needs (dovecot-imapd, openssl, python3, root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DOVECOT_TEST_DIR="${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-bench-dovecot}"
export IMAP_TEST_PORT="${IMAP_TEST_PORT:-11143}" IMAP_TEST_TLS_PORT="${IMAP_TEST_TLS_PORT:-11993}"
swift build -c release --product mailbox-gateway
integration/dovecot-start.sh
trap 'integration/dovecot-stop.sh' EXIT
# shellcheck disable=SC1091
. "$DOVECOT_TEST_DIR/env"
python3 benchmarks/own-ordering.py --gateway "$PWD/.build/release/mailbox-gateway" "$@"
