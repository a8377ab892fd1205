#!/bin/bash
# Builds the LibTorch-free core alone with clang and sanitizers (which also
# shows that it needs no LibTorch), then runs each libFuzzer target for a
# fixed time from its committed corpus.
#   scripts/fuzz.sh [SECONDS]   (default 60 per target)
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDCOMP_WITH_TORCH=OFF -DDCOMP_BUILD_TESTS=OFF -DDCOMP_BUILD_FUZZERS=ON >/dev/null
cmake --build build-fuzz
for target in compressed_file adaptive_decoder runtime_load round_trip; do
  findings=$(mktemp -d)  # new inputs go here; the committed corpus is only read
  # a crashing input is kept under build-fuzz/, out of the source tree
  seeds=("tests/fuzz/corpus/$target")
  # whole files: the format's conformance vectors seed them too
  [[ $target == compressed_file || $target == runtime_load ]] && seeds+=(tests/conformance/valid tests/conformance/invalid)
  echo "fuzzing $target for ${seconds}s"
  build-fuzz/tests/fuzz/fuzz_$target -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix=build-fuzz/ "$findings" "${seeds[@]}" 2>&1 | grep -E "^(#|stat::number_of_executed_units|==|SUMMARY)" | tail -4
  rm -rf "$findings"
done
