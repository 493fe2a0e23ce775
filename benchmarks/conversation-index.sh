#!/usr/bin/env bash
# Builds the gateway in release, starts a private Dovecot (its own directory and ports, so the test
# bed is left alone), and runs benchmarks/conversation-index.py: the conversation index of a
# 100,000-message account (first build, warm pages, an update after one reply, memory).
#
#   benchmarks/conversation-index.sh                   # 60,000 + 30,000 + 10,000 messages
#   benchmarks/conversation-index.sh --inbox 10000     # arguments go to conversation-index.py
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
python3 benchmarks/conversation-index.py --gateway "$PWD/.build/release/mailbox-gateway" "$@"
