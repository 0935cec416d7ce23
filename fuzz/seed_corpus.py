#!/usr/bin/env python3
"""Add seeds from crates/pimap/tests/vectors to fuzz/corpus-work/<target>/ (run from anywhere;
unpack the packs first and pack again after: see fuzz/corpus.py).

* tests/vectors/pimap/*.vec (format: tests/vectors/pimap/README.md): the client messages of a
  vector go to command_decoder, the server messages to response_decoder, the whole exchange
  (in order) to framer and roundtrip.
* tests/vectors/dovecot/*.raw: cut into complete messages (CRLF lines, literals skipped by
  count), grouped a few messages per file (< 4 KB).

Every file starts with the target's control byte (see the comment at the top of each target),
and is named by the SHA-1 of its content, like libFuzzer names corpus entries.
Existing files are kept (the fuzzers' own finds, after `cargo fuzz cmin`).
"""
import hashlib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VEC = os.path.join(ROOT, "crates", "pimap", "tests", "vectors", "pimap")
DOVE = os.path.join(ROOT, "crates", "pimap", "tests", "vectors", "dovecot")
OUT = os.path.join(ROOT, "fuzz", "corpus-work")
MAX_FILE = 4000
MAX_PER_TARGET = 150
LIT = re.compile(rb"~?\{(\d+)\+?\}\r\n$")


def vec_messages(path):
    """[(client: bool, bytes)] in file order, as tests/pimap_vectors.rs reads them."""
    msgs = []
    for line in open(path, "rb").read().split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.startswith(b"#") or not line or line.startswith(b"X:"):
            continue
        colon = line.index(b":")
        marker, content = line[:colon], line[colon + 2:]
        if marker in (b".", b".~"):
            msgs[-1][1].extend(b"\r\n" + content)
            continue
        msgs.append((marker[:1] == b"C", bytearray(content)))
    return [(c, shrink_literals(bytes(b) + b"\r\n")) for c, b in msgs]


def shrink_literals(msg, keep=96):
    """Cut literal payloads to at most `keep` octets (announcements rewritten to match)."""
    out, pos = b"", 0
    while pos < len(msg):
        nl = msg.find(b"\n", pos)
        if nl < 0:
            return out + msg[pos:]
        line = msg[pos:nl + 1]
        m = LIT.search(line)
        if not m:
            out += line
            pos = nl + 1
            continue
        n = int(m.group(1))
        data = msg[nl + 1:nl + 1 + n]
        if n > keep:
            data = data[:keep]
            line = line[:m.start(1)] + str(keep).encode() + line[m.end(1):]
        out += line + data
        pos = nl + 1 + n
    return out


def raw_messages(data):
    """Cut a byte-exact transcript into complete messages."""
    out, start, pos = [], 0, 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line_end = nl + 1
        m = LIT.search(data[pos:line_end])
        if m:
            pos = line_end + int(m.group(1))
            continue
        out.append(data[start:line_end])
        start = pos = line_end
    if start < len(data):
        out.append(data[start:])
    return out


def groups(msgs, per=3):
    cur = b""
    n = 0
    for m in msgs:
        if cur and (n >= per or len(cur) + len(m) > MAX_FILE):
            yield cur
            cur, n = b"", 0
        cur += m
        n += 1
    if cur:
        yield cur


def main():
    seeds = {t: [] for t in ("command_decoder", "response_decoder", "framer", "roundtrip")}
    for name in sorted(os.listdir(VEC)):
        if not name.endswith(".vec"):
            continue
        msgs = vec_messages(os.path.join(VEC, name))
        if sum(len(b) for _, b in msgs) > MAX_FILE:
            print(f"{name}: {sum(len(b) for _, b in msgs)} bytes after shrinking", file=sys.stderr)
        cmds = b"".join(b for c, b in msgs if c)
        resps = b"".join(b for c, b in msgs if not c)
        both = b"".join(b for _, b in msgs)
        if cmds:
            seeds["command_decoder"].append(cmds)
        if resps:
            seeds["response_decoder"].append(resps)
        if both:
            role = 1 if len(resps) >= len(cmds) else 0
            seeds["framer"].append((role, both))
            seeds["roundtrip"].append(both)
    for name in sorted(os.listdir(DOVE)):
        if not name.endswith(".raw"):
            continue
        client = ".client." in name
        data = open(os.path.join(DOVE, name), "rb").read()
        for g in groups(raw_messages(data), per=4 if client else 6):
            seeds["command_decoder" if client else "response_decoder"].append(g)
            seeds["framer"].append((0 if client else 1, g))
            seeds["roundtrip"].append(g)
    for target, items in seeds.items():
        d = os.path.join(OUT, target)
        os.makedirs(d, exist_ok=True)
        if len(items) > MAX_PER_TARGET:  # drop evenly spaced items
            step = len(items) / (len(items) - MAX_PER_TARGET)
            drop = {int(k * step) for k in range(len(items) - MAX_PER_TARGET)}
            items = [x for k, x in enumerate(items) if k not in drop]
        written = 0
        for i, item in enumerate(items):
            if target == "framer":
                role, body = item
                piece = (i * 37) % 128  # piece size - 1
                ctl = (piece << 1) | role
            elif target == "roundtrip":
                body = item
                ctl = 1 if i % 4 == 3 else 0  # every 4th strict
            else:
                body = item
                ctl = (i * 7) % 64  # split position
                if i % 4 == 3:
                    ctl |= 0x80  # strict
                if i % 8 == 5:
                    ctl |= 0x40  # small limits
            content = bytes([ctl]) + body
            h = hashlib.sha1(content).hexdigest()
            with open(os.path.join(d, h), "wb") as f:
                f.write(content)
            written += 1
        print(f"{target}: {written} seeds ({len(items)} candidates)", file=sys.stderr)


if __name__ == "__main__":
    main()
