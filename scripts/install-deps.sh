#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmarks need,
# when any is missing. Safe to run repeatedly: it does nothing when all are there.
set -euo pipefail

# Usage: install-deps.sh [--bench]   (--bench adds the benchmark peers)
packages=(
  build-essential g++-12 clang-16 libclang-rt-16-dev cmake ninja-build ccache
  libgtest-dev libgmock-dev libbenchmark-dev
  liburing-dev nlohmann-json3-dev python3
  libboost1.81-dev libsqlite3-dev libcurl4-openssl-dev libhttp-parser-dev openssl libyaml-cpp-dev libjemalloc-dev chromium
)
# Node.js and npm run the real peers (MCP servers, ADK-TS). The machine may
# bring its own Node (not from Debian): only install Debian's when absent.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ "${1:-}" = "--bench" ]; then
  packages+=(python3-uvloop python3-aiohttp librust-tokio-dev cargo golang-go valgrind wrk)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
