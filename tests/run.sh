#!/usr/bin/env bash
# run.sh - runs every test: unit tests (no servers), then integration tests
# against a private stack (MariaDB, nginx, quire-api) started in a temporary
# directory on a free port and torn down afterwards, then browser tests.
# Ends with one line "N passed, N failed[, N skipped]"; exit 1 on failure.
#   tests/run.sh [NAME-PATTERN]     e.g. tests/run.sh queue
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export QUIRE_BIN=${QUIRE_BIN:-build}
case "$QUIRE_BIN" in /*) ;; *) QUIRE_BIN=$ROOT/$QUIRE_BIN ;; esac
export QUIRE_ROOT=$ROOT
# a sanitizer build runs the heaviest tests at a smaller scale
case "$QUIRE_BIN" in *-san) export QUIRE_TEST_SANITIZE=1 ;; esac
PATTERN=${1:-}
passed=0 failed=0 skipped=0
failed_names=()

TMP=$(mktemp -d /tmp/quire-test.XXXXXX)
LOGS=$ROOT/$(basename "$QUIRE_BIN")/test-logs
rm -rf "$LOGS"; mkdir -p "$LOGS"

# Sanitizer builds: leaks in the libraries' one-time initialisation are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Runs one test program, adds its "t: N passed, N failed, N skipped" line up.
run_one() {
  local name=$1; shift
  [ -n "$PATTERN" ] && [[ "$name" != *$PATTERN* ]] && return 0
  echo "== $name"
  local out=$TMP/out.$$ err=$LOGS/${name//\//_}.stderr
  "$@" 2>"$err" | tee "$out"
  local rc=${PIPESTATUS[0]}
  local line p f s
  line=$(grep -E '^(t: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  if [ -z "$line" ]; then
    echo "   $name: exited $rc without a result line"; tail -20 "$err"
    failed=$((failed + 1)); failed_names+=("$name"); return
  fi
  p=$(sed -E 's/.*([0-9]+) passed.*/\1/; s/^[^0-9]*//' <<<"$line"); p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
  f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
  s=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
  if [ "$f" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
    [ "$f" -eq 0 ] && failed=$((failed + 1))
    failed_names+=("$name"); tail -20 "$err"
  fi
}

. "$ROOT/tests/lib/stack.sh"

cleanup() {
  tstack_down "$LOGS"
  # a test that died with a tmpfs mounted (test_disk_full) must not keep it
  awk -v t="$TMP/" 'index($2, t) == 1 {print $2}' /proc/mounts 2>/dev/null | xargs -r -n1 umount 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for t in "$QUIRE_BIN"/tests/unit/*; do
  [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
done

integration=()
for t in "$QUIRE_BIN"/tests/integration/*; do
  [ -x "$t" ] || continue
  [ -n "$PATTERN" ] && [[ "integration/$(basename "$t")" != *$PATTERN* ]] && continue
  integration+=("$t")
done
browser=0
if [ -f tests/browser/run.mjs ] && { [ -z "$PATTERN" ] || [[ browser == *$PATTERN* ]]; }; then browser=1; fi

if [ ${#integration[@]} -gt 0 ] || [ $browser = 1 ]; then
  echo "== stack: $TMP/var"
  if ! tstack_up "$TMP" "$LOGS/stack-up.log"; then
    echo "stack did not come up"; failed=$((failed + 1)); failed_names+=("stack")
  else
    for t in "${integration[@]}"; do run_one "integration/$(basename "$t")" "$t"; done
    if [ $browser = 1 ]; then
      if [ ! -d tests/browser/node_modules ]; then
        (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) || echo "npm ci failed"
      fi
      run_one browser node tests/browser/run.mjs
    fi
  fi
fi

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
