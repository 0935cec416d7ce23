#!/usr/bin/env python3
"""Keep the fuzz corpora compactly: one gzip'd pack per target.

    fuzz/corpus.py unpack [DIR]   write each pack's inputs to DIR/<target>/<sha1> (default
                                  fuzz/corpus-work), for `cargo fuzz run <target> DIR/<target>`
    fuzz/corpus.py pack [DIR]     rebuild fuzz/corpus/<target>.pack.gz from DIR/<target>/*
                                  (after `cargo fuzz cmin`; inputs are deduplicated and sorted)

Pack format (read by crates/pimap-corpus/tests/fuzz_corpus.rs): gzip of a sequence of
records, each a 4-byte little-endian length followed by that many bytes of input.
"""
import gzip
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKS = os.path.join(HERE, "corpus")
TARGETS = ["client", "command_decoder", "framer", "response_decoder", "roundtrip", "server"]


def read_pack(path):
    data = gzip.open(path, "rb").read()
    i = 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        i += 4
        yield data[i : i + n]
        i += n


def pack(src):
    for t in TARGETS:
        d = os.path.join(src, t)
        if not os.path.isdir(d):
            continue
        inputs = set()
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if os.path.isfile(p) and not name.startswith("."):
                inputs.add(open(p, "rb").read())
        out = os.path.join(PACKS, t + ".pack.gz")
        with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as f:
            for b in sorted(inputs):
                f.write(struct.pack("<I", len(b)))
                f.write(b)
        print(f"{out}: {len(inputs)} inputs")


def unpack(dst):
    for t in TARGETS:
        p = os.path.join(PACKS, t + ".pack.gz")
        if not os.path.exists(p):
            continue
        d = os.path.join(dst, t)
        os.makedirs(d, exist_ok=True)
        n = 0
        for b in read_pack(p):
            with open(os.path.join(d, hashlib.sha1(b).hexdigest()), "wb") as f:
                f.write(b)
            n += 1
        print(f"{d}: {n} inputs")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit(__doc__)
    where = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "corpus-work")
    (pack if sys.argv[1] == "pack" else unpack)(where)
