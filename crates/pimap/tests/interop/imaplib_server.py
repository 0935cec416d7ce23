#!/usr/bin/env python3
"""imaplib against the pimap example server (examples/server.rs).

Usage: python3 tests/interop/imaplib_server.py <imap-port> <inject-port>

Runs one session as alice (password alicepw) over 127.0.0.1: LIST, SELECT INBOX, FETCH,
STORE, SEARCH, APPEND, COPY, EXPUNGE, then IDLE while a message is delivered through the
example's inject port. Every step prints `PASS <step>`; the first failure prints
`FAIL <step>: <why>` and exits 1. Standard library only; every socket has a 10 s timeout.
"""

import imaplib
import re
import socket
import sys
import threading
import time
import traceback

HOST = "127.0.0.1"
TIMEOUT = 10.0
USER, PASSWORD = "alice", "alicepw"
SUBJECT_1 = b"Welcome to the pimap demo server"

APPENDED = (
    b"From: Carol <carol@example.org>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: appended by imaplib\r\n"
    b"Date: Wed, 03 Jan 2024 12:00:00 +0000\r\n"
    b"Message-ID: <appended-imaplib@example.org>\r\n"
    b"\r\n"
    b"This one was appended.\r\n"
)

INJECTED = (
    b"From: Dave <dave@example.org>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: injected while idling\r\n"
    b"Date: Thu, 04 Jan 2024 08:00:00 +0000\r\n"
    b"Message-ID: <injected-idle@example.org>\r\n"
    b"\r\n"
    b"New mail for an IDLE session.\r\n"
)


class Failure(Exception):
    pass


STEP = ["start"]


def step(name):
    STEP[0] = name


def check(cond, why):
    if not cond:
        raise Failure(why)


def ok(name):
    print("PASS " + name, flush=True)


def flat(data):
    """imaplib response data (bytes and (header, literal) tuples) as one bytes string."""
    out = []
    for d in data:
        if d is None:
            continue
        if isinstance(d, tuple):
            out.extend(x for x in d if isinstance(x, bytes))
        else:
            out.append(d)
    return b"\n".join(out)


def expect_ok(res, what):
    typ, data = res
    check(typ == "OK", "%s: %s %r" % (what, typ, data))
    return data


def inject(port, user, mailbox, message):
    """Deliver a message through the example's inject port; returns the UID."""
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as s:
        s.settimeout(TIMEOUT)
        s.sendall(b"INJECT %s %s %d\r\n" % (user.encode(), mailbox.encode(), len(message)))
        s.sendall(message)
        line = b""
        while not line.endswith(b"\n"):
            chunk = s.recv(1)
            if not chunk:
                break
            line += chunk
    m = re.match(rb"OK (\d+)\r?\n$", line)
    if not m:
        raise Failure("inject answered %r" % line)
    return int(m.group(1))


def run(port, inject_port):
    step("connect")
    M = imaplib.IMAP4(HOST, port, timeout=TIMEOUT)
    check("IDLE" in M.capabilities, "no IDLE in capabilities %r" % (M.capabilities,))
    ok("connect (greeting, capabilities %s)" % " ".join(M.capabilities))

    step("login")
    expect_ok(M.login(USER, PASSWORD), "LOGIN")
    ok("login")

    step("list")
    data = flat(expect_ok(M.list(), "LIST"))
    check(re.search(rb'(?m)\) "?[^ ]*"? "?INBOX"?$', data), "no INBOX in LIST: %r" % data)
    check(re.search(rb'(?m) "?Sent"?$', data), "no Sent in LIST: %r" % data)
    ok("list")

    step("select")
    data = expect_ok(M.select("INBOX"), "SELECT")
    check(data == [b"2"], "SELECT INBOX: expected 2 messages, got %r" % data)
    uidv = M.untagged_responses.get("UIDVALIDITY", [None])[-1]
    check(uidv is not None, "no UIDVALIDITY after SELECT")
    ok("select (2 messages, UIDVALIDITY %s)" % uidv.decode())

    step("fetch 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")
    data = expect_ok(M.fetch("1:*", "(FLAGS ENVELOPE BODYSTRUCTURE)"), "FETCH")
    text = flat(data)
    check(text.count(b"ENVELOPE") == 2, "expected 2 ENVELOPEs: %r" % text)
    check(text.count(b"BODYSTRUCTURE") == 2, "expected 2 BODYSTRUCTUREs: %r" % text)
    check(SUBJECT_1 in text, "subject of message 1 missing: %r" % text)
    check(b"\\Seen" in text, "message 1 should be \\Seen: %r" % text)
    check(re.search(rb'(?i)"MIXED"', text), "multipart/mixed BODYSTRUCTURE missing: %r" % text)
    check(re.search(rb'(?i)"report\.bin"', text), "attachment name missing: %r" % text)
    ok("fetch 1:* (FLAGS ENVELOPE BODYSTRUCTURE)")

    step("fetch 1 body[]")
    data = expect_ok(M.fetch("1", "(BODY[])"), "FETCH BODY[]")
    lits = [d[1] for d in data if isinstance(d, tuple)]
    check(len(lits) == 1, "expected one literal: %r" % data)
    check(b"Subject: " + SUBJECT_1 in lits[0], "body of message 1: %r" % lits[0][:200])
    check(lits[0].endswith(b"\r\n"), "body does not end with CRLF")
    ok("fetch 1 body[] (%d octets)" % len(lits[0]))

    step("store +flags (\\Flagged)")
    data = expect_ok(M.store("2", "+FLAGS", "(\\Flagged)"), "STORE")
    text = flat(data)
    check(re.search(rb"^2 \(.*FLAGS \([^)]*\\Flagged", text), "untagged FETCH: %r" % text)
    ok("store +flags (\\Flagged) (untagged %s)" % text.decode(errors="replace"))

    step("search flagged")
    data = expect_ok(M.search(None, "FLAGGED"), "SEARCH")
    check(data == [b"2"], "SEARCH FLAGGED: %r" % data)
    ok("search flagged")

    step("append")
    typ, data = M.append("INBOX", None, None, APPENDED)
    check(typ == "OK", "APPEND: %s %r" % (typ, data))
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", flat(data))
    check(m, "no APPENDUID in %r" % data)
    check(m.group(1) == uidv, "APPENDUID validity %r != %r" % (m.group(1), uidv))
    appended_uid = int(m.group(2))
    # The new message is number 3 of the selected INBOX (its EXISTS came with the APPEND
    # or comes with this FETCH).
    data = expect_ok(M.fetch("3", "(UID)"), "FETCH 3 (UID)")
    check(
        re.search(rb"UID %d\b" % appended_uid, flat(data)),
        "message 3 is not UID %d: %r" % (appended_uid, data),
    )
    ok("append (APPENDUID %s %d)" % (uidv.decode(), appended_uid))

    step("copy to Sent")
    typ, data = M.copy("1", "Sent")
    check(typ == "OK", "COPY: %s %r" % (typ, data))
    m = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", flat(data))
    check(m, "no COPYUID in %r" % data)
    typ, data = M.status("Sent", "(MESSAGES)")
    check(typ == "OK" and re.search(rb"MESSAGES 1\b", flat(data)), "STATUS Sent: %r" % data)
    ok("copy to Sent (COPYUID %s)" % " ".join(g.decode() for g in m.groups()))

    step("store \\Deleted + expunge")
    expect_ok(M.store("3", "+FLAGS", "(\\Deleted)"), "STORE \\Deleted")
    typ, data = M.expunge()
    check(typ == "OK", "EXPUNGE: %s %r" % (typ, data))
    check(data == [b"3"], "expected * 3 EXPUNGE, got %r" % data)
    data = expect_ok(M.search(None, "ALL"), "SEARCH ALL")
    check(data == [b"1 2"], "after EXPUNGE SEARCH ALL: %r" % data)
    ok("store \\Deleted + expunge (* 3 EXPUNGE)")

    step("idle")
    sock = M.socket()
    sock.settimeout(TIMEOUT)
    M.send(b"a9 IDLE\r\n")
    line = M.readline()
    check(line.startswith(b"+"), "IDLE continuation: %r" % line)

    result = {}

    def deliver():
        try:
            result["uid"] = inject(inject_port, USER, "INBOX", INJECTED)
        except Exception as e:  # reported by the main thread
            result["error"] = repr(e)

    t = threading.Thread(target=deliver, daemon=True)
    t.start()
    deadline = time.monotonic() + TIMEOUT
    seen = []
    exists = None
    while time.monotonic() < deadline:
        try:
            line = M.readline()
        except socket.timeout:
            break
        if not line:
            raise Failure("connection closed during IDLE; seen %r" % seen)
        seen.append(line)
        m = re.match(rb"\* (\d+) EXISTS\r\n$", line)
        if m:
            exists = int(m.group(1))
            break
    t.join(TIMEOUT)
    check("error" not in result, "inject failed: %s" % result.get("error"))
    check("uid" in result, "inject did not answer")
    check(exists == 3, "expected * 3 EXISTS during IDLE, got %r" % seen)
    ok("idle (* 3 EXISTS after inject, uid %d)" % result["uid"])

    step("done")
    M.send(b"DONE\r\n")
    deadline = time.monotonic() + TIMEOUT
    while True:
        check(time.monotonic() < deadline, "no tagged OK for IDLE")
        line = M.readline()
        check(line, "connection closed after DONE")
        if line.startswith(b"a9 "):
            check(line.startswith(b"a9 OK"), "IDLE completed with %r" % line)
            break
        check(line.startswith(b"* "), "unexpected line after DONE: %r" % line)
    ok("done (%s)" % line.decode(errors="replace").strip())

    step("fetch injected")
    data = expect_ok(M.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "FETCH 3")
    check(b"injected while idling" in flat(data), "injected message: %r" % data)
    ok("fetch injected")

    step("logout")
    typ, data = M.logout()
    check(typ == "BYE", "LOGOUT: %s %r" % (typ, data))
    ok("logout")


def main():
    if len(sys.argv) != 3:
        print("usage: imaplib_server.py <imap-port> <inject-port>", file=sys.stderr)
        return 2
    socket.setdefaulttimeout(TIMEOUT)
    port, inject_port = int(sys.argv[1]), int(sys.argv[2])
    try:
        run(port, inject_port)
    except Failure as e:
        print("FAIL %s: %s" % (STEP[0], e), flush=True)
        return 1
    except Exception as e:
        traceback.print_exc()
        print("FAIL %s: %s: %s" % (STEP[0], type(e).__name__, e), flush=True)
        return 1
    print("all imaplib steps passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
