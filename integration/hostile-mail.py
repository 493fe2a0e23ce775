#!/usr/bin/env python3
"""Write the hostile-mail suite (issue 13) into a fresh Maildir folder and print its manifest.

    . /tmp/mailbox-gateway-dovecot/env
    python3 integration/hostile-mail.py --mail-root "$IMAP_TEST_MAIL_ROOT" --user hana --folder Hostile-1

Mail is written by strangers (SPEC §4): every message here carries one hostile header form —
overflowing and negative numbers in Date, years 0 and 99999, absurd zones, 10 KB subjects,
broken and unknown-charset encoded words, invalid UTF-8 and NUL bytes, empty and garbage
From/To, MIME nested 100 and 300 levels deep, huge and garbage X-Priority / Importance /
Priority, no header at all, a 100 KB header line. The gateway must list them under every sort
field, show an unreadable Date as the internal date, and keep running.

Messages are written as maildir-fill.py writes them (same layout, owned by the mail user,
tmp/ then cur/<unique>,S=<size>,W=<vsize>:2,), in manifest order, so message i gets UID i+1
in a fresh folder (Dovecot assigns UIDs to new files in file-name order). Each file's mtime —
Dovecot's INTERNALDATE for Maildir — is distinct, and the readable Date headers interleave with
them, so an unreadable Date sorting as its internal date is visible in a `SORT (DATE)` order.

Every message but "no-headers" starts with `X-Hostile-Form: <name>`. After writing, the script
has Dovecot index the folder (doveadm mailbox status, bumping cur/'s mtime until every message
is counted) and prints a JSON manifest on stdout:

    {"folder": ..., "count": N, "forms": [{"index", "name", "category", "internalDate",
      "date", "dateReadable", "importance"}, ...]}

where `internalDate` is seconds since 1970, `date` the ISO 8601 UTC date the gateway must show
(the Date header's instant, or the internal date when the Date cannot be read), and
`importance` low | normal | high. The folder must not exist yet (the suite wants fresh UIDs).
"""
import argparse
import hashlib
import json
import os
import pwd
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maildir import make_dirs  # noqa: E402
from seed import imap_utf7_encode  # noqa: E402

FILE_TIME_BASE = 1_500_000_000          # maildir file-name timestamp of message 0 (sorts by index)
DATE_BASE = 1_609_459_200               # 2021-01-01T00:00:00Z
STEP = 5 * 86400                        # internal dates and readable Date headers: 5 days apart
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def rfc5322_fields(local_ts):
    """`Fri, 01 Jan 2021 02:00:00` for the wall-clock time `local_ts` (seconds, read as UTC)."""
    t = time.gmtime(local_ts)
    return "%s, %02d %s %04d %02d:%02d:%02d" % (
        WEEKDAYS[t.tm_wday], t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def internal_date(i):
    return DATE_BASE + i * STEP + 3600


def header_date(i, count):
    """A readable Date header's instant: a permutation of the internal-date slots, 2 h later."""
    return DATE_BASE + ((i * 37) % count) * STEP + 2 * 3600


def nested_multipart(depth):
    """Content-Type value and body of `depth` nested multipart/mixed levels around one attachment."""
    ctype = b'application/octet-stream; name="deep.bin"'
    body = (b'Content-Disposition: attachment; filename="deep.bin"\n'
            b"Content-Transfer-Encoding: base64\n\nAAECAwQFBgc=\n")
    for level in range(depth):
        boundary = b"deep-%d" % level
        inner = b"Content-Type: " + ctype + b"\n" + body
        body = b"--" + boundary + b"\n" + inner + b"\n--" + boundary + b"--\n"
        ctype = b'multipart/mixed; boundary="' + boundary + b'"'
    return ctype, body


def nested_rfc822(depth):
    """Content-Type value and body of `depth` nested message/rfc822 levels around a text part."""
    inner = b"Subject: level 0\nContent-Type: text/plain\n\nThe innermost message.\n"
    for level in range(1, depth):
        inner = (b"Subject: level %d\nContent-Type: message/rfc822\n\n" % level) + inner
    return b"message/rfc822", inner


def forms():
    """The hostile forms: (name, category, changes). `changes` replaces or removes default headers
    (value None removes; bytes are written as they are), or gives `raw` for the whole message."""
    big = b"9" * 100_000
    deep_type, deep_body = nested_multipart(100)
    deeper_type, deeper_body = nested_multipart(300)
    rfc_type, rfc_body = nested_rfc822(50)
    unreadable = {"date_utc": None}
    out = [
        # Dates that cannot be read: the gateway shows (and Dovecot sorts by) the internal date.
        ("date-overflowing-hour", "date", dict(unreadable, Date=b"Mon, 1 Jan 2024 9999999999999999:00 +0000")),
        ("date-17-digit-year", "date", dict(unreadable, Date=b"Mon, 1 Jan 99999999999999999 10:00:00 +0000")),
        ("date-year-0", "date", dict(unreadable, Date=b"Mon, 1 Jan 0000 10:00:00 +0000")),
        ("date-year-99999", "date", dict(unreadable, Date=b"Mon, 1 Jan 99999 10:00:00 +0000")),
        ("date-year-1899", "date", dict(unreadable, Date=b"Sun, 31 Dec 1899 10:00:00 +0000")),
        ("date-negative-numbers", "date", dict(unreadable, Date=b"Mon, -1 Jan -2024 -10:-30:-00 -0000")),
        ("date-hour-24-minute-60", "date", dict(unreadable, Date=b"Mon, 1 Jan 2024 24:60:61 +0000")),
        ("date-february-30", "date", dict(unreadable, Date=b"Fri, 30 Feb 2024 10:00:00 +0000")),
        ("date-overflowing-day", "date", dict(unreadable, Date=b"Mon, 99999999999999999999 Jan 2024 10:00:00 +0000")),
        ("date-garbage", "date", dict(unreadable, Date=b"yesterday, around noon")),
        ("date-empty", "date", dict(unreadable, Date=b"")),
        ("date-missing", "date", dict(unreadable, Date=None)),
        ("date-100kb-number", "date", dict(unreadable, Date=b"Mon, 1 Jan 2024 " + big + b":00 +0000")),
        ("date-nul-byte", "date", dict(unreadable, Date=b"Mon, 1\x00 Jan 2024 10:00:00 +0000")),
        ("date-invalid-utf8", "date", dict(unreadable, Date=b"Mon, \xff\xfe Jan 2024 10:00:00 +0000")),
        # Absurd zones: the date is read, the zone counts as UTC or as hh*60+mm (as Dovecot does).
        ("zone-six-digits", "zone", {"zone": b"+99999", "offset": 0}),
        ("zone-twenty-digits", "zone", {"zone": b"-99999999999999999999", "offset": 0}),
        ("zone-double-sign", "zone", {"zone": b"+-0100", "offset": 0}),
        ("zone-minus-2400", "zone", {"zone": b"-2400", "offset": -24 * 60}),
        ("zone-plus-9959", "zone", {"zone": b"+9959", "offset": 99 * 60 + 59}),
        ("zone-plus-9999", "zone", {"zone": b"+9999", "offset": 99 * 60 + 99}),
        ("zone-garbage-name", "zone", {"zone": b"\xff\x00??", "offset": 0}),
        # Read as Dovecot's SORT reads them, and shown so (one reading for the order and the date
        # shown): a lower-case zone name is UTC (RFC 5322 would say -06:00), a military letter shifts
        # by Dovecot's arithmetic (RFC 5322 says -0000), a two-digit 60 is 2060 (RFC 5322: 1960),
        # and of two Date headers the first counts (ENVELOPE shows the last).
        ("zone-lowercase-name", "zone", {"zone": b"cst", "offset": 0}),
        ("zone-military-letter", "zone", {"zone": b"M", "offset": 12 * 60}),
        ("date-two-digit-year-60", "date", {"Date": b"Thu, 01 Jan 60 10:00:00 +0000", "at": 2_840_176_800}),
        ("date-second-header", "date", {"extra": b"Date: Mon, 01 Jan 2001 10:00:00 +0000\n"}),
        # Subjects and encoded words.
        ("subject-10kb", "subject", {"Subject": b" ".join(b"word%d" % k for k in range(1500))[:10_240]}),
        ("subject-broken-base64", "encoded-word", {"Subject": b"=?UTF-8?B?!!!!not*base64?= tail"}),
        ("subject-broken-q", "encoded-word", {"Subject": b"=?UTF-8?Q?=ZZ=+F=?= =?UTF-8?Q?=?="}),
        ("subject-unknown-charset", "encoded-word", {"Subject": b"=?x-klingon-1?Q?Qapla=FF=FE?= =?unknown?B?w6k=?="}),
        ("subject-unknown-encoding", "encoded-word", {"Subject": b"=?UTF-8?X?abc?= =??Q?x?= =?????="}),
        ("subject-invalid-utf8", "bytes", {"Subject": b"\xff\xfe\xc3\x28 \xe2\x82 \xed\xa0\x80 invalid"}),
        ("subject-nul-bytes", "bytes", {"Subject": b"a\x00b\x00\x00c"}),
        ("subject-3000-encoded-words", "encoded-word", {"Subject": b"=?UTF-8?B?w6k=?= " * 3000}),
        ("subject-5000-openers", "encoded-word", {"Subject": b"=?" * 5000}),
        ("subject-bare-cr", "bytes", {"Subject": b"a\rb\rc\r"}),
        # Addresses.
        ("from-empty", "address", {"From": b""}),
        ("from-garbage", "address", {"From": b'<<<@@@>>> ,,, ;;; "unterminated <x@'}),
        ("from-encoded-garbage", "address", {"From": b"=?UTF-8?B?////?= <a@b.test>, =?bogus?Q?=FF?= <c@d.test>"}),
        ("from-missing", "address", {"From": None}),
        ("to-empty", "address", {"To": b""}),
        ("to-garbage-groups", "address", {"To": b'undisclosed-recipients:;, :;, @@, <>, "" <>, ((('}),
        ("to-2000-addresses", "address", {"To": b", ".join(b"r%d@many.test" % k for k in range(2000))}),
        # MIME structure.
        ("multipart-100-levels", "mime", {"Content-Type": deep_type, "body": deep_body}),
        ("multipart-300-levels", "mime", {"Content-Type": deeper_type, "body": deeper_body}),
        ("rfc822-50-levels", "mime", {"Content-Type": rfc_type, "body": rfc_body}),
        ("multipart-empty-boundary", "mime", {"Content-Type": b'multipart/mixed; boundary=""',
                                               "body": b"--\n--\n\n----\n"}),
        ("content-type-garbage", "mime", {"Content-Type": b'///;;;="\x00; name*0*=%ZZ; charset*=\'\'%'}),
        ("content-length-huge", "mime", {"Content-Length": b"99999999999999999999"}),
        # Priority headers.
        ("x-priority-huge", "priority", {"X-Priority": b"99999999999999999999", "importance": "normal"}),
        ("x-priority-negative", "priority", {"X-Priority": b"-1", "importance": "normal"}),
        ("x-priority-10", "priority", {"X-Priority": b"10", "importance": "normal"}),
        ("x-priority-100kb", "priority", {"X-Priority": big, "importance": "normal"}),
        ("x-priority-highest", "priority", {"X-Priority": b"1 (Highest)", "importance": "high"}),
        ("importance-garbage", "priority", {"Importance": b"\x00\xff!!!", "importance": "normal"}),
        ("importance-low", "priority", {"Importance": b"low", "importance": "low"}),
        ("priority-huge", "priority", {"Priority": b"99999999999999999999999", "importance": "normal"}),
        ("priority-urgent-after-garbage", "priority", {"X-Priority": b"garbage", "Priority": b"urgent",
                                                       "importance": "high"}),
        # The header block itself.
        ("no-headers", "structure", {"raw": b"\nThis message has no header at all.\n", "date_utc": None}),
        ("header-line-100kb", "structure", {"X-Filler": b"x" * 100_000}),
        ("header-without-colon", "structure", {"extra": b"This line is not a header\n"}),
        ("header-name-8bit", "structure", {"extra": b"X-\xff\xfe: value\n"}),
        ("message-id-garbage", "structure", {"Message-ID": b"<<<>>>\x00 \xff"}),
    ]
    return out


def build(i, name, changes, count, tag):
    """The bytes of message i and its manifest entry."""
    internal = internal_date(i)
    entry = {"index": i, "name": name, "internalDate": internal, "importance": changes.get("importance", "normal")}
    if "raw" in changes:
        entry.update(date=iso(internal), dateReadable=False)
        return changes["raw"], entry
    instant = changes.get("at", header_date(i, count))
    headers = [
        ("X-Hostile-Form", name.encode()),
        ("From", b"Hostile Sender <sender@hostile.test>"),
        ("To", b"Hana <hana@example.test>"),
        ("Subject", b"hostile " + name.encode()),
        ("Date", rfc5322_fields(instant).encode() + b" +0000"),
        ("Message-ID", b"<hostile-%d.%s@hostile.test>" % (i, tag.encode())),
        ("MIME-Version", b"1.0"),
        ("Content-Type", b"text/plain; charset=us-ascii"),
    ]
    if "zone" in changes:
        # The wall-clock fields of `instant`, followed by the hostile zone.
        changes = dict(changes, Date=rfc5322_fields(instant).encode() + b" " + changes["zone"])
        instant -= changes["offset"] * 60
    readable = changes.get("date_utc", 0) is not None
    entry.update(date=iso(instant if readable else internal), dateReadable=readable)
    for key, value in changes.items():
        if key in ("importance", "date_utc", "zone", "offset", "body", "extra", "at"):
            continue
        headers = [(k, v) for (k, v) in headers if k.lower() != key.lower()]
        if value is not None:
            headers.append((key, value))
    block = b"".join(k.encode() + b": " + v + b"\n" for (k, v) in headers) + changes.get("extra", b"")
    body = changes.get("body", b"Hostile form: " + name.encode() + b"\n")
    return block + b"\n" + body, entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mail-root", default=os.environ.get("IMAP_TEST_MAIL_ROOT"))
    ap.add_argument("--user", required=True)
    ap.add_argument("--folder", required=True, help='IMAP name, "/"-separated (e.g. Hostile-1)')
    ap.add_argument("--owner", default=os.environ.get("IMAP_TEST_MAIL_OWNER", "vmail"))
    ap.add_argument("--conf", default=os.environ.get("IMAP_TEST_DOVECOT_CONF"),
                    help="dovecot.conf for the doveadm index step")
    args = ap.parse_args()
    if not args.mail_root:
        sys.exit("hostile-mail: --mail-root (or IMAP_TEST_MAIL_ROOT) is required")
    parts = args.folder.split("/")
    if args.folder.upper() == "INBOX" or any(p in ("", ".", "..", "cur", "new", "tmp") or "\0" in p for p in parts):
        sys.exit("hostile-mail: invalid folder name %r" % args.folder)

    pw = pwd.getpwnam(args.owner)
    uid, gid = pw.pw_uid, pw.pw_gid
    chown = os.geteuid() == 0
    root = os.path.join(args.mail_root, args.user, "Maildir")
    fdir = os.path.join(root, *(imap_utf7_encode(p) for p in parts))
    if os.path.exists(fdir):
        sys.exit("hostile-mail: folder %r exists already; the suite needs a fresh one" % args.folder)

    def mkdir(path):
        make_dirs(path, uid, gid, chown)

    for sub in ("cur", "new", "tmp"):
        mkdir(os.path.join(fdir, sub))
        mkdir(os.path.join(root, sub))

    tag = hashlib.sha1(("%s\0%s" % (args.user, args.folder)).encode()).hexdigest()[:10]
    table = forms()
    count = len(table)
    manifest = []
    for i, (name, category, changes) in enumerate(table):
        data, entry = build(i, name, changes, count, tag)
        entry["category"] = category
        manifest.append(entry)
        base = "%d.F%d.hostile-%s" % (FILE_TIME_BASE + i, i, tag)
        final = "%s,S=%d,W=%d:2," % (base, len(data), len(data) + data.count(b"\n"))
        tmp = os.path.join(fdir, "tmp", base)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            if chown:
                os.fchown(fd, uid, gid)
            os.utime(fd, (entry["internalDate"], entry["internalDate"]))
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(fdir, "cur", final))

    if args.conf:
        # Dovecot may miss files renamed into cur/ within the second of a scan it made meanwhile
        # (it trusts the directory's unchanged mtime): bump the mtime until it counts them all.
        cur = os.path.join(fdir, "cur")
        for _ in range(20):
            r = subprocess.run(["doveadm", "-c", args.conf, "-f", "tab", "mailbox", "status", "-u", args.user,
                                "messages", args.folder], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("hostile-mail: doveadm mailbox status failed: %s" % r.stderr.strip())
            lines = r.stdout.split()
            if lines and lines[-1] == str(count):
                break
            time.sleep(1.1)
            os.utime(cur)
        else:
            sys.exit("hostile-mail: Dovecot does not count %d messages in %s" % (count, args.folder))

    json.dump({"folder": args.folder, "count": count, "forms": manifest}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
