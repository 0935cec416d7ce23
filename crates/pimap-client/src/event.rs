//! What the client reports to its caller.

use bytes::Bytes;

use super::mailbox::MailboxEvent;
use super::sync::SyncPlan;
use pimap_codec::DecodeError;
use pimap_types::{Code, Data, Mailbox, StatusResponse, Tag};

/// Identifies one enqueued command; its [`Completion`] carries the same handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandHandle(pub(crate) u64);

/// Identifies one macro run; its [`Event::MacroCompleted`] carries the same handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacroHandle(pub(crate) u64);

/// One output of [`Client::poll_output`](super::Client::poll_output), in order.
///
/// `Debug` shows the size of transmitted bytes, not the bytes: they may carry a LOGIN
/// password.
// Outputs are drained right away; boxing events would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Bytes to write to the server, in order.
    Transmit(Bytes),
    /// Something happened.
    Event(Event),
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Transmit(b) => write!(f, "Transmit(<{} bytes>)", b.len()),
            Output::Event(e) => f.debug_tuple("Event").field(e).finish(),
        }
    }
}

/// How the server greeted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GreetingKind {
    /// `* OK`: not authenticated.
    Ok,
    /// `* PREAUTH`: already authenticated.
    PreAuth,
    /// `* BYE`: the server refuses the connection.
    Bye,
}

/// The result of a LOGIN / AUTHENTICATE (spec §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// Login without a device id: an ordinary IMAP session.
    Plain,
    /// Device id, no live session: AUTHENTICATED, a full state-comparison sync is needed.
    Fresh,
    /// The session resumed in AUTHENTICATED; event-based sync continues.
    ResumedAuthenticated,
    /// The session resumed in SELECTED: the client is in `mailbox` without issuing SELECT and
    /// the queued events have been applied (and reported as [`Event::Mailbox`] just before this
    /// outcome).
    ResumedSelected {
        /// The selected mailbox (`* FOLDER`).
        mailbox: Mailbox,
        /// How many queued events were applied.
        events: usize,
    },
    /// The server announced `* RESYNC` (or sent more events than the client buffers): the
    /// event-based state is invalid; run a state-comparison sync. `selected` is the mailbox
    /// the session is in, if any.
    ResyncRequired {
        /// The mailbox the session resumed in, if SELECTED.
        selected: Option<Mailbox>,
    },
}

/// A command finished: its tagged status and the untagged data received while it was the
/// oldest command in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The handle `enqueue` returned.
    pub handle: CommandHandle,
    /// The tag the command was sent with.
    pub tag: Tag,
    /// The command name (`"FETCH"`, `"XGETPIMAPPREFS"`, ...).
    pub command: &'static str,
    /// The tagged status response.
    pub status: StatusResponse,
    /// Untagged responses attributed to this command, in order.
    pub data: Vec<Data>,
    /// More untagged data arrived than [`ClientConfig::max_completion_data`](super::ClientConfig)
    /// allows; the rest was not kept here.
    pub truncated: bool,
    /// Response codes of untagged `OK`/`NO` responses received while this command was the
    /// oldest in flight (e.g. `* OK [COPYUID ...]` before a MOVE's tagged OK, RFC 6851).
    pub codes: Vec<Code>,
    /// Tagged statuses of the commands this one ran inside (XMACRO RUN's `<tag>.n`, the
    /// command wrapped by XZIP), in order.
    pub inner: Vec<StatusResponse>,
}

impl Completion {
    /// Did the command complete with OK?
    pub fn is_ok(&self) -> bool {
        self.status.status == pimap_types::Status::Ok
    }

    /// The -12 `XZIP[part]` items of this completion's FETCH data, inflated (spec §3.9.4:
    /// raw DEFLATE of the BINARY-decoded part): (sequence number, part, decoded octets).
    /// A partial item (`<origin>`) cannot be inflated on its own and is skipped.
    pub fn xzip_parts(&self, limits: pimap_codec::compress::Limits) -> Vec<XZipPart> {
        let mut out = Vec::new();
        for d in &self.data {
            let Data::Fetch { seq, items } = d else {
                continue;
            };
            for i in items {
                if let pimap_types::FetchItem::XZip {
                    part,
                    origin: None,
                    data: Some(data),
                } = i
                {
                    out.push(XZipPart {
                        seq: *seq,
                        part: part.clone(),
                        data: pimap_codec::compress::inflate_all(data, limits),
                    });
                }
            }
        }
        out
    }
}

/// One inflated -12 `XZIP[part]` item (see [`Completion::xzip_parts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XZipPart {
    /// Sequence number of the message.
    pub seq: u32,
    /// Part numbers.
    pub part: Vec<u32>,
    /// The decoded part, or why it could not be inflated.
    pub data: Result<Vec<u8>, pimap_codec::compress::CompressError>,
}

/// Everything the client reports, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server greeting.
    Greeting {
        /// OK, PREAUTH or BYE.
        kind: GreetingKind,
        /// Its response code (often `CAPABILITY`).
        code: Option<Code>,
    },
    /// The capability list changed (greeting code, CAPABILITY response, or an OK code).
    Capabilities(super::ServerCapabilities),
    /// A LOGIN or AUTHENTICATE succeeded; what kind of session it opened.
    LoggedIn(LoginOutcome),
    /// A SELECT or EXAMINE succeeded.
    Selected {
        /// The mailbox.
        mailbox: Mailbox,
        /// Its message count.
        exists: u32,
        /// Its UIDVALIDITY, if the server sent it.
        uid_validity: Option<u32>,
    },
    /// A change of the selected mailbox, applied to the client's view, in server order.
    Mailbox(MailboxEvent),
    /// The server sent data the view could not apply (e.g. EXPUNGE beyond the message count):
    /// the view is no longer trustworthy; run a state-comparison sync.
    ViewInconsistent(String),
    /// `* RESYNC` outside LOGIN (spec §6.3): run a state-comparison sync.
    ResyncRequired,
    /// `* SESSIONID`: the P-IMAP session id (a bearer token; never logged).
    SessionId,
    /// Untagged `LOGIN` (spec §3.3): the P-IMAP session no longer exists; log in again.
    SessionSevered,
    /// IDLE is active: the server pushes events now.
    IdleStarted(CommandHandle),
    /// A command finished.
    Completed(Completion),
    /// All commands of a macro finished, in order.
    MacroCompleted {
        /// The handle `run_macro` returned.
        handle: MacroHandle,
        /// The macro's name.
        name: String,
        /// One completion per command, in order.
        results: Vec<Completion>,
    },
    /// A state-comparison sync finished its listing: what to fetch, update and remove.
    SyncPlanned {
        /// The mailbox the plan is for.
        mailbox: Mailbox,
        /// The plan.
        plan: SyncPlan,
    },
    /// The server needs more AUTHENTICATE data (SASL challenge, base64 text).
    AuthChallenge {
        /// The AUTHENTICATE command.
        handle: CommandHandle,
        /// The challenge text after `+ `.
        challenge: Bytes,
    },
    /// `* BYE`: the server closes the connection.
    Bye {
        /// Its text.
        text: Bytes,
    },
    /// The server sent bytes that do not decode; the message was skipped.
    ProtocolError(DecodeError),
    /// Compressed data from the server (COMPRESS=DEFLATE stream or XZIP response) could not
    /// be inflated, or went over [`ClientConfig::inflate_limits`](super::ClientConfig). For
    /// COMPRESS the connection is unusable afterwards and should be closed.
    CompressionError(Box<pimap_codec::compress::CompressError>),
}
