#!/usr/bin/env python3
"""A TCP proxy in front of the test bed's IMAP server that loses the answer to one command.

    python3 integration/cutting-proxy.py --target-port 10143 --cut ' UID COPY ' [--times 1]

Prints the port it listens on (127.0.0.1, chosen by the system) as its first line. Every
connection is relayed both ways, unchanged, until the client sends a command line that
contains the --cut text (case-insensitive): that command goes to the server, the proxy waits
for the server's tagged answer (so the server has really acted), then closes both sides
without passing the answer on. The client sees a connection that broke after the server
acted: the case a gateway must not report as "nothing changed" (issue 13, finding 12).
After --times cuts, it relays everything. Stdlib only; loopback only.
"""
import argparse
import os
import signal
import socket
import sys
import threading

lock = threading.Lock()
cuts_left = 0


def take_cut():
    global cuts_left
    with lock:
        if cuts_left > 0:
            cuts_left -= 1
            return True
        return False


class Relay:
    """One client connection and its server connection."""

    def __init__(self, client, server):
        self.client = client
        self.server = server
        self.cut_tag = None  # set once the answer to that tag must be swallowed

    def server_to_client(self):
        buffer = b""
        try:
            while True:
                data = self.server.recv(65536)
                if not data:
                    break
                if self.cut_tag is None:
                    self.client.sendall(data)
                    continue
                # Swallow everything; end once the cut command's tagged answer arrived
                # (the server completed it).
                buffer = (buffer + data)[-65536:]
                if any(l.startswith(self.cut_tag + b" ") for l in buffer.split(b"\r\n")):
                    break
        except OSError:
            pass
        finally:
            close(self.server)
            close(self.client)

    def client_to_server(self, needle):
        pending = b""
        try:
            while True:
                data = self.client.recv(65536)
                if not data:
                    break
                pending += data
                lines = pending.split(b"\r\n")
                pending = lines.pop()
                for line in lines:
                    if needle in line.lower() and take_cut():
                        # The client is closed by server_to_client once the tagged answer came:
                        # closing it here let the client reconnect and look before the server had
                        # acted (a clean-clone CI run under load, 1 Dec 2026), a different case.
                        self.cut_tag = line.split(b" ", 1)[0]
                        self.server.sendall(line + b"\r\n")
                        return
                    self.server.sendall(line + b"\r\n")
        except OSError:
            close(self.server)
            close(self.client)


def close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def handle(client, target_port, needle):
    relay = Relay(client, socket.create_connection(("127.0.0.1", target_port)))
    threading.Thread(target=relay.server_to_client, daemon=True).start()
    relay.client_to_server(needle)


def main():
    global cuts_left
    # A parent that ignores or blocks SIGTERM (as Swift's service lifecycle does) passes that on:
    # restore it. And end when stdin closes, so the proxy never outlives the test that started it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--cut", required=True)
    parser.add_argument("--times", type=int, default=1)
    args = parser.parse_args()
    cuts_left = args.times
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    needle = args.cut.lower().encode()
    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client, args.target_port, needle), daemon=True).start()


if __name__ == "__main__":
    main()
