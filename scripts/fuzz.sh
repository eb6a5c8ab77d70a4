#!/bin/sh
# fuzz.sh - build and run quire's libFuzzer targets with clang.
# Usage: scripts/fuzz.sh [audio|transcript] [seconds]   (default: audio, 60 s)
# The binary goes to build-fuzz/, findings (crash-*, leak-*) to build-fuzz/<target>/.
set -eu
target=${1:-audio}
secs=${2:-60}
cd "$(dirname "$0")/.."
out=build-fuzz
mkdir -p "$out/$target" "$out/corpus-$target"
pkgs="libavformat libavcodec libswresample libavutil"
case "$target" in
audio) srcs="tests/fuzz/fuzz_audio.c worker/audio_decode.c lib/err.c" ;;
transcript) srcs="tests/fuzz/fuzz_transcript.c lib/transcript.c lib/err.c"; pkgs="$pkgs libcjson" ;;
*) echo "unknown fuzz target: $target" >&2; exit 2 ;;
esac
# shellcheck disable=SC2046
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
    -Ilib -Iworker $(pkg-config --cflags $pkgs) -o "$out/fuzz_$target" $srcs \
    $(pkg-config --libs $pkgs) -lpthread -lm
# New inputs go to build-fuzz/corpus-<target>; the committed seeds stay as they are.
# ASan quarantine would otherwise count as RSS against the limit.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}
export ASAN_OPTIONS
exec "$out/fuzz_$target" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 \
    -timeout=20 -artifact_prefix="$out/$target/" "$out/corpus-$target" "tests/fuzz/corpus/$target"
