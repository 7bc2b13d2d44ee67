#!/usr/bin/env bash
# The whole test suite, from a fresh clone: Rust unit, property and integration tests (real HTTP on loopback,
# real SQLite files, real sr25519 keys, an embedded S3-compatible server, the dashboard in headless Chromium, the
# bittensor SDK as the oracle for weights, calls and transactions), the
# integration suite again against a throw-away PostgreSQL server, then a live interop check that signs requests
# with PyPI `bittensor-wallet` (the library real miners and validators use) against the running binary, then
# schemathesis fuzzing every operation of the served OpenAPI description and headless Chromium rendering the
# Swagger UI, and finally the binary run the way the Docker image runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

# One optimized build serves everything: the Dockerfile's build command first (the binary the image ships), then
# the tests in the same profile, so dependencies are compiled once.
# Installs Debian's package $1 unless command $1 exists.
install_missing() {
    command -v "$1" >/dev/null 2>&1 && return
    echo "installing Debian's $1"
    local sudo_if_needed=""
    [ "$(id -u)" -eq 0 ] || sudo_if_needed="sudo"
    $sudo_if_needed apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo_if_needed apt-get install -y -qq "$1" >/dev/null
}

# The tests run `serve --dev`'s printed examples as a user would, with curl, and load the dashboard (and later
# the Swagger UI) in headless Chromium.
install_missing curl
install_missing chromium
# A private certificate authority for the test that the system's CA roots are trusted.
install_missing openssl

echo "== cargo build --release --locked (the Dockerfile's build step)"
cargo build --release --locked
binary=target/release/zipcoord

echo "== the bittensor SDK oracle for the weight-setting tests (target/sdk-venv)"
ZIPCOORD_SDK_PYTHON=$(scripts/interop/sdk-venv.sh)
export ZIPCOORD_SDK_PYTHON

echo "== cargo test (SQLite)"
cargo test --release --locked

echo "== integration suite against PostgreSQL"
pg_dir=$(mktemp -d /tmp/zipcoord-pg.XXXXXX)
trap 'scripts/pg-test-cluster.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
ZIPCOORD_TEST_DATABASE_URL=$(scripts/pg-test-cluster.sh start "$pg_dir")
export ZIPCOORD_TEST_DATABASE_URL
# The modules that open no database (the chain, the SDK oracle, the layering rules, localnet processes on their
# own SQLite files) ran in the pass above and would only run the same code again.
cargo test --release --locked --test api -- --skip localnet_chain --skip localnet_market --skip sdk_oracle --skip weights_on_chain --skip layers
unset ZIPCOORD_TEST_DATABASE_URL

echo "== live interop with bittensor-wallet"
venv=target/interop-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "bittensor-wallet==4.1.1" "schemathesis==4.32.5"
"$venv/bin/python" scripts/interop/live_check.py "$binary"

echo "== OpenAPI: schemathesis fuzzing and Swagger UI in headless Chromium"
"$venv/bin/python" scripts/interop/api_checks.py "$binary"

echo "== the image's runtime: the Dockerfile's ENV, CMD and HEALTHCHECK against the release binary"
python3 scripts/container_smoke.py "$binary"
