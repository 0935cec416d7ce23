//! The client state machine.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::capabilities::ServerCapabilities;
use super::config::ClientConfig;
use super::event::{
    CommandHandle, Completion, Event, GreetingKind, LoginOutcome, MacroHandle, Output,
};
use super::macros::{ClientMacro, MacroError};
use super::mailbox::MailboxView;
use super::sync::{plan, LocalFolder, ServerListing};
use pimap_codec::base64::{base64_decode, base64_encode};
use pimap_codec::{Encode, EncodeOptions, Fragment, ResponseDecoder};
use pimap_types::{
    Atom, ClientMessage, Code, Command, CommandBody, Data, FetchItems, Flag, IString, LiteralMode,
    LoginName, Mailbox, PrefCommandName, PrefName, PrefSetting, Response, ResumeCursor, Secret,
    SequenceSet, SessionState, Status, StatusResponse, StoreKind, Tag, XDeliverCommand,
    XFilterCommand, XMacroCommand, XZipCommand,
};

/// The IMAP connection state (RFC 3501 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientState {
    /// Waiting for the server greeting.
    Greeting,
    /// Connected, not logged in.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected(Mailbox),
    /// LOGOUT completed or the server said BYE.
    Logout,
}

/// Why a command could not be enqueued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// More than `max_queued_commands` commands are outstanding.
    #[error("too many commands outstanding (limit {0})")]
    QueueFull(usize),
    /// The connection is logged out.
    #[error("the connection is logged out")]
    LoggedOut,
    /// DONE was asked for but no IDLE is running.
    #[error("no IDLE to end")]
    NotIdling,
    /// A sync needs a selected mailbox with a known UIDVALIDITY.
    #[error("no selected mailbox with a known UIDVALIDITY")]
    NoSelectedMailbox,
    /// A value given to a typed helper is not valid IMAP.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A macro could not be expanded.
    #[error(transparent)]
    Macro(#[from] MacroError),
}

/// What the client must remember about a command until its tagged response.
#[derive(Debug)]
struct InFlight {
    handle: CommandHandle,
    tag: Tag,
    command: &'static str,
    kind: Kind,
    data: Vec<Data>,
    truncated: bool,
    macro_run: Option<u64>,
    inner: Vec<StatusResponse>,
    codes: Vec<Code>,
}

/// Commands whose completion changes the client's state.
#[derive(Debug, Clone)]
enum Kind {
    Plain,
    Login {
        device: bool,
    },
    Select {
        mailbox: Mailbox,
    },
    Idle,
    Authenticate {
        device: bool,
    },
    Logout,
    SyncListing {
        local: LocalFolder,
        mailbox: Mailbox,
    },
    Compress,
    /// XMACRO RUN: inner tags are `<tag>.n`.
    MacroRun,
    /// XZIP: the wrapped command's tag (`None` for INLINE, whose inner tag is not known).
    XZip {
        inner: Option<Tag>,
    },
}

/// A command not yet fully written to the wire.
#[derive(Debug)]
struct Outgoing {
    tag: Tag,
    kind: Kind,
    fragments: VecDeque<Fragment>,
    /// Waits for a `+` after its last fragment (IDLE, AUTHENTICATE).
    waits_after: bool,
    /// Moved to `in_flight` when the first byte of the command is written: from then on the
    /// server may answer it (even before a synchronizing literal is accepted).
    inflight: Option<InFlight>,
}

/// What a `+` from the server answers.
#[derive(Debug)]
enum Awaiting {
    /// Nothing: a `+` is unexpected.
    Nothing,
    /// A synchronizing literal of the head of the send queue.
    Literal,
    /// IDLE's `+` (by tag).
    Idle(Tag),
    /// AUTHENTICATE's challenges (by tag).
    Authenticate(Tag),
}

#[derive(Debug)]
enum IdleState {
    Off,
    /// IDLE sent, `+` not yet received.
    Starting,
    /// IDLE active since the instant.
    Active {
        since: Instant,
    },
    /// DONE sent; waiting for the tagged completion.
    Ending,
}

/// Buffered untagged data during LOGIN (spec §6.2, E-73).
#[derive(Debug, Default)]
struct LoginTracker {
    session: Option<SessionState>,
    folder: Option<Mailbox>,
    resync: bool,
    events: Vec<Data>,
    overflow: bool,
}

#[derive(Debug)]
struct MacroRun {
    id: u64,
    name: String,
    remaining: usize,
    results: Vec<Completion>,
}

/// A sans-IO IMAP / P-IMAP client session.
///
/// Feed it the server's bytes with [`handle_input`](Self::handle_input), enqueue commands with
/// [`enqueue`](Self::enqueue) or the typed helpers, and drain [`poll_output`](Self::poll_output)
/// after every call: it yields the bytes to send and typed [`Event`]s, in order.
/// Time comes from the caller (`now`); [`poll_timeout`](Self::poll_timeout) says when
/// [`handle_timeout`](Self::handle_timeout) must be called (IDLE refresh).
///
/// ```
/// use pimap_client::{Client, ClientConfig, Event, LoginOutcome, Output};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let mut c = Client::new(ClientConfig::default());
/// c.handle_input(b"* OK [CAPABILITY IMAP4rev1 IDLE XPIMAPV1R1] ready\r\n", now);
/// c.login("joe#P6505551234", "secret").unwrap();
/// let wire: Vec<u8> = std::iter::from_fn(|| c.poll_output())
///     .filter_map(|o| match o { Output::Transmit(b) => Some(b.to_vec()), _ => None })
///     .flatten()
///     .collect();
/// assert_eq!(wire, b"A0001 LOGIN joe#P6505551234 secret\r\n");
///
/// // The session resumes in INBOX with one queued event.
/// c.handle_input(b"* SESSION SELECTED\r\n* FOLDER INBOX\r\n* 14 EXISTS\r\n", now);
/// c.handle_input(b"* SESSIONID 123456\r\nA0001 OK LOGIN completed\r\n", now);
/// let events: Vec<Event> = std::iter::from_fn(|| c.poll_output())
///     .filter_map(|o| match o { Output::Event(e) => Some(e), _ => None })
///     .collect();
/// assert!(events.iter().any(|e| matches!(e,
///     Event::LoggedIn(LoginOutcome::ResumedSelected { events: 1, .. }))));
/// assert_eq!(c.mailbox().map(|m| m.exists()), Some(14));
///
/// // A pushed flag change is applied to the view and reported.
/// c.handle_input(b"* 3 FETCH (FLAGS (\\Seen))\r\n", now);
/// assert!(std::iter::from_fn(|| c.poll_output()).any(|o| matches!(o,
///     Output::Event(Event::Mailbox(_)))));
/// ```
pub struct Client {
    config: ClientConfig,
    state: ClientState,
    decoder: ResponseDecoder,
    /// COMPRESS=DEFLATE is active (RFC 4978).
    deflate: Option<pimap_codec::compress::DeflateStream>,
    /// Inflater and response decoder of the XZIP response in progress.
    xzip: Option<(pimap_codec::compress::XZipDecoder, ResponseDecoder)>,
    caps: ServerCapabilities,
    next_tag: u64,
    next_handle: u64,
    send_queue: VecDeque<Outgoing>,
    in_flight: VecDeque<InFlight>,
    awaiting: Awaiting,
    outputs: VecDeque<Output>,
    idle: IdleState,
    reidle: bool,
    login: Option<LoginTracker>,
    session_id: Option<Secret<Atom>>,
    view: Option<MailboxView>,
    /// A view cached from an earlier connection, used when LOGIN resumes that mailbox.
    cached_view: Option<MailboxView>,
    qresync: bool,
    macros: Vec<MacroRun>,
    next_macro: u64,
    compress_pending: bool,
    /// Plain octets fed to the response decoder on this connection.
    fed: u64,
    /// Stream position after the response being handled.
    pos: u64,
    /// XRESUME: the position of the last response applied, and where the epoch's offsets
    /// start on this connection.
    resume: Option<ResumeCursor>,
    resume_base: Option<u64>,
}

/// Shows the state, not the queued bytes (a LOGIN's password may be among them).
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state)
            .field("capabilities", &self.caps)
            .field("queued", &self.send_queue.len())
            .field("in_flight", &self.in_flight.len())
            .field("outputs", &self.outputs.len())
            .field("idling", &self.is_idling())
            .field("compressed", &self.deflate.is_some())
            .field("mailbox", &self.view.as_ref().map(|v| v.name()))
            .field("resume", &self.resume)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client that waits for the server greeting.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            decoder: ResponseDecoder::new(config.decoder),
            deflate: None,
            xzip: None,
            config,
            state: ClientState::Greeting,
            caps: ServerCapabilities::default(),
            next_tag: 1,
            next_handle: 1,
            send_queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            awaiting: Awaiting::Nothing,
            outputs: VecDeque::new(),
            idle: IdleState::Off,
            reidle: false,
            login: None,
            session_id: None,
            view: None,
            cached_view: None,
            qresync: false,
            macros: Vec::new(),
            next_macro: 1,
            compress_pending: false,
            fed: 0,
            pos: 0,
            resume: None,
            resume_base: None,
        }
    }

    /// The `XRESUME` position: the last response of a device session this client applied
    /// (see [`ResumeCursor`]). Keep it with the mailbox view across connections and give it
    /// back with [`restore_cursor`](Self::restore_cursor): the next login then resumes
    /// exactly after it, with no event lost or applied twice, even if the connection died
    /// with pushed data in flight.
    pub fn resume_cursor(&self) -> Option<ResumeCursor> {
        self.resume
    }

    /// Carry an `XRESUME` position from an earlier connection (with
    /// [`restore_view`](Self::restore_view)). It is sent before LOGIN / AUTHENTICATE when the
    /// server advertises `XRESUME`.
    pub fn restore_cursor(&mut self, cursor: ResumeCursor) {
        self.resume = Some(cursor);
    }

    /// `XRESUME` before a login, when the server offers it.
    fn send_resume_position(&mut self) -> Result<(), ClientError> {
        if self.config.resume_positions
            && self.caps.has("XRESUME")
            && self.state == ClientState::NotAuthenticated
        {
            self.enqueue(CommandBody::XResume(self.resume))?;
        }
        Ok(())
    }

    /// A response was handled: the position advances, except while a LOGIN's events are
    /// held until its tagged OK (they are not applied yet).
    fn advance_cursor(&mut self) {
        if self.login.is_some() {
            return;
        }
        if let (Some(base), Some(c)) = (self.resume_base, self.resume.as_mut()) {
            c.offset = self.pos.saturating_sub(base);
        }
    }

    // ------------------------------------------------------------------ accessors

    /// The connection state.
    pub fn state(&self) -> &ClientState {
        &self.state
    }

    /// The server's capabilities, as last announced.
    pub fn capabilities(&self) -> &ServerCapabilities {
        &self.caps
    }

    /// The view of the selected mailbox, if any.
    pub fn mailbox(&self) -> Option<&MailboxView> {
        self.view.as_ref()
    }

    /// Offer the view of a mailbox kept from an earlier connection (e.g. `mailbox().cloned()`
    /// before the old connection was dropped). When a P-IMAP LOGIN resumes the session in
    /// SELECTED state on that mailbox (spec §6.2), the queued events are applied to this
    /// view, so event-based sync continues across the reconnect; otherwise it is discarded.
    pub fn restore_view(&mut self, view: MailboxView) {
        self.cached_view = Some(view);
    }

    /// The P-IMAP session id (`* SESSIONID`), a bearer token.
    pub fn session_id(&self) -> Option<&Secret<Atom>> {
        self.session_id.as_ref()
    }

    /// Is IDLE active (the server may push)?
    pub fn is_idling(&self) -> bool {
        matches!(self.idle, IdleState::Active { .. })
    }

    /// The tag a command was (or will be) sent with, until it completes.
    pub fn tag_of(&self, handle: CommandHandle) -> Option<&Tag> {
        self.in_flight
            .iter()
            .find(|f| f.handle == handle)
            .map(|f| &f.tag)
            .or_else(|| {
                self.send_queue
                    .iter()
                    .filter_map(|o| o.inflight.as_ref())
                    .find(|f| f.handle == handle)
                    .map(|f| &f.tag)
            })
    }

    /// Commands enqueued and not yet completed.
    pub fn outstanding(&self) -> usize {
        self.in_flight.len()
            + self
                .send_queue
                .iter()
                .filter(|o| o.inflight.is_some())
                .count()
    }

    /// The encoding options in use: the dialect (configured or detected) and LITERAL+.
    pub fn encode_options(&self) -> EncodeOptions {
        EncodeOptions {
            dialect: self.config.dialect.unwrap_or_else(|| self.caps.dialect()),
            literal_plus: self.caps.literal_plus(),
        }
    }

    // ------------------------------------------------------------------ sans-IO surface

    /// Bytes from the server. Decodes every complete response and updates the state.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        match self.deflate.as_mut() {
            Some(d) => match d.decompress(bytes) {
                Ok(plain) => {
                    self.fed += plain.len() as u64;
                    self.decoder.feed(&plain)
                }
                Err(e) => {
                    self.event(Event::CompressionError(Box::new(e)));
                    return;
                }
            },
            None => {
                self.fed += bytes.len() as u64;
                self.decoder.feed(bytes)
            }
        }
        loop {
            match self.decoder.next() {
                Ok(Some(r)) => {
                    self.pos = self.fed.saturating_sub(self.decoder.buffered_len() as u64);
                    self.on_response(r, now);
                    self.advance_cursor();
                    // Send what the response unblocked before reading the next one.
                    self.flush();
                }
                Ok(None) => break,
                Err(e) => self.event(Event::ProtocolError(e)),
            }
        }
        self.flush();
    }

    /// The next output (bytes to send or an event), or `None` when drained.
    #[must_use = "outputs must be drained: bytes to send, events, requests"]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    #[must_use = "the caller must arrange to call handle_timeout then"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.idle {
            IdleState::Active { since, .. } => since.checked_add(self.config.idle_refresh),
            _ => None,
        }
    }

    /// Time has passed: refresh IDLE if its limit is reached (DONE, then IDLE again).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|t| now >= t) {
            self.reidle = true;
            self.send_done();
        }
        self.flush();
    }

    /// Enqueue any command; the machine assigns the tag. While IDLE is active, DONE is sent
    /// first.
    pub fn enqueue(&mut self, body: CommandBody) -> Result<CommandHandle, ClientError> {
        self.enqueue_inner(body, None)
    }

    // ------------------------------------------------------------------ typed helpers

    /// `LOGIN user password`. A user name of the form `user#device[@domain]` opens or resumes
    /// a P-IMAP session (spec §3.3).
    pub fn login(&mut self, user: &str, password: &str) -> Result<CommandHandle, ClientError> {
        let username = istring(user)?;
        let password = Secret::new(istring(password)?);
        self.send_resume_position()?;
        self.enqueue(CommandBody::Login { username, password })
    }

    /// `AUTHENTICATE PLAIN` with the initial response (SASL-IR), for `user#device` too.
    pub fn authenticate_plain(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<CommandHandle, ClientError> {
        let mut raw = Vec::with_capacity(user.len() + password.len() + 2);
        raw.push(0);
        raw.extend_from_slice(user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(password.as_bytes());
        let ir = base64_encode(&raw);
        self.send_resume_position()?;
        self.enqueue(CommandBody::Authenticate {
            mechanism: atom("PLAIN")?,
            initial_response: Some(Secret::new(Bytes::from(ir))),
        })
    }

    /// Answer an [`Event::AuthChallenge`] with a base64 line (or `*` to cancel).
    pub fn authenticate_continue(&mut self, data: &[u8]) {
        let mut line = data.to_vec();
        line.extend_from_slice(b"\r\n");
        self.transmit(Bytes::from(line));
        self.flush();
    }

    /// `SELECT mailbox` (with `(CONDSTORE)` not requested).
    pub fn select(&mut self, mailbox: &str) -> Result<CommandHandle, ClientError> {
        let mailbox = mbox(mailbox)?;
        self.enqueue(CommandBody::Select {
            mailbox,
            params: Vec::new(),
        })
    }

    /// `[UID] FETCH set items`.
    pub fn fetch(
        &mut self,
        uid: bool,
        set: SequenceSet,
        items: FetchItems,
    ) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::Fetch {
            uid,
            set,
            items,
            modifiers: Vec::new(),
        })
    }

    /// `[UID] STORE set [+|-]FLAGS[.SILENT] (flags)`.
    pub fn store(
        &mut self,
        uid: bool,
        set: SequenceSet,
        kind: StoreKind,
        flags: Vec<Flag>,
    ) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::Store {
            uid,
            set,
            unchanged_since: None,
            kind,
            silent: false,
            flags,
        })
    }

    /// `IDLE`: the server pushes events until [`done`](Self::done).
    pub fn idle(&mut self) -> Result<CommandHandle, ClientError> {
        self.reidle = false;
        self.enqueue(CommandBody::Idle)
    }

    /// `DONE`: leave IDLE.
    pub fn done(&mut self) -> Result<(), ClientError> {
        self.reidle = false;
        match self.idle {
            IdleState::Active { .. } | IdleState::Starting => {
                self.send_done();
                self.flush();
                Ok(())
            }
            _ => Err(ClientError::NotIdling),
        }
    }

    /// `COMPRESS DEFLATE` (RFC 4978): after its tagged OK every byte in both directions is
    /// raw DEFLATE with a sync flush per burst. Nothing else is sent while it is in flight.
    pub fn compress(&mut self) -> Result<CommandHandle, ClientError> {
        let mechanism =
            Atom::new(&b"DEFLATE"[..]).map_err(|e| ClientError::InvalidArgument(e.to_string()))?;
        self.enqueue(CommandBody::Compress { mechanism })
    }

    /// Is COMPRESS=DEFLATE active?
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// `NOOP`: the canonical poll for pending events.
    pub fn noop(&mut self) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::Noop)
    }

    /// `LOGOUT`.
    pub fn logout(&mut self) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::Logout)
    }

    /// `XSETPIMAPPREF setting` (the command name of the dialect in use).
    pub fn set_pref(&mut self, setting: PrefSetting) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XSetPimapPref {
            name: self.pref_command_name(),
            setting,
        })
    }

    /// `XGETPIMAPPREFS names` (all preferences when `names` is empty).
    pub fn get_prefs(&mut self, prefs: Vec<PrefName>) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XGetPimapPrefs {
            name: self.pref_command_name(),
            prefs,
        })
    }

    /// `XFILTER ...` (GET or SET, any generation).
    pub fn xfilter(&mut self, cmd: XFilterCommand) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XFilter(cmd))
    }

    /// `XPROVISION`.
    pub fn xprovision(&mut self) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XProvision {
            device_id: None,
            notif_id: None,
        })
    }

    /// `XDELIVER ...`: submit a message (the completion's code carries APPENDUID with SAVETO).
    pub fn xdeliver(&mut self, cmd: XDeliverCommand) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XDeliver(cmd))
    }

    /// `XZIP ...`.
    pub fn xzip(&mut self, cmd: XZipCommand) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XZip(cmd))
    }

    /// `XZIP INLINE ~{n}` (-07+): send `inner` (tag included) raw-DEFLATE-compressed; the
    /// response comes back as XZIP blocks, inflated and handled like any other response.
    /// Worth it for large commands (XDELIVER, APPEND); a synchronizing literal inside
    /// `inner` is sent as part of the compressed data.
    pub fn xzip_inline(
        &mut self,
        inner: pimap_types::Command,
    ) -> Result<CommandHandle, ClientError> {
        let plain = inner.to_bytes_with(EncodeOptions {
            literal_plus: true,
            ..self.encode_options()
        });
        let mut d = pimap_codec::compress::Deflater::new(pimap_codec::compress::DEFAULT_LEVEL);
        let mut data = Vec::new();
        d.compress(&plain, &mut data);
        d.finish(&mut data);
        let kind = Kind::XZip {
            inner: Some(inner.tag.clone()),
        };
        let body = CommandBody::XZip(XZipCommand::Inline(pimap_types::Literal8::binary(data)));
        self.enqueue_kind(body, None, Some(kind))
    }

    /// `XTERSE ON|OFF` (-00/-01).
    pub fn xterse(&mut self, on: bool) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XTerse(on))
    }

    /// `XMACRO ...` (this crate's wire-level macro extension).
    pub fn xmacro(&mut self, cmd: XMacroCommand) -> Result<CommandHandle, ClientError> {
        self.enqueue(CommandBody::XMacro(cmd))
    }

    /// Start a state-comparison sync of the selected mailbox: sends `UID FETCH 1:* (UID
    /// FLAGS)` and, on completion, reports [`Event::SyncPlanned`] comparing the listing with
    /// `local`.
    pub fn sync(&mut self, local: LocalFolder) -> Result<CommandHandle, ClientError> {
        let mailbox = match (&self.state, &self.view) {
            (ClientState::Selected(m), Some(v)) if v.uid_validity().is_some() => m.clone(),
            _ => return Err(ClientError::NoSelectedMailbox),
        };
        let body = super::sync::listing_command();
        self.enqueue_kind(body, None, Some(Kind::SyncListing { local, mailbox }))
    }

    /// Send a client-side macro as one pipeline; its results arrive as
    /// one [`Event::MacroCompleted`].
    pub fn run_macro(
        &mut self,
        m: &ClientMacro,
        args: &[&str],
    ) -> Result<MacroHandle, ClientError> {
        let bodies = m.expand(args, self.encode_options())?;
        if self.outstanding() + bodies.len() > self.config.max_queued_commands {
            return Err(ClientError::QueueFull(self.config.max_queued_commands));
        }
        let id = self.next_macro;
        self.next_macro += 1;
        self.macros.push(MacroRun {
            id,
            name: m.name().to_string(),
            remaining: bodies.len(),
            results: Vec::new(),
        });
        for b in bodies {
            self.enqueue_inner(b, Some(id))?;
        }
        Ok(MacroHandle(id))
    }

    // ------------------------------------------------------------------ internals: sending

    fn pref_command_name(&self) -> PrefCommandName {
        match self.encode_options().dialect {
            pimap_codec::Dialect::Draft01 => PrefCommandName::Draft01,
            _ => PrefCommandName::Current,
        }
    }

    fn enqueue_inner(
        &mut self,
        body: CommandBody,
        macro_run: Option<u64>,
    ) -> Result<CommandHandle, ClientError> {
        self.enqueue_kind(body, macro_run, None)
    }

    fn enqueue_kind(
        &mut self,
        body: CommandBody,
        macro_run: Option<u64>,
        kind: Option<Kind>,
    ) -> Result<CommandHandle, ClientError> {
        if self.state == ClientState::Logout {
            return Err(ClientError::LoggedOut);
        }
        if self.outstanding() >= self.config.max_queued_commands {
            return Err(ClientError::QueueFull(self.config.max_queued_commands));
        }
        let kind = kind.unwrap_or_else(|| kind_of(&body));
        let command = body.name();
        let tag = self.make_tag();
        let handle = CommandHandle(self.next_handle);
        self.next_handle += 1;
        let waits_after = matches!(kind, Kind::Idle)
            || matches!(&body, CommandBody::Authenticate { initial_response, .. } if initial_response.is_none());
        let cmd = Command::new(tag.clone(), body);
        let fragments: VecDeque<Fragment> = cmd.fragments(self.encode_options()).into();
        self.send_queue.push_back(Outgoing {
            tag: tag.clone(),
            kind: kind.clone(),
            fragments,
            waits_after,
            inflight: Some(InFlight {
                handle,
                tag,
                command,
                kind,
                data: Vec::new(),
                truncated: false,
                macro_run,
                inner: Vec::new(),
                codes: Vec::new(),
            }),
        });
        // A new command ends IDLE first.
        if matches!(self.idle, IdleState::Active { .. }) {
            self.reidle = false;
            self.send_done();
        }
        self.flush();
        Ok(handle)
    }

    fn make_tag(&mut self) -> Tag {
        let n = self.next_tag;
        self.next_tag += 1;
        let local = format!("{}{:04}", self.config.tag_prefix, n);
        let text = match (&self.session_id, self.config.session_id_tags) {
            (Some(sid), true) => {
                let mut t = sid.expose().as_bytes().to_vec();
                t.push(b'.');
                t.extend_from_slice(local.as_bytes());
                t
            }
            _ => local.into_bytes(),
        };
        // Tag characters come from the prefix, digits and a session id atom; fall back to a
        // plain counter tag if the configured prefix is not tag-safe.
        Tag::new(text).unwrap_or_else(|_| {
            Tag::new(format!("A{n:04}").into_bytes()).unwrap_or_else(|_| unreachable_tag())
        })
    }

    fn send_done(&mut self) {
        if !matches!(self.idle, IdleState::Active { .. } | IdleState::Starting) {
            return;
        }
        if matches!(self.idle, IdleState::Starting) {
            // DONE before `+`: send it once the continuation arrives.
            self.reidle = false;
            self.idle = IdleState::Ending;
            return;
        }
        self.idle = IdleState::Ending;
        self.transmit(ClientMessage::Done.to_bytes(self.encode_options().dialect));
    }

    /// Writes as much of the send queue as the protocol allows.
    fn flush(&mut self) {
        loop {
            if !matches!(self.awaiting, Awaiting::Nothing) || self.state == ClientState::Greeting {
                // Nothing is sent before the greeting.
                return;
            }
            if !matches!(self.idle, IdleState::Off) || self.compress_pending {
                // Nothing may follow IDLE until its completion; nothing may follow COMPRESS
                // until the stream is switched.
                return;
            }
            let Some(head) = self.send_queue.front_mut() else {
                return;
            };
            if let Some(inf) = head.inflight.take() {
                self.begin(inf);
                continue;
            }
            match head.fragments.pop_front() {
                Some(Fragment::Line(b)) => {
                    let sync_next = matches!(
                        head.fragments.front(),
                        Some(Fragment::Literal {
                            mode: LiteralMode::Sync,
                            ..
                        })
                    );
                    self.transmit(b);
                    if sync_next {
                        self.awaiting = Awaiting::Literal;
                        return;
                    }
                }
                Some(Fragment::Literal { data, .. }) => self.transmit(data),
                None => {
                    let Some(out) = self.send_queue.pop_front() else {
                        return;
                    };
                    match out.kind {
                        Kind::Idle => {
                            self.idle = IdleState::Starting;
                            self.awaiting = Awaiting::Idle(out.tag);
                        }
                        Kind::Authenticate { .. } if out.waits_after => {
                            self.awaiting = Awaiting::Authenticate(out.tag);
                        }
                        Kind::Compress => self.compress_pending = true,
                        _ => {}
                    }
                }
            }
        }
    }

    /// The command's first byte is about to be written.
    fn begin(&mut self, inf: InFlight) {
        match &inf.kind {
            Kind::Select { mailbox } => {
                // Responses from now on describe the new mailbox.
                self.view = Some(MailboxView::new(mailbox.clone()));
            }
            Kind::Login { .. } | Kind::Authenticate { .. } => {
                self.login = Some(LoginTracker::default());
            }
            _ => {}
        }
        self.in_flight.push_back(inf);
    }

    fn transmit(&mut self, b: Bytes) {
        if !b.is_empty() {
            let b = match self.deflate.as_mut() {
                Some(d) => Bytes::from(d.compress(&b)),
                None => b,
            };
            self.outputs.push_back(Output::Transmit(b));
        }
    }

    /// Turn COMPRESS=DEFLATE on after its tagged OK: bytes already received after the OK
    /// belong to the compressed stream.
    fn start_deflate(&mut self) {
        let mut d = pimap_codec::compress::DeflateStream::new(
            self.config.compress_level,
            self.config.inflate_limits,
        );
        let rest = self.decoder.take_buffered();
        self.fed = self.fed.saturating_sub(rest.len() as u64);
        let plain = if rest.is_empty() {
            Ok(Vec::new())
        } else {
            d.decompress(&rest)
        };
        self.deflate = Some(d);
        match plain {
            Ok(p) => {
                self.fed += p.len() as u64;
                self.decoder.feed(&p)
            }
            Err(e) => self.event(Event::CompressionError(Box::new(e))),
        }
    }

    /// An XZIP response block: inflate it (one inflater across blocks, spec §5.2) and handle
    /// the inner responses as if they had arrived uncompressed.
    fn on_xzip(&mut self, data: &[u8], now: Instant) {
        let limits = self.config.inflate_limits;
        let opts = self.config.decoder;
        let (dec, inner) = self.xzip.get_or_insert_with(|| {
            (
                pimap_codec::compress::XZipDecoder::new(limits),
                ResponseDecoder::new(opts),
            )
        });
        match dec.push(data) {
            Ok(plain) => inner.feed(&plain),
            Err(e) => {
                self.xzip = None;
                self.event(Event::CompressionError(Box::new(e)));
                return;
            }
        }
        loop {
            let next = match self.xzip.as_mut() {
                Some((_, inner)) => inner.next(),
                None => return,
            };
            match next {
                // An XZIP inside XZIP is not unpacked again.
                Ok(Some(Response::Data(Data::XZip { .. }))) => {}
                Ok(Some(r)) => self.on_response(r, now),
                Ok(None) => return,
                Err(e) => self.event(Event::ProtocolError(e)),
            }
        }
    }

    fn event(&mut self, e: Event) {
        self.outputs.push_back(Output::Event(e));
    }

    // ------------------------------------------------------------------ internals: receiving

    fn on_response(&mut self, r: Response, now: Instant) {
        match r {
            Response::Continuation(c) => self.on_continuation(c.text, now),
            Response::Status(s) if s.tag.is_some() => self.on_tagged(s),
            Response::Status(s) => self.on_untagged_status(s),
            Response::Data(Data::XZip { data, .. }) => self.on_xzip(&data, now),
            Response::Data(d) => self.on_data(d),
        }
    }

    fn on_continuation(&mut self, text: Bytes, now: Instant) {
        match std::mem::replace(&mut self.awaiting, Awaiting::Nothing) {
            Awaiting::Literal => {
                if let Some(Fragment::Literal { data, .. }) = self
                    .send_queue
                    .front_mut()
                    .and_then(|h| h.fragments.pop_front())
                {
                    self.transmit(data);
                }
            }
            Awaiting::Idle(tag) => match &self.idle {
                IdleState::Ending => {
                    // DONE was asked for before the `+`.
                    self.transmit(ClientMessage::Done.to_bytes(self.encode_options().dialect));
                }
                _ => {
                    self.idle = IdleState::Active { since: now };
                    if let Some(h) = self.in_flight.iter().find(|f| f.tag == tag) {
                        let handle = h.handle;
                        self.event(Event::IdleStarted(handle));
                    }
                    // Commands enqueued meanwhile end IDLE at once.
                    if !self.send_queue.is_empty() {
                        self.reidle = false;
                        self.send_done();
                    }
                }
            },
            Awaiting::Authenticate(tag) => {
                if let Some(h) = self.in_flight.iter().find(|f| f.tag == tag) {
                    let handle = h.handle;
                    self.awaiting = Awaiting::Authenticate(tag);
                    self.event(Event::AuthChallenge {
                        handle,
                        challenge: text,
                    });
                }
            }
            Awaiting::Nothing => {
                // A `+` nobody waits for (e.g. after a LITERAL+ the server did not honour):
                // nothing to send.
            }
        }
    }

    fn on_untagged_status(&mut self, s: StatusResponse) {
        if let Some(code) = &s.code {
            self.on_code(code);
        }
        match (&self.state, s.status) {
            (ClientState::Greeting, st) => {
                let kind = match st {
                    Status::PreAuth => GreetingKind::PreAuth,
                    Status::Bye => GreetingKind::Bye,
                    _ => GreetingKind::Ok,
                };
                let had_caps = matches!(s.code, Some(Code::Capability(_)));
                self.state = match kind {
                    GreetingKind::Ok => ClientState::NotAuthenticated,
                    GreetingKind::PreAuth => ClientState::Authenticated,
                    GreetingKind::Bye => ClientState::Logout,
                };
                self.event(Event::Greeting { kind, code: s.code });
                if kind != GreetingKind::Bye && !had_caps && self.config.auto_capability {
                    // Ahead of anything the caller queued before the greeting.
                    let _ = self.enqueue(CommandBody::Capability);
                    if let Some(last) = self.send_queue.pop_back() {
                        self.send_queue.push_front(last);
                    }
                }
            }
            (_, Status::Bye) => {
                self.state = ClientState::Logout;
                self.event(Event::Bye { text: s.text });
            }
            // Other untagged OK/NO/BAD: their response codes were applied above and are kept
            // with the oldest command in flight; the human text is not interpreted.
            _ => {
                if let (Some(code), Some(f)) = (s.code, self.in_flight.front_mut()) {
                    if f.codes.len() < self.config.max_completion_data {
                        f.codes.push(code);
                    }
                }
            }
        }
    }

    fn on_code(&mut self, code: &Code) {
        match code {
            Code::Capability(list) => self.set_caps(list.clone()),
            Code::XResume(epoch) => {
                self.resume = Some(ResumeCursor {
                    epoch: *epoch,
                    offset: 0,
                });
                self.resume_base = Some(self.pos);
            }
            other => {
                if let Some(v) = self.view.as_mut() {
                    let evs = v.apply_code(other);
                    for e in evs {
                        self.event(Event::Mailbox(e));
                    }
                }
            }
        }
    }

    fn set_caps(&mut self, list: Vec<pimap_types::Capability>) {
        self.caps = ServerCapabilities::new(list);
        self.event(Event::Capabilities(self.caps.clone()));
    }

    /// Untagged data: P-IMAP session responses, capabilities, mailbox events.
    fn on_data(&mut self, d: Data) {
        // During LOGIN, session responses and events are buffered until the tagged OK.
        if let Some(tr) = self.login.as_mut() {
            match d {
                Data::Session(s) => {
                    tr.session = Some(s);
                    return;
                }
                Data::Folder(m) => {
                    tr.folder = Some(m);
                    return;
                }
                Data::Resync => {
                    tr.resync = true;
                    return;
                }
                Data::SessionId(id) => {
                    self.session_id = Some(id);
                    self.event(Event::SessionId);
                    return;
                }
                Data::Exists(_)
                | Data::Recent(_)
                | Data::Expunge(_)
                | Data::Fetch { .. }
                | Data::Vanished { .. } => {
                    if tr.events.len() < self.config.max_login_events {
                        tr.events.push(d);
                    } else {
                        tr.overflow = true;
                    }
                    return;
                }
                _ => {}
            }
        }
        match &d {
            Data::Capability(list) => self.set_caps(list.clone()),
            Data::Resync => self.event(Event::ResyncRequired),
            Data::SessionId(id) => {
                self.session_id = Some(id.clone());
                self.event(Event::SessionId);
            }
            Data::LoginSevered(_) => {
                self.session_id = None;
                self.view = None;
                self.state = ClientState::NotAuthenticated;
                self.event(Event::SessionSevered);
            }
            Data::Enabled(list) if list.iter().any(|a| a.eq_ignore_case("QRESYNC")) => {
                self.qresync = true;
            }
            _ => {}
        }
        let is_event = matches!(
            d,
            Data::Exists(_)
                | Data::Recent(_)
                | Data::Expunge(_)
                | Data::Fetch { .. }
                | Data::Vanished { .. }
        );
        if is_event {
            self.apply_to_view(&d);
            // Pushed events during IDLE are reported as events only; they are not gathered
            // into the IDLE completion (which could otherwise grow without bound).
            if !matches!(self.idle, IdleState::Active { .. }) {
                let _ = self.attach(d);
            }
        } else {
            let _ = self.attach(d);
        }
    }

    fn apply_to_view(&mut self, d: &Data) {
        let qresync = self.qresync;
        let Some(view) = self.view.as_mut() else {
            return;
        };
        match view.apply(d, qresync) {
            Ok(evs) => {
                for e in evs {
                    self.event(Event::Mailbox(e));
                }
            }
            Err(e) => self.event(Event::ViewInconsistent(e.to_string())),
        }
    }

    /// Gives untagged data to the oldest command in flight.
    fn attach(&mut self, d: Data) -> Option<()> {
        let max = self.config.max_completion_data;
        let f = self.in_flight.front_mut()?;
        if f.data.len() < max {
            f.data.push(d);
        } else {
            f.truncated = true;
        }
        Some(())
    }

    fn on_tagged(&mut self, s: StatusResponse) {
        if let Some(code) = &s.code {
            self.on_code(code);
        }
        let Some(tag) = s.tag.clone() else {
            return;
        };
        let Some(pos) = self.in_flight.iter().position(|f| f.tag == tag) else {
            // The tagged status of a command run inside XMACRO RUN or XZIP.
            if let Some(owner) = self.in_flight.iter_mut().find(|f| inner_of(f, &tag)) {
                if owner.inner.len() < self.config.max_completion_data {
                    owner.inner.push(s);
                } else {
                    owner.truncated = true;
                }
                return;
            }
            // A tag we never sent: report it, keep going.
            self.event(Event::ProtocolError(pimap_codec::DecodeError::Syntax {
                tag: Some(tag),
                offset: 0,
                expected: "a tag of a command in flight",
                frame: Bytes::new(),
            }));
            return;
        };
        let Some(f) = self.in_flight.remove(pos) else {
            return;
        };
        if self.send_queue.front().is_some_and(|o| o.tag == tag) {
            // Answered before its synchronizing literal was accepted (a NO/BAD instead of
            // `+`): the rest of the command is not sent.
            self.send_queue.pop_front();
            if matches!(self.awaiting, Awaiting::Literal) {
                self.awaiting = Awaiting::Nothing;
            }
        }
        if matches!(self.awaiting, Awaiting::Authenticate(ref t) | Awaiting::Idle(ref t) if *t == tag)
        {
            self.awaiting = Awaiting::Nothing;
        }
        let ok = s.status == Status::Ok;
        let mut extra = None;
        match &f.kind {
            Kind::Login { device } | Kind::Authenticate { device } => {
                let tr = self.login.take().unwrap_or_default();
                if ok {
                    self.finish_login(*device, tr);
                }
            }
            Kind::Select { mailbox } => {
                if ok {
                    self.state = ClientState::Selected(mailbox.clone());
                    let (exists, uid_validity) = self
                        .view
                        .as_ref()
                        .map(|v| (v.exists(), v.uid_validity()))
                        .unwrap_or((0, None));
                    self.event(Event::Selected {
                        mailbox: mailbox.clone(),
                        exists,
                        uid_validity,
                    });
                } else {
                    self.view = None;
                    if matches!(self.state, ClientState::Selected(_)) {
                        self.state = ClientState::Authenticated;
                    }
                }
            }
            Kind::Idle => {
                self.idle = IdleState::Off;
                if self.reidle && ok && self.send_queue.is_empty() {
                    self.reidle = false;
                    let _ = self.enqueue(CommandBody::Idle);
                }
            }
            Kind::Logout => self.state = ClientState::Logout,
            Kind::SyncListing { local, mailbox } if ok => {
                let uv = self
                    .view
                    .as_ref()
                    .and_then(|v| v.uid_validity())
                    .unwrap_or(0);
                let listing = ServerListing::from_fetch_data(uv, f.data.iter());
                extra = Some(Event::SyncPlanned {
                    mailbox: mailbox.clone(),
                    plan: plan(local, &listing),
                });
            }
            Kind::Compress => {
                self.compress_pending = false;
                if ok && self.deflate.is_none() {
                    self.start_deflate();
                }
            }
            Kind::XZip { .. } => self.xzip = None,
            _ => {}
        }
        if matches!(f.command, "CLOSE" | "UNSELECT") && ok {
            self.view = None;
            self.state = ClientState::Authenticated;
        }
        let completion = Completion {
            handle: f.handle,
            tag: f.tag,
            command: f.command,
            status: s,
            data: f.data,
            truncated: f.truncated,
            inner: f.inner,
            codes: f.codes,
        };
        if let Some(e) = extra {
            self.event(e);
        }
        match f
            .macro_run
            .and_then(|id| self.macros.iter().position(|m| m.id == id))
        {
            Some(i) => {
                let done = self.macros.get_mut(i).is_some_and(|m| {
                    m.results.push(completion.clone());
                    m.remaining = m.remaining.saturating_sub(1);
                    m.remaining == 0
                });
                self.event(Event::Completed(completion));
                if done {
                    let m = self.macros.remove(i);
                    self.event(Event::MacroCompleted {
                        handle: MacroHandle(m.id),
                        name: m.name,
                        results: m.results,
                    });
                }
            }
            None => self.event(Event::Completed(completion)),
        }
    }

    fn finish_login(&mut self, device: bool, tr: LoginTracker) {
        if !device {
            self.state = ClientState::Authenticated;
            self.event(Event::LoggedIn(LoginOutcome::Plain));
            return;
        }
        let selected = match (tr.session, tr.folder) {
            (Some(SessionState::Selected), Some(m)) => Some(m),
            _ => None,
        };
        match &selected {
            Some(m) => {
                self.state = ClientState::Selected(m.clone());
                let cached = self.cached_view.take().filter(|v| v.name() == m);
                self.view = Some(cached.unwrap_or_else(|| MailboxView::new(m.clone())));
            }
            None => {
                self.state = ClientState::Authenticated;
                self.cached_view = None;
            }
        }
        if tr.resync || tr.overflow {
            self.event(Event::LoggedIn(LoginOutcome::ResyncRequired { selected }));
            return;
        }
        match (tr.session, selected) {
            (None, _) => self.event(Event::LoggedIn(LoginOutcome::Fresh)),
            (Some(_), Some(mailbox)) => {
                let n = tr.events.len();
                for d in &tr.events {
                    self.apply_to_view(d);
                }
                self.event(Event::LoggedIn(LoginOutcome::ResumedSelected {
                    mailbox,
                    events: n,
                }));
            }
            (Some(_), None) => self.event(Event::LoggedIn(LoginOutcome::ResumedAuthenticated)),
        }
    }
}

/// Is `tag` the tag of a command running inside `f` (XMACRO RUN `<tag>.n`, XZIP's wrapped
/// command)?
fn inner_of(f: &InFlight, tag: &Tag) -> bool {
    match &f.kind {
        Kind::MacroRun => tag
            .as_bytes()
            .strip_prefix(f.tag.as_bytes())
            .is_some_and(|rest| rest.first() == Some(&b'.')),
        Kind::XZip { inner: Some(t) } => t == tag,
        Kind::XZip { inner: None } => true,
        _ => false,
    }
}

fn kind_of(body: &CommandBody) -> Kind {
    match body {
        CommandBody::Login { username, .. } => Kind::Login {
            device: LoginName::parse(username.as_bytes()).device.is_some(),
        },
        CommandBody::Authenticate {
            initial_response, ..
        } => Kind::Authenticate {
            device: initial_response
                .as_ref()
                .and_then(|ir| base64_decode(ir.expose()))
                .is_some_and(|raw| plain_authcid_has_device(&raw)),
        },
        CommandBody::Select { mailbox, .. } | CommandBody::Examine { mailbox, .. } => {
            Kind::Select {
                mailbox: mailbox.clone(),
            }
        }
        CommandBody::Idle => Kind::Idle,
        CommandBody::Logout => Kind::Logout,
        CommandBody::Compress { .. } => Kind::Compress,
        CommandBody::XMacro(pimap_types::XMacroCommand::Run { .. }) => Kind::MacroRun,
        CommandBody::XZip(pimap_types::XZipCommand::Wrapped(c)) => Kind::XZip {
            inner: Some(c.tag.clone()),
        },
        CommandBody::XZip(_) => Kind::XZip { inner: None },
        _ => Kind::Plain,
    }
}

/// SASL PLAIN `authzid NUL authcid NUL password`: does authcid carry `#device`?
fn plain_authcid_has_device(raw: &[u8]) -> bool {
    let mut parts = raw.split(|&b| b == 0);
    let _authz = parts.next();
    parts
        .next()
        .is_some_and(|authcid| LoginName::parse(authcid).device.is_some())
}

fn istring(s: &str) -> Result<IString, ClientError> {
    IString::new(Bytes::copy_from_slice(s.as_bytes()))
        .map_err(|e| ClientError::InvalidArgument(e.to_string()))
}

fn atom(s: &str) -> Result<Atom, ClientError> {
    Atom::new(Bytes::copy_from_slice(s.as_bytes()))
        .map_err(|e| ClientError::InvalidArgument(e.to_string()))
}

fn mbox(s: &str) -> Result<Mailbox, ClientError> {
    Mailbox::new(Bytes::copy_from_slice(s.as_bytes()))
        .map_err(|e| ClientError::InvalidArgument(e.to_string()))
}

fn unreachable_tag() -> Tag {
    // "A" is always a valid tag; this keeps `make_tag` free of panics.
    match Tag::new(&b"A"[..]) {
        Ok(t) => t,
        Err(_) => unreachable_tag(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in [&b""[..], b"f", b"fo", b"foo", b"\0joe#dev\0pw"] {
            let e = base64_encode(s);
            assert_eq!(base64_decode(&e).as_deref(), Some(s));
        }
        assert_eq!(base64_encode(b"foobar"), b"Zm9vYmFy");
        assert!(plain_authcid_has_device(b"\0joe#P1\0pw"));
        assert!(!plain_authcid_has_device(b"\0joe\0pw"));
    }
}
