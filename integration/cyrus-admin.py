#!/usr/bin/env python3
"""Provision the Cyrus test bed and look at its mailboxes without the gateway (stdlib only).

    integration/cyrus-admin.py provision alice bob ...     # used by cyrus-start.sh
    integration/cyrus-admin.py list alice                  # name<TAB>special-use, decoded
    integration/cyrus-admin.py fetch alice INBOX           # uid<TAB>flags<TAB>message-id (+ header line)
    integration/cyrus-admin.py search alice INBOX FLAGGED  # matching UIDs, one a line
    integration/cyrus-admin.py status alice INBOX          # messages uidnext uidvalidity highestmodseq ...
    integration/cyrus-admin.py index alice INBOX           # the same as fetch, from the index files (mbexamine)
    integration/cyrus-admin.py mboxlist                    # every mailbox of the server (ctl_mboxlist -d)
    integration/cyrus-admin.py fill alice Big --count 10000 [--start 0] [--seen-every K] [--flagged-every K]
                                                           # maildir-fill.py's messages, by MULTIAPPEND

Settings come from the env file cyrus-start.sh writes (--env, default
$CYRUS_TEST_DIR/env or /tmp/mailbox-gateway-cyrus/env) or CYRUS_TEST_* variables.

The IMAP looks (list, fetch, search, status) are a plain imaplib session of the admin
authorised as the user (SASL PLAIN, authzid = user), so they see exactly the user's view --
in Cyrus \\Seen is per user: the admin's own session would show the admin's \\Seen state, not
the owner's -- and open mailboxes read-only (EXAMINE, BODY.PEEK): a look changes nothing.
`index` reads the mailbox's cyrus.index through Cyrus's own mbexamine, run as the cyrus user,
with no imapd involved. Mailbox names are UTF-8 with '/' as separator (as the user sees them).
The output format of fetch/search/status follows `doveadm -f tab`, so a test can parse both
beds' looks alike.
"""
import argparse
import concurrent.futures
import imaplib
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from seed import imap_utf7_decode, imap_utf7_encode, parse_list_names, quote  # noqa: E402

SPECIAL_FOLDERS = [("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                   ("Junk", "\\Junk"), ("Archive", "\\Archive")]


def load_env(path):
    """--env FILE wins; else CYRUS_TEST_* variables already set; else $CYRUS_TEST_DIR/env."""
    env = dict(os.environ)
    if path is None and "CYRUS_TEST_PORT" in env:
        return env
    if path is None:
        path = os.path.join(env.get("CYRUS_TEST_DIR", "/tmp/mailbox-gateway-cyrus"), "env")
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("export ") and "=" in line:
                    k, v = line[len("export "):].split("=", 1)
                    env[k] = v
    except FileNotFoundError:
        sys.exit("no Cyrus test bed: %s missing (run integration/cyrus-start.sh)" % path)
    return env


class Bed:
    def __init__(self, env):
        self.env = env
        self.host = env.get("CYRUS_TEST_HOST", "127.0.0.1")
        self.port = int(env["CYRUS_TEST_PORT"])
        self.admin = env.get("CYRUS_TEST_ADMIN_USER", "admin")
        self.admin_pass = env.get("CYRUS_TEST_ADMIN_PASS", "admin-secret")

    def connect(self, as_user=None):
        """Admin session; with as_user, authorised as that user (proxy login)."""
        conn = imaplib.IMAP4(self.host, self.port)
        authz = as_user or ""
        blob = ("%s\0%s\0%s" % (authz, self.admin, self.admin_pass)).encode()
        conn.authenticate("PLAIN", lambda _challenge: blob)
        return conn

    def tool(self, name, *args):
        """Runs a Cyrus tool as the cyrus user with the bed's imapd.conf; returns stdout."""
        path = os.path.join(self.env.get("CYRUS_TEST_TOOLS", "/usr/lib/cyrus/bin"), name)
        cmd = [path, "-C", self.env["CYRUS_TEST_CONF"], *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "cyrus", "--"] + cmd
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, errors="replace")
        return out.stdout


def check(typ, data, what):
    if typ != "OK":
        raise SystemExit("%s failed: %s %r" % (what, typ, data))
    return data


def provision(bed, users):
    """user/<name> for each, then as the user: the special-use folders, created and subscribed."""
    admin = bed.connect()
    for user in users:
        check(*admin.create(quote("user/" + user)), "CREATE user/" + user)
    admin.logout()
    # One session per user, in parallel: each login costs Cyrus a fresh imapd process.
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(provision_user, bed, user) for user in users]:
            future.result()
    print("cyrus-admin: provisioned %d users" % len(users), file=sys.stderr)


def provision_user(bed, user):
    """As the user: Drafts, Sent, Trash, Junk, Archive with their SPECIAL-USE; all subscribed."""
    conn = bed.connect(as_user=user)
    caps = set(check(*conn.capability(), "CAPABILITY")[0].decode().upper().split())
    typ, data = conn.list('""', "*")
    existing = set(parse_list_names(check(typ, data, "LIST")))
    for name, use in SPECIAL_FOLDERS:
        if name not in existing:
            if "CREATE-SPECIAL-USE" in caps:
                check(*conn._simple_command("CREATE", "%s (USE (%s))" % (quote(name), use)), "CREATE " + name)
            else:
                check(*conn.create(quote(name)), "CREATE " + name)
                check(*conn._simple_command("SETMETADATA", quote(name),
                                            '(/private/specialuse %s)' % quote(use)), "SETMETADATA " + name)
        check(*conn.subscribe(quote(name)), "SUBSCRIBE " + name)
    check(*conn.subscribe("INBOX"), "SUBSCRIBE INBOX")
    conn.logout()


LIST_RE = re.compile(r'^\((?P<attrs>[^)]*)\) (?:"(?P<delim>[^"]*)"|NIL) ')


def cmd_list(bed, user):
    conn = bed.connect(as_user=user)
    typ, data = conn.list('""', "*")
    names = parse_list_names(check(typ, data, "LIST"))
    for item, name in zip([d for d in data if d is not None], names):
        head = item[0] if isinstance(item, tuple) else item
        m = LIST_RE.match(head.decode())
        attrs = m.group("attrs").split() if m else []
        use = [a for a in attrs if a in {u for _, u in SPECIAL_FOLDERS} | {"\\All", "\\Flagged", "\\Important"}]
        print("%s\t%s" % (imap_utf7_decode(name), " ".join(use)))
    conn.logout()


FETCH_RE = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)")


def fetch_rows(bed, user, mailbox):
    conn = bed.connect(as_user=user)
    check(*conn.select(quote(imap_utf7_encode(mailbox)), readonly=True), "EXAMINE " + mailbox)
    typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    check(typ, data, "UID FETCH")
    rows = []
    for idx, item in enumerate(data):
        if not isinstance(item, tuple):
            continue
        meta, header = item[0], item[1]
        uid = flags = None
        for m in FETCH_RE.finditer(meta):
            if m.group(1):
                uid = int(m.group(1))
            else:
                flags = m.group(2).decode()
        # FLAGS may come after the literal (in the closing part of the response)
        if flags is None:
            tail = data[idx + 1] if idx + 1 < len(data) and isinstance(data[idx + 1], bytes) else b""
            m = re.search(rb"FLAGS \(([^)]*)\)", tail)
            flags = m.group(1).decode() if m else ""
        value = header.decode(errors="replace").split(":", 1)[1].strip() if b":" in header else ""
        # \Recent says which session saw the message first, not the message's state: left out.
        kept = [f for f in flags.split() if f.lower() != "\\recent"]
        rows.append((uid, " ".join(sorted(kept)), " ".join(value.split())))
    conn.logout()
    return sorted(rows)


def cmd_fetch(bed, user, mailbox):
    rows = fetch_rows(bed, user, mailbox)
    print("uid\tflags\thdr.message-id")
    for uid, flags, mid in rows:
        print("%d\t%s\t%s" % (uid, flags, mid))


def cmd_search(bed, user, mailbox, criteria):
    conn = bed.connect(as_user=user)
    check(*conn.select(quote(imap_utf7_encode(mailbox)), readonly=True), "EXAMINE " + mailbox)
    typ, data = conn.uid("SEARCH", *(criteria or ["ALL"]))
    for uid in sorted(int(x) for x in b" ".join(check(typ, data, "UID SEARCH")).split()):
        print(uid)
    conn.logout()


def cmd_status(bed, user, mailbox, items):
    """STATUS items, plus MAILBOXID (RFC 8474) read from EXAMINE's response code: Cyrus 3.6.1
    answers `STATUS ... (MAILBOXID)` with garbage or `()` (seen here), so it is never asked."""
    conn = bed.connect(as_user=user)
    items = items or ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "MAILBOXID"]
    asked = [i for i in items if i != "MAILBOXID"]
    pairs = {}
    if asked:
        typ, data = conn.status(quote(imap_utf7_encode(mailbox)), "(%s)" % " ".join(asked))
        text = check(typ, data, "STATUS")[0].decode(errors="replace")
        body = text[text.rindex("(") + 1:text.rindex(")")].split()
        pairs = dict(zip(body[0::2], body[1::2]))
    if "MAILBOXID" in items:
        check(*conn.select(quote(imap_utf7_encode(mailbox)), readonly=True), "EXAMINE " + mailbox)
        typ, data = conn.response("MAILBOXID")
        if data and data[0]:
            pairs["MAILBOXID"] = data[0].decode().strip("()")
    keys = [k.lower() for k in items]
    print("\t".join(keys))
    print("\t".join(pairs.get(k.upper(), "") for k in keys))
    conn.logout()


def internal_name(user, mailbox):
    """The admin (internal, '/'-separated) name of a user's mailbox: INBOX -> user/alice."""
    if mailbox.upper() == "INBOX":
        return "user/" + user
    return "user/%s/%s" % (user, imap_utf7_encode(mailbox))


SYSTEM_FLAGS = {"FLAG_ANSWERED": "\\Answered", "FLAG_FLAGGED": "\\Flagged", "FLAG_DELETED": "\\Deleted",
                "FLAG_DRAFT": "\\Draft", "FLAG_SEEN": "\\Seen"}
ENVELOPE_MESSAGE_ID = re.compile(r'(NIL|"((?:[^"\\]|\\.)*)")\)\s*$')


def index_rows(bed, user, mailbox):
    """Rows (uid, flags, message-id) from mbexamine's dump of the mailbox's cyrus.index/cache.

    The owner's \\Seen is in the index record (Cyrus keeps other users' \\Seen in their seen
    db). Keywords are the set bits of USERFLAGS, named by the header's `User Flags:` list, which
    mbexamine prints in slot order (Cyrus does not free keyword slots, so there are no gaps).
    Flags are sorted, as in `fetch`, so the two looks compare line for line.
    Records marked FLAG_INTERNAL_EXPUNGED (expunge_mode delayed) are left out."""
    text = bed.tool("mbexamine", internal_name(user, mailbox))
    if "Mailbox Header Info" not in text:  # mbexamine exits 0, silent, for a missing mailbox
        raise SystemExit("mbexamine %s: no such mailbox" % internal_name(user, mailbox))
    names = []
    m = re.search(r"^\s*User Flags: ?(.*)$", text, re.M)
    if m:
        names = m.group(1).split()
    rows, cur = [], None
    for line in text.splitlines():
        m = re.match(r"^\d+> UID:(\d+)", line)
        if m:
            cur = {"uid": int(m.group(1)), "flags": [], "mid": "", "expunged": False}
            rows.append(cur)
            continue
        if cur is None:
            continue
        if "INTERNALFLAGS:" in line and "EXPUNGED" in line.split("INTERNALFLAGS:")[1].split(">")[0]:
            cur["expunged"] = True
        if "SYSTEMFLAGS:" in line:
            cur["flags"] += [SYSTEM_FLAGS[f] for f in line.split("SYSTEMFLAGS:")[1].split() if f in SYSTEM_FLAGS]
        elif line.strip().startswith("> USERFLAGS:"):
            # printed highest word first: the last word holds slots 0-31
            words = [int(w, 16) for w in reversed(line.split("USERFLAGS:")[1].split())]
            for i, word in enumerate(words):
                for bit in range(32):
                    if word >> bit & 1 and 32 * i + bit < len(names):
                        cur["flags"].append(names[32 * i + bit])
        elif line.startswith(" Envel>"):
            m = ENVELOPE_MESSAGE_ID.search(line)
            if m and m.group(1) != "NIL":
                cur["mid"] = m.group(2)
    return sorted((r["uid"], " ".join(sorted(r["flags"])), r["mid"]) for r in rows if not r["expunged"])


def cmd_index(bed, user, mailbox):
    rows = index_rows(bed, user, mailbox)
    print("uid\tflags\thdr.message-id")
    for uid, flags, mid in rows:
        print("%d\t%s\t%s" % (uid, flags, mid))


def load_fill_module():
    """maildir-fill.py's deterministic messages (its name has a dash: loaded by path)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("maildir_fill", os.path.join(HERE, "maildir-fill.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def append_date(ts):
    """RFC 3501 date-time of an APPEND (the message's INTERNALDATE)."""
    import time
    t = time.gmtime(ts)
    return '"%02d-%s-%04d %02d:%02d:%02d +0000"' % (
        t.tm_mday, ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][t.tm_mon - 1],
        t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def cmd_fill(bed, user, mailbox, count, start, seen_every, flagged_every, batch=500):
    """The messages maildir-fill.py writes into a Dovecot Maildir (same bytes with CRLF line ends, same
    INTERNALDATE, same flags), appended as the user in MULTIAPPEND commands of `batch` messages with
    LITERAL+ (Cyrus has no Maildir to write into). UIDs follow the message index. Creates the mailbox
    when missing; prints the mailbox's message count afterwards."""
    import hashlib
    import time
    fill = load_fill_module()
    t0 = time.monotonic()
    tag = hashlib.sha1(("%s\0%s" % (user, mailbox)).encode()).hexdigest()[:10]
    conn = bed.connect(as_user=user)
    wire = quote(imap_utf7_encode(mailbox))
    typ, data = conn.create(wire)
    if typ != "OK" and b"exists" not in b" ".join(d for d in data if d).lower():
        check(typ, data, "CREATE " + mailbox)
    for first in range(start, start + count, batch):
        command = bytearray()
        command_tag = conn._new_tag()
        command += command_tag + b" APPEND " + wire.encode()
        for i in range(first, min(first + batch, start + count)):
            data = fill.message(i, tag, mailbox).replace(b"\n", b"\r\n")
            flags = []
            if flagged_every and i % flagged_every == 0:
                flags.append("\\Flagged")
            if seen_every and i % seen_every == 0:
                flags.append("\\Seen")
            command += (" (%s) %s {%d+}\r\n" % (" ".join(flags), append_date(fill.msg_date(i)), len(data))).encode()
            command += data
        conn.send(bytes(command) + b"\r\n")
        while True:
            line = conn.readline()
            if not line:
                raise SystemExit("fill: connection closed during APPEND")
            if line.startswith(command_tag + b" "):
                if not line[len(command_tag) + 1:].upper().startswith(b"OK"):
                    raise SystemExit("fill: APPEND failed: %r" % line)
                break
    typ, data = conn.status(wire, "(MESSAGES)")
    text = check(typ, data, "STATUS")[0].decode(errors="replace")
    conn.logout()
    print("cyrus-admin fill: %s/%s: %d appended in %.2fs, folder now has %s"
          % (user, mailbox, count, time.monotonic() - t0, text[text.rindex("(") + 1:text.rindex(")")]))


def cmd_mboxlist(bed):
    print(bed.tool("ctl_mboxlist", "-d"), end="")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default=None, help="env file written by cyrus-start.sh")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("provision"); s.add_argument("users", nargs="+")
    s = sub.add_parser("list"); s.add_argument("user")
    for name in ("fetch", "index"):
        s = sub.add_parser(name); s.add_argument("user"); s.add_argument("mailbox")
    s = sub.add_parser("search"); s.add_argument("user"); s.add_argument("mailbox"); s.add_argument("criteria", nargs="*")
    s = sub.add_parser("status"); s.add_argument("user"); s.add_argument("mailbox"); s.add_argument("items", nargs="*")
    sub.add_parser("mboxlist")
    s = sub.add_parser("fill"); s.add_argument("user"); s.add_argument("mailbox")
    s.add_argument("--count", type=int, required=True); s.add_argument("--start", type=int, default=0)
    s.add_argument("--seen-every", type=int, default=0); s.add_argument("--flagged-every", type=int, default=0)
    args = p.parse_args()
    bed = Bed(load_env(args.env))
    if args.cmd == "provision":
        provision(bed, args.users)
    elif args.cmd == "list":
        cmd_list(bed, args.user)
    elif args.cmd == "fetch":
        cmd_fetch(bed, args.user, args.mailbox)
    elif args.cmd == "search":
        cmd_search(bed, args.user, args.mailbox, args.criteria)
    elif args.cmd == "status":
        cmd_status(bed, args.user, args.mailbox, [i.upper() for i in args.items])
    elif args.cmd == "index":
        cmd_index(bed, args.user, args.mailbox)
    elif args.cmd == "mboxlist":
        cmd_mboxlist(bed)
    elif args.cmd == "fill":
        cmd_fill(bed, args.user, args.mailbox, args.count, args.start, args.seen_every, args.flagged_every)


if __name__ == "__main__":
    main()
