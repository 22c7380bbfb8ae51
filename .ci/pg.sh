#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, on 127.0.0.1 with trust auth; prints its URL on stdout.
#
#   .ci/pg.sh          start (or reuse) the server and print postgresql://postgres@127.0.0.1:PORT/postgres
#   .ci/pg.sh stop     stop it and delete its files
#
# Idempotent: a server that already answers (DIEMTIN_TEST_PG_URL, or ours from an earlier call)
# is reused. Otherwise a fresh cluster is made with initdb in $DIEMTIN_PG_DIR (default
# /tmp/diemtin-pg), run as the `postgres` user when we are root (initdb refuses root), with
# fsync off (test data only). The port is 5432, or the next free one if something else (such as
# Debian's own 15/main cluster, started by apt, which wants a password) already holds it.
# PostgreSQL is installed with apt-get when no binaries are found (Debian, as root).
set -euo pipefail

DIR="${DIEMTIN_PG_DIR:-/tmp/diemtin-pg}"
PORT="${DIEMTIN_PG_PORT:-5432}"
STATE="$DIR.url"
log() { echo "pg.sh: $*" >&2; }

# Serialise concurrent callers (several test runs on one machine). The server must not inherit
# this descriptor (it would hold the lock for its whole life), hence the `9>&-` below.
exec 9>"$DIR.lock"
flock -w 120 9 || { log "another pg.sh holds $DIR.lock"; exit 1; }

answers() {  # answers URL: a server there lets us in (psql, else psycopg as the tests use)
    [[ -n "${1:-}" ]] || return 1
    local bin
    bin="$(bindir)"
    if [[ -n "$bin" && -x "$bin/psql" ]]; then
        PGCONNECT_TIMEOUT=3 "$bin/psql" "$1" -XAtqc 'select 1' >/dev/null 2>&1
    else
        python - "$1" >/dev/null 2>&1 <<'PY'
import sys
import psycopg
with psycopg.connect(sys.argv[1], connect_timeout=3) as conn:
    conn.execute("select 1")
PY
    fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg() {  # run a command as the postgres user if we are root
    if [[ $EUID -eq 0 ]]; then
        PATH="$PATH:/usr/sbin:/sbin" runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

stop_ours() {  # stop a server left in $DIR by an earlier call, whatever state it is in
    local bin pid
    [[ -f "$DIR/data/postmaster.pid" ]] || return 0
    bin="$(bindir)"
    if [[ -n "$bin" ]]; then
        as_pg "$bin/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 9>&- || true
    fi
    pid="$(head -n 1 "$DIR/data/postmaster.pid" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "cannot stop the server $pid in $DIR"
            exit 1
        fi
    fi
}

if [[ "${1:-}" == "stop" ]]; then
    stop_ours
    rm -rf "$DIR" "$STATE"
    log "stopped"
    exit 0
fi

for url in "${DIEMTIN_TEST_PG_URL:-}" "$(cat "$STATE" 2>/dev/null || true)"; do
    if answers "$url"; then
        log "reusing the server at $url"
        echo "$url"
        exit 0
    fi
done

BIN="$(bindir)"
if [[ -z "$BIN" ]]; then
    [[ $EUID -eq 0 ]] || { log "PostgreSQL is not installed and we are not root"; exit 1; }
    log "installing postgresql with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    BIN="$(bindir)"
fi

stop_ours
rm -rf "$DIR"
mkdir -p "$DIR"
if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$DIR"; fi
chmod 700 "$DIR"

LOCALE=(--locale=C.UTF-8)
locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' || LOCALE=(--no-locale)
as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 "${LOCALE[@]}" >"$DIR/initdb.log" 2>&1 \
    || { cat "$DIR/initdb.log" >&2; exit 1; }

while port_busy "$PORT"; do
    log "port $PORT is taken by another server; trying $((PORT + 1))"
    PORT=$((PORT + 1))
done

as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null 9>&- || { cat "$DIR/server.log" >&2; exit 1; }

URL="postgresql://postgres@127.0.0.1:$PORT/postgres"
answers "$URL" || { log "started, but $URL does not answer"; cat "$DIR/server.log" >&2; exit 1; }
echo "$URL" >"$STATE"
log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') at $URL"
echo "$URL"
