#!/usr/bin/env python3
"""The conversation index on a 100,000-message account: first build, a warm page, an update after one
new reply, and the gateway's memory.

    benchmarks/run.sh conversation-index                    # builds in release, starts its own Dovecot, runs this
    python3 benchmarks/conversation-index.py --gateway .build/release/mailbox-gateway

Needs a Dovecot test bed (IMAP_TEST_* variables of its env file) and a built gateway. Fills one
account with maildir-fill.py's messages (threads of four) — 60,000 in INBOX, 30,000 in Archive,
10,000 in Sent by default — starts the gateway with a fresh database and measures through HTTP on
loopback:

* first page: the first `GET /api/v1/conversations?folderId=<INBOX>` (every folder's headers
  fetched and cached, the whole account threaded);
* warm pages: the first page and a page in the middle again (median of RUNS);
* after one reply: one message APPENDed to INBOX as a reply to an existing thread, then the
  first page again (one folder's new UID fetched, the account threaded again);
* memory: the gateway's resident memory at start, after the first page and at the end, and its peak.
Prints a table (ms, MB). Stdlib only; loopback only.
"""
import argparse
import imaplib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Gateway  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateway", required=True, help="the mailbox-gateway executable")
    parser.add_argument("--inbox", type=int, default=60_000)
    parser.add_argument("--archive", type=int, default=30_000)
    parser.add_argument("--sent", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--user", default="eve")
    args = parser.parse_args()
    imap_port = int(os.environ["IMAP_TEST_PORT"])
    password = args.user + "-secret"
    workdir = tempfile.mkdtemp(prefix="conversation-index-")
    for folder, count in (("INBOX", args.inbox), ("Archive", args.archive), ("Sent", args.sent)):
        subprocess.run([sys.executable, os.path.join(ROOT, "integration/maildir-fill.py"), "--user", args.user,
                        "--folder", folder, "--count", str(count), "--seen-every", "3"], check=True)
    total = args.inbox + args.archive + args.sent

    gateway = Gateway(args.gateway, imap_port, workdir, "gateway", args.user, password)
    rows = []
    try:
        rss_start = gateway.rss_mb()
        inbox = gateway.folder_id("INBOX")
        first_page = f"/api/v1/conversations?folderId={inbox}&limit=50"
        body, first = gateway.get(first_page)
        conversations = body["totalItems"]
        rss_built = gateway.rss_mb()
        warm = statistics.median(gateway.get(first_page)[1] for _ in range(args.runs))
        middle = f"{first_page}&start={conversations // 2}"
        deep = statistics.median(gateway.get(middle)[1] for _ in range(args.runs))
        mail_page = f"/api/v1/mails?folderId={inbox}&limit=50"
        gateway.get(mail_page)
        mails_warm = statistics.median(gateway.get(mail_page)[1] for _ in range(args.runs))

        # One reply to the thread of INBOX's first message arrives.
        imap = imaplib.IMAP4("127.0.0.1", imap_port)
        imap.login(args.user, password)
        imap.select("INBOX")
        typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        root = data[0][1].decode().split(":", 1)[1].strip()
        reply = ("From: Bench <bench@example.test>\r\nTo: x@example.test\r\nSubject: Re: bench\r\n"
                 "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nMessage-ID: <bench-reply@example.test>\r\n"
                 f"In-Reply-To: {root}\r\nReferences: {root}\r\n\r\nA reply.\r\n").encode()
        imap.append("INBOX", None, None, reply)
        imap.logout()
        body, after_reply = gateway.get(first_page)
        joined = body["totalItems"] == conversations
        again = statistics.median(gateway.get(first_page)[1] for _ in range(args.runs))
        rss_end = gateway.rss_mb()
        rss_peak = gateway.peak_rss_mb()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{gateway.port}/metrics", timeout=10).read().decode()
        counters = [line for line in metrics.splitlines() if line.startswith("gateway_conversation")]
    finally:
        gateway.stop()

    print(f"{total:,} messages ({args.inbox:,} INBOX, {args.archive:,} Archive, {args.sent:,} Sent), "
          f"{conversations:,} conversations in INBOX; warm: median of {args.runs}")
    print("| measurement | value |")
    print("|---|---|")
    print(f"| first conversation page (index built: headers of every folder fetched, account threaded) | {first:,.0f} ms |")
    print(f"| warm first page | {warm:,.1f} ms |")
    print(f"| warm page in the middle (start {conversations // 2:,}) | {deep:,.1f} ms |")
    print(f"| first page after one new reply in INBOX (the reply joined its thread: {joined}) | {after_reply:,.1f} ms |")
    print(f"| warm first page after that | {again:,.1f} ms |")
    print(f"| for comparison: warm first page of `GET /api/v1/mails` in INBOX | {mails_warm:,.1f} ms |")
    print(f"| gateway memory (RSS): at start / after the first page / at the end / peak (VmHWM) | "
          f"{rss_start:.0f} / {rss_built:.0f} / {rss_end:.0f} / {rss_peak:.0f} MB |")
    print("counters at the end: " + ", ".join(counters))


if __name__ == "__main__":
    main()
