#!/usr/bin/env python3
"""Sends many Basic-auth requests with random user names and passwords to the gateway.

    python3 integration/login-flood.py --port 8080 --count 2000 [--source 127.0.0.2] [--concurrency 16]

Each request is `GET /api/v1/folders` with a fresh random user; all of them must fail. Binding to
another loopback address (--source) makes the flood come from a different client address than
the real users of a test. Prints one JSON line: {"sent": n, "statuses": {"429": n, ...}, "seconds": s}.
Stdlib only; loopback only.
"""
import argparse
import base64
import collections
import http.client
import json
import secrets
import threading
import time


def worker(args, counter, lock, statuses):
    connection = None
    while True:
        with lock:
            if counter[0] >= args.count:
                break
            counter[0] += 1
        user = "flood-" + secrets.token_hex(6)
        token = base64.b64encode(f"{user}:{secrets.token_hex(8)}".encode()).decode()
        try:
            if connection is None:
                connection = http.client.HTTPConnection(
                    "127.0.0.1", args.port, timeout=60, source_address=(args.source, 0))
            connection.request("GET", "/api/v1/folders", headers={"Authorization": "Basic " + token})
            response = connection.getresponse()
            response.read()
            status = str(response.status)
            if status == "429" and not (response.getheader("Retry-After") or "").isdigit():
                status = "429 without Retry-After"
        except Exception as error:  # a refused or reset connection is counted, not fatal
            status = type(error).__name__
            connection = None
        with lock:
            statuses[status] += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--source", default="127.0.0.2")
    args = parser.parse_args()
    counter, lock, statuses = [0], threading.Lock(), collections.Counter()
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(args, counter, lock, statuses)) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"sent": counter[0], "statuses": dict(statuses), "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    main()
