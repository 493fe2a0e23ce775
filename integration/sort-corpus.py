#!/usr/bin/env python3
"""Write a generated corpus of messages with tricky sort keys straight into a Maildir folder.

    . /tmp/mailbox-gateway-dovecot/env
    python3 integration/sort-corpus.py --mail-root "$IMAP_TEST_MAIL_ROOT" --user nina \\
        --folder SortCorpus --count 6000 [--seed 5256] [--fixtures integration/fixtures]

The corpus proves the gateway's own RFC 5256 sort keys (Sources/GatewayCore/Ordering) against
Dovecot's `UID SORT` (Tests/GatewayTests/SortAgreementTests.swift). Message i is deterministic
from i and the seed. Its headers mix, independently:

- Subject: reply/forward leaders in every case and spacing (`Re:`, `FWD [x]:`, `re:re:`), blobs
  (`[list]`, unclosed, nested, empty), `(fwd)` trailers, `[fwd: …]` wrappers, deep nests; RFC 2047
  words in several charsets (UTF-8, ISO-8859-1/2/15, Windows-1252, KOI8-R, ISO-2022-JP,
  Shift_JIS, GB2312, Big5, EUC-KR) in B and Q, adjacent, inside words, split inside a
  character, malformed (bad base64, broken `=XX`, missing `?=`, unknown encodings and charsets);
  raw UTF-8 and raw Latin-1 octets; case and Unicode variants (precomposed and combining
  accents, fullwidth forms, ligatures, ß, σ/ς, dotted I, Hangul, no-break and ideographic
  spaces); empty, whitespace-only, missing; long and many-times-nested subjects; few distinct
  bases, so many ties.
- Date: zones numeric (odd ones too), named (any case), military, missing, in comments;
  weekday or not; 2- and 4-digit years, obsolete forms, `.` separators, leap seconds; dates
  that cannot be read (30 Feb, 24:00, garbage, empty) or are missing; years 1900–9999, pre-1970
  and post-2106 instants; exactly the epoch. Internal dates (file mtimes) come from a small set.
- From/To: display names plain, quoted and encoded; case variants of one mailbox; quoted and
  8-bit local parts; groups (`undisclosed-recipients:;`, named groups); several addresses;
  missing and empty headers; broken syntax.
- Size: bodies of a few lengths, so sizes tie often.

About one message in sixteen carries a second Subject or Date header, or both, after the first
(malformed: RFC 5322 allows one of each). ENVELOPE shows the last Subject and Date where SORT
reads the first, so these prove the gateway reads the first header (SortKeys.fetchItems). They
come from a generator of their own, so the rest of the corpus is the same with or without them.
Second From and To headers are left out: Dovecot's ENVELOPE and SORT read different ones of
those too, and the gateway takes addresses from ENVELOPE (a documented difference, README). Files go to tmp/ and are renamed into
cur/ with S= and W= (the RFC822.SIZE) in their names, owned by the mail user, like
integration/maildir-fill.py; then `doveadm mailbox status` makes Dovecot index them.

--fixtures DIR writes the .eml files of DIR (integration/fixtures) instead, with the internal
dates of its manifest.json.
"""
import argparse
import base64
import json
import os
import pwd
import random
import subprocess
import sys
import time
from datetime import datetime

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from maildir import make_dirs  # noqa: E402
from seed import imap_utf7_encode  # noqa: E402

BASES = [
    "Quarterly report", "quarterly REPORT", "Budget", "budget", "BUDGET", "Meeting notes",
    "café", "cafe\u0301", "CAFÉ", "Straße", "STRASSE", "strasse", "ΣΟΦΟΣ σοφος", "σοφοσ",
    "İstanbul", "istanbul", "ıstanbul", "ﬁnance", "finance", "ＦＵＬＬｗｉｄｔｈ", "fullwidth",
    "Ångström", "Ångström", "Kelvin", "ⅰⅱⅲ roman", "Ⅰ roman", "x² power", "ª ordinal",
    "日本語の件名", "会議の議事録", "한국어 제목", "Привет мир", "привет МИР", "Ελληνικά",
    "Tiếng Việt ệ", "emoji 🎉 party", "zero\u200bwidth", "no\u00a0break", "ideo\u3000space",
    "ǅungla", "ǆungla", "Ǆungla", "mixed Case", "MIXED case", "1234", "!bang", "~tilde",
    "a", "A", "z", "Z", "", " ", "[list]", "(fwd)", "re", "fw", "fwd", "Re", "REPORT: x",
    "Fwd", "Rep: not a leader", "AW: german", "Ré: accent", "[fwd: inner]", "x [y] z",
]

LEADERS = [
    "", "", "", "Re: ", "RE: ", "re: ", "Re:", "Re : ", "re:re: ", "Re: Re: ", "Fwd: ", "FWD: ",
    "fwd:", "Fw: ", "FW: ", "fw : ", "Re[2]: ", "Re [2]: ", "RE [x]:", "[list] ", "[list] Re: ",
    "[list]Re: ", "[a][b] re: ", "Re: [list] ", "Re: [list] Fwd: ", "[PATCH 1/2] ", "[] ", "[[x]] ",
    "[oops ", "\t Re:\t", "  ", "Re:  Fwd:   ", "ＲＥ：", "Re\u00a0: ", "fwd [x]: ", "Fwd [x] : ",
]

TRAILERS = ["", "", "", " (fwd)", "(fwd)", " (FWD)", " (fwd) (fwd)", " (Fwd)  ", "  ", " (fwd)x"]

CHARSETS = [
    ("utf-8", "utf-8"), ("UTF-8", "utf-8"), ("iso-8859-1", "latin-1"), ("ISO-8859-2", "iso8859_2"),
    ("iso-8859-15", "iso8859_15"), ("windows-1252", "cp1252"), ("koi8-r", "koi8_r"),
    ("iso-2022-jp", "iso2022_jp"), ("shift_jis", "shift_jis"), ("gb2312", "gb2312"), ("big5", "big5"),
    ("euc-kr", "euc_kr"), ("us-ascii", "ascii"),
]

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
ZONES = ["+0000", "-0000", "+0100", "-0500", "+0530", "+1400", "-1200", "+9959", "-0099", "+2400",
         "GMT", "UT", "UTC", "Z", "EST", "EDT", "cst", "PDT", "pst", "MsT", "A", "M", "N", "Y",
         "J", "a", "z", "k", "1", "XYZ", "+01", "(CET)", "", "+0100 (CET)", "GMT+1", "+01:00"]
MAILBOXES = ["alice", "Alice", "ALICE", "bob", "Bob.Smith", "carol", "dave", "zed", "Zoë", "zoe",
             "ZOË", "\u00e9lise", "e\u0301lise", "ÉLISE", "jürgen", "Jürgen", "_under", "1st", "~x",
             "=?utf-8?q?x?=", "ｆｕｌｌ", "ǆ", "straße", "STRASSE"]
HOSTS = ["example.test", "Example.TEST", "xn--bcher-kva.example", "corp.example"]
NAMES = ["", "Alice Example", "\"Doe, John\"", "=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=",
         "=?iso-8859-1?b?QmVybmFyZCBM6WdlcmU=?=", "Zoë", "\"\"", "(comment)"]
INTERNAL_DATES = [1_600_000_000, 1_600_000_000, 1_650_000_000, 1_700_000_000, 1_700_086_400,
                  1_500_000_000, 1_000_000_000]


def encode_word(rng, text, charset, codec):
    """One RFC 2047 word of text, or None when charset cannot hold it."""
    try:
        raw = text.encode(codec)
    except (UnicodeEncodeError, LookupError):
        return None
    if rng.random() < 0.5:
        return "=?%s?%s?%s?=" % (charset, rng.choice("Bb"), base64.b64encode(raw).decode())
    q = "".join(chr(b) if 0x21 <= b < 0x7f and chr(b) not in "=?_ " else ("_" if b == 0x20 else "=%02X" % b)
                for b in raw)
    return "=?%s?%s?%s?=" % (charset, rng.choice("Qq"), q)


def encoded(rng, text):
    """text as encoded words (whole, split in two, or mixed with plain text); None if not encodable."""
    charset, codec = rng.choice(CHARSETS)
    mode = rng.random()
    if mode < 0.6 or len(text) < 2:
        return encode_word(rng, text, charset, codec)
    cut = rng.randrange(1, len(text))
    a, b = encode_word(rng, text[:cut], charset, codec), encode_word(rng, text[cut:], charset, codec)
    if a is None or b is None:
        return None
    if mode < 0.8:
        return a + rng.choice([" ", "  ", "\r\n ", "\t", ""]) + b
    return text[:cut] + rng.choice(["", " "]) + b


def q_text(word):
    """The ASCII characters of word as Q-encoded text (others dropped); "x" when none remain."""
    return "".join(c if c.isalnum() else "=%02X" % ord(c) for c in word if c.isascii()) or "x"


def hostile_subject(rng, i):
    """Malformed or extreme subjects; most carry a base word, so their keys interleave with others."""
    word = rng.choice([b for b in BASES if b.strip()])
    q = q_text(word)
    utf8_q = "".join("=%02x" % b for b in word.encode())
    k = rng.randrange(32)
    if k == 0:
        return "=?utf-8?b?" + base64.b64encode(word.encode()).decode()[:-2] + "?= broken tail"
    if k == 1:
        return "=?utf-8?q?%s=ZZhex=4?= x" % q
    if k == 2:
        return "=?utf-8?q?no end marker " + word
    if k == 3:
        return "=?x-unknown?q?%s?= tail" % q
    if k == 4:
        return "=?utf-8*en?q?%s?= tail" % q
    if k == 5:
        return "=?utf-8?x?%s?=" % q
    if k == 6:
        raw = (word + "é").encode()
        cut = len(raw) - 1
        return "=?utf-8?b?" + base64.b64encode(raw[:cut]).decode() + "?==?utf-8?b?" \
            + base64.b64encode(raw[cut:]).decode() + "?= " + word
    if k == 7:
        return "=?utf-8?q?Re:?= " + word
    if k == 8:
        return "before=?utf-8?q?%s?=after" % q
    if k == 9:
        return "Re: " * rng.randrange(50, 400) + word
    if k == 10:
        return "".join(rng.choice(["Re: ", "[x] ", "Fwd: ", "re[1]: ", "FW [a]: ", " "]) for _ in range(300)) + word
    if k == 11:
        return "[fwd: " * 40 + word + "]" * 40
    if k == 12:
        return word + " " + "word " * rng.randrange(200, 900)
    if k == 13:
        return "raw latin1 caf\xe9 \xe0 la carte"  # written as raw Latin-1 octets below
    if k == 14:
        return "=?iso-8859-1?q?caf=E9?= =?utf-8?q?caf=C3=A9?= " + word
    if k == 15:
        return "[" * 50 + word
    if k == 16:
        return "]" * 20 + " " + word
    if k == 17:
        return word + "(fwd)" * 30
    if k == 18:
        return "=?utf-8?q?=F0=9F?= " + word
    if k == 19:
        return "=??q?%s?=" % q
    if k == 20:
        return "=?utf-8?b?////?= " + word
    if k == 21:
        return "[fwd: Re: [list] %s (fwd)]" % word
    if k == 22:
        return "=?iso-2022-jp?b?GyRCJEYkOSRIGyhC?= " + word
    if k == 23:
        return "=?utf-8?q?%s?=" % utf8_q  # lower-case hex
    if k == 24:
        b64 = base64.b64encode(word.encode()).decode()
        return "=?utf-8?b?%s\r\n %s?=" % (b64[:4], b64[4:])  # folded inside the word
    if k == 25:
        return "=?utf-8?q?a?= =?bogus " + word
    if k == 26:
        return "=?utf-8?q?=5Bfwd:_?=" + word + "=?utf-8?q?=5D?="  # encoded wrapper
    if k == 27:
        return "=?UTF-8?Q?" + q + "?= =?x-unknown?b?" + base64.b64encode(word.encode()).decode() + "?="
    if k == 28:
        return "=?windows-1252?q?=80=81=8D?= " + word  # undefined octets: EILSEQ in iconv
    if k == 29:
        return "=?utf-8?q?" + q + "=00tail?="  # a NUL ends what the steps see
    if k == 30:
        return "\t\t  \t"
    return "=?shift_jis?b?" + base64.b64encode(b"\x82\xa0\xff" + word.encode("utf-8")).decode() + "?="


def subject(rng, i):
    r = rng.random()
    if r < 0.03:
        return None
    if r < 0.2:
        return hostile_subject(rng, i)
    base = rng.choice(BASES)
    text = rng.choice(LEADERS) + base + rng.choice(TRAILERS)
    if rng.random() < 0.1:
        text = "[fwd: " + text + "]"
    if rng.random() < 0.05:
        text = "[Fwd: " + rng.choice(LEADERS) + text + "] (fwd)"
    if rng.random() < 0.3:
        pieces = text.split(" ")
        j = rng.randrange(len(pieces))
        word = encoded(rng, pieces[j]) if pieces[j] else None
        if word is not None:
            pieces[j] = word
            text = " ".join(pieces)
    if rng.random() < 0.05:
        text = text.replace(" ", "\r\n ", 1)
    return text


def date_header(rng, i):
    r = rng.random()
    if r < 0.05:
        return None
    if r < 0.10:
        return rng.choice(["", "garbage", "Mon, 30 Feb 2024 10:00:00 +0000", "Mon, 1 Jan 2024 24:00:00 +0000",
                           "Mon, 1 Jan 2024 10:60:00 +0000", "1 Jan 24", "Mon 1 Jan 2024 10:00:00 +0000",
                           "Mon, 1 Jan 999 10:00:00 +0000", "Mon, 1 Jan 1899 10:00:00 +0000",
                           "Mon, 32 Jan 2024 10:00:00 +0000", "Mon, 1 Foo 2024 10:00:00 +0000",
                           "2024-01-01T10:00:00Z", "Mon, 1 Jan 2024 10:00:61 +0000", "Mon, 1 Jan 2024",
                           "Mon, 1 Jan 2024 10:00+0100", "Mon, 1 Jan 2024 10:00:00,+0100",
                           "Mon, 1 Jan. 2024 10:00:00 +0000", "Mon, 1 Jan 2024 10:00:00 (unclosed"])
    if r < 0.13:
        return rng.choice(["Thu, 1 Jan 1970 00:00:00 +0000", "Thu, 01 Jan 1970 01:00:00 +0100",
                           "Mon, 1 Jan 1900 00:00:00 +0000",
                           "Sat, 15 Mar 1950 12:00:00 -0500", "Sun, 7 Feb 2106 06:28:15 +0000",
                           "Sun, 7 Feb 2106 06:28:16 +0000", "Fri, 31 Dec 9999 23:59:59 +0000",
                           "Tue, 19 Jan 2038 03:14:08 +0000", "Mon, 1 Jan 2200 00:00:00 +0000"])
    # a few instants shared by many messages (ties), others spread over 1970-2069
    if rng.random() < 0.4:
        ts = rng.choice([1_600_000_000, 1_600_000_000 + 3600, 1_700_000_000, 1_234_567_890])
    else:
        ts = rng.randrange(0, 3_155_760_000)
    zone = rng.choice(ZONES)
    offset = 0
    if len(zone) == 5 and zone[0] in "+-" and zone[1:].isdigit():
        offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * (1 if zone[0] == "+" else -1)
    t = time.gmtime(ts + offset * 60)
    year = t.tm_year
    year_text = "%04d" % year
    if rng.random() < 0.15 and 1970 <= year <= 2069:
        year_text = "%02d" % (year % 100)
    sec = ":%02d" % t.tm_sec
    form = rng.random()
    if form < 0.1:
        sec = ""
    elif form < 0.13:
        sec = ":60"
    sep = "." if rng.random() < 0.05 else ":"
    hour = ("%d" if rng.random() < 0.2 else "%02d") % t.tm_hour
    day = ("%d" if rng.random() < 0.5 else "%02d") % t.tm_mday
    month = MONTHS[t.tm_mon - 1]
    month = rng.choice([month, month.upper(), month.lower(), month + "uary"[: rng.randrange(0, 5)]])
    weekday = rng.choice(["", WEEKDAYS[t.tm_wday] + ", ", WEEKDAYS[(t.tm_wday + 1) % 7] + ", ", "XyZ, ",
                          WEEKDAYS[t.tm_wday] + " , ", "(c) " + WEEKDAYS[t.tm_wday] + ", "])
    text = "%s%s %s %s %s%s%02d%s %s" % (weekday, day, month, year_text, hour, sep, t.tm_min, sec, zone)
    if rng.random() < 0.05:
        text = text.replace(" ", "  (comment) ", 1)
    if rng.random() < 0.05:
        text = " " + text + " "
    return text.rstrip() if rng.random() < 0.5 else text


def address(rng):
    mailbox = rng.choice(MAILBOXES)
    host = rng.choice(HOSTS)
    r = rng.random()
    if r < 0.05:
        return "\"%s quoted\"@%s" % (mailbox, host)
    if r < 0.08:
        return "<%s@%s> (comment)" % (mailbox, host)
    if r < 0.1:
        return "<@route.example:%s@%s>" % (mailbox, host)
    name = rng.choice(NAMES)
    if name and rng.random() < 0.7:
        return "%s <%s@%s>" % (name, mailbox, host)
    return "%s@%s" % (mailbox, host)


def address_header(rng):
    r = rng.random()
    if r < 0.05:
        return None
    if r < 0.08:
        return ""
    if r < 0.14:
        return rng.choice(["undisclosed-recipients:;", "Team: a@example.test, b@example.test;",
                           "team: zed@example.test;", "\"Quoted Group\": x@example.test;",
                           "=?utf-8?q?Gr=C3=BCppe?=: y@example.test;"])
    if r < 0.18:
        return rng.choice(["John", "<>", "@@@", "a@", "@example.test", "\"unterminated", "<a@b",
                           "Name <>", ", alice@example.test", "Zoë Only"])
    count = 1 if rng.random() < 0.8 else rng.randrange(2, 4)
    return ", ".join(address(rng) for _ in range(count))


def message(rng, i):
    headers = []
    order = ["from", "to", "subject", "date"]
    rng.shuffle(order)
    raw_latin1 = False
    for name in order:
        if name == "subject":
            value = subject(rng, i)
            if value is not None:
                raw_latin1 = value.startswith("raw latin1")
                headers.append(("Subject", value))
        elif name == "date":
            value = date_header(rng, i)
            if value is not None:
                headers.append(("Date", value))
        else:
            value = address_header(rng)
            if value is not None:
                headers.append(("From" if name == "from" else "To", value))
    second = random.Random("second-headers-%d" % i)
    if second.random() < 1 / 16:
        for name in second.sample(["Subject", "Date"], second.randrange(1, 3)):
            value = subject(second, i) if name == "Subject" else date_header(second, i)
            if value is not None and not value.startswith("raw latin1"):
                headers.append((name, value))
    headers.append(("Message-ID", "<sort-corpus-%d@example.test>" % i))
    headers.append(("MIME-Version", "1.0"))
    headers.append(("Content-Type", "text/plain; charset=utf-8"))
    out = b""
    for k, (name, value) in enumerate(headers):
        first_subject = name == "Subject" and all(n != "Subject" for n, _ in headers[:k])
        encoded_value = value.encode("latin-1") if (first_subject and raw_latin1) else value.encode("utf-8")
        out += name.encode() + b": " + encoded_value + b"\n"
    body_lines = rng.choice([1, 1, 2, 3, 5, 8, 13, 40])
    body = "".join("body line %d of the corpus\n" % (k % 10) for k in range(body_lines))
    return out + b"\n" + body.encode()


def folder_dir(mail_root, user, folder):
    root = os.path.join(mail_root, user, "Maildir")
    if folder.upper() == "INBOX":
        return root
    parts = folder.split("/")
    for p in parts:
        if p in ("", ".", "..", "cur", "new", "tmp") or "\0" in p:
            sys.exit("sort-corpus: invalid folder name %r" % folder)
    return os.path.join(root, *(imap_utf7_encode(p) for p in parts))


def fixture_messages(directory):
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    for entry in manifest["messages"]:
        data = open(os.path.join(directory, entry["file"]), "rb").read().replace(b"\r\n", b"\n")
        when = int(datetime.fromisoformat(entry["internaldate"]).timestamp())
        yield data, when


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mail-root", default=os.environ.get("IMAP_TEST_MAIL_ROOT"))
    ap.add_argument("--user", required=True)
    ap.add_argument("--folder", required=True)
    ap.add_argument("--count", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=5256)
    ap.add_argument("--fixtures", metavar="DIR", help="write DIR's .eml files instead of the generated corpus")
    ap.add_argument("--owner", default=os.environ.get("IMAP_TEST_MAIL_OWNER", "vmail"))
    ap.add_argument("--conf", default=os.environ.get("IMAP_TEST_DOVECOT_CONF"))
    args = ap.parse_args()
    if not args.mail_root:
        sys.exit("sort-corpus: --mail-root (or IMAP_TEST_MAIL_ROOT) is required")

    t0 = time.monotonic()
    pw = pwd.getpwnam(args.owner)
    uid, gid = pw.pw_uid, pw.pw_gid
    chown = os.geteuid() == 0

    def mkdir(path):
        make_dirs(path, uid, gid, chown)

    fdir = folder_dir(args.mail_root, args.user, args.folder)
    for sub in ("cur", "new", "tmp"):
        mkdir(os.path.join(fdir, sub))
        mkdir(os.path.join(args.mail_root, args.user, "Maildir", sub))
    if os.listdir(os.path.join(fdir, "cur")):
        sys.exit("sort-corpus: %s is not empty" % fdir)

    if args.fixtures:
        messages = list(fixture_messages(args.fixtures))
    else:
        rng = random.Random(args.seed)
        messages = [(message(rng, i), rng.choice(INTERNAL_DATES)) for i in range(args.count)]

    tmpdir, curdir = os.path.join(fdir, "tmp"), os.path.join(fdir, "cur")
    for i, (data, when) in enumerate(messages):
        base = "%d.S%06d.mbgw-sort-corpus" % (1_400_000_000 + i, i)
        virtual = len(data) + data.count(b"\n") - data.count(b"\r\n")  # RFC822.SIZE: every line end CRLF
        name = "%s,S=%d,W=%d:2," % (base, len(data), virtual)
        tmp = os.path.join(tmpdir, base)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            if chown:
                os.fchown(fd, uid, gid)
            os.utime(fd, (when, when))
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(curdir, name))

    status = ""
    if args.conf:
        r = subprocess.run(["doveadm", "-c", args.conf, "mailbox", "status", "-u", args.user, "messages", args.folder],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("sort-corpus: doveadm mailbox status failed: %s" % r.stderr.strip())
        status = ", folder now has %s" % r.stdout.strip()
    print("sort-corpus: %s/%s: %d messages in %.2fs%s"
          % (args.user, args.folder, len(messages), time.monotonic() - t0, status), file=sys.stderr)
    print(len(messages))  # the last line: how many messages were written


if __name__ == "__main__":
    main()
