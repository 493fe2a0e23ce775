#!/usr/bin/env python3
"""Seed an IMAP account with the fixture set in integration/fixtures/ (stdlib only).

    python3 integration/seed.py --host 127.0.0.1 --port 10143 --user alice --password alice-secret
    python3 integration/seed.py --user bob --password bob-secret --tls starttls --ca-file "$IMAP_TEST_CA_FILE"

Defaults come from the IMAP_TEST_* variables written by dovecot-start.sh (source its env file).
fixtures/manifest.json says which folder each .eml goes to, with which flags/keywords and
INTERNALDATE. Folders are created (and subscribed) when missing; a message whose Message-ID
is already in its folder is skipped, so running the seeder twice changes nothing.
Prints one summary line.

Also importable: `from seed import imap_utf7_encode, imap_utf7_decode`.
"""
import argparse
import base64
import datetime
import imaplib
import json
import os
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


# --- IMAP modified UTF-7 (RFC 3501 §5.1.3) -------------------------------------------
def _b64_mod(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",")


def imap_utf7_encode(name: str) -> str:
    """'Société/Été' -> 'Soci&AOk-t&AOk-/&AMk-t&AOk-'; '&' -> '&-'."""
    out, pending = [], []

    def flush():
        if pending:
            out.append("&" + _b64_mod("".join(pending).encode("utf-16-be")) + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def imap_utf7_decode(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.index("-", i)
        chunk = name[i + 1:end]
        if chunk == "":
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


def quote(s: str) -> str:
    """IMAP quoted string (mailbox names here never contain CR/LF)."""
    if any(c in s for c in "\r\n\0"):
        raise ValueError("CR/LF/NUL in mailbox name")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_list_names(lines):
    """Mailbox names (still mUTF-7) from LIST responses as returned by imaplib."""
    names = []
    for item in lines:
        if item is None:
            continue
        if isinstance(item, tuple):  # name sent as a literal
            names.append(item[1].decode())
            continue
        s = item.decode()
        # (\Flags) "/" name   -- name quoted or atom
        rest = s[s.index(")") + 1:].strip()
        _delim, rest = rest.split(" ", 1) if not rest.startswith('"') else (rest[:3], rest[4:])
        rest = rest.strip()
        if rest.startswith('"'):
            rest = rest[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        names.append(rest)
    return names


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def connect(args):
    if args.tls == "tls":
        ctx = ssl.create_default_context(cafile=args.ca_file)
        return imaplib.IMAP4_SSL(args.host, args.port, ssl_context=ctx)
    conn = imaplib.IMAP4(args.host, args.port)
    if args.tls == "starttls":
        conn.starttls(ssl_context=ssl.create_default_context(cafile=args.ca_file))
    return conn


def main():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default=env("IMAP_TEST_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--user", default=env("IMAP_TEST_USER1", "alice"))
    p.add_argument("--password", default=None)
    p.add_argument("--tls", choices=["none", "starttls", "tls"], default="none")
    p.add_argument("--ca-file", default=env("IMAP_TEST_CA_FILE"))
    p.add_argument("--fixtures", default=os.path.join(HERE, "fixtures"),
                   help="directory with manifest.json and the .eml files")
    args = p.parse_args()
    if args.port is None:
        args.port = int(env("IMAP_TEST_TLS_PORT", "10993") if args.tls == "tls" else env("IMAP_TEST_PORT", "10143"))
    if args.password is None:
        known = {env("IMAP_TEST_USER%d" % i, u): env("IMAP_TEST_PASS%d" % i, u + "-secret")
                 for i, u in ((1, "alice"), (2, "bob"), (3, "carol"))}
        args.password = known.get(args.user, args.user + "-secret")

    with open(os.path.join(args.fixtures, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)

    t0 = time.monotonic()
    conn = connect(args)
    conn.login(args.user, args.password)

    typ, data = conn.list('""', "*")
    if typ != "OK":
        sys.exit("LIST failed: %r" % data)
    existing = {imap_utf7_decode(n) for n in parse_list_names(data)}

    wanted = list(manifest.get("folders", []))
    for m in manifest["messages"]:
        if m["folder"] not in wanted:
            wanted.append(m["folder"])
    created = 0
    for folder in wanted:  # parents listed before children in the manifest
        if folder.upper() == "INBOX" or folder in existing:
            continue
        enc = quote(imap_utf7_encode(folder))
        typ, data = conn.create(enc)
        if typ != "OK":
            sys.exit("CREATE %s failed: %r" % (folder, data))
        conn.subscribe(enc)
        existing.add(folder)
        created += 1

    appended = skipped = 0
    by_folder = {}
    for m in manifest["messages"]:
        by_folder.setdefault(m["folder"], []).append(m)
    for folder, msgs in by_folder.items():
        enc = quote(imap_utf7_encode(folder))
        typ, data = conn.select(enc)
        if typ != "OK":
            sys.exit("SELECT %s failed: %r" % (folder, data))
        for m in msgs:
            mid = m.get("message_id")
            if mid:
                typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", quote(mid))
                if typ == "OK" and data and data[0] and data[0].split():
                    skipped += 1
                    continue
            with open(os.path.join(args.fixtures, m["file"]), "rb") as f:
                raw = crlf(f.read())
            when = datetime.datetime.fromisoformat(m["internaldate"])
            flags = "(" + " ".join(m.get("flags", [])) + ")"
            typ, data = conn.append(enc, flags, imaplib.Time2Internaldate(when), raw)
            if typ != "OK":
                sys.exit("APPEND %s to %s failed: %r" % (m["file"], folder, data))
            appended += 1
        conn.unselect()
    conn.logout()
    print("seed: %s@%s:%d: %d appended, %d already present, %d folders created, %d folders used, %.2fs"
          % (args.user, args.host, args.port, appended, skipped, created, len(by_folder),
             time.monotonic() - t0))


if __name__ == "__main__":
    main()
