//! BODY / BODYSTRUCTURE (RFC 3501 §7.4.2), ENVELOPE and addresses.

use super::core::{IString, NString};

/// An address structure of an envelope (`(name adl mailbox host)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    /// Display name.
    pub name: NString,
    /// Source route (obsolete).
    pub adl: NString,
    /// Local part (or group name when `host` is NIL).
    pub mailbox: NString,
    /// Domain.
    pub host: NString,
}

/// An `ENVELOPE` (RFC 3501 §7.4.2). Address lists that were `NIL` are empty vectors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// `Date:` header.
    pub date: NString,
    /// `Subject:` header.
    pub subject: NString,
    /// `From:`
    pub from: Vec<Address>,
    /// `Sender:`
    pub sender: Vec<Address>,
    /// `Reply-To:`
    pub reply_to: Vec<Address>,
    /// `To:`
    pub to: Vec<Address>,
    /// `Cc:`
    pub cc: Vec<Address>,
    /// `Bcc:`
    pub bcc: Vec<Address>,
    /// `In-Reply-To:`
    pub in_reply_to: NString,
    /// `Message-ID:`
    pub message_id: NString,
}

/// A body structure: one part or a multipart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyStructure {
    /// A non-multipart body.
    Single {
        /// Type, subtype, parameters, id, description, encoding, size.
        basic: BasicFields,
        /// Fields that depend on the media type.
        specific: SpecificFields,
        /// Extension data (BODYSTRUCTURE only; absent in BODY).
        extension: Option<SinglePartExtension>,
    },
    /// A multipart body.
    Multi {
        /// The parts (at least one).
        parts: Vec<BodyStructure>,
        /// The multipart subtype (`MIXED`, `ALTERNATIVE`, ...).
        subtype: IString,
        /// Extension data (BODYSTRUCTURE only).
        extension: Option<MultiPartExtension>,
    },
}

/// `body-fields` plus type and subtype.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BasicFields {
    /// Media type (`TEXT`, `IMAGE`, ...).
    pub media_type: IString,
    /// Media subtype.
    pub subtype: IString,
    /// `body-fld-param`: attribute/value pairs (empty for NIL).
    pub params: Vec<(IString, IString)>,
    /// `Content-ID`.
    pub id: NString,
    /// `Content-Description`.
    pub description: NString,
    /// `Content-Transfer-Encoding`.
    pub encoding: IString,
    /// Size in octets.
    pub octets: u32,
}

/// Type-specific fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpecificFields {
    /// Any type other than TEXT and MESSAGE/RFC822.
    Basic,
    /// `TEXT/*`: size in lines.
    Text {
        /// Number of lines.
        lines: u32,
    },
    /// `MESSAGE/RFC822` (and `MESSAGE/GLOBAL`): the encapsulated message.
    Message {
        /// Envelope of the encapsulated message.
        envelope: Box<Envelope>,
        /// Its body structure.
        body: Box<BodyStructure>,
        /// Number of lines.
        lines: u32,
    },
}

/// `body-ext-1part`. Later fields are present only if earlier ones are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SinglePartExtension {
    /// `body-fld-md5`.
    pub md5: NString,
    /// Further fields.
    pub tail: Option<ExtensionTail>,
}

/// `body-ext-mpart`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MultiPartExtension {
    /// `body-fld-param` (empty for NIL).
    pub params: Vec<(IString, IString)>,
    /// Further fields.
    pub tail: Option<ExtensionTail>,
}

/// Disposition, language, location and further extension data (shared by both kinds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ExtensionTail {
    /// `body-fld-dsp`: `(type params)` or NIL.
    pub disposition: Option<(IString, Vec<(IString, IString)>)>,
    /// `body-fld-lang` and beyond, if present.
    pub language: Option<LanguageTail>,
}

/// `body-fld-lang` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LanguageTail {
    /// Languages (empty for NIL).
    pub languages: Vec<IString>,
    /// `body-fld-loc` and extensions, if present.
    pub location: Option<LocationTail>,
}

/// `body-fld-loc` and further `body-extension`s.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LocationTail {
    /// Content location.
    pub location: NString,
    /// Further extension data, any nesting depth (bounded by the decoder's depth limit).
    pub extensions: Vec<BodyExtension>,
}

/// `body-extension`: string, number or nested list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyExtension {
    /// A string or NIL.
    NString(NString),
    /// A number.
    Number(u32),
    /// A parenthesised list.
    List(Vec<BodyExtension>),
}
