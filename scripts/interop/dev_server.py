"""Starts `zipcoord serve --dev` on a free loopback port for the scripted checks, and stops it with SIGTERM.
It runs in a temporary folder, where `--dev` keeps its database and its embedded S3 store.

The server's output is drained on background threads (a full pipe would block the server) and kept, so a
failing check can show it.
"""
import os
import re
import signal
import subprocess
import tempfile
import threading
import time


class DevServer:
    def __init__(self, binary, database_url=None, env=None):
        self._tmp = tempfile.TemporaryDirectory()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ZIPCOORD_")}
        clean["NO_COLOR"] = "1"
        clean.update(env or {})
        database_url = database_url or f"sqlite://{self._tmp.name}/zipcoord.db"
        self.proc = subprocess.Popen(
            [os.path.abspath(binary), "--log-format", "json", "serve", "--dev", "--listen", "127.0.0.1:0",
             "--database-url", database_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean, text=True, cwd=self._tmp.name,
        )
        self.output = []
        self.base = self._read_address()
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._drain, args=(stream,), daemon=True).start()

    def _read_address(self):
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            match = re.search(r"'(http://127\.0\.0\.1:\d+)/api", line)
            if match:
                return match.group(1)
        self.proc.kill()
        raise SystemExit("zipcoord did not print its address:\n" + "".join(self.output) + self.proc.stderr.read())

    def _drain(self, stream):
        for line in stream:
            self.output.append(line)

    def stop(self):
        """Sends SIGTERM and returns the exit code (None when it had to be killed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = None
        self._tmp.cleanup()
        return code
