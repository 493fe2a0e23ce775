#!/usr/bin/env python3
"""A scripted, deliberately wrong IMAP server for the gateway's hostile-upstream tests (SPEC §4:
"the server may be wrong").

It answers enough of IMAP4rev1 (CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE PLAIN, ENABLE, LIST with
SPECIAL-USE attributes, SELECT, EXAMINE, STATUS, NOOP, UNSELECT, UID SEARCH, UID FETCH, UID STORE,
UID COPY, UID MOVE, UID EXPUNGE, LOGOUT) for the gateway and IMAPConnection to work against it,
honestly by default, and wrongly in the way `--scenario` names:

  normal               an honest server
  esearch-all          every UID SEARCH answers `* ESEARCH (TAG ...) UID ALL 1:4294967295`; it
                       also offers SEARCHRES, so a saved result (`RETURN (SAVE ALL)`) is that too
  search-extra         no ESEARCH; every UID SEARCH answers `* SEARCH` with thousands of UIDs
                       never asked about (besides those that exist)
  copyuid-foreign      UID COPY / UID MOVE report COPYUID naming UIDs never asked about
  nested-parens        UID FETCH answers with a BODYSTRUCTURE of 200,000 nested parentheses
  endless-untagged     UID FETCH and NOOP answer untagged data forever, never completing
  endless-unsolicited  after SELECT completes, `* 1 FETCH (FLAGS ())` lines flow forever unasked
  starttls-injection   `OK Begin TLS` is followed, in the same write and before the handshake,
                       by an injected plaintext `* CAPABILITY ... X-INJECTED` line
  no-permanentflags    SELECT omits the PERMANENTFLAGS response code
  status-foreign       STATUS answers with another mailbox's STATUS only
  escape-text          LOGIN fails with a text holding a terminal escape sequence (ESC [ 2 J,
                       "clear screen") and a bell, as an operator's `check` would print it
  slow-store           an honest server whose UID STORE answers after 3 seconds (a request in
                       flight, for the gateway's graceful shutdown)

Any credentials log in. Mailboxes: INBOX (`--inbox-size` messages, UIDs 1..n), Archive (\\Archive),
Trash (\\Trash) and Dest, shared by all connections of one server process.

Usage: hostile-imap.py [--port 0] [--scenario NAME] [--log FILE] [--inbox-size N]
The first line on stdout is the port it listens on (127.0.0.1). Every command line received is
appended to the log file. When its standard input is a pipe, the server exits at end of file
there (so it never outlives the test that started it); it also exits on SIGTERM.

Python 3 standard library only.
"""

import argparse
import base64
import os
import re
import shutil
import signal
import socketserver
import stat
import ssl
import sys
import tempfile
import threading
import time

SCENARIOS = [
    "normal",
    "esearch-all",
    "search-extra",
    "copyuid-foreign",
    "nested-parens",
    "endless-untagged",
    "endless-unsolicited",
    "starttls-injection",
    "no-permanentflags",
    "status-foreign",
    "slow-store",
    "escape-text",
]

# A self-signed certificate for localhost / 127.0.0.1 and its key, for STARTTLS only. TEST USE
# ONLY: the key is public by being here, protects nothing, and clients connect to this server
# with certificate verification turned off.
TEST_CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUKhp73Ybf5pnDPDoOFDPs7EGqTE4wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEzMDA3MTEyMFoYDzIxMjYxMTA2
MDcxMTIwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQBMCR3O0nBodHL1CypC2wZq7n2VDq5/4TbJqH3yTuNEHJXr6Y/yLrL
z46V7bXiZY0ydlFPKGowWhFC93UGiC51o28wbTAdBgNVHQ4EFgQUkzMLW0wqcLjM
HaNKqbZcYL4UR88wHwYDVR0jBBgwFoAUkzMLW0wqcLjMHaNKqbZcYL4UR88wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAIAlKi/qZQ4r8YXBcavlevhKV4xo15vvcWKQUIzFbiDGAiB3
XvRkdhZfmjxsEH81oNobyBsHNISmiDPY1YnzxghwOA==
-----END CERTIFICATE-----
"""
TEST_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg79gF+BAZDxvjE9lU
cDkFNwi6Sfc3715Md/NsFj8goDmhRANCAAQBMCR3O0nBodHL1CypC2wZq7n2VDq5
/4TbJqH3yTuNEHJXr6Y/yLrLz46V7bXiZY0ydlFPKGowWhFC93UGiC51
-----END PRIVATE KEY-----
"""

SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]
MAX_UID = 4294967295
FOREIGN_SOURCE_UIDS = "1000000:1000009"
FOREIGN_DEST_UIDS = "7000000:7000009"


class Mailbox:
    def __init__(self, name, validity, count, attributes):
        self.name = name
        self.validity = validity
        self.attributes = attributes
        self.uids = list(range(1, count + 1))
        self.flags = {uid: set() for uid in self.uids}
        self.uidnext = count + 1

    def seq(self, uid):
        # Sequence numbers are positions in the (sorted) UID list; linear is fine at test sizes
        # except for the large INBOX, where the UIDs are exactly 1..n until something is expunged.
        if self.uids and self.uids[-1] == len(self.uids):
            return uid
        return self.uids.index(uid) + 1

    def add(self, flags):
        uid = self.uidnext
        self.uidnext += 1
        self.uids.append(uid)
        self.flags[uid] = set(flags)
        return uid

    def expunge(self, uid):
        seq = self.seq(uid)
        self.uids.remove(uid)
        del self.flags[uid]
        return seq


class World:
    """The mailboxes of the single account every login reaches."""

    def __init__(self, inbox_size):
        self.lock = threading.RLock()
        self.mailboxes = {
            "INBOX": Mailbox("INBOX", 1001, inbox_size, ["\\HasNoChildren"]),
            "Archive": Mailbox("Archive", 1002, 3, ["\\HasNoChildren", "\\Archive"]),
            "Trash": Mailbox("Trash", 1003, 0, ["\\HasNoChildren", "\\Trash"]),
            "Dest": Mailbox("Dest", 1004, 0, ["\\HasNoChildren"]),
        }

    def find(self, name):
        if name.upper() == "INBOX":
            return self.mailboxes["INBOX"]
        return self.mailboxes.get(name)


class Options:
    scenario = "normal"
    log_path = None
    log_lock = threading.Lock()
    world = None
    cert_dir = None


def log_command(line):
    if not Options.log_path:
        return
    with Options.log_lock:
        with open(Options.log_path, "a", encoding="utf-8", errors="replace") as f:
            f.write(line + "\n")


def parse_uid_set(text, largest):
    """A UID set (`1:5,7,9:*`) as a sorted list of UIDs no larger than `largest` (or MAX_UID)."""
    result = set()
    for part in text.split(","):
        if ":" in part:
            a, b = part.split(":", 1)
            lo = largest if a == "*" else int(a)
            hi = largest if b == "*" else int(b)
            lo, hi = min(lo, hi), max(lo, hi)
            hi = min(hi, max(largest, lo))
            result.update(range(lo, hi + 1))
        else:
            result.add(largest if part == "*" else int(part))
    return sorted(result)


def compress(uids):
    """Sorted UIDs as a compact set: `1:3,7`."""
    out = []
    uids = sorted(uids)
    i = 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append(str(uids[i]) if i == j else "%d:%d" % (uids[i], uids[j]))
        i = j + 1
    return ",".join(out)


def tokens(text):
    """Splits arguments into atoms, quoted strings (unquoted) and parenthesised groups (kept whole)."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            i += 1
        elif c == '"':
            j = i + 1
            value = []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                value.append(text[j])
                j += 1
            out.append("".join(value))
            i = j + 1
        elif c == "(":
            depth = 0
            j = i
            while j < len(text):
                if text[j] == "(":
                    depth += 1
                elif text[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out.append(text[i : j + 1])
            i = j + 1
        else:
            j = i
            while j < len(text) and text[j] != " ":
                j += 1
            out.append(text[i:j])
            i = j
    return out


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Session(socketserver.StreamRequestHandler):
    """One client connection."""

    def setup(self):
        super().setup()
        self.selected = None
        self.tls = False

    # I/O

    def send(self, text):
        self.wfile.write(text.encode("utf-8", "surrogateescape"))
        self.wfile.flush()

    def read_command(self):
        """One command, with its literals inlined; None at end of input."""
        line = self.rfile.readline()
        if not line:
            return None
        parts = []
        while True:
            text = line.decode("utf-8", "surrogateescape").rstrip("\r\n")
            m = re.search(r"\{(\d+)(\+?)\}$", text)
            if not m:
                parts.append(text)
                break
            parts.append(text[: m.start()])
            if not m.group(2):
                self.send("+ go ahead\r\n")
            literal = self.rfile.read(int(m.group(1)))
            parts.append(quote(literal.decode("utf-8", "surrogateescape")))
            line = self.rfile.readline()
            if not line:
                return None
        return "".join(parts)

    def capabilities(self):
        caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "AUTH=PLAIN", "UIDPLUS", "MOVE", "SPECIAL-USE", "UNSELECT", "ENABLE"]
        if Options.scenario != "search-extra":
            caps.append("ESEARCH")
        if Options.scenario == "esearch-all":
            caps.append("SEARCHRES")
        if not self.tls:
            caps.append("STARTTLS")
        return " ".join(caps)

    # The conversation

    def handle(self):
        try:
            self.send("* OK [CAPABILITY %s] hostile-imap (%s) ready\r\n" % (self.capabilities(), Options.scenario))
            while True:
                command = self.read_command()
                if command is None:
                    return
                log_command(command)
                tag, _, rest = command.partition(" ")
                name, _, args = rest.partition(" ")
                name = name.upper()
                if name == "UID":
                    sub, _, args = args.partition(" ")
                    name = "UID " + sub.upper()
                handler = getattr(self, "do_" + name.replace(" ", "_"), None)
                if handler is None:
                    self.send("%s BAD unknown command\r\n" % tag)
                    continue
                if handler(tag, args) == "close":
                    return
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return

    def do_CAPABILITY(self, tag, args):
        self.send("* CAPABILITY %s\r\n%s OK Capability completed.\r\n" % (self.capabilities(), tag))

    def do_STARTTLS(self, tag, args):
        reply = "%s OK Begin TLS negotiation now.\r\n" % tag
        if Options.scenario == "starttls-injection":
            reply += "* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED X-INJECTED\r\n"
        self.send(reply)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(Options.cert_dir, "cert.pem"), os.path.join(Options.cert_dir, "key.pem"))
        self.connection = context.wrap_socket(self.connection, server_side=True)
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb")
        self.tls = True

    def do_LOGIN(self, tag, args):
        if Options.scenario == "escape-text":
            self.send("%s NO \x1b[2J\x1b[31mPWNED\x07 login refused\r\n" % tag)
            return
        self.send("%s OK [CAPABILITY %s] Logged in\r\n" % (tag, self.capabilities()))

    def do_AUTHENTICATE(self, tag, args):
        parts = args.split(" ")
        if parts[0].upper() != "PLAIN":
            self.send("%s NO unsupported mechanism\r\n" % tag)
            return
        if len(parts) < 2:
            self.send("+ \r\n")
            response = self.rfile.readline()
            log_command(response.decode("utf-8", "replace").rstrip("\r\n"))
        self.send("%s OK [CAPABILITY %s] Logged in\r\n" % (tag, self.capabilities()))

    def do_ENABLE(self, tag, args):
        self.send("* ENABLED\r\n%s OK Enabled.\r\n" % tag)

    def do_NOOP(self, tag, args):
        if Options.scenario == "endless-untagged":
            self.endless("* OK still thinking about it\r\n")
        self.send("%s OK NOOP completed.\r\n" % tag)

    def do_LOGOUT(self, tag, args):
        self.send("* BYE logging out\r\n%s OK Logout completed.\r\n" % tag)
        return "close"

    def do_LIST(self, tag, args):
        with Options.world.lock:
            lines = []
            for box in Options.world.mailboxes.values():
                lines.append('* LIST (%s) "/" %s\r\n' % (" ".join(box.attributes), quote(box.name)))
        self.send("".join(lines) + "%s OK List completed.\r\n" % tag)

    def select(self, tag, args, read_only):
        name = tokens(args)[0] if args else ""
        with Options.world.lock:
            box = Options.world.find(name)
            if box is None:
                self.selected = None
                self.send("%s NO [NONEXISTENT] Mailbox doesn't exist: %s\r\n" % (tag, name))
                return
            self.selected = box
            lines = ["* FLAGS (%s)\r\n" % " ".join(SYSTEM_FLAGS)]
            if Options.scenario != "no-permanentflags":
                lines.append("* OK [PERMANENTFLAGS (%s \\*)] Flags permitted.\r\n" % " ".join(SYSTEM_FLAGS))
            lines.append("* %d EXISTS\r\n* 0 RECENT\r\n" % len(box.uids))
            lines.append("* OK [UIDVALIDITY %d] UIDs valid\r\n* OK [UIDNEXT %d] Predicted next UID\r\n" % (box.validity, box.uidnext))
            lines.append("%s OK [%s] Select completed.\r\n" % (tag, "READ-ONLY" if read_only else "READ-WRITE"))
        self.send("".join(lines))
        if Options.scenario == "endless-unsolicited":
            self.endless("* 1 FETCH (FLAGS ())\r\n")

    def do_SELECT(self, tag, args):
        self.select(tag, args, False)

    def do_EXAMINE(self, tag, args):
        self.select(tag, args, True)

    def do_UNSELECT(self, tag, args):
        self.selected = None
        self.send("%s OK Unselect completed.\r\n" % tag)

    def do_STATUS(self, tag, args):
        parts = tokens(args)
        name = parts[0] if parts else ""
        items = parts[1].strip("()").upper().split() if len(parts) > 1 else []
        with Options.world.lock:
            box = Options.world.find(name)
            if box is None:
                self.send("%s NO [NONEXISTENT] Mailbox doesn't exist: %s\r\n" % (tag, name))
                return
            answered = box
            if Options.scenario == "status-foreign":
                answered = next(b for b in Options.world.mailboxes.values() if b is not box)
            values = {
                "MESSAGES": len(answered.uids) + (999 if answered is not box else 0),
                "RECENT": 0,
                "UIDNEXT": answered.uidnext,
                "UIDVALIDITY": answered.validity,
                "UNSEEN": sum(1 for uid in answered.uids if "\\Seen" not in answered.flags[uid]),
            }
            data = " ".join("%s %d" % (item, values[item]) for item in items if item in values)
            self.send("* STATUS %s (%s)\r\n%s OK Status completed.\r\n" % (quote(answered.name), data, tag))

    # Commands on the selected mailbox

    def require_selected(self, tag):
        if self.selected is None:
            self.send("%s BAD No mailbox selected.\r\n" % tag)
            return False
        return True

    def do_UID_SEARCH(self, tag, args):
        if not self.require_selected(tag):
            return
        parts = tokens(args)
        extended = False
        if parts and parts[0].upper() == "RETURN":
            extended = True
            parts = parts[2:]
        if len(parts) >= 2 and parts[0].upper() == "CHARSET":
            parts = parts[2:]
        with Options.world.lock:
            box = self.selected
            largest = box.uids[-1] if box.uids else 0
            found = list(box.uids)
            for i, part in enumerate(parts):
                if part.upper() == "UID" and i + 1 < len(parts) and parts[i + 1] != "$":
                    asked = set(parse_uid_set(parts[i + 1], max(largest, 1)))
                    found = [uid for uid in found if uid in asked]
                elif part.upper() == "DELETED":
                    found = [uid for uid in found if "\\Deleted" in box.flags[uid]]
        if Options.scenario == "esearch-all":
            self.send('* ESEARCH (TAG "%s") UID ALL 1:%d\r\n%s OK Search completed.\r\n' % (tag, MAX_UID, tag))
        elif Options.scenario == "search-extra":
            extra = sorted(set(found) | set(range(1, 5001)) | {MAX_UID - 1, MAX_UID})
            self.send("* SEARCH %s\r\n%s OK Search completed.\r\n" % (" ".join(map(str, extra)), tag))
        elif extended:
            all_part = (" ALL " + compress(found)) if found else ""
            self.send('* ESEARCH (TAG "%s") UID%s\r\n%s OK Search completed.\r\n' % (tag, all_part, tag))
        else:
            self.send("* SEARCH%s\r\n%s OK Search completed.\r\n" % ("".join(" %d" % u for u in found), tag))

    def do_UID_FETCH(self, tag, args):
        if not self.require_selected(tag):
            return
        parts = tokens(args)
        if Options.scenario == "nested-parens":
            depth = 200000
            self.send("* 1 FETCH (UID 1 BODYSTRUCTURE %s%s)\r\n%s OK Fetch completed.\r\n" % ("(" * depth, ")" * depth, tag))
            return
        if Options.scenario == "endless-untagged":
            self.endless("".join("* %d FETCH (UID %d FLAGS ())\r\n" % (n, n) for n in range(1, 101)))
        items = parts[1].upper() if len(parts) > 1 else "(UID)"
        out = []
        with Options.world.lock:
            box = self.selected
            largest = box.uids[-1] if box.uids else 0
            wanted = set(parse_uid_set(parts[0], max(largest, 1)))
            uids = [uid for uid in box.uids if uid in wanted]
            for uid in uids:
                attributes = ["UID %d" % uid]
                if "FLAGS" in items:
                    attributes.append("FLAGS (%s)" % " ".join(sorted(box.flags[uid])))
                if "RFC822.SIZE" in items:
                    attributes.append("RFC822.SIZE 100")
                if "INTERNALDATE" in items:
                    attributes.append('INTERNALDATE "01-Jan-2024 00:00:00 +0000"')
                if "ENVELOPE" in items:
                    attributes.append(
                        'ENVELOPE ("Mon, 1 Jan 2024 00:00:00 +0000" "message %d" NIL NIL NIL NIL NIL NIL NIL "<%d@hostile.test>")'
                        % (uid, uid))
                if "BODYSTRUCTURE" in items:
                    attributes.append('BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)')
                out.append("* %d FETCH (%s)\r\n" % (box.seq(uid), " ".join(attributes)))
                if len(out) >= 1000:
                    self.send("".join(out))
                    out = []
        self.send("".join(out) + "%s OK Fetch completed.\r\n" % tag)

    def do_UID_STORE(self, tag, args):
        if not self.require_selected(tag):
            return
        if Options.scenario == "slow-store":
            time.sleep(3)
        parts = tokens(args)
        operation = parts[1].upper()
        flags = parts[-1].strip("()").split()
        silent = operation.endswith(".SILENT")
        out = []
        with Options.world.lock:
            box = self.selected
            largest = box.uids[-1] if box.uids else 0
            wanted = set(parse_uid_set(parts[0], max(largest, 1)))
            for uid in [uid for uid in box.uids if uid in wanted]:
                current = box.flags[uid]
                if operation.startswith("+"):
                    current.update(flags)
                elif operation.startswith("-"):
                    current.difference_update(flags)
                else:
                    current.clear()
                    current.update(flags)
                if not silent:
                    out.append("* %d FETCH (UID %d FLAGS (%s))\r\n" % (box.seq(uid), uid, " ".join(sorted(current))))
        self.send("".join(out) + "%s OK Store completed.\r\n" % tag)

    def transfer(self, tag, args, move):
        if not self.require_selected(tag):
            return
        parts = tokens(args)
        with Options.world.lock:
            box = self.selected
            dest = Options.world.find(parts[1]) if len(parts) > 1 else None
            if dest is None:
                self.send("%s NO [TRYCREATE] Mailbox doesn't exist\r\n" % tag)
                return
            largest = box.uids[-1] if box.uids else 0
            wanted = set(parse_uid_set(parts[0], max(largest, 1)))
            sources = [uid for uid in box.uids if uid in wanted]
            targets = [dest.add(box.flags[uid]) for uid in sources]
            if Options.scenario == "copyuid-foreign":
                code = "COPYUID %d %s %s" % (dest.validity, FOREIGN_SOURCE_UIDS, FOREIGN_DEST_UIDS)
            elif sources:
                code = "COPYUID %d %s %s" % (dest.validity, ",".join(map(str, sources)), ",".join(map(str, targets)))
            else:
                code = None
            lines = []
            if move:
                if code:
                    lines.append("* OK [%s] Moved UIDs.\r\n" % code)
                for uid in sorted(sources, reverse=True):
                    lines.append("* %d EXPUNGE\r\n" % box.expunge(uid))
                lines.append("%s OK Move completed.\r\n" % tag)
            else:
                lines.append("%s OK %sCopy completed.\r\n" % (tag, "[%s] " % code if code else ""))
        self.send("".join(lines))

    def do_UID_COPY(self, tag, args):
        self.transfer(tag, args, False)

    def do_UID_MOVE(self, tag, args):
        self.transfer(tag, args, True)

    def do_UID_EXPUNGE(self, tag, args):
        if not self.require_selected(tag):
            return
        parts = tokens(args)
        lines = []
        with Options.world.lock:
            box = self.selected
            largest = box.uids[-1] if box.uids else 0
            wanted = set(parse_uid_set(parts[0], max(largest, 1)))
            doomed = [uid for uid in box.uids if uid in wanted and "\\Deleted" in box.flags[uid]]
            for uid in sorted(doomed, reverse=True):
                lines.append("* %d EXPUNGE\r\n" % box.expunge(uid))
        self.send("".join(lines) + "%s OK Expunge completed.\r\n" % tag)

    def endless(self, chunk):
        """Writes `chunk` again and again until the client goes away (which ends the session)."""
        block = (chunk * max(1, 65536 // len(chunk))).encode()
        while True:
            self.wfile.write(block)
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--scenario", choices=SCENARIOS, default="normal")
    parser.add_argument("--log", help="file to append every received command line to")
    parser.add_argument("--inbox-size", type=int, default=10, help="messages in INBOX (UIDs 1..n)")
    options = parser.parse_args()

    Options.scenario = options.scenario
    Options.log_path = options.log
    Options.world = World(options.inbox_size)
    Options.cert_dir = tempfile.mkdtemp(prefix="hostile-imap-")
    with open(os.path.join(Options.cert_dir, "cert.pem"), "w") as f:
        f.write(TEST_CERTIFICATE)
    with open(os.path.join(Options.cert_dir, "key.pem"), "w") as f:
        f.write(TEST_PRIVATE_KEY)

    server = Server(("127.0.0.1", options.port), Session)
    print(server.server_address[1], flush=True)

    def watch_stdin():
        # The test that started us holds the other end of our stdin pipe; when it ends (or dies),
        # so do we.
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            server.shutdown()

    def terminate(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    if stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        shutil.rmtree(Options.cert_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
