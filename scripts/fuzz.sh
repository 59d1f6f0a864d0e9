#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*_fuzz.cpp) with clang, ASan and UBSan
# into build-fuzz/, then runs each for SECONDS (default 60) on its corpus:
# build-fuzz/corpus/<target>/, seeded from the committed fuzz/corpus/<target>/
# and kept between runs. Prints executions per second per target and exits 1
# when a target crashed, leaked, timed out or broke an invariant; the input
# that did it is kept in build-fuzz/crashes/ (reproduce: build-fuzz/fuzz/<target>
# build-fuzz/crashes/<file>).
#
#   scripts/fuzz.sh          # 60 s per target
#   scripts/fuzz.sh 20       # CI
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-60}"
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
BUILD=build-fuzz
JOBS="${JOBS:-2}"

# RelWithDebInfo: optimised like a release, with line numbers in the stacks.
build_start=$(date +%s)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDPSANITIZE_FUZZ=ON \
  -DDPSANITIZE_BUILD_TESTS=OFF -DDPSANITIZE_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target fuzzers 2>&1 |
  grep -vE '^\[ *[0-9]+%\]|^(Consolidate|Scanning|Built target)' || true
test "${PIPESTATUS[0]}" -eq 0
echo "fuzz: built in $(($(date +%s) - build_start)) s"

mkdir -p "$BUILD/crashes" "$BUILD/logs"
failed=()
printf '%-24s %12s %10s %8s  %s\n' target executions "execs/s" seconds result
while read -r target; do
  [ -n "$target" ] || continue
  corpus="$BUILD/corpus/$target"
  mkdir -p "$corpus"
  if [ -d "fuzz/corpus/$target" ]; then cp -n fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true; fi
  log="$BUILD/logs/$target.log"
  start=$(date +%s.%N)
  status=0
  # -timeout: an input that takes this long is a finding (a hang); -rss_limit_mb
  # bounds memory on a shared machine.
  "$BUILD/fuzz/$target" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$BUILD/crashes/$target-" \
    "$corpus" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  runs="${runs:-0}"
  elapsed=$(echo "$end - $start" | bc -l)
  rate=$(echo "$runs / $elapsed" | bc)
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status, log $log)"
    failed+=("$target")
  fi
  printf '%-24s %12s %10s %8.1f  %s\n' "$target" "$runs" "$rate" "$elapsed" "$result"
done <"$BUILD/fuzz-targets.txt"

if ((${#failed[@]} > 0)); then
  echo "fuzz: ${failed[*]} failed; inputs in $BUILD/crashes/" >&2
  exit 1
fi
