#!/usr/bin/env bash
# deps.sh - installs the Debian 12 packages quire needs, only those missing
# (a no-op when all are there). Run by `make run` and `make test`.
set -euo pipefail
PKGS=(
  build-essential pkg-config curl ca-certificates
  libfcgi-dev libmariadb-dev mariadb-server mariadb-client nginx
  libcjson-dev libcurl4-openssl-dev libssl-dev libopenblas-dev liblapacke-dev
  libpocketsphinx-dev pocketsphinx pocketsphinx-en-us pocketsphinx-testdata
  flite flite1-dev espeak-ng libespeak-ng-dev
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev ffmpeg libmp3lame-dev
  clang libclang-rt-14-dev wrk sox nodejs npm chromium
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Wanted, not required: installed where the release has them. Debian 13 has
# python3-openapi-spec-validator (test_api_openapi validates docs/openapi.yaml
# with it); Debian 12 has not, and the test skips that check when no
# openapi-spec-validator is on PATH.
OPTIONAL=(python3-openapi-spec-validator)
for p in "${OPTIONAL[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then continue; fi
  if [ "$p" = python3-openapi-spec-validator ] && command -v openapi-spec-validator >/dev/null 2>&1; then continue; fi
  if apt-cache show "$p" >/dev/null 2>&1; then missing+=("$p"); fi
done
# node/npm may come from elsewhere than Debian (a newer toolchain on PATH)
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
