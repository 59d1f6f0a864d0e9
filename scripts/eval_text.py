"""Text helpers for the utility evaluation (scripts/eval_utility.py).

- A Python copy of dpsanitize's word tokenizer (src/dpsanitize/tokenize/tokenizer.cpp):
  a word is a letter (L*) or decimal digit (Nd), followed by letters, digits and combining
  marks (M*); a single joiner (' U+2019 - U+2010) stays inside a word when a letter or digit
  follows it directly. Everything else is a gap.
- The lookup key (lower case, U+2019 -> ', U+2010 -> -).
- The perturbation vocabulary V read from an embedding: the prepared binary format
  (docs/embedding-format.md) or a GloVe/.vec text file; V is the first `vocab_size` usable
  entries in file order, as in dpsanitize.
- Word-level statistics of a sanitized corpus against its input, and the random-word baseline.

Only the Python standard library and numpy.
"""

import re
import struct
import sys
import unicodedata

import numpy as np


def _char_class(codepoints):
    """A regex character class body for a sorted list of code points, as ranges."""
    parts = []
    start = prev = None
    for cp in codepoints:
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            parts.append((start, prev))
            start = prev = cp
    if start is not None:
        parts.append((start, prev))
    out = []
    for a, b in parts:
        out.append(re.escape(chr(a)) if a == b else re.escape(chr(a)) + "-" + re.escape(chr(b)))
    return "".join(out)


def _set(codepoints):
    # Python's re compiles a class of BMP code points into a fast bitmap, but falls back to a
    # linear list of ranges when the class also holds supplementary-plane code points: keep them
    # in a second class.
    bmp = [c for c in codepoints if c <= 0xFFFF]
    astral = [c for c in codepoints if c > 0xFFFF]
    return "(?:[" + _char_class(bmp) + "]|[" + _char_class(astral) + "])"


def _build_word_regex():
    word_chars, marks = [], []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        if cat[0] == "L" or cat == "Nd":
            word_chars.append(cp)
        elif cat[0] == "M":
            marks.append(cp)
    w = _set(word_chars)
    wm = _set(sorted(word_chars + marks))
    j = "['\u2019\\-\u2010]"
    return w + wm + "*(?:" + j + w + wm + "*)*"


WORD_PATTERN = _build_word_regex()
WORD_RE = re.compile(WORD_PATTERN)
_KEY_TABLE = str.maketrans({"\u2019": "'", "\u2010": "-"})


def lookup_key(word):
    return word.lower().translate(_KEY_TABLE)


# For pure-ASCII text (most of it) the same definition is this much faster pattern.
ASCII_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*")


def words(line):
    return (ASCII_WORD_RE if line.isascii() else WORD_RE).findall(line)


def is_single_word(text):
    return WORD_RE.fullmatch(text) is not None


# ---------------------------------------------------------------------------
# Embedding: the perturbation vocabulary V and its vectors.


class Vocabulary:
    """V: `words` (list, ids are positions), `index` (word -> id), `vectors` (float32 |V| x n)."""

    def __init__(self, word_list, vectors):
        self.words = word_list
        self.index = {w: i for i, w in enumerate(word_list)}
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self):
        return len(self.words)


def load_vocabulary(path, vocab_size=50000):
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic == b"DPSEMB\0\n":
        return _load_prepared(path, vocab_size)
    return _load_text(path, vocab_size)


def _load_prepared(path, vocab_size):
    # Header layout: docs/embedding-format.md.
    with open(path, "rb") as f:
        header = f.read(128)
    version, dim, count = struct.unpack_from("<IIQ", header, 8)
    if version not in (1, 2):  # version 2 only appends a neighbour table to the header
        raise SystemExit(f"{path}: prepared format version {version}, expected 1 or 2")
    vec_off, woff_off, blob_off, blob_size, usable_off = struct.unpack_from("<QQQQQ", header, 24)
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    usable = np.asarray(mm[usable_off:usable_off + count]).astype(bool)
    ids = np.flatnonzero(usable)[:vocab_size]
    offsets = np.frombuffer(mm[woff_off:woff_off + 8 * (count + 1)].tobytes(), dtype="<u8")
    blob = mm[blob_off:blob_off + blob_size].tobytes()
    word_list = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in ids]
    vectors = np.frombuffer(mm[vec_off:vec_off + 4 * dim * count].tobytes(), dtype="<f4")
    vectors = vectors.reshape(count, dim)[ids]
    return Vocabulary(word_list, vectors)


def _load_text(path, vocab_size):
    word_list, rows = [], []
    with open(path, encoding="utf-8") as f:
        first = f.readline().split()
        if not (len(first) == 2 and all(t.isdigit() for t in first)):
            f.seek(0)  # GloVe text without a header line
        for line in f:
            parts = line.rstrip("\n").split(" ")
            w = parts[0]
            # Usable: read back as exactly one word, and equal to its own lookup key.
            if not is_single_word(w) or lookup_key(w) != w:
                continue
            word_list.append(w)
            rows.append(np.array(parts[1:], dtype=np.float32))
            if len(word_list) == vocab_size:
                break
    return Vocabulary(word_list, np.vstack(rows))


# ---------------------------------------------------------------------------
# Word statistics and baselines.


def word_stats(in_lines, out_lines, vocab):
    """Positional comparison of input and output words, over in-vocabulary input words.

    Returns dict: n_words (in-vocabulary input words compared), frac_unchanged, mean_dist
    (mean Euclidean distance between the input and output word vectors, 0 for unchanged),
    n_docs_misaligned (documents whose word counts differ; skipped).
    """
    get = vocab.index.get
    src, dst = [], []
    misaligned = 0
    for a, b in zip(in_lines, out_lines):
        # Lower-casing the whole line first gives the same words, already as lookup keys.
        wa, wb = words(lookup_key(a)), words(lookup_key(b))
        if len(wa) != len(wb):
            misaligned += 1
            continue
        src.extend([get(k, -1) for k in wa])
        dst.extend([get(k, -1) for k in wb])
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    keep = src >= 0
    src, dst = src[keep], dst[keep]
    n = len(src)
    if n == 0:
        return {"n_words": 0, "frac_unchanged": float("nan"), "mean_dist": float("nan"),
                "n_docs_misaligned": misaligned, "n_out_not_in_vocab": 0}
    bad = int(np.sum(dst < 0))
    ok = dst >= 0
    s, d = src[ok], dst[ok]
    dist_sum = 0.0
    for k in range(0, len(s), 1 << 18):
        diff = vocab.vectors[s[k:k + (1 << 18)]] - vocab.vectors[d[k:k + (1 << 18)]]
        dist_sum += float(np.sqrt(np.einsum("ij,ij->i", diff, diff, dtype=np.float64)).sum())
    return {
        "n_words": n,
        "frac_unchanged": float(np.sum(s == d)) / n,
        "mean_dist": dist_sum / max(1, len(s)),
        "n_docs_misaligned": misaligned,
        "n_out_not_in_vocab": bad,
    }


def replace_words(lines, vocab, rng=None, oov_token="<unk>"):
    """Rewrite each line keeping its gaps: in-vocabulary words become a uniformly random
    vocabulary word (rng given) or themselves lower-cased (rng None); out-of-vocabulary words
    become `oov_token`, as dpsanitize's default --oov mask does."""
    index = vocab.index
    vw = vocab.words
    nv = len(vw)
    out = []
    for line in lines:
        ws = words(line)
        draws = iter(rng.integers(0, nv, size=len(ws)).tolist()) if rng is not None else None

        def sub(m):
            key = lookup_key(m.group(0))
            if key not in index:
                if draws is not None:
                    next(draws)
                return oov_token
            if draws is None:
                return key
            return vw[next(draws)]

        out.append(WORD_RE.sub(sub, line))
    return out
