#!/usr/bin/env bash
# The history benchmark (README, "Benchmarks"): builds a database holding days of a busy subnet through the
# application and storage layers, then measures its size, start-up, the busy endpoints, export, grant lookups,
# and the longest write wait while a 28-day backlog is pruned.
#
# Usage: scripts/history-bench.sh [--days N] [--miners M] [--validators V] [--backend sqlite|postgres]
#        [--reuse FILE]
# (postgres: a throw-away cluster is started with scripts/pg-test-cluster.sh unless ZIPCOORD_BENCH_POSTGRES_URL
# names a server.)
set -euo pipefail
cd "$(dirname "$0")/.."
backend=sqlite
for ((i = 1; i <= $#; i++)); do
    if [ "${!i}" = "--backend" ]; then
        next=$((i + 1))
        backend=${!next:-sqlite}
    fi
done
if [ "$backend" = "postgres" ] && [ -z "${ZIPCOORD_BENCH_POSTGRES_URL:-}" ]; then
    pg_dir=$(mktemp -d /tmp/zipcoord-bench-pg.XXXXXX)
    trap 'scripts/pg-test-cluster.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
    ZIPCOORD_BENCH_POSTGRES_URL=$(scripts/pg-test-cluster.sh start "$pg_dir")
    export ZIPCOORD_BENCH_POSTGRES_URL
fi
cargo bench --locked --bench history -- "$@"
