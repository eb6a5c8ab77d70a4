#!/usr/bin/env bash
# api.sh - `make bench-api`: wrk against GET /api/v1/jobs/{id} (token check
# and database reads) and against GET /api/v1/ping (the trivial FastCGI
# handler) through the same nginx in the same run, alternating, each
# QUIRE_BENCH_RUNS (default 5) times for QUIRE_BENCH_SECONDS (default 5);
# the figures are those of the pair with the median ratio. Each run also
# prints the CPU (quire-api + mariadbd + nginx) one request cost.
# Last line: bench-api: jobs_rps=<x> baseline_rps=<y> ratio=<r>
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUNS=${QUIRE_BENCH_RUNS:-5}
SECS=${QUIRE_BENCH_SECONDS:-5}
CONNS=${QUIRE_BENCH_CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "bench-api: wrk is not installed" >&2; exit 1; }
bench_stack
# wrk from one token is far over any per-token rate limit: a stack this
# benchmark was given (tests/bench.sh's private one) gets its quire-api
# restarted with the limit off
if [ "$BENCH_OWN_STACK" = 0 ] && [ "${QUIRE_RATE_LIMIT:-}" != 0 ] && [ -f "${QUIRE_VAR:-/nonexistent}/run/api.pid" ]; then
  "$ROOT/scripts/stack.sh" api-stop >/dev/null 2>&1
  QUIRE_RATE_LIMIT=0 "$ROOT/scripts/stack.sh" api-start >/dev/null 2>&1
fi
T=$QUIRE_ADMIN_TOKEN
H="Authorization: Bearer $T"
WORK=$QUIRE_VAR/bench-api
mkdir -p "$WORK"
trap 'rm -rf "$WORK"; bench_stop' EXIT

# a job to read: an audiobook from a one-second upload
sox -n -r 16000 -c 1 -b 16 "$WORK/a.wav" synth 1 sine 440 2>/dev/null
field() { sed -E "s/.*\"$1\":\"?([^\",}]+)\"?.*/\1/"; }
UP=$(curl -sf -X POST "$QUIRE_URL/api/v1/uploads" -H "$H" -H 'Content-Type: application/json' \
     -d '{"upload_type":"single","total_files":1}' | field upload_id)
curl -sf -X POST "$QUIRE_URL/api/v1/uploads/$UP/files" -H "$H" -F "file=@$WORK/a.wav" >/dev/null
AB=$(curl -sf -X POST "$QUIRE_URL/api/v1/audiobooks" -H "$H" -H 'Content-Type: application/json' \
     -d "{\"upload_id\":\"$UP\",\"title\":\"bench\"}" | field audiobook_id)
JOB=$(curl -sf "$QUIRE_URL/api/v1/audiobooks/$AB/jobs" -H "$H" | sed -E 's/.*"jobs":\[\{"id":"([0-9]+)".*/\1/')
curl -sf "$QUIRE_URL/api/v1/jobs/$JOB" -H "$H" >/dev/null || { echo "bench-api: no job to read" >&2; exit 1; }

# CPU ticks (utime + stime) of quire-api, mariadbd and nginx's workers: the
# CPU a request costs is steadier than its rate on a shared machine
cpu_ticks() {
  local pids=() p t=0 f
  for f in api mysqld; do [ -f "$QUIRE_VAR/run/$f.pid" ] && pids+=("$(cat "$QUIRE_VAR/run/$f.pid")"); done
  [ -f "$QUIRE_VAR/run/nginx.pid" ] && pids+=($(pgrep -P "$(cat "$QUIRE_VAR/run/nginx.pid")" || true))
  for p in "${pids[@]}"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$t"
}
# "rps cpu_us_per_request" of one wrk run; fails on any non-2xx answer
rps() {
  local out c0 c1
  c0=$(cpu_ticks)
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -H "$H" "$1")
  c1=$(cpu_ticks)
  if grep -q "Non-2xx" <<<"$out"; then echo "bench-api: errors from $1:" >&2; echo "$out" >&2; exit 1; fi
  awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '/requests in/ { n = $1 } /^Requests\/sec:/ { r = $2 }
    END { printf "%s %.0f\n", r, (n > 0) ? c / hz / n * 1e6 : 0 }' <<<"$out"
}
pairs=()
for ((i = 1; i <= RUNS; i++)); do
  read -r p pc < <(rps "$QUIRE_URL/api/v1/ping")
  read -r j jc < <(rps "$QUIRE_URL/api/v1/jobs/$JOB")
  echo "run $i: ping ${p} rps (${pc} us CPU/request), jobs ${j} rps (${jc} us CPU/request)," \
       "ratio $(awk -v a="$j" -v b="$p" 'BEGIN { printf "%.2f", a / b }')," \
       "CPU ratio $(awk -v a="$jc" -v b="$pc" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')"
  pairs+=("$j $p")
done
curl -sf -X DELETE "$QUIRE_URL/api/v1/audiobooks/$AB" -H "$H" >/dev/null || true
curl -sf -X DELETE "$QUIRE_URL/api/v1/uploads/$UP" -H "$H" >/dev/null || true
# the run whose ratio is the median (a shared machine makes single runs
# swing; pairs of back-to-back runs see about the same load)
printf '%s\n' "${pairs[@]}" | awk '{ print $1 / $2, $1, $2 }' | sort -n | awk '
  { r[NR] = $1; j[NR] = $2; p[NR] = $3 }
  END {
    m = int((NR + 1) / 2)
    if (NR % 2 == 0) { jr = (j[m] + j[m + 1]) / 2; pr = (p[m] + p[m + 1]) / 2; ratio = (r[m] + r[m + 1]) / 2 }
    else { jr = j[m]; pr = p[m]; ratio = r[m] }
    printf "bench-api: jobs_rps=%.0f baseline_rps=%.0f ratio=%.2f\n", jr, pr, ratio
  }'
