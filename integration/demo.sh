#!/usr/bin/env bash
# One command for a local demo on a fresh Debian machine (root, Swift 6 installed):
# a throwaway Dovecot with the demo account alice/alice-secret seeded with fixtures,
# and the gateway in front of it on http://127.0.0.1:8080. Ctrl-C stops both.
#
#   integration/demo.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v dovecot >/dev/null; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        dovecot-imapd openssl python3 libsqlite3-dev
fi
IMAP_TEST_SEED=1 integration/dovecot-start.sh
trap 'integration/dovecot-stop.sh' EXIT
# shellcheck disable=SC1091
. "${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}/env"

export GATEWAY_IMAP_HOST="$IMAP_TEST_HOST" GATEWAY_IMAP_PORT="$IMAP_TEST_PORT"
export GATEWAY_DATABASE_PATH="${GATEWAY_DATABASE_PATH:-$IMAP_TEST_STATE_DIR/gateway.sqlite}"
swift build --product mailbox-gateway
echo "gateway on http://127.0.0.1:${GATEWAY_HTTP_PORT:-8080} — try: curl -u alice:alice-secret http://127.0.0.1:8080/api/v1/folders"
.build/debug/mailbox-gateway serve --config config/gateway.yaml
