#!/usr/bin/env bash
# Runs every test of the project: checks the modules' imports against the layout, starts the
# throwaway Dovecot test bed on loopback, runs `swift test` against it (integration tests are
# required, not skipped), and stops Dovecot.
#
#   integration/run-tests.sh                 # all tests
#   integration/run-tests.sh --filter Sort   # extra arguments go to `swift test`
#
# Needs root, Swift 6, and: apt-get install -y dovecot-imapd openssl python3 (.ci/run installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The layout's dependency rules (docs/ARCHITECTURE.md), before anything is built.
scripts/check-imports.py --self-test
scripts/check-imports.py

integration/dovecot-start.sh
trap 'integration/dovecot-stop.sh' EXIT
# shellcheck disable=SC1091
. "${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}/env"
export IMAP_TEST_REQUIRED=1

swift test "$@"
