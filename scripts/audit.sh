#!/usr/bin/env bash
# Reproduces docs/privacy-audit.md: `dpsanitize audit` of em and tem (eps 1, 2,
# 3, 5), bem (total eps 2, 2.5, 3: its weights are computed first, minutes
# each, unless cached), tg (eps 50, 100, 500), mvl, mahalanobis and vickrey
# (eps 5, 10, 20; default lambda and t) on the default embedding, seed 1. Writes the JSON reports, their run times and a markdown
# summary (the tables of the doc) to OUTDIR (default build/audit) and the plots
# to docs/privacy-audit-MECH-epsE.png. Needs gnuplot (Debian: gnuplot-nox).
#   scripts/audit.sh [OUTDIR]
#   AUDIT_MECHANISMS="em tem" scripts/audit.sh   # only these (the summary
#                                                # covers every report in OUTDIR)
#   AUDIT_EPS="10" AUDIT_MECHANISMS=vickrey scripts/audit.sh   # only these eps
# Wall times on 2 shared cores: em and tem 1.5 to 2.5 min per eps (mostly the
# exact nearest-neighbour distances for the density deciles), tg 0.5 to 1 min,
# mvl, mahalanobis and vickrey 2 to 4 min.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${DPSANITIZE_BIN:-$ROOT/build/apps/dpsanitize/dpsanitize}"
OUT="${1:-$ROOT/build/audit}"
MECHANISMS="${AUDIT_MECHANISMS:-em tem bem tg mvl mahalanobis vickrey}"
mkdir -p "$OUT"
touch "$OUT/times.txt"

eps_values() {
  case "$1" in
    em | tem) echo "1 2 3 5" ;;
    bem) echo "2 2.5 3" ;;
    tg) echo "50 100 500" ;;
    mvl | mahalanobis | vickrey) echo "5 10 20" ;;
    *)
      echo "audit.sh: unknown mechanism $1" >&2
      exit 2
      ;;
  esac
}

run() {
  local mech="$1" eps="$2" name="$1-eps$2"
  local start end secs
  start=$(date +%s%N)
  "$BIN" audit --mechanism "$mech" --eps "$eps" --seed 1 --json \
    --plot "$ROOT/docs/privacy-audit-$name.png" >"$OUT/$name.json"
  end=$(date +%s%N)
  secs=$(((end - start) / 1000000000))
  # One line per report: a rerun replaces its own line only.
  grep -v "^$name " "$OUT/times.txt" >"$OUT/times.txt.new" || true
  echo "$name $secs" >>"$OUT/times.txt.new"
  mv "$OUT/times.txt.new" "$OUT/times.txt"
  echo "audit: $name done in $secs s" >&2
}

for mech in $MECHANISMS; do
  for eps in ${AUDIT_EPS:-$(eps_values "$mech")}; do run "$mech" "$eps"; done
done

python3 - "$OUT" >"$OUT/summary.md" <<'PY'
import json, sys, os
out = sys.argv[1]
times = dict(l.split() for l in open(os.path.join(out, "times.txt")) if l.strip())
def g(x, f="{:.4g}"):
    return "–" if x is None else f.format(x)
def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.exists(path) else None

def print_deciles(mech, rows):
    """Exact laws: P[M(w) = w] / E[d] / E[rank] by density decile, one column per eps."""
    print(f"Utility ({mech}), P[M(w) = w] / E[d(w, M(w))] / E[rank] by density decile:\n")
    print("| decile | NN distance | " + " | ".join(f"ε = {eps}" for eps, _ in rows) + " |")
    print("|---|---|" + "---|" * len(rows))
    for i, u in enumerate(rows[0][1]["utility_by_density_decile"]):
        cells = []
        for _, r in rows:
            v = r["utility_by_density_decile"][i]
            cells.append(f"{v['p_unchanged']:.3f} / {v['mean_output_distance']:.2f} / "
                         f"{v['mean_output_rank']:.0f}")
        print(f"| {u['decile']} | {u['nn_distance'][0]:.2f}–{u['nn_distance'][1]:.2f} | " +
              " | ".join(cells) + " |")
    print()

# em and tem: exact laws. One row per eps: the largest loss / eps per pair
# category, the pairs above eps (must be 0), the run time.
CATS = ("nearest", "random", "distant", "dense", "sparse", "all")
for mech in ("em", "tem"):
    rows = [(eps, load(f"{mech}-eps{eps}")) for eps in (1, 2, 3, 5)]
    rows = [(eps, r) for eps, r in rows if r is not None]
    if not rows:
        continue
    print(f"### {mech}: exact worst-case loss / ε, largest per pair category\n")
    print("| ε | beta | gamma | " + " | ".join(CATS) + " | median (all) | pairs > ε | time (report) | wall |")
    print("|---|---|---|" + "---|" * len(CATS) + "---|---|---|---|")
    for eps, r in rows:
        p = r["parameters"]
        by = {c["category"]: c for c in r["summary"]}
        cells = [g(by[c]["max_worst_lower"] / eps, "{:.4f}") if c in by else "–" for c in CATS]
        allc = by["all"]
        print(f"| {eps} | {p['beta']:.4g} | {g(p.get('gamma'), '{:.4g}')} | " + " | ".join(cells) +
              f" | {allc['median_worst_lower'] / eps:.4f} | {allc['exceeding_eps']} of {allc['pairs']} | "
              f"{r['seconds']['total']:.0f} s | {float(times.get(f'{mech}-eps{eps}', 'nan')):.0f} s |")
    print()
    print_deciles(mech, rows)

# bem: exact laws too, but the claimed eps is derived (eps_1 + L <= the
# requested total), so losses are divided by the claim; the audit recomputes L
# over all pairs from the weights.
rows = [(eps, load(f"bem-eps{eps}")) for eps in (2, 2.5, 3)]
rows = [(eps, r) for eps, r in rows if r is not None]
if rows:
    print("### bem: claimed ε = ε₁ + L, L recomputed by the audit, exact worst-case loss / claimed ε\n")
    print("| requested ε | claimed ε | ε₁ | L (plan) | L (recomputed) | ε₁ + L ≤ claim | " +
          " | ".join(CATS) + " | pairs > claimed ε | time (report) |")
    print("|---|---|---|---|---|---|" + "---|" * len(CATS) + "---|---|")
    for eps, r in rows:
        claim = r["claimed"]["eps"]
        lz = r["lipschitz_log_z"]
        by = {c["category"]: c for c in r["summary"]}
        cells = [g(by[c]["max_worst_lower"] / claim, "{:.6f}") if c in by else "–" for c in CATS]
        allc = by["all"]
        print(f"| {eps} | {claim:.6g} | {lz['eps1']:.6g} | {lz['claimed']:.3g} | "
              f"{lz['recomputed']:.3g} | {'yes' if lz['holds'] else 'NO'} | " + " | ".join(cells) +
              f" | {allc['exceeding_eps']} of {allc['pairs']} | {r['seconds']['total']:.0f} s |")
    print()
    print_deciles("bem", rows)

for mech, epss in (("tg", (50, 100, 500)), ("mvl", (5, 10, 20)), ("mahalanobis", (5, 10, 20)),
                   ("vickrey", (5, 10, 20))):
    for eps in epss:
        name = f"{mech}-eps{eps}"
        r = load(name)
        if r is None:
            continue
        p = r["parameters"]
        print(f"### {mech}, eps = {eps}  (wall time {float(times.get(name, 'nan')):.0f} s)\n")
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
