#!/usr/bin/env python3
"""RSS per idle P-IMAP device connection of a running examples/server (127.0.0.1 only).

  idle_rss.py <imap-port> <server-pid> <n> [--profile]

Opens n connections as alice#d<i> (XRESUME, LOGIN, SELECT INBOX, IDLE; with --profile also
XFILTER INBOX N ALL and PIMAP_INBAND_NEW_FORMAT (UID FLAGS)), then prints the server's VmRSS
growth per connection. Start the server with --per-user n (one account, many devices).
"""
import re
import socket
import sys
import time


def rss(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


def main():
    port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    profile = "--profile" in sys.argv[4:]
    before = rss(pid)
    conns = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = s.makefile("rb")
        f.readline()
        req = b"a0 XRESUME NONE\r\na1 LOGIN alice#d%d alicepw\r\n" % i
        if profile:
            req += b"ax XFILTER INBOX N ALL\r\nay XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS)\r\n"
        s.sendall(req + b"a2 SELECT INBOX\r\na3 IDLE\r\n")
        while True:
            line = f.readline()
            if not line:
                sys.exit("connection %d closed: is --per-user at least n?" % i)
            if line.startswith(b"+ "):
                break
        conns.append((s, f))
    time.sleep(1)
    after = rss(pid)
    print("%d idle device connections%s: RSS %d -> %d KiB, %.0f bytes each"
          % (n, " with a profile" if profile else "", before, after, (after - before) * 1024 / n))


if __name__ == "__main__":
    main()
