//! Requests the server hands to the caller (authentication, store operations, XDELIVER
//! submission) and the replies the caller completes them with.

use std::sync::Arc;

use bytes::Bytes;

use pimap_types::{
    Address, Code, DateTime, DeliverKind, FetchAttr, FetchItem, Flag, IString, ListEntry, Mailbox,
    SearchKey, Secret, StatusAttr, StoreKind,
};

use super::props::MessageProps;

/// Identifies one request; pass it back to [`Server::complete`](super::Server::complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Something the server needs the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// Check a user's password (LOGIN, or AUTHENTICATE PLAIN). The user is the login name
    /// without the device id. Reply [`Reply::Ok`] or [`Reply::No`].
    Authenticate {
        /// The user name (device id and domain removed; see `domain`).
        user: Bytes,
        /// The `@domain` part of a P-IMAP login name, if any.
        domain: Option<Bytes>,
        /// The password.
        password: Secret<Bytes>,
        /// `AUTHENTICATE PLAIN`'s authorization identity when it differs from the
        /// authentication identity (only with
        /// [`ServerConfig::allow_authorization_identity`](super::ServerConfig); otherwise such
        /// a request is refused before it reaches the caller). Answering `Ok` means the
        /// caller checked that `user` may act as this identity: the session is then the
        /// authorization identity's.
        authorize_as: Option<Bytes>,
    },
    /// A mailbox operation on behalf of `user`.
    Store {
        /// The authenticated user.
        user: Bytes,
        /// The operation.
        op: StoreOp,
    },
    /// XDELIVER: submit a message for delivery (SMTP or otherwise). Reply
    /// [`Reply::Submitted`] or [`Reply::No`] with a reason. When `save_to` is set and the
    /// submission succeeds, the server itself asks the store to APPEND the copy.
    Submit(Submission),
}

/// A message handed to XDELIVER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The authenticated user.
    pub user: Bytes,
    /// New message, reply or forward (with the original's UID and attachments flag).
    pub kind: DeliverKind,
    /// SAVETO mailbox.
    pub save_to: Option<Mailbox>,
    /// Explicit envelope recipients (-08 `XDELIVER ... (addresses)`), if given.
    pub envelope: Option<Vec<Address>>,
    /// The RFC 5322 message.
    pub message: Bytes,
}

/// A store operation. Messages are addressed by UID only: the server owns message sequence
/// numbers (they are positions in each device's mobile repository, spec §1.7).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOp {
    /// SELECT / EXAMINE: reply [`Reply::Selected`] with every message of the mailbox.
    Select {
        /// The mailbox.
        mailbox: Mailbox,
        /// EXAMINE.
        read_only: bool,
    },
    /// CREATE: reply [`Reply::Ok`].
    Create {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// DELETE: reply [`Reply::Ok`].
    Delete {
        /// The mailbox.
        mailbox: Mailbox,
    },
    /// RENAME: reply [`Reply::Ok`].
    Rename {
        /// Old name.
        from: Mailbox,
        /// New name.
        to: Mailbox,
    },
    /// SUBSCRIBE (`true`) / UNSUBSCRIBE (`false`): reply [`Reply::Ok`].
    Subscribe {
        /// The mailbox.
        mailbox: Mailbox,
        /// Subscribe or unsubscribe.
        subscribe: bool,
    },
    /// LIST / LSUB: reply [`Reply::List`].
    List {
        /// Reference name.
        reference: Mailbox,
        /// Mailbox pattern (`*`, `%`).
        pattern: IString,
        /// LSUB.
        subscribed_only: bool,
    },
    /// STATUS: reply [`Reply::Status`].
    Status {
        /// The mailbox.
        mailbox: Mailbox,
        /// Requested items.
        items: Vec<StatusAttr>,
    },
    /// APPEND: reply [`Reply::Appended`].
    Append {
        /// Target mailbox.
        mailbox: Mailbox,
        /// Initial flags.
        flags: Vec<Flag>,
        /// INTERNALDATE, if given.
        date: Option<DateTime>,
        /// The message.
        message: Bytes,
    },
    /// FETCH by UID: reply [`Reply::Fetched`]. The server adds `UID` and renumbers; the
    /// store returns the requested items (BODY[...] without PEEK sets `\Seen`, which the
    /// store reports as a flag change).
    Fetch {
        /// The mailbox.
        mailbox: Mailbox,
        /// The messages, ascending.
        uids: Vec<u32>,
        /// The attributes (macros expanded).
        items: Vec<FetchAttr>,
    },
    /// SEARCH: reply [`Reply::Searched`] with the matching UIDs. Sequence-set keys have
    /// already been rewritten to `UID` keys by the server.
    Search {
        /// The mailbox.
        mailbox: Mailbox,
        /// CHARSET.
        charset: Option<IString>,
        /// Criteria (ANDed).
        criteria: Vec<SearchKey>,
    },
    /// STORE flags: reply [`Reply::Ok`]; report the changes.
    StoreFlags {
        /// The mailbox.
        mailbox: Mailbox,
        /// The messages.
        uids: Vec<u32>,
        /// Replace, add or remove.
        kind: StoreKind,
        /// The flags.
        flags: Vec<Flag>,
    },
    /// COPY (or MOVE): reply [`Reply::Copied`]; report the new (and, for MOVE, expunged)
    /// messages.
    Copy {
        /// Source mailbox.
        mailbox: Mailbox,
        /// The messages.
        uids: Vec<u32>,
        /// Target mailbox.
        to: Mailbox,
        /// MOVE (expunge from the source).
        remove: bool,
    },
    /// EXPUNGE / CLOSE / UID EXPUNGE: remove `\Deleted` messages (only those in `uids` when
    /// given). Reply [`Reply::Ok`]; report the expunges.
    Expunge {
        /// The mailbox.
        mailbox: Mailbox,
        /// Restrict to these UIDs (UID EXPUNGE).
        uids: Option<Vec<u32>>,
    },
}

/// One message of a [`MailboxSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSnapshot {
    /// UID.
    pub uid: u32,
    /// Current flags.
    pub flags: Vec<Flag>,
    /// Immutable properties (for the view filter).
    pub props: Arc<MessageProps>,
}

/// The state of a mailbox when it is selected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxSnapshot {
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// UIDNEXT.
    pub uid_next: u32,
    /// FLAGS of the mailbox.
    pub flags: Vec<Flag>,
    /// PERMANENTFLAGS.
    pub permanent_flags: Vec<Flag>,
    /// The mailbox may only be read.
    pub read_only: bool,
    /// Every message, ascending by UID.
    pub messages: Vec<MessageSnapshot>,
    /// The store keeps `\Recent` (RFC 3501 2.3.2): the first UID that is recent for this
    /// selection. A read-write SELECT claims them (the store then starts the next selection
    /// at UIDNEXT); EXAMINE claims nothing. `None`: the store keeps no `\Recent`, and the
    /// server shows none. The server gives each message arriving while the mailbox is
    /// selected to one session, and never a message twice while it runs.
    pub first_recent: Option<u32>,
}

/// The caller's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// Done (authentication accepted, mailbox operation performed).
    Ok,
    /// Authentication accepted for this account: store requests and
    /// [`Server::mailbox_changed`](super::Server::mailbox_changed) name it so, and device
    /// sessions are keyed by it (`Ok` means [`LoginName::account`](pimap_types::LoginName::account)).
    Authenticated {
        /// The account, as the store names it.
        account: Bytes,
    },
    /// Refused: the command completes with NO, this code and text.
    No {
        /// Response code, e.g. `[TRYCREATE]`.
        code: Option<Code>,
        /// Human-readable reason.
        text: String,
    },
    /// SELECT / EXAMINE succeeded.
    Selected(MailboxSnapshot),
    /// LIST / LSUB entries.
    List(Vec<ListEntry>),
    /// STATUS items.
    Status(Vec<(StatusAttr, u64)>),
    /// APPEND succeeded.
    Appended {
        /// UIDVALIDITY of the target mailbox.
        uid_validity: u32,
        /// UID of the new message.
        uid: u32,
    },
    /// FETCH data per UID (ascending; UIDs that vanished may be left out).
    Fetched(Vec<(u32, Vec<FetchItem>)>),
    /// SEARCH result (UIDs).
    Searched(Vec<u32>),
    /// COPY / MOVE succeeded.
    Copied {
        /// UIDVALIDITY of the target mailbox.
        uid_validity: u32,
        /// Source UIDs.
        source: Vec<u32>,
        /// Their UIDs in the target, in the same order.
        destination: Vec<u32>,
    },
    /// XDELIVER accepted the message for delivery.
    Submitted,
}

impl Reply {
    /// The variant's name (`"Selected"`, `"No"`, ...), for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Ok => "Ok",
            Reply::Authenticated { .. } => "Authenticated",
            Reply::No { .. } => "No",
            Reply::Selected(_) => "Selected",
            Reply::List(_) => "List",
            Reply::Status(_) => "Status",
            Reply::Appended { .. } => "Appended",
            Reply::Fetched(_) => "Fetched",
            Reply::Searched(_) => "Searched",
            Reply::Copied { .. } => "Copied",
            Reply::Submitted => "Submitted",
        }
    }
}

impl Reply {
    /// A `NO` with a reason and no code.
    pub fn no(text: impl Into<String>) -> Self {
        Reply::No {
            code: None,
            text: text.into(),
        }
    }
}

/// Why a [`Submitter`](crate::blocking::Submitter) did not submit a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// Refused for good (a recipient the relay rejects, policy, size): the client gets NO
    /// with the reason and should not retry as is.
    #[error("submission refused: {0}")]
    Refused(String),
    /// The submission path is down or timed out: the client gets `NO [UNAVAILABLE]` (RFC
    /// 5530) and may try again later.
    #[error("submission path unavailable: {0}")]
    Unavailable(String),
}

impl SubmitError {
    /// The reply that completes the submission request.
    pub fn reply(&self) -> Reply {
        match self {
            SubmitError::Refused(why) => Reply::no(why.clone()),
            SubmitError::Unavailable(why) => Reply::No {
                code: pimap_types::Atom::new(&b"UNAVAILABLE"[..])
                    .ok()
                    .map(|name| Code::Other { name, args: None }),
                text: why.clone(),
            },
        }
    }
}
