//! Commands (client to server): RFC 3501, the listed extensions, and P-IMAP.

use bytes::Bytes;

use super::core::{
    Atom, DateTime, Flag, IString, IdParams, Literal8, Mailbox, Secret, SequenceSet, Tag,
};
use super::esearch::SearchReturnOpt;
use super::fetch::{FetchItems, FetchModifier};
use super::notify::NotifyCommand;
use super::pimap::{
    PrefCommandName, PrefName, PrefSetting, XConvertCommand, XDeliverCommand, XFilterCommand,
    XZipCommand,
};
use super::search::SearchKey;
use super::sort::{SortKey, ThreadAlgorithm};
use super::xmacro::XMacroCommand;

/// A tagged command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// The tag.
    pub tag: Tag,
    /// The command.
    pub body: CommandBody,
}

impl Command {
    /// Build a command.
    pub fn new(tag: Tag, body: CommandBody) -> Self {
        Self { tag, body }
    }
}

/// What a client sends: a command, or one of the lines that are not commands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientMessage {
    /// A tagged command.
    Command(Command),
    /// `DONE`, ending IDLE.
    Done,
    /// One line of AUTHENTICATE data (base64 text, or `*` to cancel). Redacted in Debug.
    AuthData(Secret<Bytes>),
}

/// `+FLAGS`, `-FLAGS` or `FLAGS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// STATUS data item names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusAttr {
    /// `MESSAGES`
    Messages,
    /// `RECENT`
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// CONDSTORE `HIGHESTMODSEQ`
    HighestModSeq,
    /// `SIZE` (RFC 8438)
    Size,
    /// P-IMAP -07/-08 `MONOINCUID`
    MonoIncUid,
    /// Any other atom.
    Other(Atom),
}

/// SELECT/EXAMINE parameters (CONDSTORE, QRESYNC).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SelectParam {
    /// `CONDSTORE`
    CondStore,
    /// `QRESYNC (uidvalidity modseq [known-uids [(seq-match uid-match)]])`
    QResync {
        /// Last known UIDVALIDITY.
        uid_validity: u32,
        /// Last known mod-sequence.
        modseq: u64,
        /// Known UIDs.
        known_uids: Option<SequenceSet>,
        /// Sequence match data (`(seqs uids)`).
        seq_match: Option<(SequenceSet, SequenceSet)>,
    },
}

/// The command part of a tagged command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CommandBody {
    // ---- any state ----
    /// `CAPABILITY`
    Capability,
    /// `NOOP`
    Noop,
    /// `LOGOUT`
    Logout,
    // ---- not authenticated ----
    /// `STARTTLS`
    StartTls,
    /// `AUTHENTICATE mechanism [initial-response]` (SASL-IR). Data lines follow as
    /// [`ClientMessage::AuthData`].
    Authenticate {
        /// SASL mechanism.
        mechanism: Atom,
        /// Initial response (base64 text, `=` for empty).
        initial_response: Option<Secret<Bytes>>,
    },
    /// `LOGIN userid password`. P-IMAP: `userid` may be `user#device[@domain]`
    /// ([`super::pimap::LoginName::parse`]).
    Login {
        /// User name.
        username: IString,
        /// Password (redacted in Debug).
        password: Secret<IString>,
    },
    // ---- authenticated ----
    /// `SELECT mailbox [(params)]`
    Select {
        /// Mailbox.
        mailbox: Mailbox,
        /// CONDSTORE/QRESYNC parameters.
        params: Vec<SelectParam>,
    },
    /// `EXAMINE mailbox [(params)]`
    Examine {
        /// Mailbox.
        mailbox: Mailbox,
        /// CONDSTORE/QRESYNC parameters.
        params: Vec<SelectParam>,
    },
    /// `CREATE mailbox`
    Create {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `DELETE mailbox`
    Delete {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `RENAME from to`
    Rename {
        /// Existing name.
        from: Mailbox,
        /// New name.
        to: Mailbox,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `LIST [(selection)] reference pattern [RETURN (options)]` (RFC 3501 + LIST-EXTENDED).
    List {
        /// Selection options (`SPECIAL-USE`, `SUBSCRIBED`, ...).
        selection: Vec<Atom>,
        /// Reference name.
        reference: Mailbox,
        /// Mailbox patterns (one unless LIST-EXTENDED).
        patterns: Vec<IString>,
        /// RETURN options, kept as atoms (`CHILDREN`, `SPECIAL-USE`, ...) or `STATUS (...)`.
        return_opts: Vec<ListReturn>,
    },
    /// `LSUB reference pattern`
    Lsub {
        /// Reference name.
        reference: Mailbox,
        /// Pattern.
        pattern: IString,
    },
    /// `STATUS mailbox (items)`
    Status {
        /// Mailbox.
        mailbox: Mailbox,
        /// Requested items.
        items: Vec<StatusAttr>,
    },
    /// `APPEND mailbox [(flags)] [date-time] literal`
    Append {
        /// Target mailbox.
        mailbox: Mailbox,
        /// Flags.
        flags: Vec<Flag>,
        /// Internal date.
        date: Option<DateTime>,
        /// The message.
        message: Literal8,
    },
    /// `APPEND mailbox [(flags)] [date-time] XCOMPOSE (compose-part *(SP compose-part))`:
    /// the -09…-11 APPEND extension that builds a message on the server from literals and
    /// IMAP URLs (spec §9.6, E-43). Read tolerantly only; no strict dialect sends it.
    AppendCompose {
        /// Target mailbox.
        mailbox: Mailbox,
        /// Flags.
        flags: Vec<Flag>,
        /// Internal date.
        date: Option<DateTime>,
        /// The parts, in order (at least one).
        parts: Vec<ComposePart>,
    },
    /// MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469): `APPEND mailbox message...` with more
    /// than one message, or with a message built by `CATENATE (...)`. A single plain
    /// message decodes as [`CommandBody::Append`].
    AppendMulti {
        /// Target mailbox.
        mailbox: Mailbox,
        /// The messages, in order (at least one).
        messages: Vec<AppendMessage>,
    },
    /// `IDLE` (followed by [`ClientMessage::Done`]).
    Idle,
    /// `ENABLE capabilities`
    Enable(Vec<Atom>),
    /// `ID (params)` or `ID NIL`.
    Id(IdParams),
    /// `NAMESPACE`
    Namespace,
    /// `NOTIFY NONE` / `NOTIFY SET ...` (RFC 5465).
    Notify(NotifyCommand),
    /// `COMPRESS mechanism` (RFC 4978).
    Compress {
        /// Mechanism (`DEFLATE`).
        mechanism: Atom,
    },
    // ---- selected ----
    /// `CHECK`
    Check,
    /// `CLOSE`
    Close,
    /// `UNSELECT`
    Unselect,
    /// `EXPUNGE`
    Expunge,
    /// UIDPLUS `UID EXPUNGE set`
    UidExpunge(SequenceSet),
    /// `[UID] SEARCH [RETURN (opts)] [CHARSET c] criteria`
    Search {
        /// UID form.
        uid: bool,
        /// ESEARCH (RFC 4731) `RETURN (...)`: `None` for a plain SEARCH; `Some` (possibly
        /// empty, which means `ALL`) asks for an `* ESEARCH` answer.
        return_opts: Option<Vec<SearchReturnOpt>>,
        /// Charset.
        charset: Option<IString>,
        /// Criteria (non-empty).
        criteria: Vec<SearchKey>,
    },
    /// `[UID] SORT [RETURN (opts)] (criteria) charset search-keys` (RFC 5256; RETURN from
    /// ESORT, RFC 5267).
    Sort {
        /// UID form.
        uid: bool,
        /// ESORT return options (`None`: a plain `* SORT` answer).
        return_opts: Option<Vec<SearchReturnOpt>>,
        /// Sort keys (at least one), most significant first.
        criteria: Vec<SortKey>,
        /// Charset of the search strings (required by SORT).
        charset: IString,
        /// Search criteria (non-empty).
        search: Vec<SearchKey>,
    },
    /// `[UID] THREAD algorithm charset search-keys` (RFC 5256).
    Thread {
        /// UID form.
        uid: bool,
        /// The algorithm.
        algorithm: ThreadAlgorithm,
        /// Charset of the search strings.
        charset: IString,
        /// Search criteria (non-empty).
        search: Vec<SearchKey>,
    },
    /// `[UID] FETCH set items [(modifiers)]`
    Fetch {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Items.
        items: FetchItems,
        /// CONDSTORE/QRESYNC modifiers.
        modifiers: Vec<FetchModifier>,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] (flags)`
    Store {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// CONDSTORE `UNCHANGEDSINCE`.
        unchanged_since: Option<u64>,
        /// Replace, add or remove.
        kind: StoreKind,
        /// `.SILENT`
        silent: bool,
        /// Flags.
        flags: Vec<Flag>,
    },
    /// `[UID] COPY set mailbox`
    Copy {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Target.
        mailbox: Mailbox,
    },
    /// `[UID] MOVE set mailbox` (RFC 6851)
    Move {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Target.
        mailbox: Mailbox,
    },
    // ---- P-IMAP ----
    /// `XPROVISION [device-id [notif-id]]`
    XProvision {
        /// Device id (ordinary IMAP sessions).
        device_id: Option<IString>,
        /// Notification id.
        notif_id: Option<IString>,
    },
    /// `XSETPIMAPPREF setting` (alias `XSETPREF`).
    XSetPimapPref {
        /// Spelling of the command name that was used.
        name: PrefCommandName,
        /// The preference and its value.
        setting: PrefSetting,
    },
    /// `XGETPIMAPPREFS (names)` (aliases `XGETPIMAPPREF`, `XGETPREF`).
    XGetPimapPrefs {
        /// Spelling of the command name that was used.
        name: PrefCommandName,
        /// Requested preferences (non-empty).
        prefs: Vec<PrefName>,
    },
    /// `XFILTER ...`
    XFilter(XFilterCommand),
    /// `XTERSE ON|OFF` (-00/-01)
    XTerse(bool),
    /// `XZIP ...`
    XZip(XZipCommand),
    /// `XDELIVER ...` (alias `LDELIVER` for the batch forms)
    XDeliver(XDeliverCommand),
    /// Legacy `XCONVERT` / `XUIDCONVERT` / `UID XCONVERT` (-00…-07)
    XConvert(XConvertCommand),
    /// `XPSEARCH mailbox [CHARSET c] criteria` (E-45)
    XPSearch {
        /// Name of the persistent search folder to create.
        mailbox: Mailbox,
        /// Charset.
        charset: Option<IString>,
        /// Criteria (non-empty).
        criteria: Vec<SearchKey>,
    },
    /// `XMACRO ...` (this crate's extension).
    XMacro(XMacroCommand),
    /// `XRESUME NONE` / `XRESUME epoch offset` (this crate's extension, see
    /// [`ResumeCursor`](super::ResumeCursor)): before login, the position the next resumption
    /// continues from; after login, an acknowledgement.
    XResume(Option<super::ResumeCursor>),
    /// A well-formed command this crate does not model: its name and its arguments exactly
    /// as sent (literals included), so that a server can answer it precisely and a gateway
    /// can forward it. It re-encodes byte for byte. `UID` followed by an unknown command
    /// keeps `UID` as the name.
    Other {
        /// The command name as sent.
        name: Atom,
        /// Everything after the name and its space, up to (not including) the final CRLF;
        /// `None` when the name ends the line.
        args: Option<Bytes>,
    },
}

/// One message of a MULTIAPPEND / CATENATE APPEND.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppendMessage {
    /// Flags.
    pub flags: Vec<Flag>,
    /// Internal date.
    pub date: Option<DateTime>,
    /// The message itself.
    pub content: AppendContent,
}

/// What one appended message is made of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AppendContent {
    /// A literal.
    Literal(Literal8),
    /// CATENATE (RFC 4469): parts joined in order (at least one).
    Catenate(Vec<CatenatePart>),
}

/// One part of a CATENATE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CatenatePart {
    /// `TEXT literal`
    Text(Literal8),
    /// `URL "imap-url"`: a message or part the server already holds.
    Url(IString),
}

/// LIST-EXTENDED RETURN options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListReturn {
    /// A plain option atom (`SUBSCRIBED`, `CHILDREN`, `SPECIAL-USE`).
    Option(Atom),
    /// `STATUS (items)` (LIST-STATUS).
    Status(Vec<StatusAttr>),
}

impl CommandBody {
    /// The command name (for logs and BAD replies). [`CommandBody::Other`] gives `OTHER`; its
    /// name as sent is in the variant.
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Select { .. } => "SELECT",
            CommandBody::Examine { .. } => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete { .. } => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe { .. } => "SUBSCRIBE",
            CommandBody::Unsubscribe { .. } => "UNSUBSCRIBE",
            CommandBody::List { .. } => "LIST",
            CommandBody::Lsub { .. } => "LSUB",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Append { .. } | CommandBody::AppendCompose { .. } => "APPEND",
            CommandBody::Idle => "IDLE",
            CommandBody::Enable(_) => "ENABLE",
            CommandBody::Id(_) => "ID",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Compress { .. } => "COMPRESS",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Expunge => "EXPUNGE",
            CommandBody::UidExpunge(_) => "UID EXPUNGE",
            CommandBody::Search { .. } => "SEARCH",
            CommandBody::Fetch { .. } => "FETCH",
            CommandBody::Store { .. } => "STORE",
            CommandBody::Copy { .. } => "COPY",
            CommandBody::Move { .. } => "MOVE",
            CommandBody::XProvision { .. } => "XPROVISION",
            CommandBody::XSetPimapPref { .. } => "XSETPIMAPPREF",
            CommandBody::XGetPimapPrefs { .. } => "XGETPIMAPPREFS",
            CommandBody::XFilter(_) => "XFILTER",
            CommandBody::XTerse(_) => "XTERSE",
            CommandBody::XZip(_) => "XZIP",
            CommandBody::XDeliver(_) => "XDELIVER",
            CommandBody::XConvert(_) => "XCONVERT",
            CommandBody::XPSearch { .. } => "XPSEARCH",
            CommandBody::XMacro(_) => "XMACRO",
            CommandBody::XResume(_) => "XRESUME",
            CommandBody::Sort { .. } => "SORT",
            CommandBody::Thread { .. } => "THREAD",
            CommandBody::AppendMulti { .. } => "APPEND",
            CommandBody::Notify(_) => "NOTIFY",
            CommandBody::Other { .. } => "OTHER",
        }
    }
}

/// One part of an XCOMPOSE APPEND (-09…-11, spec §9.6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ComposePart {
    /// `TEXT literal`: octets taken as they are.
    Text(Literal8),
    /// `STEXT literal`: "substituted" text (-09).
    SText(Literal8),
    /// `DTEXT astring literal`: a `diff -e` script applied to the part the IMAP URL names.
    DText {
        /// IMAP URL of the part the delta applies to.
        url: IString,
        /// The delta script.
        delta: Literal8,
    },
    /// `URL astring`: a stored part included by IMAP URL (from CATENATE, E-43).
    Url(IString),
}
