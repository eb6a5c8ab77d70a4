# common.sh - sourced by the API's benchmark scripts (upload.sh, api.sh):
# use the stack named by $QUIRE_URL (and $QUIRE_VAR, $QUIRE_ADMIN_TOKEN) when
# the caller started one, else start a private one in a temporary directory
# on a free port (no workers, no rate limit) and stop it on exit.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export QUIRE_BIN=${QUIRE_BIN:-build}
case "$QUIRE_BIN" in /*) ;; *) QUIRE_BIN=$ROOT/$QUIRE_BIN ;; esac

bench_free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$(( ${QUIRE_BENCH_PORT_BASE:-18400} + RANDOM % 100 ))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  return 1
}

bench_stack() {
  if [ -n "${QUIRE_URL:-}" ] && [ -n "${QUIRE_ADMIN_TOKEN:-}" ]; then
    BENCH_OWN_STACK=0
    return 0
  fi
  BENCH_OWN_STACK=1
  BENCH_TMP=$(mktemp -d "${QUIRE_BENCH_DIR:-$ROOT}/.bench.XXXXXX")
  export QUIRE_VAR=$BENCH_TMP/var QUIRE_PORT=$(bench_free_port) QUIRE_WORKERS=0 QUIRE_RATE_LIMIT=0
  export QUIRE_URL=http://127.0.0.1:$QUIRE_PORT
  export QUIRE_DB_SOCKET=$QUIRE_VAR/run/mysqld.sock QUIRE_API_SOCKET=$QUIRE_VAR/run/api.sock
  export QUIRE_STORAGE=$QUIRE_VAR/storage QUIRE_SQL_DIR=$ROOT/sql QUIRE_LOG_LEVEL=warn
  trap bench_stop EXIT
  "$ROOT/scripts/stack.sh" up >"$BENCH_TMP/stack-up.log" 2>&1 || { cat "$BENCH_TMP/stack-up.log" >&2; exit 1; }
  export QUIRE_ADMIN_TOKEN=$(head -1 "$QUIRE_VAR/admin-token")
}

bench_stop() {
  if [ "${BENCH_OWN_STACK:-0}" = 1 ]; then
    "$ROOT/scripts/stack.sh" down >/dev/null 2>&1
    rm -rf "$BENCH_TMP"
  fi
}

# now in seconds with nanoseconds
bench_now() { date +%s.%N; }
