#!/usr/bin/env bash
# Start a throwaway GNU Mailutils imap4d (Debian's mailutils-imap4d 3.15): the poorest real
# IMAP server the gateway is proven on (no UIDPLUS, MOVE, SORT, THREAD, SPECIAL-USE,
# CONDSTORE, ESEARCH, and no keywords: PERMANENTFLAGS has no \*).
#
#   integration/imap4d-start.sh               # start (wipes ${IMAP4D_TEST_DIR} first)
#   . "${IMAP4D_TEST_DIR:-/tmp/mailbox-gateway-imap4d}/env"   # then use IMAP4D_TEST_* vars
#   python3 integration/imap4d-check.py       # the gateway end to end against it
#   integration/imap4d-stop.sh                # stop
#
# Needs root (to install the package and create the system user); the daemon itself runs
# unprivileged. Installs mailutils-imap4d with apt-get when missing (--no-install-recommends:
# no inetd; the package's systemd unit is never started here). Nothing of the system's
# mailutils is used: imap4d reads only the private config written below (--config-file
# implies --no-site-config), listens on 127.0.0.1 only (plus an acl refusing any other
# address), and keeps mail and passwords under ${IMAP4D_TEST_DIR}.
#
# How the bed works, and why:
#   * Accounts are mailutils "virtual domain" users: ${DIR}/domains/<domain> is a passwd(5)
#     file with SHA-512 crypt hashes (authorization virtdomain, authentication generic).
#     So no password goes into /etc/shadow and no PAM file is needed. Users log in with the
#     domain part: alice@imap4d.test / alice-secret, bob@imap4d.test / bob-secret.
#   * imap4d 3.15 does not switch to a virtual user's uid: a session runs as whoever runs
#     the daemon. The daemon is therefore started unprivileged with setpriv, as the system
#     user mbgw-imap4d (created when missing, no login shell, no password), which owns the
#     mail store. (It logs "error setting mail group: Operation not permitted" once: harmless.)
#   * Mailboxes are Maildir (INBOX = <home>/INBOX, folders = <home>/<name>, '/' as the
#     separator). mbox works too (IMAP4D_TEST_MAILBOX_TYPE=mbox) but in imap4d's mbox the
#     first message carries the folder's X-IMAPbase header, so RFC822.SIZE of the same message
#     differs by position and changes when an earlier message is expunged; Maildir sizes are
#     stable, and Maildir folders may have children.
#   * Plain text only (tls-mode false: no STARTTLS offered), loopback only.
#
# Environment (all optional):
#   IMAP4D_TEST_DIR          state dir (config, passwd file, mail, log, pid file)
#                            default /tmp/mailbox-gateway-imap4d; wiped on every start
#   IMAP4D_TEST_PORT         plain IMAP port on 127.0.0.1      (default 16143: 14143 is the
#                            Cyrus bed's default port, 10143/12143 Dovecot's, 13143 a Cyrus)
#   IMAP4D_TEST_DOMAIN       virtual domain of the accounts     (default imap4d.test)
#   IMAP4D_TEST_MAILBOX_TYPE maildir (default) or mbox
#   IMAP4D_TEST_TRANSCRIPT   1 (default): imap4d logs every session's transcript (the wire, as
#                            the server saw it) to ${DIR}/log/imap4d.log; 0: off
# Writes ${IMAP4D_TEST_DIR}/env with `export IMAP4D_TEST_...` lines.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${IMAP4D_TEST_DIR:-/tmp/mailbox-gateway-imap4d}"
PORT="${IMAP4D_TEST_PORT:-16143}"
DOMAIN="${IMAP4D_TEST_DOMAIN:-imap4d.test}"
MAILBOX_TYPE="${IMAP4D_TEST_MAILBOX_TYPE:-maildir}"
TRANSCRIPT="${IMAP4D_TEST_TRANSCRIPT:-1}"
RUN_AS=mbgw-imap4d
USERS="alice bob"                     # password <name>-secret
T0=$SECONDS

die() { echo "imap4d-start: $*" >&2; exit 1; }
say() { echo "imap4d-start: $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, useradd; the daemon itself runs as $RUN_AS)"
case "$PORT" in ''|*[!0-9]*) die "IMAP4D_TEST_PORT must be a number";; esac
[ "$PORT" -ge 1024 ] && [ "$PORT" -le 65535 ] || die "IMAP4D_TEST_PORT must be 1024-65535 (the daemon is unprivileged)"
case "$DOMAIN" in ''|*[!A-Za-z0-9.-]*) die "IMAP4D_TEST_DOMAIN must be a plain domain name";; esac
case "$MAILBOX_TYPE" in maildir|mbox) ;; *) die "IMAP4D_TEST_MAILBOX_TYPE must be maildir or mbox";; esac
case "$TRANSCRIPT" in 0) TRANSCRIPT_CONF=no;; 1) TRANSCRIPT_CONF=yes;; *) die "IMAP4D_TEST_TRANSCRIPT must be 0 or 1";; esac
case "$STATE" in *[[:space:]\"\$\;]*) die "IMAP4D_TEST_DIR must not contain whitespace, quotes, \$ or ;";; esac
case "$STATE" in /|/tmp|/tmp/|/root|/home|/var|/etc|/usr) die "refusing IMAP4D_TEST_DIR=$STATE";; esac
case "$STATE" in *dovecot*|*cyrus*|*postgres*) die "refusing IMAP4D_TEST_DIR=$STATE (looks like another test bed)";; esac
STATE="$(realpath -m "$STATE")"

# --- packages --------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
if ! command -v imap4d >/dev/null; then
  say "installing mailutils-imap4d"
  # --no-install-recommends: nothing else (no inetd). The package enables a systemd unit
  # (imap4d --daemon on port 143, all addresses) that this script never starts; on a machine
  # where systemd runs, stop it yourself if you do not want it.
  apt-get install -y --no-install-recommends mailutils-imap4d >/dev/null 2>&1 || {
    say "apt-get update (package lists missing or stale)"
    apt-get update -qq >/dev/null
    apt-get install -y --no-install-recommends mailutils-imap4d >/dev/null
  } || die "apt-get install mailutils-imap4d failed"
fi
command -v openssl >/dev/null || die "openssl not installed: apt-get install -y openssl"
command -v setpriv >/dev/null || die "setpriv (util-linux) not found"
IMAP4D="$(command -v imap4d)"
VERSION="$("$IMAP4D" --version | sed -n '1s/.*) //p')"

# --- system user that runs the daemon and owns the mail --------------------------------
id "$RUN_AS" >/dev/null 2>&1 || useradd --system --user-group --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_AS"
RUN_UID="$(id -u "$RUN_AS")"
RUN_GID="$(id -g "$RUN_AS")"

# Stop an instance still running from this state dir before wiping it.
IMAP4D_TEST_DIR="$STATE" "$SCRIPT_DIR/imap4d-stop.sh"

# The port must be free now (another bed, or anything else, keeps it: we do not touch it).
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "something already listens on 127.0.0.1:$PORT; choose another IMAP4D_TEST_PORT"
fi

# --- state dir --------------------------------------------------------------------------
# Only wipe a directory that is empty or was made by this script.
if [ -d "$STATE" ] && [ -n "$(ls -A "$STATE")" ] && [ ! -f "$STATE/imap4d.conf" ] && [ ! -f "$STATE/env" ]; then
  die "$STATE exists and was not created by imap4d-start.sh; refusing to wipe it"
fi
rm -rf "$STATE"
mkdir -p "$STATE"/{run,log,domains,home}
CONF="$STATE/imap4d.conf"
PIDFILE="$STATE/run/imap4d.pid"
LOG="$STATE/log/imap4d.log"

# --- accounts: a virtual-domain passwd file (name:crypt:uid:gid:gecos:home:shell) -----------
{
  for u in $USERS; do
    hash="$(openssl passwd -6 "$u-secret")"
    echo "$u:$hash:$RUN_UID:$RUN_GID:mailbox-gateway imap4d test:$STATE/home/$u:/usr/sbin/nologin"
  done
} > "$STATE/domains/$DOMAIN"
# INBOX must exist before the first APPEND (imap4d answers NO [TRYCREATE] otherwise).
for u in $USERS; do
  if [ "$MAILBOX_TYPE" = maildir ]; then
    mkdir -p "$STATE/home/$u/INBOX"/{cur,new,tmp}
  else
    mkdir -p "$STATE/home/$u"
    : > "$STATE/home/$u/INBOX"
  fi
done

# --- config -----------------------------------------------------------------------------
cat > "$CONF" <<EOF
# Generated by integration/imap4d-start.sh -- throwaway test instance, do not edit.
# Diagnostics to standard error (the log file), not syslog.
logging { syslog no; session-id yes; };
pidfile $PIDFILE;
max-children 64;
# /etc/hosts.allow and hosts.deny are not ours to rely on; the acl below does the job.
tcp-wrappers { enable no; };

# Accounts: <user>@$DOMAIN in $STATE/domains/$DOMAIN (crypt hashes).
auth {
  authorization virtdomain;
  authentication generic;
};
virtdomain { passwd-dir $STATE/domains; };
login-disabled no;

# Personal namespace: "" with '/' as the separator, in the user's home, $MAILBOX_TYPE.
namespace personal {
  prefix "" {
    directory "\$home";
    delimiter "/";
    mailbox-type $MAILBOX_TYPE;
  };
};

acl {
  allow from 127.0.0.1;
  deny from any;
};
server 127.0.0.1:$PORT {
  tls-mode false;
  transcript $TRANSCRIPT_CONF;
  timeout 1800;
  backlog 64;
};
EOF
"$IMAP4D" --config-file="$CONF" --config-lint >/dev/null 2>&1 \
  || { "$IMAP4D" --config-file="$CONF" --config-lint >&2 || true; die "imap4d --config-lint refused $CONF"; }

chown -R "$RUN_AS:$RUN_AS" "$STATE"/{run,log,domains,home}
chmod 0700 "$STATE/domains" "$STATE/home"
chmod 0600 "$STATE/domains/$DOMAIN"
chmod 0755 "$STATE"
chmod 0644 "$CONF"

# --- env file -----------------------------------------------------------------------------
{
  echo "# Generated by integration/imap4d-start.sh; source it: . $STATE/env"
  echo "export IMAP4D_TEST_HOST=127.0.0.1"
  echo "export IMAP4D_TEST_PORT=$PORT"
  echo "export IMAP4D_TEST_DIR=$STATE"
  echo "export IMAP4D_TEST_CONF=$CONF"
  echo "export IMAP4D_TEST_LOG=$LOG"
  echo "export IMAP4D_TEST_PIDFILE=$PIDFILE"
  echo "export IMAP4D_TEST_MAIL_ROOT=$STATE/home"
  echo "export IMAP4D_TEST_MAILBOX_TYPE=$MAILBOX_TYPE"
  echo "export IMAP4D_TEST_DOMAIN=$DOMAIN"
  echo "export IMAP4D_TEST_VERSION=$VERSION"
  echo "export IMAP4D_TEST_SEPARATOR=/"
  i=1
  for u in $USERS; do
    suffix=""; [ "$i" -gt 1 ] && suffix="$i"
    echo "export IMAP4D_TEST_USER$suffix=$u@$DOMAIN"
    echo "export IMAP4D_TEST_PASS$suffix=$u-secret"
    i=$((i + 1))
  done
} > "$STATE/env"
chmod 0644 "$STATE/env"

# --- start --------------------------------------------------------------------------------
imap_ready() {  # greeting "* OK" on the port? (subshell: fd 3 and stderr stay local)
  (
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf 'a LOGOUT\r\n' >&3 || true
    [[ "$line" == "* OK"* ]]
  ) 2>/dev/null
}

# --daemon --foreground: the master does not detach itself (a detaching imap4d sends its
# standard error, and so the session transcripts, to /dev/null); setsid puts it in a session
# of its own instead, so it outlives this script and its caller's terminal. Standard output
# and error go to the log, never to a pipe a caller would wait on.
(cd "$STATE" && exec setsid setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --init-groups -- \
    "$IMAP4D" --config-file="$CONF" --daemon --foreground </dev/null >>"$LOG" 2>&1) &
deadline=$((SECONDS + 20))
until [ -s "$PIDFILE" ] && imap_ready; do
  if ! kill -0 $! 2>/dev/null && [ ! -s "$PIDFILE" ]; then
    tail -n 30 "$LOG" >&2
    die "imap4d exited at start"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "no '* OK' greeting on 127.0.0.1:$PORT after 20 s; log:"
    tail -n 30 "$LOG" >&2
    IMAP4D_TEST_DIR="$STATE" "$SCRIPT_DIR/imap4d-stop.sh" || true
    exit 1
  fi
  sleep 0.1
done
echo "imap4d-start: GNU Mailutils imap4d $VERSION up on 127.0.0.1:$PORT ($MAILBOX_TYPE, plain text), $((SECONDS - T0)) s; source $STATE/env"
