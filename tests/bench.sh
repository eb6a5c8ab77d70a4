#!/usr/bin/env bash
# bench.sh NAME - runs benchmark NAME against a private stack: the program
# build/tests/bench/bench_NAME, or the script tests/bench/NAME.sh. Figures
# are printed; the last line is the benchmark's summary.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export QUIRE_BIN=${QUIRE_BIN:-build}
case "$QUIRE_BIN" in /*) ;; *) QUIRE_BIN=$ROOT/$QUIRE_BIN ;; esac
name=${1:?usage: bench.sh NAME}
TMP=$(mktemp -d /tmp/quire-bench.XXXXXX)
. "$ROOT/tests/lib/stack.sh"
trap 'tstack_down; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
if [ -x "$QUIRE_BIN/tests/bench/bench_$name" ]; then
  cmd=("$QUIRE_BIN/tests/bench/bench_$name")
elif [ -f "$ROOT/tests/bench/$name.sh" ]; then
  cmd=(bash "$ROOT/tests/bench/$name.sh")
else
  echo "bench.sh: no benchmark named $name" >&2; exit 2
fi
tstack_up "$TMP" "$TMP/stack-up.log" || exit 1
"${cmd[@]}"
