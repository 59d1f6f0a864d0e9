#!/usr/bin/env bash
# Reproduces docs/privacy-audit.md: `dpsanitize audit` of tg (eps 50, 100, 500)
# and mvl (eps 5, 10, 20) on the default embedding, seed 1. Writes the JSON
# reports and a markdown summary to OUTDIR (default build/audit) and the plots
# to docs/privacy-audit-MECH-epsE.png. Needs gnuplot (Debian: gnuplot-nox).
#   scripts/audit.sh [OUTDIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${DPSANITIZE_BIN:-$ROOT/build/apps/dpsanitize/dpsanitize}"
OUT="${1:-$ROOT/build/audit}"
mkdir -p "$OUT"

run() {
  local mech="$1" eps="$2" name="$1-eps$2"
  local start end secs
  start=$(date +%s%N)
  "$BIN" audit --mechanism "$mech" --eps "$eps" --seed 1 --json \
    --plot "$ROOT/docs/privacy-audit-$name.png" >"$OUT/$name.json"
  end=$(date +%s%N)
  secs=$(((end - start) / 1000000000))
  echo "$name $secs" >>"$OUT/times.txt"
  echo "audit: $name done in $secs s" >&2
}

: >"$OUT/times.txt"
for eps in 50 100 500; do run tg "$eps"; done
for eps in 5 10 20; do run mvl "$eps"; done

python3 - "$OUT" >"$OUT/summary.md" <<'PY'
import json, sys, os
out = sys.argv[1]
times = dict(l.split() for l in open(os.path.join(out, "times.txt")))
def g(x, f="{:.4g}"):
    return "–" if x is None else f.format(x)
for mech, epss in (("tg", (50, 100, 500)), ("mvl", (5, 10, 20))):
    for eps in epss:
        name = f"{mech}-eps{eps}"
        r = json.load(open(os.path.join(out, name + ".json")))
        p = r["parameters"]
        print(f"### {mech}, eps = {eps}  (wall time {float(times[name]):.0f} s)\n")
        if mech == "tg":
            q = r["quadrature"]
            print(f"b = {p['b']:.4g}, mu = {p['mu']:.4g}, delta_max = {p['delta_max']:.4g}, "
                  f"depth {p['depth']} (ln P(k > depth) = {p['log_p_k_beyond_depth']:.1f}); "
                  f"quadrature relative error estimate <= {q['max_rel_err_estimate']:.1e}, "
                  f"sum rule <= {q['max_sum_rule_deviation']:.1e}; "
                  f"implementation k_max = {r['implementation']['k_max']}\n")
            print("| pairs | n | median d | worst-case loss ≥ (median) | (max) | typical loss (median) | (max) | worst > ε | typical > ε | impl.-impossible outputs: pairs, median P |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for c in r["summary"]:
                print(f"| {c['category']} | {c['pairs']} | {c['median_distance']:.2f} | "
                      f"{g(c['median_worst_lower'])} | {g(c['max_worst_lower'])} | "
                      f"{g(c['median_typical_estimate'])} | {g(c['max_typical_estimate'])} | "
                      f"{c['fraction_exceeding_eps']:.0%} | {c['fraction_typical_exceeding_eps']:.0%} | "
                      f"{c['implementation_pairs_with_impossible_outputs']}, "
                      f"{c['implementation_median_impossible_mass']:.3f} |")
        else:
            print(f"{p['samples_per_word']} draws per word, simultaneous confidence "
                  f"{1 - p['alpha']:.0%} per pair\n")
            print("| pairs | n | median d | lower conf. bound (median) | (max) | estimate (median) | (max) | significant > ε |")
            print("|---|---|---|---|---|---|---|---|")
            for c in r["summary"]:
                print(f"| {c['category']} | {c['pairs']} | {c['median_distance']:.2f} | "
                      f"{g(c['median_worst_lower'])} | {g(c['max_worst_lower'])} | "
                      f"{g(c['median_typical_estimate'])} | {g(c['max_typical_estimate'])} | "
                      f"{c['exceeding_eps']} |")
        print()
        print("| decile | NN distance | words | P(unchanged) | E[d(w, M(w))] |")
        print("|---|---|---|---|---|")
        for u in r["utility_by_density_decile"]:
            print(f"| {u['decile']} | {u['nn_distance'][0]:.2f}–{u['nn_distance'][1]:.2f} | "
                  f"{u['words']} | {u['p_unchanged']:.3f} | {u['mean_output_distance']:.2f} |")
        print()
PY
echo "audit: wrote $OUT/summary.md and docs/privacy-audit-*.png" >&2
