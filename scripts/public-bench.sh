#!/bin/bash
# The server's public, unauthenticated answers that are the same for everyone: `serve --dev` from BINARY (default
# the release build) on loopback, then 100 requests each of the dashboard's universe map (gzip accepted, as a
# browser asks) and the next epoch's inputs without gzip, timed by curl; prints the median and p90.
# Usage: scripts/public-bench.sh [BINARY]
bin=${1:-target/release/zipcoord}; bin=$(realpath "$bin"); d=$(mktemp -d); cd "$d"
$bin serve --dev --listen 127.0.0.1:18092 --database-url sqlite://$d/z.db > s.out 2> s.err &
spid=$!
base=http://127.0.0.1:18092/api/v1
for i in $(seq 60); do curl -sf $base/zipcode-assignments/stats > st.json && grep -q '"id"' st.json && break; sleep 1; done
next=$(python3 -c 'import json;print(json.load(open("st.json"))["epochStatus"]["nextEpoch"]["id"])')
time_it() {
  local name=$1; shift
  for i in $(seq 100); do curl -s -o /dev/null -w '%{time_total}\n' "$@"; done | sort -n |
    awk -v n="$name" '{a[NR]=$1} END {printf "%s median %.2f ms p90 %.2f ms\n", n, a[int(NR/2)]*1000, a[int(NR*0.9)]*1000}'
}
time_it "dashboard/map (gzip)" -H 'Accept-Encoding: gzip' $base/dashboard/map
time_it "epoch/$next/inputs (plain)" $base/zipcode-assignments/epoch/$next/inputs
kill $spid; wait 2>/dev/null; rm -rf $d
