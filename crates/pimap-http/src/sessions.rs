//! Cookie sessions and persistent streams over the server: one P-IMAP session across many POSTs.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;

use pimap_server::blocking::Action;
use pimap_server::{ConnId, OsRandom, Output, RandomSource, Server};
use pimap_types::{ClientMessage, CommandBody, Tag};

use crate::*;

// ------------------------------------------------------------------------ sessions

/// Configuration of [`HttpSessions`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The draft whose status codes and content types are used (default 8).
    pub draft: u8,
    /// The cookie's `path` attribute (`/pimap`; `/lemonade` for -12).
    pub cookie_path: String,
    /// Sessions (cookies) plus persistent streams at most (default 1 000); a POST that
    /// would create one more is refused with 503.
    pub max_sessions: usize,
    /// A cookie session with no POST for this long is ended: its server connection is
    /// closed, and the device session waits in the server for resumption by device id
    /// (default 30 minutes).
    pub idle_expiry: Duration,
    /// Cookie sessions not (yet) logged in, at most (default 100). A POST that would create
    /// one more ends the longest-idle of them, so a flood of anonymous POSTs can neither
    /// fill [`max_sessions`](Self::max_sessions) nor lock out users who log in.
    pub max_anonymous_sessions: usize,
    /// A cookie session still not logged in after this long without a POST is ended
    /// (default 60 s).
    pub anonymous_expiry: Duration,
    /// Largest POST body (default 16 MiB).
    pub max_body: usize,
    /// Most commands per POST (default 128; the server's `max_pipelined` is 256).
    pub max_commands: usize,
    /// Output kept for a cookie session between two POSTs (pushes while idling; default
    /// 1 MiB). Beyond it the session is ended.
    pub max_pending_output: usize,
    /// Send the IMAP greeting on persistent streams (default `false`: the drafts' HTTP
    /// binding never shows it; non-persistent sessions never send it).
    pub persistent_greeting: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self::new(8)
    }
}

impl HttpConfig {
    /// Defaults for a draft.
    pub fn new(draft: u8) -> Self {
        Self {
            draft,
            cookie_path: if draft >= 12 { "/lemonade" } else { "/pimap" }.into(),
            max_sessions: 1000,
            idle_expiry: Duration::from_secs(30 * 60),
            max_anonymous_sessions: 100,
            anonymous_expiry: Duration::from_secs(60),
            max_body: 16 << 20,
            max_commands: 128,
            max_pending_output: 1 << 20,
            persistent_greeting: false,
        }
    }
}

/// Identifies one POST being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(pub u64);

/// A complete non-persistent response. `Debug` redacts the cookie and shows the body's size
/// only (it may carry a LOGIN's SESSIONID).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status ([`status_for`] of the configured draft, or a refusal's).
    pub status: u16,
    /// The `Content-Type` value.
    pub content_type: &'static str,
    /// The `Set-Cookie` value on the first response of a session
    /// (`JSESSIONID=<32 hex digits>; path=/pimap`).
    pub set_cookie: Option<String>,
    /// The IMAP responses (untagged and tagged), uncompressed.
    pub body: Vec<u8>,
    /// What happened, as used for the status.
    pub outcome: BatchOutcome,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field(
                "set_cookie",
                &self.set_cookie.as_ref().map(|_| "<redacted>"),
            )
            .field("body_len", &self.body.len())
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl HttpResponse {
    /// A plain HTTP/1.1 rendering (status line, `Content-Type`, `Content-Length`,
    /// `Set-Cookie`, `Content-Encoding: gzip` when `gzip`, empty line, body), for embedders
    /// that write HTTP themselves.
    pub fn to_http1(&self, gzip: bool) -> Vec<u8> {
        let (body, coding) = encode_body(&self.body, gzip);
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            body.len()
        );
        if let Some(c) = &self.set_cookie {
            out.push_str(&format!("Set-Cookie: {c}\r\n"));
        }
        if let Some(c) = coding {
            out.push_str(&format!("Content-Encoding: {c}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// What [`HttpSessions::post`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostResult {
    /// The body went to the server; the response comes as [`HttpEvent::Response`] with this
    /// id once the server's outputs have been driven.
    Accepted {
        /// The exchange.
        exchange: ExchangeId,
        /// The server connection of the session.
        conn: ConnId,
        /// A new session (and cookie) was created.
        new_session: bool,
    },
    /// Refused before reaching the server; answer with `response`.
    Rejected {
        /// Why.
        error: HttpError,
        /// The response to send (status from [`HttpError::status`], IMAP-style body).
        response: HttpResponse,
    },
}

/// Something for the HTTP layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpEvent {
    /// A POST is answered.
    Response {
        /// Which POST.
        exchange: ExchangeId,
        /// The response.
        response: HttpResponse,
    },
    /// Output on a persistent stream: one IMAP response per element (a line, literals
    /// included). Send each as one chunk ([`encode_chunk`], or one data frame of an HTTP
    /// library's streaming body).
    StreamData {
        /// The stream.
        stream: ConnId,
        /// The responses.
        messages: Vec<Bytes>,
    },
    /// The server closed a persistent stream (LOGOUT, autologout): end the chunked response
    /// ([`LAST_CHUNK`]).
    StreamEnd {
        /// The stream.
        stream: ConnId,
    },
}

/// A tag a POST waits for.
#[derive(Debug, Clone)]
struct Expect {
    tag: Tag,
    login: bool,
    logout: bool,
    cont: Awaiting,
}

#[derive(Debug)]
struct Exchange {
    id: ExchangeId,
    expected: VecDeque<Expect>,
    body: Vec<u8>,
    outcome: BatchOutcome,
}

#[derive(Debug)]
struct Session {
    conn: ConnId,
    last_active: Instant,
    authenticated: bool,
    /// The tag whose continuation the last response ended with.
    carry: Option<Expect>,
    exchange: Option<Exchange>,
    /// Output between two POSTs.
    pending: Vec<u8>,
    /// No response has been sent yet: the next one carries Set-Cookie.
    new: bool,
}

#[derive(Debug)]
enum Role {
    Cookie(String),
    Stream,
}

#[derive(Debug)]
struct ConnInfo {
    role: Role,
    /// The greeting (the first response) is still to be swallowed.
    greeting_left: bool,
    /// The start of a response whose rest comes in the next transmission (the server
    /// hands a large literal over as its own transmission).
    partial: Vec<u8>,
}

/// The server side of the HTTP binding over a sans-IO [`Server`]. See the
/// [module documentation](self) for the plumbing.
///
/// * **Non-persistent mode** ([`post`](Self::post)): one server connection per cookie. A
///   POST without a cookie, or with an unknown or expired one, gets a new connection (its
///   greeting is swallowed) and a new 128-bit cookie (`Set-Cookie: JSESSIONID=<hex>;
///   path=/pimap` on its first response). The cookie's life is bound to that server
///   connection: it ends when the server closes it (LOGOUT, autologout) or after
///   [`HttpConfig::idle_expiry`] without a POST; the P-IMAP device session itself survives
///   in the server and resumes by device id on the next LOGIN.
/// * **Persistent mode** ([`open_stream`](Self::open_stream)): one server connection per
///   long-lived chunked POST; its request payload goes to
///   [`stream_input`](Self::stream_input) as it arrives and its output comes back as
///   [`HttpEvent::StreamData`], one IMAP response per chunk.
pub struct HttpSessions {
    config: HttpConfig,
    rng: Box<dyn RandomSource>,
    sessions: HashMap<String, Session>,
    conns: HashMap<ConnId, ConnInfo>,
    events: VecDeque<HttpEvent>,
    /// Connections to close at the next call that has the server (overflowing sessions).
    doomed: Vec<ConnId>,
    next_exchange: u64,
    /// The latest `now` passed in (the due time of doomed connections).
    clock: Option<Instant>,
}

impl fmt::Debug for HttpSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSessions")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .field("connections", &self.conns.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// `value` as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `JSESSIONID` value of a `Cookie` header value (`a=b; JSESSIONID=v`); a header value
/// without any `=` is taken as the session id itself.
pub fn session_cookie(cookie_header: &str) -> Option<&str> {
    let h = cookie_header.trim();
    if !h.contains('=') {
        return (!h.is_empty()).then_some(h);
    }
    h.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(COOKIE_NAME)
            .then(|| v.trim().trim_matches('"'))
    })
}

impl HttpSessions {
    /// Sessions with cookies from the OS random source.
    pub fn new(config: HttpConfig) -> Self {
        Self::with_random(config, Box::new(OsRandom))
    }

    /// Sessions with cookies from `rng` (it must be cryptographically secure in production:
    /// a cookie is a bearer token).
    pub fn with_random(config: HttpConfig, rng: Box<dyn RandomSource>) -> Self {
        Self {
            config,
            rng,
            sessions: HashMap::new(),
            conns: HashMap::new(),
            events: VecDeque::new(),
            doomed: Vec::new(),
            next_exchange: 1,
            clock: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Live cookie sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Open persistent streams.
    pub fn stream_count(&self) -> usize {
        self.conns
            .values()
            .filter(|c| matches!(c.role, Role::Stream))
            .count()
    }

    /// Is this server connection one of ours?
    pub fn owns(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// The server connection of a cookie session.
    pub fn session_conn(&self, cookie: &str) -> Option<ConnId> {
        self.sessions.get(cookie).map(|s| s.conn)
    }

    fn new_cookie(&mut self) -> String {
        loop {
            let mut raw = [0u8; 16];
            self.rng.fill(&mut raw);
            let c = hex(&raw);
            if !self.sessions.contains_key(&c) {
                return c;
            }
        }
    }

    fn reject(&self, error: HttpError) -> PostResult {
        let response = HttpResponse {
            status: error.status(),
            content_type: response_content_type(self.config.draft),
            set_cookie: None,
            body: error.imap_body(),
            outcome: BatchOutcome {
                any_bad: true,
                ..BatchOutcome::default()
            },
        };
        PostResult::Rejected { error, response }
    }

    /// Close connections of sessions that overflowed.
    fn reap(&mut self, server: &mut Server, now: Instant) {
        self.clock = Some(self.clock.map_or(now, |c| c.max(now)));
        for conn in std::mem::take(&mut self.doomed) {
            server.handle_close(conn, now);
        }
    }

    /// A non-persistent POST: `cookie_header` is the request's `Cookie` header value (or the
    /// bare session id), `body` its (decoded) body. Creates a session when the cookie is
    /// missing or unknown, checks the body ([`parse_request_body`] rules; a command with a
    /// known tag that fails to decode is left to the server, which answers `tag BAD`), and
    /// feeds it to the session's server connection. Then drive the server's outputs through
    /// [`handle_output`](Self::handle_output) / [`handle_action`](Self::handle_action)
    /// and answer its requests; the response arrives as [`HttpEvent::Response`].
    pub fn post(
        &mut self,
        server: &mut Server,
        cookie_header: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> PostResult {
        self.reap(server, now);
        let existing = cookie_header
            .and_then(session_cookie)
            .filter(|c| self.sessions.contains_key(*c))
            .map(str::to_string);
        let mut awaiting = Awaiting::Nothing;
        if let Some(s) = existing.as_ref().and_then(|c| self.sessions.get(c)) {
            if s.exchange.is_some() {
                return self.reject(HttpError::SessionBusy);
            }
            awaiting = s.carry.as_ref().map_or(Awaiting::Nothing, |e| e.cont);
        }
        let opts = BodyOptions {
            max_body: self.config.max_body,
            max_commands: self.config.max_commands,
            decoder: server.config().decoder,
            awaiting,
        };
        let items = match scan(body, &opts) {
            Ok(items) => items,
            Err(e) => return self.reject(e),
        };
        let mut expected: VecDeque<Expect> = items
            .iter()
            .filter_map(|(item, _)| match item {
                Item::Msg(ClientMessage::Command(cmd)) => Some(Expect {
                    tag: cmd.tag.clone(),
                    login: matches!(
                        cmd.body,
                        CommandBody::Login { .. } | CommandBody::Authenticate { .. }
                    ),
                    logout: matches!(cmd.body, CommandBody::Logout),
                    cont: match cmd.body {
                        CommandBody::Idle => Awaiting::Done,
                        CommandBody::Authenticate {
                            initial_response: None,
                            ..
                        } => Awaiting::AuthData,
                        _ => Awaiting::Nothing,
                    },
                }),
                Item::Bad(tag) => Some(Expect {
                    tag: tag.clone(),
                    login: false,
                    logout: false,
                    cont: Awaiting::Nothing,
                }),
                _ => None,
            })
            .collect();

        let (cookie, conn, new_session) = match existing {
            Some(c) => {
                let conn = self.sessions.get(&c).map_or(ConnId(0), |s| s.conn);
                (c, conn, false)
            }
            None => {
                self.make_room_for_anonymous(server, now);
                if self.conns.len() >= self.config.max_sessions {
                    let limit = self.config.max_sessions;
                    return self.reject(HttpError::TooManySessions { limit });
                }
                let conn = match server.accept(now) {
                    Ok(c) => c,
                    Err(e) => return self.reject(HttpError::Server(e)),
                };
                let cookie = self.new_cookie();
                self.conns.insert(
                    conn,
                    ConnInfo {
                        role: Role::Cookie(cookie.clone()),
                        greeting_left: true,
                        partial: Vec::new(),
                    },
                );
                self.sessions.insert(
                    cookie.clone(),
                    Session {
                        conn,
                        last_active: now,
                        authenticated: false,
                        carry: None,
                        exchange: None,
                        pending: Vec::new(),
                        new: true,
                    },
                );
                (cookie, conn, true)
            }
        };
        let id = ExchangeId(self.next_exchange);
        self.next_exchange += 1;
        let Some(s) = self.sessions.get_mut(&cookie) else {
            return self.reject(HttpError::EmptyBody);
        };
        // Any input ends IDLE and is AUTHENTICATE's data: the carried tag completes now.
        if let Some(c) = s.carry.take() {
            expected.push_front(c);
        }
        s.last_active = now;
        s.exchange = Some(Exchange {
            id,
            expected,
            body: std::mem::take(&mut s.pending),
            outcome: BatchOutcome::default(),
        });
        if let Err(e) = server.handle_input(conn, body, now) {
            // The server no longer knows the connection: the session is gone.
            self.sessions.remove(&cookie);
            self.conns.remove(&conn);
            return self.reject(HttpError::Server(e));
        }
        PostResult::Accepted {
            exchange: id,
            conn,
            new_session,
        }
    }

    /// Open a persistent stream (a long-lived chunked POST): a new server connection whose
    /// greeting is swallowed unless [`HttpConfig::persistent_greeting`] is set.
    pub fn open_stream(&mut self, server: &mut Server, now: Instant) -> Result<ConnId, HttpError> {
        self.reap(server, now);
        if self.conns.len() >= self.config.max_sessions {
            return Err(HttpError::TooManySessions {
                limit: self.config.max_sessions,
            });
        }
        let conn = server.accept(now)?;
        self.conns.insert(
            conn,
            ConnInfo {
                role: Role::Stream,
                greeting_left: !self.config.persistent_greeting,
                partial: Vec::new(),
            },
        );
        Ok(conn)
    }

    /// Payload bytes of a persistent stream's request body (after chunked decoding by the
    /// HTTP stack or a [`ChunkedDecoder`]), in any pieces.
    pub fn stream_input(
        &mut self,
        server: &mut Server,
        stream: ConnId,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), HttpError> {
        if !matches!(
            self.conns.get(&stream),
            Some(ConnInfo {
                role: Role::Stream,
                ..
            })
        ) {
            return Err(HttpError::UnknownStream(stream));
        }
        server.handle_input(stream, payload, now)?;
        Ok(())
    }

    /// The client ended a persistent stream (its request body ended, or the HTTP connection
    /// broke): the server connection is closed; the device session stays in the server for
    /// resumption.
    pub fn close_stream(&mut self, server: &mut Server, stream: ConnId, now: Instant) {
        if matches!(
            self.conns.get(&stream),
            Some(ConnInfo {
                role: Role::Stream,
                ..
            })
        ) {
            self.conns.remove(&stream);
            server.handle_close(stream, now);
        }
    }

    /// Route one server output: `Transmit` and `Close` of our connections are consumed
    /// (`None`); everything else (requests, notifications, other connections' bytes) is
    /// returned for the caller.
    pub fn handle_output(&mut self, output: Output) -> Option<Output> {
        match output {
            Output::Transmit { conn, data } => {
                if self.on_transmit(conn, &data) {
                    None
                } else {
                    Some(Output::Transmit { conn, data })
                }
            }
            Output::Close { conn } => {
                if self.on_close(conn) {
                    None
                } else {
                    Some(Output::Close { conn })
                }
            }
            other => Some(other),
        }
    }

    /// [`handle_output`](Self::handle_output) for [`blocking::Driver`](pimap_server::blocking::Driver)
    /// users, whose `run` answers requests and returns transport [`Action`]s.
    pub fn handle_action(&mut self, action: Action) -> Option<Action> {
        match action {
            Action::Transmit(conn, data) => {
                (!self.on_transmit(conn, &data)).then_some(Action::Transmit(conn, data))
            }
            Action::Close(conn) => (!self.on_close(conn)).then_some(Action::Close(conn)),
            other => Some(other),
        }
    }

    /// Bytes the server transmits on `conn`. Returns `false` (and does nothing) when the
    /// connection is not ours. A response may span transmissions (a large literal comes as
    /// its own); its start is kept until the rest arrives, so each message handed on is a
    /// whole response.
    pub fn on_transmit(&mut self, conn: ConnId, data: &[u8]) -> bool {
        let Some(info) = self.conns.get_mut(&conn) else {
            return false;
        };
        let joined;
        let data = if info.partial.is_empty() {
            data
        } else {
            info.partial.extend_from_slice(data);
            joined = std::mem::take(&mut info.partial);
            &joined[..]
        };
        let (messages, rest) = split_messages(data);
        info.partial = rest.to_vec();
        let mut messages: Vec<&[u8]> = messages;
        if info.greeting_left && !messages.is_empty() {
            info.greeting_left = false;
            messages.remove(0);
        }
        match &info.role {
            Role::Stream => {
                if !messages.is_empty() {
                    self.events.push_back(HttpEvent::StreamData {
                        stream: conn,
                        messages: messages.into_iter().map(Bytes::copy_from_slice).collect(),
                    });
                }
            }
            Role::Cookie(cookie) => {
                let cookie = cookie.clone();
                for m in messages {
                    self.session_output(&cookie, m);
                }
            }
        }
        true
    }

    /// The server closed `conn`. Returns `false` when it is not ours.
    pub fn on_close(&mut self, conn: ConnId) -> bool {
        let Some(info) = self.conns.remove(&conn) else {
            return false;
        };
        match info.role {
            Role::Stream => self.events.push_back(HttpEvent::StreamEnd { stream: conn }),
            Role::Cookie(cookie) => {
                if let Some(mut s) = self.sessions.remove(&cookie) {
                    s.authenticated = false;
                    if let Some(mut ex) = s.exchange.take() {
                        ex.outcome.internal_error |= !ex.expected.is_empty();
                        self.finish(None, &mut s, ex);
                    }
                }
            }
        }
        true
    }

    /// One response of a cookie session's connection.
    fn session_output(&mut self, cookie: &str, msg: &[u8]) {
        let Some(mut s) = self.sessions.remove(cookie) else {
            return;
        };
        let keep = self.session_output_inner(cookie, &mut s, msg);
        if keep {
            self.sessions.insert(cookie.to_string(), s);
        } else {
            self.conns.remove(&s.conn);
            self.doomed.push(s.conn);
        }
    }

    /// Returns `false` when the session must end (pending output overflow).
    fn session_output_inner(&mut self, cookie: &str, s: &mut Session, msg: &[u8]) -> bool {
        let Some(mut ex) = s.exchange.take() else {
            s.pending.extend_from_slice(msg);
            return s.pending.len() <= self.config.max_pending_output;
        };
        ex.body.extend_from_slice(msg);
        let mut words = msg.split(|&b| b == b' ' || b == b'\r' || b == b'\n');
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        if first == b"+" {
            if ex.expected.len() == 1
                && ex
                    .expected
                    .front()
                    .is_some_and(|e| e.cont != Awaiting::Nothing)
            {
                ex.outcome.continuation_pending = true;
                s.carry = ex.expected.pop_front();
            }
        } else if first == b"*" {
            if second.eq_ignore_ascii_case(b"BYE") {
                s.authenticated = false;
            }
        } else if let Some(pos) = ex.expected.iter().position(|e| e.tag.as_bytes() == first) {
            let done = ex.expected.remove(pos);
            let ok = second.eq_ignore_ascii_case(b"OK");
            ex.outcome.any_bad |= second.eq_ignore_ascii_case(b"BAD");
            ex.outcome.any_no |= second.eq_ignore_ascii_case(b"NO");
            if let Some(e) = done {
                if e.login && ok {
                    s.authenticated = true;
                }
                if e.logout {
                    s.authenticated = false;
                }
            }
        }
        if ex.expected.is_empty() {
            self.finish(Some(cookie), s, ex);
        } else {
            s.exchange = Some(ex);
        }
        true
    }

    /// Emit the response of a finished exchange; `cookie` is the session's when it lives on.
    fn finish(&mut self, cookie: Option<&str>, s: &mut Session, mut ex: Exchange) {
        ex.outcome.authenticated = s.authenticated;
        let set_cookie = match cookie {
            Some(c) if s.new => {
                s.new = false;
                Some(format!(
                    "{COOKIE_NAME}={c}; path={}",
                    self.config.cookie_path
                ))
            }
            _ => None,
        };
        let response = HttpResponse {
            status: status_for(self.config.draft, &ex.outcome),
            content_type: response_content_type(self.config.draft),
            set_cookie,
            body: ex.body,
            outcome: ex.outcome,
        };
        self.events.push_back(HttpEvent::Response {
            exchange: ex.id,
            response,
        });
    }

    /// The next event to act on.
    #[must_use = "events must be drained"]
    pub fn poll_event(&mut self) -> Option<HttpEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the earliest
    /// idle expiry of a cookie session (now, when a session must be closed).
    #[must_use = "the caller must arrange to call handle_timeout then"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self
            .sessions
            .values()
            .filter(|s| s.exchange.is_none())
            .map(|s| {
                let limit = if s.authenticated {
                    self.config.idle_expiry
                } else {
                    self.config.anonymous_expiry
                };
                s.last_active + limit
            })
            .min();
        if self.doomed.is_empty() {
            expiry
        } else {
            self.clock.or(expiry)
        }
    }

    /// Anonymous (not logged in) cookie sessions: keep them under
    /// [`HttpConfig::max_anonymous_sessions`] by ending the longest-idle one.
    fn make_room_for_anonymous(&mut self, server: &mut Server, now: Instant) {
        let anonymous = self.sessions.values().filter(|s| !s.authenticated).count();
        if anonymous < self.config.max_anonymous_sessions {
            return;
        }
        let oldest = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.authenticated && s.exchange.is_none())
            .min_by_key(|(_, s)| s.last_active)
            .map(|(k, _)| k.clone());
        if let Some(s) = oldest.and_then(|k| self.sessions.remove(&k)) {
            self.conns.remove(&s.conn);
            server.handle_close(s.conn, now);
        }
    }

    /// Does this `Cookie` header name a logged-in session? (A front end can allow such
    /// requests larger bodies than anonymous ones.)
    pub fn is_authenticated(&self, cookie_header: Option<&str>) -> bool {
        cookie_header
            .and_then(session_cookie)
            .and_then(|c| self.sessions.get(c))
            .is_some_and(|s| s.authenticated)
    }

    /// Cookie sessions now (for monitoring): all, and those not logged in.
    pub fn session_counts(&self) -> (usize, usize) {
        let anonymous = self.sessions.values().filter(|s| !s.authenticated).count();
        (self.sessions.len(), anonymous)
    }

    /// End cookie sessions idle for [`HttpConfig::idle_expiry`] (or, not logged in, for
    /// [`HttpConfig::anonymous_expiry`]; their server connections are closed; the device
    /// sessions stay in the server for resumption) and close the connections of sessions
    /// that overflowed.
    pub fn handle_timeout(&mut self, server: &mut Server, now: Instant) {
        self.reap(server, now);
        let idle = self.config.idle_expiry;
        let anon = self.config.anonymous_expiry;
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                let limit = if s.authenticated { idle } else { anon };
                s.exchange.is_none() && now.saturating_duration_since(s.last_active) >= limit
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            if let Some(s) = self.sessions.remove(&k) {
                self.conns.remove(&s.conn);
                server.handle_close(s.conn, now);
            }
        }
    }
}
