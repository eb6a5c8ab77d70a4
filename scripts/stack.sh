#!/usr/bin/env bash
# stack.sh - starts and stops quire's local stack under $QUIRE_VAR (default
# ./var): a private MariaDB on a unix socket, nginx from nginx/quire.conf.in,
# quire-api and quire-workers. Used by `make run` and by the test harness.
#   stack.sh up | down | run | status
#   stack.sh db-start | db-stop | api-start | api-stop | nginx-start |
#            nginx-stop | nginx-reload | worker-start [ARGS] | worker-stop
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export QUIRE_VAR=${QUIRE_VAR:-$ROOT/var}
mkdir -p "$QUIRE_VAR"
QUIRE_VAR=$(cd "$QUIRE_VAR" && pwd)
export QUIRE_PORT=${QUIRE_PORT:-8080}
export QUIRE_BIN=${QUIRE_BIN:-build}
case "$QUIRE_BIN" in /*) ;; *) QUIRE_BIN=$ROOT/$QUIRE_BIN ;; esac
export QUIRE_DB_SOCKET=${QUIRE_DB_SOCKET:-$QUIRE_VAR/run/mysqld.sock}
export QUIRE_API_SOCKET=${QUIRE_API_SOCKET:-$QUIRE_VAR/run/api.sock}
export QUIRE_STORAGE=${QUIRE_STORAGE:-$QUIRE_VAR/storage}
export QUIRE_SQL_DIR=${QUIRE_SQL_DIR:-$ROOT/sql}
export QUIRE_MAX_UPLOAD_BYTES=${QUIRE_MAX_UPLOAD_BYTES:-4294967296}
RUN=$QUIRE_VAR/run LOG=$QUIRE_VAR/log

log() { printf 'stack: %s\n' "$*" >&2; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Sends TERM, waits up to $2 seconds, then KILL; removes the pid file.
stop_pid() {
  local f=$1 wait=${2:-10} p
  [ -f "$f" ] || return 0
  p=$(cat "$f" 2>/dev/null) || return 0
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < wait * 10; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { log "pid $p did not stop, killing"; kill -KILL "$p" 2>/dev/null || true; }
  fi
  rm -f "$f"
}

dirs() {
  mkdir -p "$RUN" "$LOG" "$QUIRE_STORAGE" "$QUIRE_VAR"/tmp/{body,upload,fastcgi,proxy,uwsgi,scgi} "$QUIRE_VAR/mysql"
}

db_start() {
  dirs
  pid_alive "$RUN/mysqld.pid" && return 0
  local fresh=0
  if [ ! -d "$QUIRE_VAR/mysql/mysql" ]; then
    fresh=1
    mariadb-install-db --no-defaults --datadir="$QUIRE_VAR/mysql" --user="$(id -un)" \
      --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1 \
      || { cat "$LOG/mariadb-install.log" >&2; return 1; }
  fi
  # innodb_flush_log_at_trx_commit=2: a commit reaches the OS at once, so a
  # crash of mariadbd loses nothing; only a crash of the machine may lose the
  # last second. QUIRE_DB_DURABLE=1 makes it 1 (fsync every commit).
  local flush=2
  [ "${QUIRE_DB_DURABLE:-0}" = 1 ] && flush=1
  local net=(--skip-networking)
  [ -n "${QUIRE_DB_TCP_PORT:-}" ] && net=(--bind-address=127.0.0.1 --port="$QUIRE_DB_TCP_PORT")
  mariadbd --no-defaults --datadir="$QUIRE_VAR/mysql" --socket="$QUIRE_DB_SOCKET" \
    --pid-file="$RUN/mysqld.pid" --log-error="$LOG/mariadb.log" --user="$(id -un)" "${net[@]}" \
    --innodb-buffer-pool-size=256M --innodb-log-file-size=256M --innodb-flush-log-at-trx-commit=$flush \
    --max-connections=500 --skip-name-resolve --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci --innodb-lock-wait-timeout=10 ${QUIRE_DB_ARGS:-} \
    >>"$LOG/mariadb.log" 2>&1 </dev/null &
  for ((i = 0; i < 300; i++)); do
    mariadb-admin --no-defaults -S "$QUIRE_DB_SOCKET" -u root ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  mariadb-admin --no-defaults -S "$QUIRE_DB_SOCKET" -u root ping >/dev/null 2>&1 \
    || { log "mariadb did not start; see $LOG/mariadb.log"; tail -20 "$LOG/mariadb.log" >&2; return 1; }
  if [ $fresh = 1 ]; then
    mariadb --no-defaults -S "$QUIRE_DB_SOCKET" -u root <<SQL
CREATE DATABASE IF NOT EXISTS quire CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS 'quire'@'localhost' IDENTIFIED BY '';
CREATE USER IF NOT EXISTS 'quire'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'quire'@'localhost';
GRANT ALL PRIVILEGES ON *.* TO 'quire'@'127.0.0.1';
SQL
  fi
}

db_stop() { stop_pid "$RUN/mysqld.pid" 60; }

migrate() { "$QUIRE_BIN/quirectl" migrate >&2; }

nginx_conf() {
  sed -e "s|@VAR@|$QUIRE_VAR|g" -e "s|@ROOT@|$ROOT|g" -e "s|@PORT@|$QUIRE_PORT|g" \
      -e "s|@API_SOCKET@|$QUIRE_API_SOCKET|g" -e "s|@STORAGE@|$QUIRE_STORAGE|g" \
      -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
      -e "s|@MAX_UPLOAD@|$QUIRE_MAX_UPLOAD_BYTES|g" \
      "$ROOT/nginx/quire.conf.in" >"$RUN/nginx.conf"
}

nginx_start() {
  dirs
  nginx_conf
  pid_alive "$RUN/nginx.pid" && { nginx_reload; return 0; }
  nginx -p "$QUIRE_VAR" -c "$RUN/nginx.conf" -e "$LOG/nginx-error.log" -g 'daemon on;' 2>>"$LOG/nginx-error.log" \
    || { log "nginx did not start"; tail -5 "$LOG/nginx-error.log" >&2; return 1; }
  for ((i = 0; i < 50; i++)); do pid_alive "$RUN/nginx.pid" && break; sleep 0.1; done
}

nginx_reload() {
  nginx_conf
  nginx -p "$QUIRE_VAR" -c "$RUN/nginx.conf" -e "$LOG/nginx-error.log" -s reload
}

nginx_stop() {
  if pid_alive "$RUN/nginx.pid"; then
    nginx -p "$QUIRE_VAR" -c "$RUN/nginx.conf" -e "$LOG/nginx-error.log" -s quit 2>/dev/null || true
  fi
  stop_pid "$RUN/nginx.pid" 10
}

api_start() {
  dirs
  pid_alive "$RUN/api.pid" && return 0
  "$QUIRE_BIN/quire-api" >>"$LOG/api.log" 2>&1 </dev/null &
  echo $! >"$RUN/api.pid"
  for ((i = 0; i < 100; i++)); do [ -S "$QUIRE_API_SOCKET" ] && break; sleep 0.05; done
  [ -S "$QUIRE_API_SOCKET" ] || { log "quire-api did not start"; tail -5 "$LOG/api.log" >&2; return 1; }
}

api_stop() { stop_pid "$RUN/api.pid" 15; }

# worker-start [NAME] [quire-worker args]: one pid file per name.
worker_start() {
  dirs
  local name=${1:-worker1}; shift || true
  pid_alive "$RUN/$name.pid" && return 0
  [ -x "$QUIRE_BIN/quire-worker" ] || { log "no quire-worker built"; return 0; }
  "$QUIRE_BIN/quire-worker" --id "$name" "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

worker_stop() {
  local f
  if [ -n "${1:-}" ]; then stop_pid "$RUN/$1.pid" 40; return; fi
  for f in "$RUN"/worker*.pid; do [ -e "$f" ] && stop_pid "$f" 40; done
  return 0
}

admin() {
  "$QUIRE_BIN/quirectl" ensure-admin >/dev/null
}

up() {
  db_start
  migrate
  admin
  api_start
  nginx_start
  local n=${QUIRE_WORKERS:-1}
  for ((w = 1; w <= n; w++)); do worker_start "worker$w" ${QUIRE_WORKER_ARGS:-}; done
}

down() {
  worker_stop
  nginx_stop
  api_stop
  db_stop
}

status() {
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    if pid_alive "$f"; then echo "$(basename "$f" .pid): running ($(cat "$f"))"; else echo "$(basename "$f" .pid): stale"; fi
  done
}

run() {
  # a second Ctrl-C (or make's own signal) must not cut the teardown short
  trap 'trap "" INT TERM HUP; echo; log "stopping"; down; log "stopped"; exit 0' INT TERM HUP
  up
  local token
  token=$(head -1 "$QUIRE_VAR/admin-token")
  cat <<MSG

  quire is running.
    dashboard:   http://127.0.0.1:$QUIRE_PORT/
    health:      curl http://127.0.0.1:$QUIRE_PORT/api/v1/health
    admin token: $token   (also in $QUIRE_VAR/admin-token)
    logs:        $LOG/
  Press Ctrl-C to stop.

MSG
  while true; do sleep 1 & wait $!; done
}

cmd=${1:-status}; shift || true
case "$cmd" in
  up) up ;;
  down) down ;;
  run) run ;;
  status) status ;;
  db-start) db_start ;;
  db-stop) db_stop ;;
  migrate) migrate ;;
  api-start) api_start ;;
  api-stop) api_stop ;;
  nginx-start) nginx_start ;;
  nginx-stop) nginx_stop ;;
  nginx-reload) nginx_reload ;;
  worker-start) worker_start "$@" ;;
  worker-stop) worker_stop "$@" ;;
  *) echo "usage: stack.sh up|down|run|status|db-start|db-stop|migrate|api-start|api-stop|nginx-start|nginx-stop|nginx-reload|worker-start|worker-stop" >&2; exit 2 ;;
esac
