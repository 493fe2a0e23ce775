#!/usr/bin/env python3
"""Two gateway replicas on one PostgreSQL database against one, and one on PostgreSQL against one on SQLite: the clients-32x8 load.

    benchmarks/run.sh replicas                     # builds in release, starts its own Dovecot and PostgreSQL, runs this
    python3 benchmarks/replicas.py --gateway .build/release/mailbox-gateway [--runs 3] [--scale 0.3]

Needs a Dovecot test bed (IMAP_TEST_* variables of its env file, as integration/dovecot-start.sh
writes), a PostgreSQL server whose URL is in POSTGRES_TEST_URL (integration/postgres-start.sh: its
role may create databases), `psql` on the PATH, and a built gateway. run.sh starts a private
Dovecot (port 11143) and a private PostgreSQL (port 15433) for it.

The load is performance.py's clients-32x8, with its code (``load_worker``, ``LoadClient``,
``load_targets``): 32 clients over 8 accounts (alice ... hana, 4 each), each on its own keep-alive
HTTP connection (Basic authentication, loopback) and with a message of its own in its account's
LoadG folder (200 messages per account, written into the Maildirs by integration/maildir-fill.py
once, untimed). After one untimed request each and a common start, every client loops 1-id
`POST /api/v1/batch/mails/update`, alternating `isFlagged` true/false, for 10 s; the answers that
came back within the 10 s are counted. Every answer's status (200) and JSON body (`completed`,
progress 100, no failed items) are checked; any other answer, or a closed connection, fails the
run. 4 load processes x 8 threads. The setups:

* A: one gateway on SQLite (`database.path`, a fresh file): today's default.
* B: one gateway on PostgreSQL (`GATEWAY_DATABASE_URL`, a fresh database).
* C: two gateways on one fresh PostgreSQL database; client i talks to replica i % 2 (what a
  round-robin load balancer does per connection), so every account has 2 clients on each replica.
  The mail IDs are listed through replica 0 and used on both.
* raw IMAP (the reference): 32 imaplib connections, logged in with LoadR selected, looping
  `UID STORE <uid> +FLAGS.SILENT (\\Flagged)` / `-FLAGS.SILENT`, the same way.

For every run each setup's gateways are started afresh (new SQLite file, or a new database that is
dropped after the run); their start, the untimed listings that give the mail IDs and the untimed
first request of each client are outside the measured window. In C, replica 1 is started once
replica 0 has answered (and so migrated the database). The setups run strictly one after the other,
interleaved: A, B, C, raw, then again, RUNS times. Each figure is the median of the runs; every
run's figure is shown too. Ratios are of medians, and also per run (the runs are interleaved, so a
run's ratio compares neighbours in time).

CPU, for each setup and run, over the measured window (from the common start to the moment the
last load process has finished): each gateway process's utime + stime (/proc/PID/stat); the
PostgreSQL cluster's (the postmaster and its children, ended children included through its
cutime/cstime; its pid from POSTGRES_TEST_DIR/data/postmaster.pid); Dovecot's likewise (master
and children: imap, imap-login, auth, ...; DOVECOT_TEST_DIR/run/master.pid); the load generator's
(its 4 processes, getrusage from the common start to their end); and the machine's busy time over
all cores (/proc/stat), so that "other" = machine - all of these is whatever else ran meanwhile
(other work on the machine, kernel threads). The machine's core count and load average are
printed. `--scale` multiplies the 10 s (at least 2 s) for a trial. Exits non-zero when an HTTP
answer is not what it should be. Stdlib only; loopback only.
"""
import argparse
import http.client
import imaplib
import multiprocessing
import os
import queue
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import performance  # noqa: E402
from benchlib import Gateway  # noqa: E402
from performance import LOAD_ACCOUNTS, Bench, BenchError, fmt, load_targets, load_worker, log  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
SETUPS = [  # letter, description, replicas, PostgreSQL
    ("A", "1 gateway, SQLite", 1, False),
    ("B", "1 gateway, PostgreSQL", 1, True),
    ("C", "2 gateways, one PostgreSQL database", 2, True),
]
PROCESSES = 4      # load processes, as performance.py's run_load


# ---------------------------------------------------------------- CPU from /proc

def _stat(pid):
    """The fields of /proc/PID/stat after the command name: [0] state, [1] ppid, [11] utime,
    [12] stime, [13] cutime, [14] cstime (clock ticks)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_cpu(pid):
    """CPU seconds (user + system, all threads) of a running process."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / HZ


def tree_cpu(root):
    """CPU seconds of `root` and its children, ended ones included: a child's time is in its own
    stat while it lives (or is a zombie), in its parent's cutime/cstime once reaped."""
    fields = _stat(root)
    ticks = sum(int(x) for x in fields[11:15])
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            child = _stat(entry)
        except OSError:
            continue
        if int(child[1]) == root:
            ticks += sum(int(x) for x in child[11:15])
    return ticks / HZ


def machine_busy():
    """Busy CPU seconds of all cores since boot (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / HZ


def pid_from(path):
    """The pid in the first line of a pid file, or None when it cannot be read or is not running."""
    try:
        with open(path) as f:
            pid = int(f.readline().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- the load, split over replicas

def _rusage_self():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _StartMark:
    """The load processes' barrier, noting this process's CPU when the common start has passed
    (the first of its threads to pass notes it)."""

    def __init__(self, barrier):
        self.barrier, self.cpu, self.lock = barrier, None, threading.Lock()

    def wait(self, timeout=None):
        index = self.barrier.wait(timeout)
        with self.lock:
            if self.cpu is None:
                self.cpu = _rusage_self()
        return index


class _Outcome:
    """Takes load_worker's one result instead of the queue."""
    value = None

    def put(self, value):
        self.value = value


def split_worker(kind, port, clients, duration, barrier, results):
    """performance.load_worker, unchanged, plus this process's CPU from the common start to its end."""
    mark, outcome = _StartMark(barrier), _Outcome()
    load_worker(kind, port, clients, duration, mark, outcome)
    count, errors = outcome.value
    results.put((count, errors, _rusage_self() - mark.cpu if mark.cpu is not None else 0.0))


class Window:
    """CPU counters read at the common start and after the last load process reported."""

    def __init__(self, gateway_pids, postgres_pid, dovecot_pid):
        self.gateway_pids, self.postgres_pid, self.dovecot_pid = gateway_pids, postgres_pid, dovecot_pid

    def read(self):
        return {"wall": time.monotonic(), "machine": machine_busy(),
                "gateways": [process_cpu(pid) for pid in self.gateway_pids],
                "postgres": tree_cpu(self.postgres_pid) if self.postgres_pid else None,
                "dovecot": tree_cpu(self.dovecot_pid) if self.dovecot_pid else None}


def run_split(kind, ports, clients, duration, window):
    """Runs `clients` in PROCESSES processes at once, client i on ports[i % len(ports)] (load process
    p holds the clients i with i % PROCESSES == p, so all of them go to one port). Returns a dict:
    rate (answers per second), and the CPU seconds of the window."""
    if PROCESSES % len(ports):
        raise ValueError("the load processes must split evenly over the ports")
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(clients) + 1)
    results = context.Queue()
    workers = [context.Process(target=split_worker, args=(kind, ports[p % len(ports)], clients[p::PROCESSES],
                                                          duration, barrier, results))
               for p in range(PROCESSES) if clients[p::PROCESSES]]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=300)
    before = window.read()
    total, errors, generator = 0, [], 0.0
    for _ in workers:
        count, worker_errors, cpu = results.get(timeout=duration + 300)
        total += count
        errors += worker_errors
        generator += cpu
    after = window.read()
    for worker in workers:
        worker.join()
    if errors:
        raise BenchError(f"{kind} load: {len(errors)} errors, e.g. {errors[:3]}")
    figures = {"rate": total / duration, "answers": total, "wall": after["wall"] - before["wall"],
               "machine": after["machine"] - before["machine"], "generator": generator,
               "gateways": [a - b for a, b in zip(after["gateways"], before["gateways"])]}
    for key in ("postgres", "dovecot"):
        figures[key] = after[key] - before[key] if before[key] is not None and after[key] is not None else None
    accounted = generator + sum(figures["gateways"]) + (figures["postgres"] or 0) + (figures["dovecot"] or 0)
    figures["other"] = figures["machine"] - accounted
    return figures


# ---------------------------------------------------------------- PostgreSQL databases

class Databases:
    """Fresh databases on the server of POSTGRES_TEST_URL, made and dropped with psql."""

    def __init__(self, url):
        self.url = url
        self.parts = urllib.parse.urlsplit(url)

    def psql(self, sql):
        result = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-c", sql],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BenchError(f"psql {sql!r}: {result.stderr.strip()[:300]}")

    def create(self, name):
        self.psql(f'CREATE DATABASE "{name}"')
        return urllib.parse.urlunsplit(self.parts._replace(path="/" + name))

    def drop(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def version(self):
        result = subprocess.run(["psql", "-X", "-At", "-d", self.url, "-c", "SHOW server_version"],
                                capture_output=True, text=True)
        return result.stdout.strip() or "?"


# ---------------------------------------------------------------- the bench

class Replicas:
    def __init__(self, args):
        self.args = args
        self.bench = Bench(args)        # fills, IMAP helpers, the work directory, the tag
        self.duration = max(2.0, 10 * args.scale)
        self.databases = Databases(args.postgres_url)
        self.postgres_pid = pid_from(os.path.join(args.postgres_dir, "data", "postmaster.pid")) if args.postgres_dir else None
        self.dovecot_pid = pid_from(os.path.join(args.dovecot_dir, "run", "master.pid")) if args.dovecot_dir else None
        self.results = {letter: [] for letter, *_ in SETUPS}
        self.results["raw"] = []
        self.raw_clients = None
        self.loads = []                 # load average at each run's start

    def start(self, letter, run, replica, url):
        env = {"GATEWAY_DATABASE_URL": url} if url else {}
        return Gateway(self.args.gateway, self.bench.port, self.bench.workdir, f"{letter}{run + 1}-r{replica}",
                       "alice", "alice-secret", extra_env=env)

    def setup_run(self, letter, run, replicas, postgres):
        """One run of one setup: fresh gateways (and database), the load, everything stopped."""
        database = f"mgbench_{self.bench.tag}_{letter.lower()}{run + 1}" if postgres else None
        url = self.databases.create(database) if postgres else None
        gateways = []
        try:
            gateways.append(self.start(letter, run, 0, url))
            self.bench.gateway = gateways[0]
            gateway_clients, raw_clients = load_targets(self.bench, LOAD_ACCOUNTS, 4)
            self.raw_clients = self.raw_clients or raw_clients
            for replica in range(1, replicas):
                gateways.append(self.start(letter, run, replica, url))
            log(f"{letter} run {run + 1}: {len(gateway_clients)} clients on {replicas} gateway(s)"
                f"{' (database ' + database + ')' if database else ''}, {self.duration:g} s")
            window = Window([g.process.pid for g in gateways], self.postgres_pid, self.dovecot_pid)
            figures = run_split("gateway", [g.port for g in gateways], gateway_clients, self.duration, window)
        finally:
            for gateway in gateways:
                gateway.stop()
            self.bench.gateway = None
            if database:
                self.databases.drop(database)
        self.results[letter].append(figures)

    def raw_run(self, run):
        log(f"raw run {run + 1}: {len(self.raw_clients)} IMAP connections, {self.duration:g} s")
        window = Window([], self.postgres_pid, self.dovecot_pid)
        self.results["raw"].append(run_split("raw", [self.bench.port], self.raw_clients, self.duration, window))

    def run(self):
        for run in range(self.args.runs):
            self.loads.append(os.getloadavg()[0])
            for letter, _, replicas, postgres in SETUPS:
                self.setup_run(letter, run, replicas, postgres)
            if not self.args.no_raw:
                self.raw_run(run)


def median(values):
    return statistics.median(values) if values else None


def cpu(value):
    if value is None:
        return "—"
    return f"{value:.2f} s" if abs(value) < 1 else f"{value:.1f} s"


def report(r, cores):
    rate = {key: median([f["rate"] for f in runs]) for key, runs in r.results.items() if runs}
    raw = rate.get("raw")
    names = {letter: description for letter, description, *_ in SETUPS}
    names["raw"] = "raw IMAP `UID STORE` (reference)"
    print()
    print("| setup | requests/s (median) | per run | / raw IMAP |")
    print("|---|---|---|---|")
    for key in [letter for letter, *_ in SETUPS] + ["raw"]:
        runs = r.results[key]
        if not runs:
            continue
        ratio = f"{rate[key] / raw:.2f}" if raw and key != "raw" else "—"
        print(f"| {key}: {names[key]} | {fmt(rate[key], '/s')} | {', '.join(fmt(f['rate'], '/s') for f in runs)} | {ratio} |")
    print()

    def ratio(top, bottom, what):
        if not (r.results.get(top) and r.results.get(bottom)):
            return
        pairs = [a["rate"] / b["rate"] for a, b in zip(r.results[top], r.results[bottom])]
        print(f"- {top}/{bottom} ({what}): **{rate[top] / rate[bottom]:.2f}** (per run: "
              f"{', '.join(f'{x:.2f}' for x in pairs)})")

    print(f"Each figure is the median of {r.args.runs} run(s), interleaved A, B, C, raw; "
          f"{r.duration:g} s of load per setup and run.")
    ratio("C", "B", "two replicas against one, both PostgreSQL")
    ratio("B", "A", "PostgreSQL against SQLite, one gateway")
    ratio("C", "A", "two replicas on PostgreSQL against one on SQLite")
    print(f"- machine: {cores} cores; load average (1 min) at the start of each run: "
          f"{', '.join(f'{x:.2f}' for x in r.loads)} (after the first, it counts this benchmark's own threads of "
          "the minute before). Other work may run on this machine: the `other` column of the CPU table is the "
          "machine's busy time that none of the measured processes took.")
    print()
    print(f"CPU seconds over each measured window (the {cores} cores offer cores x window); "
          "per request = (gateways + PostgreSQL) / answers counted, and Dovecot / answers counted. PostgreSQL is "
          "the whole cluster (backends and background processes).")
    print()
    print("| setup, run | window | requests/s | gateway process(es) | PostgreSQL (cluster) | Dovecot | "
          "load generator | other | machine busy | gateways + PostgreSQL per request | Dovecot per request |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in [letter for letter, *_ in SETUPS] + ["raw"]:
        for run, f in enumerate(r.results[key]):
            gateways = " + ".join(f"{x:.1f}" for x in f["gateways"]) + " s" if f["gateways"] else "—"
            per_request = ("—" if not f["gateways"] else
                           f"{(sum(f['gateways']) + (f['postgres'] or 0)) / max(1, f['answers']) * 1000:.2f} ms")
            dovecot_per_request = "—" if f["dovecot"] is None else f"{f['dovecot'] / max(1, f['answers']) * 1000:.2f} ms"
            print(f"| {key} run {run + 1} | {f['wall']:.1f} s | {fmt(f['rate'], '/s')} | {gateways} | {cpu(f['postgres'])} | "
                  f"{cpu(f['dovecot'])} | {cpu(f['generator'])} | {cpu(f['other'])} | "
                  f"{f['machine']:.1f} of {f['wall'] * cores:.1f} s | {per_request} | "
                  f"{dovecot_per_request} |")
    print()
    print("Medians over the runs:")
    for key in [letter for letter, *_ in SETUPS] + ["raw"]:
        runs = r.results[key]
        if not runs:
            continue
        parts = []
        replicas = len(runs[0]["gateways"])
        if replicas:
            each = [median([f["gateways"][i] for f in runs]) for i in range(replicas)]
            parts.append(f"gateways {median([sum(f['gateways']) for f in runs]):.1f} s"
                         + (f" (per replica {', '.join(f'{x:.1f}' for x in each)} s)" if replicas > 1 else ""))
        for name, label in (("postgres", "PostgreSQL"), ("dovecot", "Dovecot"), ("generator", "load generator"),
                            ("other", "other"), ("machine", "machine busy")):
            values = [f[name] for f in runs if f[name] is not None]
            if values:
                parts.append(f"{label} {cpu(median(values))}")
        print(f"- {key}: " + ", ".join(parts) + f" (window {median([f['wall'] for f in runs]):.1f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateway", required=True, help="the mailbox-gateway executable")
    parser.add_argument("--runs", type=int, default=3, help="runs of every setup; figures are their medians")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the 10 s of load (at least 2 s)")
    parser.add_argument("--postgres-url", default=os.environ.get("POSTGRES_TEST_URL"),
                        help="a PostgreSQL URL whose role may create databases (default: $POSTGRES_TEST_URL)")
    parser.add_argument("--postgres-dir", default=os.environ.get("POSTGRES_TEST_DIR"),
                        help="the cluster's postgres-start.sh directory, for its CPU (default: $POSTGRES_TEST_DIR)")
    parser.add_argument("--dovecot-dir", default=os.environ.get("DOVECOT_TEST_DIR"),
                        help="the Dovecot test bed's directory, for its CPU (default: $DOVECOT_TEST_DIR)")
    parser.add_argument("--no-raw", action="store_true", help="leave out the raw IMAP reference")
    args = parser.parse_args()
    if not args.postgres_url:
        parser.error("no PostgreSQL: set POSTGRES_TEST_URL (integration/postgres-start.sh) or --postgres-url")
    if args.runs < 1 or args.scale <= 0:
        parser.error("nothing to run")
    args.gateway = os.path.abspath(args.gateway)

    r = Replicas(args)
    cores = len(os.sched_getaffinity(0))
    print(performance.machine() + f"; os.cpu_count() {os.cpu_count()}")
    where = urllib.parse.urlsplit(args.postgres_url)
    print(f"PostgreSQL {r.databases.version()} at {where.hostname}:{where.port}, a fresh database per setup and run "
          f"(cluster CPU: {'postmaster ' + str(r.postgres_pid) if r.postgres_pid else 'not measured, no --postgres-dir'}); "
          f"Dovecot CPU: {'master ' + str(r.dovecot_pid) if r.dovecot_pid else 'not measured, no --dovecot-dir'}")
    print(f"gateway: {args.gateway} (built {time.strftime('%Y-%m-%d %H:%M', time.localtime(os.path.getmtime(args.gateway)))}); "
          f"databases and logs in {r.bench.workdir}; runs: {args.runs}; load: {r.duration:g} s per setup and run")
    sys.stdout.flush()
    failed = None
    try:
        r.run()
    except (BenchError, OSError, imaplib.IMAP4.error, http.client.HTTPException, subprocess.SubprocessError,
            queue.Empty, SystemExit) as e:     # SystemExit: a gateway did not start (benchlib)
        failed = "a load process sent no result in time" if isinstance(e, queue.Empty) else f"{e}"
        log("ERROR: " + failed)
    report(r, cores)
    if failed:
        print()
        print(f"ERROR: {failed} (gateway logs in {r.bench.workdir})")
        sys.exit(1)


if __name__ == "__main__":
    main()
