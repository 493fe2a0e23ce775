#!/usr/bin/env bash
# Runs every test of the project: checks the modules' imports against the layout, starts the
# throwaway Dovecot test bed on loopback, runs `swift test` against it (integration tests are
# required, not skipped), then — on a full run — the end-to-end suite (GatewayTests) again behind
# integration/refusing-proxy.py, once with MOVE refused and once with SORT, ESORT, THREAD,
# CONDSTORE and QRESYNC refused, and once more against Cyrus IMAP 3.6 (integration/cyrus-start.sh),
# then the gateway binary against GNU Mailutils imap4d (integration/imap4d-check.sh), and stops the
# servers.
#
#   integration/run-tests.sh                 # all tests, then the refused-capability and Cyrus passes
#   integration/run-tests.sh --filter Sort   # extra arguments go to `swift test` (no extra pass then)
#
# DOVECOT_TEST_DIR, IMAP_TEST_PORT and IMAP_TEST_TLS_PORT pick another test bed instance (see
# dovecot-start.sh); CYRUS_TEST_DIR, CYRUS_TEST_PORT, CYRUS_TEST_TLS_PORT another Cyrus bed.
# REFUSE_MOVE_PASS=0 leaves out the MOVE-refused pass, REFUSE_SORT_PASS=0 the
# SORT/ESORT/THREAD/CONDSTORE/QRESYNC-refused one, CYRUS_PASS=0 the Cyrus one, IMAP4D_PASS=0 the
# GNU Mailutils imap4d check.
#
# Needs root, Swift 6, and: apt-get install -y dovecot-imapd openssl python3 libsqlite3-dev prometheus
# chromium postgresql (promtool and a headless browser for OperationsTests; PostgreSQL 15 for the
# store suite and ScaleOutTests, integration/postgres-start.sh), and for
# the Cyrus pass cyrus-common db-util dma (.ci/run installs them; cyrus-start.sh installs them when
# missing and fetches cyrus-imapd's imapd with `apt-get download`, see integration/CYRUS.md), and
# mailutils-imap4d for the imap4d check (imap4d-start.sh installs it when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The layout's dependency rules (docs/ARCHITECTURE.md), before anything is built.
scripts/check-imports.py --self-test
scripts/check-imports.py

integration/dovecot-start.sh
# A throwaway PostgreSQL cluster: the store suite runs against it as well as SQLite, and
# ScaleOutTests runs two gateway replicas on it.
integration/postgres-start.sh
cyrus_started=0
stop_servers() {
  integration/dovecot-stop.sh
  integration/postgres-stop.sh
  if [ "$cyrus_started" = 1 ]; then integration/cyrus-stop.sh; fi
}
trap stop_servers EXIT
# shellcheck disable=SC1091
. "${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}/env"
# shellcheck disable=SC1091
. "${POSTGRES_TEST_DIR:-/tmp/mailbox-gateway-postgres}/env"
export IMAP_TEST_REQUIRED=1 POSTGRES_TEST_REQUIRED=1

# The tests and the gateways under test share one process and its cooperative threads (2 on this
# machine kind). Swift Testing starts every suite at once by default: 64 suites on 2 cores kept a
# gateway under test from answering within the test client's 20 s read timeout (PasswordChangeTests
# in two clean-clone runs, 30 Nov 2026), and a quiet request that takes 6-18 ms alone took a median
# of 0.58-0.78 s (LoginFloodTests' "victim median quiet"). At most 6 tests at a time: the default
# pass takes the same 87 s here, and that median falls to 18 ms.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-6}"

# Run apart, after the rest, one test at a time:
# - the agreement suites (our RFC 5256 sort keys and threading against Dovecot's SORT and THREAD on
#   6,000- and 8,000-message corpora), CPU-heavy in a debug build: beside the rest they kept both
#   cores busy long enough for gateways under test in other suites to miss the read timeout;
# - ConversationTests, about 100 listing requests against one account: beside the rest, one of
#   them once missed that same timeout (a clean-clone run, 30 Nov 2026); alone it takes about 7 s;
# - LoginFloodTests, which compares a victim's median latency under a login flood with a quiet
#   median: beside five other tests the two medians were taken under different loads (quiet 9 ms,
#   flooded 81 ms in a clean-clone run, 30 Nov 2026), which says nothing about the throttle.
SEPARATE='GatewayTests\.(SortAgreementTests|ThreadAgreementTests|ConversationTests|LoginFloodTests)'
started=$SECONDS
if [ "$#" -eq 0 ]; then
  swift test --skip "$SEPARATE"
  swift test --skip-build --no-parallel --filter "$SEPARATE"
else
  swift test "$@"
fi
echo "run-tests: default pass: $((SECONDS - started)) s"
# The Dockerfile builds with scripts/pinned-versions.txt: it must name what these tests ran with.
scripts/check-pins.py

# --- The end-to-end suite again, behind a server that truly lacks capabilities --------------------
# Dovecot's imap_capability only HIDES a capability: a gateway that used it anyway would still pass.
# integration/refusing-proxy.py removes the refused capabilities from CAPABILITY, answers BAD to the
# commands that need them and strips what they add to responses. With IMAP_TEST_REFUSE set, the
# test process starts one such proxy in front of this Dovecot, and TestBed.server() — what the
# gateway is given — points at it; doveadm and the tests' own setup connections (TestBed.connect())
# still reach Dovecot directly. Each pass starts from a fresh test bed and reuses the build.
#
# Left out of these passes (they run in the default pass above): LargeFolderTests, a 100,000-message
# folder (fill, SORT, flag updates; nothing a refused MOVE changes) that alone would add about 35 s,
# and suites that never go through TestBed.server(): HostileUpstreamGatewayTests (its own scripted
# server), SortAgreementTests and ThreadAgreementTests (the gateway's ordering code against Dovecot's
# own SORT/THREAD on a direct connection), and ScaleOutTests (two replicas sharing PostgreSQL: what it
# proves is the store and the leases, the same whatever the IMAP server lacks; a 20,000-message job
# takes about a minute). LoginFloodTests and MetadataSyncTests stay: a few seconds.
REFUSE_SKIP='GatewayTests\.(LargeFolderTests|HostileUpstreamGatewayTests|SortAgreementTests|ThreadAgreementTests|ScaleOutTests)'

refused_pass() {  # $1 = capabilities to refuse (comma-separated)
  integration/dovecot-start.sh
  # shellcheck disable=SC1091
  . "${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}/env"
  local started=$SECONDS
  # One test at a time: GatewayTests alone, in parallel, has so many sessions of `alice` creating
  # and listing mailboxes at once that Dovecot's fcntl locking fails with EDEADLK on
  # dovecot.list.index.log and panics a session (a 502 or a crash in some test) — seen here with
  # and without the proxy, even with at most 4 tests at a time.
  IMAP_TEST_REFUSE="$1" swift test --skip-build --no-parallel --filter '^GatewayTests\.' --skip "$REFUSE_SKIP"
  echo "run-tests: GatewayTests with $1 refused: $((SECONDS - started)) s"
}

if [ "$#" -eq 0 ]; then
  # The MOVE fallback (COPY + \Deleted + UID EXPUNGE of exactly the copied UIDs) on every move and
  # delete-to-Trash of the suite, against a server where UID MOVE fails.
  if [ "${REFUSE_MOVE_PASS:-1}" = 1 ]; then
    refused_pass MOVE
  fi
  # The gateway's own RFC 5256 ordering, flags without CONDSTORE, and no THREAD/ESORT/QRESYNC,
  # against a server that refuses them all: every listing and range of the suite is ordered by the
  # gateway itself.
  if [ "${REFUSE_SORT_PASS:-1}" = 1 ]; then
    refused_pass SORT,ESORT,THREAD,CONDSTORE,QRESYNC
  fi
fi

# --- The end-to-end suite against Cyrus IMAP 3.6 ----------------------------------------------------
# The same GatewayTests with IMAP_TEST_SERVER=cyrus: TestBed reads the Cyrus bed's env file, the
# gateway talks to Cyrus, and the independent looks are integration/cyrus-admin.py (an admin session
# authorised as the user, read-only) instead of doveadm; fills are MULTIAPPEND. The Cyrus smoke
# test of our IMAP client runs with it. The bed lives on tmpfs when /dev/shm has room: Cyrus fsyncs
# every APPEND (12.6 ms each on this disk, 1.1 ms on tmpfs; CYRUS.md).
#
# Left out here, besides the suites skipped above: the suites that write Dovecot Maildir files
# (HostileMailTests, SortAgreementTests, ThreadAgreementTests: disabled in code on Cyrus), and
# LoginFloodTests — a test of the gateway's own throttle (it passes in the default pass), whose
# bound (the victim's median at most doubles under a 16-thread flood of failed logins) did not hold
# against Cyrus on this 2-core machine: median 6–8 ms quiet, 20–26 ms flooded in five runs (Dovecot:
# 5–6 ms and 5.5–7.4 ms), with the flood itself finishing faster (2,000 requests in 1.26 s against
# 1.8–1.9 s). The cause is not established yet (integration/CYRUS.md, "Open"). ScaleOutTests too (see
# the refused passes above).
CYRUS_SKIP='GatewayTests\.(HostileUpstreamGatewayTests|LoginFloodTests|ScaleOutTests)'

cyrus_pass() {
  local dir=/tmp/mailbox-gateway-cyrus
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 2097152 ]; then
    dir=/dev/shm/mailbox-gateway-cyrus
  fi
  export CYRUS_TEST_DIR="${CYRUS_TEST_DIR:-$dir}"
  cyrus_started=1
  integration/cyrus-start.sh
  local started=$SECONDS
  IMAP_TEST_SERVER=cyrus CYRUS_TEST_REQUIRED=1 swift test --skip-build --no-parallel \
    --filter '^(GatewayTests|IMAPClientTests\.CyrusSmokeTests)\.' --skip "$CYRUS_SKIP"
  echo "run-tests: GatewayTests on Cyrus IMAP: $((SECONDS - started)) s"
}

if [ "$#" -eq 0 ] && [ "${CYRUS_PASS:-1}" = 1 ]; then
  cyrus_pass
fi

# --- The gateway against GNU Mailutils imap4d 3.15, the poorest real server here ---------------
# No UIDPLUS, MOVE, SORT, THREAD, SPECIAL-USE, CONDSTORE or keywords, and protocol defects of its
# own (integration/imap4d-start.sh). integration/imap4d-check.sh starts a bed, runs the built
# gateway binary against it (integration/imap4d-check.py: listings in every RFC 5256 order, update
# and copy visible to another client at once, move and deletes refused with clear errors before
# anything changes, nothing outside a batch ever expunged; each step checked with an independent
# IMAP look) and stops the bed: about 20 s.
if [ "$#" -eq 0 ] && [ "${IMAP4D_PASS:-1}" = 1 ]; then
  started=$SECONDS
  integration/imap4d-check.sh
  echo "run-tests: the gateway on GNU Mailutils imap4d: $((SECONDS - started)) s"
fi
