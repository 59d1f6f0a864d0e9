#!/usr/bin/env bash
# README's first command: installs packages, builds, fetches and prepares the
# default embedding, then sanitizes the sample corpus. Idempotent; quiet when
# there is nothing to do.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
# The default embedding; after fetch-embedding writes it (a new file, or the
# old one prepared again), `dpsanitize verify` checks every byte of it (one
# to two minutes). A run with nothing to fetch skips it, so it stays quick.
EMB="${XDG_DATA_HOME:-$HOME/.local/share}/dpsanitize/glove.6B.100d.dpsemb"
before="$(stat -c '%i %s %Y' "$EMB" 2>/dev/null || true)"
"$ROOT/scripts/fetch-embedding.sh"
if [ "$(stat -c '%i %s %Y' "$EMB" 2>/dev/null || true)" != "$before" ]; then
  "$ROOT/build/apps/dpsanitize/dpsanitize" verify "$EMB"
fi
OUT="$ROOT/build/sample.sanitized.txt"
"$ROOT/build/apps/dpsanitize/dpsanitize" --quiet --eps 3 "$ROOT/data/sample/corpus.txt" "$OUT"
echo "setup: sanitized data/sample/corpus.txt with em (the default) at eps 3 -> $OUT"
