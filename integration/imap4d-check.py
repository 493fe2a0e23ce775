#!/usr/bin/env python3
"""The real gateway binary end to end against GNU Mailutils imap4d (stdlib only).

    integration/imap4d-start.sh                 # the bed (integration/imap4d-check.sh does both)
    python3 integration/imap4d-check.py         # one PASS/FAIL line per check
    python3 integration/imap4d-check.py --binary .build/debug/mailbox-gateway --keep

imap4d is the poorest real server here: no UIDPLUS, MOVE, SORT, THREAD, SPECIAL-USE,
CONDSTORE, ESEARCH, and no keywords (PERMANENTFLAGS without \\*). What must hold there:
listings (ordered by the gateway itself, RFC 5256), update and copy work; move, delete and
permanent delete are refused with a clear JSON error and change nothing; labels fail clearly
and change nothing; nothing outside a batch is ever expunged -- not even a message that
another client flagged \\Deleted.

Every check looks at the mailbox itself over a direct imaplib connection (a new one per look,
EXAMINE only), never through the gateway's answers. imap4d keeps a session's flag changes in
memory until that session leaves the mailbox (or STATUSes it, or logs out), so each change is
looked at twice: right after the gateway's answer (what another client sees at once) and again
after the gateway was restarted (SIGTERM: it logs out upstream, and imap4d writes the changes).

The account (IMAP4D_TEST_USER from the bed's env file) is emptied and re-seeded on every run.
The binary is copied to a temp dir first (it may be rebuilt meanwhile); the gateway runs on a
free loopback port with a temp SQLite database, configured by environment variables only
(`serve --config /nonexistent/gateway.yaml`). Everything is cleaned up on exit.
Exit status: 0 when every check passed, 1 when one failed, 2 when the bed or the gateway could
not be set up.
"""
import argparse
import atexit
import base64
import email.utils
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOMAIN = "example.test"

# --- seeds --------------------------------------------------------------------------------
# Unambiguous on every sort key: distinct base subjects (some with Re:/Fwd: prefixes and odd
# case), distinct From/To mailboxes (display names deliberately in another order: RFC 5256
# sorts by addr-mailbox), distinct Date instants (zones chosen so that local-time order is not
# UTC order), distinct sizes (padding not monotone with anything else). imap4d ignores the
# APPEND date argument (its INTERNALDATE is the Date header), so none is given.
# (key, subject, from display, from mailbox, to mailbox, Date header, padding)
INBOX_SEEDS = [
    ("i1", "Quarterly report", "Aaron Zed", "zed", "ursula", "Tue, 02 Jan 2024 09:00:00 +0000", 300),
    ("i2", "Re: apple pie", "Zoe Adams", "adams", "olga", "Tue, 02 Jan 2024 10:30:00 +0200", 1200),
    ("i3", "Fwd: Budget 2024", "Mike Brown", "brown", "zara", "Wed, 03 Jan 2024 01:00:00 -0800", 50),
    ("i4", "zebra crossing", "Carl Young", "young", "anna", "Mon, 01 Jan 2024 23:59:00 -0100", 800),
    ("i5", "RE: Meeting notes", "Bea Miller", "Miller", "kurt", "Fri, 05 Jan 2024 12:00:00 +0000", 2000),
    ("i6", "Lunch?", "Dora Kent", "kent", "bert", "Thu, 04 Jan 2024 18:15:00 +0530", 150),
    ("i7", "invoice #42", "Eve Fisher", "fisher", "mona", "Sat, 06 Jan 2024 07:00:00 +0000", 600),
    ("i8", "Holiday plans", "Fred Ortiz", "ortiz", "carl", "Sun, 31 Dec 2023 22:00:00 +0000", 1000),
    ("i9", "Outsider", "Gina Hall", "hall", "nils", "Sun, 07 Jan 2024 08:00:00 +0000", 450),
]
ARCHIVE_SEEDS = [
    ("a1", "Old thread", "Hank Ives", "ives", "ursula", "Mon, 04 Dec 2023 10:00:00 +0000", 100),
    ("a2", "Receipts", "Ida Jones", "jones", "ursula", "Tue, 05 Dec 2023 10:00:00 +0000", 200),
    ("a3", "Photos", "Jon King", "king", "ursula", "Wed, 06 Dec 2023 10:00:00 +0000", 300),
]
TRASH_SEEDS = [
    ("t1", "Spam-ish", "Kim Lee", "lee", "ursula", "Thu, 07 Dec 2023 10:00:00 +0000", 100),
    ("t2", "Unwanted", "Lou Moss", "moss", "ursula", "Fri, 08 Dec 2023 10:00:00 +0000", 200),
]
SEEDS = {"INBOX": INBOX_SEEDS, "Archive": ARCHIVE_SEEDS, "Trash": TRASH_SEEDS, "Work": []}
SEED_FOLDER = {seed[0]: folder for folder, seeds in SEEDS.items() for seed in seeds}
INITIAL_FLAGS = {"i2": {"\\Seen"}, "i5": {"\\Flagged"}, "i7": {"\\Seen", "\\Flagged"}, "a2": {"\\Seen"}}
OUTSIDER = "i9"          # flagged \Deleted by "another client"; never named in any batch
# INBOX gets 3 filler messages first, expunged after seeding: there, as in any mailbox that
# has ever lost a message, UIDs are not sequence numbers (imap4d 3.15 gets `UID SEARCH UID` and
# the UIDs in `UID STORE` answers wrong then). Archive keeps UID = sequence number, as a contrast.
FILLERS = [("f1", "Filler one", "Fil Ler", "filler", "ursula", "Mon, 01 Jan 2024 00:00:00 +0000", 10),
           ("f2", "Filler two", "Fil Ler", "filler", "ursula", "Mon, 01 Jan 2024 00:00:01 +0000", 20),
           ("f3", "Filler three", "Fil Ler", "filler", "ursula", "Mon, 01 Jan 2024 00:00:02 +0000", 30)]


def message_id(key):
    return f"<imap4d-check-{key}@{DOMAIN}>"


def raw_message(seed):
    key, subject, display, mailbox, to, date, padding = seed
    body = "".join(f"line {n:04d} of {key} " + "x" * 40 + "\r\n" for n in range(padding // 55 + 1))
    body += "." * (padding % 55) + "\r\n"
    return (
        f"From: {display} <{mailbox}@{DOMAIN}>\r\n"
        f"To: {to}@{DOMAIN}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: {message_id(key)}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n" + body
    ).encode("ascii")


# --- RFC 5256 keys, computed here from the seeds --------------------------------------------
def base_subject(subject):
    """RFC 5256 §2.1 for the prefixes the seeds use: Re:/Fw:/Fwd: (any case), (fwd) trailers."""
    s = " ".join(subject.split()).lower()
    while True:
        t = re.sub(r"\s*\(fwd\)$", "", s)
        t = re.sub(r"^(re|fwd?)\s*:\s*", "", t)
        if t == s:
            return s
        s = t


def sort_key(seed, field, size):
    _key, subject, _display, mailbox, to, date, _padding = seed
    if field == "date":
        return email.utils.parsedate_to_datetime(date).timestamp()
    if field == "subject":
        return base_subject(subject)
    if field == "from":
        return mailbox.lower()
    if field == "to":
        return to.lower()
    if field == "size":
        return size
    raise ValueError(field)


# --- output -----------------------------------------------------------------------------------
RESULTS = []


def report(ok, name, detail=""):
    RESULTS.append((ok, name))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  -- {detail}" if detail else ""), flush=True)
    return ok


def info(text):
    print(f"INFO  {text}", flush=True)


# --- independent IMAP looks --------------------------------------------------------------------
class Bed:
    """Direct imaplib sessions to imap4d: seeding, "another client", and every look."""

    def __init__(self, host, port, user, password):
        self.host, self.port, self.user, self.password = host, port, user, password

    def connect(self):
        c = imaplib.IMAP4(self.host, self.port, timeout=30)
        c.login(self.user, self.password)
        return c

    @staticmethod
    def unselect(c):
        """Leave the mailbox without expunging (CLOSE would expunge); imap4d writes this
        session's flag changes now."""
        typ, data = c._simple_command("UNSELECT")
        assert typ == "OK", data
        c.state = "AUTH"

    @staticmethod
    def folder_names(c):
        typ, data = c.list('""', '"*"')
        assert typ == "OK", data
        names = []
        for line in data:
            if line is None:
                continue
            m = re.match(rb'\(([^)]*)\) (NIL|"[^"]*") (.+)$', line)
            assert m, line
            name = m.group(3).decode()
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            if b"\\noselect" not in m.group(1).lower():
                names.append(name)
        return sorted(names)

    def look(self):
        """{folder: {uid: (message_id, frozenset(flags but \\Recent), size)}} of every folder."""
        c = self.connect()
        try:
            state = {}
            for name in self.folder_names(c):
                typ, data = c.select(f'"{name}"', readonly=True)  # EXAMINE
                assert typ == "OK", (name, data)
                state[name] = {}
                if int(data[0]) == 0:
                    continue
                # 1:* by sequence number: imap4d answers `UID SEARCH UID 1:*` with nothing.
                typ, data = c.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                assert typ == "OK", data
                for item in data:
                    if not isinstance(item, tuple):
                        continue
                    head, header = item
                    uid = int(re.search(rb"UID (\d+)", head).group(1))
                    size = int(re.search(rb"RFC822\.SIZE (\d+)", head).group(1))
                    flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode().split()
                    mid = re.search(rb"(?i)message-id:\s*(\S+)", header)
                    state[name][uid] = (mid.group(1).decode() if mid else None,
                                        frozenset(f for f in flags if f.lower() != "\\recent"), size)
            return state
        finally:
            c.logout()

    def capability_lines(self):
        c = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            greeting = c.welcome.decode(errors="replace")
            c.login(self.user, self.password)
            typ, data = c.capability()
            after = data[0].decode()
            c.select("INBOX")  # read-write: EXAMINE answers PERMANENTFLAGS ()
            permanent = c.response("PERMANENTFLAGS")[1]
            self.unselect(c)
            return greeting, after, permanent[0].decode() if permanent and permanent[0] else "(none)"
        finally:
            c.logout()

    def reset_and_seed(self):
        """Empty the account (delete every folder but INBOX, expunge INBOX), then seed."""
        c = self.connect()
        try:
            for name in reversed(self.folder_names(c)):
                if name.upper() != "INBOX":
                    typ, data = c.delete(f'"{name}"')
                    assert typ == "OK", (name, data)
            typ, data = c.select("INBOX")
            if int(data[0]) > 0:
                c.store("1:*", "+FLAGS.SILENT", "(\\Deleted)")
                c.expunge()
            self.unselect(c)
            for folder, seeds in SEEDS.items():
                if folder != "INBOX":
                    typ, data = c.create(f'"{folder}"')
                    assert typ == "OK", (folder, data)
                for seed in (FILLERS if folder == "INBOX" else []) + seeds:
                    typ, data = c.append(f'"{folder}"', None, None, raw_message(seed))
                    assert typ == "OK", (folder, seed[0], data)
            # Flags with STORE, not APPEND: imap4d 3.15 (Maildir) drops flags given to APPEND.
            # And every folder is SELECTed read-write once: imap4d gives messages appended to a
            # Maildir (they wait in new/) their UIDs for good only then; an EXAMINE or STATUS
            # before that reports UIDs and a UIDVALIDITY that later change.
            for folder, seeds in SEEDS.items():
                wanted = {message_id(s[0]): INITIAL_FLAGS.get(s[0], set()) for s in seeds}
                typ, data = c.select(f'"{folder}"')
                assert typ == "OK", (folder, data)
                if any(wanted.values()):
                    typ, data = c.fetch("1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                    for item in data:
                        if isinstance(item, tuple):
                            uid = re.search(rb"UID (\d+)", item[0]).group(1).decode()
                            mid = re.search(rb"(?i)message-id:\s*(\S+)", item[1]).group(1).decode()
                            if wanted.get(mid):
                                c.uid("STORE", uid, "+FLAGS.SILENT", "(" + " ".join(sorted(wanted[mid])) + ")")
                if folder == "INBOX":  # the fillers are sequence numbers 1-3: expunge them
                    c.store(f"1:{len(FILLERS)}", "+FLAGS.SILENT", "(\\Deleted)")
                    typ, data = c.expunge()
                    assert typ == "OK", data
                self.unselect(c)
        finally:
            c.logout()

    def store_as_another_client(self, folder, uid, flags):
        """Another client adds `flags` to one message and leaves the mailbox (no expunge)."""
        c = self.connect()
        try:
            c.select(f'"{folder}"')
            typ, data = c.uid("STORE", str(uid), "+FLAGS.SILENT", f"({flags})")
            assert typ == "OK", data
            self.unselect(c)
        finally:
            c.logout()


def by_mid(folder_state):
    return {mid: (uid, flags, size) for uid, (mid, flags, size) in folder_state.items()}


# --- the gateway ----------------------------------------------------------------------------------
def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """The copied binary, `serve` on a free loopback port; restart() keeps its database."""

    def __init__(self, binary, workdir, imap_host, imap_port, name, extra_env=None):
        self.binary, self.workdir, self.name = binary, workdir, name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.env.update({
            "GATEWAY_HTTP_HOST": "127.0.0.1",
            "GATEWAY_IMAP_HOST": imap_host,
            "GATEWAY_IMAP_PORT": str(imap_port),
            "GATEWAY_IMAP_TLS": "none",           # plain text to the loopback server
            "GATEWAY_DATABASE_PATH": os.path.join(workdir, f"{name}.sqlite"),
            "GATEWAY_LOG_LEVEL": "warning",
        })
        self.env.update(extra_env or {})
        self.process = None
        self.start()

    def start(self):
        self.port = free_port()
        self.env["GATEWAY_HTTP_PORT"] = str(self.port)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "serve", "--config", "/nonexistent/gateway.yaml"], cwd=self.workdir, env=self.env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway {self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway {self.name} did not answer /healthz within 60 s: {self.log_tail()}")
            time.sleep(0.05)

    def stop(self):
        """SIGTERM (the gateway logs out upstream), then its exit status; SIGKILL after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return "killed after 15 s"

    def restart(self):
        status = self.stop()
        self.start()
        return status

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class API:
    def __init__(self, gateway, user, password):
        self.gateway = gateway
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, method, path, body=None):
        """(status, parsed JSON body or text)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.gateway.port}{path}", data=data, method=method)
        request.add_header("Authorization", self.auth)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def folders(self):
        status, body = self.call("GET", "/api/v1/folders")
        assert status == 200, (status, body)
        return body["items"]

    def listing(self, folder_id, field, direction):
        query = urllib.parse.urlencode({"folderId": folder_id, "sort": field, "dir": direction, "limit": 1000})
        return self.call("GET", f"/api/v1/mails?{query}")


def brief(status, body):
    """The answer as the write-up quotes it: status + error code + message, or the JSON."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        e = body["error"]
        return f"{status} {e.get('code')}: {e.get('message')}"
    return f"{status} {json.dumps(body, sort_keys=True)}"


def is_json_error(status, body, statuses, codes):
    return (status in statuses and isinstance(body, dict) and isinstance(body.get("error"), dict)
            and body["error"].get("code") in codes and bool(body["error"].get("message")))


def failed_items(body):
    return body.get("batchOperationDetails", {}).get("failedItems") if isinstance(body, dict) else None


# --- the checks --------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/debug/mailbox-gateway"))
    parser.add_argument("--env", default=os.path.join(os.environ.get("IMAP4D_TEST_DIR", "/tmp/mailbox-gateway-imap4d"), "env"),
                        help="the bed's env file (read when IMAP4D_TEST_PORT is not set)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (gateway logs, databases)")
    args = parser.parse_args()

    env = dict(os.environ)
    if "IMAP4D_TEST_PORT" not in env:
        if not os.path.exists(args.env):
            print(f"imap4d-check: no bed: {args.env} missing (run integration/imap4d-start.sh)", file=sys.stderr)
            return 2
        for line in open(args.env):
            m = re.match(r"export (\w+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    host, port = env.get("IMAP4D_TEST_HOST", "127.0.0.1"), int(env["IMAP4D_TEST_PORT"])
    user, password = env["IMAP4D_TEST_USER"], env["IMAP4D_TEST_PASS"]
    if host not in ("127.0.0.1", "localhost"):
        print("imap4d-check: refusing a non-loopback IMAP host", file=sys.stderr)
        return 2

    started = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="imap4d-check-")
    gateways = []

    def cleanup():
        for g in gateways:
            g.stop()
        if args.keep:
            print(f"imap4d-check: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    atexit.register(cleanup)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))

    bed = Bed(host, port, user, password)
    try:
        greeting, caps, permanent = bed.capability_lines()
        info(f"imap4d {env.get('IMAP4D_TEST_VERSION', '?')} on {host}:{port} "
             f"({env.get('IMAP4D_TEST_MAILBOX_TYPE', '?')}), user {user}")
        info(f"greeting: {greeting}")
        info(f"CAPABILITY after LOGIN: {caps}")
        info(f"PERMANENTFLAGS (INBOX, read-write): {permanent}")
        t = time.monotonic()
        bed.reset_and_seed()
        info(f"seeded {sum(len(s) for s in SEEDS.values())} messages in 4 folders in {time.monotonic() - t:.2f} s")
        binary = os.path.join(workdir, "mailbox-gateway")
        shutil.copy2(args.binary, binary)
        t = time.monotonic()
        gw = Gateway(binary, workdir, host, port, "gateway")
        gateways.append(gw)
        info(f"gateway up on 127.0.0.1:{gw.port} in {time.monotonic() - t:.2f} s")
    except Exception as e:  # no bed or no gateway: no check ran
        print(f"imap4d-check: setup failed: {e!r}", file=sys.stderr)
        return 2
    api = API(gw, user, password)

    def section(name, fn):
        t = time.monotonic()
        try:
            fn()
        except Exception as e:  # an unexpected answer fails that section, not the script
            report(False, name, f"{type(e).__name__}: {e}")
        info(f"{name}: {time.monotonic() - t:.2f} s")

    seed_by_mid = {message_id(s[0]): s for seeds in SEEDS.values() for s in seeds}
    keyname = lambda mid: seed_by_mid.get(mid, (mid,))[0]
    initial = bed.look()
    ids, folder_ids, answers = {}, {}, {}
    state = {"look": initial}   # the last look, after the last change

    def learn_ids(api_, into):
        """Gateway mail IDs of every seeded message, by Message-ID, from its own listings."""
        for f in api_.folders():
            status, body = api_.listing(f["id"], "date", "ASC")
            for m in body.get("items", []) if status == 200 else []:
                if m.get("messageId") in seed_by_mid:
                    into[keyname(m["messageId"])] = m["id"]

    def compare(before, after, changes, new_in=None):
        """Problems, if `after` is not `before` with `changes` ({seed key: (add, remove)}, in the
        seed's own folder) and the copies `new_in` ({folder: [seed keys]})."""
        problems = []
        for folder in sorted(set(before) | set(after)):
            b, a = before.get(folder, {}), after.get(folder, {})
            for uid, (mid, flags, _size) in b.items():
                if uid not in a or a[uid][0] != mid:
                    problems.append(f"{folder} uid {uid} ({keyname(mid)}) GONE")
                    continue
                add, remove = changes.get(keyname(mid), (set(), set())) if SEED_FOLDER.get(keyname(mid)) == folder else (set(), set())
                want = (flags | add) - remove
                if a[uid][1] != want:
                    problems.append(f"{folder} {keyname(mid)} flags {sorted(a[uid][1])} want {sorted(want)}")
            added = sorted(keyname(a[uid][0]) for uid in a if uid not in b)
            if added != sorted((new_in or {}).get(folder, [])):
                problems.append(f"{folder} new messages {added} want {sorted((new_in or {}).get(folder, []))}")
        return problems

    def look_twice(name, answer, changes, new_in=None):
        """The change as another client sees it at once, then once the gateway's session ended."""
        before = state["look"]
        now = bed.look()
        problems = compare(before, now, changes, new_in)
        report(not problems, f"{name}: visible to another client at once (look right after the answer)",
               "; ".join(problems))
        exit_status = gw.restart()
        later = bed.look()
        problems = compare(before, later, changes, new_in)
        report(not problems, f"{name}: exactly that, once the gateway's IMAP session ended (look after a restart)",
               "; ".join(problems) or f"gateway SIGTERM exit status {exit_status}")
        state["look"] = later

    # 1. folders ---------------------------------------------------------------------------------------
    def check_folders():
        items = api.folders()
        folder_ids.update({f["name"]: f["id"] for f in items})
        names, want = sorted(f["name"] for f in items), sorted(initial)
        counts = {f["name"]: f.get("totalItems") for f in items}
        want_counts = {name: len(initial[name]) for name in initial}
        info(f"GET /api/v1/folders roles: { {f['name']: f.get('role') for f in items} }")
        report(names == want and counts == want_counts, "GET /api/v1/folders lists every folder with its message count",
               f"{names}, counts {counts}" if names == want and counts == want_counts
               else f"names {names} want {want}; counts {counts} want {want_counts}")
    section("folders", check_folders)
    if "INBOX" not in folder_ids:
        report(False, "cannot go on without the INBOX folder ID")
        return 1

    # 2. listings: no SORT here, the gateway orders by itself -------------------------------------------
    def check_listings():
        sizes = {mid: size for mid, _flags, size in initial["INBOX"].values()}
        for field in ("date", "subject", "from", "to", "size"):
            keys = {mid: sort_key(seed_by_mid[mid], field, sizes[mid]) for mid in sizes}
            assert len(set(keys.values())) == len(keys), f"the seeds tie on {field}"  # self-check
            ascending = sorted(keys, key=keys.get)
            for direction in ("ASC", "DESC"):
                want = ascending if direction == "ASC" else ascending[::-1]
                status, body = api.listing(folder_ids["INBOX"], field, direction)
                got = [m.get("messageId") for m in body.get("items", [])] if status == 200 else None
                ok = status == 200 and got == want and body.get("totalItems") == len(want)
                report(ok, f"listing INBOX sort={field} dir={direction} is in RFC 5256 order",
                       " ".join(map(keyname, got)) if ok else
                       f"status {status}; got {[keyname(x) for x in got or []]} want {[keyname(x) for x in want]}")
    section("listings", check_listings)
    learn_ids(api, ids)
    missing = [s[0] for seeds in SEEDS.values() for s in seeds if s[0] not in ids]
    if missing:
        report(False, "every seeded message has a gateway ID", f"missing {missing}")
        return 1

    # Another client marks the outsider \Deleted and leaves it: no batch may expunge it.
    outsider_uid = by_mid(initial["INBOX"])[message_id(OUTSIDER)][0]
    bed.store_as_another_client("INBOX", outsider_uid, "\\Deleted")
    state["look"] = bed.look()
    assert "\\Deleted" in state["look"]["INBOX"][outsider_uid][1], "the other client's \\Deleted did not stick"
    info(f"another client flagged INBOX uid {outsider_uid} ({OUTSIDER}) \\Deleted and left without expunging")

    # 3. updates in INBOX (UIDs are not sequence numbers there): a range, then IDs --------------------
    def check_range_update():
        # The 3 mails of the subject-ascending listing that begin at its 2nd: flag them.
        sizes = {mid: size for mid, _f, size in state["look"]["INBOX"].values()}
        order = sorted(sizes, key=lambda mid: sort_key(seed_by_mid[mid], "subject", sizes[mid]))
        keys = [keyname(mid) for mid in order[1:4]]
        body = {"ranges": [{"start": ids[keys[0]], "limit": 3}],
                "sortInfo": {"field": "subject", "direction": "ASC"}, "isFlagged": True}
        status, answer = api.call("POST", "/api/v1/batch/mails/update", body)
        report(status == 200 and answer.get("status") == "completed" and failed_items(answer) == [],
               f"INBOX range update (subject ASC from the 2nd, limit 3 = {keys}, isFlagged) answers 200, nothing failed",
               brief(status, answer))
        look_twice("INBOX range update", brief(status, answer), {k: ({"\\Flagged"}, set()) for k in keys})
    section("range update", check_range_update)

    def check_ids_update():
        # i5 (\Flagged) and i6: read and unflagged, with an unknown ID; then i2 (\Seen): unread.
        status, answer = api.call("POST", "/api/v1/batch/mails/update",
                                  {"ids": [ids["i5"], ids["i6"], "bm9wZQ"], "isUnread": False, "isFlagged": False})
        report(status == 200 and failed_items(answer) == ["bm9wZQ"],
               "INBOX ids update (i5, i6, unknown: isUnread=false isFlagged=false) answers 200, only the unknown ID failed",
               brief(status, answer))
        status2, answer2 = api.call("POST", "/api/v1/batch/mails/update", {"ids": [ids["i2"]], "isUnread": True})
        report(status2 == 200 and failed_items(answer2) == [], "INBOX ids update (i2: isUnread=true) answers 200, nothing failed",
               brief(status2, answer2))
        look_twice("INBOX ids update", f"{status}/{status2}",
                   {"i5": ({"\\Seen"}, {"\\Flagged"}), "i6": ({"\\Seen"}, {"\\Flagged"}), "i2": (set(), {"\\Seen"})})
    section("ids update", check_ids_update)

    def check_archive_update():
        # The contrast: in Archive UIDs are still sequence numbers.
        status, answer = api.call("POST", "/api/v1/batch/mails/update",
                                  {"ids": [ids["a1"], ids["a3"]], "isFlagged": True, "isUnread": False})
        report(status == 200 and failed_items(answer) == [],
               "Archive ids update (a1, a3: isFlagged=true isUnread=false; UID = sequence number there) answers 200, nothing failed",
               brief(status, answer))
        look_twice("Archive ids update", brief(status, answer),
                   {"a1": ({"\\Flagged", "\\Seen"}, set()), "a3": ({"\\Flagged", "\\Seen"}, set())})
    section("Archive update", check_archive_update)

    # 4. another client's change while the gateway's session has INBOX selected ----------------------------
    def check_concurrent_client():
        # A listing leaves the gateway's pooled session with INBOX selected; then another client
        # flags i4. The gateway must neither show a stale isFlagged nor lose that flag when it
        # marks i4 read.
        api.listing(folder_ids["INBOX"], "date", "DESC")
        uid = by_mid(state["look"]["INBOX"])[message_id("i4")][0]
        bed.store_as_another_client("INBOX", uid, "\\Flagged")
        state["look"] = bed.look()
        status, body = api.listing(folder_ids["INBOX"], "date", "DESC")
        shown = [m.get("isFlagged") for m in body.get("items", []) if m.get("messageId") == message_id("i4")]
        report(shown == [True], "a listing shows the flag another client just set (i4 isFlagged)",
               f"isFlagged {shown}")
        status, answer = api.call("POST", "/api/v1/batch/mails/update", {"ids": [ids["i4"]], "isUnread": False})
        report(status == 200 and failed_items(answer) == [], "update of i4 (isUnread=false) answers 200, nothing failed",
               brief(status, answer))
        look_twice("update after another client's change (i4 keeps its \\Flagged, gains \\Seen)",
                   brief(status, answer), {"i4": ({"\\Seen"}, set())})
    section("another client meanwhile", check_concurrent_client)

    # 5. copy ---------------------------------------------------------------------------------------------
    def check_copy():
        for source, keys, dest in (("INBOX", ["i1", "i3"], "Archive"), ("Archive", ["a1", "a2"], "Work")):
            status, answer = api.call("POST", "/api/v1/batch/mails/copy",
                                      {"ids": [ids[k] for k in keys], "destinationFolderId": folder_ids[dest]})
            report(status == 200 and failed_items(answer) == [],
                   f"copy {source} ({', '.join(keys)}) -> {dest} answers 200, nothing failed (no COPYUID: no newIds)",
                   brief(status, answer))
            look_twice(f"copy {source} -> {dest} (exactly {' and '.join(keys)} added to {dest}, nothing else changed)",
                       brief(status, answer), {}, new_in={dest: keys})
    section("copy", check_copy)

    # 6. refused: move, delete to Trash, permanent delete ------------------------------------------------------
    def refuse(name, path, body, statuses, codes, api_):
        before = state["look"]
        status, answer = api_.call("POST", path, body)
        answers[name] = brief(status, answer)
        report(is_json_error(status, answer, statuses, codes), f"{name} is refused with a clear JSON error", answers[name])
        state["look"] = bed.look()
        problems = compare(before, state["look"], {})
        report(not problems, f"{name} changes nothing, the outsider's \\Deleted message included (independent look)",
               "; ".join(problems))

    def check_refusals():
        by_date = {"sortInfo": {"field": "date", "direction": "DESC"}}
        refuse("move (ids i4, i8 + range of 3 from i1) INBOX -> Archive", "/api/v1/batch/mails/move",
               {"ids": [ids["i4"], ids["i8"]], "ranges": [{"start": ids["i1"], "limit": 3}], **by_date,
                "destinationFolderId": folder_ids["Archive"]}, {502}, {"upstreamUnsupported"}, api)
        # No SPECIAL-USE: the folder named Trash has no \Trash role, so there is no Trash (422);
        # were there one, moving into it needs MOVE or UIDPLUS (502). Either is a clear refusal.
        refuse("delete (to Trash) of INBOX i4, i8", "/api/v1/batch/mails/delete",
               {"ids": [ids["i4"], ids["i8"]]}, {422, 502}, {"noTrashFolder", "upstreamUnsupported"}, api)
        refuse("delete of t1 in the folder named Trash", "/api/v1/batch/mails/delete",
               {"ids": [ids["t1"]]}, {422, 502}, {"noTrashFolder", "upstreamUnsupported"}, api)
        # The permanent path itself: a second gateway with batch.deleteToTrash=false.
        t = time.monotonic()
        gw2 = Gateway(binary, workdir, host, port, "gateway-permanent", {"GATEWAY_BATCH_DELETE_TO_TRASH": "false"})
        gateways.append(gw2)
        info(f"second gateway (GATEWAY_BATCH_DELETE_TO_TRASH=false) up in {time.monotonic() - t:.2f} s")
        api2, ids2 = API(gw2, user, password), {}
        learn_ids(api2, ids2)
        refuse("permanent delete (deleteToTrash=false) of t1 in Trash", "/api/v1/batch/mails/delete",
               {"ids": [ids2["t1"]]}, {502}, {"upstreamUnsupported"}, api2)
        refuse("permanent delete (deleteToTrash=false) of a range of 4 INBOX mails", "/api/v1/batch/mails/delete",
               {"ranges": [{"start": ids2["i1"], "limit": 4}], "sortInfo": {"field": "date", "direction": "ASC"}},
               {502}, {"upstreamUnsupported"}, api2)
        status = gw2.stop()
        report(status == 0, "second gateway exits 0 on SIGTERM", f"exit status {status}")
    section("refused operations", check_refusals)

    # 7. labels = keywords, which imap4d has not -------------------------------------------------------------
    def check_labels():
        before = state["look"]
        status, answer = api.call("POST", "/api/v1/labels", {"name": "Follow up"})
        answers["POST /api/v1/labels {\"name\":\"Follow up\"}"] = brief(status, answer)
        status_l, answer_l = api.call("GET", "/api/v1/labels")
        answers["GET /api/v1/labels"] = brief(status_l, answer_l)
        label_id = answer.get("id") if status in (200, 201) and isinstance(answer, dict) else None
        if label_id is None:  # refused at once: fine if it is a clear JSON error
            report(status >= 400 and isinstance(answer, dict) and isinstance(answer.get("error"), dict),
                   "POST /api/v1/labels is refused with a clear JSON error", brief(status, answer))
        for op in ("add", "remove"):
            if label_id is None:
                break
            named = [ids["i1"], ids["i4"]]
            status, answer = api.call("POST", f"/api/v1/batch/mails/labels/{op}", {"ids": named, "labelId": label_id})
            answers[f"labels/{op} (i1, i4)"] = brief(status, answer)
            report(is_json_error(status, answer, {502}, {"upstreamUnsupported"}),
                   f"labels/{op} on a server without keywords is refused with a clear JSON error (502 upstreamUnsupported)",
                   brief(status, answer))
        state["look"] = bed.look()
        problems = compare(before, state["look"], {})
        report(not problems, "labels change nothing (independent look)", "; ".join(problems))
    section("labels", check_labels)

    # 8. nothing outside a batch was ever expunged ---------------------------------------------------------------
    def check_nothing_expunged():
        alive = gw.process.poll() is None
        report(alive, "the gateway process is still running", "" if alive else gw.log_tail())
        status = gw.stop()
        report(status == 0, "the gateway exits 0 on SIGTERM (it logs out upstream)", f"exit status {status}")
        final = bed.look()
        # Every seeded message, by UID and Message-ID, in every folder (copies may be added).
        lost = [f"{folder} uid {uid} {keyname(mid)}" for folder, messages in initial.items()
                for uid, (mid, _f, _s) in messages.items()
                if uid not in final.get(folder, {}) or final[folder][uid][0] != mid]
        for folder in sorted(set(initial) | set(final)):
            got = sorted(keyname(m) for m, _f, _s in final.get(folder, {}).values())
            was = sorted(keyname(m) for m, _f, _s in initial.get(folder, {}).values())
            info(f"{folder}: before {len(was)} {was}; after {len(got)} {got}")
        still_deleted = "\\Deleted" in final["INBOX"].get(outsider_uid, (None, frozenset(), 0))[1]
        report(not lost and still_deleted,
               "nothing was expunged: every seeded message is where it was (same UID, same Message-ID); the outsider is still \\Deleted",
               "; ".join(lost) or f"{sum(len(v) for v in initial.values())} seeded, {sum(len(v) for v in final.values())} now")
    section("nothing expunged", check_nothing_expunged)

    print()
    for name, answer in answers.items():
        info(f"answer: {name}: {answer}")
    failed = [name for ok, name in RESULTS if not ok]
    print(f"imap4d-check: {len(RESULTS) - len(failed)} passed, {len(failed)} failed, "
          f"{time.monotonic() - started:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
