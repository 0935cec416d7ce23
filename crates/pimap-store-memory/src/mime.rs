//! Message views over [`mail_parser`]: the immutable [`MessageProps`], `ENVELOPE`,
//! `BODYSTRUCTURE`, and the data of `BODY[section]` and `BINARY[section]`.
//!
//! Every function here is total: any octets give some answer, never a panic. Offsets that
//! mail-parser reports are only ever used through `get(..)`, the part tree is followed with
//! a depth bound ([`MAX_DEPTH`]), and parsed messages are dropped iteratively (mail-parser's
//! own recursive drop overflows the stack on deeply nested `message/rfc822` parts).

use std::borrow::Cow;

use bytes::Bytes;
use mail_parser::{
    Addr, Address as MpAddress, Header, HeaderValue, Message, MessageParser, MessagePart,
    MimeHeaders, PartType,
};

use pimap_server::MessageProps;
use pimap_types::{
    Address, BasicFields, BodyStructure, DateTime, Envelope, ExtensionTail, IString, LanguageTail,
    LocationTail, MultiPartExtension, NString, Section, SectionText, SinglePartExtension,
    SpecificFields,
};

/// Deepest part nesting that `BODYSTRUCTURE` describes. Deeper multiparts are described as
/// single parts of their own media type, deeper encapsulated messages with an empty envelope
/// (the crate's decoder refuses nesting beyond 64 levels, so a client could not read more).
pub(crate) const MAX_DEPTH: usize = 32;

/// A parsed message. Dropping it never recurses (see the module documentation).
pub(crate) struct Parsed<'a> {
    raw: &'a [u8],
    msg: Option<Message<'a>>,
}

impl<'a> Parsed<'a> {
    /// Parse `raw`. Octets without any header field parse as a message whose header is
    /// empty and whose body is everything.
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Self {
            raw,
            msg: MessageParser::new().parse(raw),
        }
    }
}

impl Drop for Parsed<'_> {
    fn drop(&mut self) {
        let mut stack: Vec<Message<'_>> = self.msg.take().into_iter().collect();
        while let Some(mut m) = stack.pop() {
            for p in &mut m.parts {
                if matches!(p.body, PartType::Message(_)) {
                    if let PartType::Message(nested) = std::mem::take(&mut p.body) {
                        stack.push(nested);
                    }
                }
            }
        }
    }
}

/// Section data: a range of the stored message (zero copy) or new octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Data {
    /// `raw[start..end]` of the message the caller parsed.
    Range(usize, usize),
    /// Octets built for the answer (header field selections, decoded parts, parts of a
    /// base64-encoded encapsulated message).
    Owned(Vec<u8>),
}

impl Data {
    /// The octets, as shared bytes (slicing `raw` for a range).
    pub(crate) fn into_bytes(self, raw: &Bytes) -> Bytes {
        match self {
            Data::Range(a, b) => {
                if a <= b && b <= raw.len() {
                    raw.slice(a..b)
                } else {
                    Bytes::new()
                }
            }
            Data::Owned(v) => Bytes::from(v),
        }
    }
}

// ------------------------------------------------------------------------------ helpers

/// `buf[a..b]`, or empty when the offsets are out of range.
fn slice(buf: &[u8], a: u32, b: u32) -> &[u8] {
    buf.get(a as usize..b as usize).unwrap_or_default()
}

/// The root part of a message (mail-parser's `root_part` indexes).
fn root<'m>(m: &'m Message<'m>) -> Option<&'m MessagePart<'m>> {
    m.parts.first()
}

/// Build an `IString`, dropping NUL octets (which IMAP strings cannot carry).
fn istr(b: &[u8]) -> IString {
    let owned: Cow<'_, [u8]> = if b.contains(&0) {
        Cow::Owned(b.iter().copied().filter(|&c| c != 0).collect())
    } else {
        Cow::Borrowed(b)
    };
    IString::new(Bytes::copy_from_slice(&owned)).unwrap_or_else(|_| istr_empty())
}

/// The empty string (built without a fallible constructor).
fn istr_empty() -> IString {
    IString::unchecked(Bytes::new())
}

/// Section data as an `nstring`: NUL octets, which IMAP4rev1 strings cannot carry, become
/// spaces so that lengths and partial offsets stay those of the stored message.
pub(crate) fn data_nstring(b: Bytes) -> NString {
    let b = if b.contains(&0) {
        Bytes::from(
            b.iter()
                .map(|&c| if c == 0 { b' ' } else { c })
                .collect::<Vec<u8>>(),
        )
    } else {
        b
    };
    // The NUL check above makes this infallible.
    Some(IString::new(b).unwrap_or_else(|_| istr_empty()))
}

/// Unfold a raw header value (remove CR and LF) and trim surrounding white space.
fn unfold(raw: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|&c| c != b'\r' && c != b'\n')
        .collect();
    v.trim_ascii().to_vec()
}

/// The field name of a header as written.
fn field_name<'b>(buf: &'b [u8], h: &Header<'_>) -> &'b [u8] {
    let raw = slice(buf, h.offset_field, h.offset_start);
    raw.strip_suffix(b":").unwrap_or(raw).trim_ascii()
}

/// The unfolded raw value of a header.
fn field_value(buf: &[u8], h: &Header<'_>) -> Vec<u8> {
    unfold(slice(buf, h.offset_start, h.offset_end))
}

/// The first header called `name` of a part.
fn find_header<'p>(part: &'p MessagePart<'p>, name: &str) -> Option<&'p Header<'p>> {
    part.headers
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
}

/// The unfolded raw value of the first header called `name`, as an `nstring`.
fn raw_nstring(buf: &[u8], part: &MessagePart<'_>, name: &str) -> NString {
    find_header(part, name).map(|h| istr(&field_value(buf, h)))
}

/// Number of lines of a body: its line ends. A last line without one is not counted, as
/// Dovecot counts (`abc` has 0 lines, `a\nb` 1).
fn count_lines(body: &[u8]) -> u32 {
    u32::try_from(memchr::memchr_iter(b'\n', body).count()).unwrap_or(u32::MAX)
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ------------------------------------------------------------------------------ props

/// Header fields whose RFC 2047 encoded words are decoded in [`MessageProps::headers`] (so
/// that `SUBJECT`/`FROM`/... searches see the text a person reads).
const DECODED_FIELDS: [&str; 7] = ["Subject", "From", "To", "Cc", "Bcc", "Reply-To", "Sender"];

/// See [`MemoryStore::props_of`](super::MemoryStore::props_of).
pub(crate) fn props_of(raw: &[u8], internal_date: Option<DateTime>) -> MessageProps {
    props_sharing(raw, None, internal_date)
}

/// [`props_of`] for a message the store keeps as `whole`: a body text that is one
/// undecoded part of it is a slice of `whole` rather than a copy (a large plain message is
/// then held once, not twice).
pub(crate) fn props_of_kept(whole: &Bytes, internal_date: Option<DateTime>) -> MessageProps {
    props_sharing(whole, Some(whole), internal_date)
}

fn props_sharing(
    raw: &[u8],
    whole: Option<&Bytes>,
    internal_date: Option<DateTime>,
) -> MessageProps {
    let parsed = Parsed::new(raw);
    let mut props = MessageProps::new(len_u32(raw.len()), internal_date);
    let Some(msg) = parsed.msg.as_ref() else {
        props.body_text = Some(Bytes::copy_from_slice(raw));
        props.envelope = Some(Box::new(empty_envelope()));
        props.body_structure = Some(Box::new(text_plain(len_u32(raw.len()), count_lines(raw))));
        return props;
    };
    let buf: &[u8] = &msg.raw_message;
    if let Some(rootp) = root(msg) {
        for h in &rootp.headers {
            let name = field_name(buf, h);
            let mut value = field_value(buf, h);
            if memchr::memmem::find(&value, b"=?").is_some()
                && DECODED_FIELDS
                    .iter()
                    .any(|f| f.as_bytes().eq_ignore_ascii_case(name))
            {
                if let Some(decoded) = decoded_value(&h.value) {
                    value = decoded;
                }
            }
            props
                .headers
                .push((Bytes::copy_from_slice(name), Bytes::from(value)));
        }
    }
    props.body_text = Some(body_text(msg, whole));
    props.envelope = Some(Box::new(envelope(msg)));
    props.body_structure = Some(Box::new(structure(msg, true)));
    props
}

/// mail-parser's decoded form of a text or address header, on one line.
fn decoded_value(v: &HeaderValue<'_>) -> Option<Vec<u8>> {
    let s = match v {
        HeaderValue::Text(t) => t.to_string(),
        HeaderValue::Address(a) => a
            .iter()
            .map(|addr| match (addr.name(), addr.address()) {
                (Some(n), Some(a)) => format!("{n} <{a}>"),
                (Some(n), None) => n.to_string(),
                (None, Some(a)) => a.to_string(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => return None,
    };
    Some(unfold(s.as_bytes()))
}

/// The decoded text of every text part (HTML converted to text), nested messages
/// included (to [`MAX_DEPTH`] levels), separated by line ends.
fn body_text(msg: &Message<'_>, whole: Option<&Bytes>) -> Bytes {
    if let (Some(whole), Some(t)) = (whole, single_undecoded_text(msg)) {
        if let Some(shared) = slice_within(whole, t) {
            return shared;
        }
    }
    let mut out = Vec::new();
    let mut stack: Vec<(&Message<'_>, usize)> = vec![(msg, 0)];
    while let Some((m, depth)) = stack.pop() {
        // The texts of this message, then its encapsulated messages in order.
        let mut nested = Vec::new();
        for p in &m.parts {
            match &p.body {
                PartType::Text(t) => push_text(&mut out, t.as_bytes()),
                PartType::Html(h) => push_text(
                    &mut out,
                    mail_parser::decoders::html::html_to_text(h).as_bytes(),
                ),
                PartType::Message(n) if depth < MAX_DEPTH => nested.push((n, depth + 1)),
                _ => {}
            }
        }
        stack.extend(nested.into_iter().rev());
    }
    Bytes::from(out)
}

/// The body text when it is exactly one text part that needed no decoding (mail-parser
/// then borrows it from the raw message).
fn single_undecoded_text<'a>(msg: &'a Message<'_>) -> Option<&'a [u8]> {
    let mut texts = msg.parts.iter().filter_map(|p| match &p.body {
        PartType::Text(t) if !t.is_empty() => Some(Some(t)),
        PartType::Html(_) | PartType::Message(_) => Some(None),
        _ => None,
    });
    let first = texts.next()??;
    if texts.next().is_some() {
        return None;
    }
    match first {
        std::borrow::Cow::Borrowed(s) => Some(s.as_bytes()),
        std::borrow::Cow::Owned(_) => None,
    }
}

/// `part` as a slice of `whole`, if it lies inside it.
fn slice_within(whole: &Bytes, part: &[u8]) -> Option<Bytes> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then(|| whole.slice(start..end))
}

fn push_text(out: &mut Vec<u8>, t: &[u8]) {
    if t.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(t);
}

// ------------------------------------------------------------------------------ envelope

/// An envelope with every field `NIL`.
pub(crate) fn empty_envelope() -> Envelope {
    Envelope {
        date: None,
        subject: None,
        from: Vec::new(),
        sender: Vec::new(),
        reply_to: Vec::new(),
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        in_reply_to: None,
        message_id: None,
    }
}

/// The `ENVELOPE` of a (top-level or encapsulated) message. Strings are the raw, unfolded
/// header values (encoded words kept); addresses come from mail-parser, with display names
/// that hold non-ASCII text re-encoded as RFC 2047 words and groups written with RFC 3501
/// group markers.
fn envelope(msg: &Message<'_>) -> Envelope {
    let Some(rootp) = root(msg) else {
        return empty_envelope();
    };
    let buf: &[u8] = &msg.raw_message;
    let addresses = |name: &str| -> Vec<Address> {
        find_header(rootp, name)
            .and_then(|h| h.value.as_address())
            .map(address_list)
            .unwrap_or_default()
    };
    let from = addresses("From");
    let mut sender = addresses("Sender");
    if sender.is_empty() {
        sender = from.clone();
    }
    let mut reply_to = addresses("Reply-To");
    if reply_to.is_empty() {
        reply_to = from.clone();
    }
    Envelope {
        date: raw_nstring(buf, rootp, "Date"),
        subject: raw_nstring(buf, rootp, "Subject"),
        from,
        sender,
        reply_to,
        to: addresses("To"),
        cc: addresses("Cc"),
        bcc: addresses("Bcc"),
        in_reply_to: raw_nstring(buf, rootp, "In-Reply-To"),
        message_id: raw_nstring(buf, rootp, "Message-ID"),
    }
}

fn address_list(a: &MpAddress<'_>) -> Vec<Address> {
    let mut out = Vec::new();
    match a {
        MpAddress::List(list) => out.extend(list.iter().filter_map(address)),
        MpAddress::Group(groups) => {
            for g in groups {
                match &g.name {
                    Some(name) => {
                        out.push(Address {
                            name: None,
                            adl: None,
                            mailbox: Some(istr(display_name(name).as_bytes())),
                            host: None,
                        });
                        // A group's members are addresses; a comment or a lone word in the
                        // group is not one.
                        out.extend(
                            g.addresses
                                .iter()
                                .filter(|a| a.address().is_some())
                                .filter_map(address),
                        );
                        out.push(Address {
                            name: None,
                            adl: None,
                            mailbox: None,
                            host: None,
                        });
                    }
                    None => out.extend(g.addresses.iter().filter_map(address)),
                }
            }
        }
    }
    out
}

/// One address: the mailbox and host split at the last `@` (an address without one has an
/// empty host, since a `NIL` host marks a group).
fn address(a: &Addr<'_>) -> Option<Address> {
    let name = a
        .name()
        .filter(|n| !n.trim().is_empty())
        .map(|n| istr(display_name(n).as_bytes()));
    let (adl, mailbox, host) = match a.address() {
        Some(addr) => {
            // RFC 5322 obs-route: `<@route1,@route2:user@domain>` keeps the route as adl.
            let (adl, addr) = match addr.strip_prefix('@').and_then(|_| addr.split_once(':')) {
                Some((route, rest)) => (Some(route), rest),
                None => (None, addr),
            };
            match addr.rsplit_once('@') {
                Some((m, h)) => (adl, m, h),
                None => (adl, addr, ""),
            }
        }
        None if name.is_some() => (None, "", ""),
        None => return None,
    };
    Some(Address {
        name,
        adl: adl.map(|r| istr(line(r).as_bytes())),
        mailbox: Some(istr(line(mailbox).as_bytes())),
        host: Some(istr(line(host).as_bytes())),
    })
}

/// Text on one line (CR, LF and NUL removed).
fn line(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '\r' && c != '\n' && c != '\0')
        .collect()
}

/// A display name as IMAP sends it: ASCII as is, anything else as an RFC 2047 `B` word.
fn display_name(s: &str) -> String {
    let s = line(s);
    if s.is_ascii() {
        s
    } else {
        format!("=?UTF-8?B?{}?=", base64(s.as_bytes()))
    }
}

/// Standard base64 with padding (for RFC 2047 encoded words).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |v: u32| char::from(ALPHABET.get((v & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

// ------------------------------------------------------------------------------ structure

/// `TEXT/PLAIN (CHARSET US-ASCII)`: the default of a part without `Content-Type`, and the
/// description of octets mail-parser found no header in.
fn text_plain(octets: u32, lines: u32) -> BodyStructure {
    BodyStructure::Single {
        basic: BasicFields {
            media_type: istr(b"TEXT"),
            subtype: istr(b"PLAIN"),
            params: vec![(istr(b"CHARSET"), istr(b"US-ASCII"))],
            id: None,
            description: None,
            encoding: istr(b"7BIT"),
            octets,
        },
        specific: SpecificFields::Text { lines },
        extension: None,
    }
}

/// The `BODYSTRUCTURE` (`ext`) or `BODY` (no extension data) of a parsed message.
pub(crate) fn body_structure(parsed: &Parsed<'_>, ext: bool) -> BodyStructure {
    match parsed.msg.as_ref() {
        Some(msg) => structure(msg, ext),
        None => text_plain(len_u32(parsed.raw.len()), count_lines(parsed.raw)),
    }
}

/// The structure of a message (its root part).
fn structure(msg: &Message<'_>, ext: bool) -> BodyStructure {
    part_structure(msg, 0, ext, 0, false)
}

/// Media type and subtype (upper case) of a part, with the RFC 2045 defaults: `TEXT/PLAIN`,
/// or `MESSAGE/RFC822` inside a `multipart/digest`.
fn media_type(part: &MessagePart<'_>, in_digest: bool) -> (String, String, bool) {
    match part.content_type() {
        Some(ct) if !ct.ctype().trim().is_empty() => {
            let ty = line(ct.ctype().trim()).to_ascii_uppercase();
            match ct.subtype().map(str::trim).filter(|s| !s.is_empty()) {
                Some(sub) => (ty, line(sub).to_ascii_uppercase(), true),
                None => ("TEXT".into(), "PLAIN".into(), false),
            }
        }
        _ if in_digest => ("MESSAGE".into(), "RFC822".into(), false),
        _ => ("TEXT".into(), "PLAIN".into(), false),
    }
}

/// `body-fld-param` of a Content-Type or Content-Disposition (names upper case).
fn params(ct: Option<&mail_parser::ContentType<'_>>) -> Vec<(IString, IString)> {
    ct.and_then(|c| c.attributes())
        .unwrap_or_default()
        .iter()
        .map(|a| {
            (
                istr(line(&a.name).to_ascii_uppercase().as_bytes()),
                istr(line(&a.value).as_bytes()),
            )
        })
        .collect()
}

/// Disposition, language and location of a part.
fn tail(buf: &[u8], part: &MessagePart<'_>) -> ExtensionTail {
    let languages = match part.content_language() {
        HeaderValue::Text(t) => vec![istr(line(t).as_bytes())],
        HeaderValue::TextList(l) => l.iter().map(|t| istr(line(t).as_bytes())).collect(),
        _ => Vec::new(),
    };
    ExtensionTail {
        disposition: part.content_disposition().map(|d| {
            (
                istr(line(d.ctype()).to_ascii_uppercase().as_bytes()),
                params(Some(d)),
            )
        }),
        language: Some(LanguageTail {
            languages,
            location: Some(LocationTail {
                location: raw_nstring(buf, part, "Content-Location"),
                extensions: Vec::new(),
            }),
        }),
    }
}

fn part_structure(
    msg: &Message<'_>,
    id: u32,
    ext: bool,
    depth: usize,
    in_digest: bool,
) -> BodyStructure {
    let buf: &[u8] = &msg.raw_message;
    let Some(part) = msg.parts.get(id as usize) else {
        return text_plain(0, 0);
    };
    let body = slice(buf, part.offset_body, part.offset_end);
    let (mut ty, mut sub, typed) = media_type(part, in_digest);
    if let PartType::Multipart(ids) = &part.body {
        if !ids.is_empty() && depth < MAX_DEPTH {
            let digest = sub == "DIGEST";
            let parts = ids
                .iter()
                .map(|&c| part_structure(msg, c, ext, depth + 1, digest))
                .collect();
            return BodyStructure::Multi {
                parts,
                subtype: istr(sub.as_bytes()),
                extension: ext.then(|| MultiPartExtension {
                    params: params(part.content_type()),
                    tail: Some(tail(buf, part)),
                }),
            };
        }
    }
    if ty == "MULTIPART" {
        // A multipart without parts (no boundary found), or beyond the depth limit.
        (ty, sub) = if depth < MAX_DEPTH {
            ("TEXT".into(), "PLAIN".into())
        } else {
            ("APPLICATION".into(), "OCTET-STREAM".into())
        };
    }
    let is_message_type = ty == "MESSAGE" && (sub == "RFC822" || sub == "GLOBAL");
    if matches!(part.body, PartType::Message(_)) && !is_message_type {
        (ty, sub) = ("MESSAGE".into(), "RFC822".into());
    }
    let is_message = ty == "MESSAGE" && (sub == "RFC822" || sub == "GLOBAL");
    let mut params = if typed {
        params(part.content_type())
    } else {
        Vec::new()
    };
    if !typed && ty == "TEXT" {
        params.push((istr(b"CHARSET"), istr(b"US-ASCII")));
    }
    let encoding = find_header(part, "Content-Transfer-Encoding")
        .map(|h| field_value(buf, h).to_ascii_uppercase())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| b"7BIT".to_vec());
    let basic = BasicFields {
        media_type: istr(ty.as_bytes()),
        subtype: istr(sub.as_bytes()),
        params,
        id: raw_nstring(buf, part, "Content-ID"),
        description: raw_nstring(buf, part, "Content-Description"),
        encoding: istr(&encoding),
        octets: len_u32(body.len()),
    };
    let specific = if is_message {
        let (envelope, inner) = match &part.body {
            PartType::Message(nested) if depth < MAX_DEPTH => (
                envelope(nested),
                part_structure(nested, 0, ext, depth + 1, false),
            ),
            _ => (empty_envelope(), text_plain(0, 0)),
        };
        SpecificFields::Message {
            envelope: Box::new(envelope),
            body: Box::new(inner),
            lines: count_lines(body),
        }
    } else if ty == "TEXT" {
        SpecificFields::Text {
            lines: count_lines(body),
        }
    } else {
        SpecificFields::Basic
    };
    BodyStructure::Single {
        basic,
        specific,
        extension: ext.then(|| SinglePartExtension {
            md5: raw_nstring(buf, part, "Content-MD5"),
            tail: Some(tail(buf, part)),
        }),
    }
}

/// The same structure without extension data (`BODY`).
pub(crate) fn strip_extension(b: &BodyStructure) -> BodyStructure {
    match b {
        BodyStructure::Single {
            basic, specific, ..
        } => BodyStructure::Single {
            basic: basic.clone(),
            specific: match specific {
                SpecificFields::Message {
                    envelope,
                    body,
                    lines,
                } => SpecificFields::Message {
                    envelope: envelope.clone(),
                    body: Box::new(strip_extension(body)),
                    lines: *lines,
                },
                other => other.clone(),
            },
            extension: None,
        },
        BodyStructure::Multi { parts, subtype, .. } => BodyStructure::Multi {
            parts: parts.iter().map(strip_extension).collect(),
            subtype: subtype.clone(),
            extension: None,
        },
    }
}

/// The `ENVELOPE` of a parsed message.
pub(crate) fn message_envelope(parsed: &Parsed<'_>) -> Envelope {
    parsed
        .msg
        .as_ref()
        .map(envelope)
        .unwrap_or_else(empty_envelope)
}

// ------------------------------------------------------------------------------ sections

/// Follow part numbers (RFC 3501 §6.4.5): a number selects a part of a multipart, or of the
/// body of an encapsulated message; a message that is not multipart has only part 1, its
/// body. Returns the message the result lives in and the part (`None`: the message itself).
fn resolve<'m>(
    top: &'m Message<'m>,
    path: &[u32],
) -> Option<(&'m Message<'m>, Option<&'m MessagePart<'m>>)> {
    let mut msg = top;
    let mut part: Option<&'m MessagePart<'m>> = None;
    for &n in path {
        let idx = (n as usize).checked_sub(1)?;
        let (m, container, of_message) = match part {
            None => (msg, root(msg)?, true),
            Some(p) => match &p.body {
                PartType::Message(nested) => (nested, root(nested)?, true),
                _ => (msg, p, false),
            },
        };
        match &container.body {
            PartType::Multipart(ids) if !ids.is_empty() => {
                let id = *ids.get(idx)?;
                part = Some(m.parts.get(id as usize)?);
            }
            _ if of_message && idx == 0 => part = Some(container),
            _ => return None,
        }
        msg = m;
    }
    Some((msg, part))
}

/// `buf[a..b]` as section data: a range of the stored message when `buf` is it, a copy
/// otherwise (parts of a base64-encoded encapsulated message).
fn data(stored: &[u8], buf: &[u8], a: u32, b: u32) -> Data {
    let (a, b) = (a as usize, b as usize);
    if a > b || b > buf.len() {
        return Data::Owned(Vec::new());
    }
    if std::ptr::eq(buf.as_ptr(), stored.as_ptr()) && buf.len() == stored.len() {
        Data::Range(a, b)
    } else {
        Data::Owned(buf.get(a..b).unwrap_or_default().to_vec())
    }
}

/// The data of `BODY[section]`; `None` when the section does not exist (the caller sends
/// an empty string) or is a conversion (`XCONVERT`, not done here).
pub(crate) fn section(parsed: &Parsed<'_>, section: &Section) -> Option<Data> {
    let raw = parsed.raw;
    let whole = Data::Range(0, raw.len());
    let Some(top) = parsed.msg.as_ref() else {
        // No header at all: everything is body, and the message has only part 1.
        return match (section.part.as_slice(), &section.text) {
            ([] | [1], None) | ([], Some(SectionText::Text)) => Some(whole),
            ([], Some(SectionText::Header | SectionText::HeaderFields { .. })) => {
                Some(Data::Owned(Vec::new()))
            }
            ([1], Some(SectionText::Mime)) => Some(Data::Owned(Vec::new())),
            _ => None,
        };
    };
    let (msg, part) = resolve(top, &section.part)?;
    let buf: &[u8] = &msg.raw_message;
    match &section.text {
        None => match part {
            None => Some(whole),
            Some(p) => Some(data(raw, buf, p.offset_body, p.offset_end)),
        },
        Some(SectionText::Mime) => {
            let p = part?;
            Some(data(raw, buf, p.offset_header, p.offset_body))
        }
        Some(SectionText::Header | SectionText::HeaderFields { .. } | SectionText::Text) => {
            let target: &Message<'_> = match part {
                None => msg,
                Some(p) => match &p.body {
                    PartType::Message(nested) => nested,
                    _ => return None,
                },
            };
            let r = root(target)?;
            let tbuf: &[u8] = &target.raw_message;
            match &section.text {
                Some(SectionText::Header) => Some(data(raw, tbuf, r.offset_header, r.offset_body)),
                // To the end of the message, epilogue included (a multipart root part ends
                // at its closing boundary).
                Some(SectionText::Text) => {
                    // An encapsulated message that shares the outer buffer ends where its
                    // part does.
                    let end = match part {
                        Some(p) if std::ptr::eq(tbuf.as_ptr(), buf.as_ptr()) => p.offset_end,
                        _ => len_u32(tbuf.len()),
                    };
                    Some(data(raw, tbuf, r.offset_body, end))
                }
                Some(SectionText::HeaderFields { not, fields }) => {
                    Some(Data::Owned(header_fields(tbuf, r, fields, *not)))
                }
                _ => None,
            }
        }
        Some(SectionText::Convert(_)) => None,
    }
}

/// `HEADER.FIELDS (..)` / `HEADER.FIELDS.NOT (..)`: the selected field lines as written,
/// then the blank line.
fn header_fields(buf: &[u8], part: &MessagePart<'_>, fields: &[IString], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for h in &part.headers {
        let name = field_name(buf, h);
        let listed = fields
            .iter()
            .any(|f| f.as_bytes().eq_ignore_ascii_case(name));
        if listed != not {
            let text = slice(buf, h.offset_field, h.offset_end);
            out.extend_from_slice(text);
            if !text.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The data of `BINARY[part]` (RFC 3516): the part's content with its
/// Content-Transfer-Encoding (base64, quoted-printable) removed; other encodings, and
/// content that does not decode, are returned as stored. `None` for a missing part.
pub(crate) fn binary(parsed: &Parsed<'_>, path: &[u32]) -> Option<Data> {
    let raw = parsed.raw;
    let Some(top) = parsed.msg.as_ref() else {
        return matches!(path, [] | [1]).then_some(Data::Range(0, raw.len()));
    };
    if path.is_empty() {
        return Some(Data::Range(0, raw.len()));
    }
    let (msg, part) = resolve(top, path)?;
    let p = part?;
    let buf: &[u8] = &msg.raw_message;
    let stored = data(raw, buf, p.offset_body, p.offset_end);
    if matches!(p.body, PartType::Multipart(_) | PartType::Message(_)) {
        return Some(stored);
    }
    let body = slice(buf, p.offset_body, p.offset_end);
    let cte = find_header(p, "Content-Transfer-Encoding")
        .map(|h| field_value(buf, h).to_ascii_lowercase())
        .unwrap_or_default();
    let decoded = match cte.as_slice() {
        b"base64" => mail_parser::decoders::base64::base64_decode(body),
        b"quoted-printable" => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(body)
        }
        _ => None,
    };
    Some(decoded.map(Data::Owned).unwrap_or(stored))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A multipart/mixed message: a text/plain part and a base64 attachment.
    pub(crate) const MIXED: &[u8] = b"From: \"Alice Example\" <alice@example.com>\r\n\
To: Bob <bob@example.org>, carol@example.net\r\n\
Cc: dave@example.com\r\n\
Subject: Test message\r\n\
Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
Message-ID: <B27397-0100000@example.com>\r\n\
In-Reply-To: <parent@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\
\r\n\
This is a preamble.\r\n\
--BOUNDARY\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
Hello Bob,\r\n\
see attached.\r\n\
--BOUNDARY\r\n\
Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"data.bin\"\r\n\
\r\n\
AAECAwQFBgcICQ==\r\n\
--BOUNDARY--\r\n";

    /// A message with an encapsulated multipart message as its second part.
    const NESTED: &[u8] = b"Subject: outer\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\
\r\n\
--XX\r\n\
\r\n\
first\r\n\
--XX\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: x@y.z\r\n\
Subject: inner\r\n\
Content-Type: multipart/alternative; boundary=YY\r\n\
\r\n\
--YY\r\n\
Content-Type: text/plain\r\n\
\r\n\
inner text\r\n\
--YY\r\n\
Content-Type: text/html\r\n\
\r\n\
<b>hi</b>\r\n\
--YY--\r\n\
\r\n\
--XX--\r\n";

    fn s(v: &[u8]) -> IString {
        IString::new(v.to_vec()).unwrap()
    }

    fn sec(part: &[u32], text: Option<SectionText>) -> Section {
        Section {
            part: part.to_vec(),
            text,
        }
    }

    fn get(raw: &[u8], part: &[u32], text: Option<SectionText>) -> Option<Vec<u8>> {
        let p = Parsed::new(raw);
        section(&p, &sec(part, text)).map(|d| d.into_bytes(&Bytes::copy_from_slice(raw)).to_vec())
    }

    fn addr(name: Option<&str>, mailbox: &str, host: &str) -> Address {
        Address {
            name: name.map(|n| s(n.as_bytes())),
            adl: None,
            mailbox: Some(s(mailbox.as_bytes())),
            host: Some(s(host.as_bytes())),
        }
    }

    #[test]
    fn envelope_fields() {
        let props = props_of(MIXED, None);
        let e = props.envelope.unwrap();
        assert_eq!(e.date, Some(s(b"Mon, 7 Feb 1994 21:52:25 -0800")));
        assert_eq!(e.subject, Some(s(b"Test message")));
        let alice = addr(Some("Alice Example"), "alice", "example.com");
        assert_eq!(e.from, vec![alice.clone()]);
        assert_eq!(e.sender, vec![alice.clone()]);
        assert_eq!(e.reply_to, vec![alice]);
        assert_eq!(
            e.to,
            vec![
                addr(Some("Bob"), "bob", "example.org"),
                addr(None, "carol", "example.net")
            ]
        );
        assert_eq!(e.cc, vec![addr(None, "dave", "example.com")]);
        assert!(e.bcc.is_empty());
        assert_eq!(e.in_reply_to, Some(s(b"<parent@example.com>")));
        assert_eq!(e.message_id, Some(s(b"<B27397-0100000@example.com>")));
    }

    #[test]
    fn groups_and_encoded_names() {
        let raw = b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.com>\r\n\
To: Friends: a@b.c, \"B\" <b@c.d>;, solo@x.y\r\n\
Subject: =?UTF-8?Q?caf=C3=A9?=\r\n\r\nbody\r\n";
        let props = props_of(raw, None);
        let e = props.envelope.clone().unwrap();
        // Non-ASCII display names are re-encoded; the subject stays raw.
        assert_eq!(
            e.from,
            vec![addr(Some("=?UTF-8?B?QW5kcsOp?="), "andre", "example.com")]
        );
        assert_eq!(e.subject, Some(s(b"=?UTF-8?Q?caf=C3=A9?=")));
        let group_start = Address {
            name: None,
            adl: None,
            mailbox: Some(s(b"Friends")),
            host: None,
        };
        let group_end = Address {
            name: None,
            adl: None,
            mailbox: None,
            host: None,
        };
        assert_eq!(
            e.to,
            vec![
                group_start,
                addr(None, "a", "b.c"),
                addr(Some("B"), "b", "c.d"),
                group_end,
                addr(None, "solo", "x.y"),
            ]
        );
        // The props' headers hold decoded text for searching.
        assert_eq!(
            props.header(b"subject").map(|v| &v[..]),
            Some("café".as_bytes())
        );
        assert_eq!(
            props.header(b"From").map(|v| &v[..]),
            Some("André <andre@example.com>".as_bytes())
        );
    }

    #[test]
    fn props_headers_and_text() {
        let props = props_of(MIXED, None);
        assert_eq!(props.size as usize, MIXED.len());
        assert_eq!(props.headers.len(), 9);
        assert_eq!(
            props.header(b"content-type").map(|v| &v[..]),
            Some(&b"multipart/mixed; boundary=\"BOUNDARY\""[..])
        );
        assert_eq!(
            props.header(b"To").map(|v| &v[..]),
            Some(&b"Bob <bob@example.org>, carol@example.net"[..])
        );
        let text = props.body_text.unwrap();
        assert!(memchr::memmem::find(&text, b"see attached.").is_some());
        // The attachment is not text.
        assert!(memchr::memmem::find(&text, b"AAEC").is_none());
        // Folded values are unfolded.
        let folded = props_of(b"Subject: one\r\n two\r\n\r\n", None);
        assert_eq!(
            folded.header(b"Subject").map(|v| &v[..]),
            Some(&b"one two"[..])
        );
    }

    #[test]
    fn body_structure_shape() {
        let bs = *props_of(MIXED, None).body_structure.unwrap();
        let BodyStructure::Multi {
            parts,
            subtype,
            extension,
        } = &bs
        else {
            panic!("{bs:?}")
        };
        assert_eq!(subtype, &s(b"MIXED"));
        assert_eq!(
            extension.as_ref().unwrap().params,
            vec![(s(b"BOUNDARY"), s(b"BOUNDARY"))]
        );
        let [text, attachment] = parts.as_slice() else {
            panic!("{parts:?}")
        };
        let BodyStructure::Single {
            basic,
            specific,
            extension,
        } = text
        else {
            panic!()
        };
        assert_eq!(basic.media_type, s(b"TEXT"));
        assert_eq!(basic.subtype, s(b"PLAIN"));
        assert_eq!(basic.params, vec![(s(b"CHARSET"), s(b"utf-8"))]);
        assert_eq!(basic.encoding, s(b"7BIT"));
        assert_eq!(basic.octets as usize, b"Hello Bob,\r\nsee attached.".len());
        // One line end: the CRLF before the boundary belongs to the boundary (Dovecot: 1).
        assert_eq!(specific, &SpecificFields::Text { lines: 1 });
        let tail = extension.as_ref().unwrap().tail.as_ref().unwrap();
        assert_eq!(tail.disposition, None);

        let BodyStructure::Single {
            basic,
            specific,
            extension,
        } = attachment
        else {
            panic!()
        };
        assert_eq!(basic.media_type, s(b"APPLICATION"));
        assert_eq!(basic.subtype, s(b"OCTET-STREAM"));
        assert_eq!(basic.params, vec![(s(b"NAME"), s(b"data.bin"))]);
        assert_eq!(basic.encoding, s(b"BASE64"));
        assert_eq!(basic.octets, 16);
        assert_eq!(specific, &SpecificFields::Basic);
        let tail = extension.as_ref().unwrap().tail.as_ref().unwrap();
        assert_eq!(
            tail.disposition,
            Some((s(b"ATTACHMENT"), vec![(s(b"FILENAME"), s(b"data.bin"))]))
        );

        // BODY: the same without extension data.
        let body = strip_extension(&bs);
        let BodyStructure::Multi {
            parts, extension, ..
        } = &body
        else {
            panic!()
        };
        assert!(extension.is_none());
        assert!(parts.iter().all(|p| matches!(
            p,
            BodyStructure::Single {
                extension: None,
                ..
            }
        )));
    }

    #[test]
    fn sections_of_a_multipart() {
        assert_eq!(get(MIXED, &[], None).unwrap(), MIXED);
        assert_eq!(
            get(MIXED, &[1], None).unwrap(),
            b"Hello Bob,\r\nsee attached."
        );
        assert_eq!(get(MIXED, &[2], None).unwrap(), b"AAECAwQFBgcICQ==");
        assert_eq!(
            get(MIXED, &[1], Some(SectionText::Mime)).unwrap(),
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        );
        assert_eq!(
            get(MIXED, &[2], Some(SectionText::Mime)).unwrap(),
            &b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n"[..]
        );
        let fields = |not, names: &[&str]| {
            Some(SectionText::HeaderFields {
                not,
                fields: names.iter().map(|n| s(n.as_bytes())).collect(),
            })
        };
        assert_eq!(
            get(MIXED, &[], fields(false, &["SUBJECT"])).unwrap(),
            b"Subject: Test message\r\n\r\n"
        );
        assert_eq!(
            get(MIXED, &[], fields(false, &["subject", "from", "x-absent"])).unwrap(),
            &b"From: \"Alice Example\" <alice@example.com>\r\nSubject: Test message\r\n\r\n"[..]
        );
        let not = get(MIXED, &[], fields(true, &["Content-Type", "MIME-Version"])).unwrap();
        assert!(not.starts_with(b"From: "));
        assert!(memchr::memmem::find(&not, b"Content-Type").is_none());
        assert!(not.ends_with(b"\r\n\r\n"));
        let header = get(MIXED, &[], Some(SectionText::Header)).unwrap();
        assert!(header.starts_with(b"From: "));
        assert!(header.ends_with(b"boundary=\"BOUNDARY\"\r\n\r\n"));
        let text = get(MIXED, &[], Some(SectionText::Text)).unwrap();
        assert!(text.starts_with(b"This is a preamble.\r\n--BOUNDARY\r\n"));
        assert_eq!([header, text].concat(), MIXED);
        // Missing parts, and HEADER of a part that is not a message.
        assert_eq!(get(MIXED, &[3], None), None);
        assert_eq!(get(MIXED, &[0], None), None);
        assert_eq!(get(MIXED, &[1, 1], None), None);
        assert_eq!(get(MIXED, &[1], Some(SectionText::Header)), None);
        assert_eq!(get(MIXED, &[], Some(SectionText::Mime)), None);
    }

    #[test]
    fn sections_of_a_single_part_message() {
        let raw = b"Subject: hi\r\n\r\nline one\r\nline two\r\n";
        assert_eq!(get(raw, &[1], None).unwrap(), b"line one\r\nline two\r\n");
        assert_eq!(get(raw, &[1, 1], None), None);
        assert_eq!(get(raw, &[2], None), None);
        assert_eq!(
            get(raw, &[], Some(SectionText::Text)).unwrap(),
            b"line one\r\nline two\r\n"
        );
        let bs = *props_of(raw, None).body_structure.unwrap();
        let BodyStructure::Single {
            basic, specific, ..
        } = bs
        else {
            panic!()
        };
        // Defaults of a part without Content-Type.
        assert_eq!(basic.media_type, s(b"TEXT"));
        assert_eq!(basic.params, vec![(s(b"CHARSET"), s(b"US-ASCII"))]);
        assert_eq!(specific, SpecificFields::Text { lines: 2 });
    }

    #[test]
    fn encapsulated_message() {
        assert_eq!(get(NESTED, &[1], None).unwrap(), b"first");
        let inner = get(NESTED, &[2], None).unwrap();
        assert!(inner.starts_with(b"From: x@y.z\r\n"));
        assert!(inner.ends_with(b"--YY--\r\n"));
        assert_eq!(
            get(NESTED, &[2], Some(SectionText::Header)).unwrap(),
            &b"From: x@y.z\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n"[..]
        );
        assert!(get(NESTED, &[2], Some(SectionText::Text))
            .unwrap()
            .starts_with(b"--YY\r\n"));
        assert_eq!(get(NESTED, &[2, 1], None).unwrap(), b"inner text");
        assert_eq!(get(NESTED, &[2, 2], None).unwrap(), b"<b>hi</b>");
        assert_eq!(
            get(NESTED, &[2, 2], Some(SectionText::Mime)).unwrap(),
            b"Content-Type: text/html\r\n\r\n"
        );
        assert_eq!(get(NESTED, &[2, 3], None), None);

        let bs = *props_of(NESTED, None).body_structure.unwrap();
        let BodyStructure::Multi { parts, .. } = bs else {
            panic!()
        };
        let Some(BodyStructure::Single {
            basic,
            specific: SpecificFields::Message { envelope, body, .. },
            ..
        }) = parts.get(1)
        else {
            panic!("{parts:?}")
        };
        assert_eq!(basic.media_type, s(b"MESSAGE"));
        assert_eq!(basic.subtype, s(b"RFC822"));
        assert_eq!(envelope.subject, Some(s(b"inner")));
        assert!(
            matches!(**body, BodyStructure::Multi { ref subtype, .. } if *subtype == s(b"ALTERNATIVE"))
        );
        let text = props_of(NESTED, None).body_text.unwrap();
        assert!(memchr::memmem::find(&text, b"inner text").is_some());
    }

    #[test]
    fn text_of_an_encapsulated_multipart_keeps_its_epilogue() {
        let raw = b"Subject: outer\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\
\r\n\
--XX\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
Content-Type: multipart/alternative; boundary=YY\r\n\
\r\n\
--YY\r\n\
\r\n\
one\r\n\
--YY--\r\n\
inner epilogue\r\n\
--XX--\r\n\
outer epilogue\r\n";
        // RFC 3501: TEXT is everything after the header, epilogue included.
        assert_eq!(
            get(raw, &[1], Some(SectionText::Text)).unwrap(),
            &b"--YY\r\n\r\none\r\n--YY--\r\ninner epilogue"[..]
        );
        let top = get(raw, &[], Some(SectionText::Text)).unwrap();
        assert!(
            top.ends_with(b"--XX--\r\nouter epilogue\r\n"),
            "{:?}",
            String::from_utf8_lossy(&top)
        );
    }

    #[test]
    fn group_comments_and_source_routes() {
        let raw = b"From: <@relay.test,@hop.test:joe@x.test>\r\n\
To: team: (nobody yet) ;\r\n\
Cc: undisclosed-recipients:;\r\n\r\nbody\r\n";
        let e = props_of(raw, None).envelope.unwrap();
        assert_eq!(e.from.len(), 1, "{:?}", e.from);
        assert_eq!(e.from[0].adl, Some(s(b"@relay.test,@hop.test")));
        assert_eq!(e.from[0].mailbox, Some(s(b"joe")));
        assert_eq!(e.from[0].host, Some(s(b"x.test")));
        // A group holding only a comment: its start and end markers, nothing between.
        assert_eq!(e.to.len(), 2, "{:?}", e.to);
        assert_eq!(e.to[0].mailbox, Some(s(b"team")));
        assert_eq!(e.to[1].mailbox, None);
    }

    #[test]
    fn a_last_line_without_newline_is_not_counted() {
        assert_eq!(count_lines(b"abc"), 0);
        assert_eq!(count_lines(b"a\nb"), 1);
        assert_eq!(count_lines(b"a\r\nb\r\n"), 2);
    }

    #[test]
    fn binary_decodes_transfer_encoding() {
        let p = Parsed::new(MIXED);
        let raw = Bytes::from_static(MIXED);
        let data = binary(&p, &[2]).unwrap().into_bytes(&raw);
        assert_eq!(&data[..], &[0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9][..]);
        let data = binary(&p, &[1]).unwrap().into_bytes(&raw);
        assert_eq!(&data[..], b"Hello Bob,\r\nsee attached.");
        assert_eq!(binary(&p, &[3]), None);
        let qp = b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nok";
        let p = Parsed::new(qp);
        let data = binary(&p, &[1])
            .unwrap()
            .into_bytes(&Bytes::from_static(qp));
        assert_eq!(&data[..], "café ok".as_bytes());
    }

    #[test]
    fn headerless_octets() {
        // mail-parser finds no header field in this (it returns no message).
        let raw = b"garbage without colon\r\nmore\r\n";
        assert!(Parsed::new(raw).msg.is_none());
        let props = props_of(raw, None);
        assert!(props.headers.is_empty());
        assert_eq!(props.body_text.as_deref(), Some(&raw[..]));
        assert_eq!(get(raw, &[], None).unwrap(), raw);
        assert_eq!(get(raw, &[1], None).unwrap(), raw);
        assert_eq!(get(raw, &[], Some(SectionText::Header)).unwrap(), b"");
        assert!(props.body_structure.is_some());
    }

    #[test]
    fn deep_nesting_neither_overflows_nor_recurses_unbounded() {
        let n = 20_000;
        let mut raw = b"Subject: top\r\n".to_vec();
        for _ in 0..n {
            raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"Subject: deep\r\n\r\nbody\r\n");
        let props = props_of(&raw, None);
        assert!(props.body_structure.is_some());
        assert!(get(&raw, &[1, 1, 1], None).is_some());

        let mut raw = b"Subject: top\r\n".to_vec();
        for i in 0..n {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\nx\r\n");
        let props = props_of(&raw, None);
        assert!(props.body_structure.is_some());
    }

    fn arb_section() -> impl Strategy<Value = Section> {
        let text = prop_oneof![
            Just(None),
            Just(Some(SectionText::Header)),
            Just(Some(SectionText::Text)),
            Just(Some(SectionText::Mime)),
            Just(Some(SectionText::HeaderFields {
                not: false,
                fields: vec![IString::try_from("Subject").unwrap()]
            })),
        ];
        (prop::collection::vec(0u32..4, 0..4), text).prop_map(|(part, text)| Section { part, text })
    }

    fn arb_message() -> impl Strategy<Value = Vec<u8>> {
        let pieces = prop_oneof![
            Just(b"Content-Type: multipart/mixed; boundary=b\r\n".to_vec()),
            Just(b"Content-Type: message/rfc822\r\n".to_vec()),
            Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
            Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
            Just(b"--b\r\n".to_vec()),
            Just(b"--b--\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"From: a@b\r\n".to_vec()),
            Just(b"To: G: x@y;\r\n".to_vec()),
            Just(b"=?utf-8?b?w6k=?=".to_vec()),
            Just(b"=".to_vec()),
            Just(b"\0".to_vec()),
            prop::collection::vec(any::<u8>(), 0..16),
        ];
        prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn any_octets_never_panic(raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            arb_message(),
        ], sections in prop::collection::vec(arb_section(), 1..6)) {
            let props = props_of(&raw, None);
            prop_assert_eq!(props.size as usize, raw.len());
            prop_assert!(props.envelope.is_some());
            let p = Parsed::new(&raw);
            let bytes = Bytes::copy_from_slice(&raw);
            for s in &sections {
                if let Some(d) = section(&p, s) {
                    let _ = d.into_bytes(&bytes);
                }
                let _ = binary(&p, &s.part);
            }
        }
    }

    #[test]
    fn kept_plain_body_text_is_shared_not_copied() {
        let whole = Bytes::from_static(b"Subject: s\r\n\r\nplain body\r\n");
        let t = props_of_kept(&whole, None).body_text.unwrap();
        assert_eq!(&t[..], b"plain body\r\n");
        let inside = whole.as_ptr() as usize..whole.as_ptr() as usize + whole.len();
        assert!(
            inside.contains(&(t.as_ptr() as usize)),
            "a slice of the message"
        );
        // Decoded text (quoted-printable) cannot be shared; it is still right.
        let qp = Bytes::from_static(
            b"Subject: s\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n",
        );
        let t = props_of_kept(&qp, None).body_text.unwrap();
        assert!(t.starts_with(b"a=b"), "{t:?}");
    }
}
