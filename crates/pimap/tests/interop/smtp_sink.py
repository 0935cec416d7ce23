#!/usr/bin/python3
"""Loopback SMTP sink built on aiosmtpd (Debian package python3-aiosmtpd).

Every accepted message is written atomically as two files in --dir:
  NNNNNN.eml   the DATA bytes exactly as received (after SMTP dot-unstuffing,
               line endings untouched, no headers added)
  NNNNNN.json  envelope: mail_from, rcpt_tos, mail/rcpt options, peer, helo,
               auth login (if any), size, received_at
(.eml is renamed into place after .json, so a poller that waits for .eml sees both.)

Canned failures for testing error paths (by recipient local part):
  reject...@   -> 550 5.1.1 at RCPT      tempfail...@ -> 451 4.3.0 at RCPT
  and a message containing the header "X-Sink-Reject: yes" gets 554 at end of DATA.

Usage: smtp-sink.py --dir DIR [--host 127.0.0.1] [--port 10025] [--auth user:pass]
Started and stopped by tests/interop_gateway.rs (copied from the shared peers directory).
"""
import argparse
import itertools
import json
import os
import signal
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class SinkHandler:
    def __init__(self, outdir):
        self.outdir = outdir
        os.makedirs(outdir, exist_ok=True)
        existing = [int(f[:6]) for f in os.listdir(outdir) if f[:6].isdigit()]
        self.counter = itertools.count(max(existing, default=0) + 1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: Recipient address rejected (sink rule)" % address
        if local.startswith("tempfail"):
            return "451 4.3.0 <%s>: Temporary failure (sink rule)" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        head = data.split(b"\r\n\r\n", 1)[0].lower()
        if b"\nx-sink-reject: yes" in b"\n" + head:
            return "554 5.6.0 Message rejected (sink rule X-Sink-Reject)"
        n = next(self.counter)
        base = os.path.join(self.outdir, "%06d" % n)
        meta = {
            "id": n,
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "peer": list(session.peer) if session.peer else None,
            "helo": session.host_name,
            "auth_login": (session.auth_data.login.decode("utf-8", "replace")
                           if session.authenticated and isinstance(session.auth_data, LoginPassword) else None),
            "size": len(data),
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f, indent=1)
        os.rename(base + ".json.tmp", base + ".json")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".eml.tmp", base + ".eml")
        print("stored %s.eml from=%s to=%s size=%d" % (base, envelope.mail_from, envelope.rcpt_tos, len(data)),
              flush=True)
        return "250 2.0.0 OK queued as %06d" % n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=10025)
    p.add_argument("--auth", help="user:pass; advertise AUTH PLAIN LOGIN (no TLS needed) and accept only this")
    a = p.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("refusing non-loopback host %s" % a.host)

    kw = dict(hostname=a.host, port=a.port, enable_SMTPUTF8=True, ident="pimap-smtp-sink (aiosmtpd)",
              data_size_limit=64 * 1024 * 1024, decode_data=False)
    if a.auth:
        user, pw = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() \
                and auth_data.password == pw.encode()
            # handled=False: aiosmtpd sends 235/535 itself; auth_data ends up in session.auth_data
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        kw.update(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    ctl = Controller(SinkHandler(a.dir), **kw)
    ctl.start()
    print("smtp-sink listening on %s:%d, storing into %s" % (a.host, a.port, a.dir), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})  # blocked in all threads; wait here
    ctl.stop()
    print("smtp-sink stopped", flush=True)


if __name__ == "__main__":
    # block before the Controller thread starts so that only sigwait() receives them
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
