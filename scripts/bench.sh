#!/usr/bin/env bash
# Benchmarks (never part of the test suite): throughput of dpsanitize on a
# >= 100 MB corpus of real text against its floors and a Python reference.
#   scripts/bench.sh [--quick]    (--quick: 10 MB corpus, 1 run each)
# (--quick also skips the slow mvl rows and the Python reference.)
# Prints a Markdown table (median of RUNS runs); docs/performance.md keeps
# the numbers measured on the project machine.
#
#   scripts/bench.sh --mechanisms [--bin PATH] [--mb MB | --corpus FILE] [--runs N]
#                    [--eps E] [--threads N] [--only "em mvl ..."]
# Words/s of every mechanism (em tem bem tg mvl mahalanobis vickrey) at its
# default options, --eps E (default 5; tg at 1.05 eps_min, its smallest
# allowed), --threads 2, on one corpus (default: the 2 MB IMDb bench corpus of
# scripts/bench-corpus.sh; mvl-like mechanisms run at a few thousand words/s
# on 2 shared cores), in N interleaved rounds (default 2; one run of each
# mechanism per round, after an untimed warm-up round on 20 lines that also
# fills bem's weight cache); median wall time, words from each run's ledger
# (totals.words), ratio to em, the 1-min load average at each run's start.
# With --bin, nothing is installed or built (the embedding must exist).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

bench_mechanisms() {
  local bin="$ROOT/build/apps/dpsanitize/dpsanitize" corpus="" mb=2 runs=2 eps=5 threads=2
  local only="em tem bem tg mvl mahalanobis vickrey" built=0
  while (($#)); do
    case "$1" in
      --bin) bin="$2"; built=1; shift ;;
      --corpus) corpus="$2"; shift ;;
      --mb) mb="$2"; shift ;;
      --runs) runs="$2"; shift ;;
      --eps) eps="$2"; shift ;;
      --threads) threads="$2"; shift ;;
      --only) only="$2"; shift ;;
      *) echo "bench.sh --mechanisms: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
  done
  local -a mechs
  read -r -a mechs <<< "$only"
  if ((!built)); then
    "$ROOT/scripts/install-deps.sh"
    "$ROOT/scripts/build.sh"
    "$ROOT/scripts/fetch-embedding.sh"
  fi
  [ -n "$corpus" ] || corpus="$("$ROOT/scripts/bench-corpus.sh" "$mb")"
  local out
  out="$(mktemp -d "${TMPDIR:-/tmp}/dpsanitize-bench.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$out'" EXIT
  head -n 20 "$corpus" > "$out/warm.txt"
  local eps_min tg_eps
  eps_min=$("$bin" calibrate --mechanism tg --eps 1000 --json |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["eps_min"])')
  tg_eps=$(/usr/bin/python3 -c "print(repr(1.05 * $eps_min))")
  meps() { if [ "$1" = tg ]; then echo "$tg_eps"; else echo "$eps"; fi; }
  run1() {  # run1 MECH OUT: one run, default options; prints "seconds load"
    local load t0 t1
    load=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    "$bin" -q --mechanism "$1" --eps "$(meps "$1")" --threads "$threads" \
      --ledger "$2.ledger.json" "$corpus" "$2"
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc -l) $load"
  }
  local m r
  for m in "${mechs[@]}"; do  # warm-up: page cache, bem's weights
    "$bin" -q --mechanism "$m" --eps "$(meps "$m")" --threads "$threads" --no-ledger \
      "$out/warm.txt" "$out/warm.out"
  done
  for r in $(seq "$runs"); do
    for m in "${mechs[@]}"; do
      run1 "$m" "$out/$m.txt" >> "$out/$m.times"
      /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["totals"]["words"])' \
        "$out/$m.txt.ledger.json" > "$out/$m.words"
      rm -f "$out/$m.txt"
      echo "round $r $m: $(tail -1 "$out/$m.times") (s, load)" >&2
    done
  done
  echo "corpus: $corpus ($(du -k "$corpus" | cut -f1) kB); $("$bin" --version); $(nproc) cores;"
  echo "--threads $threads; $runs interleaved rounds; median; words: the ledger's totals.words"
  echo
  echo "| mechanism | ε | words | median time | words/s | × em | times (s) | load at start |"
  echo "|---|---|---|---|---|---|---|---|"
  /usr/bin/python3 - "$out" "$tg_eps" "$eps" "${mechs[@]}" <<'PYEOF'
import statistics, sys
out, tg_eps, eps, mechs = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
res = {}
for m in mechs:
    rows = [tuple(map(float, l.split())) for l in open(f"{out}/{m}.times")]
    words = int(open(f"{out}/{m}.words").read())
    t = statistics.median(r[0] for r in rows)
    res[m] = (words, t, rows)
em = res["em"][0] / res["em"][1] if "em" in res else None
for m, (words, t, rows) in res.items():
    e = f"1.05·ε_min = {tg_eps:.2f}" if m == "tg" else eps
    ratio = f"{words / t / em:.3g}" if em else ""
    print(f"| {m} | {e} | {words:,} | {t:.1f} s | {words / t:,.0f} | {ratio} | "
          + ", ".join(f"{r[0]:.1f}" for r in rows) + " | "
          + ", ".join(f"{r[1]:.2f}" for r in rows) + " |")
PYEOF
}
if [ "${1:-}" = "--mechanisms" ]; then
  shift
  bench_mechanisms "$@"
  exit 0
fi
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
