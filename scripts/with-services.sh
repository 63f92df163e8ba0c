#!/usr/bin/env bash
# Runs a command with a private PostgreSQL cluster and a private Redis, started on free ports
# under a temporary directory and always stopped. Exports DATABASE_URL and REDIS_URL.
# With REDIS_INSTANCES=N (default 1) it starts N Redis servers and also exports REDIS_URL_1 …
# REDIS_URL_<N-1>: one per pytest-xdist worker (portal/settings_test.py picks its own), so
# tests that pause Redis or count its commands never see another worker's traffic.
# Usage: scripts/with-services.sh COMMAND [ARGS...]   (exits with the command's status)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

log() { printf '[services] %s\n' "$*" >&2; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

WORK=$(mktemp -d /tmp/portal-services.XXXXXX)
chmod 755 "$WORK"
PG_DATA="$WORK/pg"
PG_PORT=$(free_port)
REDIS_INSTANCES=${REDIS_INSTANCES:-1}

cleanup() {
    set +e
    [ -f "$PG_DATA/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1
    for pidfile in "$WORK"/redis*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; done
    for pidfile in "$WORK"/redis*.pid; do  # gone before their directory is
        for _ in $(seq 20); do [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

mkdir -p "$PG_DATA"
chown postgres "$PG_DATA"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres >/dev/null
# Durability is pointless for a throw-away cluster; these settings make it fast.
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$PG_DATA/log" \
    -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres portal
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"

start_redis() {  # start_redis INDEX: a Redis on a free port; prints the port
    local port
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --enable-debug-command local \
        --daemonize yes --pidfile "$WORK/redis$1.pid" --dir "$WORK" --logfile "$WORK/redis$1.log"
    for _ in $(seq 50); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "$port"
}
REDIS_PORT=$(start_redis 0)
log "Redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//') on 127.0.0.1:$REDIS_PORT"
for ((i = 1; i < REDIS_INSTANCES; i++)); do
    port=$(start_redis "$i")
    export "REDIS_URL_$i=redis://127.0.0.1:$port/0"
    log "Redis for worker $i on 127.0.0.1:$port"
done

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/portal"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export PORTAL_DATA_DIR="$WORK/var"

status=0
"$@" || status=$?
exit "$status"
