"""Tables and plot of the utility evaluation, from its results CSV (eval_utility.py report).

The Markdown file keeps its hand-written text: only the blocks between
`<!-- generated:NAME -->` and `<!-- /generated:NAME -->` are replaced. A file without markers
(or a missing one) gets all the blocks, one after the other.
"""

import csv
import json
import math
import os
import re
from collections import defaultdict

import numpy as np

DATASET_TITLES = {
    "uci": "UCI sentiment sentences",
    "spam": "SpamAssassin (spam F1)",
    "imdb": "IMDb reviews",
    "slice": "CI slice (200 UCI sentences)",
}
CLASSIFIERS = [("tfidf_lr", "TF-IDF + LR"), ("glove_lr", "mean GloVe + LR")]
BASELINES = [("clean", "clean text (no privacy)"),
             ("clean_vocab", "clean, OOV masked as `<unk>`"),
             ("random", "uniformly random words")]


def metric_name(ds):
    return "f1" if ds == "spam" else "accuracy"


def load(csv_path):
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    order = []
    for r in rows:
        if r["dataset"] not in order:
            order.append(r["dataset"])
    pref = ["uci", "spam", "imdb", "slice"]
    order.sort(key=lambda d: pref.index(d) if d in pref else 99)
    return rows, order


def aggregate(rows):
    """{(ds, condition, eps_label, classifier): dict(eps, metric list, changed list, dist list)}"""
    agg = {}
    for r in rows:
        k = (r["dataset"], r["condition"], r["eps_label"], r["classifier"])
        a = agg.setdefault(k, {"eps": float(r["eps"]) if r["eps"] else None, "m": [],
                               "acc": [], "changed": [], "dist": [], "seeds": set()})
        a["m"].append(float(r[metric_name(r["dataset"])]))
        a["acc"].append(float(r["accuracy"]))
        a["changed"].append(1.0 - float(r["frac_unchanged"]))
        a["dist"].append(float(r["mean_dist"]))
        a["seeds"].add(r["seed"])
    return agg


def mean_std(v):
    v = np.asarray(v, dtype=float)
    return float(v.mean()), (float(v.std(ddof=1)) if len(v) > 1 else float("nan"))


def pm(v, scale=100.0, digits=1):
    m, s = mean_std(v)
    if math.isnan(s):
        return f"{m * scale:.{digits}f}"
    return f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"


def eps_text(label, eps):
    if label == "1.05eps_min":
        return f"1.05·ε_min = {eps:.2f}"
    return f"{eps:g}"


def points(agg, ds, mech, clf):
    """Sorted by eps: list of (eps_label, entry)."""
    pts = [(k[2], v) for k, v in agg.items() if k[0] == ds and k[1] == mech and k[3] == clf]
    return sorted(pts, key=lambda p: p[1]["eps"])


# ---------------------------------------------------------------------------
# Markdown blocks.


def block_results(agg, order):
    out = []
    for ds in order:
        metric = "F1 (spam = positive)" if metric_name(ds) == "f1" else "accuracy"
        out.append(f"**{DATASET_TITLES.get(ds, ds)}**: test {metric}, %, mean ± std over seeds "
                   "(n = number of seeds); words changed and distance moved: training set, "
                   "in-vocabulary words, mean over seeds.\n")
        out.append("| mechanism | ε | words changed | mean distance moved | "
                   + " | ".join(c[1] for c in CLASSIFIERS) + " | n |")
        out.append("|---|---|---|---|" + "---|" * len(CLASSIFIERS) + "---|")
        for cond, title in BASELINES:
            k = (ds, cond, "", CLASSIFIERS[0][0])
            if k not in agg:
                continue
            a = agg[k]
            out.append(f"| {title} | — | {pm(a['changed'])} % | {np.mean(a['dist']):.2f} | "
                       + " | ".join(pm(agg[(ds, cond, '', c)]["m"]) for c, _ in CLASSIFIERS
                                    if (ds, cond, '', c) in agg)
                       + f" | {len(a['seeds'])} |")
        for mech in ("tg", "mvl"):
            for label, a in points(agg, ds, mech, CLASSIFIERS[0][0]):
                cells = []
                for c, _ in CLASSIFIERS:
                    e = agg.get((ds, mech, label, c))
                    cells.append(pm(e["m"]) if e else "")
                out.append(f"| {mech} | {eps_text(label, a['eps'])} | {pm(a['changed'])} % | "
                           f"{np.mean(a['dist']):.2f} | " + " | ".join(cells)
                           + f" | {len(a['seeds'])} |")
        out.append("")
    return "\n".join(out)


def interp_at(xs, ys, x):
    """Linear interpolation of y at x over points sorted by x; None outside their range."""
    if not xs or x < xs[0] - 1e-12 or x > xs[-1] + 1e-12:
        return None
    return float(np.interp(x, xs, ys))


def mvl_curve(agg, ds, clf):
    """mvl's metric as a function of the fraction of words changed: (xs, ys) sorted by x,
    one point per eps (mean over seeds)."""
    pts = [(np.mean(a["changed"]), np.mean(a["m"])) for _, a in points(agg, ds, "mvl", clf)]
    pts.sort()
    return [p[0] for p in pts], [p[1] for p in pts]


def block_equal_eps(agg, order):
    out = ["| data set | ε | " + " | ".join(f"{n}: tg / mvl / tg − mvl" for _, n in CLASSIFIERS)
           + " |", "|---|---|" + "---|" * len(CLASSIFIERS)]
    for ds in order:
        for label, a in points(agg, ds, "tg", CLASSIFIERS[0][0]):
            cells = []
            for c, _ in CLASSIFIERS:
                t, m = agg.get((ds, "tg", label, c)), agg.get((ds, "mvl", label, c))
                if not t or not m:
                    continue
                tm, mm = np.mean(t["m"]) * 100, np.mean(m["m"]) * 100
                cells.append(f"{tm:.1f} / {mm:.1f} / **{tm - mm:+.1f}**")
            if len(cells) == len(CLASSIFIERS):  # only where both mechanisms ran at this eps
                out.append(f"| {ds} | {eps_text(label, a['eps'])} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def block_equal_changed(agg, order):
    out = ["| data set | tg ε | words changed | "
           + " | ".join(f"{n}: tg / mvl at same change / tg − mvl" for _, n in CLASSIFIERS)
           + " | mvl ε giving that change |",
           "|---|---|---|" + "---|" * len(CLASSIFIERS) + "---|"]
    for ds in order:
        for label, a in points(agg, ds, "tg", CLASSIFIERS[0][0]):
            x = float(np.mean(a["changed"]))
            cells = []
            for c, _ in CLASSIFIERS:
                xs, ys = mvl_curve(agg, ds, c)
                t = agg.get((ds, "tg", label, c))
                y = interp_at(xs, ys, x)
                if t is None or y is None:
                    cells.append("—")
                    continue
                tm = np.mean(t["m"]) * 100
                cells.append(f"{tm:.1f} / {y * 100:.1f} / **{tm - y * 100:+.1f}**")
            # mvl eps at that fraction changed (log-linear interpolation).
            pe = [(np.mean(m["changed"]), m["eps"]) for _, m in points(agg, ds, "mvl", CLASSIFIERS[0][0])]
            pe.sort()
            e = interp_at([p[0] for p in pe], [math.log(p[1]) for p in pe], x)
            out.append(f"| {ds} | {eps_text(label, a['eps'])} | {x * 100:.1f} % | "
                       + " | ".join(cells) + f" | {'≈ %.1f' % math.exp(e) if e is not None else '—'} |")
    return "\n".join(out) + "\n"


def block_equal_utility(agg, order):
    """For each data set and classifier: tg's metric (mean over its eps grid; it hardly moves
    with eps), and the smallest mvl eps at which mvl reaches it (first crossing of mvl's curve,
    linear in log eps), with mvl's fraction of words changed there."""
    out = ["| data set | classifier | tg, all ε (range) | tg words changed | mvl ε reaching tg's "
           "score | mvl words changed there |", "|---|---|---|---|---|---|"]
    for ds in order:
        for c, cname in CLASSIFIERS:
            tg = [np.mean(a["m"]) for _, a in points(agg, ds, "tg", c)]
            tgc = [np.mean(a["changed"]) for _, a in points(agg, ds, "tg", c)]
            mv = [(a["eps"], np.mean(a["m"]), np.mean(a["changed"]))
                  for _, a in points(agg, ds, "mvl", c)]
            if not tg or not mv:
                continue
            target = float(np.mean(tg))
            cross = None
            for (e0, m0, c0), (e1, m1, c1) in zip(mv, mv[1:]):
                if m0 < target <= m1:
                    f = (target - m0) / (m1 - m0)
                    cross = (math.exp(math.log(e0) + f * (math.log(e1) - math.log(e0))),
                             c0 + f * (c1 - c0))
                    break
            if cross is None and mv[0][1] >= target:
                cross = ("≤ %g" % mv[0][0], mv[0][2])
            e_txt = "—" if cross is None else (cross[0] if isinstance(cross[0], str)
                                               else f"≈ {cross[0]:.1f}")
            c_txt = "—" if cross is None else f"{cross[1] * 100:.0f} %"
            out.append(f"| {ds} | {cname} | {target * 100:.1f} ({min(tg) * 100:.1f}–"
                       f"{max(tg) * 100:.1f}) | {min(tgc) * 100:.0f}–{max(tgc) * 100:.0f} % | "
                       f"{e_txt} | {c_txt} |")
    return "\n".join(out) + "\n"


def block_datasets(meta):
    if not meta:
        return "(no run metadata)\n"
    out = ["| data set | documents in package | after de-duplication | train | test | "
           "training words |", "|---|---|---|---|---|---|"]
    for ds, i in meta.get("datasets", {}).items():
        out.append(f"| {ds} | {i['n_raw']:,} | {i['n_dedup']:,} | {i['n_train']:,} | "
                   f"{i['n_test']:,} | {i.get('train_words', 0):,} |")
    return "\n".join(out) + "\n"


def block_run(meta, timing, rows=None):
    out = []
    if timing:
        out.append("```sh\n" + timing.get("command", "") + "\n```\n")
        secs = timing.get("seconds")
        if secs is not None:
            inv = timing.get("invocations", 1)
            out.append(f"Wall-clock time: **{secs / 60:.0f} min** ({secs:,.0f} s"
                       + (f", the sum of {inv} invocations: the run was resumed" if inv > 1 else "")
                       + f"), {timing.get('started', '')} to {timing.get('finished', '')}, "
                       f"on {timing.get('host', 'this machine')}, shared with other jobs.")
    if meta:
        out.append(f"dpsanitize: `{meta.get('binary_version', '')}`; embedding "
                   f"`{os.path.basename(meta.get('embedding', ''))}` (SHA-256 "
                   f"`{meta.get('embedding_sha256', '')[:16]}…`, |V| = {meta.get('vocab_size')}, "
                   f"ε_min = {meta.get('eps_min', 0):.4f}); mvl search: "
                   f"`{meta.get('mvl_search')}`; dpsanitize threads: {meta.get('threads')}.")
    if rows:
        tot = defaultdict(float)
        runs = defaultdict(int)
        for r in rows:
            if r["classifier"] == CLASSIFIERS[0][0] and r["sanitize_s"]:
                tot[r["dataset"]] += float(r["sanitize_s"])
                runs[r["dataset"]] += 1
        if tot:
            out.append("dpsanitize wall time (sum over its runs; Python's evaluation overlaps "
                       "it): " + ", ".join(f"{ds} {runs[ds]} runs, {tot[ds] / 60:.1f} min"
                                           for ds in tot) + ".")
    return "\n\n".join(out) + "\n"


def replace_blocks(text, blocks):
    missing = []
    for name, body in blocks.items():
        pat = re.compile(r"(<!-- generated:%s -->\n).*?(<!-- /generated:%s -->)" % (name, name),
                         re.S)
        if pat.search(text):
            text = pat.sub(lambda m: m.group(1) + body + m.group(2), text)
        else:
            missing.append(name)
    for name in missing:
        text += f"\n## {name}\n\n<!-- generated:{name} -->\n{blocks[name]}<!-- /generated:{name} -->\n"
    return text


# ---------------------------------------------------------------------------
# Plot.


def plot(agg, order, png, eps_min):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(order)
    fig, axes = plt.subplots(2, n, figsize=(max(5.2 * n, 9.0), 8.6 if n > 1 else 10.0),
                             squeeze=False)
    colors = {"tg": "tab:blue", "mvl": "tab:orange"}
    styles = {"tfidf_lr": ("-", "o"), "glove_lr": ("--", "s")}
    for j, ds in enumerate(order):
        ax_e, ax_c = axes[0][j], axes[1][j]
        for c, cname in CLASSIFIERS:
            ls, mk = styles[c]
            for mech in ("tg", "mvl"):
                pts = points(agg, ds, mech, c)
                if not pts:
                    continue
                e = [a["eps"] for _, a in pts]
                m = [np.mean(a["m"]) for _, a in pts]
                s = [0 if len(a["m"]) < 2 else np.std(a["m"], ddof=1) for _, a in pts]
                ch = [np.mean(a["changed"]) for _, a in pts]
                lab = f"{mech}, {cname}"
                ax_e.errorbar(e, m, yerr=s, color=colors[mech], ls=ls, marker=mk, ms=4,
                              capsize=2, label=lab)
                order_c = np.argsort(ch)
                ax_c.errorbar(np.array(ch)[order_c], np.array(m)[order_c],
                              yerr=np.array(s)[order_c], color=colors[mech], ls=ls, marker=mk,
                              ms=4, capsize=2, label=lab)
            for cond, col, name in (("clean", "black", "clean"), ("random", "gray", "random words"),
                                    ("clean_vocab", "tab:green", "clean, OOV masked")):
                a = agg.get((ds, cond, "", c))
                if not a:
                    continue
                y = np.mean(a["m"])
                ax_e.axhline(y, color=col, ls=ls, lw=1, label=f"{name}, {cname}")
                ax_c.plot([np.mean(a["changed"])], [y], color=col, marker=mk, ls="none", ms=7,
                          label=f"{name}, {cname}")
        ax_e.axvline(eps_min, color="tab:blue", lw=0.8, ls=":")
        ax_e.text(eps_min, ax_e.get_ylim()[0], " tg ε_min", color="tab:blue", fontsize=8,
                  va="bottom")
        ax_e.set_xscale("log")
        ylab = "test F1 (spam)" if metric_name(ds) == "f1" else "test accuracy"
        ax_e.set_title(DATASET_TITLES.get(ds, ds))
        ax_e.set_xlabel("ε (metric-DP, per unit embedding distance; log scale)")
        ax_e.set_ylabel(ylab)
        ax_c.set_xlabel("fraction of training words changed")
        ax_c.set_ylabel(ylab)
        ax_c.set_xlim(-0.03, 1.03)
        for ax in (ax_e, ax_c):
            ax.grid(alpha=0.3)
    h, l = axes[1][0].get_legend_handles_labels()
    fig.legend(h, l, loc="lower center", ncol=4 if n > 1 else 2, fontsize=8, frameon=False)
    fig.suptitle("dpsanitize utility: classifier trained on sanitized text, tested on clean text\n"
                 "top: against ε; bottom: against the fraction of words changed", fontsize=11)
    fig.tight_layout(rect=(0, 0.08 if n > 1 else 0.14, 1, 0.95))
    fig.savefig(png, dpi=110)
    plt.close(fig)


def report(args):
    rows, order = load(args.csv)
    agg = aggregate(rows)
    meta = timing = None
    if args.meta and os.path.exists(args.meta):
        with open(args.meta) as f:
            meta = json.load(f)
    if getattr(args, "timing", None) and os.path.exists(args.timing):
        with open(args.timing) as f:
            timing = json.load(f)
    eps_min = meta["eps_min"] if meta else min(
        (v["eps"] for k, v in agg.items() if k[2] == "1.05eps_min"), default=44 * 1.05) / 1.05
    blocks = {}
    if meta:  # without the run's metadata, keep what the file says
        blocks["datasets"] = block_datasets(meta)
    blocks["results"] = block_results(agg, order)
    blocks["equal-eps"] = block_equal_eps(agg, order)
    blocks["equal-changed"] = block_equal_changed(agg, order)
    blocks["equal-utility"] = block_equal_utility(agg, order)
    if meta or timing:
        blocks["run"] = block_run(meta, timing, rows)
    text = ""
    if os.path.exists(args.md):
        with open(args.md, encoding="utf-8") as f:
            text = f.read()
    else:
        text = "# dpsanitize utility evaluation (generated)\n"
    text = replace_blocks(text, blocks)
    with open(args.md, "w", encoding="utf-8") as f:
        f.write(text)
    plot(agg, order, args.png, eps_min)
    print(f"wrote {args.md} and {args.png} from {len(rows)} rows")
