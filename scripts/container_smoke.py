#!/usr/bin/env python3
"""Runs a zipcoord binary the way the Dockerfile's image does, without a Docker engine.

Usage: container_smoke.py PATH_TO_RELEASE_BINARY

Reads the Dockerfile: checks its build step is the command scripts/test.sh ran, then starts the binary with the
runtime stage's ENV (the /data volume mapped to a temporary directory, the listen port to a free loopback port,
and a dev metagraph, which the image leaves to the operator), its ENTRYPOINT and CMD, polls its HEALTHCHECK
command until it passes, checks the SQLite file landed in the volume, and stops it with SIGTERM.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD_COMMAND = "cargo build --release --locked"


def main():
    binary = os.path.abspath(sys.argv[1])
    dockerfile = open(os.path.join(os.path.dirname(__file__), "..", "Dockerfile")).read()
    failures = []

    def check(name, condition, detail=""):
        print(f"{'ok' if condition else 'FAILED'}: {name}" + ("" if condition else f" -- {detail}"), flush=True)
        if not condition:
            failures.append(name)

    check("the Dockerfile builds with the test script's command", f"RUN {BUILD_COMMAND}\n" in dockerfile)
    compose = open(os.path.join(os.path.dirname(__file__), "..", "compose.yaml")).read()
    url = re.search(r"ZIPCOORD_DATABASE_URL: (\S+)", compose).group(1)
    check("compose.yaml passes the database password apart from the URL (any password works)",
          "POSTGRES_PASSWORD" not in url and "ZIPCOORD_DATABASE_PASSWORD: ${POSTGRES_PASSWORD}" in compose, url)
    runtime = dockerfile[dockerfile.rindex("\nFROM "):]
    env = dict(re.findall(r"^ENV (\w+)=(\S+)$", runtime, re.M))
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", runtime, re.M).group(1))
    command = json.loads(re.search(r"^CMD (\[.*\])$", runtime, re.M).group(1))
    healthcheck = json.loads(re.search(r"^HEALTHCHECK .* CMD (\[.*\])$", runtime, re.M).group(1))

    check("the HEALTHCHECK asks where ZIPCOORD_LISTEN says, not a fixed port",
          not any("8080" in part for part in healthcheck), healthcheck)

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        def localize(value):
            return value.replace("/data", data).replace("0.0.0.0:8080", f"0.0.0.0:{port}")

        process_env = {k: v for k, v in os.environ.items() if not k.startswith("ZIPCOORD_")}
        process_env.update({key: localize(value) for key, value in env.items()})
        process_env["ZIPCOORD_METAGRAPH"] = "dev"
        argv = [binary if part == "zipcoord" else part for part in entrypoint] + command
        server = subprocess.Popen(argv, env=process_env, cwd=data, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        health = [binary if part == "zipcoord" else localize(part) for part in healthcheck]
        healthy = False
        deadline = time.time() + 30
        while time.time() < deadline and server.poll() is None:
            if subprocess.run(health, capture_output=True, env=process_env).returncode == 0:
                healthy = True
                break
            time.sleep(0.2)
        check("the HEALTHCHECK command passes against `zipcoord serve` with the image's ENV", healthy,
              server.stderr.read() if server.poll() is not None else "")
        check("the SQLite database is in the volume", os.path.exists(os.path.join(data, "zipcoord.db")))
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = None
        check("SIGTERM stops it cleanly", code == 0, code)
        stopped = subprocess.run(health, capture_output=True, env=process_env)
        check("the HEALTHCHECK command fails once it is down", stopped.returncode != 0)

    print(f"container smoke: {'ok' if not failures else 'FAILED: ' + ', '.join(failures)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
