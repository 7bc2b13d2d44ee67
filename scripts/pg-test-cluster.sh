#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster on a free loopback port for the test suite and prints its URL.
# Usage: url=$(scripts/pg-test-cluster.sh start DIR); ...; scripts/pg-test-cluster.sh stop DIR
# Installs Debian's postgresql package when no server binaries are found. Runs the server as the `postgres`
# user when started as root (PostgreSQL refuses to run as root).
set -euo pipefail

find_bin() {
    local name=$1 candidate
    for candidate in $(command -v "$name" 2>/dev/null) /usr/lib/postgresql/*/bin/"$name"; do
        if [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_server() {
    if ! find_bin initdb >/dev/null || ! find_bin pg_ctl >/dev/null || ! find_bin postgres >/dev/null; then
        echo "installing PostgreSQL from Debian's packages" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}

cmd=${1:?start or stop}
dir=${2:?cluster directory}
case "$cmd" in
start)
    ensure_server
    initdb=$(find_bin initdb)
    pg_ctl=$(find_bin pg_ctl)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_owner "'$initdb' -D '$dir/data' -A trust -U postgres --no-sync >'$dir/initdb.log' 2>&1"
    as_owner "'$pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=400\" start >/dev/null"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    pg_ctl=$(find_bin pg_ctl)
    as_owner "'$pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null" || true
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
