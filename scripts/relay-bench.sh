#!/bin/bash
# A validator relay's cost per request: `serve --dev` and `validator run --relay-listen` from BINARY (default the
# release build) on loopback, then 100 requests each of the relay's /stats and the next epoch's inputs (about
# 1 MB with the built-in universe), timed by curl; prints the median and p90. Usage: scripts/relay-bench.sh [BINARY]
bin=${1:-target/release/zipcoord}; bin=$(realpath "$bin"); d=$(mktemp -d); cd "$d"
$bin serve --dev --listen 127.0.0.1:18090 --database-url sqlite://$d/z.db > s.out 2> s.err &
spid=$!; sleep 5
$bin validator run --url http://127.0.0.1:18090 --key-uri //Alice --metagraph dev --synthetic --no-upload --state-dir $d/v --beacon dev --poll-seconds 2 --relay-listen 127.0.0.1:18091 > v.out 2> v.err &
vpid=$!
for i in $(seq 60); do curl -sf 127.0.0.1:18091/api/v1/zipcode-assignments/stats > st.json && grep -q inputsHash st.json && break; sleep 1; done
next=$(python3 -c 'import json;print(json.load(open("st.json"))["epochStatus"]["nextEpoch"]["id"])')
ls -la $d/v/inputs/ | tail -2
for path in stats epoch/$next/inputs; do
  for i in $(seq 100); do curl -s -o /dev/null -w '%{time_total}\n' 127.0.0.1:18091/api/v1/zipcode-assignments/$path; done | sort -n | awk -v p=$path '{a[NR]=$1} END {printf "%s median %.2f ms p90 %.2f ms\n", p, a[int(NR/2)]*1000, a[int(NR*0.9)]*1000}'
done
kill $vpid $spid; wait 2>/dev/null; rm -rf $d
