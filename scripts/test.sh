#!/usr/bin/env bash
# Installs what is missing, builds everything with coverage and runs every test (ctest), prints
# line coverage per folder, then builds the unit tests with ASan+UBSan and runs them, and
# fuzzes the TWS codec for 60 s (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

cmake -S . -B build-cov -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBROKERD_COVERAGE=ON
cmake --build build-cov -j2
find build-cov -name '*.gcda' -delete
ctest --test-dir build-cov -j2 --output-on-failure --timeout 600

echo "== line coverage (gcovr) =="
gcovr --root . --object-directory build-cov --json-summary build-cov/coverage.json \
  --gcov-ignore-parse-errors \
  --filter 'engine/' --filter 'persistence/' --filter 'actors/' --filter 'api/' \
  --filter 'config/'
scripts/coverage-summary.py build-cov/coverage.json

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBROKERD_SANITIZE=ON \
  -DBROKERD_UNIT_ONLY=ON
cmake --build build-asan -j2
ASAN_OPTIONS=detect_leaks=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/ubsan.supp \
  ctest --test-dir build-asan -j2 -L unit --output-on-failure --timeout 600

scripts/fuzz.sh
