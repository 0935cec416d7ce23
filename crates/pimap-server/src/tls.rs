//! STARTTLS (RFC 3501 6.2.1, RFC 2595) and LOGINDISABLED: the protocol half. The caller owns
//! the transport: after [`Output::StartTls`] it runs the TLS handshake and reports it with
//! [`Server::secured`] (or closes the connection if it failed).

use pimap_types::{Atom, Code, Tag};

use crate::output::{ConnId, Output};
use crate::server::{ConnState, Server};

impl Server {
    /// `STARTTLS`: answered only before login, on a plaintext connection, without COMPRESS,
    /// when [`ServerConfig::starttls`](crate::ServerConfig::starttls) is on. Input pipelined
    /// after the command (already read or decoded) is discarded: it arrived in plaintext and
    /// must not be executed as if it had come over TLS (the STARTTLS command injection of
    /// CVE-2011-0411).
    pub(crate) fn starttls(&mut self, conn: ConnId, tag: Tag, state: ConnState) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if !self.config.starttls {
            return self.bad(conn, tag, "STARTTLS is not offered");
        }
        if c.secure {
            return self.bad(conn, tag, "TLS is already active");
        }
        if state != ConnState::NotAuthenticated {
            return self.bad(conn, tag, "STARTTLS is only valid before login");
        }
        if c.deflate.is_some() {
            return self.bad(conn, tag, "STARTTLS after COMPRESS is not allowed");
        }
        let options = self.preauth_decoder_options();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.work.clear();
            c.decoder = pimap_codec::CommandDecoder::new(options);
        }
        self.ok(conn, tag, None, "Begin TLS negotiation now");
        self.flush_conn(conn);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.tls_pending = true;
        }
        self.out.push_back(Output::StartTls { conn });
    }

    /// LOGIN and AUTHENTICATE are refused on a plaintext connection when
    /// [`ServerConfig::login_requires_tls`](crate::ServerConfig::login_requires_tls) is on.
    pub(crate) fn login_disabled(&self, conn: ConnId) -> bool {
        self.config.login_requires_tls && self.conns.get(&conn).is_some_and(|c| !c.secure)
    }

    /// `NO [PRIVACYREQUIRED]` (RFC 5530) for a login attempt over plaintext.
    pub(crate) fn privacy_required(&mut self, conn: ConnId, tag: Tag) {
        let code = Atom::new(&b"PRIVACYREQUIRED"[..])
            .ok()
            .map(|name| Code::Other { name, args: None });
        self.status(
            conn,
            Some(tag),
            pimap_types::Status::No,
            code,
            "Log in over TLS (STARTTLS first)",
        );
    }
}
