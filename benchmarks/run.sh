#!/usr/bin/env bash
# Builds the gateway in release, starts a private Dovecot (its own directory and ports, so the test
# bed is left alone), runs one benchmark of this folder against it, and stops Dovecot.
#
#   benchmarks/run.sh own-ordering                    # 100,000 messages: own RFC 5256 order vs server SORT
#   benchmarks/run.sh conversation-index              # the conversation index of a 100,000-message account
#   benchmarks/run.sh performance                     # the gateway against raw IMAP: ratios and targets
#   benchmarks/run.sh performance --scale 0.05 --runs 1 --only move-ids,update-10   # a quick trial
#   benchmarks/run.sh own-ordering --count 20000      # further arguments go to the benchmark
#
# Needs what integration/run-tests.sh needs (dovecot-imapd, openssl, python3, root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

name="${1:-}"
case "$name" in
  own-ordering|conversation-index|performance) shift ;;
  *) echo "usage: benchmarks/run.sh own-ordering|conversation-index|performance [arguments]" >&2; exit 2 ;;
esac
export DOVECOT_TEST_DIR="${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-bench-dovecot}"
export IMAP_TEST_PORT="${IMAP_TEST_PORT:-11143}" IMAP_TEST_TLS_PORT="${IMAP_TEST_TLS_PORT:-11993}"
swift build -c release --product mailbox-gateway
integration/dovecot-start.sh
trap 'integration/dovecot-stop.sh' EXIT
# shellcheck disable=SC1091
. "$DOVECOT_TEST_DIR/env"
python3 "benchmarks/$name.py" --gateway "$PWD/.build/release/mailbox-gateway" "$@"
