#!/usr/bin/env bash
# Installs the bittensor SDK oracle (scripts/interop/sdk-requirements.txt: bittensor 9.9.0 as the subnet pins it,
# bittensor-drand 1.x, numpy) into target/sdk-venv and bittensor-drand 2.x (scripts/interop/drand2-requirements.txt)
# into target/drand2-venv, each once, and prints the path of the SDK's Python. The weight-setting tests
# (tests/api/sdk_oracle.rs) compare zipcoord's vectors, calls, transactions and reveal rounds with theirs.
set -euo pipefail
cd "$(dirname "$0")/../.."

# install VENV REQUIREMENTS: (re)creates VENV when REQUIREMENTS changed since it was made.
install() {
    local venv=$1 requirements=$2
    local stamp="$venv/.installed"
    if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
        cp "$requirements" "$stamp"
    fi
}

install target/sdk-venv scripts/interop/sdk-requirements.txt
install target/drand2-venv scripts/interop/drand2-requirements.txt
echo "$PWD/target/sdk-venv/bin/python"
