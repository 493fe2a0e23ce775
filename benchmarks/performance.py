#!/usr/bin/env python3
"""The gateway against raw IMAP on the same Dovecot, in one run: ratios, targets, and the load generator's own CPU.

    benchmarks/run.sh performance                       # builds in release, starts its own Dovecot, runs this
    python3 benchmarks/performance.py --gateway .build/release/mailbox-gateway [--runs 3] [--only a,b] [--scale 0.1]

Needs a Dovecot test bed (IMAP_TEST_* variables of its env file, as dovecot-start.sh writes; run.sh
starts a private one on port 11143) and a built gateway. Messages are written straight into the
Maildirs by integration/maildir-fill.py (untimed). One gateway process (release binary, fresh
database) serves every scenario but page-cold, which starts its own. Everything runs strictly one
after the other: in each run the gateway and raw IMAP take turns (gateway first in even runs, raw
first in odd ones), each on its own copy of the same messages. Each figure is the median of RUNS
runs. The raw side always uses a connection that is already logged in and has the folder selected
(imaplib), unless said otherwise; the gateway side is timed over HTTP on loopback, one keep-alive
http.client connection, Basic authentication.

* move-ids: a folder of 10,000 messages (filled afresh for each run and side). Gateway: one
  `POST /api/v1/batch/mails/move` with all 10,000 ids (`201`, a job), then
  `GET /api/v1/batch/jobs/{jobKey}` every 10 ms until `completed`, timed from sending the POST to
  seeing `completed`. Raw: one `UID MOVE 1:* <dest>`. Note only: a "naive script" moving the same
  in chunks of 1,000 with a new connection and LOGIN per chunk. Both checked by STATUS afterwards
  (source empty, destination +10,000). Target ratio <= 1.25.
* move-range: two folders of 100,000 messages (filled once). Each run moves the 10,000 messages
  from position 40,000 of the date order (DESC). Gateway: the start ID comes from an untimed
  `GET /api/v1/mails?sort=date&dir=DESC&start=40000&limit=1`; one move with `ranges` +
  `sortInfo` (a job), timed from POST to `completed`. Raw (after an untimed `UID SORT`, so both
  sides are warm): `UID SORT (REVERSE DATE) UTF-8 ALL` and `UID MOVE` of the UIDs at 40,000..49,999
  (one command unless the set exceeds 60,000 characters; the note says how many). Counts checked,
  and both folders must keep the same UIDs. Target <= 1.5.
* update-10: 10 messages; 200 sequential `POST /api/v1/batch/mails/update` alternating
  `isFlagged` true/false (every request changes the flags) against `UID STORE <10 uids>
  +FLAGS.SILENT (\\Flagged)` / `-FLAGS.SILENT`; median latency. Target <= 3 (stretch <= 2).
* clients-32x8: 32 clients over 8 accounts (4 each), each on its own keep-alive connection,
  looping 1-id updates (alternating `isFlagged`) for 10 s, against 32 selected IMAP connections
  looping `UID STORE`; requests (commands) per second. 4 processes x 8 threads. Target ratio
  (gateway/raw throughput) >= 0.6. clients-32x1: the same on one account, no target. The HTTP
  side of the load writes prepared requests on its socket and reads the answers by Content-Length
  (``LoadClient``, status and JSON body checked), so that it costs the shared cores about what
  imaplib costs the raw side.
* page-warm: the page of 50 at position 50,000 of the date listing (DESC) of a 100,000-message
  folder, after one untimed request; median of 5 per run. Raw: `UID SORT (REVERSE DATE) UTF-8 ALL`
  + `UID FETCH <those 50> (FLAGS RFC822.SIZE ENVELOPE)`, likewise warmed. Both pages must hold the
  same UIDs. Target <= 0.2.
* page-cold: the same page as the first listing request of a fresh gateway (new database; its
  only earlier request is the untimed `GET /api/v1/folders` that gives the folder IDs and STATUSes
  both folders) on a freshly filled 100,000-message folder; raw: the first `UID SORT` + `UID FETCH`
  on another freshly filled identical folder of the same account (its SELECT untimed, shown in a
  note). Two fills per run; the folders are deleted afterwards. Target <= 1.1.
* memory: the main gateway's VmRSS right after start, and its VmHWM at the very end, after every
  selected scenario ran on it. Targets <= 60 MB and <= 200 MB.
* conversation-page: an account of 100,000 messages (60,000 INBOX, 30,000 Archive, 10,000 Sent,
  threads of four, as conversation-index.py fills), a second identical account for raw IMAP.
  Gateway: the INBOX conversation page of 50 at the middle of the listing, warm (the first,
  index-building request is untimed and shown in a note); median of 5 per run. Raw:
  `UID THREAD REFERENCES UTF-8 ALL` on INBOX, parsed, and `UID FETCH (FLAGS ENVELOPE)` of the first
  message of each of the 50 threads at the middle. No target.
* conversation-move: the first 1,000 conversations of the INBOX listing (untimed) are moved to
  another folder (a job), timed from POST to `completed`. Raw, on the identical account: `UID MOVE`
  of exactly the members the gateway moves (every member outside Sent and Drafts), one command per
  folder they are in (INBOX selected beforehand; a SELECT of any other folder timed). Counts and
  the remaining UIDs checked. No target.

`--scale` multiplies every message count (and the 10 s of load, the 200 updates, at least 2 s /
20); below 1 it also scales the gateway's `batch.asyncThreshold` and `jobs.chunkSize` and the naive
chunk, so a trial run takes the same paths (jobs, chunks) as a full one. Prints the machine, a
markdown table | scenario | gateway | raw IMAP | ratio | target | met |, notes, and per scenario the
load generator's CPU seconds (getrusage of itself and its children, minus the fills and gateway
processes) beside the main gateway's own CPU seconds (/proc). The conversation accounts (kate, leo)
must be empty or hold exactly this scale's fill: run it against a fresh Dovecot (run.sh starts one).
Exits non-zero when an HTTP answer is not what it should be or a check fails.
Stdlib only; loopback only.
"""
import argparse
import base64
import contextlib
import http.client
import imaplib
import json
import multiprocessing
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Gateway, uid_of  # noqa: E402

imaplib._MAXLINE = 50_000_000   # a UID SORT / THREAD answer of 100,000 messages is one long line
SCENARIOS = ["move-ids", "move-range", "update-10", "clients-32x8", "clients-32x1", "page-warm", "page-cold",
             "memory", "conversation-page", "conversation-move"]
LOAD_ACCOUNTS = ["alice", "bob", "carol", "dave", "eve", "frank", "gina", "hana"]
CONVERSATION_ACCOUNTS = ("kate", "leo")      # gateway, raw: identical copies
MAX_SET = 60_000                              # characters of one raw UID set (Dovecot's line limit is 64 KiB)


class BenchError(Exception):
    """An answer that is not what it should be: the run fails."""


def log(text):
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- CPU of the load generator

def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _all_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + _children_cpu()


class Cpu:
    """CPU seconds of this process and its children, minus children that are not the load generator
    (fills, doveadm, gateway processes): those run inside `Cpu.foreign()`."""
    excluded = 0.0

    @staticmethod
    @contextlib.contextmanager
    def foreign():
        before = _children_cpu()
        try:
            yield
        finally:
            Cpu.excluded += _children_cpu() - before

    @staticmethod
    def now():
        return _all_cpu() - Cpu.excluded


# ---------------------------------------------------------------- HTTP

def basic(user):
    return "Basic " + base64.b64encode(f"{user}:{user}-secret".encode()).decode()


def mail_id(prefix, uid):
    return base64.urlsafe_b64encode(f"{prefix}_{uid}".encode()).decode().rstrip("=")


def id_prefix(listed_id):
    """`<folderId>_<uidvalidity>` of a listed mail ID."""
    text = base64.urlsafe_b64decode(listed_id + "=" * (-len(listed_id) % 4)).decode()
    return text.rsplit("_", 1)[0]


class Client:
    """One keep-alive HTTP connection to the gateway, as one account."""

    def __init__(self, port, user):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
        self.headers = {"Authorization": basic(user), "Content-Type": "application/json"}

    def call(self, method, path, body=None, expect=(200,)):
        """The status and decoded answer; BenchError unless the status is one of `expect`.
        `body` is JSON-encoded unless it already is bytes."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        if response.status not in expect:
            raise BenchError(f"{method} {path}: HTTP {response.status} (expected {expect}): {raw[:300]!r}")
        return response.status, json.loads(raw)

    def folders(self):
        """{name: folder} of the account (top-level names are unique in this benchmark)."""
        _, answer = self.call("GET", "/api/v1/folders")
        return {folder["name"]: folder for folder in answer["items"]}

    def close(self):
        self.connection.close()


class LoadClient:
    """One keep-alive HTTP/1.1 connection for the load scenarios, as light on the client's CPU as
    imaplib is on the raw side: the two requests (flag set, flag cleared) are encoded once and
    written on the socket; an answer is read by its Content-Length, and its status and JSON body
    are checked as ``Client`` checks them. http.client took 0.31 ms of CPU per request here,
    imaplib 0.12 ms per `UID STORE`, on the cores the gateway and Dovecot share."""

    def __init__(self, port, user, path, bodies):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=900)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.requests = {}
        for key, body in bodies.items():
            payload = json.dumps(body).encode()
            self.requests[key] = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                  f"Authorization: {basic(user)}\r\nContent-Type: application/json\r\n"
                                  f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload

    def call(self, key):
        """Sends the prepared request `key`; the decoded answer, BenchError unless HTTP 200."""
        self.socket.sendall(self.requests[key])
        while b"\r\n\r\n" not in self.buffer:
            self.receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise BenchError(f"HTTP {status} without Content-Length: {head[:300]!r}")
        while len(self.buffer) < length:
            self.receive()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if status != 200:
            raise BenchError(f"HTTP {status} (expected 200): {body[:300]!r}")
        return json.loads(body)

    def receive(self):
        data = self.socket.recv(65536)
        if not data:
            raise BenchError("the gateway closed the connection")
        self.buffer += data

    def close(self):
        self.socket.close()


def check_completed(answer, what):
    if answer.get("status") != "completed" or answer.get("progress") != 100:
        raise BenchError(f"{what}: not completed: {json.dumps(answer)[:300]}")
    failed = answer["batchOperationDetails"]["failedItems"]
    if failed:
        raise BenchError(f"{what}: {len(failed)} failed items, e.g. {failed[:3]}")


def run_batch(client, path, body, job, what):
    """POST a batch; if it became a job (`201`), poll it every 10 ms until `completed`.
    `job`: whether a 201 is expected (else 200). Returns milliseconds from sending to `completed`."""
    payload = json.dumps(body).encode()
    started = time.perf_counter()
    _, answer = client.call("POST", path, payload, expect=(201,) if job else (200,))
    if job:
        key = answer["jobKey"]
        while answer["status"] != "completed":
            time.sleep(0.01)
            _, answer = client.call("GET", f"/api/v1/batch/jobs/{key}")
    elapsed = (time.perf_counter() - started) * 1000
    check_completed(answer, what)
    return elapsed


# ---------------------------------------------------------------- IMAP

def imap_connect(port, user, folder=None, readonly=False):
    connection = imaplib.IMAP4("127.0.0.1", port)
    connection.login(user, f"{user}-secret")
    if folder:
        imap_ok(connection.select(folder, readonly=readonly), f"SELECT {folder}")
    return connection


def imap_ok(result, what):
    typ, data = result
    if typ != "OK":
        raise BenchError(f"IMAP {what}: {typ} {data!r}"[:400])
    return data


def compress(uids):
    """An IMAP set of sorted UIDs: 1:3,7,9:10."""
    parts, i = [], 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        parts.append(str(uids[i]) if i == j else f"{uids[i]}:{uids[j]}")
        i = j + 1
    return ",".join(parts)


def uid_sets(uids):
    """Sets of the sorted UIDs, each at most MAX_SET characters."""
    sets, current, length = [], [], 0
    for part in compress(sorted(uids)).split(","):
        if current and length + len(part) + 1 > MAX_SET:
            sets.append(",".join(current))
            current, length = [], 0
        current.append(part)
        length += len(part) + 1
    return sets + ([",".join(current)] if current else [])


def parse_threads(data):
    """(start, end) offsets of the top-level groups of a THREAD answer, each one thread."""
    bounds, depth, start = [], 0, 0
    for match in re.finditer(rb"[()]", data):
        if match.group() == b"(":
            if depth == 0:
                start = match.start()
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                bounds.append((start, match.end()))
    return bounds


# ---------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.scale = args.scale
        self.runs = args.runs
        self.port = int(os.environ["IMAP_TEST_PORT"])
        self.workdir = tempfile.mkdtemp(prefix="performance-")
        self.tag = time.strftime("%H%M%S")      # folder names of this invocation are fresh
        self.threshold = self.n(1000) if self.scale < 1 else 1000
        self.chunk = self.n(1000) if self.scale < 1 else 1000
        self.gateway_env = ({"GATEWAY_BATCH_ASYNC_THRESHOLD": str(self.threshold),
                             "GATEWAY_JOBS_CHUNK_SIZE": str(self.chunk)} if self.scale < 1 else {})
        self.gateway = None
        self.rows, self.notes, self.cpu, self.errors = [], [], [], []
        self.rss_idle = None
        self.load_folders = set()        # accounts whose LoadG / LoadR are filled
        self.conversations_ready = False

    def n(self, count, floor=1):
        return max(floor, round(count * self.scale))

    def name(self, base):
        return f"{base}_{self.tag}"

    def start_gateway(self, name):
        return Gateway(self.args.gateway, self.port, self.workdir, name, "alice", "alice-secret",
                       extra_env=self.gateway_env)

    def stop_gateway(self, gateway):
        with Cpu.foreign():      # its CPU time joins our children's when it is reaped
            gateway.stop()

    def client(self, user, gateway=None):
        return Client((gateway or self.gateway).port, user)

    def imap(self, user, folder=None, readonly=False):
        return imap_connect(self.port, user, folder, readonly)

    def fill(self, user, folder, count, seen_every=3):
        with Cpu.foreign():
            subprocess.run([sys.executable, os.path.join(ROOT, "integration/maildir-fill.py"), "--user", user,
                            "--folder", folder, "--count", str(count), "--seen-every", str(seen_every)],
                           check=True, stdout=sys.stderr)

    def create(self, user, *folders):
        connection = self.imap(user)
        for folder in folders:
            typ, data = connection.create(folder)
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(data):
                raise BenchError(f"CREATE {folder}: {data!r}")
        connection.logout()

    def delete(self, user, *folders):
        connection = self.imap(user)
        for folder in folders:
            imap_ok(connection.delete(folder), f"DELETE {folder}")
        connection.logout()

    def status(self, user, *folders):
        """{folder: (MESSAGES, UIDNEXT)}, from a connection of its own."""
        connection, result = self.imap(user), {}
        for folder in folders:
            data = imap_ok(connection.status(folder, "(MESSAGES UIDNEXT)"), f"STATUS {folder}")
            text = data[0].decode()
            result[folder] = (int(re.search(r"MESSAGES (\d+)", text).group(1)),
                              int(re.search(r"UIDNEXT (\d+)", text).group(1)))
        connection.logout()
        return result

    def counts(self, user, *folders):
        return {folder: messages for folder, (messages, _) in self.status(user, *folders).items()}

    def uids(self, user, folder):
        connection = self.imap(user, folder, readonly=True)
        data = imap_ok(connection.uid("SEARCH", "ALL"), "UID SEARCH")
        connection.logout()
        return [int(uid) for uid in data[0].split()]

    def error(self, text):
        log("ERROR: " + text)
        self.errors.append(text)

    def check_counts(self, what, user, before, deltas):
        """STATUS again: each folder's count must have changed by its delta."""
        after = self.counts(user, *deltas)
        for folder, delta in deltas.items():
            if after[folder] != before[folder] + delta:
                self.error(f"{what}: {user}/{folder} has {after[folder]:,} messages, expected "
                           f"{before[folder]:,} {delta:+,}")

    def row(self, scenario, gateway, raw, unit, target=None, higher_is_better=False, stretch=None):
        """A table row from the per-run figures of both sides (medians taken here)."""
        g = statistics.median(gateway)
        r = statistics.median(raw) if raw else None
        ratio = g / r if r else None
        if target is None:
            target_text, met = "—", "—"
        else:
            sign = ">=" if higher_is_better else "<="
            ok = (ratio >= target) if higher_is_better else (ratio <= target)
            target_text, met = f"{sign} {target:g}", "yes" if ok else "**no**"
            if stretch is not None:
                target_text += f" (stretch {sign} {stretch:g})"
                met += " (stretch: %s)" % ("yes" if ratio <= stretch else "no")
        self.rows.append((scenario, fmt(g, unit), fmt(r, unit) if r is not None else "—",
                          f"{ratio:.2f}" if ratio is not None else "—", target_text, met))
        self.notes.append(f"{scenario.split(' ')[0]}: per run, gateway {', '.join(fmt(x, unit) for x in gateway)}"
                          + (f"; raw {', '.join(fmt(x, unit) for x in raw)}" if raw else ""))

    def gateway_first(self, run):
        return run % 2 == 0


def process_cpu(pid):
    """CPU seconds (user + system) of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fmt(value, unit):
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}"


def in_turn(b, run, gateway_side, raw_side):
    """Both sides of one run, gateway first in even runs, raw first in odd ones."""
    sides = [gateway_side, raw_side] if b.gateway_first(run) else [raw_side, gateway_side]
    results = {}
    for side in sides:
        results[side] = side()
    return results[gateway_side], results[raw_side]


# ---------------------------------------------------------------- 1. move-ids

def move_ids(b):
    user, count = "alice", b.n(10_000)
    destinations = {side: b.name(f"Moved{side}") for side in "GRN"}
    b.create(user, *destinations.values())
    gateway_ms, raw_ms, naive_ms = [], [], []
    for run in range(b.runs):
        sources = {side: b.name(f"Move{side}{run}") for side in "GRN"}
        for source in sources.values():
            b.fill(user, source, count)
        log(f"move-ids run {run + 1}: {count:,} messages")

        def gateway_side():
            source, destination = sources["G"], destinations["G"]
            client = b.client(user)
            folders = client.folders()
            _, listing = client.call("GET", f"/api/v1/mails?folderId={folders[source]['id']}&limit=1")
            if listing["totalItems"] != count:
                raise BenchError(f"move-ids: the gateway lists {listing['totalItems']} in {source}, not {count}")
            prefix = id_prefix(listing["items"][0]["id"])
            ids = [mail_id(prefix, uid) for uid in b.uids(user, source)]
            before = b.counts(user, source, destination)
            elapsed = run_batch(client, "/api/v1/batch/mails/move",
                                {"ids": ids, "destinationFolderId": folders[destination]["id"]},
                                job=count > b.threshold, what="move-ids")
            client.close()
            b.check_counts("move-ids (gateway)", user, before, {source: -count, destination: count})
            return elapsed

        def raw_side():
            source, destination = sources["R"], destinations["R"]
            before = b.counts(user, source, destination)
            connection = b.imap(user, source)
            started = time.perf_counter()
            imap_ok(connection.uid("MOVE", "1:*", destination), "UID MOVE")
            elapsed = (time.perf_counter() - started) * 1000
            connection.logout()
            b.check_counts("move-ids (raw)", user, before, {source: -count, destination: count})
            return elapsed

        g, r = in_turn(b, run, gateway_side, raw_side)
        gateway_ms.append(g)
        raw_ms.append(r)

        # The naive script: a new connection and LOGIN per chunk, nothing kept.
        source, destination = sources["N"], destinations["N"]
        uids = b.uids(user, source)
        before = b.counts(user, source, destination)
        started = time.perf_counter()
        for i in range(0, len(uids), b.chunk):
            connection = b.imap(user, source)
            imap_ok(connection.uid("MOVE", ",".join(map(str, uids[i:i + b.chunk])), destination), "UID MOVE")
            connection.logout()
        naive_ms.append((time.perf_counter() - started) * 1000)
        b.check_counts("move-ids (naive)", user, before, {source: -count, destination: count})
        b.delete(user, *sources.values())
    b.row(f"move-ids ({count:,} ids, job; raw `UID MOVE 1:*`)", gateway_ms, raw_ms, "ms", target=1.25)
    naive = statistics.median(naive_ms)
    b.notes.append(f"move-ids: naive script (imaplib, LOGIN per request, `UID MOVE` in chunks of {b.chunk:,}): "
                   f"{fmt(naive, 'ms')} (runs: {', '.join(fmt(x, 'ms') for x in naive_ms)}); "
                   f"gateway / naive = {statistics.median(gateway_ms) / naive:.2f}")


# ---------------------------------------------------------------- 2. move-range

def move_range(b):
    user, count, size, at = "bob", b.n(100_000), b.n(10_000), b.n(40_000)
    sources = {side: b.name(f"Range{side}") for side in "GR"}
    destinations = {side: b.name(f"RangeMoved{side}") for side in "GR"}
    for source in sources.values():
        b.fill(user, source, count)
    b.create(user, *destinations.values())
    gateway_ms, raw_ms, raw_commands = [], [], []
    for run in range(b.runs):
        log(f"move-range run {run + 1}: {size:,} of {count - run * size:,} at {at:,}")

        def gateway_side():
            source, destination = sources["G"], destinations["G"]
            client = b.client(user)
            folders = client.folders()
            _, listing = client.call("GET", f"/api/v1/mails?folderId={folders[source]['id']}&sort=date&dir=DESC"
                                            f"&start={at}&limit=1")
            if listing["totalItems"] != count - run * size:
                raise BenchError(f"move-range: the gateway lists {listing['totalItems']} in {source}")
            before = b.counts(user, source, destination)
            body = {"ranges": [{"start": listing["items"][0]["id"], "limit": size}],
                    "sortInfo": {"field": "date", "direction": "DESC"},
                    "destinationFolderId": folders[destination]["id"]}
            elapsed = run_batch(client, "/api/v1/batch/mails/move", body, job=size > b.threshold, what="move-range")
            client.close()
            b.check_counts("move-range (gateway)", user, before, {source: -size, destination: size})
            return elapsed

        def raw_side():
            source, destination = sources["R"], destinations["R"]
            before = b.counts(user, source, destination)
            connection = b.imap(user, source)
            imap_ok(connection.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL"), "UID SORT")   # warm, untimed
            started = time.perf_counter()
            data = imap_ok(connection.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL"), "UID SORT")
            uids = [int(uid) for uid in data[0].split()[at:at + size]]
            sets = uid_sets(uids)
            for uid_set in sets:
                imap_ok(connection.uid("MOVE", uid_set, destination), "UID MOVE")
            elapsed = (time.perf_counter() - started) * 1000
            raw_commands.append(len(sets))
            connection.logout()
            b.check_counts("move-range (raw)", user, before, {source: -size, destination: size})
            return elapsed

        g, r = in_turn(b, run, gateway_side, raw_side)
        gateway_ms.append(g)
        raw_ms.append(r)
        if b.uids(user, sources["G"]) != b.uids(user, sources["R"]):
            b.error(f"move-range run {run + 1}: the gateway and raw IMAP moved different messages")
    b.row(f"move-range ({size:,} of {count:,}, date DESC, job)", gateway_ms, raw_ms, "ms", target=1.5)
    b.notes.append(f"move-range: raw `UID MOVE` commands per run (sets <= {MAX_SET:,} characters): "
                   + ", ".join(map(str, raw_commands)))


# ---------------------------------------------------------------- 3. update-10

def update_10(b):
    user, requests = "carol", b.n(200, floor=20)
    requests += requests % 2         # an even number: every message ends unflagged, as it began
    folders = {side: b.name(f"Upd{side}") for side in "GR"}
    for folder in folders.values():
        b.fill(user, folder, 1000)
    gateway_ms, raw_ms = [], []
    for run in range(b.runs):
        log(f"update-10 run {run + 1}: {requests} requests")

        def gateway_side():
            client = b.client(user)
            folder_id = client.folders()[folders["G"]]["id"]
            _, listing = client.call("GET", f"/api/v1/mails?folderId={folder_id}&limit=1")
            prefix = id_prefix(listing["items"][0]["id"])
            ids = [mail_id(prefix, uid) for uid in b.uids(user, folders["G"])[:10]]
            _, answer = client.call("POST", "/api/v1/batch/mails/update", {"ids": ids, "isFlagged": False})
            check_completed(answer, "update-10")
            times = []
            for i in range(requests):
                payload = json.dumps({"ids": ids, "isFlagged": i % 2 == 0}).encode()
                started = time.perf_counter()
                _, answer = client.call("POST", "/api/v1/batch/mails/update", payload)
                times.append((time.perf_counter() - started) * 1000)
                check_completed(answer, "update-10")
                if i == 0 and flagged(b, user, folders["G"]) != 10:
                    raise BenchError("update-10: the first update did not flag the 10 messages")
            client.close()
            return statistics.median(times)

        def raw_side():
            connection = b.imap(user, folders["R"])
            uid_set = ",".join(map(str, b.uids(user, folders["R"])[:10]))
            imap_ok(connection.uid("STORE", uid_set, "-FLAGS.SILENT", r"(\Flagged)"), "UID STORE")
            times = []
            for i in range(requests):
                started = time.perf_counter()
                imap_ok(connection.uid("STORE", uid_set, "+FLAGS.SILENT" if i % 2 == 0 else "-FLAGS.SILENT",
                                       r"(\Flagged)"), "UID STORE")
                times.append((time.perf_counter() - started) * 1000)
            connection.logout()
            return statistics.median(times)

        g, r = in_turn(b, run, gateway_side, raw_side)
        gateway_ms.append(g)
        raw_ms.append(r)
        for folder in folders.values():
            if flagged(b, user, folder):
                b.error(f"update-10: {user}/{folder} still has flagged messages after an even number of updates")
    b.row(f"update-10 (median of {requests} sequential updates of 10 ids)", gateway_ms, raw_ms, "ms",
          target=3, stretch=2)


def flagged(b, user, folder):
    connection = b.imap(user, folder, readonly=True)
    data = imap_ok(connection.uid("SEARCH", "FLAGGED"), "UID SEARCH FLAGGED")
    connection.logout()
    return len(data[0].split())


# ---------------------------------------------------------------- 4. clients-32x8, clients-32x1

def load_worker(kind, port, clients, duration, barrier, results):
    """One process of the load generator: a thread per client, each on its own connection. After an
    untimed first request and the common start (barrier), each loops 1-message flag changes,
    alternating set/clear, for `duration` seconds and counts the answers that came back within it.
    clients: [(user, mail id)] for the gateway, [(user, folder, uid)] for raw IMAP."""
    counts, errors = [0] * len(clients), []

    def one_client(index, client):
        send, failed = None, False
        try:
            if kind == "gateway":
                user, target = client
                http_client = LoadClient(port, user, "/api/v1/batch/mails/update",
                                         {flag: {"ids": [target], "isFlagged": flag} for flag in (True, False)})

                def send(flag):
                    check_completed(http_client.call(flag), "load update")
            else:
                user, folder, uid = client
                connection = imap_connect(port, user, folder)

                def send(flag):
                    imap_ok(connection.uid("STORE", str(uid), "+FLAGS.SILENT" if flag else "-FLAGS.SILENT",
                                           r"(\Flagged)"), "UID STORE")
            send(False)
        except Exception as e:      # noqa: BLE001 - reported, the run fails
            errors.append(f"{client[0]}: setup: {e!r}"[:300])
            failed = True
        try:
            barrier.wait(timeout=300)
        except threading.BrokenBarrierError:
            errors.append("barrier broken")
            return
        if failed:
            return
        end = time.monotonic() + duration
        flag, done = True, 0
        while time.monotonic() < end:
            try:
                send(flag)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{client[0]}: {e!r}"[:300])
                break
            if time.monotonic() <= end:
                done += 1
            flag = not flag
        counts[index] = done

    threads = [threading.Thread(target=one_client, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((sum(counts), errors))


def run_load(b, kind, clients, duration, processes=4):
    """Runs `clients` in `processes` processes at once; returns (answers per second, generator CPU s)."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(clients) + 1)
    results = context.Queue()
    groups = [clients[i::processes] for i in range(processes)]
    cpu_before = Cpu.now()
    workers = [context.Process(target=load_worker, args=(kind, b.gateway.port if kind == "gateway" else b.port,
                                                         group, duration, barrier, results))
               for group in groups if group]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=300)
    total, errors = 0, []
    for _ in workers:
        count, worker_errors = results.get(timeout=duration + 300)
        total += count
        errors += worker_errors
    for worker in workers:
        worker.join()
    if errors:
        raise BenchError(f"{kind} load: {len(errors)} errors, e.g. {errors[:3]}")
    return total / duration, Cpu.now() - cpu_before


def load_targets(b, accounts, per_account):
    """For each account's 4 (or 32) clients: the gateway's mail ID and raw IMAP's (folder, UID) of
    its own message, in the account's LoadG and LoadR folders (filled once)."""
    gateway_clients, raw_clients = [], []
    count = max(200, per_account)
    for user in sorted(set(accounts)):
        if user not in b.load_folders:
            for side in "GR":
                b.fill(user, b.name(f"Load{side}"), count)
            b.load_folders.add(user)
    for user in sorted(set(accounts)):
        client = b.client(user)
        folder_id = client.folders()[b.name("LoadG")]["id"]
        _, listing = client.call("GET", f"/api/v1/mails?folderId={folder_id}&limit=1")
        client.close()
        prefix = id_prefix(listing["items"][0]["id"])
        g_uids, r_uids = b.uids(user, b.name("LoadG")), b.uids(user, b.name("LoadR"))
        for k in range(per_account):
            gateway_clients.append((user, mail_id(prefix, g_uids[k])))
            raw_clients.append((user, b.name("LoadR"), r_uids[k]))
    return gateway_clients, raw_clients


def clients(b, accounts, per_account, scenario, target):
    duration = max(2.0, 10 * b.scale)
    gateway_clients, raw_clients = load_targets(b, accounts, per_account)
    gateway_rates, raw_rates, gateway_cpu, raw_cpu = [], [], [], []
    for run in range(b.runs):
        log(f"{scenario} run {run + 1}: {len(gateway_clients)} clients, {duration:g} s each side")

        def gateway_side():
            rate, cpu = run_load(b, "gateway", gateway_clients, duration)
            gateway_cpu.append(cpu)
            return rate

        def raw_side():
            rate, cpu = run_load(b, "raw", raw_clients, duration)
            raw_cpu.append(cpu)
            return rate

        g, r = in_turn(b, run, gateway_side, raw_side)
        gateway_rates.append(g)
        raw_rates.append(r)
    b.row(f"{scenario} ({len(gateway_clients)} clients, {len(set(accounts))} account(s), 1-id updates, {duration:g} s)",
          gateway_rates, raw_rates, "/s", target=target, higher_is_better=True)
    cores = len(os.sched_getaffinity(0))
    b.notes.append(f"{scenario}: load generator CPU per {duration:g} s window: gateway side "
                   f"{', '.join(f'{c:.1f} s' for c in gateway_cpu)}, raw side {', '.join(f'{c:.1f} s' for c in raw_cpu)} "
                   f"(of {duration * cores:g} CPU s the {cores} cores offer)")


def clients_32x8(b):
    clients(b, LOAD_ACCOUNTS, 4, "clients-32x8", target=0.6)


def clients_32x1(b):
    clients(b, LOAD_ACCOUNTS[:1], 32, "clients-32x1", target=None)


# ---------------------------------------------------------------- 5. page-warm, 6. page-cold

def raw_page(connection, at):
    """`UID SORT (REVERSE DATE)` + `UID FETCH` of the 50 UIDs at `at`: (milliseconds, UIDs)."""
    started = time.perf_counter()
    data = imap_ok(connection.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL"), "UID SORT")
    page = data[0].split()[at:at + 50]
    imap_ok(connection.uid("FETCH", b",".join(page).decode(), "(FLAGS RFC822.SIZE ENVELOPE)"), "UID FETCH")
    return (time.perf_counter() - started) * 1000, [int(uid) for uid in page]


def gateway_page(client, folder_id, at):
    started = time.perf_counter()
    _, answer = client.call("GET", f"/api/v1/mails?folderId={folder_id}&sort=date&dir=DESC&start={at}&limit=50")
    return (time.perf_counter() - started) * 1000, [uid_of(item["id"]) for item in answer["items"]]


def page_warm(b):
    user, count, at, repeats = "dave", b.n(100_000), b.n(50_000), max(5, b.runs)
    folder = b.name("Big")
    b.fill(user, folder, count)
    gateway_ms, raw_ms = [], []
    for run in range(b.runs):
        log(f"page-warm run {run + 1}")
        pages = {}

        def gateway_side():
            client = b.client(user)
            folder_id = client.folders()[folder]["id"]
            gateway_page(client, folder_id, at)
            times = []
            for _ in range(repeats):
                elapsed, pages["gateway"] = gateway_page(client, folder_id, at)
                times.append(elapsed)
            client.close()
            return statistics.median(times)

        def raw_side():
            connection = b.imap(user, folder, readonly=True)
            raw_page(connection, at)
            times = []
            for _ in range(repeats):
                elapsed, pages["raw"] = raw_page(connection, at)
                times.append(elapsed)
            connection.logout()
            return statistics.median(times)

        g, r = in_turn(b, run, gateway_side, raw_side)
        gateway_ms.append(g)
        raw_ms.append(r)
        if pages["gateway"] != pages["raw"] or len(pages["raw"]) != 50:
            b.error(f"page-warm: the gateway's page {pages['gateway'][:5]}… differs from raw IMAP's {pages['raw'][:5]}…")
    b.row(f"page-warm (50 at {at:,} of {count:,}, date DESC, median of {repeats})", gateway_ms, raw_ms, "ms",
          target=0.2)


def page_cold(b):
    user, count, at = "frank", b.n(100_000), b.n(50_000)
    gateway_ms, raw_ms, selects = [], [], []
    for run in range(b.runs):
        folders = {side: b.name(f"Cold{side}{run}") for side in "GR"}
        for folder in folders.values():
            b.fill(user, folder, count)
        log(f"page-cold run {run + 1}: a fresh gateway")
        gateway = b.start_gateway(f"cold{run}")
        pages = {}
        try:
            client = b.client(user, gateway)
            folder_id = client.folders()[folders["G"]]["id"]    # untimed: the folder IDs (STATUS of both)

            def gateway_side():
                elapsed, pages["gateway"] = gateway_page(client, folder_id, at)
                return elapsed

            def raw_side():
                started = time.perf_counter()
                connection = b.imap(user, folders["R"], readonly=True)
                selects.append((time.perf_counter() - started) * 1000)
                elapsed, pages["raw"] = raw_page(connection, at)
                connection.logout()
                return elapsed

            g, r = in_turn(b, run, gateway_side, raw_side)
            client.close()
        finally:
            b.stop_gateway(gateway)
        gateway_ms.append(g)
        raw_ms.append(r)
        if pages["gateway"] != pages["raw"] or len(pages["raw"]) != 50:
            b.error("page-cold: the gateway's page differs from raw IMAP's")
        b.delete(user, *folders.values())
    b.row(f"page-cold (first request of a fresh gateway, {count:,} freshly filled)", gateway_ms, raw_ms, "ms",
          target=1.1)
    b.notes.append("page-cold: raw connect + LOGIN + SELECT, untimed: " + ", ".join(fmt(x, "ms") for x in selects))


# ---------------------------------------------------------------- 7. memory

def memory(b):
    """Rows from the idle figure taken at start and the peak now; run last."""
    peak = b.gateway.peak_rss_mb()
    b.rows.append(("memory: gateway RSS idle, right after start", fmt(b.rss_idle, "MB"), "—", "—", "<= 60 MB",
                   "yes" if b.rss_idle <= 60 else "**no**"))
    b.rows.append(("memory: gateway peak RSS (VmHWM) after every scenario above", fmt(peak, "MB"), "—", "—",
                   "<= 200 MB", "yes" if peak <= 200 else "**no**"))


# ---------------------------------------------------------------- 8. conversation-page, 9. conversation-move

def conversation_accounts(b):
    """kate (gateway) and leo (raw) with identical INBOX / Archive / Sent, filled once."""
    if b.conversations_ready:
        return
    sizes = {"INBOX": b.n(60_000), "Archive": b.n(30_000), "Sent": b.n(10_000)}
    for user in CONVERSATION_ACCOUNTS:
        have = b.counts(user, *sizes)
        if have == sizes:
            continue
        if any(have.values()):
            raise BenchError(f"{user} already has other mail ({have}); start a fresh Dovecot (benchmarks/run.sh does)")
        for folder, count in sizes.items():
            b.fill(user, folder, count)
    gateway_user, raw_user = CONVERSATION_ACCOUNTS
    if b.status(gateway_user, *sizes) != b.status(raw_user, *sizes):
        raise BenchError("the two conversation accounts differ")
    b.conversations_ready = True


def conversation_page(b):
    conversation_accounts(b)
    gateway_user, raw_user = CONVERSATION_ACCOUNTS
    repeats = max(5, b.runs)
    client = b.client(gateway_user)
    inbox = client.folders()["INBOX"]["id"]
    started = time.perf_counter()
    _, first = client.call("GET", f"/api/v1/conversations?folderId={inbox}&limit=50")
    build = (time.perf_counter() - started) * 1000
    client.close()
    total = first["totalItems"]
    start = total // 2
    page = f"/api/v1/conversations?folderId={inbox}&limit=50&start={start}"
    threads_seen = []
    gateway_ms, raw_ms = [], []
    for run in range(b.runs):
        log(f"conversation-page run {run + 1}")

        def gateway_side():
            client = b.client(gateway_user)
            client.call("GET", page)
            times = []
            for _ in range(repeats):
                begun = time.perf_counter()
                _, answer = client.call("GET", page)
                times.append((time.perf_counter() - begun) * 1000)
                if len(answer["items"]) != min(50, total - start):
                    raise BenchError(f"conversation-page: {len(answer['items'])} items")
            client.close()
            return statistics.median(times)

        def raw_side():
            connection = b.imap(raw_user, "INBOX", readonly=True)
            times = []
            for i in range(repeats + 1):          # the first is the untimed warm-up
                begun = time.perf_counter()
                data = imap_ok(connection.uid("THREAD", "REFERENCES", "UTF-8", "ALL"), "UID THREAD")[0] or b""
                bounds = parse_threads(data)
                middle = len(bounds) // 2
                roots = [re.search(rb"\d+", data[s:e]).group().decode() for s, e in bounds[middle:middle + 50]]
                imap_ok(connection.uid("FETCH", ",".join(roots), "(FLAGS ENVELOPE)"), "UID FETCH")
                if i:
                    times.append((time.perf_counter() - begun) * 1000)
            threads_seen.append(len(bounds))
            connection.logout()
            return statistics.median(times)

        g, r = in_turn(b, run, gateway_side, raw_side)
        gateway_ms.append(g)
        raw_ms.append(r)
    b.row(f"conversation-page (50 at {start:,} of {total:,} INBOX conversations, warm, median of {repeats})",
          gateway_ms, raw_ms, "ms")
    b.notes.append(f"conversation-page: the first conversation request (index built, untimed) took {fmt(build, 'ms')}; "
                   f"raw THREAD REFERENCES found {threads_seen[-1]:,} threads in INBOX (the gateway threads "
                   f"across folders: {total:,} conversations with an INBOX member)")


def conversation_move(b):
    conversation_accounts(b)
    gateway_user, raw_user = CONVERSATION_ACCOUNTS
    count = b.n(1000)
    destination = b.name("ConvMoved")
    b.create(gateway_user, destination)
    b.create(raw_user, destination)
    gateway_ms, raw_ms, members, raw_commands = [], [], [], []
    for run in range(b.runs):
        client = b.client(gateway_user)
        folders = client.folders()
        names = {folder["id"]: name for name, folder in folders.items()}
        skipped = {folder["id"] for folder in folders.values() if folder["role"] in ("sent", "drafts")}
        skipped.add(folders[destination]["id"])
        _, listing = client.call("GET", f"/api/v1/conversations?folderId={folders['INBOX']['id']}&limit={count}")
        client.close()
        ids = [item["id"] for item in listing["items"]]
        moved = {}                                   # folder name -> UIDs the move should carry
        for item in listing["items"]:
            for mail in item["mails"]:
                if mail["folderId"] not in skipped:
                    moved.setdefault(names[mail["folderId"]], []).append(uid_of(mail["mailId"]))
        total = sum(len(uids) for uids in moved.values())
        members.append(total)
        deltas = {name: -len(uids) for name, uids in moved.items()}
        deltas[destination] = total
        log(f"conversation-move run {run + 1}: {len(ids):,} conversations, {total:,} members in {sorted(moved)}")

        def gateway_side():
            client = b.client(gateway_user)
            client.folders()          # untimed: a fresh connection, the credentials proven
            before = b.counts(gateway_user, *deltas)
            elapsed = run_batch(client, "/api/v1/batch/conversations/move",
                                {"ids": ids, "destinationFolderId": folders[destination]["id"]},
                                job=total > b.threshold, what="conversation-move")
            client.close()
            b.check_counts("conversation-move (gateway)", gateway_user, before, deltas)
            return elapsed

        def raw_side():
            before = b.counts(raw_user, *deltas)
            order = sorted(moved, key=lambda name: name != "INBOX")
            connection = b.imap(raw_user, order[0])
            commands = 0
            started = time.perf_counter()
            for i, name in enumerate(order):
                if i:
                    imap_ok(connection.select(name), f"SELECT {name}")
                for uid_set in uid_sets(moved[name]):
                    imap_ok(connection.uid("MOVE", uid_set, destination), "UID MOVE")
                    commands += 1
            elapsed = (time.perf_counter() - started) * 1000
            connection.logout()
            raw_commands.append(commands)
            b.check_counts("conversation-move (raw)", raw_user, before, deltas)
            return elapsed

        g, r = in_turn(b, run, gateway_side, raw_side)
        gateway_ms.append(g)
        raw_ms.append(r)
        for name in moved:
            if b.uids(gateway_user, name) != b.uids(raw_user, name):
                b.error(f"conversation-move run {run + 1}: {name} differs between the gateway's and raw's account")
    b.row(f"conversation-move ({count:,} conversations, ~{statistics.median(members):,.0f} members)",
          gateway_ms, raw_ms, "ms")
    b.notes.append("conversation-move: members moved per run " + ", ".join(f"{m:,}" for m in members)
                   + "; raw `UID MOVE` commands per run " + ", ".join(map(str, raw_commands)))


# ---------------------------------------------------------------- main

RUNNERS = {"move-ids": move_ids, "move-range": move_range, "update-10": update_10, "clients-32x8": clients_32x8,
           "clients-32x1": clients_32x1, "page-warm": page_warm, "page-cold": page_cold,
           "conversation-page": conversation_page, "conversation-move": conversation_move, "memory": memory}


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    dovecot = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip() or "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {len(os.sched_getaffinity(0))} cores (nproc), {model}; Dovecot {dovecot}; "
            f"load average at start {load}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateway", required=True, help="the mailbox-gateway executable")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario; figures are their medians")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every message count (0.1 for a trial)")
    args = parser.parse_args()
    args.gateway = os.path.abspath(args.gateway)     # the gateway runs in a work directory of its own
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in selected if name not in SCENARIOS]
    if unknown or not selected or args.runs < 1 or args.scale <= 0:
        parser.error(f"unknown scenario(s) {unknown}" if unknown else "nothing to run")
    order = [name for name in SCENARIOS if name in selected and name != "memory"]
    if "memory" in selected:
        order.append("memory")          # last: the peak after everything else

    b = Bench(args)
    print(machine())
    print(f"gateway: {args.gateway} (built {time.strftime('%Y-%m-%d %H:%M', time.localtime(os.path.getmtime(args.gateway)))}); "
          f"database and logs in {b.workdir}; runs: {args.runs}; scale: {args.scale:g}"
          + (f" (gateway batch.asyncThreshold and jobs.chunkSize scaled to {b.threshold})" if args.scale < 1 else ""))
    sys.stdout.flush()
    b.gateway = b.start_gateway("gateway")
    b.rss_idle = b.gateway.rss_mb()
    try:
        for name in order:
            log(f"--- {name}")
            cpu, wall, gateway_cpu = Cpu.now(), time.monotonic(), process_cpu(b.gateway.process.pid)
            try:
                RUNNERS[name](b)
            except (BenchError, OSError, imaplib.IMAP4.error, http.client.HTTPException) as e:
                b.error(f"{name}: {e}")
                break
            b.cpu.append((name, time.monotonic() - wall, Cpu.now() - cpu,
                          process_cpu(b.gateway.process.pid) - gateway_cpu, b.gateway.peak_rss_mb()))
    finally:
        b.stop_gateway(b.gateway)

    print()
    print("| scenario | gateway | raw IMAP | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for row in b.rows:
        print("| " + " | ".join(row) + " |")
    print()
    print(f"Ratios are gateway / raw (time; for clients, throughput). Each figure is the median of {args.runs} run(s).")
    for note in b.notes:
        print("- " + note)
    print()
    print("| scenario | wall time, fills included | load generator CPU (self + children; fills, gateways excluded) "
          "| main gateway process CPU | its peak RSS so far (VmHWM) |")
    print("|---|---|---|---|---|")
    for name, wall, cpu, gateway_cpu, peak in b.cpu:
        print(f"| {name} | {wall:,.1f} s | {cpu:,.1f} s | {gateway_cpu:,.1f} s | {peak:,.0f} MB |")
    if b.errors:
        print()
        for error in b.errors:
            print("ERROR: " + error)
        sys.exit(1)


if __name__ == "__main__":
    main()
