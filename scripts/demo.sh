#!/usr/bin/env bash
# Installs what is missing, builds brokerd and starts it in demo mode (a paper connection and
# IBKR, Alpaca and Schwab connections to embedded simulators, for the admin user). Stop it with
# Ctrl-C. Extra arguments go to brokerd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2 --target brokerd brokerctl
exec build/bin/brokerd --demo --data-dir "${BROKERD_DATA_DIR:-brokerd-data}" "$@"
