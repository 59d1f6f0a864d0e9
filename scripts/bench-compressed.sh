#!/usr/bin/env bash
# Benchmark (never part of the test suite): the cost of compressed input and
# output. Runs dpsanitize (em, eps 3, 2 threads) on the IMDb bench corpus as
# plain text and compressed with zstd and gzip, the runs interleaved
# (plain, zst, ... RUNS times) so that drift on a shared machine hits every
# row alike, and prints the median times and their ratio to the plain run.
#   scripts/bench-compressed.sh [--quick]   (--quick: 10 MB corpus, 1 run; RUNS=N: N runs each)
# The corpus is scripts/bench.sh's (scripts/bench-corpus.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/fetch-embedding.sh"
BIN="$ROOT/build/apps/dpsanitize/dpsanitize"
export DPSANITIZE_EMBEDDING="${DPSANITIZE_EMBEDDING:-${XDG_DATA_HOME:-$HOME/.local/share}/dpsanitize/glove.6B.100d.dpsemb}"
MB=100 RUNS="${RUNS:-3}"
if [ "${1:-}" = "--quick" ]; then MB=10 RUNS=1; fi
CORPUS="$("$ROOT/scripts/bench-corpus.sh" "$MB")"
# The compressed copies, made with the tools' default levels.
[ -f "$CORPUS.zst" ] || zstd -q -k "$CORPUS"
[ -f "$CORPUS.gz" ] || gzip -k "$CORPUS"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/dpsanitize-bench.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

KEY="$OUT/key"
head -c 32 /dev/urandom >"$KEY"
chmod 600 "$KEY"
run() { "$BIN" -q --mechanism em --eps 3 --threads 2 --key-file "$KEY" --no-ledger "$@"; }
declare -A times
ROWS=("plain -> plain" "zst -> plain" "zst -> zst" "gz -> gz")
for _ in $(seq "$RUNS"); do
  for row in "${ROWS[@]}"; do
    case "$row" in
      "plain -> plain") args=("$CORPUS" "$OUT/o.txt") ;;
      "zst -> plain") args=("$CORPUS.zst" "$OUT/o.txt") ;;
      "zst -> zst") args=("$CORPUS.zst" "$OUT/o.txt.zst") ;;
      "gz -> gz") args=("$CORPUS.gz" "$OUT/o.txt.gz") ;;
    esac
    t0=$(date +%s.%N)
    run "${args[@]}"
    t1=$(date +%s.%N)
    times[$row]+="$(echo "$t1 - $t0" | bc -l) "
  done
done
# The outputs of one key are the same text whatever the compression.
cmp <(zstd -dc "$OUT/o.txt.zst") "$OUT/o.txt"
cmp <(gzip -dc "$OUT/o.txt.gz") "$OUT/o.txt"

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(echo "${times["plain -> plain"]}" | median)
echo "corpus: $CORPUS ($(du -m "$CORPUS" | cut -f1) MB; .zst $(du -m "$CORPUS.zst" | cut -f1) MB," \
  ".gz $(du -m "$CORPUS.gz" | cut -f1) MB); $(nproc) cores; median of $RUNS; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| input -> output | time | time / plain |"
echo "|---|---|---|"
for row in "${ROWS[@]}"; do
  t=$(echo "${times[$row]}" | median)
  printf '| %s | %.2f s | %.3f |\n' "$row" "$t" "$(echo "$t / $base" | bc -l)"
done
