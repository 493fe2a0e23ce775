#!/usr/bin/env bash
# API fuzzing: Schemathesis against the real gateway binary in front of the Dovecot test bed,
# driven by the served OpenAPI document, then a check that no seeded message was lost.
#
#   integration/fuzz-api.sh            # 300 seconds of fuzzing
#   integration/fuzz-api.sh 60         # a shorter run
#
# Steps:
#   1. Uses the running test bed (${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}/env); when
#      none is running it starts one with integration/dovecot-start.sh and stops it at the end.
#   2. Empties the dedicated account kate/kate-secret, seeds it with integration/fixtures (seed.py)
#      and records every message of the account (Message-ID, or GUID where there is none) with doveadm.
#   3. Builds the gateway, copies the binary to a temporary directory (a concurrent rebuild
#      cannot replace it mid-run) and serves it on a free loopback port with a fresh SQLite file,
#      small job thresholds (some batches become jobs) and the login throttle opened wide.
#   4. Installs Schemathesis ${SCHEMATHESIS_VERSION} into ${FUZZ_VENV:-/tmp/st-venv} when missing
#      and runs `schemathesis run <gateway>/api/v1/openapi.yaml --checks all
#      --exclude-checks positive_data_acceptance` as kate (Basic auth) for SECONDS, with kate's
#      real folder, label and mail IDs as dictionaries so that batches act on real messages.
#      positive_data_acceptance is left out because schema-valid bodies still mostly name IDs
#      that do not exist in the account, which the API rightly answers 404.
#   5. Checks that every recorded message still exists somewhere in kate's folders (copies and
#      moves are fine, losses are not), stops the gateway and prints the figures.
#
# Exit status: 0 when Schemathesis found no failure and no message was lost, 1 otherwise.
# Needs: Swift 6, python3 (with venv), root for doveadm; only loopback traffic.
# Environment (optional): FUZZ_HTTP_PORT (default: a free port), FUZZ_VENV, FUZZ_KEEP=1 keeps
# the work directory (gateway log, Schemathesis output and reports) for inspection.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_BUDGET="${1:-300}"
case "$SECONDS_BUDGET" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
SCHEMATHESIS_VERSION=4.32.5
VENV="${FUZZ_VENV:-/tmp/st-venv}"
STATE="${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}"
USER_NAME=kate
USER_PASSWORD=kate-secret

WORK="$(mktemp -d /tmp/fuzz-api.XXXXXX)"
GATEWAY_PID=""
STARTED_DOVECOT=0
cleanup() {
    if [ -n "$GATEWAY_PID" ] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
        kill "$GATEWAY_PID" 2>/dev/null || true
        wait "$GATEWAY_PID" 2>/dev/null || true
    fi
    if [ "$STARTED_DOVECOT" = 1 ]; then integration/dovecot-stop.sh || true; fi
    if [ "${FUZZ_KEEP:-0}" = 1 ]; then echo "fuzz-api: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
say() { echo "fuzz-api: $*"; }

# --- 1. the Dovecot test bed ------------------------------------------------------------
bed_is_up() {
    [ -f "$STATE/env" ] || return 1
    # shellcheck disable=SC1091
    (. "$STATE/env" && exec 3<>"/dev/tcp/$IMAP_TEST_HOST/$IMAP_TEST_PORT") 2>/dev/null
}
if ! bed_is_up; then
    say "no test bed running; starting one"
    IMAP_TEST_SEED=1 integration/dovecot-start.sh
    STARTED_DOVECOT=1
fi
# shellcheck disable=SC1091
. "$STATE/env"
doveadm_bed() { doveadm -c "$IMAP_TEST_DOVECOT_CONF" "$@"; }

# --- 2. seed kate and record her messages -------------------------------------------------
# kate is this script's own account: empty it first, so that every run starts from the fixtures
# (the copies a run makes would otherwise pile up from run to run).
doveadm_bed expunge -u "$USER_NAME" mailbox '*' all
python3 integration/seed.py --user "$USER_NAME" --password "$USER_PASSWORD"
record_messages() {
    doveadm_bed -f json fetch -u "$USER_NAME" 'mailbox guid hdr.message-id' all >"$1"
}
record_messages "$WORK/before.json"
say "recorded $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$WORK/before.json") messages of $USER_NAME"

# --- 3. build and start the gateway -------------------------------------------------------
swift build --product mailbox-gateway
BIN_DIR="$(swift build --show-bin-path)"
cp "$BIN_DIR/mailbox-gateway" "$WORK/mailbox-gateway"
# The OpenAPI document is a SwiftPM resource bundle looked up next to the executable.
cp -R "$BIN_DIR"/mailbox-gateway_*.resources "$WORK/" 2>/dev/null || true
PORT="${FUZZ_HTTP_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
BASE="http://127.0.0.1:$PORT"
(
    cd "$WORK"
    export GATEWAY_HTTP_HOST=127.0.0.1 GATEWAY_HTTP_PORT="$PORT"
    export GATEWAY_IMAP_HOST="$IMAP_TEST_HOST" GATEWAY_IMAP_PORT="$IMAP_TEST_PORT" GATEWAY_IMAP_TLS=none
    export GATEWAY_DATABASE_PATH="$WORK/gateway.sqlite"
    # Schemathesis probes every operation with wrong credentials for kate (ignored_auth) and
    # expects 401 each time; with the default login throttle those probes would soon be answered
    # 429 (SPEC §3, as they should from a guesser). The throttle has its own tests; here it is
    # opened wide so that each probe reaches the IMAP server and gets its 401.
    export GATEWAY_AUTH_THROTTLE_PER_USER_BURST=1000000 GATEWAY_AUTH_THROTTLE_PER_ADDRESS_BURST=1000000
    # Small thresholds, so that batches of a few of kate's messages also run as chunked jobs (201).
    export GATEWAY_BATCH_ASYNC_THRESHOLD=8 GATEWAY_JOBS_CHUNK_SIZE=3
    exec ./mailbox-gateway serve --config "$WORK/no-config-file.yaml"
) >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
for _ in $(seq 1 100); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$BASE/healthz" 2>/dev/null; then
        break
    fi
    kill -0 "$GATEWAY_PID" 2>/dev/null || { cat "$WORK/gateway.log" >&2; say "the gateway did not start"; exit 1; }
    sleep 0.2
done
say "gateway on $BASE (log $WORK/gateway.log)"

# --- 4. Schemathesis ----------------------------------------------------------------------
# Real IDs, so that batches act on kate's messages rather than only on unknown IDs: the folder
# IDs for `folderId` / `destinationFolderId`, two labels made here for `labelId`, and the mail
# IDs of every folder but Trash for `ids` and range starts (a delete in Trash is permanent, and
# would be a loss the API was asked for; a message moved to Trash gets an ID the fuzzer never sees).
python3 - "$BASE" "$USER_NAME" "$USER_PASSWORD" >"$WORK/schemathesis.toml" <<'PY'
import base64, json, sys, urllib.parse, urllib.request

base, user, password = sys.argv[1:4]
auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
def call(path, body=None):
    request = urllib.request.Request(
        base + path, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": auth, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)
get = call
labels = [call("/api/v1/labels", {"name": name})["id"] for name in ("Fuzz", "Fuzz label (generated keyword)")]
folders = get("/api/v1/folders")["items"]
mails = []
for folder in folders:
    if folder["role"] == "trash":
        continue
    query = urllib.parse.urlencode({"folderId": folder["id"], "limit": 1000})
    mails += [item["id"] for item in get("/api/v1/mails?" + query)["items"]]
def values(items):
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"
print(f"""[dictionaries.folderIds]
values = {values(folder["id"] for folder in folders)}

[dictionaries.mailIds]
values = {values(mails)}

[dictionaries.labelIds]
values = {values(labels)}

[parameters]
"query.folderId" = {{ dictionary = "folderIds", probability = 0.8 }}
"body.destinationFolderId" = {{ dictionary = "folderIds", probability = 0.8 }}
"body.labelId" = {{ dictionary = "labelIds", probability = 0.8 }}
"body.ids[*]" = {{ dictionary = "mailIds", probability = 0.8 }}
"body.ranges[*].start" = {{ dictionary = "mailIds", probability = 0.8 }}""")
PY
say "dictionaries: $(python3 -c 'import sys, tomllib; d = tomllib.load(open(sys.argv[1], "rb"))["dictionaries"]; print(len(d["folderIds"]["values"]), "folder IDs,", len(d["labelIds"]["values"]), "label IDs,", len(d["mailIds"]["values"]), "mail IDs")' "$WORK/schemathesis.toml")"
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi
say "$("$VENV/bin/schemathesis" --version), $SECONDS_BUDGET s budget"
START_TIME=$(date +%s)
set +e
timeout --signal=INT $((SECONDS_BUDGET + 300)) \
    "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/api/v1/openapi.yaml" --url "$BASE" \
    --checks all --exclude-checks positive_data_acceptance \
    --auth "$USER_NAME:$USER_PASSWORD" --max-time "$SECONDS_BUDGET" \
    --generation-database none --no-color \
    --report junit,ndjson --report-dir "$WORK/report" 2>&1 | tee "$WORK/schemathesis.log"
SCHEMATHESIS_STATUS=${PIPESTATUS[0]}
set -e
DURATION=$(($(date +%s) - START_TIME))

# --- 5. nothing lost ----------------------------------------------------------------------
kill "$GATEWAY_PID" 2>/dev/null || true
wait "$GATEWAY_PID" 2>/dev/null || true
GATEWAY_PID=""
record_messages "$WORK/after.json"
set +e
python3 - "$WORK/before.json" "$WORK/after.json" <<'PY'
"""Every message recorded before the run must still exist: by Message-ID (as many as before),
or by GUID for a message without one. Copies and moves between folders are fine."""
import collections, json, sys

before, after = (json.load(open(path)) for path in sys.argv[1:3])
def key(message):
    message_id = message.get("hdr.message-id", "").strip()
    return ("message-id", message_id) if message_id else ("guid", message["guid"])
have = collections.Counter(key(m) for m in after)
need = collections.Counter(key(m) for m in before)
lost = {k: n - have[k] for k, n in need.items() if have[k] < n}
print(f"fuzz-api: messages before {len(before)}, after {len(after)}, lost {sum(lost.values())}")
for (kind, value), count in sorted(lost.items()):
    print(f"fuzz-api: LOST {count} x {kind} {value}")
sys.exit(1 if lost else 0)
PY
LOST_STATUS=$?
set -e

# Schemathesis ends with "Test cases: N generated, …" and a line "=== 1 failure, 3 warnings in 300.1s ===".
CASES="$(grep -Eo '[0-9]+ generated' "$WORK/schemathesis.log" | tail -1 | grep -Eo '[0-9]+' || true)"
LAST_LINE="$(grep -E '^=+ .* in [0-9.]+s =+$' "$WORK/schemathesis.log" | tail -1 || true)"
FAILURES="$(echo "$LAST_LINE" | grep -Eo '[0-9]+ (failure|error)s?' | awk '{ n += $1 } END { print n + 0 }' || true)"
say "schemathesis $SCHEMATHESIS_VERSION: ${CASES:-?} test cases, ${FAILURES:-0} failures, ${DURATION} s (exit $SCHEMATHESIS_STATUS)"
if [ "$SCHEMATHESIS_STATUS" -ne 0 ] || [ "$LOST_STATUS" -ne 0 ]; then
    say "FAILED"
    exit 1
fi
say "clean"
