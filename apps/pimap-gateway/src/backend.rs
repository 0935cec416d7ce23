//! One connection to the backend IMAP server, driven by this crate's sans-IO client.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use pimap_tokio::{Security, Transport};

use crate::config::Config;

use crate::BACKEND_TIMEOUT;
use pimap::client::{
    Client, ClientConfig, Completion, Event, MailboxEvent, Output as ClientOutput,
};
use pimap::server::{MailboxSnapshot, MessageProps, MessageSnapshot, Reply};
use pimap::types::{
    Address, Code, CommandBody, Data, Envelope, FetchAttr, FetchItem, FetchItems, Flag, IString,
    Mailbox, SeqNo, SeqRange, SequenceSet,
};

pub(crate) struct Backend {
    pub(crate) client: Client,
    pub(crate) stream: Transport,
    pub(crate) buf: Vec<u8>,
    /// Mailbox events seen since the last `take_events`.
    pub(crate) events: Vec<MailboxEvent>,
    /// The mailbox selected on this connection and whether read-only.
    pub(crate) selected: Option<(Mailbox, bool)>,
    /// The watch connection's INBOX event count ([`Shared::watch_events`]) when this
    /// connection last synchronised INBOX (SELECT or NOOP).
    ///
    /// [`Shared::watch_events`]: crate::shared::Shared::watch_events
    pub(crate) synced: u64,
}

pub(crate) enum LoginError {
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
pub(crate) fn credentials_rejected(code: Option<&Code>) -> bool {
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
    /// Connect (TLS as configured) and log in; counted in the metrics.
    pub(crate) async fn connect(
        cfg: &Config,
        user: &str,
        password: &str,
    ) -> Result<Self, LoginError> {
        let r = Self::connect_once(cfg, user, password).await;
        match &r {
            Ok(_) => crate::metrics::BACKEND_LOGINS.inc(),
            Err(LoginError::Refused(_)) => crate::metrics::BACKEND_REFUSED.inc(),
            Err(_) => crate::metrics::BACKEND_FAILED.inc(),
        }
        r
    }

    async fn connect_once(cfg: &Config, user: &str, password: &str) -> Result<Self, LoginError> {
        let addr = cfg.backend;
        let io = |what: &str, e: String| LoginError::Io(format!("{what} {addr}: {e}"));
        let stream = tokio::time::timeout(BACKEND_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| io("connect", "timed out".into()))?
            .map_err(|e| io("connect", e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let mut b = Backend {
            client: Client::new(ClientConfig::default()),
            stream: Transport::Plain(stream),
            buf: vec![0; 64 * 1024],
            events: Vec::new(),
            selected: None,
            synced: 0,
        };
        if let Security::Tls {
            config,
            server_name,
        } = &cfg.backend_security
        {
            let hs = b.stream.connect_tls(config.clone(), server_name.clone());
            tokio::time::timeout(BACKEND_TIMEOUT, hs)
                .await
                .map_err(|_| io("TLS with", "timed out".into()))?
                .map_err(|e| io("TLS with", e.to_string()))?;
        }
        b.until(|e| matches!(e, Event::Greeting { .. }))
            .await
            .map_err(LoginError::Io)?;
        if let Security::StartTls {
            config,
            server_name,
        } = &cfg.backend_security
        {
            // Never a silent downgrade: no STARTTLS, no login.
            if !b.client.capabilities().has("STARTTLS") {
                return Err(io("STARTTLS with", "not offered".into()));
            }
            let c = b.run(CommandBody::StartTls).await.map_err(LoginError::Io)?;
            if !c.is_ok() {
                return Err(io("STARTTLS with", "refused".into()));
            }
            let hs = b.stream.connect_tls(config.clone(), server_name.clone());
            tokio::time::timeout(BACKEND_TIMEOUT, hs)
                .await
                .map_err(|_| io("TLS with", "timed out".into()))?
                .map_err(|e| io("TLS with", e.to_string()))?;
            // Capabilities learned over plaintext are forgotten (RFC 3501 6.2.1).
            b.run(CommandBody::Capability)
                .await
                .map_err(LoginError::Io)?;
        }
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
    pub(crate) async fn until(&mut self, done: impl Fn(&Event) -> bool) -> Result<Event, String> {
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
    pub(crate) async fn drain(
        &mut self,
        done: &impl Fn(&Event) -> bool,
    ) -> Result<Option<Event>, String> {
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

    pub(crate) async fn wait(
        &mut self,
        h: pimap::client::CommandHandle,
    ) -> Result<Completion, String> {
        match self
            .until(|e| matches!(e, Event::Completed(c) if c.handle == h))
            .await?
        {
            Event::Completed(c) => Ok(c),
            _ => Err("unexpected event".into()),
        }
    }

    /// Run one command to completion; `Err` only for connection failures.
    pub(crate) async fn run(&mut self, body: CommandBody) -> Result<Completion, String> {
        let h = self.client.enqueue(body).map_err(|e| e.to_string())?;
        self.wait(h).await
    }

    /// LOGOUT, waiting at most two seconds for the answer; the connection closes either way.
    pub(crate) async fn logout(mut self) {
        let t = std::time::Duration::from_secs(2);
        let _ = tokio::time::timeout(t, self.run(CommandBody::Logout)).await;
        let _ = self.stream.shutdown().await;
    }

    /// Select `mailbox` (if not already) and describe every message. Returns the snapshot.
    pub(crate) async fn select(
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

    /// The mailbox events since the last call. An EXPUNGE of a message whose UID this
    /// connection never learnt cannot be reported; the mailbox is then selected afresh
    /// before the next operation, whose snapshot reports the difference.
    pub(crate) fn take_events(&mut self) -> Vec<MailboxEvent> {
        if self
            .events
            .iter()
            .any(|e| matches!(e, MailboxEvent::Expunged { uid: None, .. }))
        {
            eprintln!("expunge of a message of unknown UID; the mailbox is resynchronised");
            self.selected = None;
        }
        std::mem::take(&mut self.events)
    }

    /// Learn the UID of every message of the selected mailbox that arrived since it was
    /// selected (`* n EXISTS` says only how many there are): `FETCH first:* (UID FLAGS)`
    /// for the first unknown one on. Without it, an EXPUNGE or MOVE of such a message could
    /// not be told to devices. `Err` = connection failure.
    pub(crate) async fn learn_uids(&mut self) -> Result<(), String> {
        let first = self.client.mailbox().and_then(|v| {
            v.messages()
                .iter()
                .position(|m| m.uid.is_none())
                .and_then(|i| u32::try_from(i + 1).ok())
        });
        let Some(first) = first.and_then(std::num::NonZeroU32::new) else {
            return Ok(());
        };
        let set = SequenceSet::Ranges(vec![SeqRange::Range(SeqNo::Value(first), SeqNo::Largest)]);
        let c = self
            .run(CommandBody::Fetch {
                uid: false,
                set,
                items: FetchItems::List(vec![FetchAttr::Uid, FetchAttr::Flags]),
                modifiers: Vec::new(),
            })
            .await?;
        if !c.is_ok() {
            eprintln!("learning UIDs: {:?}", c.status);
        }
        Ok(())
    }
}

pub(crate) fn no_of(c: &Completion) -> Reply {
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

pub(crate) fn describe_cmd(set: SequenceSet) -> CommandBody {
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

pub(crate) fn uid_of(items: &[FetchItem]) -> Option<u32> {
    items.iter().find_map(|i| match i {
        FetchItem::Uid(u) => Some(*u),
        _ => None,
    })
}

/// (uid, flags, props) of the FETCH responses of a [`describe_cmd`] fetch.
/// The flags without `\Recent`: on a backend connection it says what is new to that
/// connection, which shares nothing with any device's session (the gateway offers no
/// \Recent: SELECT says `* 0 RECENT`, STATUS `RECENT 0`).
pub(crate) fn without_recent(flags: &[Flag]) -> Vec<Flag> {
    flags
        .iter()
        .filter(|f| !matches!(f, Flag::Recent))
        .cloned()
        .collect()
}

pub(crate) fn described(data: &[Data]) -> Vec<(u32, Vec<Flag>, Arc<MessageProps>)> {
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
                FetchItem::Flags(f) => flags = without_recent(f),
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

pub(crate) fn addr_text(a: &Address) -> String {
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

pub(crate) fn props_from_envelope(mut props: MessageProps, e: &Envelope) -> MessageProps {
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
pub(crate) fn props_from_message(msg: &[u8]) -> MessageProps {
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

pub(crate) fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A sequence set of UIDs, consecutive runs as ranges.
pub(crate) fn uid_set(uids: &[u32]) -> Option<SequenceSet> {
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

pub(crate) fn set_values(set: &SequenceSet) -> Vec<u32> {
    set.iter(u32::MAX).take(1_000_000).collect()
}
