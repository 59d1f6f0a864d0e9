#!/usr/bin/env python3
"""A straightforward Python/numpy implementation of the tg mechanism, word by
word, as published reproductions do it (a full distance computation per word,
numpy's Poisson and Gumbel draws), used by scripts/bench.sh as the reference
to beat. It reads the prepared embedding (docs/embedding-format.md) and the
calibration inputs stored in it.

usage: bench_reference.py EMBEDDING.dpsemb TEXT EPS
prints: "<words> words in <seconds> s"
"""
import math
import re
import struct
import sys
import time

import numpy as np


def load(path, vocab_size=50000):
    with open(path, "rb") as f:
        head = f.read(256)
    (version, dim, count, vec_off, offs_off, words_off, words_size, flags_off, stats_off,
     stats_count) = struct.unpack_from("<IIQQQQQQQI", head, 8)
    assert head[:8] == b"DPSEMB\0\n" and version in (1, 2)
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    vectors = np.frombuffer(mm, dtype=np.float32, count=count * dim, offset=vec_off)
    vectors = vectors.reshape(count, dim)
    offsets = np.frombuffer(mm, dtype=np.uint64, count=count + 1, offset=offs_off)
    blob = bytes(mm[words_off:words_off + words_size])
    flags = np.frombuffer(mm, dtype=np.uint8, count=count, offset=flags_off)
    usable = np.nonzero(flags)[0][:vocab_size]
    words = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in usable]
    vocab = np.array(vectors[usable], dtype=np.float64)
    stats = None
    for r in range(stats_count):
        size, dmin, dmax = struct.unpack_from("<Qdd", bytes(mm[stats_off + 64 * r:stats_off + 64 * r + 24]))
        if size == len(words):
            stats = (dmin, dmax)
    return words, vocab, stats


def lambert_w0(x):
    w = math.log1p(x)
    for _ in range(50):
        ew = math.exp(w)
        w -= (w * ew - x) / (ew * (w + 1))
    return w


def main():
    emb, text_path, eps = sys.argv[1], sys.argv[2], float(sys.argv[3])
    words, vocab, (dmin, dmax) = load(emb)
    n = len(words)
    index = {w: i for i, w in enumerate(words)}
    a = (eps - 2 * (1 + math.log(n)) / dmin) / 3
    b = 2 * dmax / min(lambert_w0(2 * a * dmax), math.log(a * dmin))
    mu = math.log(n - 1)
    rng = np.random.default_rng(1)
    word_re = re.compile(r"[^\W_]+(?:['\u2019\-\u2010][^\W_]+)*")
    lines = open(text_path, encoding="utf-8").read().splitlines(keepends=True)
    count = 0
    t0 = time.perf_counter()
    out = []
    for line in lines:
        def repl(m):
            nonlocal count
            count += 1
            i = index.get(m.group(0).lower())
            if i is None:
                return "<unk>"
            d = np.linalg.norm(vocab - vocab[i], axis=1)
            k = rng.poisson(mu)
            while k > n - 1:
                k = rng.poisson(mu)
            cand = np.argpartition(d, k)[:k + 1] if k + 1 < n else np.arange(n)
            cand = cand[np.lexsort((cand, d[cand]))]
            g = rng.gumbel(0.0, b, size=cand.size)
            bad = np.abs(g) > dmax
            while bad.any():
                g[bad] = rng.gumbel(0.0, b, size=bad.sum())
                bad = np.abs(g) > dmax
            return words[cand[np.argmin(d[cand] + g)]]
        out.append(word_re.sub(repl, line))
    secs = time.perf_counter() - t0
    print(f"{count} words in {secs:.3f} s")


if __name__ == "__main__":
    main()
