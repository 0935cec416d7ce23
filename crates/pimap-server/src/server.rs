//! The [`Server`] state machine: connections, device sessions, event fan-out and timers.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use pimap_codec::CommandDecoder;
use pimap_types::{Code, Continuation, Data, Mailbox, Response, Status, StatusResponse, Tag};

use super::change::MailboxChange;
use super::config::ServerConfig;
pub(crate) use super::connection::{Busy, Conn, ConnState, Inner, Work};
use super::connection::{ReadStep, IDLE_BUFFER};
use super::filter::SearchClock;
use super::output::{ConnId, Notification, Output};
use super::profile::{folder_key, MemoryPersistence, Persistence};
use super::random::{OsRandom, RandomSource};
use super::request::{Reply, Request, RequestId};
use super::session::{Class, FolderEvent, QueuedEvent, Session};

/// Errors of the server's API (protocol errors never surface here: they become BAD/NO
/// responses on the connection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The connection id is not (or no longer) known.
    #[error("unknown connection {0:?}")]
    UnknownConnection(ConnId),
    /// The request id is not (or no longer) outstanding.
    #[error("unknown request {0:?}")]
    UnknownRequest(RequestId),
    /// `max_connections` reached.
    #[error("connection limit ({0}) reached")]
    TooManyConnections(usize),
    /// `max_unauthenticated` reached.
    #[error("limit of connections not yet logged in ({0}) reached")]
    TooManyUnauthenticated(usize),
    /// `max_connections_per_address` reached for this address.
    #[error("connection limit per address reached for {0}")]
    TooManyFromAddress(std::net::IpAddr),
    /// [`Server::complete`] got a reply of the wrong kind for its request (for example
    /// `Reply::Ok` for a SELECT). The client was answered `NO [SERVERBUG]`; this is a bug in
    /// the store.
    #[error("request {id:?} needs a {expected} reply, got {got}")]
    UnexpectedReply {
        /// The request.
        id: RequestId,
        /// The reply kinds that answer it.
        expected: &'static str,
        /// The kind that came.
        got: &'static str,
    },
}

/// The sans-IO P-IMAP server. See the [module documentation](super).
pub struct Server {
    pub(crate) config: ServerConfig,
    pub(crate) rng: Box<dyn RandomSource>,
    pub(crate) persistence: Box<dyn Persistence>,
    pub(crate) conns: HashMap<ConnId, Conn>,
    pub(crate) sessions: HashMap<u64, Session>,
    pub(crate) registry: HashMap<(Bytes, Bytes), u64>,
    pub(crate) by_user: HashMap<Bytes, Vec<u64>>,
    /// Per (user, folder key): the highest UID a session has been given as `\Recent`
    /// (kept while the user has sessions), so no message is recent in two sessions.
    pub(crate) recent_claimed: HashMap<(Bytes, Bytes), u32>,
    pub(crate) requests: HashMap<RequestId, (ConnId, super::commands::Pending)>,
    pub(crate) out: VecDeque<Output>,
    pub(crate) dirty: Vec<ConnId>,
    next_conn: u64,
    next_session: u64,
    next_request: u64,
    pub(crate) clock: SearchClock,
    next_sweep: Option<Instant>,
    pub(crate) cipher: Option<Box<dyn super::CipherProvider>>,
    by_addr: HashMap<std::net::IpAddr, usize>,
    unauthenticated: usize,
    buffered_total: usize,
    unsent_total: u64,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("connections", &self.conns.len())
            .field("sessions", &self.sessions.len())
            .field("requests", &self.requests.len())
            .finish_non_exhaustive()
    }
}

/// How often timers are checked (session expiry and autologout have this granularity).
const SWEEP: Duration = Duration::from_secs(30);

/// RFC 5530 `[LIMIT]`.
pub(crate) fn limit_code() -> Option<Code> {
    pimap_types::Atom::new(&b"LIMIT"[..])
        .ok()
        .map(|name| Code::Other { name, args: None })
}

/// RFC 5530 `[UNAVAILABLE]`.
pub(crate) fn unavailable_code() -> Option<Code> {
    pimap_types::Atom::new(&b"UNAVAILABLE"[..])
        .ok()
        .map(|name| Code::Other { name, args: None })
}

impl Server {
    /// A server with the OS random source and in-memory profile persistence.
    pub fn new(config: ServerConfig) -> Self {
        Self::with_parts(
            config,
            Box::new(OsRandom),
            Box::new(MemoryPersistence::new()),
        )
    }

    /// A server with an explicit random source (seed it for deterministic tests) and
    /// profile persistence.
    pub fn with_parts(
        config: ServerConfig,
        rng: Box<dyn RandomSource>,
        persistence: Box<dyn Persistence>,
    ) -> Self {
        Self {
            config,
            rng,
            persistence,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            registry: HashMap::new(),
            by_user: HashMap::new(),
            recent_claimed: HashMap::new(),
            requests: HashMap::new(),
            out: VecDeque::new(),
            dirty: Vec::new(),
            next_conn: 1,
            next_session: 1,
            next_request: 1,
            clock: SearchClock::from_unix(0),
            next_sweep: None,
            cipher: None,
            by_addr: HashMap::new(),
            unauthenticated: 0,
            buffered_total: 0,
            unsent_total: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Set the wall clock (Unix seconds, UTC): used for DAYSBEFORETODAY / YOUNGER / OLDER
    /// filters and notification timestamps. Call it whenever convenient (e.g. once per loop
    /// iteration); the server never reads a clock itself.
    pub fn set_unix_time(&mut self, now_unix: i64) {
        self.clock = SearchClock::from_unix(now_unix);
    }

    /// Install the provider of per-device payload ciphers for out-of-band notifications and
    /// HELLO (spec §7.5, §7.6).
    pub fn set_cipher_provider(&mut self, provider: Box<dyn super::CipherProvider>) {
        self.cipher = Some(provider);
    }

    /// A new connection: the greeting is queued for transmission. See
    /// [`accept_from`](Self::accept_from) to apply the per-address limit too.
    pub fn accept(&mut self, now: Instant) -> Result<ConnId, ServerError> {
        self.accept_inner(now, None, false)
    }

    /// A new connection whose transport is already protected by TLS (implicit TLS, port
    /// 993 style): STARTTLS is not offered on it and LOGIN is allowed under
    /// [`ServerConfig::login_requires_tls`]. `addr` as for [`Server::accept_from`].
    pub fn accept_secure(
        &mut self,
        now: Instant,
        addr: Option<std::net::IpAddr>,
    ) -> Result<ConnId, ServerError> {
        self.accept_inner(now, addr, true)
    }

    /// The TLS handshake the caller ran after [`Output::StartTls`] succeeded: the
    /// connection is secure from now on and reads input again (the client starts over with
    /// CAPABILITY, RFC 3501 6.2.1). If the handshake failed, close the connection instead.
    pub fn secured(&mut self, conn: ConnId) -> Result<(), ServerError> {
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or(ServerError::UnknownConnection(conn))?;
        c.secure = true;
        c.tls_pending = false;
        Ok(())
    }

    /// Is `name` among the configured capabilities (case-insensitive)?
    pub fn offers(&self, name: &str) -> bool {
        self.config.capabilities.iter().any(|c| c.is(name))
    }

    /// Stop advertising (and serving, where the server checks it) a capability, for what the
    /// caller did not plug in: [`blocking::Driver::new`](crate::blocking::Driver::new) and
    /// the runtime withdraw `XDELIVER` when the submitter cannot submit. Connections open
    /// already keep what their greeting said, and are answered NO.
    pub fn withdraw_capability(&mut self, name: &str) {
        self.config.capabilities.retain(|c| !c.is(name));
    }

    /// The capabilities a connection is offered now: the configured ones, plus `STARTTLS`
    /// before login on a plaintext connection when [`ServerConfig::starttls`] is on, plus
    /// `LOGINDISABLED` on a plaintext connection when [`ServerConfig::login_requires_tls`]
    /// is on.
    pub(crate) fn capabilities_for(&self, conn: ConnId) -> Vec<pimap_types::Capability> {
        let mut caps = self.config.capabilities.clone();
        let Some(c) = self.conns.get(&conn) else {
            return caps;
        };
        let cap = |name: &'static str| {
            pimap_types::Atom::new(name.as_bytes())
                .ok()
                .map(pimap_types::Capability)
        };
        if !c.secure && c.state == ConnState::NotAuthenticated {
            if self.config.starttls {
                caps.extend(cap("STARTTLS"));
            }
            if self.config.login_requires_tls {
                caps.extend(cap("LOGINDISABLED"));
            }
        }
        caps
    }

    /// A new connection from `addr`: at most
    /// [`ServerConfig::max_connections_per_address`] are open from one address.
    pub fn accept_from(
        &mut self,
        now: Instant,
        addr: std::net::IpAddr,
    ) -> Result<ConnId, ServerError> {
        self.accept_inner(now, Some(addr), false)
    }

    /// The decoder options of a connection that has not logged in.
    pub(crate) fn preauth_decoder_options(&self) -> pimap_codec::DecoderOptions {
        pimap_codec::DecoderOptions {
            limits: self.config.preauth_limits,
            ..self.config.decoder
        }
    }

    fn accept_inner(
        &mut self,
        now: Instant,
        addr: Option<std::net::IpAddr>,
        secure: bool,
    ) -> Result<ConnId, ServerError> {
        if self.conns.len() >= self.config.max_connections {
            return Err(ServerError::TooManyConnections(self.config.max_connections));
        }
        if self.unauthenticated >= self.config.max_unauthenticated {
            return Err(ServerError::TooManyUnauthenticated(
                self.config.max_unauthenticated,
            ));
        }
        if let Some(a) = addr {
            let n = self.by_addr.entry(a).or_default();
            if *n >= self.config.max_connections_per_address {
                return Err(ServerError::TooManyFromAddress(a));
            }
            *n += 1;
        }
        self.unauthenticated += 1;
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let preauth = self.preauth_decoder_options();
        let conn = Conn::new(CommandDecoder::new(preauth), now, addr, secure);
        self.conns.insert(id, conn);
        let greeting = Response::Status(StatusResponse {
            tag: None,
            status: Status::Ok,
            code: Some(Code::Capability(self.capabilities_for(id))),
            text: Bytes::from(self.config.greeting.clone()),
        });
        self.send(id, &greeting);
        self.arm_sweep(now);
        self.flush_all();
        Ok(id)
    }

    /// Bytes received on a connection.
    pub fn handle_input(
        &mut self,
        conn: ConnId,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), ServerError> {
        let c = self
            .conns
            .get_mut(&conn)
            .ok_or(ServerError::UnknownConnection(conn))?;
        if c.closed || c.tls_pending {
            // After STARTTLS only the TLS handshake may come; the caller runs it and calls
            // `secured`. Plaintext here is never executed.
            return Ok(());
        }
        c.last_input = now;
        if let Some(d) = c.deflate.as_mut() {
            match d.decompress(bytes) {
                Ok(plain) => c.decoder.feed(&plain),
                Err(e) => {
                    let text = format!("Compression error: {e}");
                    self.status(conn, None, Status::Bye, None, &text);
                    self.close_conn(conn, now);
                    self.flush_all();
                    return Ok(());
                }
            }
        } else {
            c.decoder.feed(bytes);
        }
        // The global budget of undecoded input (partial commands, literals in progress).
        let now_buffered = c.decoder.buffered_len();
        let others = self.buffered_total - c.buffered;
        if others.saturating_add(now_buffered) > self.config.max_buffered_input {
            self.status(
                conn,
                None,
                Status::Bye,
                limit_code(),
                "Server busy: too much input buffered",
            );
            self.close_conn(conn, now);
            self.flush_all();
            return Ok(());
        }
        self.read_messages(conn, now);
        self.process(conn, now);
        self.track_buffered(conn);
        self.flush_all();
        Ok(())
    }

    /// The caller is shutting down: every connection gets `* BYE [UNAVAILABLE]` after what
    /// it was already sent (an XZIP capture in progress is abandoned) and is closed
    /// ([`Output::Close`] follows its last transmit). Device sessions are kept, as after any
    /// disconnect; a caller that keeps them elsewhere can let devices resume on another node.
    pub fn shutdown_connections(&mut self, now: Instant) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.capturing = 0;
            }
            let code = unavailable_code();
            self.status(conn, None, Status::Bye, code, "Server shutting down");
            self.close_conn(conn, now);
        }
        self.flush_all();
    }

    /// Output octets of a connection that the caller has written to the transport (needed
    /// with [`ServerConfig::output_budget`]): the connection resumes executing commands and
    /// receiving pushes once its unsent output is below the budget.
    pub fn transmitted(&mut self, conn: ConnId, octets: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let n = (octets as u64).min(c.unsent);
        c.unsent -= n;
        self.unsent_total -= n;
        if !self.output_paused(conn) {
            self.process(conn, now);
            if let Some(sk) = self.conns.get(&conn).and_then(|c| c.session) {
                self.push_in_band(sk, now);
            }
            self.track_buffered(conn);
            self.flush_all();
        }
    }

    /// Output octets handed out and not reported transmitted, for one connection.
    pub fn unsent(&self, conn: ConnId) -> Option<u64> {
        self.conns.get(&conn).map(|c| c.unsent)
    }

    /// Input octets buffered undecoded across all connections.
    pub fn buffered_input(&self) -> usize {
        self.buffered_total
    }

    /// Does the connection wait for its output to drain?
    pub(crate) fn output_paused(&self, conn: ConnId) -> bool {
        let Some(budget) = self.config.output_budget else {
            return false;
        };
        self.conns.get(&conn).is_some_and(|c| {
            // Output not yet handed out (still in the write buffer) counts too.
            let pending = c.unsent.saturating_add(c.pending_len() as u64);
            pending > budget as u64
                || (pending > 0 && self.unsent_total > self.config.global_output_budget as u64)
        })
    }

    fn track_buffered(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            // Idle connections keep no buffers.
            c.decoder.shrink(IDLE_BUFFER);
            if c.wbuf.is_empty() && c.wbuf.capacity() > IDLE_BUFFER {
                c.wbuf = BytesMut::new();
            }
            let b = c.decoder.buffered_len();
            self.buffered_total = self.buffered_total - c.buffered + b;
            c.buffered = b;
        }
    }

    /// A connection logged in: the pre-authentication limits give way to the normal ones.
    pub(crate) fn authenticated(&mut self, conn: ConnId) {
        let limits = self.config.decoder.limits;
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.state == ConnState::NotAuthenticated {
                self.unauthenticated = self.unauthenticated.saturating_sub(1);
                c.decoder.set_limits(limits);
            }
        }
    }

    /// The peer closed the connection (or the transport failed). The device session, if
    /// any, is kept for resumption (spec §1.6).
    pub fn handle_close(&mut self, conn: ConnId, now: Instant) {
        self.drop_conn(conn, now);
        self.flush_all();
    }

    /// A change in the store. See [`MailboxChange`] for the ordering contract.
    pub fn mailbox_changed(
        &mut self,
        user: &[u8],
        mailbox: &Mailbox,
        change: MailboxChange,
        now: Instant,
    ) {
        let Some(keys) = self.by_user.get(user) else {
            return;
        };
        let key = folder_key(mailbox);
        if let MailboxChange::New { uid, .. } = &change {
            // A message arriving while the mailbox is selected is `\Recent` in one session:
            // the first that has it selected read-write (RFC 3501 2.3.2).
            let ck = (Bytes::copy_from_slice(user), key.clone());
            if *uid > self.recent_claimed.get(&ck).copied().unwrap_or(0) {
                let claimer = keys.iter().copied().find(|sk| {
                    self.sessions
                        .get(sk)
                        .and_then(|s| s.selected.as_ref())
                        .is_some_and(|v| v.key == key && !v.read_only && v.tracks_recent)
                });
                if let Some(v) = claimer
                    .and_then(|sk| self.sessions.get_mut(&sk))
                    .and_then(|s| s.selected.as_mut())
                {
                    v.claim_recent(*uid);
                    self.recent_claimed.insert(ck, *uid);
                }
            }
        }
        let max = self.config.max_queued_events;
        let max_folder = self.config.max_folder_events;
        let mut wake: Vec<u64> = Vec::new();
        let mut notify: Vec<u64> = Vec::new();
        for sk in keys.iter().copied() {
            let Some(s) = self.sessions.get_mut(&sk) else {
                continue;
            };
            if change.is_folder_event() {
                s.folder_changed(mailbox, &change);
                let ev = match &change {
                    MailboxChange::Created => Some(FolderEvent::Created(mailbox.clone())),
                    MailboxChange::Deleted => Some(FolderEvent::Deleted(mailbox.clone())),
                    MailboxChange::Renamed { to } => Some(FolderEvent::Renamed { to: to.clone() }),
                    _ => None,
                };
                // Unsolicited `* LIST` folder events are P-IMAP's (device sessions); a plain
                // IMAP client asks with LIST and would not expect them.
                if let Some(ev) = ev.filter(|_| s.device.is_some()) {
                    s.enqueue_folder(ev, max_folder);
                }
                wake.push(sk);
                if s.conn.is_none() {
                    notify.push(sk);
                }
                continue;
            }
            let class = s.classify(&key, &change, &self.clock);
            if class == Class::Ignored {
                continue;
            }
            if let (MailboxChange::Flags { uid, .. }, Some((k, uids))) = (&change, &s.silent_store)
            {
                if *k == key && uids.binary_search(uid).is_ok() {
                    continue;
                }
            }
            let ev = match &change {
                MailboxChange::New { uid, flags, props } => QueuedEvent::New {
                    uid: *uid,
                    flags: flags.clone(),
                    props: props.clone(),
                },
                MailboxChange::Flags { uid, flags, .. } => QueuedEvent::Flags {
                    uid: *uid,
                    flags: flags.clone(),
                },
                MailboxChange::Expunge { uid, .. } => QueuedEvent::Expunge { uid: *uid },
                _ => continue,
            };
            let pushed = class == Class::Pushed;
            s.enqueue(key.clone(), ev, pushed, max);
            if pushed {
                if s.conn.is_some() {
                    wake.push(sk);
                } else {
                    notify.push(sk);
                }
            }
        }
        for sk in notify {
            self.notify_out_of_band(sk, &key, &change);
        }
        for sk in wake {
            self.push_in_band(sk, now);
        }
        self.flush_all();
    }

    /// Complete a request with the caller's reply.
    pub fn complete(
        &mut self,
        id: RequestId,
        reply: Reply,
        now: Instant,
    ) -> Result<(), ServerError> {
        let (conn, pending) = self
            .requests
            .remove(&id)
            .ok_or(ServerError::UnknownRequest(id))?;
        let mut outcome = Ok(());
        let reply = match pending.mismatch(&reply) {
            None => reply,
            Some(expected) => {
                outcome = Err(ServerError::UnexpectedReply {
                    id,
                    expected,
                    got: reply.kind(),
                });
                Reply::No {
                    code: pimap_types::Atom::new(&b"SERVERBUG"[..])
                        .ok()
                        .map(|name| Code::Other { name, args: None }),
                    text: "The store answered with the wrong kind of reply".into(),
                }
            }
        };
        let alive = self
            .conns
            .get(&conn)
            .is_some_and(|c| !c.closed && c.busy == Busy::Request(id));
        if alive {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.busy = Busy::No;
            }
            self.finish(conn, pending, reply, now);
            self.process(conn, now);
        } else {
            self.finish_detached(conn, pending, reply, now);
        }
        self.flush_all();
        outcome
    }

    /// The next output, if any. Drain after every input.
    #[must_use = "outputs must be drained: bytes to send, events, requests"]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use = "the caller must arrange to call handle_timeout then"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_sweep
    }

    /// Run timers: autologout of silent connections and expiry of detached sessions.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_sweep.is_some_and(|t| t > now) {
            return;
        }
        self.next_sweep = None;
        let login_timeout = self.config.login_timeout;
        let late: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.state == ConnState::NotAuthenticated
                    && now.saturating_duration_since(c.accepted) >= login_timeout
            })
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.status(id, None, Status::Bye, None, "Login timeout");
            self.close_conn(id, now);
        }
        let autologout = self.config.autologout;
        let stale: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| now.saturating_duration_since(c.last_input) >= autologout)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.send(
                id,
                &Response::Status(StatusResponse {
                    tag: None,
                    status: Status::Bye,
                    code: None,
                    text: Bytes::from_static(b"Autologout; idle for too long"),
                }),
            );
            self.close_conn(id, now);
        }
        let expiry = self.config.session_expiry;
        let expired: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.conn.is_none() && now.saturating_duration_since(s.last_active) >= expiry
            })
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.end_session(k);
        }
        if !self.conns.is_empty() || !self.sessions.is_empty() {
            self.next_sweep = Some(now + self.sweep_interval());
        }
        self.flush_all();
    }

    /// Answer a HELLO registration from a device's notification processor (spec §7.6): the
    /// device is looked up among the live device sessions by its id, its key comes from the
    /// [`CipherProvider`](super::CipherProvider), and the reply (`OK [endpoint]` or
    /// `INVALID ENCRYPTION KEY`) is returned for the caller to send on the same channel. On
    /// success the device's network characteristics are returned too.
    pub fn handle_hello(&mut self, message: &[u8]) -> (Vec<u8>, Option<String>) {
        use pimap_notify::{answer_hello, Hello, HelloReply};
        let Ok(hello) = Hello::parse(message) else {
            return (HelloReply::InvalidEncryptionKey.encode(), None);
        };
        let user = self
            .registry
            .keys()
            .find(|(_, d)| &d[..] == hello.device_id.as_bytes())
            .map(|(u, _)| u.clone());
        let endpoint = match (
            &self.config.provisioning.notification_address,
            self.config.provisioning.notification_port,
        ) {
            (Some(a), Some(p)) => Some(format!("{a}:{p}")),
            _ => None,
        };
        let cipher = match (user, self.cipher.as_deref_mut()) {
            (Some(u), Some(p)) => p.cipher_for(&u, hello.device_id.as_bytes()),
            _ => None,
        };
        let reply = answer_hello(&hello, cipher, endpoint.as_deref());
        let ok = matches!(reply, HelloReply::Ok { .. });
        (reply.encode(), if ok { hello.network } else { None })
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Number of live sessions (device sessions and plain ones).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Events queued for a device session in a folder (for monitoring and tests).
    pub fn queued_events(&self, user: &[u8], device: &[u8], mailbox: &Mailbox) -> Option<usize> {
        let k = self
            .registry
            .get(&(Bytes::copy_from_slice(user), Bytes::copy_from_slice(device)))?;
        self.sessions
            .get(k)
            .map(|s| s.folder_queue_len(&folder_key(mailbox)))
    }

    /// Is a device session live (connected or waiting for resumption)?
    pub fn has_session(&self, user: &[u8], device: &[u8]) -> bool {
        self.registry
            .contains_key(&(Bytes::copy_from_slice(user), Bytes::copy_from_slice(device)))
    }

    /// Does `user` have any live session (a device session, connected or waiting for
    /// resumption, or a plain IMAP session on an open connection)? A caller that watches a
    /// backend for the user may stop once this is false.
    pub fn has_sessions_of(&self, user: &[u8]) -> bool {
        self.by_user.get(user).is_some_and(|keys| !keys.is_empty())
    }

    // ---------------------------------------------------------------- plumbing

    fn arm_sweep(&mut self, now: Instant) {
        if self.next_sweep.is_none() {
            self.next_sweep = Some(now + self.sweep_interval());
        }
    }

    /// The timer granularity: 30 s, or less when the login timeout is shorter.
    fn sweep_interval(&self) -> Duration {
        SWEEP
            .min(self.config.login_timeout)
            .max(Duration::from_millis(10))
    }

    pub(crate) fn next_request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    pub(crate) fn next_session_key(&mut self) -> u64 {
        let k = self.next_session;
        self.next_session += 1;
        k
    }

    /// Encode a response onto a connection's write buffer.
    pub(crate) fn send(&mut self, conn: ConnId, resp: &Response) {
        let dialect = self.config.dialect;
        if self
            .conns
            .get_mut(&conn)
            .is_some_and(|c| c.write(dialect, resp))
            && !self.dirty.contains(&conn)
        {
            self.dirty.push(conn);
        }
    }

    /// The connection has output to flush.
    pub(crate) fn mark_dirty(&mut self, conn: ConnId) {
        if self.conns.contains_key(&conn) && !self.dirty.contains(&conn) {
            self.dirty.push(conn);
        }
    }

    pub(crate) fn send_data(&mut self, conn: ConnId, data: Data) {
        self.send(conn, &Response::Data(data));
    }

    /// A tagged (or untagged when `tag` is `None`) status response; terse mode drops the
    /// text.
    pub(crate) fn status(
        &mut self,
        conn: ConnId,
        tag: Option<Tag>,
        status: Status,
        code: Option<Code>,
        text: &str,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let resp = c.status_response(tag, status, code, text);
        self.send(conn, &resp);
    }

    pub(crate) fn continuation(&mut self, conn: ConnId, text: &'static str) {
        self.send(
            conn,
            &Response::Continuation(Continuation {
                code: None,
                text: Bytes::from_static(text.as_bytes()),
            }),
        );
    }

    /// Move a connection's buffered bytes to the output queue (unless an XZIP capture holds
    /// them back).
    pub(crate) fn flush_conn(&mut self, conn: ConnId) {
        while let Some(data) = self.conns.get_mut(&conn).and_then(Conn::take_transmit) {
            self.unsent_total += data.len() as u64;
            self.out.push_back(Output::Transmit { conn, data });
        }
    }

    pub(crate) fn flush_all(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for c in dirty {
            self.flush_conn(c);
        }
    }

    /// Emit a request for a connection, which then waits for its completion.
    pub(crate) fn request(
        &mut self,
        conn: ConnId,
        request: Request,
        pending: super::commands::Pending,
    ) {
        let id = self.next_request_id();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.busy = Busy::Request(id);
        }
        self.flush_conn(conn);
        self.requests.insert(id, (conn, pending));
        self.out.push_back(Output::Request { id, conn, request });
    }

    /// Close a connection from our side (after LOGOUT, BYE or a fatal limit).
    pub(crate) fn close_conn(&mut self, conn: ConnId, now: Instant) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.capturing = 0;
        }
        self.flush_conn(conn);
        if self.conns.contains_key(&conn) {
            self.out.push_back(Output::Close { conn });
        }
        self.drop_conn(conn, now);
    }

    fn drop_conn(&mut self, conn: ConnId, now: Instant) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.dirty.retain(|d| *d != conn);
        self.buffered_total -= c.buffered;
        self.unsent_total -= c.unsent;
        if c.state == ConnState::NotAuthenticated {
            self.unauthenticated = self.unauthenticated.saturating_sub(1);
        }
        if let Some(a) = c.addr {
            if let Some(n) = self.by_addr.get_mut(&a) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.by_addr.remove(&a);
                }
            }
        }
        if let Some(sk) = c.session {
            let plain = match self.sessions.get_mut(&sk) {
                Some(s) if s.conn == Some(conn) => {
                    s.conn = None;
                    s.last_active = now;
                    s.ledger.detached(c.resume_offset());
                    s.silent_store = None;
                    !s.is_device()
                }
                _ => false,
            };
            if plain {
                self.end_session(sk);
            }
        }
    }

    /// Remove a session entirely (LOGOUT, expiry, plain session closed).
    pub(crate) fn end_session(&mut self, sk: u64) {
        let Some(s) = self.sessions.remove(&sk) else {
            return;
        };
        if let Some(d) = &s.device {
            self.registry.remove(&(s.user.clone(), d.clone()));
        }
        if let Some(v) = self.by_user.get_mut(&s.user) {
            v.retain(|k| *k != sk);
            if v.is_empty() {
                self.by_user.remove(&s.user);
                self.recent_claimed.retain(|(u, _), _| *u != s.user);
            }
        }
    }

    /// Attach a session to the user index.
    pub(crate) fn index_session(&mut self, sk: u64, user: Bytes) {
        self.by_user.entry(user).or_default().push(sk);
    }

    /// Decode every complete message into the work queue; answer `+` for synchronizing
    /// literals; BAD (with the tag when known) for undecodable input.
    pub(crate) fn read_messages(&mut self, conn: ConnId, now: Instant) {
        let max = self.config.max_pipelined;
        loop {
            let Some(step) = self.conns.get_mut(&conn).map(|c| c.read_step(max)) else {
                return;
            };
            match step {
                ReadStep::Continue => {}
                ReadStep::Continuation => self.continuation(conn, "Ready for literal data"),
                ReadStep::TooManyPipelined => {
                    self.status(conn, None, Status::Bye, None, "Too many pipelined commands");
                    self.close_conn(conn, now);
                    return;
                }
                ReadStep::Paused | ReadStep::NeedInput => return,
            }
        }
    }

    /// Deliver due events to a session's connection if it is in band (IDLE, or
    /// PIMAP_INBAND_PUSH while not executing a command).
    fn push_in_band(&mut self, sk: u64, _now: Instant) {
        let Some(s) = self.sessions.get(&sk) else {
            return;
        };
        let Some(conn) = s.conn else {
            return;
        };
        if !s.push_due() {
            return;
        }
        let inband_push = s.profile.prefs.inband_push && s.selected.is_some();
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let ok = match &c.busy {
            Busy::Idle(_) => true,
            Busy::No => inband_push && c.work.is_empty(),
            _ => false,
        } && !self.output_paused(conn);
        if ok {
            self.deliver(conn, false);
        }
    }

    /// Write pending events of the connection's session.
    pub(crate) fn deliver(&mut self, conn: ConnId, no_expunge: bool) {
        let Some(sk) = self.conns.get(&conn).and_then(|c| c.session) else {
            return;
        };
        let mut data = Vec::new();
        if let Some(s) = self.sessions.get_mut(&sk) {
            s.drain_events(no_expunge, &mut data);
        }
        let max = self.config.max_queued_events;
        for (d, what) in data {
            self.send_data(conn, d);
            self.record_delivery(conn, sk, what, max);
        }
    }

    /// Note in the session's ledger that a response delivering `what` was written on `conn`.
    pub(crate) fn record_delivery(
        &mut self,
        conn: ConnId,
        sk: u64,
        what: super::ledger::Delivered,
        max: usize,
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&sk) else {
            return;
        };
        if s.conn != Some(conn) || !s.is_device() {
            return;
        }
        let base = c.resume_base.unwrap_or(0);
        let (end, zip_start) = match c.zip_start {
            Some(z) if c.capturing > 0 => (u64::MAX, Some(z.saturating_sub(base))),
            _ => (c.position().saturating_sub(base), None),
        };
        s.ledger.record(end, zip_start, what, max);
    }

    fn notify_out_of_band(&mut self, sk: u64, _key: &Bytes, change: &MailboxChange) {
        let Some(s) = self.sessions.get_mut(&sk) else {
            return;
        };
        let Some(device) = s.device.clone() else {
            return;
        };
        let prefs = &s.profile.prefs;
        if matches!(prefs.outband_channel, pimap_types::Channel::None) {
            return;
        }
        let address = prefs
            .outband_address
            .as_ref()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .unwrap_or_default();
        s.notify_seq += 1;
        let payload = super::outband::payload(
            s,
            change,
            &self.config.mail_domain,
            self.clock.now_unix,
            self.cipher.as_deref_mut(),
        );
        let Some(payload) = payload else {
            return;
        };
        self.out.push_back(Output::Notify(Notification {
            user: s.user.clone(),
            device,
            channel: s.profile.prefs.outband_channel.clone(),
            address,
            payload,
        }));
    }

    /// Run queued work until the connection must wait.
    pub(crate) fn process(&mut self, conn: ConnId, now: Instant) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.closed || matches!(c.busy, Busy::Request(_)) {
                return;
            }
            if self.output_paused(conn) {
                // Backpressure: nothing more is executed until the output drains.
                return;
            }
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(w) = c.work.pop_front() else {
                // Decoding may have paused (after COMPRESS): read what is buffered.
                if c.decoder.buffered_len() > 0 && !c.closed {
                    let before = c.decoder.buffered_len();
                    self.read_messages(conn, now);
                    let progressed = self
                        .conns
                        .get(&conn)
                        .is_some_and(|c| !c.work.is_empty() || c.decoder.buffered_len() != before);
                    if progressed {
                        continue;
                    }
                }
                return;
            };
            self.run_work(conn, w, now);
        }
    }
}
