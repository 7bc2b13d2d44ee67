#!/usr/bin/env bash
# Installs the bittensor SDK oracle (scripts/interop/sdk-requirements.txt: bittensor 9.9.0 as the subnet pins it,
# bittensor-drand, numpy) into target/sdk-venv, once, and prints the path of its Python. The weight-setting tests
# (tests/api/sdk_oracle.rs) compare zipcoord's vectors, calls and transactions with what this SDK computes.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/sdk-venv
requirements=scripts/interop/sdk-requirements.txt
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$stamp"
fi
echo "$PWD/$venv/bin/python"
