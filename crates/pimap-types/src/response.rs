//! Responses (server to client): status responses with codes, untagged data, continuation
//! requests, and the P-IMAP untagged responses.

use bytes::Bytes;

use super::command::StatusAttr;
use super::core::{
    Atom, Capability, Flag, IString, IdParams, Literal8, Mailbox, Secret, SequenceSet, Tag,
};
use super::esearch::ESearch;
use super::fetch::FetchItem;
use super::pimap::{
    PrefCommandName, PrefName, PrefValue, ProvisionItem, SessionState, XConvertData,
    XFilterResponse, XZipFraming,
};
use super::sort::Thread;
use super::xmacro::XMacroListing;

/// Any server message.
///
/// The greeting is the first [`Response::Status`] of a connection (untagged `OK`,
/// `PREAUTH` or `BYE`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    /// A status response, tagged or untagged.
    Status(StatusResponse),
    /// Untagged data.
    Data(Data),
    /// A continuation request (`+ ...`).
    Continuation(Continuation),
}

/// Status condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `OK`
    Ok,
    /// `NO`
    No,
    /// `BAD`
    Bad,
    /// `PREAUTH` (greeting only)
    PreAuth,
    /// `BYE`
    Bye,
}

/// `tag|* OK|NO|BAD|PREAUTH|BYE [code] text`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusResponse {
    /// `None` for untagged.
    pub tag: Option<Tag>,
    /// The condition.
    pub status: Status,
    /// Response code.
    pub code: Option<Code>,
    /// Human-readable text (never interpreted). May be empty (terse mode, E-34).
    pub text: Bytes,
}

/// A continuation request: `+ [code] text` or `+ base64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Continuation {
    /// Response code, if any.
    pub code: Option<Code>,
    /// Text or base64 challenge (uninterpreted).
    pub text: Bytes,
}

/// Response codes (`[...]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Code {
    /// `ALERT`
    Alert,
    /// `BADCHARSET [(charsets)]`
    BadCharset(Vec<IString>),
    /// `CAPABILITY ...`
    Capability(Vec<Capability>),
    /// `PARSE`
    Parse,
    /// `PERMANENTFLAGS (...)`
    PermanentFlags(Vec<Flag>),
    /// `READ-ONLY`
    ReadOnly,
    /// `READ-WRITE`
    ReadWrite,
    /// `TRYCREATE`
    TryCreate,
    /// `UIDNEXT n`
    UidNext(u32),
    /// `UIDVALIDITY n`
    UidValidity(u32),
    /// `UNSEEN n`
    Unseen(u32),
    /// UIDPLUS `APPENDUID validity uid-set`. The P-IMAP alias `XDELIVERUID` (E-11) is read
    /// tolerantly as this.
    AppendUid {
        /// UIDVALIDITY of the target.
        uid_validity: u32,
        /// Assigned UIDs (one for a single append).
        uids: SequenceSet,
    },
    /// UIDPLUS `COPYUID validity source-set dest-set`
    CopyUid {
        /// UIDVALIDITY of the target.
        uid_validity: u32,
        /// Source UIDs.
        source: SequenceSet,
        /// Destination UIDs.
        destination: SequenceSet,
    },
    /// UIDPLUS `UIDNOTSTICKY`
    UidNotSticky,
    /// CONDSTORE `HIGHESTMODSEQ n`
    HighestModSeq(u64),
    /// CONDSTORE `NOMODSEQ`
    NoModSeq,
    /// CONDSTORE `MODIFIED set`
    Modified(SequenceSet),
    /// QRESYNC `CLOSED`
    Closed,
    /// COMPRESS `COMPRESSIONACTIVE`
    CompressionActive,
    /// P-IMAP -08 `MONOINCUID`
    MonoIncUid,
    /// P-IMAP XCONVERT `INFORMATIONLOSS`
    InformationLoss,
    /// P-IMAP XCONVERT `SERVEROVERRIDE`
    ServerOverride,
    /// P-IMAP XCONVERT `BADPARAMETERS (params)`
    BadParameters(Vec<IString>),
    /// Our XMACRO extension: `XMACRO-FAILED n` (index of the first failed inner command).
    XMacroFailed(u32),
    /// Our XRESUME extension: `XRESUME epoch`, the attachment a resumable position refers
    /// to (see [`ResumeCursor`](super::ResumeCursor)).
    XResume(u64),
    // ---- RFC 5530 ----
    /// `UNAVAILABLE`: a subsystem is down; try later.
    Unavailable,
    /// `AUTHENTICATIONFAILED`
    AuthenticationFailed,
    /// `AUTHORIZATIONFAILED`
    AuthorizationFailed,
    /// `EXPIRED`: the credentials have expired.
    Expired,
    /// `PRIVACYREQUIRED`: the operation needs TLS.
    PrivacyRequired,
    /// `CONTACTADMIN`
    ContactAdmin,
    /// `NOPERM`: no access rights.
    NoPerm,
    /// `INUSE`: the mailbox or resource is in use.
    InUse,
    /// `EXPUNGEISSUED`: some messages were expunged by another session.
    ExpungeIssued,
    /// `CORRUPTION`
    Corruption,
    /// `SERVERBUG`
    ServerBug,
    /// `CLIENTBUG`: the command was valid but pointless (for example, no such message).
    ClientBug,
    /// `CANNOT`: the operation violates an invariant of the server.
    Cannot,
    /// `LIMIT`: a limit of the server was reached.
    Limit,
    /// `OVERQUOTA`
    OverQuota,
    /// `ALREADYEXISTS`
    AlreadyExists,
    /// `NONEXISTENT`
    Nonexistent,
    // ---- other extensions ----
    /// CATENATE (RFC 4469) `BADURL url`: the IMAP URL that could not be used (a `]`, CR or
    /// LF in it is left out when encoding).
    BadUrl(Bytes),
    /// CATENATE (RFC 4469) `TOOBIG`: the message would be too large.
    TooBig,
    /// SEARCHRES (RFC 5182) `NOTSAVED`: the search result was not saved.
    NotSaved,
    /// NOTIFY (RFC 5465) `NOTIFICATIONOVERFLOW`: notifications were dropped; NOTIFY is off.
    NotificationOverflow,
    /// NOTIFY (RFC 5465) `BADEVENT (events)`: the events the server supports.
    BadEvent(Vec<Atom>),
    /// Any other code, kept verbatim: name and the raw text after it up to `]`.
    Other {
        /// Code name.
        name: Atom,
        /// Raw arguments (without the separating space), if any.
        args: Option<Bytes>,
    },
}

/// Untagged data responses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    /// `* CAPABILITY ...`
    Capability(Vec<Capability>),
    /// `* LIST (attrs) delim name [ext]`
    List(ListEntry),
    /// `* LSUB (attrs) delim name`
    Lsub(ListEntry),
    /// `* STATUS mailbox (items)`
    Status {
        /// Mailbox.
        mailbox: Mailbox,
        /// Item values.
        items: Vec<(StatusAttr, u64)>,
    },
    /// `* SEARCH n...` with CONDSTORE `(MODSEQ n)`.
    Search {
        /// Matching numbers.
        ids: Vec<u32>,
        /// Highest mod-sequence of the result.
        modseq: Option<u64>,
    },
    /// `* FLAGS (...)`
    Flags(Vec<Flag>),
    /// `* n EXISTS` (also `EXITS`, E-03, tolerant).
    Exists(u32),
    /// `* n RECENT`
    Recent(u32),
    /// `* n EXPUNGE` (also `EXPUNGED`, E-02, tolerant).
    Expunge(u32),
    /// `* n FETCH (...)`
    Fetch {
        /// Message sequence number.
        seq: u32,
        /// Items (non-empty).
        items: Vec<FetchItem>,
    },
    /// QRESYNC `* VANISHED [(EARLIER)] uids`
    Vanished {
        /// `(EARLIER)`
        earlier: bool,
        /// Expunged UIDs.
        uids: SequenceSet,
    },
    /// `* ENABLED caps`
    Enabled(Vec<Atom>),
    /// `* ID (params)` or `* ID NIL`
    Id(IdParams),
    /// `* NAMESPACE personal other shared`
    Namespace {
        /// Personal namespaces.
        personal: Vec<NamespaceEntry>,
        /// Other users' namespaces.
        other: Vec<NamespaceEntry>,
        /// Shared namespaces.
        shared: Vec<NamespaceEntry>,
    },
    /// ESEARCH (RFC 4731) `* ESEARCH [(TAG "t")] [UID] items`.
    ESearch(ESearch),
    /// SORT (RFC 5256) `* SORT n...`, with CONDSTORE `(MODSEQ n)`.
    Sort {
        /// Message numbers, in sorted order.
        ids: Vec<u32>,
        /// Highest mod-sequence of the result.
        modseq: Option<u64>,
    },
    /// THREAD (RFC 5256) `* THREAD (thread)...`.
    Thread(Vec<Thread>),
    // ---- P-IMAP ----
    /// `* SESSION AUTHENTICATED|SELECTED`
    Session(SessionState),
    /// `* FOLDER mailbox`
    Folder(Mailbox),
    /// `* RESYNC`
    Resync,
    /// `* SESSIONID id` (secret).
    SessionId(Secret<Atom>),
    /// `* LOGIN [text]`: the P-IMAP session was severed (crate choice, E-70).
    LoginSevered(Bytes),
    /// `* XPROVISION item`
    XProvision(ProvisionItem),
    /// `* XGETPIMAPPREFS (name value ...)` (aliases by `name`).
    XGetPimapPrefs {
        /// Keyword spelling used.
        name: PrefCommandName,
        /// Name/value pairs (repeated names allowed).
        prefs: Vec<(PrefName, PrefValue)>,
    },
    /// `* XFILTER ...`
    XFilter(XFilterResponse),
    /// XZIP compressed response (`* XZIP ~{n}`, `* {n}`, `* LZIP ~{n}`).
    XZip {
        /// Framing used.
        framing: XZipFraming,
        /// Compressed octets.
        data: Bytes,
    },
    /// `* XZIP[part]~{n}` outside a FETCH response, as in the one -12 example (E-65). Read
    /// tolerantly only; senders use the FETCH item form (`* n FETCH (XZIP[part] ~{n})`).
    XZipPart {
        /// Body part numbers.
        part: Vec<u32>,
        /// Compressed octets.
        data: Bytes,
    },
    /// `* XDELIVER CAPABILITY (strings)` (generation E/F).
    XDeliverCapability(Vec<IString>),
    /// `* XDELIVER literal`: SMTP transcript (generation E/F).
    XDeliverTranscript(Literal8),
    /// Legacy `* n XCONVERT ...` (-00…-07).
    XConvert {
        /// Message sequence number.
        seq: u32,
        /// Data.
        data: XConvertData,
    },
    /// `* XENCRYPTED string` (-02…-11): encrypted FETCH response.
    XEncrypted(Bytes),
    /// `* XMACRO name (templates)` (our extension).
    XMacro(XMacroListing),
    /// A syntactically valid untagged response this crate does not model, kept verbatim
    /// (everything after `* ` up to, not including, the final CRLF).
    Other {
        /// Raw bytes.
        raw: Bytes,
    },
}

/// A LIST/LSUB entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListEntry {
    /// Mailbox attributes (`\HasNoChildren`, `\Sent`, ...).
    pub attributes: Vec<Flag>,
    /// Hierarchy delimiter (`None` for NIL).
    pub delimiter: Option<u8>,
    /// Mailbox name.
    pub mailbox: Mailbox,
    /// LIST-EXTENDED extended data items, kept raw (e.g. `("CHILDINFO" ("SUBSCRIBED"))`).
    pub extended: Option<Bytes>,
}

/// One namespace description.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceEntry {
    /// Prefix.
    pub prefix: IString,
    /// Delimiter.
    pub delimiter: Option<u8>,
    /// Namespace response extensions, kept raw.
    pub extensions: Option<Bytes>,
}

/// Response codes that are a bare name, with their names.
const SIMPLE_CODES: [(Code, &str); 32] = [
    (Code::Alert, "ALERT"),
    (Code::Parse, "PARSE"),
    (Code::ReadOnly, "READ-ONLY"),
    (Code::ReadWrite, "READ-WRITE"),
    (Code::TryCreate, "TRYCREATE"),
    (Code::UidNotSticky, "UIDNOTSTICKY"),
    (Code::NoModSeq, "NOMODSEQ"),
    (Code::Closed, "CLOSED"),
    (Code::CompressionActive, "COMPRESSIONACTIVE"),
    (Code::MonoIncUid, "MONOINCUID"),
    (Code::InformationLoss, "INFORMATIONLOSS"),
    (Code::ServerOverride, "SERVEROVERRIDE"),
    (Code::Unavailable, "UNAVAILABLE"),
    (Code::AuthenticationFailed, "AUTHENTICATIONFAILED"),
    (Code::AuthorizationFailed, "AUTHORIZATIONFAILED"),
    (Code::Expired, "EXPIRED"),
    (Code::PrivacyRequired, "PRIVACYREQUIRED"),
    (Code::ContactAdmin, "CONTACTADMIN"),
    (Code::NoPerm, "NOPERM"),
    (Code::InUse, "INUSE"),
    (Code::ExpungeIssued, "EXPUNGEISSUED"),
    (Code::Corruption, "CORRUPTION"),
    (Code::ServerBug, "SERVERBUG"),
    (Code::ClientBug, "CLIENTBUG"),
    (Code::Cannot, "CANNOT"),
    (Code::Limit, "LIMIT"),
    (Code::OverQuota, "OVERQUOTA"),
    (Code::AlreadyExists, "ALREADYEXISTS"),
    (Code::Nonexistent, "NONEXISTENT"),
    (Code::NotSaved, "NOTSAVED"),
    (Code::TooBig, "TOOBIG"),
    (Code::NotificationOverflow, "NOTIFICATIONOVERFLOW"),
];

impl Code {
    /// The name of a code that has no arguments (`ALERT`, `NOPERM`, ...); `None` for codes
    /// with arguments and for [`Code::Other`].
    pub fn simple_name(&self) -> Option<&'static str> {
        SIMPLE_CODES
            .iter()
            .find(|(c, _)| c == self)
            .map(|(_, name)| *name)
    }

    /// The argument-less code an upper-case name stands for.
    pub fn from_simple_name(name: &[u8]) -> Option<Code> {
        SIMPLE_CODES
            .iter()
            .find(|(_, n)| n.as_bytes() == name)
            .map(|(c, _)| c.clone())
    }
}
