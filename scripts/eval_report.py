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
# Table order; em is dpsanitize's default mechanism.
MECHS = ["em", "tem", "bem", "mvl", "mahalanobis", "vickrey", "tg"]
COLORS = {"em": "tab:red", "tem": "tab:purple", "bem": "tab:brown", "mvl": "tab:orange",
          "mahalanobis": "tab:olive", "vickrey": "tab:cyan", "tg": "tab:blue"}
# Issue 17's mechanisms, compared with mvl (whose noise they use) and em at equal eps.
NEW_MECHS = ["mahalanobis", "vickrey"]
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
                               "acc": [], "changed": [], "dist": [], "seeds": set(),
                               "claimed": []})
        if r.get("eps_claimed"):  # the ledger's eps (column absent or empty in older CSVs)
            a["claimed"].append(float(r["eps_claimed"]))
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
        for mech in MECHS:
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


def curve(agg, ds, clf, mech="mvl"):
    """A mechanism's metric as a function of the fraction of words changed: (xs, ys) sorted by
    x, one point per eps (mean over seeds)."""
    pts = [(np.mean(a["changed"]), np.mean(a["m"])) for _, a in points(agg, ds, mech, clf)]
    pts.sort()
    return [p[0] for p in pts], [p[1] for p in pts]


def at_eps(agg, ds, mech, clf, label, eps):
    """(mean metric, per-seed values, measured?) of `mech` at eps: measured when it ran at that
    eps, else interpolated linearly in log eps between the two eps around it (no per-seed
    values); None outside its range."""
    a = agg.get((ds, mech, label, clf))
    if a:
        return float(np.mean(a["m"])), list(a["m"]), True
    pts = points(agg, ds, mech, clf)
    xs = [math.log(p[1]["eps"]) for p in pts]
    y = interp_at(xs, [float(np.mean(p[1]["m"])) for p in pts], math.log(eps))
    return None if y is None else (y, [y], False)


def diff_cell(x, xs, ref, refs, measured):
    """'+d (lo…hi)' in points: difference of the means, and the range of the differences over
    every pair of seeds (one of each mechanism); '≈' when the reference was interpolated."""
    d = (x - ref) * 100
    pairs = [(a - b) * 100 for a in xs for b in refs]
    rng = f" ({min(pairs):+.1f}…{max(pairs):+.1f})" if len(pairs) > 1 else ""
    return f"{'≈ ' if not measured else ''}**{d:+.1f}**{rng}"


def block_em_vs_mvl(agg, order):
    """em − mvl and tem − mvl at equal eps, for every eps at which tem ran (em's main grid)."""
    out = ["| data set | ε | words changed, %: em / tem / mvl | "
           + " | ".join(f"{n}: em / tem / mvl | em − mvl | tem − mvl" for _, n in CLASSIFIERS)
           + " |", "|---|---|---|" + "---|---|---|" * len(CLASSIFIERS)]
    for ds in order:
        for label, a in points(agg, ds, "tem", CLASSIFIERS[0][0]):
            eps = a["eps"]
            em0 = agg.get((ds, "em", label, CLASSIFIERS[0][0]))
            mv0 = agg.get((ds, "mvl", label, CLASSIFIERS[0][0]))
            ch = " / ".join("—" if e is None else f"{np.mean(e['changed']) * 100:.1f}"
                            for e in (em0, a, mv0))
            cells = []
            for c, _ in CLASSIFIERS:
                em, tem = agg.get((ds, "em", label, c)), agg.get((ds, "tem", label, c))
                mv = at_eps(agg, ds, "mvl", c, label, eps)
                vals = [("—" if e is None else f"{np.mean(e['m']) * 100:.1f}") for e in (em, tem)]
                vals.append("—" if mv is None else f"{'≈ ' if not mv[2] else ''}{mv[0] * 100:.1f}")
                cells.append(" / ".join(vals))
                for e in (em, tem):
                    cells.append("—" if e is None or mv is None else
                                 diff_cell(np.mean(e["m"]), e["m"], mv[0], mv[1], mv[2]))
            out.append(f"| {ds} | {eps_text(label, eps)} | {ch} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def block_bem_vs_em(agg, order):
    """bem against em at the same requested eps, for every eps at which bem ran: words changed,
    each classifier's metric and bem − em. em's value is its measured one at that eps (it ran at
    every eps of bem's grid), else interpolated linearly in log eps (marked ≈). bem's claimed eps
    (eps_1 + L, from its ledger) is at most the requested one."""
    out = ["| data set | ε (requested total) | bem's claimed ε | words changed, %: bem / em | "
           + " | ".join(f"{n}: bem / em | bem − em" for _, n in CLASSIFIERS) + " |",
           "|---|---|---|---|" + "---|---|" * len(CLASSIFIERS)]
    for ds in order:
        for label, a in points(agg, ds, "bem", CLASSIFIERS[0][0]):
            eps = a["eps"]
            # em at the same eps: by value, since the labels of two grids may be spelt apart.
            em_label = next((lab for lab, e in points(agg, ds, "em", CLASSIFIERS[0][0])
                             if abs(e["eps"] - eps) < 1e-9), label)
            em0 = agg.get((ds, "em", em_label, CLASSIFIERS[0][0]))
            if em0:
                em_ch = f"{np.mean(em0['changed']) * 100:.1f}"
            else:
                pe = points(agg, ds, "em", CLASSIFIERS[0][0])
                y = interp_at([math.log(p[1]["eps"]) for p in pe],
                              [float(np.mean(p[1]["changed"])) for p in pe], math.log(eps))
                em_ch = "—" if y is None else f"≈ {y * 100:.1f}"
            claimed = "—" if not a["claimed"] else f"{np.mean(a['claimed']):.4f}"
            cells = []
            for c, _ in CLASSIFIERS:
                b = agg.get((ds, "bem", label, c))
                em = at_eps(agg, ds, "em", c, em_label, eps)
                cells.append(("—" if b is None else f"{np.mean(b['m']) * 100:.1f}") + " / "
                             + ("—" if em is None else
                                f"{'≈ ' if not em[2] else ''}{em[0] * 100:.1f}"))
                cells.append("—" if b is None or em is None else
                             diff_cell(np.mean(b["m"]), b["m"], em[0], em[1], em[2]))
            out.append(f"| {ds} | {eps_text(label, eps)} | {claimed} | "
                       f"{np.mean(a['changed']) * 100:.1f} / {em_ch} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def block_new_vs_mvl(agg, order, new=NEW_MECHS, refs=("mvl", "em")):
    """mahalanobis and vickrey against mvl (whose noise both use) and em at equal eps, for every
    eps at which either ran: words changed, each classifier's metric, and each new mechanism
    minus mvl. mvl's and em's values are measured at that eps, else interpolated linearly in log
    eps (marked ≈; "—" outside their range)."""
    names = list(new) + list(refs)
    out = ["| data set | ε | words changed, %: " + " / ".join(names) + " | "
           + " | ".join(f"{n}: " + " / ".join(names) + " | "
                        + " | ".join(f"{m} − {refs[0]}" for m in new) for _, n in CLASSIFIERS)
           + " |", "|---|---|---|" + ("---|" * (1 + len(new))) * len(CLASSIFIERS)]
    c0 = CLASSIFIERS[0][0]
    for ds in order:
        eps_labels = {}
        for m in new:
            for label, a in points(agg, ds, m, c0):
                eps_labels.setdefault(a["eps"], label)
        for eps in sorted(eps_labels):
            label = eps_labels[eps]
            ch = []
            for m in names:
                e = agg.get((ds, m, label, c0))
                if e is not None:
                    ch.append(f"{np.mean(e['changed']) * 100:.1f}")
                    continue
                pe = points(agg, ds, m, c0)
                y = interp_at([math.log(p[1]["eps"]) for p in pe],
                              [float(np.mean(p[1]["changed"])) for p in pe], math.log(eps))
                ch.append("—" if y is None else f"≈ {y * 100:.1f}")
            cells = []
            for c, _ in CLASSIFIERS:
                vals = {m: at_eps(agg, ds, m, c, label, eps) for m in names}
                cells.append(" / ".join("—" if v is None else
                                        f"{'≈ ' if not v[2] else ''}{v[0] * 100:.1f}"
                                        for v in vals.values()))
                ref = vals[refs[0]]
                for m in new:
                    v = vals[m]
                    cells.append("—" if v is None or ref is None or not v[2] else
                                 diff_cell(v[0], v[1], ref[0], ref[1], ref[2]))
            out.append(f"| {ds} | {eps_text(label, eps)} | {' / '.join(ch)} | "
                       + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def block_mvl_interp_check(agg, order, added=(4.0, 6.0, 8.0)):
    """Where mvl ran at an eps added for em (4, 6, 8), the measured value against the value
    interpolated (linear in log eps) from mvl's other eps: how far to trust the interpolated
    mvl values used where it did not run."""
    out = ["| data set | ε | " + " | ".join(f"{n}: measured / interpolated / difference"
                                           for _, n in CLASSIFIERS) + " |",
           "|---|---|" + "---|" * len(CLASSIFIERS)]
    for ds in order:
        for label, a in points(agg, ds, "mvl", CLASSIFIERS[0][0]):
            if a["eps"] not in added:
                continue
            cells = []
            for c, _ in CLASSIFIERS:
                pts = [p for p in points(agg, ds, "mvl", c) if p[1]["eps"] not in added]
                y = interp_at([math.log(p[1]["eps"]) for p in pts],
                              [float(np.mean(p[1]["m"])) for p in pts], math.log(a["eps"]))
                m = float(np.mean(agg[(ds, "mvl", label, c)]["m"]))
                cells.append("—" if y is None else
                             f"{m * 100:.1f} / {y * 100:.1f} / {(y - m) * 100:+.1f}")
            out.append(f"| {ds} | {eps_text(label, a['eps'])} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


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


def block_equal_changed(agg, order, other="mvl"):
    """For each tg point, `other`'s metric at tg's fraction of words changed (linear
    interpolation along `other`'s curve) and the `other` eps giving that change (log-linear)."""
    out = ["| data set | tg ε | words changed | "
           + " | ".join(f"{n}: tg / {other} at same change / tg − {other}" for _, n in CLASSIFIERS)
           + f" | {other} ε giving that change | distance moved: tg / {other} |",
           "|---|---|---|" + "---|" * len(CLASSIFIERS) + "---|---|"]
    for ds in order:
        for label, a in points(agg, ds, "tg", CLASSIFIERS[0][0]):
            x = float(np.mean(a["changed"]))
            cells = []
            for c, _ in CLASSIFIERS:
                xs, ys = curve(agg, ds, c, other)
                t = agg.get((ds, "tg", label, c))
                y = interp_at(xs, ys, x) if xs else None
                if t is None or y is None:
                    cells.append("—")
                    continue
                tm = np.mean(t["m"]) * 100
                cells.append(f"{tm:.1f} / {y * 100:.1f} / **{tm - y * 100:+.1f}**")
            # mvl eps at that fraction changed (log-linear interpolation).
            pe = [(np.mean(m["changed"]), m["eps"])
                  for _, m in points(agg, ds, other, CLASSIFIERS[0][0])]
            pe.sort()
            e = interp_at([p[0] for p in pe], [math.log(p[1]) for p in pe], x) if pe else None
            if all(c == "—" for c in cells) and e is None:
                continue
            pd = sorted((np.mean(m["changed"]), np.mean(m["dist"]))
                        for _, m in points(agg, ds, other, CLASSIFIERS[0][0]))
            dist = interp_at([p[0] for p in pd], [p[1] for p in pd], x) if pd else None
            out.append(f"| {ds} | {eps_text(label, a['eps'])} | {x * 100:.1f} % | "
                       + " | ".join(cells) + f" | {'≈ %.1f' % math.exp(e) if e is not None else '—'}"
                       + f" | {np.mean(a['dist']):.2f} / "
                       + ("—" if dist is None else f"{dist:.2f}") + " |")
    return "\n".join(out) + "\n"


def first_crossing(agg, ds, mech, c, target):
    """The smallest eps at which `mech`'s metric reaches `target` (linear in log eps between
    its two eps around the first crossing), and its fraction of words changed there."""
    mv = [(a["eps"], np.mean(a["m"]), np.mean(a["changed"])) for _, a in points(agg, ds, mech, c)]
    if not mv:
        return None
    for (e0, m0, c0), (e1, m1, c1) in zip(mv, mv[1:]):
        if m0 < target <= m1:
            f = (target - m0) / (m1 - m0)
            return (math.exp(math.log(e0) + f * (math.log(e1) - math.log(e0))),
                    c0 + f * (c1 - c0))
    if mv[0][1] >= target:
        return ("≤ %g" % mv[0][0], mv[0][2])
    return None


def block_equal_utility(agg, order, others=("mvl", "em")):
    """For each data set and classifier: tg's metric (mean over its eps grid; it hardly moves
    with eps), and for each mechanism in `others` the smallest eps at which it reaches it, with
    its fraction of words changed there."""
    out = ["| data set | classifier | tg, all ε (range) | tg words changed | "
           + " | ".join(f"{o} ε reaching tg's score | {o} words changed there" for o in others)
           + " |", "|---|---|---|---|" + "---|---|" * len(others)]
    for ds in order:
        for c, cname in CLASSIFIERS:
            tg = [np.mean(a["m"]) for _, a in points(agg, ds, "tg", c)]
            tgc = [np.mean(a["changed"]) for _, a in points(agg, ds, "tg", c)]
            if not tg:
                continue
            target = float(np.mean(tg))
            cells = []
            for o in others:
                cross = first_crossing(agg, ds, o, c, target)
                cells.append("—" if cross is None else (
                    cross[0] if isinstance(cross[0], str) else f"≈ {cross[0]:.1f}"))
                cells.append("—" if cross is None else f"{cross[1] * 100:.0f} %")
            out.append(f"| {ds} | {cname} | {target * 100:.1f} ({min(tg) * 100:.1f}–"
                       f"{max(tg) * 100:.1f}) | {min(tgc) * 100:.0f}–{max(tgc) * 100:.0f} % | "
                       + " | ".join(cells) + " |")
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


def short_build(b):
    """'dpsanitize 0.1.0 (git c934fc923ced, dirty; FAISS 1.7.3, ...) sha256:…' without the list
    of libraries (newer builds' --version names them)."""
    return re.sub(r"(\(git [^;)]*);[^)]*\)", r"\1)", b or "")


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
        parts = timing.get("parts") or []
        if len(parts) > 1:
            out.append("By part: " + "; ".join(
                f"{p['started']} to {p['finished']}: {p['seconds'] / 60:.0f} min ({p['seconds']:,} s"
                + (f", {p['invocations']} invocations" if p.get("invocations", 1) > 1 else "")
                + (f", {short_build(p['binary'])}" if p.get("binary") else "") + ")"
                for p in parts) + ".")
    if meta:
        build = short_build(meta.get("binary", meta.get("binary_version", "")))
        out.append(f"dpsanitize: `{build}`; embedding "
                   f"`{os.path.basename(meta.get('embedding', ''))}` (SHA-256 "
                   f"`{meta.get('embedding_sha256', '')[:16]}…`, |V| = {meta.get('vocab_size')}, "
                   f"tg's ε_min = {meta.get('eps_min', 0):.4f}); mvl search: "
                   f"`{meta.get('mvl_search')}`; dpsanitize threads: {meta.get('threads')}.")
        la = meta.get("load_avg_1min")
        if la:
            out.append(f"Machine load (1-min load average when each dpsanitize run of the last "
                       f"invocation started, {la['samples']} runs): median {la['median']:.1f}, "
                       f"range {la['min']:.1f}–{la['max']:.1f}, on {os.cpu_count()} cores.")
    if rows:
        tot = defaultdict(float)
        runs = defaultdict(int)
        words = defaultdict(float)
        for r in rows:
            if r["classifier"] == CLASSIFIERS[0][0] and r["sanitize_s"]:
                k = (r["dataset"], r["condition"], r.get("binary", ""))
                tot[k] += float(r["sanitize_s"])
                runs[k] += 1
                words[k] += float(r["n_words"])
        if tot:
            lines = ["| data set | mechanism | build | runs | dpsanitize time | words/s |",
                     "|---|---|---|---|---|---|"]
            for k in sorted(tot, key=lambda k: (k[2], k[0] != "uci", k[0] != "spam", k[1])):
                lines.append(f"| {k[0]} | {k[1]} | {short_build(k[2]) or '?'} | {runs[k]} | "
                             f"{tot[k] / 60:.1f} min | {words[k] / tot[k]:,.0f} |")
            out.append("dpsanitize wall time per data set, mechanism and build (sum over its runs; "
                       "Python's evaluation overlaps it; words/s counts in-vocabulary words):\n\n"
                       + "\n".join(lines))
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
    """Three rows per data set: against eps (all mechanisms, log scale), against eps from 1 to
    20 (all but tg), and against the fraction of training words changed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(order)
    fig, axes = plt.subplots(3, n, figsize=(max(5.4 * n, 9.0), 13.0 if n > 1 else 14.0),
                             squeeze=False)
    styles = {"tfidf_lr": ("-", "o"), "glove_lr": ("--", "s")}
    for j, ds in enumerate(order):
        ax_e, ax_z, ax_c = axes[0][j], axes[1][j], axes[2][j]
        for c, cname in CLASSIFIERS:
            ls, mk = styles[c]
            for mech in MECHS:
                pts = points(agg, ds, mech, c)
                if not pts:
                    continue
                e = np.array([a["eps"] for _, a in pts])
                m = np.array([np.mean(a["m"]) for _, a in pts])
                sd = np.array([0 if len(a["m"]) < 2 else np.std(a["m"], ddof=1) for _, a in pts])
                ch = np.array([np.mean(a["changed"]) for _, a in pts])
                # em drawn wide under a thin tem: the two often coincide.
                kw = dict(color=COLORS[mech], ls=ls, marker=mk, ms=5 if mech == "em" else 3,
                          lw=2.6 if mech == "em" else 1.1, capsize=2, label=f"{mech}, {cname}",
                          alpha=0.75 if mech == "em" else 1.0)
                ax_e.errorbar(e, m, yerr=sd, **kw)
                z = e <= 20
                if mech != "tg" and z.any():
                    ax_z.errorbar(e[z], m[z], yerr=sd[z], **kw)
                o = np.argsort(ch)
                ax_c.errorbar(ch[o], m[o], yerr=sd[o], **kw)
            for cond, col, name in (("clean", "black", "clean"), ("random", "gray", "random words"),
                                    ("clean_vocab", "tab:green", "clean, OOV masked")):
                a = agg.get((ds, cond, "", c))
                if not a:
                    continue
                y = np.mean(a["m"])
                ax_e.axhline(y, color=col, ls=ls, lw=1, label=f"{name}, {cname}")
                ax_z.axhline(y, color=col, ls=ls, lw=1)
                ax_c.plot([np.mean(a["changed"])], [y], color=col, marker=mk, ls="none", ms=7,
                          label=f"{name}, {cname}")
        ax_e.axvline(eps_min, color=COLORS["tg"], lw=0.8, ls=":")
        ax_e.text(eps_min, ax_e.get_ylim()[0], " tg ε_min", color=COLORS["tg"], fontsize=8,
                  va="bottom")
        ax_e.set_xscale("log")
        ax_z.set_xscale("log")
        ax_z.set_xlim(0.9, 22)
        ax_z.set_xticks([1, 2, 3, 4, 5, 6, 8, 10, 14, 20])
        ax_z.set_xticklabels(["1", "2", "3", "4", "5", "6", "8", "10", "14", "20"])
        ax_z.minorticks_off()
        ylab = "test F1 (spam)" if metric_name(ds) == "f1" else "test accuracy"
        ax_e.set_title(DATASET_TITLES.get(ds, ds))
        ax_e.set_xlabel("ε (metric-DP, per unit embedding distance; log scale)")
        ax_z.set_xlabel("ε, 1 to 20 (em, tem, bem, mvl, mahalanobis, vickrey; log scale)")
        ax_c.set_xlabel("fraction of training words changed")
        ax_c.set_xlim(-0.03, 1.03)
        for ax in (ax_e, ax_z, ax_c):
            ax.set_ylabel(ylab)
            ax.grid(alpha=0.3)
    h, l = axes[2][0].get_legend_handles_labels()
    fig.legend(h, l, loc="lower center", ncol=4 if n > 1 else 2, fontsize=8, frameon=False)
    fig.suptitle("dpsanitize utility: classifier trained on sanitized text, tested on clean text\n"
                 "top: against ε; middle: ε from 1 to 20; bottom: against the fraction of words "
                 "changed", fontsize=11)
    fig.tight_layout(rect=(0, 0.09 if n > 1 else 0.16, 1, 0.96))
    fig.savefig(png, dpi=100)
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
    blocks["em-vs-mvl"] = block_em_vs_mvl(agg, order)
    blocks["bem-vs-em"] = block_bem_vs_em(agg, order)
    blocks["new-vs-mvl"] = block_new_vs_mvl(agg, order)
    blocks["mvl-interp-check"] = block_mvl_interp_check(agg, order)
    blocks["equal-changed"] = block_equal_changed(agg, order)
    blocks["equal-changed-em"] = block_equal_changed(agg, order, "em")
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
