//! A P-IMAP gateway: the sans-IO [`Server`] in front of a real IMAP server, reached with this
//! crate's own sans-IO [`Client`] (the dispatcher of the seed flows).
//!
//! ```text
//! cargo run --example gateway -- --listen-port 0 --backend 127.0.0.1:143 \
//!     [--smtp 127.0.0.1:25] [--notify log|udp:127.0.0.1:PORT] [--max-seconds N]
//! ```
//!
//! * Listens on 127.0.0.1 only and prints `listening on 127.0.0.1:<port>`.
//! * LOGIN / AUTHENTICATE: a backend LOGIN with the same user and password decides.
//! * Per user: one *command* backend connection (the user's store requests run on it one at a
//!   time, UID based) and one *watch* connection in IDLE on INBOX whose EXISTS / EXPUNGE /
//!   FETCH FLAGS become [`MailboxChange`]s for every device session of the user.
//! * Store operations: SELECT/EXAMINE, FETCH, SEARCH, STORE, EXPUNGE, COPY/MOVE, APPEND, LIST,
//!   LSUB, STATUS, CREATE, DELETE, RENAME, (UN)SUBSCRIBE.
//! * XDELIVER: SMTP to `--smtp` (EHLO, MAIL, RCPT per recipient, DATA, QUIT); SAVETO is then
//!   appended by the server through the store.
//! * Out-of-band notifications: logged to stderr, or sent as UDP datagrams (payload only).
//! * A dropped backend connection is re-established with bounded backoff; when the watch
//!   connection had to be re-established, INBOX reports `UidValidity` (every device owes a
//!   `* RESYNC`), since events may have been missed.
//!
//! Changes are deduplicated against a per-(user, mailbox) cache of what the server was told,
//! because a change made on the command connection is seen again on the watch connection.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};

use pimap::client::{
    Client, ClientConfig, Completion, Event, MailboxEvent, Output as ClientOutput,
};
use pimap::server::{
    ConnId, MailboxChange, MailboxSnapshot, MessageProps, MessageSnapshot, Notification, Output,
    Reply, Request, RequestId, Server, ServerConfig, StoreOp, Submission,
};
use pimap::types::{
    Address, Code, CommandBody, Data, Envelope, FetchAttr, FetchItem, FetchItems, Flag, IString,
    Literal8, Mailbox, SeqNo, SeqRange, SequenceSet,
};

/// Chunks queued for one device connection before it counts as stuck and is dropped.
const WRITE_QUEUE: usize = 1024;
/// Longest wait for one backend / SMTP reply.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The watch connection leaves and re-enters IDLE this often.
const IDLE_REFRESH: Duration = Duration::from_secs(300);
/// Reconnect backoff: first delay and ceiling.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------------------------------
// configuration

#[derive(Clone, Debug)]
enum NotifyCfg {
    Log,
    Udp(SocketAddr),
}

#[derive(Clone, Debug)]
struct Config {
    listen_port: u16,
    backend: SocketAddr,
    smtp: Option<SocketAddr>,
    notify: NotifyCfg,
    max_seconds: Option<u64>,
}

fn usage() -> ! {
    eprintln!(
        "usage: gateway --listen-port PORT --backend 127.0.0.1:PORT [--smtp 127.0.0.1:PORT] \
         [--notify log|udp:127.0.0.1:PORT] [--max-seconds N]"
    );
    std::process::exit(2)
}

fn loopback(s: &str) -> SocketAddr {
    let a: SocketAddr = s.parse().unwrap_or_else(|_| usage());
    if !a.ip().is_loopback() {
        eprintln!("{s}: only loopback addresses are allowed");
        usage()
    }
    a
}

fn parse_args() -> Config {
    let mut cfg = Config {
        listen_port: 1143,
        backend: SocketAddr::from(([127, 0, 0, 1], 143)),
        smtp: None,
        notify: NotifyCfg::Log,
        max_seconds: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen-port" => cfg.listen_port = value().parse().unwrap_or_else(|_| usage()),
            "--backend" => cfg.backend = loopback(&value()),
            "--smtp" => cfg.smtp = Some(loopback(&value())),
            "--notify" => {
                let v = value();
                cfg.notify = if v == "log" {
                    NotifyCfg::Log
                } else if let Some(addr) = v.strip_prefix("udp:") {
                    NotifyCfg::Udp(loopback(addr))
                } else {
                    usage()
                };
            }
            "--max-seconds" => cfg.max_seconds = Some(value().parse().unwrap_or_else(|_| usage())),
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument {a:?}");
                usage()
            }
        }
    }
    cfg
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// shared state

/// What a device connection's task is told to do.
enum Out {
    Data(Bytes),
    Close,
}

/// Work for a user's command worker.
enum Job {
    Auth { id: RequestId, password: String },
    Store { id: RequestId, op: StoreOp },
}

/// What the server has been told about one mailbox: UID -> (flags, props).
#[derive(Default)]
struct MailboxCache {
    msgs: BTreeMap<u32, (Vec<Flag>, Arc<MessageProps>)>,
}

struct Shared {
    server: Server,
    writers: HashMap<ConnId, mpsc::Sender<Out>>,
    workers: HashMap<Bytes, mpsc::UnboundedSender<Job>>,
    cache: HashMap<(Bytes, Bytes), MailboxCache>,
    udp: Option<(std::net::UdpSocket, SocketAddr)>,
    cfg: Arc<Config>,
}

type State = Arc<Mutex<Shared>>;

fn cache_key(user: &[u8], mailbox: &Mailbox) -> (Bytes, Bytes) {
    let name = if mailbox.is_inbox() {
        Bytes::from_static(b"INBOX")
    } else {
        Bytes::copy_from_slice(mailbox.as_bytes())
    };
    (Bytes::copy_from_slice(user), name)
}

impl Shared {
    /// Drain the server's outputs: bytes to the device connections, requests to the workers.
    fn pump(&mut self, state: &State, now: Instant) {
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Transmit { conn, data } => {
                    let Some(tx) = self.writers.get(&conn) else {
                        continue;
                    };
                    if tx.try_send(Out::Data(data)).is_err() {
                        eprintln!("conn {}: output queue full or closed; dropping", conn.0);
                        self.writers.remove(&conn);
                        self.server.handle_close(conn, now);
                    }
                }
                Output::Close { conn } => {
                    if let Some(tx) = self.writers.remove(&conn) {
                        let _ = tx.try_send(Out::Close);
                    }
                }
                Output::Notify(n) => self.notify(&n),
                Output::Request { id, request, .. } => self.route(state, id, request, now),
                _ => {}
            }
        }
    }

    fn notify(&mut self, n: &Notification) {
        match &self.udp {
            Some((sock, to)) => {
                if let Err(e) = sock.send_to(&n.payload, to) {
                    eprintln!("notify: udp to {to}: {e}");
                }
            }
            None => eprintln!(
                "notify: user {} device {} channel {:?} address {:?}: {} octets",
                String::from_utf8_lossy(&n.user),
                String::from_utf8_lossy(&n.device),
                n.channel,
                String::from_utf8_lossy(&n.address),
                n.payload.len()
            ),
        }
    }

    fn worker(&mut self, state: &State, user: &Bytes) -> mpsc::UnboundedSender<Job> {
        if let Some(tx) = self.workers.get(user) {
            if !tx.is_closed() {
                return tx.clone();
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.workers.insert(user.clone(), tx.clone());
        tokio::spawn(user_worker(
            state.clone(),
            self.cfg.clone(),
            user.clone(),
            rx,
        ));
        tx
    }

    fn route(&mut self, state: &State, id: RequestId, request: Request, now: Instant) {
        let (user, job) = match request {
            Request::Authenticate {
                user,
                domain,
                password,
                ..
            } => {
                // The backend account is the full identity (`user@domain` when the device
                // logged in with a domain): the same key the sessions and store requests use.
                let account = pimap::types::LoginName::account_of(&user, domain.as_deref());
                let pw = String::from_utf8_lossy(password.expose()).into_owned();
                (account, Job::Auth { id, password: pw })
            }
            Request::Store { user, op } => (user, Job::Store { id, op }),
            Request::Submit(sub) => {
                let smtp = self.cfg.smtp;
                let state = state.clone();
                tokio::spawn(async move {
                    let reply = match smtp {
                        Some(addr) => match submit(addr, &sub).await {
                            Ok(()) => Reply::Submitted,
                            Err(e) => {
                                eprintln!("submit: {e}");
                                Reply::no(e)
                            }
                        },
                        None => Reply::no("no SMTP relay configured (--smtp)"),
                    };
                    finish(&state, &sub.user, Vec::new(), id, reply).await;
                });
                return;
            }
            _ => {
                let _ = self
                    .server
                    .complete(id, Reply::no("not supported by the gateway"), now);
                return;
            }
        };
        let tx = self.worker(state, &user);
        if let Err(mpsc::error::SendError(job)) = tx.send(job) {
            let id = match job {
                Job::Auth { id, .. } | Job::Store { id, .. } => id,
            };
            let _ = self
                .server
                .complete(id, Reply::no("backend worker gone"), now);
        }
    }

    /// Feed changes to the server, dropping those it has already been told (the watch and
    /// the command connection see the same changes), and keeping the cache current.
    fn report(&mut self, user: &[u8], changes: Vec<(Mailbox, MailboxChange)>, now: Instant) {
        for (mailbox, change) in changes {
            let key = cache_key(user, &mailbox);
            let cache = self.cache.entry(key.clone()).or_default();
            let pass = match &change {
                MailboxChange::New { uid, flags, props } => {
                    if cache.msgs.contains_key(uid) {
                        false
                    } else {
                        cache.msgs.insert(*uid, (flags.clone(), props.clone()));
                        true
                    }
                }
                MailboxChange::Flags { uid, flags, .. } => match cache.msgs.get_mut(uid) {
                    Some((old, _)) if same_flags(old, flags) => false,
                    Some((old, _)) => {
                        *old = flags.clone();
                        true
                    }
                    None => false,
                },
                MailboxChange::Expunge { uid, .. } => cache.msgs.remove(uid).is_some(),
                MailboxChange::Deleted => {
                    self.cache.remove(&key);
                    true
                }
                MailboxChange::Renamed { to } => {
                    if let Some(c) = self.cache.remove(&key) {
                        self.cache.insert(cache_key(user, to), c);
                    }
                    true
                }
                _ => true,
            };
            if pass {
                self.server.mailbox_changed(user, &mailbox, change, now);
            }
        }
    }

    fn props_of(&self, user: &[u8], mailbox: &Mailbox, uid: u32) -> Arc<MessageProps> {
        self.cache
            .get(&cache_key(user, mailbox))
            .and_then(|c| c.msgs.get(&uid))
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| Arc::new(MessageProps::new(0, None)))
    }
}

fn same_flags(a: &[Flag], b: &[Flag]) -> bool {
    let strip = |v: &[Flag]| {
        let mut v: Vec<String> = v
            .iter()
            .filter(|f| !matches!(f, Flag::Recent))
            .map(|f| format!("{f:?}"))
            .collect();
        v.sort();
        v
    };
    strip(a) == strip(b)
}

/// Report changes, complete a request and pump, under the lock.
async fn finish(
    state: &State,
    user: &[u8],
    changes: Vec<(Mailbox, MailboxChange)>,
    id: RequestId,
    reply: Reply,
) {
    let mut st = state.lock().await;
    let now = Instant::now();
    st.report(user, changes, now);
    if let Err(e) = st.server.complete(id, reply, now) {
        eprintln!("complete: {e}");
    }
    st.pump(state, now);
}

/// Report changes that no request caused (watch connection).
async fn report(state: &State, user: &[u8], changes: Vec<(Mailbox, MailboxChange)>) {
    if changes.is_empty() {
        return;
    }
    let mut st = state.lock().await;
    let now = Instant::now();
    st.report(user, changes, now);
    st.pump(state, now);
}

// ------------------------------------------------------------------------------------------
// backend connections (our own sans-IO Client over tokio)

struct Backend {
    client: Client,
    stream: TcpStream,
    buf: Vec<u8>,
    /// Mailbox events seen since the last `take_events`.
    events: Vec<MailboxEvent>,
    /// The mailbox selected on this connection and whether read-only.
    selected: Option<(Mailbox, bool)>,
}

enum LoginError {
    /// The backend refused these credentials (`NO` without a code, or with an RFC 5530 code
    /// that says the credentials themselves are wrong): retrying with them is pointless.
    Refused(String),
    /// The backend could not log the user in now (`NO [UNAVAILABLE]`, `[INUSE]`, a `BYE`
    /// during login, any other code): try again later.
    Unavailable(String),
    /// The connection failed.
    Io(String),
}

/// Whether a refused LOGIN's response code says the credentials are wrong (as opposed to the
/// backend being temporarily unable to serve the login).
fn credentials_rejected(code: Option<&Code>) -> bool {
    match code {
        None => true,
        Some(Code::Other { name, .. }) => {
            let n = name.as_bytes();
            [
                &b"AUTHENTICATIONFAILED"[..],
                b"AUTHORIZATIONFAILED",
                b"EXPIRED",
                b"PRIVACYREQUIRED",
            ]
            .iter()
            .any(|k| n.eq_ignore_ascii_case(k))
        }
        Some(_) => false,
    }
}

impl Backend {
    async fn connect(addr: SocketAddr, user: &str, password: &str) -> Result<Self, LoginError> {
        let stream = tokio::time::timeout(BACKEND_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| LoginError::Io(format!("connect {addr}: timed out")))?
            .map_err(|e| LoginError::Io(format!("connect {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let mut b = Backend {
            client: Client::new(ClientConfig::default()),
            stream,
            buf: vec![0; 64 * 1024],
            events: Vec::new(),
            selected: None,
        };
        b.until(|e| matches!(e, Event::Greeting { .. }))
            .await
            .map_err(LoginError::Io)?;
        let h = b
            .client
            .login(user, password)
            .map_err(|e| LoginError::Refused(e.to_string()))?;
        let c = b.wait(h).await.map_err(LoginError::Io)?;
        if c.is_ok() {
            Ok(b)
        } else {
            let text = String::from_utf8_lossy(&c.status.text).into_owned();
            if credentials_rejected(c.status.code.as_ref()) {
                Err(LoginError::Refused(text))
            } else {
                Err(LoginError::Unavailable(text))
            }
        }
    }

    /// Move bytes until an event satisfies `done` (bounded by [`BACKEND_TIMEOUT`] per read).
    async fn until(&mut self, done: impl Fn(&Event) -> bool) -> Result<Event, String> {
        loop {
            if let Some(e) = self.drain(&done).await? {
                return Ok(e);
            }
            let n = tokio::time::timeout(BACKEND_TIMEOUT, self.stream.read(&mut self.buf))
                .await
                .map_err(|_| "backend timed out".to_string())?
                .map_err(|e| format!("backend read: {e}"))?;
            if n == 0 {
                return Err("backend closed the connection".into());
            }
            self.client.handle_input(&self.buf[..n], Instant::now());
        }
    }

    /// Write what the client wants sent; keep mailbox events; return the first event that
    /// satisfies `done`.
    async fn drain(&mut self, done: &impl Fn(&Event) -> bool) -> Result<Option<Event>, String> {
        while let Some(o) = self.client.poll_output() {
            match o {
                ClientOutput::Transmit(b) => self
                    .stream
                    .write_all(&b)
                    .await
                    .map_err(|e| format!("backend write: {e}"))?,
                ClientOutput::Event(e) => {
                    if let Event::Mailbox(m) = &e {
                        self.events.push(m.clone());
                    }
                    if let Event::Bye { text } = &e {
                        eprintln!("backend BYE: {}", String::from_utf8_lossy(text));
                    }
                    if done(&e) {
                        return Ok(Some(e));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }

    async fn wait(&mut self, h: pimap::client::CommandHandle) -> Result<Completion, String> {
        match self
            .until(|e| matches!(e, Event::Completed(c) if c.handle == h))
            .await?
        {
            Event::Completed(c) => Ok(c),
            _ => Err("unexpected event".into()),
        }
    }

    /// Run one command to completion; `Err` only for connection failures.
    async fn run(&mut self, body: CommandBody) -> Result<Completion, String> {
        let h = self.client.enqueue(body).map_err(|e| e.to_string())?;
        self.wait(h).await
    }

    /// Select `mailbox` (if not already) and describe every message. Returns the snapshot.
    async fn select(
        &mut self,
        mailbox: &Mailbox,
        read_only: bool,
    ) -> Result<Result<MailboxSnapshot, Reply>, String> {
        let body = if read_only {
            CommandBody::Examine {
                mailbox: mailbox.clone(),
                params: Vec::new(),
            }
        } else {
            CommandBody::Select {
                mailbox: mailbox.clone(),
                params: Vec::new(),
            }
        };
        self.selected = None;
        let c = self.run(body).await?;
        if !c.is_ok() {
            return Ok(Err(no_of(&c)));
        }
        self.selected = Some((mailbox.clone(), read_only));
        let mut snap = MailboxSnapshot {
            read_only: read_only || matches!(c.status.code, Some(Code::ReadOnly)),
            ..MailboxSnapshot::default()
        };
        for d in &c.data {
            if let Data::Flags(f) = d {
                snap.flags = f.clone();
            }
        }
        if let Some(v) = self.client.mailbox() {
            snap.uid_validity = v.uid_validity().unwrap_or(0);
            snap.uid_next = v.uid_next().unwrap_or(0);
        }
        snap.permanent_flags = vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft,
            Flag::Wildcard,
        ];
        if self.client.mailbox().is_some_and(|v| v.exists() > 0) {
            let c = self.run(describe_cmd(SequenceSet::all())).await?;
            for (uid, flags, props) in described(&c.data) {
                snap.messages.push(MessageSnapshot { uid, flags, props });
            }
        }
        snap.messages.sort_by_key(|m| m.uid);
        snap.messages.dedup_by_key(|m| m.uid);
        if snap.uid_next == 0 {
            snap.uid_next = snap.messages.last().map_or(1, |m| m.uid + 1);
        }
        self.events.clear();
        Ok(Ok(snap))
    }

    fn take_events(&mut self) -> Vec<MailboxEvent> {
        std::mem::take(&mut self.events)
    }
}

fn no_of(c: &Completion) -> Reply {
    let text = String::from_utf8_lossy(&c.status.text).into_owned();
    Reply::No {
        code: c.status.code.clone(),
        text: if text.is_empty() {
            format!("{} failed on the backend", c.command)
        } else {
            text
        },
    }
}

fn describe_cmd(set: SequenceSet) -> CommandBody {
    CommandBody::Fetch {
        uid: true,
        set,
        items: FetchItems::List(vec![
            FetchAttr::Uid,
            FetchAttr::Flags,
            FetchAttr::Rfc822Size,
            FetchAttr::InternalDate,
            FetchAttr::Envelope,
        ]),
        modifiers: Vec::new(),
    }
}

fn uid_of(items: &[FetchItem]) -> Option<u32> {
    items.iter().find_map(|i| match i {
        FetchItem::Uid(u) => Some(*u),
        _ => None,
    })
}

/// (uid, flags, props) of the FETCH responses of a [`describe_cmd`] fetch.
fn described(data: &[Data]) -> Vec<(u32, Vec<Flag>, Arc<MessageProps>)> {
    let mut out = Vec::new();
    for d in data {
        let Data::Fetch { items, .. } = d else {
            continue;
        };
        let Some(uid) = uid_of(items) else { continue };
        let mut flags = Vec::new();
        let mut props = MessageProps::new(0, None);
        for i in items {
            match i {
                FetchItem::Flags(f) => flags = f.clone(),
                FetchItem::Rfc822Size(s) => props.size = *s,
                FetchItem::InternalDate(t) => props.internal_date = Some(*t),
                FetchItem::Envelope(e) => props = props_from_envelope(props, e),
                _ => {}
            }
        }
        out.push((uid, flags, Arc::new(props)));
    }
    out
}

fn addr_text(a: &Address) -> String {
    let s = |n: &Option<IString>| n.as_ref().map(|v| v.to_str_lossy().into_owned());
    let spec = match (s(&a.mailbox), s(&a.host)) {
        (Some(m), Some(h)) => format!("{m}@{h}"),
        (Some(m), None) => m,
        _ => String::new(),
    };
    match s(&a.name) {
        Some(n) if !n.is_empty() => format!("{n} <{spec}>"),
        _ => spec,
    }
}

fn props_from_envelope(mut props: MessageProps, e: &Envelope) -> MessageProps {
    let list = |v: &[Address]| v.iter().map(addr_text).collect::<Vec<_>>().join(", ");
    for (name, v) in [("From", &e.from), ("To", &e.to), ("Cc", &e.cc)] {
        if !v.is_empty() {
            props = props.with_header(name.as_bytes().to_vec(), list(v).into_bytes());
        }
    }
    if let Some(s) = &e.subject {
        props = props.with_header(&b"Subject"[..], s.as_bytes().to_vec());
    }
    if let Some(d) = &e.date {
        props = props.with_header(&b"Date"[..], d.as_bytes().to_vec());
    }
    props.envelope = Some(Box::new(e.clone()));
    props
}

/// Properties of a message we only have as bytes (APPEND): size and the filter headers.
fn props_from_message(msg: &[u8]) -> MessageProps {
    let mut props = MessageProps::new(u32::try_from(msg.len()).unwrap_or(u32::MAX), None);
    let head_end = memfind(msg, b"\r\n\r\n").unwrap_or(msg.len());
    let text = String::from_utf8_lossy(&msg[..head_end]);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            fields.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    for (n, v) in fields {
        if ["from", "to", "cc", "bcc", "subject", "date"].contains(&n.to_ascii_lowercase().as_str())
        {
            props = props.with_header(n.into_bytes(), v.into_bytes());
        }
    }
    props
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A sequence set of UIDs, consecutive runs as ranges.
fn uid_set(uids: &[u32]) -> Option<SequenceSet> {
    let mut v: Vec<u32> = uids.iter().copied().filter(|u| *u > 0).collect();
    v.sort_unstable();
    v.dedup();
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end + 1 {
            i += 1;
            end = v[i];
        }
        // Zeros were filtered out above, so both ends are non-zero.
        if let (Some(a), Some(z)) = (
            std::num::NonZeroU32::new(start),
            std::num::NonZeroU32::new(end),
        ) {
            ranges.push(if start == end {
                SeqRange::Single(SeqNo::Value(a))
            } else {
                SeqRange::Range(SeqNo::Value(a), SeqNo::Value(z))
            });
        }
        i += 1;
    }
    SequenceSet::new(ranges).ok()
}

fn set_values(set: &SequenceSet) -> Vec<u32> {
    set.iter(u32::MAX).take(1_000_000).collect()
}

// ------------------------------------------------------------------------------------------
// the per-user command worker

async fn user_worker(
    state: State,
    cfg: Arc<Config>,
    user: Bytes,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let name = String::from_utf8_lossy(&user).into_owned();
    let mut conn: Option<Backend> = None;
    let mut password: Option<String> = None;
    // Set while a watcher runs for this user; the watcher clears it when it stops for good
    // (credentials refused), so that the next successful login starts a new one.
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(false));
    while let Some(job) = rx.recv().await {
        match job {
            Job::Auth { id, password: pw } => {
                let reply = match Backend::connect(cfg.backend, &name, &pw).await {
                    Ok(b) => {
                        conn = Some(b);
                        password = Some(pw.clone());
                        if !watching.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            tokio::spawn(watcher(
                                state.clone(),
                                cfg.clone(),
                                user.clone(),
                                pw,
                                watching.clone(),
                            ));
                        }
                        Reply::Ok
                    }
                    Err(LoginError::Refused(t)) => Reply::no(format!("backend refused: {t}")),
                    Err(LoginError::Unavailable(t)) => {
                        eprintln!("{name}: backend cannot log in now: {t}");
                        Reply::no("backend unavailable")
                    }
                    Err(LoginError::Io(t)) => {
                        eprintln!("{name}: backend: {t}");
                        Reply::no("backend unavailable")
                    }
                };
                finish(&state, &user, Vec::new(), id, reply).await;
            }
            Job::Store { id, op } => {
                let Some(pw) = password.clone() else {
                    finish(&state, &user, Vec::new(), id, Reply::no("not logged in")).await;
                    continue;
                };
                // Up to two tries: a dropped connection is re-established once per request.
                let mut outcome = None;
                for attempt in 0..2 {
                    if conn.is_none() {
                        conn = reconnect(&cfg, &name, &pw).await;
                    }
                    let Some(b) = conn.as_mut() else { break };
                    match store_op(&state, &user, b, &op).await {
                        Ok(r) => {
                            outcome = Some(r);
                            break;
                        }
                        Err(e) => {
                            eprintln!("{name}: command connection failed (try {attempt}): {e}");
                            conn = None;
                        }
                    }
                }
                let (changes, reply) =
                    outcome.unwrap_or_else(|| (Vec::new(), Reply::no("backend unavailable")));
                finish(&state, &user, changes, id, reply).await;
            }
        }
    }
}

/// Reconnect with bounded backoff (a few tries, then give up for this request).
async fn reconnect(cfg: &Config, user: &str, pw: &str) -> Option<Backend> {
    let mut delay = BACKOFF_MIN;
    for _ in 0..6 {
        match Backend::connect(cfg.backend, user, pw).await {
            Ok(b) => return Some(b),
            Err(LoginError::Refused(t)) => {
                eprintln!("{user}: backend refused the login again: {t}");
                return None;
            }
            Err(LoginError::Unavailable(t) | LoginError::Io(t)) => {
                eprintln!("{user}: reconnect: {t}")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(BACKOFF_MAX);
    }
    None
}

type Changes = Vec<(Mailbox, MailboxChange)>;

/// Make `mailbox` the selected one on the command connection (describing it into the cache).
async fn ensure_selected(
    state: &State,
    user: &Bytes,
    b: &mut Backend,
    mailbox: &Mailbox,
) -> Result<Option<Reply>, String> {
    if b.selected
        .as_ref()
        .is_some_and(|(m, ro)| m == mailbox && !ro)
    {
        return Ok(None);
    }
    match b.select(mailbox, false).await? {
        Ok(snap) => {
            fill_cache(state, user, mailbox, &snap).await;
            Ok(None)
        }
        Err(r) => Ok(Some(r)),
    }
}

async fn fill_cache(state: &State, user: &Bytes, mailbox: &Mailbox, snap: &MailboxSnapshot) {
    let mut st = state.lock().await;
    let c = st.cache.entry(cache_key(user, mailbox)).or_default();
    c.msgs = snap
        .messages
        .iter()
        .map(|m| (m.uid, (m.flags.clone(), m.props.clone())))
        .collect();
}

/// Translate the mailbox events of the last command into changes of `mailbox`.
async fn events_to_changes(
    state: &State,
    user: &Bytes,
    mailbox: &Mailbox,
    events: Vec<MailboxEvent>,
) -> Changes {
    let st = state.lock().await;
    let mut out = Vec::new();
    for e in events {
        match e {
            MailboxEvent::Expunged { uid: Some(uid), .. } => out.push((
                mailbox.clone(),
                MailboxChange::Expunge {
                    uid,
                    props: st.props_of(user, mailbox, uid),
                },
            )),
            MailboxEvent::Vanished { uids, .. } => {
                for uid in uids {
                    out.push((
                        mailbox.clone(),
                        MailboxChange::Expunge {
                            uid,
                            props: st.props_of(user, mailbox, uid),
                        },
                    ));
                }
            }
            MailboxEvent::FlagsChanged {
                uid: Some(uid),
                flags,
                ..
            } => out.push((
                mailbox.clone(),
                MailboxChange::Flags {
                    uid,
                    flags,
                    props: st.props_of(user, mailbox, uid),
                },
            )),
            _ => {}
        }
    }
    out
}

/// Perform one store operation on the command connection. `Err` = connection failure.
async fn store_op(
    state: &State,
    user: &Bytes,
    b: &mut Backend,
    op: &StoreOp,
) -> Result<(Changes, Reply), String> {
    let none = Vec::new();
    macro_rules! select_or_no {
        ($mailbox:expr) => {
            if let Some(no) = ensure_selected(state, user, b, $mailbox).await? {
                return Ok((none, no));
            }
        };
    }
    match op {
        StoreOp::Select { mailbox, read_only } => match b.select(mailbox, *read_only).await? {
            Ok(snap) => {
                fill_cache(state, user, mailbox, &snap).await;
                Ok((none, Reply::Selected(snap)))
            }
            Err(r) => Ok((none, r)),
        },
        StoreOp::Fetch {
            mailbox,
            uids,
            items,
        } => {
            select_or_no!(mailbox);
            let Some(set) = uid_set(uids) else {
                return Ok((none, Reply::Fetched(Vec::new())));
            };
            b.take_events();
            let want_flags = items.iter().any(|a| matches!(a, FetchAttr::Flags));
            let mut rows: BTreeMap<u32, Vec<FetchItem>> = BTreeMap::new();
            // A message the watch connection reported may still be unknown to this command
            // connection: Dovecot then answers UID FETCH with only `* n EXISTS`. Fetch again
            // once in that case (the EXISTS has updated this connection).
            for attempt in 0..2 {
                let c = b
                    .run(CommandBody::Fetch {
                        uid: true,
                        set: set.clone(),
                        items: FetchItems::List(items.clone()),
                        modifiers: Vec::new(),
                    })
                    .await?;
                if !c.is_ok() {
                    return Ok((none, no_of(&c)));
                }
                for d in &c.data {
                    let Data::Fetch { items, .. } = d else {
                        continue;
                    };
                    let Some(uid) = uid_of(items) else { continue };
                    if !uids.contains(&uid) || rows.contains_key(&uid) {
                        continue;
                    }
                    let row = rows.entry(uid).or_default();
                    for i in items {
                        match i {
                            FetchItem::Uid(_) => {}
                            FetchItem::Flags(_) if !want_flags => {}
                            other => row.push(other.clone()),
                        }
                    }
                }
                let grew = c.data.iter().any(|d| matches!(d, Data::Exists(_)));
                if attempt == 1 || rows.len() >= uids.len() || !grew {
                    break;
                }
            }
            let changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            Ok((changes, Reply::Fetched(rows.into_iter().collect())))
        }
        StoreOp::Search {
            mailbox,
            charset,
            criteria,
        } => {
            select_or_no!(mailbox);
            let c = b
                .run(CommandBody::Search {
                    uid: true,
                    charset: charset.clone(),
                    criteria: criteria.clone(),
                })
                .await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let mut ids: Vec<u32> = c
                .data
                .iter()
                .filter_map(|d| match d {
                    Data::Search { ids, .. } => Some(ids.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            ids.sort_unstable();
            ids.dedup();
            Ok((none, Reply::Searched(ids)))
        }
        StoreOp::StoreFlags {
            mailbox,
            uids,
            kind,
            flags,
        } => {
            select_or_no!(mailbox);
            let Some(set) = uid_set(uids) else {
                return Ok((none, Reply::Ok));
            };
            b.take_events();
            let c = b
                .run(CommandBody::Store {
                    uid: true,
                    set,
                    unchanged_since: None,
                    kind: *kind,
                    silent: false,
                    flags: flags.clone(),
                })
                .await?;
            let changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            Ok((changes, if c.is_ok() { Reply::Ok } else { no_of(&c) }))
        }
        StoreOp::Expunge { mailbox, uids } => {
            select_or_no!(mailbox);
            // Learn the UIDs of messages that arrived since SELECT, so every EXPUNGE maps.
            let _ = b
                .run(CommandBody::Fetch {
                    uid: true,
                    set: SequenceSet::all(),
                    items: FetchItems::List(vec![FetchAttr::Uid]),
                    modifiers: Vec::new(),
                })
                .await?;
            b.take_events();
            let body = match uids {
                Some(u) => match uid_set(u) {
                    Some(set) => CommandBody::UidExpunge(set),
                    None => return Ok((none, Reply::Ok)),
                },
                None => CommandBody::Expunge,
            };
            let c = b.run(body).await?;
            let changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            Ok((changes, if c.is_ok() { Reply::Ok } else { no_of(&c) }))
        }
        StoreOp::Copy {
            mailbox,
            uids,
            to,
            remove,
        } => {
            select_or_no!(mailbox);
            let Some(set) = uid_set(uids) else {
                return Ok((none, Reply::no("no messages")));
            };
            b.take_events();
            let body = if *remove {
                CommandBody::Move {
                    uid: true,
                    set,
                    mailbox: to.clone(),
                }
            } else {
                CommandBody::Copy {
                    uid: true,
                    set,
                    mailbox: to.clone(),
                }
            };
            let c = b.run(body).await?;
            let mut changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            if !c.is_ok() {
                return Ok((changes, no_of(&c)));
            }
            // COPY carries COPYUID in the tagged OK (MOVE's untagged OK is not kept by the
            // client's completion, so a MOVE may come back without it).
            let copyuid = match c.status.code.clone() {
                Some(Code::CopyUid {
                    uid_validity,
                    source,
                    destination,
                }) => Some((uid_validity, source, destination)),
                _ => None,
            };
            let Some((uid_validity, source, destination)) = copyuid else {
                let reply = Reply::Copied {
                    uid_validity: 0,
                    source: Vec::new(),
                    destination: Vec::new(),
                };
                return Ok((changes, reply));
            };
            let (source, destination) = (set_values(&source), set_values(&destination));
            {
                let st = state.lock().await;
                for (s, d) in source.iter().zip(&destination) {
                    let entry = st
                        .cache
                        .get(&cache_key(user, mailbox))
                        .and_then(|c| c.msgs.get(s))
                        .cloned();
                    let (flags, props) =
                        entry.unwrap_or_else(|| (Vec::new(), Arc::new(MessageProps::new(0, None))));
                    changes.push((
                        to.clone(),
                        MailboxChange::New {
                            uid: *d,
                            flags,
                            props,
                        },
                    ));
                }
            }
            Ok((
                changes,
                Reply::Copied {
                    uid_validity,
                    source,
                    destination,
                },
            ))
        }
        StoreOp::Append {
            mailbox,
            flags,
            date,
            message,
        } => {
            let literal = match Literal8::text(message.clone()) {
                Ok(l) => l,
                Err(_) => Literal8::binary(message.clone()),
            };
            let c = b
                .run(CommandBody::Append {
                    mailbox: mailbox.clone(),
                    flags: flags.clone(),
                    date: *date,
                    message: literal,
                })
                .await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let Some(Code::AppendUid { uid_validity, uids }) = c.status.code.clone() else {
                return Ok((none, Reply::no("backend sent no APPENDUID")));
            };
            let uid = set_values(&uids).first().copied().unwrap_or(0);
            let mut props = props_from_message(message);
            props.internal_date = *date;
            let changes = vec![(
                mailbox.clone(),
                MailboxChange::New {
                    uid,
                    flags: flags.clone(),
                    props: Arc::new(props),
                },
            )];
            Ok((changes, Reply::Appended { uid_validity, uid }))
        }
        StoreOp::List {
            reference,
            pattern,
            subscribed_only,
        } => {
            let body = if *subscribed_only {
                CommandBody::Lsub {
                    reference: reference.clone(),
                    pattern: pattern.clone(),
                }
            } else {
                CommandBody::List {
                    selection: Vec::new(),
                    reference: reference.clone(),
                    patterns: vec![pattern.clone()],
                    return_opts: Vec::new(),
                }
            };
            let c = b.run(body).await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let entries = c
                .data
                .iter()
                .filter_map(|d| match d {
                    Data::List(e) | Data::Lsub(e) => Some(e.clone()),
                    _ => None,
                })
                .collect();
            Ok((none, Reply::List(entries)))
        }
        StoreOp::Status { mailbox, items } => {
            let c = b
                .run(CommandBody::Status {
                    mailbox: mailbox.clone(),
                    items: items.clone(),
                })
                .await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let values = c
                .data
                .iter()
                .find_map(|d| match d {
                    Data::Status { items, .. } => Some(items.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            Ok((none, Reply::Status(values)))
        }
        StoreOp::Create { mailbox } => {
            let c = b
                .run(CommandBody::Create {
                    mailbox: mailbox.clone(),
                })
                .await?;
            Ok(folder_reply(&c, mailbox, MailboxChange::Created))
        }
        StoreOp::Delete { mailbox } => {
            if b.selected.as_ref().is_some_and(|(m, _)| m == mailbox) {
                let _ = b.run(CommandBody::Unselect).await?;
                b.selected = None;
            }
            let c = b
                .run(CommandBody::Delete {
                    mailbox: mailbox.clone(),
                })
                .await?;
            Ok(folder_reply(&c, mailbox, MailboxChange::Deleted))
        }
        StoreOp::Rename { from, to } => {
            let c = b
                .run(CommandBody::Rename {
                    from: from.clone(),
                    to: to.clone(),
                })
                .await?;
            if b.selected.as_ref().is_some_and(|(m, _)| m == from) {
                b.selected = None;
            }
            Ok(folder_reply(
                &c,
                from,
                MailboxChange::Renamed { to: to.clone() },
            ))
        }
        StoreOp::Subscribe { mailbox, subscribe } => {
            let body = if *subscribe {
                CommandBody::Subscribe {
                    mailbox: mailbox.clone(),
                }
            } else {
                CommandBody::Unsubscribe {
                    mailbox: mailbox.clone(),
                }
            };
            let c = b.run(body).await?;
            Ok((none, if c.is_ok() { Reply::Ok } else { no_of(&c) }))
        }
        _ => Ok((none, Reply::no("not supported by the gateway"))),
    }
}

fn folder_reply(c: &Completion, mailbox: &Mailbox, change: MailboxChange) -> (Changes, Reply) {
    if c.is_ok() {
        (vec![(mailbox.clone(), change)], Reply::Ok)
    } else {
        (Vec::new(), no_of(c))
    }
}

// ------------------------------------------------------------------------------------------
// the watch connection: IDLE on INBOX

async fn watcher(
    state: State,
    cfg: Arc<Config>,
    user: Bytes,
    password: String,
    running: Arc<std::sync::atomic::AtomicBool>,
) {
    let name = String::from_utf8_lossy(&user).into_owned();
    let inbox = Mailbox::inbox();
    // The first snapshot seeds the cache without RESYNC only if it is taken on the first
    // attempt; after any failure, events may have been missed and devices are told so.
    let mut first = true;
    let mut uid_validity: Option<u32> = None;
    let mut delay = BACKOFF_MIN;
    loop {
        let mut b = match Backend::connect(cfg.backend, &name, &password).await {
            Ok(b) => b,
            Err(LoginError::Refused(t)) => {
                // The credentials no longer work (password changed): nothing watches this
                // user any more, so every device that relied on the watch is owed RESYNC,
                // and the next successful login starts a new watcher.
                eprintln!("{name}: watch login refused ({t}); watcher stops, devices owe RESYNC");
                running.store(false, std::sync::atomic::Ordering::SeqCst);
                if let Some(v) = uid_validity {
                    let mut st = state.lock().await;
                    let now = Instant::now();
                    st.cache.remove(&cache_key(&user, &inbox));
                    st.server
                        .mailbox_changed(&user, &inbox, MailboxChange::UidValidity(v), now);
                    st.pump(&state, now);
                }
                return;
            }
            Err(LoginError::Unavailable(t) | LoginError::Io(t)) => {
                eprintln!("{name}: watch connect: {t}; retrying in {delay:?}");
                first = false;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        delay = BACKOFF_MIN;
        match b.select(&inbox, true).await {
            Ok(Ok(snap)) => {
                uid_validity = Some(snap.uid_validity);
                if first {
                    // The server learns the initial state from SELECT snapshots; only what
                    // nobody has described yet goes into the cache.
                    let mut st = state.lock().await;
                    let c = st.cache.entry(cache_key(&user, &inbox)).or_default();
                    if c.msgs.is_empty() {
                        c.msgs = snap
                            .messages
                            .iter()
                            .map(|m| (m.uid, (m.flags.clone(), m.props.clone())))
                            .collect();
                    }
                } else {
                    eprintln!(
                        "{name}: watch connection re-established; reporting UIDVALIDITY {} \
                         for INBOX (events may have been missed)",
                        snap.uid_validity
                    );
                    let mut st = state.lock().await;
                    let now = Instant::now();
                    let c = st.cache.entry(cache_key(&user, &inbox)).or_default();
                    c.msgs = snap
                        .messages
                        .iter()
                        .map(|m| (m.uid, (m.flags.clone(), m.props.clone())))
                        .collect();
                    st.server.mailbox_changed(
                        &user,
                        &inbox,
                        MailboxChange::UidValidity(snap.uid_validity),
                        now,
                    );
                    st.pump(&state, now);
                }
            }
            Ok(Err(r)) => {
                eprintln!("{name}: watch EXAMINE INBOX refused: {r:?}; retrying");
                first = false;
                tokio::time::sleep(BACKOFF_MAX).await;
                continue;
            }
            Err(e) => {
                eprintln!("{name}: watch EXAMINE INBOX: {e}");
                first = false;
                tokio::time::sleep(delay).await;
                continue;
            }
        }
        first = false;
        if let Err(e) = watch_loop(&state, &user, &mut b).await {
            eprintln!("{name}: watch connection lost: {e}");
        }
        tokio::time::sleep(delay).await;
    }
}

/// IDLE, collect events, leave IDLE, report, repeat. Returns on connection failure.
///
/// Events that arrive while the watcher is out of IDLE (with the tagged OK of DONE, or in
/// the middle of describing new messages) are kept and handled before IDLE is entered
/// again: a message delivered in that window is announced once, with that response, and
/// never again, so dropping such an event loses the message's push for good.
async fn watch_loop(state: &State, user: &Bytes, b: &mut Backend) -> Result<(), String> {
    let inbox = Mailbox::inbox();
    loop {
        if b.events.is_empty() {
            idle_until_events(b).await?;
        }
        let events = b.take_events();
        let new = events
            .iter()
            .any(|e| matches!(e, MailboxEvent::Exists { .. }));
        let mut changes = events_to_changes(state, user, &inbox, events).await;
        if new {
            let last = {
                let st = state.lock().await;
                st.cache
                    .get(&cache_key(user, &inbox))
                    .and_then(|c| c.msgs.keys().next_back().copied())
                    .unwrap_or(0)
            };
            // (A backend whose last UID is u32::MAX has nothing newer to describe.)
            if let Some(n) = last.checked_add(1).and_then(std::num::NonZeroU32::new) {
                let set =
                    SequenceSet::Ranges(vec![SeqRange::Range(SeqNo::Value(n), SeqNo::Largest)]);
                let c = b.run(describe_cmd(set)).await?;
                let described = described(&c.data);
                // What the describe itself produced is handled here; anything else that
                // came with it (an EXISTS for a message delivered meanwhile, an EXPUNGE,
                // another session's flag change) waits for the next round.
                let pending: Vec<MailboxEvent> = b
                    .take_events()
                    .into_iter()
                    .filter(|e| match e {
                        MailboxEvent::Fetched { .. } => false,
                        MailboxEvent::FlagsChanged { uid: Some(u), .. } => {
                            !described.iter().any(|(d, _, _)| d == u)
                        }
                        _ => true,
                    })
                    .collect();
                b.events = pending;
                for (uid, flags, props) in described {
                    if uid > last {
                        changes.push((inbox.clone(), MailboxChange::New { uid, flags, props }));
                    }
                }
            }
        }
        report(state, user, changes).await;
    }
}

/// Enter IDLE, wait for mailbox events (or [`IDLE_REFRESH`]), leave IDLE. The events stay in
/// `b.events`.
async fn idle_until_events(b: &mut Backend) -> Result<(), String> {
    let h = b.client.idle().map_err(|e| e.to_string())?;
    b.until(|e| matches!(e, Event::IdleStarted(x) if *x == h))
        .await?;
    let deadline = tokio::time::Instant::now() + IDLE_REFRESH;
    loop {
        if !b.events.is_empty() {
            // Let a burst of events arrive before leaving IDLE.
            tokio::time::sleep(Duration::from_millis(50)).await;
            break;
        }
        let n = tokio::select! {
            r = b.stream.read(&mut b.buf) => r.map_err(|e| format!("backend read: {e}"))?,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        if n == 0 {
            return Err("backend closed the connection".into());
        }
        b.client.handle_input(&b.buf[..n], Instant::now());
        b.drain(&|_| false).await?;
    }
    b.client.done().map_err(|e| e.to_string())?;
    b.wait(h).await?;
    Ok(())
}

// ------------------------------------------------------------------------------------------
// SMTP submission

async fn smtp_reply(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Result<(u16, String), String> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(BACKEND_TIMEOUT, r.read_line(&mut line))
            .await
            .map_err(|_| "SMTP server timed out".to_string())?
            .map_err(|e| format!("SMTP read: {e}"))?;
        if n == 0 {
            return Err("SMTP server closed the connection".into());
        }
        let line = line.trim_end();
        let code: u16 = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad SMTP reply {line:?}"))?;
        text.push_str(line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
        text.push(' ');
    }
}

/// The recipients: the explicit envelope, else the To/Cc/Bcc header addresses.
fn recipients(sub: &Submission) -> Vec<String> {
    if let Some(env) = &sub.envelope {
        return env
            .iter()
            .filter_map(|a| match (&a.mailbox, &a.host) {
                (Some(m), Some(h)) => Some(format!("{}@{}", m.to_str_lossy(), h.to_str_lossy())),
                _ => None,
            })
            .collect();
    }
    let props = props_from_message(&sub.message);
    let mut out = Vec::new();
    for (n, v) in &props.headers {
        if !["to", "cc", "bcc"].contains(&String::from_utf8_lossy(n).to_ascii_lowercase().as_str())
        {
            continue;
        }
        for part in String::from_utf8_lossy(v).split(',') {
            let part = part.trim();
            let addr = match (part.find('<'), part.rfind('>')) {
                (Some(a), Some(b)) if a < b => &part[a + 1..b],
                _ => part,
            };
            if addr.contains('@') && !addr.contains(char::is_whitespace) {
                out.push(addr.to_string());
            }
        }
    }
    out
}

async fn submit(addr: SocketAddr, sub: &Submission) -> Result<(), String> {
    let rcpts = recipients(sub);
    if rcpts.is_empty() {
        return Err("no recipients".into());
    }
    let stream = tokio::time::timeout(BACKEND_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| "SMTP connect timed out".to_string())?
        .map_err(|e| format!("SMTP connect {addr}: {e}"))?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let expect = |got: (u16, String), want: u16, what: &str| -> Result<(), String> {
        if got.0 == want {
            Ok(())
        } else {
            Err(format!("SMTP {what}: {}", got.1))
        }
    };
    expect(smtp_reply(&mut rd).await?, 220, "greeting")?;
    expect(
        send_raw(&mut wr, b"EHLO localhost\r\n", &mut rd).await?,
        250,
        "EHLO",
    )?;
    let from = format!("{}@localhost", String::from_utf8_lossy(&sub.user));
    expect(
        send_raw(
            &mut wr,
            format!("MAIL FROM:<{from}>\r\n").as_bytes(),
            &mut rd,
        )
        .await?,
        250,
        "MAIL FROM",
    )?;
    for r in &rcpts {
        let got = send_raw(&mut wr, format!("RCPT TO:<{r}>\r\n").as_bytes(), &mut rd).await?;
        if !(got.0 == 250 || got.0 == 251) {
            return Err(format!("SMTP RCPT TO:<{r}>: {}", got.1));
        }
    }
    expect(send_raw(&mut wr, b"DATA\r\n", &mut rd).await?, 354, "DATA")?;
    // Dot-stuffing: a line starting with '.' gets another '.'.
    let mut data = Vec::with_capacity(sub.message.len() + 16);
    let mut at_line_start = true;
    for &c in sub.message.iter() {
        if at_line_start && c == b'.' {
            data.push(b'.');
        }
        data.push(c);
        at_line_start = c == b'\n';
    }
    if !data.ends_with(b"\r\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    expect(send_raw(&mut wr, &data, &mut rd).await?, 250, "end of DATA")?;
    let _ = send_raw(&mut wr, b"QUIT\r\n", &mut rd).await;
    Ok(())
}

async fn send_raw(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    bytes: &[u8],
    rd: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Result<(u16, String), String> {
    wr.write_all(bytes)
        .await
        .map_err(|e| format!("SMTP write: {e}"))?;
    smtp_reply(rd).await
}

// ------------------------------------------------------------------------------------------
// device connections

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let cfg = Arc::new(parse_args());
    let listener = TcpListener::bind(("127.0.0.1", cfg.listen_port)).await?;
    let mut config = ServerConfig::default();
    // Backpressure: connection tasks report what they wrote (`transmitted`).
    config.output_budget = Some(1 << 20);
    let mut server = Server::new(config);
    server.set_unix_time(unix_now());
    let udp = match cfg.notify {
        NotifyCfg::Udp(to) => Some((std::net::UdpSocket::bind(("127.0.0.1", 0))?, to)),
        NotifyCfg::Log => None,
    };
    let state: State = Arc::new(Mutex::new(Shared {
        server,
        writers: HashMap::new(),
        workers: HashMap::new(),
        cache: HashMap::new(),
        udp,
        cfg: cfg.clone(),
    }));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
    }
    eprintln!(
        "backend {} smtp {:?} notify {:?}",
        cfg.backend, cfg.smtp, cfg.notify
    );
    tokio::spawn(timers(state.clone()));
    let accept = accept_loop(listener, state);
    match cfg.max_seconds {
        Some(n) => {
            if tokio::time::timeout(Duration::from_secs(n), accept)
                .await
                .is_err()
            {
                eprintln!("--max-seconds {n} reached; exiting");
            }
        }
        None => accept.await,
    }
    Ok(())
}

async fn timers(state: State) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut st = state.lock().await;
        st.server.set_unix_time(unix_now());
        if st.server.poll_timeout().is_some_and(|t| t <= now) {
            st.server.handle_timeout(now);
            st.pump(&state, now);
        }
    }
}

async fn accept_loop(listener: TcpListener, state: State) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(connection(stream, peer, state.clone()));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, state: State) {
    let _ = stream.set_nodelay(true);
    let (tx, mut rx) = mpsc::channel(WRITE_QUEUE);
    let conn = {
        let mut st = state.lock().await;
        let now = Instant::now();
        // The per-address cap applies to remote peers; loopback is a local proxy or test.
        let accepted = if peer.ip().is_loopback() {
            st.server.accept(now)
        } else {
            st.server.accept_from(now, peer.ip())
        };
        match accepted {
            Ok(conn) => {
                st.writers.insert(conn, tx);
                st.pump(&state, now);
                conn
            }
            Err(e) => {
                eprintln!("refusing {peer}: {e}");
                let _ = stream.write_all(b"* BYE too many connections\r\n").await;
                return;
            }
        }
    };
    eprintln!("conn {}: accepted from {peer}", conn.0);
    let mut buf = vec![0u8; 16 * 1024];
    let why = loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Data(data)) => {
                    if let Err(e) = stream.write_all(&data).await {
                        break format!("write failed: {e}");
                    }
                    let mut st = state.lock().await;
                    let now = Instant::now();
                    st.server.transmitted(conn, data.len(), now);
                    st.pump(&state, now);
                }
                Some(Out::Close) => break "closed by server".to_string(),
                None => break "dropped by server".to_string(),
            },
            n = stream.read(&mut buf) => {
                let n = match n {
                    Ok(0) => break "closed by peer".to_string(),
                    Ok(n) => n,
                    Err(e) => break format!("read failed: {e}"),
                };
                // ACK at once: a client's Nagle must not wait for our delayed ACK.
                #[cfg(target_os = "linux")]
                let _ = socket2::SockRef::from(&stream).set_tcp_quickack(true);
                let mut st = state.lock().await;
                let now = Instant::now();
                if let Err(e) = st.server.handle_input(conn, &buf[..n], now) {
                    break format!("server: {e}");
                }
                st.pump(&state, now);
            }
        }
    };
    rx.close();
    while let Some(Out::Data(data)) = rx.recv().await {
        if stream.write_all(&data).await.is_err() {
            break;
        }
    }
    let _ = stream.shutdown().await;
    {
        let mut st = state.lock().await;
        let now = Instant::now();
        if st.writers.remove(&conn).is_some() {
            st.server.handle_close(conn, now);
            st.pump(&state, now);
        }
    }
    eprintln!("conn {}: {why}", conn.0);
}
