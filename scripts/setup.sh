#!/usr/bin/env bash
# README's first command: installs packages, builds, fetches and prepares the
# default embedding, then sanitizes the sample corpus. Idempotent; quiet when
# there is nothing to do.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/fetch-embedding.sh"
OUT="$ROOT/build/sample.sanitized.txt"
"$ROOT/build/apps/dpsanitize/dpsanitize" --quiet --eps 3 "$ROOT/data/sample/corpus.txt" "$OUT"
echo "setup: sanitized data/sample/corpus.txt with em (the default) at eps 3 -> $OUT"
