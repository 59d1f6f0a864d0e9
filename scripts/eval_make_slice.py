#!/usr/bin/python3
"""Writes data/utility-slice/uci-slice.jsonl: 200 sentences of the UCI Sentiment Labelled
Sentences (Kotzias et al., KDD 2015) as shipped in npm sentiment@5.0.2, test/fixtures/
{amazon,imdb,yelp}.json: 100 negative and 100 positive, 33 or 34 per source and class, chosen
with a fixed seed among the de-duplicated sentences of 5 to 30 words. Provenance and licence:
data/utility-slice/README.md.

    scripts/eval_make_slice.py PACKAGE_DIR OUT.jsonl
"""
import json
import sys

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
import eval_data  # noqa: E402

pkg, out = sys.argv[1], sys.argv[2]
recs, _ = eval_data.load_uci(pkg)
recs = [r for r in eval_data.dedupe(recs) if 5 <= len(r["text"].split()) <= 30]
rng = np.random.default_rng(20150810)
chosen = []
for label in (0, 1):
    for source, n in (("amazon", 34), ("imdb", 33), ("yelp", 33)):
        pool = [r for r in recs if r["source"] == source and r["label"] == label]
        idx = sorted(rng.choice(len(pool), size=n, replace=False).tolist())
        chosen += [pool[i] for i in idx]
with open(out, "w", encoding="utf-8", newline="\n") as f:
    for r in chosen:
        f.write(json.dumps({"text": r["text"], "label": r["label"], "source": r["source"]},
                           ensure_ascii=False) + "\n")
print(f"{out}: {len(chosen)} sentences")
