#!/usr/bin/env python3
"""Write N synthetic messages straight into a user's Maildir folder (fast path for big fixtures).

    . /tmp/mailbox-gateway-dovecot/env
    python3 integration/maildir-fill.py --mail-root "$IMAP_TEST_MAIL_ROOT" --user alice \\
        --folder Big --count 10000 [--seen-every 3] [--flagged-every 10] [--start 0]

Layout: the one dovecot-start.sh configures (maildir LAYOUT=fs, IMAP separator '/', folder
names stored on disk in IMAP modified UTF-7): folder "Projects/Big" is
<mail-root>/<user>/Maildir/Projects/Big/{cur,new,tmp}; INBOX is the Maildir root.
Missing directories are created (owned by the mail user, default vmail), so Dovecot lists
the folder. Files go to tmp/ and are renamed to cur/<unique>,S=<size>,W=<vsize>:2,<flags>.

Message i (i = start .. start+count-1) is deterministic from i and the folder: unique
Message-ID <fill-i.TAG@fill.example.test> (TAG = hash of user+folder), subject, From, Date
(scattered over 2015-2019, also the file mtime = INTERNALDATE) and size (~0.4-5 KB).
Messages come in threads of 4: i%4 != 0 replies to i-1 (In-Reply-To/References, "Re:").
UIDs follow i (file names sort by i). Flags: \\Seen when i % seen-every == 0,
\\Flagged when i % flagged-every == 0 (0 = never). Re-running with the same arguments
skips messages whose file already exists, so it is idempotent.

After writing, if a Dovecot config is known (--conf or $IMAP_TEST_DOVECOT_CONF) it runs
`doveadm -c CONF mailbox status -u USER messages FOLDER`, which makes Dovecot index the new
files at once and prints the folder's message count (--no-index skips that; a later IMAP
SELECT would index them then).
"""
import argparse
import hashlib
import os
import pwd
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maildir import make_dirs  # noqa: E402
from seed import imap_utf7_encode  # noqa: E402

FILE_TIME_BASE = 1_400_000_000          # maildir file-name timestamp of message 0 (sorts by i)
DATE_BASE = 1_420_070_400               # 2015-01-01T00:00:00Z
DATE_SPAN = 5 * 365 * 86400
NAMES = [("Alice Example", "alice@example.test"), ("Bob Martin", "bob@example.test"),
         ("Carol Jones", "carol@example.test"), ("Dave Kim", "dave@example.test"),
         ("Erin Walsh", "erin@corp.example"), ("Frank Ocean", "frank@corp.example"),
         ("Grace Hopper", "grace@navy.example"), ("Heidi Klum", "heidi@models.example"),
         ("Ivan Petrov", "ivan@example.ru"), ("Judy Chen", "judy@example.cn"),
         ("Mallory Evil", "mallory@spam.example"), ("Noreply", "noreply@service.example"),
         ("Renée Dupont", "renee@exemple.test")]
WORDS_A = ["Quarterly", "Weekly", "Urgent", "Draft", "Final", "Revised", "Monthly", "Annual",
           "Team", "Project", "Budget", "Security", "Release", "Customer", "Internal", "Travel"]
WORDS_B = ["report", "update", "meeting", "plan", "review", "invoice", "notes", "proposal",
           "schedule", "summary", "feedback", "request", "announcement", "checklist"]
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud "
         "exercitation ullamco laboris nisi aliquip ex ea commodo consequat").split()
# LINE_POOL[s][w]: 8+w words of LOREM starting at word s (body lines, precomputed for speed)
LINE_POOL = [[" ".join(LOREM[(s + j) % len(LOREM)] for j in range(8 + w)) for w in range(6)]
             for s in range(len(LOREM))]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def rfc2822(ts: int) -> str:
    t = time.gmtime(ts)
    return "%s, %02d %s %04d %02d:%02d:%02d +0000" % (
        WEEKDAYS[t.tm_wday], t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def encode_name(name: str) -> str:
    try:
        name.encode("ascii")
        return '"%s"' % name
    except UnicodeEncodeError:
        return "=?UTF-8?B?%s?=" % __import__("base64").b64encode(name.encode()).decode()


def msg_date(i: int) -> int:
    return DATE_BASE + (i * 2654435761) % DATE_SPAN


def base_subject(i: int) -> str:
    return "%s %s #%d" % (WORDS_A[(i * 7) % len(WORDS_A)], WORDS_B[(i * 11) % len(WORDS_B)], i)


def message(i: int, tag: str, folder: str) -> bytes:
    mid = lambda k: "<fill-%d.%s@fill.example.test>" % (k, tag)  # noqa: E731
    root = i - i % 4
    name, addr = NAMES[(i * 5) % len(NAMES)]
    h = ["From: %s <%s>" % (encode_name(name), addr),
         "To: Alice Example <alice@example.test>",
         "Subject: %s%s" % ("Re: " if i != root else "", base_subject(root)),
         "Date: " + rfc2822(msg_date(i)),
         "Message-ID: " + mid(i)]
    if i != root:
        h.append("In-Reply-To: " + mid(i - 1))
        h.append("References: " + " ".join(mid(k) for k in range(root, i)))
    if i % 7 == 0:
        h.append("X-Priority: %d" % (1 + (i // 7) % 5))
    h += ["X-Fill-Index: %d" % i, "X-Fill-Folder: %s" % imap_utf7_encode(folder),
          "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii"]
    lines = 5 + (i * 37) % 70
    body = ["Message %d of the synthetic fixture." % i, ""]
    body += [LINE_POOL[(i + k * 3) % len(LOREM)][(i + k) % 6] for k in range(lines)]
    return ("\n".join(h) + "\n\n" + "\n".join(body) + "\n").encode("utf-8")


def folder_dir(mail_root: str, user: str, folder: str) -> str:
    root = os.path.join(mail_root, user, "Maildir")
    if folder.upper() == "INBOX":
        return root
    parts = folder.split("/")
    for p in parts:
        if p in ("", ".", "..", "cur", "new", "tmp") or "\0" in p:
            sys.exit("maildir-fill: invalid folder name %r" % folder)
    return os.path.join(root, *(imap_utf7_encode(p) for p in parts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mail-root", default=os.environ.get("IMAP_TEST_MAIL_ROOT"))
    ap.add_argument("--user", required=True)
    ap.add_argument("--folder", required=True, help='IMAP name, "/"-separated, UTF-8 (e.g. Projects/Big)')
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, default=0, help="index of the first message (default 0)")
    ap.add_argument("--seen-every", type=int, default=0, metavar="K")
    ap.add_argument("--flagged-every", type=int, default=0, metavar="K")
    ap.add_argument("--owner", default=os.environ.get("IMAP_TEST_MAIL_OWNER", "vmail"))
    ap.add_argument("--conf", default=os.environ.get("IMAP_TEST_DOVECOT_CONF"),
                    help="dovecot.conf for the doveadm index step")
    ap.add_argument("--no-index", action="store_true", help="do not run doveadm after writing")
    args = ap.parse_args()
    if not args.mail_root:
        sys.exit("maildir-fill: --mail-root (or IMAP_TEST_MAIL_ROOT) is required")
    if args.count < 0 or args.start < 0:
        sys.exit("maildir-fill: --count and --start must be >= 0")

    t0 = time.monotonic()
    pw = pwd.getpwnam(args.owner)
    uid, gid = pw.pw_uid, pw.pw_gid
    chown = os.geteuid() == 0

    def mkdir(path):
        make_dirs(path, uid, gid, chown)

    fdir = folder_dir(args.mail_root, args.user, args.folder)
    for sub in ("cur", "new", "tmp"):
        mkdir(os.path.join(fdir, sub))
    # The Maildir root is INBOX: make sure it is a complete maildir too.
    for sub in ("cur", "new", "tmp"):
        mkdir(os.path.join(args.mail_root, args.user, "Maildir", sub))

    tag = hashlib.sha1(("%s\0%s" % (args.user, args.folder)).encode()).hexdigest()[:10]
    existing = set()
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(fdir, sub)):
            existing.add(name.split(":", 1)[0].split(",", 1)[0])

    tmpdir, curdir = os.path.join(fdir, "tmp"), os.path.join(fdir, "cur")
    written = skipped = 0
    for i in range(args.start, args.start + args.count):
        base = "%d.F%d.mbgw-fill-%s" % (FILE_TIME_BASE + i, i, tag)
        if base in existing:
            skipped += 1
            continue
        data = message(i, tag, args.folder)
        flags = ""
        if args.flagged_every and i % args.flagged_every == 0:
            flags += "F"
        if args.seen_every and i % args.seen_every == 0:
            flags += "S"
        name = "%s,S=%d,W=%d:2,%s" % (base, len(data), len(data) + data.count(b"\n"), flags)
        tmp = os.path.join(tmpdir, base)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            if chown:
                os.fchown(fd, uid, gid)
            when = msg_date(i)
            os.utime(fd, (when, when))
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(curdir, name))
        written += 1
    t_write = time.monotonic() - t0

    status = ""
    if args.conf and not args.no_index:
        r = subprocess.run(["doveadm", "-c", args.conf, "mailbox", "status", "-u", args.user,
                            "messages", args.folder], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("maildir-fill: doveadm mailbox status failed: %s" % r.stderr.strip())
        status = ", folder now has %s (indexed in %.2fs)" % (r.stdout.strip(), time.monotonic() - t0 - t_write)
    print("maildir-fill: %s/%s: %d written, %d already there, in %.2fs%s"
          % (args.user, args.folder, written, skipped, t_write, status))


if __name__ == "__main__":
    main()
