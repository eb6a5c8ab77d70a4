#!/bin/sh
# fuzz.sh - build and run one of quire's libFuzzer targets with clang.
# Usage: scripts/fuzz.sh TARGET [seconds]      (default 60 s)
# Targets: audio transcript json multipart tus router text (tests/fuzz/fuzz_<target>.c).
# The binary goes to build-fuzz/, findings (crash-*, leak-*, timeout-*) to
# build-fuzz/<target>/, new inputs to build-fuzz/corpus-<target>/; the
# committed seeds in tests/fuzz/corpus/<target>/ are only read.
# Exit status: 0 when the run ended clean, non-zero (with the artifact named)
# on a crash, leak, sanitizer report or hang.
set -eu
target=${1:-audio}
secs=${2:-60}
cd "$(dirname "$0")/.."
out=build-fuzz
mkdir -p "$out/$target" "$out/corpus-$target"
LIBS="-lfcgi $(mariadb_config --libs) $(pkg-config --libs libcjson libcurl libcrypto) -lopenblas -lpthread -lm"
case "$target" in
audio)
    # the worker's decoder alone, built from source with the FFmpeg libraries
    pkgs="libavformat libavcodec libswresample libavutil"
    # shellcheck disable=SC2046
    clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Ilib -Iworker $(pkg-config --cflags $pkgs) -o "$out/fuzz_$target" \
        tests/fuzz/fuzz_audio.c worker/audio_decode.c lib/err.c $(pkg-config --libs $pkgs) -lpthread -lm
    ;;
transcript|json|multipart|tus|router|text)
    # quire-api and libquire as they ship, compiled by clang with coverage
    # and ASan/UBSan into build-fuzz/ (make keeps them up to date)
    ${MAKE:-make} --no-print-directory -s -j2 O="$out" CC=clang SANITIZE=fuzzer-no-link,address,undefined \
        "$out/libapi.a" "$out/libquire.a"
    # shellcheck disable=SC2046,SC2086
    clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Ilib -Icgi $(pkg-config --cflags libcjson) $(mariadb_config --include) -o "$out/fuzz_$target" \
        "tests/fuzz/fuzz_$target.c" "$out/libapi.a" "$out/libquire.a" $LIBS
    ;;
*) echo "unknown fuzz target: $target (audio transcript json multipart tus router text)" >&2; exit 2 ;;
esac
# ASan quarantine would otherwise count as RSS against the limit.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}
export ASAN_OPTIONS
rc=0
touch "$out/$target/.started"
# multipart reads the part headers in the first 64 KiB: its inputs may be longer
maxlen=65536
[ "$target" = multipart ] && maxlen=131072
"$out/fuzz_$target" -max_total_time="$secs" -max_len="$maxlen" -rss_limit_mb=1024 -timeout=20 \
    -artifact_prefix="$out/$target/" "$out/corpus-$target" "tests/fuzz/corpus/$target" || rc=$?
if [ "$rc" != 0 ]; then
    echo "fuzz: target $target FAILED (exit $rc); the input that did it:" >&2
    find "$out/$target" -type f -newer "$out/$target/.started" | sed 's|^|    |' >&2
    echo "    replay: $out/fuzz_$target <file>; keep it as tests/fuzz/corpus/$target/regress-<what>" >&2
fi
exit "$rc"
