#!/usr/bin/env python3
"""Latency probes against a running examples/server (127.0.0.1 only).

  latency_probe.py split  <imap-port>                 # a client writing line and CRLF apart
  latency_probe.py stall  <imap-port> <inject-port>   # NOOP of one user during another's SEARCHes

`split`: logs in as alice and sends 50 NOOPs, each as two writes ("tag NOOP", then "\r\n"),
with Nagle on (as several client libraries leave it); prints the median and worst round trip.
`stall`: injects a 20 MB message for alice, pipelines 100 `SEARCH BODY` over it, and while
they run measures 20 NOOP round trips of bob; prints the median and worst.
"""
import socket
import statistics
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    f = s.makefile("rb")
    f.readline()  # greeting
    return s, f


def until_tag(f, tag):
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError("connection closed")
        if line.startswith(tag + b" "):
            return line


def login(port, user, pw):
    s, f = connect(port)
    s.sendall(b"l LOGIN %s %s\r\n" % (user, pw))
    until_tag(f, b"l")
    return s, f


def split(port):
    s, f = login(port, b"alice", b"alicepw")
    times = []
    for i in range(50):
        tag = b"n%d" % i
        t = time.perf_counter()
        s.send(tag + b" NOOP")
        s.send(b"\r\n")
        until_tag(f, tag)
        times.append((time.perf_counter() - t) * 1000)
    print("split-write NOOP round trip: median %.2f ms, max %.2f ms (50 commands)"
          % (statistics.median(times), max(times)))


def stall(port, inject_port):
    body = b"x" * (20 * 1000 * 1000)
    msg = b"Subject: big\r\n\r\n" + body + b"\r\n"
    i = socket.create_connection(("127.0.0.1", inject_port), timeout=60)
    i.sendall(b"INJECT alice INBOX %d\r\n" % len(msg) + msg)
    i.makefile("rb").readline()
    a, af = login(port, b"alice", b"alicepw")
    a.sendall(b"s SELECT INBOX\r\n")
    until_tag(af, b"s")
    b, bf = login(port, b"bob", b"bobpw")
    a.sendall(b"".join(b"q%d SEARCH BODY needle\r\n" % k for k in range(100)))
    time.sleep(0.05)
    times = []
    for k in range(20):
        tag = b"b%d" % k
        t = time.perf_counter()
        b.sendall(tag + b" NOOP\r\n")
        until_tag(bf, tag)
        times.append((time.perf_counter() - t) * 1000)
        time.sleep(0.02)
    t = time.perf_counter()
    until_tag(af, b"q99")
    print("NOOP of bob during alice's 100 SEARCH BODY over 20 MB: median %.2f ms, max %.2f ms;"
          " the searches took %.1f s more" % (statistics.median(times), max(times),
                                              time.perf_counter() - t))


if __name__ == "__main__":
    if sys.argv[1] == "split":
        split(int(sys.argv[2]))
    else:
        stall(int(sys.argv[2]), int(sys.argv[3]))
