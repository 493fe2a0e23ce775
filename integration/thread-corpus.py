#!/usr/bin/env python3
"""Write a threading corpus straight into a Maildir folder, for comparing the gateway's own RFC 5256
REFERENCES threading with Dovecot's `UID THREAD REFERENCES` (Tests/GatewayTests/ThreadAgreementTests).

    . /tmp/mailbox-gateway-dovecot/env
    python3 integration/thread-corpus.py --user omar --folder Threads --count 8000 [--seed 5256]
    python3 integration/thread-corpus.py --user omar --folder Fixtures --fixtures integration/fixtures

Generated corpus (deterministic from --seed and --count; by default 8,000 messages, about 4,400
in reply trees and 3,600 hostile), delivered in an order where replies often arrive before what
they answer:

- realistic reply trees: threads of 1-60 messages, each reply answering an earlier message of
  its thread, with References (sometimes truncated as MUAs do: first + last few), In-Reply-To
  (sometimes followed by a comment or junk), or only one of them, or neither (subject only);
  Re:/RE:/Fwd:/Fw:/Re[2]:/[list] prefixes, (fwd) trailers, [fwd: ...] wrappers, RFC 2047 subjects;
  common subjects shared by unrelated threads; sent dates with zones, skew (replies older
  than their parent), missing or unreadable Date headers (none before 1970 and none exactly at
  the epoch: Dovecot misreads those, see SortKeys.sentDate);
- hostile cases: missing, empty, invalid and duplicated Message-IDs (copies and strangers sharing
  an ID, two Message-ID headers), References loops (2- to 5-cycles, self references, repeated IDs,
  orders contradicting each other), In-Reply-To only, broken IDs (unterminated, quoted and
  commented forms, spaces, case variants), subject-only threads with several originals, equal
  dates among roots and among siblings, messages without Date sharing an internal date, reply
  chains of 1,200 (delivered oldest first) and 1,100 (newest first) messages, deeper than the
  client's 1,000-level THREAD cap and Dovecot's link bound, and a message with 1,100 references.

--fixtures DIR instead copies DIR's *.eml files (integration/fixtures: in manifest.json order,
with its internal dates) into the folder.

Layout and ownership as integration/maildir-fill.py (Maildir LAYOUT=fs; files owned by the mail
user, renamed from tmp/ into cur/ with S= and W= sizes; file names sort in delivery order, so
UIDs follow it; the file mtime is the INTERNALDATE). Afterwards `doveadm mailbox status` makes
Dovecot index the folder (--no-index skips it). Prints the number of messages written.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import pwd
import random
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maildir import make_dirs  # noqa: E402
from seed import imap_utf7_encode  # noqa: E402

FILE_TIME_BASE = 1_500_000_000          # maildir file-name timestamp of message 0 (sorts by index)
DATE_BASE = 1_600_000_000               # 2020-09-13: sent dates spread after it
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
ZONES = [("+0000", 0), ("+0200", 120), ("-0800", -480), ("+0530", 330), ("+1400", 840), ("-1200", -720),
         ("GMT", 0), ("EST", -300), ("PDT", -420)]
WORDS = ["budget", "release", "meeting", "roadmap", "invoice", "outage", "hiring", "offsite", "design",
         "review", "security", "migration", "contract", "launch", "report", "backlog", "travel", "audit"]
COMMON_SUBJECTS = ["Question", "Meeting notes", "Hello", "Update", "Follow-up", "Quick question"]
NON_ASCII = ["Réunion d'équipe", "Überprüfung der Pläne", "Ünïcödé tëst", "日本語の件名", "Ça marche"]


class Corpus:
    def __init__(self, seed, tag):
        self.rng = random.Random(seed)
        self.tag = tag
        self.messages = []  # each: {"headers": [(name, value)], "body": str, "order": float, "internal": int}
        self.next_id = 0

    # --- building blocks -------------------------------------------------------------------

    def new_id(self, label="t"):
        self.next_id += 1
        return "<%s%d.%s@corpus.example>" % (label, self.next_id, self.tag)

    def date_header(self, ts):
        zone, minutes = self.rng.choice(ZONES)
        t = time.gmtime(ts + minutes * 60)
        return "%s, %d %s %04d %02d:%02d:%02d %s" % (
            WEEKDAYS[t.tm_wday], t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec, zone)

    def encoded(self, text):
        data = text.encode()
        if self.rng.random() < 0.5:
            return "=?UTF-8?B?%s?=" % base64.b64encode(data).decode()
        q = "".join(chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else
                    ("_" if b == 32 else "=%02X" % b) for b in data)
        return "=?utf-8?q?%s?=" % q

    def reply_subject(self, base):
        r = self.rng.random()
        if r < 0.62:
            return "Re: " + base
        if r < 0.70:
            return "RE: " + base
        if r < 0.74:
            return "Re: Re: " + base
        if r < 0.79:
            return "Fwd: " + base
        if r < 0.82:
            return "Fw: " + base
        if r < 0.85:
            return "Re[2]: " + base
        if r < 0.89:
            return "[team] Re: " + base
        if r < 0.92:
            return base + " (fwd)"
        if r < 0.94:
            return "[fwd: %s]" % base
        if r < 0.97:
            return "AW: " + base
        return "re:" + base

    def add(self, headers, order, internal=None, body=None):
        """A message: `headers` in order (None values are left out), delivered at `order`."""
        self.messages.append({
            "headers": [(n, v) for n, v in headers if v is not None],
            "body": body or "Message %d of the threading corpus.\n" % len(self.messages),
            "order": order,
            "internal": internal if internal is not None else int(DATE_BASE + order),
        })

    def standard(self, mid, subject, ts, refs=None, irt=None, date=None, extra=()):
        return [("From", "Sender %d <s%d@corpus.example>" % (len(self.messages) % 17, len(self.messages) % 17)),
                ("To", "omar@corpus.example"),
                ("Subject", subject),
                ("Date", date if date is not None else self.date_header(ts)),
                ("Message-ID", mid),
                ("In-Reply-To", irt),
                ("References", refs)] + list(extra)

    # --- realistic reply trees -------------------------------------------------------------

    def thread(self, start):
        rng = self.rng
        r = rng.random()
        size = 1 if r < 0.3 else rng.randint(2, 5) if r < 0.7 else rng.randint(6, 20) if r < 0.95 else rng.randint(21, 60)
        if rng.random() < 0.06:
            base = rng.choice(COMMON_SUBJECTS)
        elif rng.random() < 0.04:
            base = rng.choice(NON_ASCII) + " %d" % start
        else:
            base = "%s %s %d" % (rng.choice(WORDS).capitalize(), rng.choice(WORDS), start)
        root_ts = DATE_BASE + rng.randint(0, 3 * 365 * 86400)
        members = []  # (id, refs list, ts, date header)
        for k in range(size):
            mid = self.new_id()
            if k == 0:
                parent = None
                refs, ts = [], root_ts
                subject = base
            else:
                parent = members[max(0, len(members) - 1 - int(rng.expovariate(0.7)))] if rng.random() < 0.8 \
                    else rng.choice(members)
                refs = parent[1] + [parent[0]]
                skew = rng.random() < 0.03
                ts = parent[2] + (-rng.randint(60, 7200) if skew else rng.randint(30, 3 * 86400))
                subject = self.reply_subject(base)
            if any(ord(c) > 127 for c in subject) or rng.random() < 0.02:
                subject = self.encoded(subject)
            date = self.date_header(ts)
            r = rng.random()
            if k > 0 and r < 0.05 and len(members) > 1:
                date = rng.choice(members[1:])[3]  # the same Date as a sibling or cousin: a tie
            elif r < 0.07:
                date = None  # no Date header: the internal date counts
            elif r < 0.08:
                date = "sometime last week"
            shown_refs = refs
            if len(refs) > 6 and rng.random() < 0.5:
                shown_refs = refs[:1] + refs[-3:]  # truncated as MUAs do
            irt = parent[0] if parent else None
            r = rng.random()
            refs_header = " ".join(shown_refs) if shown_refs else None
            if refs_header and len(refs_header) > 70 and rng.random() < 0.5:
                refs_header = "\n\t".join(shown_refs)  # folded over several lines
            if parent and r < 0.10:
                refs_header = None  # In-Reply-To only
            elif parent and r < 0.14:
                irt = None  # References only
            elif parent and r < 0.18:
                refs_header, irt = None, None  # subject only
            elif parent and r < 0.21:
                irt = "%s (Sender's message of yesterday)" % parent[0]
            elif parent and r < 0.23:
                irt = 'Your message of "Mon, 1 Jan" %s' % parent[0]
            headers = self.standard(mid, subject, ts, refs=refs_header, irt=irt, date=date if date else None)
            if date is None:
                headers = [(n, v) for n, v in headers if n != "Date"]
            order = start + k + rng.uniform(-8, 8)  # replies may arrive before their parent
            self.add(headers, order, internal=ts + rng.randint(0, 600))
            members.append((mid, refs, ts, date or self.date_header(ts)))
        return size

    # --- hostile cases -----------------------------------------------------------------------

    def hostile(self, start):
        rng, n = self.rng, start
        ts = DATE_BASE + 200 * 86400

        def put(headers, internal=None):
            nonlocal n
            self.add(headers, n, internal=internal)
            n += 1

        # Missing, empty and invalid Message-IDs, some referenced by others.
        for label, value in [("missing", None), ("empty", ""), ("no-brackets", "plain@corpus.example"),
                             ("no-at", "<no-at-sign>"), ("empty-brackets", "<>"), ("unterminated", "<open@corpus.example"),
                             ("only-at", "<@>"), ("junk", "(no id here)")]:
            for k in range(4):
                put(self.standard(value, "Invalid id %s" % label, ts + k, refs=value if k % 2 else None))
        # Duplicated Message-IDs: exact copies, strangers sharing an ID, replies to the shared ID.
        for k in range(25):
            mid = self.new_id("dup")
            original = self.standard(mid, "Duplicate %d" % k, ts + 100 + k)
            put(original)
            put(original)  # an exact copy
            put(self.standard(mid, "Stranger with the same id %d" % k, ts + 50 + k))
            put(self.standard(self.new_id(), "Re: Duplicate %d" % k, ts + 200 + k, refs=mid, irt=mid))
            put(self.standard(mid, "Re: Duplicate %d" % k, ts + 300 + k, refs=mid, irt=mid))
        for k in range(10):  # two Message-ID headers: the first counts
            a, b = self.new_id("twice"), self.new_id("twice")
            put(self.standard(a, "Two ids %d" % k, ts + k, extra=[("Message-ID", b)]))
            put(self.standard(self.new_id(), "Re: Two ids %d" % k, ts + 10 + k, refs=b if k % 2 else a))
        # Two Subject and two Date headers: the first of each counts, in THREAD as in SORT. A reply
        # linked by subject only joins by the first subject, not the second; siblings under one root
        # are ordered by their first Date, which the second would reverse.
        for k in range(10):
            root = self.new_id("twice")
            put(self.standard(root, "Two subjects %d" % k, ts + 30 + k,
                              extra=[("Subject", "Second subject %d" % k), ("Date", self.date_header(ts - 400 * 86400))]))
            put(self.standard(self.new_id("twice"), "Re: Two subjects %d" % k, ts + 40 + k))
            put(self.standard(self.new_id("twice"), "Re: Second subject %d" % k, ts + 50 + k))
            for first, second in [(60, 95), (70, 85), (80, 75), (90, 65)]:
                put(self.standard(self.new_id("twice"), "Re: Two subjects %d" % k, ts + first + k, refs=root, irt=root,
                                  extra=[("Date", self.date_header(ts + second + k))]))
        # Reference loops.
        for size in (2, 3, 4, 5):
            for k in range(8):
                ids = [self.new_id("loop") for _ in range(size)]
                for j, mid in enumerate(ids):
                    put(self.standard(mid, "Loop %d-%d" % (size, k), ts + 400 + j, refs=ids[j - 1]))
        for k in range(15):
            a, b, c = self.new_id("self"), self.new_id("self"), self.new_id("self")
            put(self.standard(a, "Self reference %d" % k, ts + 500 + k, refs=a, irt=a))
            put(self.standard(b, "Re: Self reference %d" % k, ts + 501 + k, refs=" ".join([a, b, c])))
            put(self.standard(c, "Re: Self reference %d" % k, ts + 502 + k, refs=" ".join([c, a, c, b])))
            put(self.standard(self.new_id(), "Re: Self reference %d" % k, ts + 503 + k, refs=" ".join([b, a, b, a])))
        for k in range(15):  # two chains naming the same IDs in opposite orders, then the messages themselves
            x, y, z = self.new_id("order"), self.new_id("order"), self.new_id("order")
            put(self.standard(self.new_id(), "Order %d" % k, ts + 600, refs=" ".join([x, y, z])))
            put(self.standard(self.new_id(), "Order %d" % k, ts + 601, refs=" ".join([z, y, x])))
            put(self.standard(y, "Order %d" % k, ts + 602, refs=x))
            put(self.standard(z, "Order %d" % k, ts + 603))
            put(self.standard(x, "Order %d" % k, ts + 604, refs=z))
        # In-Reply-To only, with several IDs or junk; References without a valid ID.
        for k in range(20):
            a, b = self.new_id("irt"), self.new_id("irt")
            put(self.standard(a, "Reply target %d" % k, ts + 700 + k))
            put(self.standard(b, "Re: Reply target %d" % k, ts + 701 + k, irt="%s %s" % (a, self.new_id("other"))))
            put(self.standard(self.new_id(), "Re: Reply target %d" % k, ts + 702 + k, refs="<broken> junk",
                              irt="joe's note %s" % b))
            put(self.standard(self.new_id(), "Re: Reply target %d" % k, ts + 703 + k, refs="",
                              irt="<no-at> %s" % a))
        # Broken and oddly written IDs: quoted and commented forms, spaces, case.
        for k in range(15):
            host = "odd%d.corpus.example" % k
            put(self.standard('<"quoted.%d"@%s>' % (k, host), "Odd ids %d" % k, ts + 800))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 801, refs="<quoted.%d@%s>" % (k, host)))
            put(self.standard("<spaced %d @%s>" % (k, host), "Odd ids %d" % k, ts + 802))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 803, refs="<spaced%d@%s>" % (k, host)))
            put(self.standard("<commented.%d (note) @ %s>" % (k, host), "Odd ids %d" % k, ts + 804))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 805, refs="<commented.%d@%s>" % (k, host)))
            put(self.standard("<Case.%d@%s>" % (k, host), "Odd ids %d" % k, ts + 806))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 807, refs="<case.%d@%s>" % (k, host)))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 808,
                              refs="<unterminated.%d@%s <Case.%d@%s>" % (k, host, k, host)))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 809,
                              refs='<"a b".%d@%s> <Case.%d@%s>' % (k, host, k, host)))
            put(self.standard("<lit.%d@[10.0.0.%d]>" % (k, k), "Odd ids %d" % k, ts + 810))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 811, irt="<lit.%d@[10.0.0.%d]>" % (k, k)))
            put(self.standard('<"litq.%d"@[10.0.0.%d]>' % (k, k), "Odd ids %d" % k, ts + 812))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 813, refs='<"litq.%d"@[10.0.0.%d]>' % (k, k)))
            put(self.standard("<pre.%d<mid.%d@%s>" % (k, k, host), "Odd ids %d" % k, ts + 814))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 815, refs="<mid.%d@%s>" % (k, host)))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 816, refs="<pre.%d<mid.%d@%s>" % (k, k, host)))
            put(self.standard('<"q\\"p.%d"@%s>' % (k, host), "Odd ids %d" % k, ts + 817))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 818, refs='<"q\\"p.%d"@%s>' % (k, host)))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 819,
                              refs="<nothere.%d@%s> (see <Case.%d@%s>)" % (k, host, k, host)))
            put(self.standard("<nest.%d ((a) b) @%s>" % (k, host), "Odd ids %d" % k, ts + 820))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 821, refs="<nest.%d@%s>" % (k, host)))
            put(self.standard("<unt.%d (oops @%s>" % (k, host), "Odd ids %d" % k, ts + 822))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 823, refs="<unt.%d@%s>" % (k, host)))
            put(self.standard("<fold.%d@\n %s>" % (k, host), "Odd ids %d" % k, ts + 824))
            put(self.standard(self.new_id(), "Re: Odd ids %d" % k, ts + 825, irt="<fold.%d@%s>" % (k, host)))
        # Subject-only threads: no references at all.
        variants = ["{s}", "Re: {s}", "RE: {s}", "Fwd: {s}", "re: re: {s}", "{s} (fwd)", "[fwd: {s}]",
                    "[list] {s}", "Re: [list] {s}", "  {s}  ", "{s}\t", "Fw: {S}", "{S}"]
        for k in range(60):
            s = "Subject only %d" % k
            count = rng.randint(2, 8)
            originals = 0
            for j in range(count):
                v = rng.choice(variants)
                if j == 0 and k % 3 == 0:
                    v = "Re: {s}"  # threads with no original at all
                originals += v in ("{s}", "[list] {s}", "  {s}  ", "{s}\t", "{S}")
                put(self.standard(self.new_id("subj"), v.format(s=s, S=s.upper()), ts + 900 + rng.randint(0, 50)))
        # Equal dates: roots with one Date, siblings with one Date, messages without Date sharing
        # an internal date.
        same = "Mon, 05 Oct 2020 10:00:00 +0000"
        for k in range(30):
            put(self.standard(self.new_id("tie"), "Tie root %d" % (k % 10), 0, date=same))
        for k in range(10):
            root = self.new_id("tie")
            put(self.standard(root, "Tie parent %d" % k, ts))
            for j in range(4):
                put(self.standard(self.new_id("tie"), "Re: Tie parent %d" % k, 0, refs=root, date=same))
        for k in range(20):
            headers = [(h, v) for h, v in self.standard(self.new_id("nodate"), "No date %d" % (k % 4), 0)
                       if h != "Date"]
            put(headers, internal=DATE_BASE + 5000)
        # Very deep chains (In-Reply-To only): delivered oldest first, Dovecot breaks it below its
        # 1,002nd message; delivered newest first, it stays whole and deeper than the client's cap.
        previous = None
        for k in range(1200):
            mid = self.new_id("deep")
            put(self.standard(mid, "Re: Deep chain" if previous else "Deep chain", ts + 2000 + k, irt=previous))
            previous = mid
        backwards = [self.new_id("back") for _ in range(1100)]
        for k in reversed(range(1100)):
            put(self.standard(backwards[k], "Re: Backward chain" if k else "Backward chain", ts + 4000 + k,
                              irt=backwards[k - 1] if k else None))
        # A References list of 1,100 IDs: Dovecot uses the first 1,001; some of them are messages.
        many = [self.new_id("many") for _ in range(1100)]
        for k in (0, 500, 999, 1000, 1001, 1002, 1099):
            put(self.standard(many[k], "Listed %d" % k, ts + 8000 + k))
        put(self.standard(self.new_id(), "Many references", ts + 9000, refs="\n ".join(many)))
        put(self.standard(self.new_id(), "Re: Many references", ts + 9001, irt=many[1050]))
        return n - start


def render(msg):
    lines = ["%s: %s" % (n, v) for n, v in msg["headers"]]
    return ("\n".join(lines) + "\n\n" + msg["body"]).encode("utf-8")


def generated(args, tag):
    corpus = Corpus("%s\0%d" % (args.seed, args.count), tag)
    hostile = corpus.hostile(0)
    position = hostile
    while len(corpus.messages) < args.count:
        position += corpus.thread(position) + 3
    # Interleave: the hostile block spread over the whole delivery, the trees by their jittered order.
    scale = position / max(1, hostile)
    for i, m in enumerate(corpus.messages[:hostile]):
        m["order"] = i * scale + 0.5
    messages = sorted(corpus.messages, key=lambda m: m["order"])
    return [(render(m), m["internal"]) for m in messages]


def from_fixtures(directory):
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    out = []
    for entry in manifest["messages"]:
        data = open(os.path.join(directory, entry["file"]), "rb").read()
        when = datetime.datetime.fromisoformat(entry["internaldate"]).timestamp()
        out.append((data, int(when)))
    return out


def folder_dir(mail_root, user, folder):
    root = os.path.join(mail_root, user, "Maildir")
    if folder.upper() == "INBOX":
        return root
    parts = folder.split("/")
    for p in parts:
        if p in ("", ".", "..", "cur", "new", "tmp") or "\0" in p:
            sys.exit("thread-corpus: invalid folder name %r" % folder)
    return os.path.join(root, *(imap_utf7_encode(p) for p in parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mail-root", default=os.environ.get("IMAP_TEST_MAIL_ROOT"))
    ap.add_argument("--user", required=True)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--count", type=int, default=8000, help="at least this many messages (default 8000)")
    ap.add_argument("--seed", default="5256")
    ap.add_argument("--fixtures", metavar="DIR", help="copy DIR's manifest messages instead of generating")
    ap.add_argument("--owner", default=os.environ.get("IMAP_TEST_MAIL_OWNER", "vmail"))
    ap.add_argument("--conf", default=os.environ.get("IMAP_TEST_DOVECOT_CONF"))
    ap.add_argument("--no-index", action="store_true")
    args = ap.parse_args()
    if not args.mail_root:
        sys.exit("thread-corpus: --mail-root (or IMAP_TEST_MAIL_ROOT) is required")

    t0 = time.monotonic()
    pw = pwd.getpwnam(args.owner)
    chown = os.geteuid() == 0

    def mkdir(path):
        make_dirs(path, pw.pw_uid, pw.pw_gid, chown)

    fdir = folder_dir(args.mail_root, args.user, args.folder)
    for sub in ("cur", "new", "tmp"):
        mkdir(os.path.join(fdir, sub))
        mkdir(os.path.join(args.mail_root, args.user, "Maildir", sub))
    if os.listdir(os.path.join(fdir, "cur")) or os.listdir(os.path.join(fdir, "new")):
        sys.exit("thread-corpus: %s is not empty" % args.folder)

    tag = hashlib.sha1(("%s\0%s" % (args.user, args.folder)).encode()).hexdigest()[:10]
    messages = from_fixtures(args.fixtures) if args.fixtures else generated(args, tag)
    for i, (data, when) in enumerate(messages):
        base = "%d.T%d.mbgw-thread-%s" % (FILE_TIME_BASE + i, i, tag)
        vsize = len(data) + data.count(b"\n") - data.count(b"\r\n")
        tmp = os.path.join(fdir, "tmp", base)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            if chown:
                os.fchown(fd, pw.pw_uid, pw.pw_gid)
            os.utime(fd, (when, when))
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(fdir, "cur", "%s,S=%d,W=%d:2," % (base, len(data), vsize)))

    status = ""
    if args.conf and not args.no_index:
        r = subprocess.run(["doveadm", "-c", args.conf, "mailbox", "status", "-u", args.user, "messages",
                            args.folder], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("thread-corpus: doveadm mailbox status failed: %s" % r.stderr.strip())
        status = ", folder now has %s" % r.stdout.strip()
    print("thread-corpus: %s/%s: %d written in %.2fs%s" % (args.user, args.folder, len(messages),
                                                           time.monotonic() - t0, status))
    print(len(messages))


if __name__ == "__main__":
    main()
