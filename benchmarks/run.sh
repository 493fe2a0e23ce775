#!/usr/bin/env bash
# Builds the gateway in release, starts a private Dovecot (its own directory and ports, so the test
# bed is left alone), runs one benchmark of this folder against it, and stops Dovecot.
#
#   benchmarks/run.sh own-ordering                    # 100,000 messages: own RFC 5256 order vs server SORT
#   benchmarks/run.sh conversation-index              # the conversation index of a 100,000-message account
#   benchmarks/run.sh performance                     # the gateway against raw IMAP: ratios and targets
#   benchmarks/run.sh performance --scale 0.05 --runs 1 --only move-ids,update-10   # a quick trial
#   benchmarks/run.sh replicas                        # 2 replicas on PostgreSQL vs 1, PostgreSQL vs SQLite
#   benchmarks/run.sh own-ordering --count 20000      # further arguments go to the benchmark
#
# `replicas` also starts a private PostgreSQL (integration/postgres-start.sh, port 15433) and stops it.
# BENCH_SCRATCH_PATH: swift build's scratch path (default .build), e.g. to leave a running debug
# build's lock alone.
# Needs what integration/run-tests.sh needs (dovecot-imapd, openssl, python3, root; postgresql).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

name="${1:-}"
case "$name" in
  own-ordering|conversation-index|performance|replicas) shift ;;
  *) echo "usage: benchmarks/run.sh own-ordering|conversation-index|performance|replicas [arguments]" >&2; exit 2 ;;
esac
export DOVECOT_TEST_DIR="${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-bench-dovecot}"
export IMAP_TEST_PORT="${IMAP_TEST_PORT:-11143}" IMAP_TEST_TLS_PORT="${IMAP_TEST_TLS_PORT:-11993}"
if [ "$name" = replicas ]; then   # set before the trap: postgres-stop.sh stops the cluster of this directory
  export POSTGRES_TEST_DIR="${POSTGRES_TEST_DIR:-/tmp/mailbox-gateway-bench-postgres}"
  export POSTGRES_TEST_PORT="${POSTGRES_TEST_PORT:-15433}"
fi
scratch="${BENCH_SCRATCH_PATH:-.build}"
swift build -c release --product mailbox-gateway --scratch-path "$scratch"
stop_servers() {
  integration/dovecot-stop.sh
  if [ "$name" = replicas ]; then integration/postgres-stop.sh; fi
}
trap stop_servers EXIT
integration/dovecot-start.sh
# shellcheck disable=SC1091
. "$DOVECOT_TEST_DIR/env"
if [ "$name" = replicas ]; then
  integration/postgres-start.sh
  # shellcheck disable=SC1091
  . "$POSTGRES_TEST_DIR/env"
fi
python3 "benchmarks/$name.py" --gateway "$(cd "$scratch" && pwd)/release/mailbox-gateway" "$@"
