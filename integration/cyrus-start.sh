#!/usr/bin/env bash
# Start a throwaway private Cyrus IMAP 3.6 (Debian's cyrus-imapd) beside the Dovecot test bed.
#
#   integration/cyrus-start.sh              # start (wipes ${CYRUS_TEST_DIR} first)
#   . "${CYRUS_TEST_DIR:-/tmp/mailbox-gateway-cyrus}/env"   # then use CYRUS_TEST_* vars
#   integration/cyrus-admin.py fetch alice INBOX            # an independent look (not our client)
#   integration/cyrus-stop.sh               # stop
#
# Needs root. Installs what is missing (SPEC §7): Debian's `cyrus-imapd` conflicts with
# `dovecot-imapd` (both provide imap-server), so only `cyrus-common` is installed with apt
# (cyrmaster, the cyr_* tools, the shared libraries) and `cyrus-imapd` is fetched with
# `apt-get download` and unpacked with `dpkg -x` into ${CYRUS_CACHE_DIR}/<version>, where the
# next start finds it again. Nothing of the system's Cyrus is used: no /etc/imapd.conf, no
# /var/lib/cyrus, no service; cyrmaster runs from private cyrus.conf / imapd.conf files.
#
# Environment (all optional):
#   CYRUS_TEST_DIR        state dir (config, certs, sasldb, mail spool, runtime)
#                         default /tmp/mailbox-gateway-cyrus; wiped on every start
#   CYRUS_TEST_PORT       plain IMAP port with STARTTLS           (default 14143)
#   CYRUS_TEST_TLS_PORT   implicit-TLS IMAP port                  (default 14993)
#   CYRUS_TEST_LISTEN     listen address                          (default 127.0.0.1)
#   CYRUS_TEST_PWCHECK    sasldb (default): passwords are checked, a wrong one fails;
#                         alwaystrue: SPEC §7's recipe, any password is accepted
#   CYRUS_TEST_SEED=0     do not seed alice with integration/fixtures (seeded by default)
#   CYRUS_CACHE_DIR       where the unpacked cyrus-imapd lives  (default /var/cache/mailbox-gateway/cyrus)
# Users: the Dovecot bed's accounts alice, bob, carol, dave, eve, frank, gina, hana, ivan, judy,
# kate, leo, mona, omar, nina, pia, quinn, rosa, sam (<name>-secret), each with INBOX, Drafts, Sent, Trash, Junk, Archive (SPECIAL-USE,
# subscribed); admin/admin-secret (Cyrus `admins`: sees every user as user/<name>/...);
# gateway-master/master-secret (Cyrus `proxyservers`: SASL PLAIN with authzid <user>, not an admin).
# Writes ${CYRUS_TEST_DIR}/env with `export CYRUS_TEST_...` lines. Findings: integration/CYRUS.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${CYRUS_TEST_DIR:-/tmp/mailbox-gateway-cyrus}"
PORT="${CYRUS_TEST_PORT:-14143}"
TLS_PORT="${CYRUS_TEST_TLS_PORT:-14993}"
LISTEN="${CYRUS_TEST_LISTEN:-127.0.0.1}"
PWCHECK="${CYRUS_TEST_PWCHECK:-sasldb}"
CACHE="${CYRUS_CACHE_DIR:-/var/cache/mailbox-gateway/cyrus}"
TOOLS=/usr/lib/cyrus/bin
CYRUS_USER=cyrus
CYRUS_GROUP=mail
REALM=localhost          # imapd.conf `servername`: the SASL realm of the sasldb entries
USERS="alice bob carol dave eve frank gina hana ivan judy kate leo mona omar nina pia quinn rosa sam"
ADMIN_USER=admin ADMIN_PASS=admin-secret
MASTER_USER=gateway-master MASTER_PASS=master-secret
T0=$SECONDS

die() { echo "cyrus-start: $*" >&2; exit 1; }
say() { echo "cyrus-start: $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (cyrmaster drops to the cyrus user itself)"
command -v openssl >/dev/null || die "openssl not installed: apt-get install -y openssl"
command -v python3 >/dev/null || die "python3 not installed"
case "$PWCHECK" in sasldb|alwaystrue) ;; *) die "CYRUS_TEST_PWCHECK must be sasldb or alwaystrue";; esac
case "$LISTEN" in *[!0-9.]*|'') die "CYRUS_TEST_LISTEN must be an IPv4 address (default 127.0.0.1)";; esac
case "$STATE" in *[[:space:]]*) die "CYRUS_TEST_DIR must not contain whitespace";; esac
case "$STATE" in /|/tmp|/tmp/|/root|/home|/var|/etc|/usr) die "refusing CYRUS_TEST_DIR=$STATE";; esac
case "$STATE" in *dovecot*) die "refusing CYRUS_TEST_DIR=$STATE (looks like a Dovecot test bed)";; esac
STATE="$(realpath -m "$STATE")"

# --- packages --------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
apt_install() {  # apt-get install, refreshing the package lists once if they are empty or stale
  apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 && return 0
  say "apt-get update (package lists missing or stale)"
  apt-get update -qq >/dev/null
  apt-get install -y --no-install-recommends "$@" >/dev/null
}
if [ ! -x /usr/sbin/cyrmaster ] || [ ! -x "$TOOLS/ctl_cyrusdb" ] || ! command -v db_load >/dev/null; then
  # cyrus-common Depends on default-mta | mail-transport-agent. Where no MTA is installed,
  # bring the small daemonless dma rather than letting apt pick exim4 (a daemon on port 25);
  # where one is installed, keep it (dma conflicts with every other MTA).
  extra=""
  if ! dpkg-query -W -f='${Status} ${Provides}\n' 2>/dev/null | grep '^install ok installed' | grep -q 'mail-transport-agent'; then
    extra="dma"
  fi
  say "installing cyrus-common $extra"
  apt_install cyrus-common db-util $extra || die "apt-get install cyrus-common failed"
fi
# The package's own service must not run: it would use /etc/cyrus.conf (ports 143, 4190, ...).
# Debian images with policy-rc.d never start it; elsewhere the postinst (here, or of .ci/run's
# install) may have.
if [ -f /run/cyrus-master.pid ]; then
  invoke-rc.d cyrus-imapd stop >/dev/null 2>&1 || service cyrus-imapd stop >/dev/null 2>&1 || true
fi
version() { dpkg-query -W -f='${Version}' cyrus-common 2>/dev/null; }
VERSION="$(version)" || die "cyrus-common is not installed"
BIN_ROOT="$CACHE/$VERSION"
IMAPD="$BIN_ROOT/usr/lib/cyrus/bin/imapd"
if [ ! -x "$IMAPD" ]; then
  say "fetching cyrus-imapd=$VERSION into $BIN_ROOT"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # imapd must come from the same build as the installed cyrus-common (its private libraries).
  # apt-get download writes into the current directory; as root it warns about the sandbox.
  download() { (cd "$work" && apt-get download -q "cyrus-imapd=$VERSION" >/dev/null 2>&1); }
  if ! download; then
    apt-get update -qq >/dev/null
    if ! download; then
      # The archive keeps only the newest security build: move cyrus-common to it, and follow.
      apt_install cyrus-common || die "apt-get install cyrus-common failed"
      VERSION="$(version)"; BIN_ROOT="$CACHE/$VERSION"; IMAPD="$BIN_ROOT/usr/lib/cyrus/bin/imapd"
      download || die "apt-get download cyrus-imapd=$VERSION failed"
    fi
  fi
  mkdir -p "$work/x"
  dpkg -x "$work"/cyrus-imapd_*.deb "$work/x"
  [ -x "$work/x/usr/lib/cyrus/bin/imapd" ] || die "no usr/lib/cyrus/bin/imapd in the cyrus-imapd package"
  mkdir -p "$CACHE"
  rm -rf "$BIN_ROOT"
  mv "$work/x" "$BIN_ROOT"
  rm -rf "$work"; trap - EXIT
fi
chmod 0755 "$CACHE" "$BIN_ROOT"

# --- system user (normally made by cyrus-common's postinst) ---------------------------------
getent group "$CYRUS_GROUP" >/dev/null || groupadd --system "$CYRUS_GROUP"
id "$CYRUS_USER" >/dev/null 2>&1 || useradd --system --gid "$CYRUS_GROUP" --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin "$CYRUS_USER"

# Stop an instance still running from this state dir before wiping it.
CYRUS_TEST_DIR="$STATE" "$SCRIPT_DIR/cyrus-stop.sh"

# --- state dir --------------------------------------------------------------------------
# Only wipe a directory that is empty or was made by this script.
if [ -d "$STATE" ] && [ -n "$(ls -A "$STATE")" ] && [ ! -f "$STATE/imapd.conf" ] && [ ! -f "$STATE/env" ]; then
  die "$STATE exists and was not created by cyrus-start.sh; refusing to wipe it"
fi
rm -rf "$STATE"
mkdir -p "$STATE"/{run,log,tls,tmp,sieve,spool,lib/{proc,db,socket,log,msg,ptclient,sync,lock}}
mkdir -p "$STATE"/spool/{stage.,sync.}
chmod 0755 "$STATE"
chown -R "$CYRUS_USER:$CYRUS_GROUP" "$STATE"
chmod 0750 "$STATE"/{lib,spool,sieve,tmp}
CONF="$STATE/imapd.conf"
MASTER_CONF="$STATE/cyrus.conf"
PIDFILE="$STATE/run/master.pid"
LOG="$STATE/log/master.log"

# --- throwaway CA + server certificate (as integration/dovecot-start.sh makes) --------------
(
  cd "$STATE/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.pem -days 3650 -subj "/CN=mailbox-gateway Cyrus test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
  cat > server.ext <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,DNS:cyrus
EOF
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out server.pem -days 3650 -sha256 -extfile server.ext 2>/dev/null
  chown "$CYRUS_USER:$CYRUS_GROUP" server.key server.pem
  chmod 0600 ca.key server.key
  chmod 0644 ca.pem server.pem
) || die "certificate generation failed"

# --- passwords: a private sasldb (Berkeley DB hash, as saslpasswd2 writes it) ---------------
# Key "<user>\0<realm>\0userPassword", value the plain password; loaded with db_load -T.
SASLDB="$STATE/lib/sasldb2"
if [ "$PWCHECK" = sasldb ]; then
  {
    for u in $USERS; do printf '%s\\00%s\\00userPassword\n%s\n' "$u" "$REALM" "$u-secret"; done
    printf '%s\\00%s\\00userPassword\n%s\n' "$ADMIN_USER" "$REALM" "$ADMIN_PASS"
    printf '%s\\00%s\\00userPassword\n%s\n' "$MASTER_USER" "$REALM" "$MASTER_PASS"
  } | db_load -T -t hash "$SASLDB" || die "db_load of $SASLDB failed"
  chown "$CYRUS_USER:$CYRUS_GROUP" "$SASLDB"
  chmod 0600 "$SASLDB"
  SASL_LINES="sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $SASLDB"
else
  SASL_LINES="sasl_pwcheck_method: alwaystrue"
fi

# --- config -------------------------------------------------------------------------------
cat > "$CONF" <<EOF
# Generated by integration/cyrus-start.sh -- throwaway test instance, do not edit.
configdirectory: $STATE/lib
partition-default: $STATE/spool
sievedir: $STATE/sieve
temp_path: $STATE/tmp
servername: $REALM
cyrus_user: $CYRUS_USER
syslog_prefix: mbgw-cyrus

# Accounts: admins see every mailbox (user/<name>/...); proxyservers may authorize as any
# user (SASL PLAIN authzid), like Dovecot's master user, without being admins.
admins: $ADMIN_USER
proxyservers: $MASTER_USER
$SASL_LINES
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
# Failed logins answer at once (Cyrus sleeps 3 s by default).
failedloginpause: 0

# Names as the gateway's users see them (SPEC §7): personal folders beside INBOX, not under
# it; '/' as the hierarchy separator; \\Drafts etc. listed without RETURN (SPECIAL-USE).
altnamespace: yes
unixhierarchysep: yes
specialusealways: yes
virtdomains: off

# Messages stored as sent: no 'X' for 8-bit header bytes (the fixtures have raw UTF-8).
reject8bit: no
munge8bit: no
# A test bed: expunged messages and deleted mailboxes go at once (defaults are 'delayed').
expunge_mode: immediate
delete_mode: immediate

tls_server_cert: $STATE/tls/server.pem
tls_server_key: $STATE/tls/server.key
tls_versions: tls1_2 tls1_3
EOF

case "$LISTEN" in 0.0.0.0) LISTEN_ADDR="";; *) LISTEN_ADDR="$LISTEN:";; esac
cat > "$MASTER_CONF" <<EOF
# Generated by integration/cyrus-start.sh -- throwaway test instance, do not edit.
START {
  recover       cmd="$TOOLS/ctl_cyrusdb -C $CONF -r"
}
SERVICES {
  imap          cmd="$IMAPD -C $CONF" listen="$LISTEN_ADDR$PORT" prefork=1
  imaps         cmd="$IMAPD -s -C $CONF" listen="$LISTEN_ADDR$TLS_PORT" prefork=0
}
EVENTS {
  checkpoint    cmd="$TOOLS/ctl_cyrusdb -C $CONF -c" period=30
}
EOF
chown "$CYRUS_USER:$CYRUS_GROUP" "$CONF" "$MASTER_CONF"
chmod 0644 "$CONF" "$MASTER_CONF"

# --- env file -----------------------------------------------------------------------------
{
  echo "# Generated by integration/cyrus-start.sh; source it: . $STATE/env"
  echo "export CYRUS_TEST_HOST=127.0.0.1"
  echo "export CYRUS_TEST_PORT=$PORT"
  echo "export CYRUS_TEST_TLS_PORT=$TLS_PORT"
  echo "export CYRUS_TEST_CA_FILE=$STATE/tls/ca.pem"
  echo "export CYRUS_TEST_CONF=$CONF"
  echo "export CYRUS_TEST_MASTER_CONF=$MASTER_CONF"
  echo "export CYRUS_TEST_STATE_DIR=$STATE"
  echo "export CYRUS_TEST_SPOOL=$STATE/spool"
  echo "export CYRUS_TEST_TOOLS=$TOOLS"
  echo "export CYRUS_TEST_IMAPD=$IMAPD"
  echo "export CYRUS_TEST_VERSION=$VERSION"
  echo "export CYRUS_TEST_PWCHECK=$PWCHECK"
  echo "export CYRUS_TEST_SEPARATOR=/"
  i=1
  for u in $USERS; do
    echo "export CYRUS_TEST_USER$i=$u"
    echo "export CYRUS_TEST_PASS$i=$u-secret"
    i=$((i + 1))
  done
  echo "export CYRUS_TEST_ADMIN_USER=$ADMIN_USER"
  echo "export CYRUS_TEST_ADMIN_PASS=$ADMIN_PASS"
  echo "export CYRUS_TEST_MASTER_USER=$MASTER_USER"
  echo "export CYRUS_TEST_MASTER_PASS=$MASTER_PASS"
} > "$STATE/env"
chmod 0644 "$STATE/env"

# --- start ----------------------------------------------------------------------------------
imap_ready() {  # greeting "* OK" on the plain port? (subshell: fd 3 and stderr stay local)
  (
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf 'a LOGOUT\r\n' >&3 || true
    [[ "$line" == "* OK"* ]]
  ) 2>/dev/null
}

# -d: daemon mode (forks, the parent exits once the pid file is locked); -L: its stdout/stderr.
# Cyrus itself logs to syslog only (LOG_LOCAL6, prefix mbgw-cyrus): with no syslog daemon those
# lines are lost; run the imapd by hand (see CYRUS.md) to see why a start fails.
/usr/sbin/cyrmaster -d -C "$CONF" -M "$MASTER_CONF" -p "$PIDFILE" -L "$LOG" </dev/null >/dev/null 2>&1 \
  || { [ -f "$LOG" ] && tail -n 50 "$LOG" >&2; die "cyrmaster failed to start"; }
deadline=$((SECONDS + 20))
until imap_ready; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "no '* OK' greeting on 127.0.0.1:$PORT after 20 s; master log:"
    [ -f "$LOG" ] && tail -n 50 "$LOG" >&2
    CYRUS_TEST_DIR="$STATE" "$SCRIPT_DIR/cyrus-stop.sh" || true
    exit 1
  fi
  sleep 0.1
done

# --- accounts, special-use folders, fixtures ---------------------------------------------
# shellcheck disable=SC2086
python3 "$SCRIPT_DIR/cyrus-admin.py" --env "$STATE/env" provision $USERS \
  || { CYRUS_TEST_DIR="$STATE" "$SCRIPT_DIR/cyrus-stop.sh" || true; die "provisioning failed"; }
if [ "${CYRUS_TEST_SEED:-1}" = 1 ]; then
  python3 "$SCRIPT_DIR/seed.py" --host 127.0.0.1 --port "$PORT" --user alice --password alice-secret >&2 \
    || { CYRUS_TEST_DIR="$STATE" "$SCRIPT_DIR/cyrus-stop.sh" || true; die "seeding alice failed"; }
  echo "export CYRUS_TEST_SEEDED=1" >> "$STATE/env"
fi
echo "cyrus-start: Cyrus IMAP $VERSION up on $LISTEN:$PORT (STARTTLS) and :$TLS_PORT (TLS), passwords: $PWCHECK, $((SECONDS - T0)) s; source $STATE/env"
