#!/usr/bin/env bash
# Benchmarks (never part of the test suite): throughput of dpsanitize on a
# >= 100 MB corpus of real text against its floors and a Python reference.
#   scripts/bench.sh [--quick]    (--quick: 10 MB corpus, 1 run each)
# (--quick also skips the slow mvl rows and the Python reference.)
# Prints a Markdown table (median of RUNS runs); docs/performance.md keeps
# the numbers measured on the project machine.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/fetch-embedding.sh"
BIN="$ROOT/build/apps/dpsanitize/dpsanitize"
FLOOR="$ROOT/build/bench/dps_bench"
EMB="${DPSANITIZE_EMBEDDING:-${XDG_DATA_HOME:-$HOME/.local/share}/dpsanitize/glove.6B.100d.dpsemb}"
export DPSANITIZE_EMBEDDING="$EMB"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/dpsanitize/bench"
MB=100 RUNS=3 QUICK=0
if [ "${1:-}" = "--quick" ]; then MB=10 RUNS=1 QUICK=1; fi
CORPUS="$("$ROOT/scripts/bench-corpus.sh" "$MB")"
SLICE="$CACHE/imdb-5mb.txt"
[ -f "$SLICE" ] || head -c 5000000 "$CORPUS" | sed '$d' > "$SLICE"
REF_SLICE="$CACHE/imdb-20kb.txt"
[ -f "$REF_SLICE" ] || head -c 20000 "$CORPUS" | sed '$d' > "$REF_SLICE"
OUT="$(mktemp -d "${TMPDIR:-/tmp}/dpsanitize-bench.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
WORDS=$("$FLOOR" floor "$CORPUS" "$OUT/floor.txt" | awk '{print $1}')
SLICE_WORDS=$("$FLOOR" floor "$SLICE" "$OUT/floor.txt" | awk '{print $1}')

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_cmd RUNS CMD...: median wall seconds
time_cmd() {
  local n=$1; shift
  for _ in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  done | median
}
rate() { echo "$1 / $2" | bc -l | xargs printf '%.0f'; }
row() { printf '| %s | %s | %.3f s | %s words/s |\n' "$1" "$2" "$3" "$(rate "$2" "$3")"; }

echo "corpus: $CORPUS ($(du -m "$CORPUS" | cut -f1) MB, $WORDS words); $(nproc) cores; median of $RUNS"
echo
echo "| measure | words | time | rate |"
echo "|---|---|---|---|"
t=$(time_cmd "$RUNS" "$FLOOR" floor "$CORPUS" "$OUT/a.txt" --threads 2)
row "(a) floor: read, tokenize, look up, write (identity), 2 threads" "$WORDS" "$t"
t=$(time_cmd "$RUNS" "$FLOOR" samplers "$WORDS" --threads 2 --eps 50)
row "(b) randomness floor: tg samplers alone, 2 threads" "$WORDS" "$t"
t=$(time_cmd "$RUNS" "$BIN" -q --mechanism tg --eps 50 --threads 2 "$CORPUS" "$OUT/c.txt")
row "(c) tg end to end, eps 50, 2 threads" "$WORDS" "$t"
t=$(time_cmd "$RUNS" "$BIN" -q --mechanism tg --eps 50 --threads 1 "$CORPUS" "$OUT/c1.txt")
row "(c) tg end to end, eps 50, 1 thread" "$WORDS" "$t"
for eps in 3 8; do
  t=$(time_cmd "$RUNS" "$BIN" -q --mechanism em --eps "$eps" --threads 2 "$CORPUS" "$OUT/h.txt")
  row "(h) em (default) end to end, eps $eps, 2 threads" "$WORDS" "$t"
done
t=$(time_cmd "$RUNS" "$BIN" -q --mechanism em --eps 1 --threads 2 "$SLICE" "$OUT/h1.txt")
row "(h) em end to end, eps 1 (tail-heavy), 2 threads, 5 MB slice" "$SLICE_WORDS" "$t"
t=$(time_cmd "$RUNS" "$BIN" -q --mechanism tem --eps 3 --threads 2 "$CORPUS" "$OUT/i.txt")
row "(i) tem end to end, eps 3, 2 threads" "$WORDS" "$t"
if [ "$QUICK" = 0 ]; then
  t=$(time_cmd 1 "$BIN" -q --eps 10 --mechanism mvl --mvl-search exact "$SLICE" "$OUT/d.txt")
  row "(d) mvl exact, eps 10, 5 MB slice" "$SLICE_WORDS" "$t"
  t=$(time_cmd 1 "$BIN" -q --eps 10 --mechanism mvl --mvl-search hnsw "$SLICE" "$OUT/d2.txt")
  row "(d) mvl hnsw, eps 10, 5 MB slice" "$SLICE_WORDS" "$t"
fi
printf '' > "$OUT/empty.txt"
t=$(time_cmd 9 "$BIN" -q --eps 3 "$OUT/empty.txt" "$OUT/e.txt")
printf '| (e) start-up: empty input, em (default), full embedding + table | 0 | %.3f s | |\n' "$t"
rss=$( { /usr/bin/time -f '%M' "$BIN" -q --mechanism tg --eps 50 "$CORPUS" "$OUT/f.txt" >/dev/null; } 2>&1 | tail -1)
printf '| (f) peak RSS of (c) tg | | %s MB | |\n' "$((rss / 1024))"
rss=$( { /usr/bin/time -f '%M' "$BIN" -q --eps 3 "$CORPUS" "$OUT/f.txt" >/dev/null; } 2>&1 | tail -1)
printf '| (f) peak RSS of (h) em, eps 3 | | %s MB | |\n' "$((rss / 1024))"
if [ "$QUICK" = 0 ]; then
  ref=$(/usr/bin/python3 "$ROOT/scripts/bench_reference.py" "$EMB" "$REF_SLICE" 50)
  ref_words=$(echo "$ref" | awk '{print $1}')
  ref_secs=$(echo "$ref" | awk '{print $4}')
  row "(g) Python/numpy reference tg, word by word, 20 kB slice" "$ref_words" "$ref_secs"
fi
