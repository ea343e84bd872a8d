#!/usr/bin/env bash
# Builds the TWS codec fuzz target (tests/fuzz/ibkr_codec_fuzz.cpp) with clang++-16, libFuzzer,
# ASan and UBSan into build-fuzz/, writes a seed corpus of valid frames with
# tests/fuzz/ibkr_codec_seeds.cpp and fuzzes for a bounded time. Fails when the build fails or
# the fuzzer stops on a crash, a leak, undefined behaviour or a failed round trip; the input
# that did it is kept in build-fuzz/artifacts/ and the command to replay it is printed.
#
#   scripts/fuzz.sh [SECONDS]        fuzzing time, default 60 (or FUZZ_SECONDS)
#
# Inputs found to add coverage accumulate in build-fuzz/corpus/ across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-60}}
cxx=${FUZZ_CXX:-clang++-16}
out=build-fuzz
codec=(actors/brokers/ibkr/wire.cpp actors/brokers/ibkr/messages.cpp
       actors/brokers/ibkr/codec.cpp engine/decimal.cpp engine/errc.cpp engine/order.cpp)
# libstdc++ 12 declares std::expected only when __cpp_concepts >= 202002L; clang 16 implements
# what <expected> needs (conditionally trivial special members) but still reports 201907L.
flags=(-std=c++2b -g -O1 -fno-omit-frame-pointer -I. -include utility
       -U__cpp_concepts -D__cpp_concepts=202002L "-fsanitize=address,undefined"
       -fno-sanitize-recover=undefined)

command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (scripts/install-deps.sh)"; exit 1; }
mkdir -p "$out/obj" "$out/corpus" "$out/artifacts"

# Rebuilt when any source it is made of, or this script, is newer than the fuzzer.
if [ ! -x "$out/ibkr_codec_fuzz" ] || [ ! -x "$out/ibkr_codec_seeds" ] ||
   [ -n "$(find actors/brokers/ibkr engine tests/fuzz scripts/fuzz.sh \
             -newer "$out/ibkr_codec_fuzz" -type f -print -quit)" ]; then
  echo "== building the fuzzer with $cxx =="
  objects=()
  jobs=()
  for src in "${codec[@]}"; do
    obj="$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.cpp}").o"
    objects+=("$obj")
    "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
    jobs+=($!)
    if [ ${#jobs[@]} -ge 2 ]; then
      wait "${jobs[0]}"
      jobs=("${jobs[@]:1}")
    fi
  done
  for j in "${jobs[@]}"; do wait "$j"; done
  "$cxx" "${flags[@]}" -fsanitize=fuzzer tests/fuzz/ibkr_codec_fuzz.cpp "${objects[@]}" \
    -o "$out/ibkr_codec_fuzz" &
  fuzz_job=$!
  "$cxx" "${flags[@]}" tests/fuzz/ibkr_codec_seeds.cpp "${objects[@]}" -o "$out/ibkr_codec_seeds"
  wait "$fuzz_job"
fi

rm -rf "$out/seeds"
"$out/ibkr_codec_seeds" "$out/seeds"

echo "== fuzzing the TWS codec for ${seconds} s =="
log="$out/fuzz.log"
status=0
"$out/ibkr_codec_fuzz" -max_total_time="$seconds" -timeout=10 -max_len=4096 \
  -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds" \
  >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  echo "fuzz: the fuzzer stopped with status $status (full log: $log); replay with"
  sed -n "s|.*Test unit written to \(.*\)$|  $out/ibkr_codec_fuzz \1|p" "$log"
  exit 1
fi
grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
