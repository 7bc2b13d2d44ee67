#!/usr/bin/env python3
"""How long the dashboard takes to be on screen in headless Chromium, in real time (README, "The dashboard").

Usage: scripts/dashboard-render.py URL [--loads N]

Loads URL (a running server's /dashboard) N times (5) in a fresh headless Chromium each, through the DevTools
protocol (the standard library's sockets: no package needed), and reads the page's `data-first-render-ms`: the
time from the start of navigation until the overview, the universe's dots and the epoch's markers were all
drawn. Prints each load and the median.
"""

import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


class DevTools:
    """A minimal WebSocket client (RFC 6455, text frames) for one DevTools page target."""

    def __init__(self, ws_url):
        host_port, path = ws_url.removeprefix("ws://").split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        if b" 101 " not in response.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"no WebSocket upgrade: {response[:200]!r}")
        self.buffer = response.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _frame(self):
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._read(2), "big")
        elif length == 127:
            length = int.from_bytes(self._read(8), "big")
        return first & 0x0F, self._read(length)

    def call(self, method, **params):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            opcode, data = self._frame()
            if opcode == 1:
                message = json.loads(data)
                if message.get("id") == self.next_id:
                    return message.get("result", {})


def one_load(chromium, url):
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
             "--disable-background-networking", "--window-size=1280,900", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file = os.path.join(profile, "DevToolsActivePort")
            deadline = time.time() + 30
            while not os.path.exists(port_file) or not open(port_file).read().strip():
                if time.time() > deadline:
                    raise RuntimeError("Chromium did not open its DevTools port")
                time.sleep(0.05)
            port = open(port_file).read().split()[0]
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
            page = next(t for t in targets if t["type"] == "page")
            tools = DevTools(page["webSocketDebuggerUrl"])
            tools.call("Page.navigate", url=url)
            deadline = time.time() + 30
            while time.time() < deadline:
                result = tools.call("Runtime.evaluate", expression="document.body && document.body.dataset.firstRenderMs")
                value = result.get("result", {}).get("value")
                if value:
                    return int(value)
                time.sleep(0.05)
            raise RuntimeError("the page never finished its first render")
        finally:
            browser.terminate()
            browser.wait()


def main():
    url = sys.argv[1]
    loads = int(sys.argv[sys.argv.index("--loads") + 1]) if "--loads" in sys.argv else 5
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (Debian: apt-get install chromium)")
    times = [one_load(chromium, url) for _ in range(loads)]
    print(f"first render: {', '.join(f'{t} ms' for t in times)}; median {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
