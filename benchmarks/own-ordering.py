#!/usr/bin/env python3
"""Listing a 100,000-message folder with the server's SORT and with the gateway's own RFC 5256 order.

    benchmarks/run.sh own-ordering            # builds in release, starts its own Dovecot, runs this
    python3 benchmarks/own-ordering.py --gateway .build/release/mailbox-gateway --runs 5

Needs a Dovecot test bed (IMAP_TEST_* variables of its env file, as dovecot-start.sh writes) and a
built gateway. It fills one folder of `dave` with COUNT messages (integration/maildir-fill.py), starts
integration/refusing-proxy.py in front of Dovecot refusing SORT, ESORT, THREAD, CONDSTORE and QRESYNC,
and two gateways with fresh databases: one talking to Dovecot directly (server-side `UID SORT`), one
talking to the proxy (the gateway fetches the sort keys and orders by itself). For each sort field
and each gateway it measures, through HTTP on loopback:

* first page: the first `GET /api/v1/mails` of that order (`limit=50`), caches cold for that order;
* warm deep page: the page of 50 starting at the middle of the folder, again (median of RUNS);

and, for reference, raw IMAP on the same Dovecot: `UID SORT (<key>) ALL` plus a `UID FETCH` of 50
ENVELOPEs on a selected connection. Each gateway gets the same order of work. Prints a table (ms).
Both gateways run at once but are measured one after the other. Stdlib only; loopback only.
"""
import argparse
import imaplib
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Gateway, uid_of  # noqa: E402
FIELDS = [("date", "DATE"), ("subject", "SUBJECT"), ("from", "FROM"), ("size", "SIZE")]


def raw_imap(port, user, password, folder, key, middle, runs):
    """UID SORT of the whole folder + UID FETCH of the 50 UIDs at `middle`, on a selected connection."""
    connection = imaplib.IMAP4("127.0.0.1", port)
    connection.login(user, password)
    connection.select('"%s"' % folder, readonly=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        typ, data = connection.uid("SORT", "(%s)" % key, "UTF-8", "ALL")
        uids = data[0].split()
        page = b",".join(uids[middle:middle + 50]).decode()
        connection.uid("FETCH", page, "(FLAGS RFC822.SIZE ENVELOPE)")
        times.append((time.perf_counter() - started) * 1000)
    connection.logout()
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateway", required=True, help="the mailbox-gateway executable")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--user", default="dave")
    args = parser.parse_args()
    env = os.environ
    imap_port = int(env["IMAP_TEST_PORT"])
    password = args.user + "-secret"
    folder = "Bench%d" % args.count
    workdir = tempfile.mkdtemp(prefix="own-ordering-")

    subprocess.run([sys.executable, os.path.join(ROOT, "integration/maildir-fill.py"), "--user", args.user,
                    "--folder", folder, "--count", str(args.count), "--seen-every", "3", "--flagged-every", "10"],
                   check=True)
    proxy = subprocess.Popen([sys.executable, os.path.join(ROOT, "integration/refusing-proxy.py"), "--target-port",
                              str(imap_port), "--refuse", "SORT,ESORT,THREAD,CONDSTORE,QRESYNC"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # it ends when its stdin closes
    proxy_port = int(proxy.stdout.readline().strip())
    gateways = {
        "server SORT": Gateway(args.gateway, imap_port, workdir, "server-sort", args.user, password),
        "own order": Gateway(args.gateway, proxy_port, workdir, "own-order", args.user, password),
    }
    middle = args.count // 2
    rows = []
    try:
        folder_ids = {}
        for name, gateway in gateways.items():
            folder_ids[name] = gateway.folder_id(folder)
        for field, key in FIELDS:
            row = {"field": field}
            for name, gateway in gateways.items():
                base = f"/api/v1/mails?folderId={folder_ids[name]}&sort={field}&dir=ASC&limit=50"
                body, first = gateway.get(base)
                assert body["totalItems"] == args.count, body["totalItems"]
                deep = []
                for _ in range(args.runs):
                    page, elapsed = gateway.get(base + f"&start={middle}")
                    deep.append(elapsed)
                row[name] = (first, statistics.median(deep), [uid_of(item["id"]) for item in page["items"]])
            row["raw"] = raw_imap(imap_port, args.user, password, folder, key, middle, args.runs)
            rows.append(row)
    finally:
        for gateway in gateways.values():
            gateway.stop()
        proxy.stdin.close()
        proxy.terminate()

    print(f"{args.count:,} messages in {args.user}/{folder}; warm pages: median of {args.runs}; times in ms")
    print("| order (ASC) | first page, server SORT | first page, own order | ratio | warm deep page, server SORT "
          "| warm deep page, own order | ratio | raw `UID SORT` + `UID FETCH` 50 |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        s_first, s_deep, s_ids = row["server SORT"]
        o_first, o_deep, o_ids = row["own order"]
        same = "" if s_ids == o_ids else " (pages differ)"
        print(f"| {row['field']}{same} | {s_first:,.0f} | {o_first:,.0f} | {o_first / s_first:.2f} | {s_deep:.1f} "
              f"| {o_deep:.1f} | {o_deep / s_deep:.2f} | {row['raw']:.1f} |")


if __name__ == "__main__":
    main()
