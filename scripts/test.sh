#!/usr/bin/env bash
# README's second command: installs missing packages, builds what is missing
# and runs the whole test suite (unit, end-to-end and statistical tests).
#   scripts/test.sh            Release build in build/
#   scripts/test.sh --asan     AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
if [ "${1:-}" = "--asan" ]; then
  BUILD="$ROOT/build-asan"
  "$ROOT/scripts/build.sh" "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDPSANITIZE_SANITIZE=ON
  export ASAN_OPTIONS=detect_leaks=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  BUILD="$ROOT/build"
  "$ROOT/scripts/build.sh" "$BUILD"
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
cd "$BUILD" && ctest --output-on-failure -j"$(nproc)"
