#!/usr/bin/env bash
# upload.sh - `make bench-upload`: a 1 GiB file uploaded through nginx as a
# raw body and as multipart/form-data, each timed against `cp` of the same
# file on the same disk in the same run (best of QUIRE_BENCH_RUNS, default
# 5, for each; the machine may be shared). The client
# (tests/bench/upload_client.c) sends the file with sendfile(2). The upload
# time includes everything the client waits for: nginx writing the body
# file, quire-api linking (raw) or copying the file part (multipart) into
# storage, hashing it (sha256) and making it durable (fdatasync of the file,
# fsync of its directory) before the 201.
#
# Because a 201 means "on disk", the ratios of the last line are taken
# against `cp` followed by the same fdatasync of the copy and fsync of its
# directory ("cp+sync"). The ratios against a bare `cp` (a page-cache copy
# that the kernel writes out later) are printed on the line before it.
# Last line: bench-upload: raw_ratio=<r> multipart_ratio=<r> raw_mb_s=<x>
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MB=${QUIRE_BENCH_UPLOAD_MB:-1024}
RUNS=${QUIRE_BENCH_RUNS:-5}
CLIENT=$QUIRE_BIN/tests/bench/upload_client
bench_stack
T=$QUIRE_ADMIN_TOKEN
HOSTPORT=${QUIRE_URL#http://}; HOST=${HOSTPORT%:*}; PORT=${HOSTPORT##*:}
WORK=$QUIRE_VAR/bench-upload
mkdir -p "$WORK"
SRC=$WORK/src.wav
trap 'rm -rf "$WORK"; bench_stop' EXIT

# a WAV header, then MB MiB of noise (the type check reads the first bytes)
printf 'RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\xff\xff\xff\xff' >"$SRC"
head -c $((MB * 1024 * 1024)) /dev/urandom >>"$SRC"
SIZE=$(stat -c %s "$SRC")
cat "$SRC" >/dev/null      # warm: every contender reads it from the page cache

session() {
  curl -sf -X POST "$QUIRE_URL/api/v1/uploads" -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
    -d "{\"upload_type\":\"multi\",\"total_files\":$((2 * RUNS + 1)),\"total_size_bytes\":0}" | sed -E 's/.*"upload_id":"([^"]+)".*/\1/'
}
UP=$(session)

best_cp=999999 best_cps=999999 best_raw=999999 best_mp=999999
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }
# each contender starts from the same state: nothing of the others left,
# no dirty pages waiting for writeback (sync is outside the timing)
for ((i = 1; i <= RUNS; i++)); do
  sync
  t0=$(bench_now); cp "$SRC" "$WORK/copy.wav"; t1=$(bench_now)
  rm -f "$WORK/copy.wav"
  r_cp=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  best_cp=$(min "$best_cp" "$r_cp")

  sync
  t0=$(bench_now); cp "$SRC" "$WORK/copy.wav"; sync -d "$WORK/copy.wav" "$WORK"; t1=$(bench_now)
  rm -f "$WORK/copy.wav"
  r_cps=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  best_cps=$(min "$best_cps" "$r_cps")

  sync
  t0=$(bench_now)
  out=$("$CLIENT" raw "$HOST" "$PORT" "/api/v1/uploads/$UP/files" "$T" "$SRC")
  t1=$(bench_now)
  case "$out" in *"\"file_size_bytes\":$SIZE"*) ;; *) echo "raw upload failed: $out" >&2; exit 1 ;; esac
  r_raw=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  best_raw=$(min "$best_raw" "$r_raw")
  curl -sf -X DELETE "$QUIRE_URL/api/v1/uploads/$UP" -H "Authorization: Bearer $T" >/dev/null
  UP=$(session)

  sync
  t0=$(bench_now)
  out=$("$CLIENT" multipart "$HOST" "$PORT" "/api/v1/uploads/$UP/files" "$T" "$SRC")
  t1=$(bench_now)
  case "$out" in *"\"file_size_bytes\":$SIZE"*) ;; *) echo "multipart upload failed: $out" >&2; exit 1 ;; esac
  r_mp=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  best_mp=$(min "$best_mp" "$r_mp")
  printf 'run %d: cp %.3f s  cp+sync %.3f s  raw %.3f s  multipart %.3f s\n' "$i" "$r_cp" "$r_cps" "$r_raw" "$r_mp"
  curl -sf -X DELETE "$QUIRE_URL/api/v1/uploads/$UP" -H "Authorization: Bearer $T" >/dev/null
  UP=$(session)
done
curl -sf -X DELETE "$QUIRE_URL/api/v1/uploads/$UP" -H "Authorization: Bearer $T" >/dev/null || true

awk -v cp="$best_cp" -v cps="$best_cps" -v raw="$best_raw" -v mp="$best_mp" -v mb="$MB" 'BEGIN {
  printf "cp: %.3f s   cp+sync: %.3f s   raw upload: %.3f s   multipart upload: %.3f s   (%d MiB, best of runs)\n", cp, cps, raw, mp, mb
  printf "against bare cp (no fsync): raw_ratio=%.2f multipart_ratio=%.2f\n", cp / raw, cp / mp
  printf "bench-upload: raw_ratio=%.2f multipart_ratio=%.2f raw_mb_s=%.0f\n", cps / raw, cps / mp, mb / raw
}'
