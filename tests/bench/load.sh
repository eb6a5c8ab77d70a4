#!/usr/bin/env bash
# load.sh - `make bench-load`: everything at once for QUIRE_BENCH_SECONDS
# (default 60): wrk (2 threads, QUIRE_BENCH_CONNECTIONS=32 connections) on
# GET /api/v1/jobs/{id}, rounds of QUIRE_BENCH_UPLOADS (10) concurrent raw
# uploads of QUIRE_BENCH_UPLOAD_MB (200) MiB through nginx, and two
# quire-workers running noop jobs that a feeder keeps enqueueing through
# POST /api/v1/queue/noop/jobs. Every upload must come back 2xx with the
# file's size and sha256; every read and enqueue must be answered without a
# 5xx or a socket error. The resident memory (VmRSS) of quire-api and of
# the workers is read after a warm-up round of the same load and again at
# the end; growth must stay under 10%.
# Last line: bench-load: rps=<x> p99_ms=<y> errors=<n> api_rss_growth=<r>
# (exit 1 when errors > 0 or the RSS growth of quire-api or of a worker is
# 0.10 or more; the line is printed either way).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECS=${QUIRE_BENCH_SECONDS:-60}
WARM=${QUIRE_BENCH_WARMUP_SECONDS:-10}
CONNS=${QUIRE_BENCH_CONNECTIONS:-32}
MB=${QUIRE_BENCH_UPLOAD_MB:-200}
NUP=${QUIRE_BENCH_UPLOADS:-10}
BATCH=20                 # noop jobs per feeder request batch
CLIENT=$QUIRE_BIN/tests/bench/upload_client
command -v wrk >/dev/null || { echo "bench-load: wrk is not installed" >&2; exit 1; }
bench_stack
# wrk from one token is far over any per-token rate limit: a stack this
# benchmark was given (tests/bench.sh's) gets its quire-api restarted with
# the limit off, as api.sh does
if [ "$BENCH_OWN_STACK" = 0 ] && [ "${QUIRE_RATE_LIMIT:-}" != 0 ] && [ -f "${QUIRE_VAR:-/nonexistent}/run/api.pid" ]; then
  "$ROOT/scripts/stack.sh" api-stop >/dev/null 2>&1
  QUIRE_RATE_LIMIT=0 "$ROOT/scripts/stack.sh" api-start >/dev/null 2>&1
fi
T=$QUIRE_ADMIN_TOKEN
H="Authorization: Bearer $T"
HOSTPORT=${QUIRE_URL#http://}; HOST=${HOSTPORT%:*}; PORT=${HOSTPORT##*:}
WORK=$QUIRE_VAR/bench-load
WORKERS=(worker-load1 worker-load2)      # worker* names: stack.sh down stops them too
mkdir -p "$WORK"
cleanup() {
  [ -f "$WORK/stop" ] || touch "$WORK/stop" 2>/dev/null || true
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for w in "${WORKERS[@]}"; do "$ROOT/scripts/stack.sh" worker-stop "$w" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
  bench_stop
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mysql_q() { mariadb --no-defaults -S "$QUIRE_DB_SOCKET" -u quire -N -B "${QUIRE_DB_NAME:-quire}" -e "$1"; }

# the file to upload: a WAV header (the type check reads the first bytes)
# and MB MiB of noise; its sha256 is what every upload must answer
SRC=$WORK/src.wav
printf 'RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\xff\xff\xff\xff' >"$SRC"
head -c $((MB * 1024 * 1024)) /dev/urandom >>"$SRC"
SIZE=$(stat -c %s "$SRC")
SHA=$(sha256sum "$SRC" | cut -d' ' -f1)

# the job the readers read: a noop job of the admin's
JOB=$(curl -sf -X POST "$QUIRE_URL/api/v1/queue/noop/jobs" -H "$H" -H 'Content-Type: application/json' \
      -d '{"sleep_ms":1}' | sed -E 's/.*"job_id":([0-9]+).*/\1/')
curl -sf "$QUIRE_URL/api/v1/jobs/$JOB" -H "$H" >/dev/null || { echo "bench-load: no job to read" >&2; exit 1; }

for w in "${WORKERS[@]}"; do
  "$ROOT/scripts/stack.sh" worker-start "$w" --types noop --concurrency 2 >/dev/null 2>&1
done
sleep 0.5
for w in "${WORKERS[@]}"; do
  kill -0 "$(cat "$QUIRE_VAR/run/$w.pid")" 2>/dev/null || { echo "bench-load: $w did not start" >&2; exit 1; }
done
API_PID=$(cat "$QUIRE_VAR/run/api.pid")

# wrk's own counts: 5xx and other non-2xx answers, latency percentiles
cat >"$WORK/status.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) s5 = 0; other = 0 end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1 elseif status >= 300 then other = other + 1 end
end
function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("s5"); b = b + t:get("other") end
  local e = summary.errors
  io.write(string.format("wrk-counts: requests=%d 5xx=%d other_non2xx=%d sock_errors=%d\n",
    summary.requests, a, b, e.connect + e.read + e.write + e.timeout))
  io.write(string.format("wrk-latency: p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
LUA

# The feeder: BATCH noop jobs per curl (one kept-alive connection), then a
# pause, until $WORK/stop appears; one line per answer's status in feed.log.
# 20 jobs every 0.1 s at most (the answers pace it: 11-22 jobs/s with the
# uploads running, 60/s without) of 20 ms each keep the 2 workers x 2 slots
# working without a backlog that grows forever.
feeder() {
  local urls=() i
  # each URL needs its own -o, or curl prints the later answers
  for ((i = 0; i < BATCH; i++)); do urls+=(-o /dev/null "$QUIRE_URL/api/v1/queue/noop/jobs"); done
  while [ ! -f "$WORK/stop" ]; do
    curl -s -w '%{http_code}\n' -X POST -H "$H" -H 'Content-Type: application/json' \
      -d '{"sleep_ms":20}' "${urls[@]}" >>"$WORK/feed.log" || echo "000" >>"$WORK/feed.log"
    sleep 0.1
  done
}

# One round: NUP uploads at once, each to its own single-file session;
# appends "ok <seconds>" or "fail <why>" per upload to $1, then deletes the
# sessions so the disk holds at most one round.
upload_round() {
  local log=$1 ups=() i pids=()
  for ((i = 0; i < NUP; i++)); do
    ups[i]=$(curl -sf -X POST "$QUIRE_URL/api/v1/uploads" -H "$H" -H 'Content-Type: application/json' \
             -d '{"upload_type":"single","total_files":1}' | sed -E 's/.*"upload_id":"([^"]+)".*/\1/') || ups[i]=""
  done
  for ((i = 0; i < NUP; i++)); do
    if [ -z "${ups[i]}" ]; then echo "fail session" >>"$log"; continue; fi
    "$CLIENT" raw "$HOST" "$PORT" "/api/v1/uploads/${ups[i]}/files" "$T" "$SRC" >"$WORK/up.$i" 2>&1 &
    pids[i]=$!
  done
  for ((i = 0; i < NUP; i++)); do
    [ -n "${ups[i]}" ] || continue
    local out secs
    wait "${pids[i]}" || true
    out=$(cat "$WORK/up.$i")
    secs=$(head -1 <<<"$out" | cut -d' ' -f2)
    case "$out" in
      2[0-9][0-9]\ *"\"file_size_bytes\":$SIZE"*"\"sha256\":\"$SHA\""*) echo "ok $secs" >>"$log" ;;
      *) echo "fail $(head -c 300 <<<"$out" | tr '\n' ' ')" >>"$log" ;;
    esac
    curl -sf -X DELETE "$QUIRE_URL/api/v1/uploads/${ups[i]}" -H "$H" >/dev/null || true
  done
}

# Rounds back to back until $WORK/stop appears (the last one finishes).
uploader() {
  if [ "$NUP" -gt 0 ]; then
    while [ ! -f "$WORK/stop" ]; do upload_round "$1"; done
  else                       # QUIRE_BENCH_UPLOADS=0: the other loads alone
    : >"$1"
    while [ ! -f "$WORK/stop" ]; do sleep 0.2; done
  fi
}

noop_done() { mysql_q "SELECT COUNT(*) FROM jobs WHERE type = 'noop' AND status = 'completed'"; }

# Warm-up: the same load for WARM seconds and one round of uploads, so the
# first RSS figures are of processes that have seen every kind of request
echo "bench-load: warm-up ${WARM} s (one round of $NUP x $MB MiB uploads), then ${SECS} s measured"
feeder & FEED=$!
if [ "$NUP" -gt 0 ]; then upload_round "$WORK/warm-uploads.log"; else : >"$WORK/warm-uploads.log"; fi & WUP=$!
wrk -t2 -c"$CONNS" -d"${WARM}s" --timeout 30s -H "$H" "$QUIRE_URL/api/v1/jobs/$JOB" >"$WORK/warm-wrk.txt" 2>&1 || true
wait "$WUP"
touch "$WORK/stop"; wait "$FEED"; rm -f "$WORK/stop"
warm_fail=$(grep -c '^fail' "$WORK/warm-uploads.log" || true)
[ "$warm_fail" = 0 ] || { echo "bench-load: warm-up upload failures:" >&2; grep '^fail' "$WORK/warm-uploads.log" >&2; }
# a quiet moment: the warm-up's queued jobs run out before the first reading
for ((i = 0; i < 100; i++)); do
  [ "$(mysql_q "SELECT COUNT(*) FROM jobs WHERE type = 'noop' AND status IN ('pending','running')")" = 0 ] && break
  sleep 0.1
done
sleep 1
api_rss0=$(rss_kb "$API_PID")
w_rss0=()
for w in "${WORKERS[@]}"; do w_rss0+=("$(rss_kb "$(cat "$QUIRE_VAR/run/$w.pid")")"); done
feed_warm=$(wc -l <"$WORK/feed.log"); : >"$WORK/feed.log"
noop0=$(noop_done)
echo "rss at start: quire-api ${api_rss0} kB, workers ${w_rss0[*]} kB"

# The measured window. quire-api's RSS is sampled every 5 s as well: a
# steady climb is a leak, a step that stays flat is a thread's malloc arena
# reaching its working size.
sampler() {
  while [ ! -f "$WORK/stop" ]; do rss_kb "$API_PID" >>"$WORK/rss.log"; sleep 5; done
}
t0=$(bench_now)
sampler & SAMP=$!
feeder & FEED=$!
uploader "$WORK/uploads.log" & UPL=$!
wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 30s --latency -s "$WORK/status.lua" -H "$H" \
    "$QUIRE_URL/api/v1/jobs/$JOB" >"$WORK/wrk.txt" 2>&1 || true
touch "$WORK/stop"
t_wrk=$(bench_now)
wait "$UPL" "$FEED" "$SAMP"
t1=$(bench_now)
# the feeder's last jobs run before the end figures
for ((i = 0; i < 100; i++)); do
  [ "$(mysql_q "SELECT COUNT(*) FROM jobs WHERE type = 'noop' AND status IN ('pending','running')")" = 0 ] && break
  sleep 0.1
done
sleep 1
api_rss1=$(rss_kb "$API_PID")
w_rss1=()
for w in "${WORKERS[@]}"; do w_rss1+=("$(rss_kb "$(cat "$QUIRE_VAR/run/$w.pid")")"); done
alive=1
kill -0 "$API_PID" 2>/dev/null || alive=0
noop1=$(noop_done)
pending=$(mysql_q "SELECT COUNT(*) FROM jobs WHERE type = 'noop' AND status NOT IN ('completed','failed','cancelled')")

# figures
grep -E '^ +(50|75|90|99)%|Requests/sec|requests in|Socket errors|Non-2xx' "$WORK/wrk.txt" || true
rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$WORK/wrk.txt")
p50=$(sed -nE 's/^wrk-latency: p50_ms=([0-9.]+).*/\1/p' "$WORK/wrk.txt")
p99=$(sed -nE 's/.* p99_ms=([0-9.]+).*/\1/p' "$WORK/wrk.txt")
counts=$(grep '^wrk-counts:' "$WORK/wrk.txt" || echo "wrk-counts: requests=0 5xx=0 other_non2xx=0 sock_errors=1")
c5=$(sed -nE 's/.* 5xx=([0-9]+).*/\1/p' <<<"$counts")
cother=$(sed -nE 's/.* other_non2xx=([0-9]+).*/\1/p' <<<"$counts")
csock=$(sed -nE 's/.* sock_errors=([0-9]+).*/\1/p' <<<"$counts")
[ -n "$rps" ] && [ -n "$p99" ] || { echo "bench-load: wrk gave no figures:" >&2; cat "$WORK/wrk.txt" >&2; rps=0 p99=0 p50=0; }
up_ok=$(grep -c '^ok' "$WORK/uploads.log" || true)
up_fail=$(grep -c '^fail' "$WORK/uploads.log" || true)
grep '^fail' "$WORK/uploads.log" | head -5 >&2 || true
up_secs=$(awk '/^ok/ { s += $2; if ($2 > m) m = $2 } END { printf "%.1f %.1f", (NR ? s / NR : 0), m }' "$WORK/uploads.log")
feed_ok=$(grep -c '^20[01]$' "$WORK/feed.log" || true)
feed_5xx=$(grep -cE '^(5[0-9][0-9]|000)$' "$WORK/feed.log" || true)
feed_other=$(grep -vcE '^(20[01]|5[0-9][0-9]|000)$' "$WORK/feed.log" || true)
errors=$((c5 + csock + up_fail + warm_fail + feed_5xx + (1 - alive)))
awk -v ok="$up_ok" -v mb="$MB" -v t0="$t0" -v t1="$t1" -v tw="$t_wrk" -v s="$up_secs" 'BEGIN {
  split(s, a, " ")
  printf "uploads: %d of %d MiB done in %.1f s (wrk %.1f s + the last round), %.0f MB/s in all, %.1f s mean, %.1f s slowest\n",
    ok, mb, t1 - t0, tw - t0, ok * mb / (t1 - t0), a[1], a[2]
}'
echo "status reads: rps=$rps p50_ms=$p50 p99_ms=$p99 5xx=$c5 other_non2xx=$cother socket_errors=$csock"
echo "noop jobs: enqueued $feed_ok (warm-up $feed_warm), completed $((noop1 - noop0)) in the window, left unfinished $pending; enqueue 5xx/failed $feed_5xx, other non-2xx $feed_other"
echo "upload failures: $up_fail (warm-up $warm_fail); quire-api alive at the end: $alive"
echo "quire-api rss every 5 s under load (kB): $(tr '\n' ' ' <"$WORK/rss.log")"
echo "rss at end:   quire-api ${api_rss1} kB, workers ${w_rss1[*]} kB"
wg=()
for ((i = 0; i < ${#WORKERS[@]}; i++)); do
  wg+=("$(awk -v a="${w_rss0[i]}" -v b="${w_rss1[i]}" 'BEGIN { printf "%.3f", a ? b / a - 1 : 0 }')")
done
echo "worker rss growth: ${wg[*]}"
growth=$(awk -v a="$api_rss0" -v b="$api_rss1" 'BEGIN { printf "%.3f", a ? b / a - 1 : 1 }')
echo "bench-load: rps=$rps p99_ms=$p99 errors=$errors api_rss_growth=$growth"
worst=$(printf '%s\n' "$growth" "${wg[@]}" | sort -g | tail -1)
rc=0
[ "$errors" = 0 ] && awk -v g="$worst" 'BEGIN { exit !(g < 0.10) }' || rc=1
exit $rc
