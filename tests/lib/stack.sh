# stack.sh (sourced) - a private stack for tests and benchmarks: a temporary
# directory, a free port, scripts/stack.sh up; tstack_down tears it down.
# Needs ROOT and QUIRE_BIN set; exports QUIRE_URL, QUIRE_ADMIN_TOKEN and the
# QUIRE_* paths for the programs it runs.

tstack_free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))   # below the ephemeral range (32768+)
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  return 1
}

# tstack_up DIR LOGFILE: 0 when the stack is up.
tstack_up() {
  export QUIRE_VAR=$1/var QUIRE_PORT=$(tstack_free_port) QUIRE_WORKERS=${QUIRE_WORKERS:-0}
  export QUIRE_URL=http://127.0.0.1:$QUIRE_PORT
  export QUIRE_DB_SOCKET=$QUIRE_VAR/run/mysqld.sock QUIRE_API_SOCKET=$QUIRE_VAR/run/api.sock
  export QUIRE_STORAGE=$QUIRE_VAR/storage QUIRE_SQL_DIR=$ROOT/sql QUIRE_ROOT=$ROOT
  TSTACK_UP=1
  "$ROOT/scripts/stack.sh" up 2>"$2" || { cat "$2"; return 1; }
  export QUIRE_ADMIN_TOKEN=$(head -1 "$QUIRE_VAR/admin-token")
}

# tstack_down [LOGDIR]: stops everything the stack and the tests started.
tstack_down() {
  [ -n "${TSTACK_UP:-}" ] || return 0
  [ -n "${1:-}" ] && cp -r "$QUIRE_VAR/log" "$1/stack" 2>/dev/null
  "$ROOT/scripts/stack.sh" down >/dev/null 2>&1
  TSTACK_UP=
}
