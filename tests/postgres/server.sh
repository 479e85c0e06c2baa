#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, on loopback only, its data under
# the given directory (owned by the postgres user, which initdb needs).
#
#   tests/postgres/server.sh start DIR PORT   # a new cluster; prints the admin URL
#       PG_FSYNC=off makes it skip fsync: the test command's runs, where only
#       Roster's process is killed (PostgreSQL keeps every commit it
#       acknowledged in the OS's cache); the benchmarks keep the default, on.
#   tests/postgres/server.sh stop DIR         # stops it (its data stays)
#   tests/postgres/server.sh resume DIR       # starts a stopped one again
#
# The admin URL (role postgres, password-less over the socket, password
# "roster-test" over TCP) can create a database per test.
set -euo pipefail

cmd=${1:?start DIR PORT | stop DIR | resume DIR}
dir=$(realpath -m "${2:?the data directory}")
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

case "$cmd" in
start)
    port=${3:?the port}
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir/sock"
    chown -R postgres "$dir" 2>/dev/null || sudo chown -R postgres "$dir"
    # initdb refuses a working directory postgres cannot read.
    cd /
    pwfile=$(mktemp)
    echo "roster-test" >"$pwfile"
    chown postgres "$pwfile" 2>/dev/null || sudo chown postgres "$pwfile"
    as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >"$dir/initdb.log"
    rm -f "$pwfile"
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
fsync = ${PG_FSYNC:-on}
max_connections = 400
CONF
    as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 start >/dev/null
    echo "postgres://postgres:roster-test@127.0.0.1:$port/postgres"
    ;;
resume)
    cd /
    as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 start >/dev/null
    ;;
stop)
    cd /
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    echo "usage: $0 start DIR PORT | stop DIR | resume DIR" >&2
    exit 2
    ;;
esac
