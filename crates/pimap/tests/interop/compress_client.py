#!/usr/bin/env python3
"""A COMPRESS=DEFLATE (RFC 4978) client against the pimap example server, written with
Python's zlib over a raw socket (third-party DEFLATE on both directions).

Usage: python3 tests/interop/compress_client.py <imap-port> <inject-port>

LOGIN, COMPRESS DEFLATE, then through the compressed stream: LIST, SELECT INBOX, FETCH 1
BODY[], IDLE receiving `* n EXISTS` for a message injected meanwhile, DONE, LOGOUT. Every step
prints `PASS <step>`; a failure prints `FAIL <step>: <why>` and exits 1. 10 s timeouts.
"""

import re
import socket
import sys
import zlib

HOST = "127.0.0.1"
TIMEOUT = 10.0


class Failure(Exception):
    pass


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection((HOST, port), timeout=TIMEOUT)
        self.s.settimeout(TIMEOUT)
        self.buf = b""
        self.inflate = None
        self.deflate = None
        self.wire_in = 0

    def send(self, data):
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.s.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise Failure("connection closed")
            self.wire_in += len(chunk)
            if self.inflate:
                chunk = self.inflate.decompress(chunk)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        m = re.search(rb"\{(\d+)\}$", line)
        if m:  # literal: read it and the rest of the line
            n = int(m.group(1))
            while len(self.buf) < n:
                chunk = self.s.recv(65536)
                if not chunk:
                    raise Failure("closed in literal")
                self.wire_in += len(chunk)
                if self.inflate:
                    chunk = self.inflate.decompress(chunk)
                self.buf += chunk
            lit, self.buf = self.buf[:n], self.buf[n:]
            return line + b"\r\n" + lit + self.line()
        return line

    def until_tagged(self, tag):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if l.startswith(tag + b" "):
                if not l.startswith(tag + b" OK"):
                    raise Failure("%r" % l)
                return lines


def inject(port, message):
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as s:
        s.sendall(b"INJECT alice INBOX %d\r\n" % len(message) + message)
        reply = s.recv(100)
    if not reply.startswith(b"OK"):
        raise Failure("inject: %r" % reply)


def main(port, inject_port):
    c = Conn(port)
    greeting = c.line()
    if b"COMPRESS=DEFLATE" not in greeting:
        raise Failure("no COMPRESS=DEFLATE in %r" % greeting)
    c.send(b"a1 LOGIN alice alicepw\r\n")
    c.until_tagged(b"a1")
    print("PASS login")
    c.send(b"a2 COMPRESS DEFLATE\r\n")
    c.until_tagged(b"a2")
    c.inflate = zlib.decompressobj(-15)
    c.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    print("PASS compress negotiated")
    c.send(b'a3 LIST "" "*"\r\n')
    lines = c.until_tagged(b"a3")
    if not any(b"INBOX" in l for l in lines):
        raise Failure("LIST: %r" % lines)
    print("PASS list (compressed)")
    c.send(b"a4 SELECT INBOX\r\n")
    lines = c.until_tagged(b"a4")
    if not any(l.endswith(b" EXISTS") for l in lines):
        raise Failure("SELECT: %r" % lines)
    print("PASS select (compressed)")
    c.send(b"a5 FETCH 1 BODY[]\r\n")
    lines = c.until_tagged(b"a5")
    if not any(b"Welcome to the pimap demo server" in l for l in lines):
        raise Failure("FETCH: %r" % lines)
    print("PASS fetch body (compressed)")
    c.send(b"a6 IDLE\r\n")
    if not c.line().startswith(b"+"):
        raise Failure("no continuation for IDLE")
    inject(inject_port, b"Subject: through deflate\r\n\r\nhello\r\n")
    l = c.line()
    if not re.match(rb"\* \d+ EXISTS$", l):
        raise Failure("expected EXISTS, got %r" % l)
    print("PASS idle push (compressed): %s" % l.decode())
    c.send(b"DONE\r\n")
    c.until_tagged(b"a6")
    c.send(b"a7 LOGOUT\r\n")
    c.until_tagged(b"a7")
    print("PASS logout; %d compressed bytes received after COMPRESS" % c.wire_in)
    print("all compress steps passed")


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]), int(sys.argv[2]))
    except Exception as e:  # noqa: BLE001
        print("FAIL: %s" % e)
        sys.exit(1)
