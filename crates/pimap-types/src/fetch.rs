//! FETCH: requested attributes (commands) and message data items (responses).

use bytes::Bytes;

use super::body::{BodyStructure, Envelope};
use super::core::{DateTime, Flag, IString, NString};

/// What a FETCH command asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItems {
    /// `ALL`, `FAST` or `FULL`.
    Macro(FetchMacro),
    /// One attribute or a parenthesised list (a single attribute is encoded bare).
    List(Vec<FetchAttr>),
}

impl FetchItems {
    /// The attributes asked for, with macros (also macros inside a list, E-08) expanded and
    /// duplicates removed, in request order.
    pub fn attributes(&self) -> Vec<FetchAttr> {
        let list = match self {
            FetchItems::Macro(m) => m.expand(),
            FetchItems::List(l) => l
                .iter()
                .flat_map(|a| match a {
                    FetchAttr::Macro(m) => m.expand(),
                    other => vec![other.clone()],
                })
                .collect(),
        };
        let mut out: Vec<FetchAttr> = Vec::with_capacity(list.len());
        for a in list {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}

/// FETCH macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchMacro {
    /// `ALL` = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE
    All,
    /// `FAST` = FLAGS INTERNALDATE RFC822.SIZE
    Fast,
    /// `FULL` = ALL + BODY
    Full,
}

impl FetchMacro {
    /// The attributes the macro stands for.
    pub fn expand(self) -> Vec<FetchAttr> {
        let mut v = vec![
            FetchAttr::Flags,
            FetchAttr::InternalDate,
            FetchAttr::Rfc822Size,
        ];
        match self {
            FetchMacro::Fast => {}
            FetchMacro::All => v.push(FetchAttr::Envelope),
            FetchMacro::Full => {
                v.push(FetchAttr::Envelope);
                v.push(FetchAttr::Body);
            }
        }
        v
    }
}

/// A section specification (`BODY[<section>]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section {
    /// Part numbers (`1.2.3`); empty for the whole message.
    pub part: Vec<u32>,
    /// The text selector after the part, if any.
    pub text: Option<SectionText>,
}

/// `section-msgtext` / `section-text` plus the P-IMAP conversion extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText {
    /// `HEADER`
    Header,
    /// `HEADER.FIELDS (..)` or `HEADER.FIELDS.NOT (..)`.
    HeaderFields {
        /// `.NOT` form.
        not: bool,
        /// Field names (non-empty).
        fields: Vec<IString>,
    },
    /// `TEXT`
    Text,
    /// `MIME` (only after a part number).
    Mime,
    /// P-IMAP -08…-12 `.XCONVERT (...)` conversion request.
    Convert(Box<ConvertSpec>),
}

/// Conversion parameters of `BODY[n.XCONVERT (...)]` (spec §3.10.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConvertSpec {
    /// `.STRICT` (-11/-12): the server must not substitute another conversion.
    pub strict: bool,
    /// Target media type.
    pub media: ConvertMedia,
    /// Transcoding parameters (name, value).
    pub params: Vec<(IString, IString)>,
}

/// Target media type of a conversion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConvertMedia {
    /// `"type" "subtype"` (-08…-10 form).
    TypeSubtype(IString, IString),
    /// `"type/subtype"` (-11/-12 form).
    Combined(IString),
    /// `NIL NIL` / `"NIL" "NIL"`: the server's default conversion.
    Default,
}

/// `<origin.count>` of a partial fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partial {
    /// First octet (0-based).
    pub origin: u32,
    /// Maximum number of octets (non-zero).
    pub count: u32,
}

/// One FETCH attribute in a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchAttr {
    /// `ENVELOPE`
    Envelope,
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822`
    Rfc822,
    /// `RFC822.HEADER`
    Rfc822Header,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `RFC822.TEXT`
    Rfc822Text,
    /// `BODY` (non-extensible structure)
    Body,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `UID`
    Uid,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`.
    BodySection {
        /// `.PEEK`
        peek: bool,
        /// The section.
        section: Section,
        /// `<origin.count>`
        partial: Option<Partial>,
    },
    /// RFC 3516 `BINARY[part]<partial>` / `BINARY.PEEK`.
    Binary {
        /// `.PEEK`
        peek: bool,
        /// Section (part numbers and, for P-IMAP, a conversion).
        section: Section,
        /// `<origin.count>`
        partial: Option<Partial>,
    },
    /// RFC 3516 `BINARY.SIZE[part]`.
    BinarySize {
        /// Section.
        section: Section,
    },
    /// CONDSTORE `MODSEQ`.
    ModSeq,
    /// P-IMAP -12 `XZIP[part]<partial>` / `XZIP.PEEK`.
    XZip {
        /// `.PEEK`
        peek: bool,
        /// Part numbers.
        part: Vec<u32>,
        /// `<origin.count>`
        partial: Option<Partial>,
    },
    /// P-IMAP -12 `XZIP.SIZE[part]`.
    XZipSize {
        /// Part numbers.
        part: Vec<u32>,
    },
    /// `PREVIEW [(LAZY)]` (RFC 8970): a short plain-text preview of the message.
    Preview {
        /// `(LAZY)`: the server may answer NIL rather than compute the preview now.
        lazy: bool,
    },
    /// `SAVEDATE` (RFC 8514): when the message was saved into this mailbox.
    SaveDate,
    /// A macro inside a list, e.g. `(ALL BODY[])` (P-IMAP -00/-01 examples, E-08; tolerant
    /// reading only). Servers expand it with [`FetchMacro::expand`].
    Macro(FetchMacro),
}

/// FETCH modifiers (RFC 4466 syntax): `(CHANGEDSINCE n VANISHED)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchModifier {
    /// CONDSTORE `CHANGEDSINCE mod-sequence`.
    ChangedSince(u64),
    /// QRESYNC `VANISHED` (UID FETCH only).
    Vanished,
}

/// One message data item in a FETCH response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItem {
    /// `FLAGS (...)`
    Flags(Vec<Flag>),
    /// `ENVELOPE (...)`
    Envelope(Box<Envelope>),
    /// `INTERNALDATE "..."`
    InternalDate(DateTime),
    /// `RFC822 nstring`
    Rfc822(NString),
    /// `RFC822.HEADER nstring`
    Rfc822Header(NString),
    /// `RFC822.TEXT nstring`
    Rfc822Text(NString),
    /// `RFC822.SIZE n`
    Rfc822Size(u32),
    /// `BODY (...)` without extension data.
    Body(Box<BodyStructure>),
    /// `BODYSTRUCTURE (...)`
    BodyStructure(Box<BodyStructure>),
    /// `BODY[section]<origin> nstring`
    BodySection {
        /// The section.
        section: Section,
        /// `<origin>` of a partial fetch.
        origin: Option<u32>,
        /// The data (NIL if the part does not exist).
        data: NString,
    },
    /// RFC 3516 `BINARY[part]<origin> (nstring / literal8)`.
    Binary {
        /// Section.
        section: Section,
        /// `<origin>`.
        origin: Option<u32>,
        /// The data (binary allowed); `None` for NIL.
        data: Option<Bytes>,
    },
    /// RFC 3516 `BINARY.SIZE[part] n`.
    BinarySize {
        /// Section.
        section: Section,
        /// Decoded size in octets.
        size: u32,
    },
    /// `UID n`
    Uid(u32),
    /// CONDSTORE `MODSEQ (n)`.
    ModSeq(u64),
    /// P-IMAP -08 `BODYPARTSTRUCTURE[part] (...)`: structure of the converted part.
    BodyPartStructure {
        /// Section (part numbers).
        section: Section,
        /// Structure of the converted part.
        body: Box<BodyStructure>,
    },
    /// P-IMAP -12 `XZIP[part]<origin> literal8`: deflated part data.
    XZip {
        /// Part numbers.
        part: Vec<u32>,
        /// `<origin>`.
        origin: Option<u32>,
        /// Compressed data.
        data: Option<Bytes>,
    },
    /// P-IMAP -12 `XZIP.SIZE[part] n`.
    XZipSize {
        /// Part numbers.
        part: Vec<u32>,
        /// Size.
        size: u32,
    },
    /// `PREVIEW nstring` (RFC 8970): NIL when a lazy preview is not yet available.
    Preview(NString),
    /// `SAVEDATE date-time / NIL` (RFC 8514).
    SaveDate(Option<DateTime>),
    /// An item this crate does not model, kept verbatim (name and value) so it re-encodes
    /// byte-for-byte.
    Other {
        /// The raw bytes of the item, e.g. `X-GM-LABELS (\Inbox)`.
        raw: Bytes,
    },
}
