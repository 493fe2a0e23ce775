#!/usr/bin/env bash
# Start a throwaway private Dovecot (Debian's dovecot-imapd 2.3) for the gateway's tests.
#
#   integration/dovecot-start.sh            # start (wipes ${DOVECOT_TEST_DIR} first)
#   . "${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}/env"   # then use IMAP_TEST_* vars
#   integration/dovecot-stop.sh             # stop
#
# Needs root and: apt-get install -y dovecot-imapd openssl python3
# Environment (all optional):
#   DOVECOT_TEST_DIR      state dir (config, certs, passwd files, mail, logs, runtime)
#                         default /tmp/mailbox-gateway-dovecot; wiped on every start
#   IMAP_TEST_PORT        plain IMAP port with STARTTLS        (default 10143)
#   IMAP_TEST_TLS_PORT    implicit-TLS IMAP port               (default 10993)
#   IMAP_TEST_LISTEN      listen address(es)                   (default 127.0.0.1; '*' = all)
#   IMAP_TEST_CAPABILITY  if set, written as `imap_capability = ...` (to test fallbacks,
#                         e.g. "IMAP4rev1 LITERAL+ SASL-IR IDLE NAMESPACE")
#   IMAP_TEST_SEED=1      seed alice with integration/fixtures after start (seed.py)
#   DOVECOT_FOREGROUND=1  run `dovecot -F` in the foreground (containers); log to stderr
# Users (passwd-file, {PLAIN}): alice/alice-secret, bob/bob-secret, carol/carol-secret,
# dave, eve, frank, gina (<name>-secret): the tests' accounts for 10,000–100,000-message
# folders, one per heavy test; hana (hostile mail), ivan (password change, its passwd line is
# rewritten by a test), judy (login flood), kate (API fuzzing, integration/fuzz-api.sh), leo (job hardening, small label checks), mona (the piecewise metadata sync of 12,000 messages), omar (threading agreement corpora, integration/thread-corpus.py), nina (sort agreement corpora, integration/sort-corpus.py), pia (conversations: the index spans every folder of an account), quinn (operations: a gateway process's metrics, logs and SIGTERM), rosa (scale-out: two gateway replicas on one PostgreSQL), sam (a conversation job killed mid-way), since many parallel sessions of one user on huge folders once
# made Dovecot's fcntl locking fail with EDEADLK and panic the session;
# master user gateway-master/master-secret (LOGIN "alice*gateway-master" or SASL PLAIN
# with authzid alice). Writes ${DOVECOT_TEST_DIR}/env with `export IMAP_TEST_...` lines.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${DOVECOT_TEST_DIR:-/tmp/mailbox-gateway-dovecot}"
PORT="${IMAP_TEST_PORT:-10143}"
TLS_PORT="${IMAP_TEST_TLS_PORT:-10993}"
LISTEN="${IMAP_TEST_LISTEN:-127.0.0.1}"
FOREGROUND="${DOVECOT_FOREGROUND:-0}"
MAIL_OWNER="vmail"

die() { echo "dovecot-start: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (Dovecot drops to dovenull/dovecot/vmail itself)"
command -v dovecot >/dev/null || die "dovecot not installed: apt-get install -y dovecot-imapd"
command -v openssl >/dev/null || die "openssl not installed: apt-get install -y openssl"
case "$STATE" in *[[:space:]]*) die "DOVECOT_TEST_DIR must not contain whitespace";; esac
case "$STATE" in /|/tmp|/tmp/|/root|/home|/var|/etc|/usr) die "refusing DOVECOT_TEST_DIR=$STATE";; esac
STATE="$(realpath -m "$STATE")"

# Stop an instance still running from this state dir before wiping it.
DOVECOT_TEST_DIR="$STATE" "$SCRIPT_DIR/dovecot-stop.sh"

# --- system users -------------------------------------------------------------------
getent group dovecot >/dev/null || groupadd --system dovecot
id dovecot >/dev/null 2>&1 || useradd --system --gid dovecot --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin dovecot
id dovenull >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin dovenull
id "$MAIL_OWNER" >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin "$MAIL_OWNER"
MAIL_UID="$(id -u "$MAIL_OWNER")"
MAIL_GID="$(id -g "$MAIL_OWNER")"

# --- state dir ----------------------------------------------------------------------
# Only wipe a directory that is empty or was made by this script.
if [ -d "$STATE" ] && [ -n "$(ls -A "$STATE")" ] && [ ! -f "$STATE/dovecot.conf" ] && [ ! -f "$STATE/env" ]; then
  die "$STATE exists and was not created by dovecot-start.sh; refusing to wipe it"
fi
rm -rf "$STATE"
mkdir -p "$STATE"/{run,lib,log,tls,auth,mail}
chmod 0755 "$STATE" "$STATE"/{run,lib,log,tls}
chmod 0750 "$STATE/auth"; chgrp dovecot "$STATE/auth"
chown "$MAIL_OWNER:$MAIL_OWNER" "$STATE/mail"; chmod 0700 "$STATE/mail"
CONF="$STATE/dovecot.conf"
LOG="$STATE/log/dovecot.log"
[ "$FOREGROUND" = 1 ] && LOG=/dev/stderr

# --- throwaway CA + server certificate ------------------------------------------------
(
  cd "$STATE/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.pem -days 3650 -subj "/CN=mailbox-gateway test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
  cat > server.ext <<'EOF'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,DNS:dovecot
EOF
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out server.pem -days 3650 -sha256 -extfile server.ext 2>/dev/null
  chmod 0600 ca.key server.key
  chmod 0644 ca.pem server.pem
) || die "certificate generation failed"

# --- passwd files (auth process runs as the dovecot user: group-readable) --------------
cat > "$STATE/auth/users" <<'EOF'
alice:{PLAIN}alice-secret
bob:{PLAIN}bob-secret
carol:{PLAIN}carol-secret
dave:{PLAIN}dave-secret
eve:{PLAIN}eve-secret
frank:{PLAIN}frank-secret
gina:{PLAIN}gina-secret
hana:{PLAIN}hana-secret
ivan:{PLAIN}ivan-secret
judy:{PLAIN}judy-secret
kate:{PLAIN}kate-secret
leo:{PLAIN}leo-secret
mona:{PLAIN}mona-secret
omar:{PLAIN}omar-secret
nina:{PLAIN}nina-secret
pia:{PLAIN}pia-secret
quinn:{PLAIN}quinn-secret
rosa:{PLAIN}rosa-secret
sam:{PLAIN}sam-secret
EOF
cat > "$STATE/auth/masters" <<'EOF'
gateway-master:{PLAIN}master-secret
EOF
chgrp dovecot "$STATE/auth/users" "$STATE/auth/masters"
chmod 0640 "$STATE/auth/users" "$STATE/auth/masters"

# --- config -------------------------------------------------------------------------
case "$LISTEN" in '*'|0.0.0.0) LISTEN_CONF='*';; *) LISTEN_CONF="$LISTEN";; esac
INSTANCE="mbgw-$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)"
CAPA_LINE="# imap_capability: Dovecot's default (set IMAP_TEST_CAPABILITY to override)"
if [ -n "${IMAP_TEST_CAPABILITY:-}" ]; then
  CAPA_LINE="imap_capability = ${IMAP_TEST_CAPABILITY}"
fi

cat > "$CONF" <<EOF
# Generated by integration/dovecot-start.sh -- throwaway test instance, do not edit.
# Standalone: nothing from /etc/dovecot is included.
instance_name = $INSTANCE
base_dir = $STATE/run
state_dir = $STATE/lib
log_path = $LOG
info_log_path = $LOG
auth_verbose = yes

protocols = imap
listen = $LISTEN_CONF

default_login_user = dovenull
default_internal_user = dovecot
mail_uid = $MAIL_UID
mail_gid = $MAIL_GID
first_valid_uid = $MAIL_UID
first_valid_gid = $MAIL_GID

# TLS offered (STARTTLS on the plain port, implicit TLS on the other), not required.
ssl = yes
ssl_cert = <$STATE/tls/server.pem
ssl_key = <$STATE/tls/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
# The gateway logs in for every user from one address: without this, Dovecot's auth penalty
# (growing delays after failed logins from an IP, up to 15 s) would slow every account's logins
# after a few wrong passwords. The gateway throttles failed logins itself (per user and client).
login_trusted_networks = 127.0.0.0/8

auth_mechanisms = plain login
auth_master_user_separator = *
# Failed logins answer at once (tests of bad passwords should not sleep 2 s).
auth_failure_delay = 0

passdb {
  driver = passwd-file
  args = scheme=PLAIN $STATE/auth/masters
  master = yes
  pass = yes
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN $STATE/auth/users
}
userdb {
  driver = static
  args = uid=$MAIL_UID gid=$MAIL_GID home=$STATE/mail/%u
}

# Maildir with LAYOUT=fs: every folder is a real directory under the user's Maildir
# (INBOX = the Maildir root itself, "Projects/2024" = Maildir/Projects/2024/{cur,new,tmp}),
# names stored on disk in IMAP modified UTF-7 ("Société/Été" = Maildir/Soci&AOk-t&AOk-/&AMk-t&AOk-).
# The IMAP hierarchy separator is '/'. Chosen over Maildir++ (".Projects.2024") because
# Maildir++ cannot hold a '.' inside a folder name once '/' is the separator, and the
# plain-directory layout keeps maildir-fill.py trivial.
mail_location = maildir:$STATE/mail/%u/Maildir:LAYOUT=fs
mail_fsync = never
mail_attachment_detection_options = add-flags
# No mailbox list index: with it, parallel sessions of one user creating and listing mailboxes
# made Dovecot 2.3.19 lock dovecot.list.index.log and a mailbox's index in opposite orders; fcntl
# reported the deadlock (EDEADLK) and Dovecot panicked a session (alice, in the clean-clone CI
# runs of b1ae3e2 and 309f114: "Panic: fcntl(.../dovecot.list.index.log, write-lock, F_SETLKW)
# locking failed: Resource deadlock avoided"). Without it LIST reads the Maildir directories.
mailbox_list_index = no

namespace inbox {
  inbox = yes
  prefix =
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}

protocol imap {
  mail_max_userip_connections = 500
  $CAPA_LINE
}

# Many connections from one IP: one imap process per connection, so raise the limits;
# imap-login in "high-performance" mode (one process serves many logins).
default_process_limit = 1000
default_client_limit = 4000
service imap-login {
  inet_listener imap {
    port = $PORT
  }
  inet_listener imaps {
    port = $TLS_PORT
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
  client_limit = 1000
}
service imap {
  process_limit = 1000
}
# No auth penalty (anvil's growing 2..15 s delay for an IP after failed logins): tests
# of wrong passwords must not slow down the logins that follow them.
service anvil {
  client_limit = 4000
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  client_limit = 4000
}
EOF
chmod 0644 "$CONF"

# --- env file -------------------------------------------------------------------------
cat > "$STATE/env" <<EOF
# Generated by integration/dovecot-start.sh; source it: . $STATE/env
export IMAP_TEST_HOST=127.0.0.1
export IMAP_TEST_PORT=$PORT
export IMAP_TEST_TLS_PORT=$TLS_PORT
export IMAP_TEST_CA_FILE=$STATE/tls/ca.pem
export IMAP_TEST_DOVECOT_CONF=$CONF
export IMAP_TEST_MAIL_ROOT=$STATE/mail
export IMAP_TEST_STATE_DIR=$STATE
export IMAP_TEST_LOG_FILE=$STATE/log/dovecot.log
export IMAP_TEST_MAIL_OWNER=$MAIL_OWNER
export IMAP_TEST_USER1=alice
export IMAP_TEST_PASS1=alice-secret
export IMAP_TEST_USER2=bob
export IMAP_TEST_PASS2=bob-secret
export IMAP_TEST_USER3=carol
export IMAP_TEST_PASS3=carol-secret
export IMAP_TEST_USER4=dave
export IMAP_TEST_PASS4=dave-secret
export IMAP_TEST_USER5=eve
export IMAP_TEST_PASS5=eve-secret
export IMAP_TEST_USER6=frank
export IMAP_TEST_PASS6=frank-secret
export IMAP_TEST_USER7=gina
export IMAP_TEST_PASS7=gina-secret
export IMAP_TEST_USER8=hana
export IMAP_TEST_PASS8=hana-secret
export IMAP_TEST_USER9=ivan
export IMAP_TEST_PASS9=ivan-secret
export IMAP_TEST_USER10=judy
export IMAP_TEST_PASS10=judy-secret
export IMAP_TEST_USER11=kate
export IMAP_TEST_PASS11=kate-secret
export IMAP_TEST_USER12=leo
export IMAP_TEST_PASS12=leo-secret
export IMAP_TEST_USER13=mona
export IMAP_TEST_PASS13=mona-secret
export IMAP_TEST_USER14=omar
export IMAP_TEST_PASS14=omar-secret
export IMAP_TEST_USER15=nina
export IMAP_TEST_PASS15=nina-secret
export IMAP_TEST_USER16=pia
export IMAP_TEST_PASS16=pia-secret
export IMAP_TEST_USER17=quinn
export IMAP_TEST_PASS17=quinn-secret
export IMAP_TEST_USER18=rosa
export IMAP_TEST_PASS18=rosa-secret
export IMAP_TEST_USER19=sam
export IMAP_TEST_PASS19=sam-secret
export IMAP_TEST_MASTER_USER=gateway-master
export IMAP_TEST_MASTER_PASS=master-secret
EOF
chmod 0644 "$STATE/env"

# Validate the config before starting (prints the offending line on error).
doveconf -c "$CONF" -n >/dev/null || die "invalid config $CONF"

# --- start ------------------------------------------------------------------------------
imap_ready() {  # greeting "* OK" on the plain port? (subshell: fd 3 and stderr stay local)
  (
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf 'a LOGOUT\r\n' >&3 || true
    [[ "$line" == "* OK"* ]]
  ) 2>/dev/null
}

wait_ready() {  # $1 = pid of master (foreground) or empty
  local deadline=$((SECONDS + 15))
  until imap_ready; do
    if [ -n "${1:-}" ] && ! kill -0 "$1" 2>/dev/null; then
      die "dovecot exited during start-up"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "dovecot-start: no '* OK' greeting on 127.0.0.1:$PORT after 15 s; log:" >&2
      [ -f "$STATE/log/dovecot.log" ] && tail -n 50 "$STATE/log/dovecot.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

seed_if_asked() {
  if [ "${IMAP_TEST_SEED:-0}" = 1 ]; then
    python3 "$SCRIPT_DIR/seed.py" --host 127.0.0.1 --port "$PORT" --user alice --password alice-secret
  fi
}

if [ "$FOREGROUND" = 1 ]; then
  dovecot -F -c "$CONF" </dev/null &
  DOVECOT_PID=$!
  trap 'kill -TERM "$DOVECOT_PID" 2>/dev/null || true' TERM INT
  wait_ready "$DOVECOT_PID" || { kill -TERM "$DOVECOT_PID" 2>/dev/null || true; exit 1; }
  echo "dovecot-start: dovecot $(dovecot --version | cut -d' ' -f1) in foreground on $LISTEN_CONF:$PORT (STARTTLS) and :$TLS_PORT (TLS); env: $STATE/env" >&2
  seed_if_asked
  set +e
  wait "$DOVECOT_PID"; rc=$?
  # a trapped signal interrupts `wait`: wait again for the master to finish shutting down
  kill -0 "$DOVECOT_PID" 2>/dev/null && { wait "$DOVECOT_PID"; rc=$?; }
  exit "$rc"
fi

# Dovecot daemonises and keeps inherited fds open: detach it from ours.
dovecot -c "$CONF" </dev/null >/dev/null 2>&1 || {
  echo "dovecot-start: dovecot failed to start; log:" >&2
  [ -f "$LOG" ] && tail -n 50 "$LOG" >&2
  exit 1
}
if ! wait_ready ""; then
  DOVECOT_TEST_DIR="$STATE" "$SCRIPT_DIR/dovecot-stop.sh" || true
  exit 1
fi
seed_if_asked
echo "dovecot-start: dovecot $(dovecot --version | cut -d' ' -f1) up on $LISTEN_CONF:$PORT (STARTTLS) and :$TLS_PORT (TLS); source $STATE/env"
