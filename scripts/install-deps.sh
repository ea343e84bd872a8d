#!/usr/bin/env bash
# Installs the Debian 12 packages brokerd builds and tests with, when any is missing.
set -euo pipefail
packages=(build-essential cmake ninja-build ccache pkg-config libcaf-dev libboost-dev libssl-dev
          rapidjson-dev librocksdb-dev catch2 libspdlog-dev libgoogle-perftools-dev gcovr clang-16
          libclang-rt-16-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
npm ci --prefix "$(dirname "$0")/../tests/conformance/ibkr" --no-audit --no-fund --loglevel=error
npm ci --prefix "$(dirname "$0")/../tests/conformance/alpaca" --no-audit --no-fund --loglevel=error
npm ci --prefix "$(dirname "$0")/../tests/conformance/schwab" --no-audit --no-fund --loglevel=error
