//! Responses (server to client).

use super::{Encode, Encoder};
use pimap_types::{
    Continuation, Data, FetchItem, ListEntry, NamespaceEntry, PrefCommandName, PrefValue,
    ProvisionItem, Response, SessionState, Status, StatusResponse, XConvertData, XFilterResponse,
    XZipFraming,
};

impl Encode for Response {
    fn encode(&self, enc: &mut Encoder) {
        match self {
            Response::Status(s) => s.encode(enc),
            Response::Data(d) => d.encode(enc),
            Response::Continuation(c) => c.encode(enc),
        }
    }
}

impl Encode for StatusResponse {
    /// `tag|* OK|NO|BAD|PREAUTH|BYE [SP "[" code "]"] [SP text]`. An empty text (terse
    /// mode) is written as nothing at all.
    fn encode(&self, enc: &mut Encoder) {
        match &self.tag {
            Some(t) => enc.raw(t.as_bytes()),
            None => enc.byte(b'*'),
        }
        enc.raw(match self.status {
            Status::Ok => b" OK".as_slice(),
            Status::No => b" NO".as_slice(),
            Status::Bad => b" BAD".as_slice(),
            Status::PreAuth => b" PREAUTH".as_slice(),
            Status::Bye => b" BYE".as_slice(),
        });
        if let Some(c) = &self.code {
            enc.sp();
            enc.code(c);
        }
        if !self.text.is_empty() {
            enc.sp();
            enc.text(&self.text);
        }
        enc.crlf();
    }
}

impl Encode for Continuation {
    /// `+ [code] text` (always `+ `, even when both are empty).
    fn encode(&self, enc: &mut Encoder) {
        enc.raw(b"+ ");
        if let Some(c) = &self.code {
            enc.code(c);
            if !self.text.is_empty() {
                enc.sp();
            }
        }
        enc.text(&self.text);
        enc.crlf();
    }
}

impl Encode for Data {
    fn encode(&self, enc: &mut Encoder) {
        enc.raw(b"* ");
        enc.data(self);
        enc.crlf();
    }
}

impl Encoder {
    fn list_entry(&mut self, e: &ListEntry) {
        self.flag_list(&e.attributes);
        self.sp();
        self.delimiter(e.delimiter);
        self.sp();
        self.mailbox(&e.mailbox);
        if let Some(x) = &e.extended {
            self.sp();
            self.raw(x);
        }
    }

    fn namespaces(&mut self, v: &[NamespaceEntry]) {
        if v.is_empty() {
            self.raw(b"NIL");
            return;
        }
        self.byte(b'(');
        for n in v {
            self.byte(b'(');
            self.string(n.prefix.as_bytes());
            self.sp();
            self.delimiter(n.delimiter);
            if let Some(x) = &n.extensions {
                self.sp();
                self.raw(x);
            }
            self.byte(b')');
        }
        self.byte(b')');
    }

    /// Binary-capable data: always a literal8 (`~{n}`), or `NIL`.
    fn literal8_or_nil(&mut self, d: Option<&bytes::Bytes>) {
        match d {
            Some(d) => self.literal_bytes(d, true),
            None => self.raw(b"NIL"),
        }
    }

    /// One FETCH response item.
    pub(crate) fn fetch_item(&mut self, i: &FetchItem) {
        match i {
            FetchItem::Flags(f) => {
                self.raw(b"FLAGS ");
                self.flag_list(f);
            }
            FetchItem::Envelope(e) => {
                self.raw(b"ENVELOPE ");
                self.envelope(e);
            }
            FetchItem::InternalDate(d) => {
                self.raw(b"INTERNALDATE ");
                self.date_time(d);
            }
            FetchItem::Rfc822(s) => {
                self.raw(b"RFC822 ");
                self.nstring(s.as_ref());
            }
            FetchItem::Rfc822Header(s) => {
                self.raw(b"RFC822.HEADER ");
                self.nstring(s.as_ref());
            }
            FetchItem::Rfc822Text(s) => {
                self.raw(b"RFC822.TEXT ");
                self.nstring(s.as_ref());
            }
            FetchItem::Rfc822Size(n) => {
                self.raw(b"RFC822.SIZE ");
                self.num(u64::from(*n));
            }
            FetchItem::Body(b) => {
                self.raw(b"BODY ");
                self.body(b);
            }
            FetchItem::BodyStructure(b) => {
                self.raw(b"BODYSTRUCTURE ");
                self.body(b);
            }
            FetchItem::BodySection {
                section,
                origin,
                data,
            } => {
                self.raw(b"BODY");
                self.section(section);
                self.origin(*origin);
                self.sp();
                self.nstring(data.as_ref());
            }
            FetchItem::Binary {
                section,
                origin,
                data,
            } => {
                self.raw(b"BINARY");
                self.section(section);
                self.origin(*origin);
                self.sp();
                self.literal8_or_nil(data.as_ref());
            }
            FetchItem::BinarySize { section, size } => {
                self.raw(b"BINARY.SIZE");
                self.section(section);
                self.sp();
                self.num(u64::from(*size));
            }
            FetchItem::Uid(n) => {
                self.raw(b"UID ");
                self.num(u64::from(*n));
            }
            FetchItem::Preview(p) => {
                self.raw(b"PREVIEW ");
                self.nstring(p.as_ref());
            }
            FetchItem::SaveDate(d) => match d {
                Some(d) => {
                    self.raw(b"SAVEDATE ");
                    self.date_time(d);
                }
                None => self.raw(b"SAVEDATE NIL"),
            },
            FetchItem::ModSeq(n) => {
                self.raw(b"MODSEQ (");
                self.num(*n);
                self.byte(b')');
            }
            FetchItem::BodyPartStructure { section, body } => {
                self.raw(b"BODYPARTSTRUCTURE");
                self.section(section);
                self.sp();
                self.body(body);
            }
            FetchItem::XZip { part, origin, data } => {
                self.raw(b"XZIP");
                self.bracket_part(part);
                self.origin(*origin);
                self.sp();
                self.literal8_or_nil(data.as_ref());
            }
            FetchItem::XZipSize { part, size } => {
                self.raw(b"XZIP.SIZE");
                self.bracket_part(part);
                self.sp();
                self.num(u64::from(*size));
            }
            FetchItem::Other { raw } => self.raw(raw),
        }
    }

    fn paren_astring(&mut self, name: &[u8], v: &pimap_types::IString) {
        self.raw(name);
        self.raw(b" (");
        self.astring(v.as_bytes());
        self.byte(b')');
    }

    fn provision_item(&mut self, p: &ProvisionItem) {
        match p {
            ProvisionItem::PrefValues { name, values } => {
                self.raw(b"XPIMAPPREF ");
                self.pref_name(name);
                self.sp();
                self.astring_list(values);
            }
            ProvisionItem::FilterCriteria(v) => {
                self.raw(b"XFILTER ");
                self.astring_list(v);
            }
            ProvisionItem::FilterGet(v) => {
                self.raw(b"XFILTER_GET ");
                self.astring_list(v);
            }
            ProvisionItem::FilterSet(v) => {
                self.raw(b"XFILTER_SET ");
                self.astring_list(v);
            }
            ProvisionItem::NotificationAddress(a) => {
                self.paren_astring(b"PIMAP_NOTIFICATION_ADDRESS", a);
            }
            ProvisionItem::NotificationPort(a) => self.paren_astring(b"PIMAP_NOTIFICATION_PORT", a),
            ProvisionItem::UdpHost(a) => self.paren_astring(b"PIMAP_UDP_HOST", a),
            ProvisionItem::UdpPort(a) => self.paren_astring(b"PIMAP_UDP_PORT", a),
            ProvisionItem::EncKey { key, legacy: false } => {
                self.paren_astring(b"PIMAP_ENC_KEY", key.expose());
            }
            ProvisionItem::EncKey { key, legacy: true } => {
                self.raw(b"ENC_KEY ");
                self.astring(key.expose().as_bytes());
            }
            ProvisionItem::Other { name, values } => {
                self.atom(name);
                // Tolerant readers join `XFILTER NAME (..)` and `PIMAP_NOTIFICATION ADDRESS
                // (..)` into one name (E-18): a first value after these names is quoted.
                let joinable =
                    name.eq_ignore_case("XFILTER") || name.eq_ignore_case("PIMAP_NOTIFICATION");
                for (i, v) in values.iter().enumerate() {
                    self.sp();
                    match v {
                        PrefValue::String(s) if i == 0 && joinable => self.string(s.as_bytes()),
                        v => self.pref_value(v),
                    }
                }
            }
        }
    }

    fn xfilter_response(&mut self, f: &XFilterResponse) {
        match f {
            XFilterResponse::Named {
                name,
                description,
                criteria,
            } => {
                self.atom(name);
                self.raw(b" (");
                if let Some(d) = description {
                    self.raw(b"DESC ");
                    self.string(d.as_bytes());
                }
                if let Some(c) = criteria {
                    if description.is_some() {
                        self.sp();
                    }
                    self.raw(b"CRITERIA (");
                    self.search_keys(c);
                    self.byte(b')');
                }
                self.byte(b')');
            }
            XFilterResponse::Folder {
                folder,
                filter_type,
                criteria,
            } => {
                self.mailbox(folder);
                self.raw(match filter_type {
                    pimap_types::FilterType::View => b" V ".as_slice(),
                    pimap_types::FilterType::Notification => b" N ".as_slice(),
                    pimap_types::FilterType::Both => b" B ".as_slice(),
                });
                self.search_keys(criteria);
            }
        }
    }

    /// Untagged data after `* `, without the final CRLF.
    fn data(&mut self, d: &Data) {
        match d {
            Data::Capability(caps) => {
                self.raw(b"CAPABILITY");
                self.capabilities(caps);
            }
            Data::List(e) => {
                self.raw(b"LIST ");
                self.list_entry(e);
            }
            Data::Lsub(e) => {
                self.raw(b"LSUB ");
                self.list_entry(e);
            }
            Data::Status { mailbox, items } => {
                self.raw(b"STATUS ");
                self.mailbox(mailbox);
                self.raw(b" (");
                for (i, (a, n)) in items.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.status_attr(a);
                    self.sp();
                    self.num(*n);
                }
                self.byte(b')');
            }
            Data::Search { ids, modseq } => self.numbers_and_modseq(b"SEARCH", ids, *modseq),
            Data::Flags(f) => {
                self.raw(b"FLAGS ");
                self.flag_list(f);
            }
            Data::ESearch(e) => self.esearch(e),
            Data::Sort { ids, modseq } => self.numbers_and_modseq(b"SORT", ids, *modseq),
            Data::Thread(t) => self.thread_data(t),
            Data::Exists(n) => {
                self.num(u64::from(*n));
                self.raw(b" EXISTS");
            }
            Data::Recent(n) => {
                self.num(u64::from(*n));
                self.raw(b" RECENT");
            }
            Data::Expunge(n) => {
                self.num(u64::from(*n));
                self.raw(b" EXPUNGE");
            }
            Data::Fetch { seq, items } => {
                self.num(u64::from(*seq));
                self.raw(b" FETCH (");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.fetch_item(item);
                }
                self.byte(b')');
            }
            Data::Vanished { earlier, uids } => {
                self.raw(if *earlier {
                    b"VANISHED (EARLIER) "
                } else {
                    b"VANISHED "
                });
                self.seq_set(uids);
            }
            Data::Enabled(caps) => {
                self.raw(b"ENABLED");
                for c in caps {
                    self.sp();
                    self.atom(c);
                }
            }
            Data::Id(params) => {
                self.raw(b"ID ");
                self.id_params(params.as_deref());
            }
            Data::Namespace {
                personal,
                other,
                shared,
            } => {
                self.raw(b"NAMESPACE ");
                self.namespaces(personal);
                self.sp();
                self.namespaces(other);
                self.sp();
                self.namespaces(shared);
            }
            Data::Session(s) => self.raw(match s {
                SessionState::Authenticated => b"SESSION AUTHENTICATED".as_slice(),
                SessionState::Selected => b"SESSION SELECTED".as_slice(),
            }),
            Data::Folder(m) => {
                self.raw(b"FOLDER ");
                self.mailbox(m);
            }
            Data::Resync => self.raw(b"RESYNC"),
            Data::SessionId(id) => {
                self.raw(b"SESSIONID ");
                self.atom(id.expose());
            }
            Data::LoginSevered(text) => {
                self.raw(b"LOGIN");
                if !text.is_empty() {
                    self.sp();
                    self.text(text);
                }
            }
            Data::XProvision(p) => {
                self.raw(b"XPROVISION ");
                self.provision_item(p);
            }
            Data::XGetPimapPrefs { name, prefs } => {
                self.raw(match name {
                    PrefCommandName::Current => b"XGETPIMAPPREFS (".as_slice(),
                    PrefCommandName::Draft01 => b"XGETPIMAPPREF (".as_slice(),
                });
                for (i, (n, v)) in prefs.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.pref_name(n);
                    self.sp();
                    self.pref_value(v);
                }
                self.byte(b')');
            }
            Data::XFilter(f) => {
                self.raw(b"XFILTER ");
                self.xfilter_response(f);
            }
            Data::XZip { framing, data } => match framing {
                XZipFraming::XZip => {
                    self.raw(b"XZIP ");
                    self.literal_bytes(data, true);
                }
                XZipFraming::Bare => self.literal_bytes(data, false),
            },
            Data::XZipPart { part, data } => {
                self.raw(b"XZIP");
                self.bracket_part(part);
                self.literal_bytes(data, true);
            }
            Data::XDeliverCapability(v) => {
                self.raw(b"XDELIVER CAPABILITY ");
                self.string_list(v);
            }
            Data::XDeliverTranscript(l) => {
                self.raw(b"XDELIVER ");
                self.literal8(l);
            }
            Data::XConvert { seq, data } => {
                self.num(u64::from(*seq));
                self.raw(b" XCONVERT ");
                match data {
                    XConvertData::Items {
                        uid,
                        section,
                        body,
                        origin,
                        data,
                    } => {
                        self.byte(b'(');
                        if let Some(u) = uid {
                            self.raw(b"UID ");
                            self.num(u64::from(*u));
                            self.sp();
                        }
                        self.raw(b"BODYPARTSTRUCTURE");
                        self.section(section);
                        self.sp();
                        self.body(body);
                        self.raw(b" BODY");
                        self.section(section);
                        self.origin(*origin);
                        self.sp();
                        let binary = memchr::memchr(0, data).is_some();
                        self.literal(data, binary);
                        self.byte(b')');
                    }
                    XConvertData::Literal(l) => self.literal8(l),
                    XConvertData::Raw(raw) => self.raw(raw),
                }
            }
            Data::XEncrypted(d) => {
                self.raw(b"XENCRYPTED ");
                self.string(d);
            }
            Data::XMacro(m) => {
                self.raw(b"XMACRO ");
                self.atom(&m.name);
                self.sp();
                self.string_list(&m.templates);
            }
            Data::Other { raw } => self.raw(raw),
        }
    }
}

/// The item of a `* n FETCH` response whose literal is sent in pieces after
/// [`fetch_literal_head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamedItem<'a> {
    /// `BODY[section]` (no origin: the whole section).
    Body(&'a pimap_types::Section),
    /// `RFC822`.
    Rfc822,
}

/// What ends a response begun with [`fetch_literal_head`] once its literal's octets are
/// sent.
pub const FETCH_LITERAL_END: &[u8] = b")\r\n";

/// The start of `* seq FETCH (items... ITEM {size}` up to and including the literal's
/// announcement, for a server that sends the literal's `size` octets as they come from its
/// store and then [`FETCH_LITERAL_END`]. `items` come first, as [`Data::Fetch`] writes them.
///
/// ```
/// use pimap_codec::encode::{fetch_literal_head, StreamedItem, FETCH_LITERAL_END};
/// use pimap_codec::{decode_response, DecoderOptions, Dialect};
/// use pimap_types::{Data, FetchItem, IString, Response, Section};
///
/// let section = Section::default();
/// let head = fetch_literal_head(
///     Dialect::default(), 7, &[FetchItem::Uid(42)], StreamedItem::Body(&section), 5,
/// );
/// assert_eq!(&head[..], b"* 7 FETCH (UID 42 BODY[] {5}\r\n");
/// let wire = [&head[..], b"hel", b"lo", FETCH_LITERAL_END].concat();
/// let decoded = decode_response(&wire, DecoderOptions::default()).unwrap();
/// assert_eq!(
///     decoded,
///     Some(Response::Data(Data::Fetch {
///         seq: 7,
///         items: vec![
///             FetchItem::Uid(42),
///             FetchItem::BodySection {
///                 section,
///                 origin: None,
///                 data: Some(IString::new(&b"hello"[..]).unwrap()),
///             },
///         ],
///     }))
/// );
/// ```
pub fn fetch_literal_head(
    dialect: crate::Dialect,
    seq: u32,
    items: &[FetchItem],
    streamed: StreamedItem<'_>,
    size: u64,
) -> bytes::Bytes {
    let mut enc = Encoder::new(super::EncodeOptions::new(dialect));
    enc.raw(b"* ");
    enc.num(u64::from(seq));
    enc.raw(b" FETCH (");
    for item in items {
        enc.fetch_item(item);
        enc.sp();
    }
    match streamed {
        StreamedItem::Body(section) => {
            enc.raw(b"BODY");
            enc.section(section);
        }
        StreamedItem::Rfc822 => enc.raw(b"RFC822"),
    }
    enc.raw(b" {");
    enc.num(size);
    enc.raw(b"}\r\n");
    enc.into_bytes().freeze()
}
