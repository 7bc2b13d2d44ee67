#!/usr/bin/env bash
# The whole test suite, from a fresh clone: Rust unit, property and integration tests (real HTTP on loopback,
# real SQLite files, real sr25519 keys), then a live interop check that signs requests with PyPI
# `bittensor-wallet` (the library real miners and validators use) against the running binary.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked

venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "bittensor-wallet==4.1.1"
"$venv/bin/python" scripts/interop/live_check.py target/debug/zipcoord
