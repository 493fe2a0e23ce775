"""What the benchmarks of benchmarks/ share: a gateway process on a free loopback port, timed GETs,
and its memory. Stdlib only; loopback only."""
import base64
import json
import os
import socket
import subprocess
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uid_of(mail_id):
    """The UID in a mail ID: base64url of `<folderId>_<uidvalidity>_<uid>` (SPEC §2)."""
    text = base64.urlsafe_b64decode(mail_id + "=" * (-len(mail_id) % 4)).decode()
    return int(text.rsplit("_", 1)[1])


class Gateway:
    """`mailbox-gateway serve` with a fresh database in `workdir`, talking to 127.0.0.1:imap_port."""

    def __init__(self, binary, imap_port, workdir, name, user, password, extra_env=None):
        self.port = free_port()
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        env = dict(os.environ, GATEWAY_IMAP_HOST="127.0.0.1", GATEWAY_IMAP_PORT=str(imap_port),
                   GATEWAY_HTTP_PORT=str(self.port), GATEWAY_DATABASE_PATH=os.path.join(workdir, name + ".sqlite"),
                   GATEWAY_LOG_LEVEL="warning", **(extra_env or {}))
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        self.process = subprocess.Popen([binary, "serve", "--config", os.path.join(ROOT, "config/gateway.yaml")], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2).read()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"gateway {name} did not start; see {self.log.name}")
                time.sleep(0.1)

    def get(self, path):
        """The decoded JSON answer and the time it took, in milliseconds."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers={"Authorization": self.auth})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=900) as response:
            body = json.loads(response.read())
        return body, (time.perf_counter() - started) * 1000

    def rss_mb(self):
        """Resident memory of the gateway process (VmRSS), in MB."""
        return self._status_mb("VmRSS")

    def peak_rss_mb(self):
        """Peak resident memory of the gateway process so far (VmHWM), in MB."""
        return self._status_mb("VmHWM")

    def _status_mb(self, field):
        """A kB field of /proc/PID/status of the gateway process, in MB (0 when absent)."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def folder_id(self, name):
        folders, _ = self.get("/api/v1/folders")
        return next(f["id"] for f in folders["items"] if f["name"] == name)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
