#!/usr/bin/env bash
# The whole benchmark (README, "Benchmarks"): criterion over the pure parts and epoch creation, then the load
# benchmark against the release server, which prints one table with every figure and the core count.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench domain -- --warm-up-time 1 --measurement-time 3 --noplot
cargo bench --locked --bench load
