#!/usr/bin/env bash
# Formats the C++ sources with clang-format (Google base, .clang-format);
# with --check, fails if any file is not formatted.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
mapfile -t FILES < <(git ls-files '*.cpp' '*.h')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${FILES[@]}"
else
  clang-format -i "${FILES[@]}"
fi
