//! FETCH attributes (commands), sections and message data items (responses).

use super::{PResult, Parser};
use pimap_types::{
    ConvertMedia, ConvertSpec, FetchAttr, FetchItem, FetchItems, FetchMacro, IString, Partial,
    Section, SectionText,
};

impl Parser<'_> {
    /// FETCH item specification: macro, single attribute or list.
    pub(crate) fn fetch_items(&mut self) -> PResult<FetchItems> {
        if self.eat(b'(') {
            let mut v = Vec::new();
            loop {
                v.push(self.fetch_attr(true)?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
            return Ok(FetchItems::List(v));
        }
        if self.kw(b"ALL") {
            return Ok(FetchItems::Macro(FetchMacro::All));
        }
        if self.kw(b"FAST") {
            return Ok(FetchItems::Macro(FetchMacro::Fast));
        }
        if self.kw(b"FULL") {
            return Ok(FetchItems::Macro(FetchMacro::Full));
        }
        Ok(FetchItems::List(vec![self.fetch_attr(false)?]))
    }

    fn fetch_attr(&mut self, in_list: bool) -> PResult<FetchAttr> {
        let start = self.pos;
        // name = letters, digits, '.', '-'
        self.skip_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let mut ub = [0u8; 24];
        let name = super::upcase(self.bytes_between(start, self.pos), &mut ub);
        let a = match name {
            b"ENVELOPE" => FetchAttr::Envelope,
            b"FLAGS" => FetchAttr::Flags,
            b"INTERNALDATE" => FetchAttr::InternalDate,
            b"RFC822" => FetchAttr::Rfc822,
            b"RFC822.HEADER" => FetchAttr::Rfc822Header,
            b"RFC822.SIZE" => FetchAttr::Rfc822Size,
            b"RFC822.TEXT" => FetchAttr::Rfc822Text,
            b"BODYSTRUCTURE" => FetchAttr::BodyStructure,
            b"UID" => FetchAttr::Uid,
            b"MODSEQ" => FetchAttr::ModSeq,
            b"SAVEDATE" => FetchAttr::SaveDate,
            b"PREVIEW" => {
                let mut lazy = false;
                // `PREVIEW (LAZY)`; a `(` not followed by LAZY is the command's modifier list
                // (`FETCH 1 PREVIEW (CHANGEDSINCE 5)`).
                let modifiers = self
                    .buf
                    .get(self.pos..self.pos + 6)
                    .is_some_and(|b| b.eq_ignore_ascii_case(b" (LAZY"));
                if modifiers {
                    self.sp()?;
                    self.pos += 1;
                    loop {
                        self.expect_kw(b"LAZY", "LAZY")?;
                        lazy = true;
                        if self.eat(b')') {
                            break;
                        }
                        self.sp()?;
                    }
                }
                FetchAttr::Preview { lazy }
            }
            b"BODY" | b"BODY.PEEK" if self.at(b'[') => {
                let section = self.section()?;
                FetchAttr::BodySection {
                    peek: name.len() > 4,
                    section,
                    partial: self.partial()?,
                }
            }
            b"BODY" => FetchAttr::Body,
            b"BINARY" | b"BINARY.PEEK" => {
                let section = self.section()?;
                FetchAttr::Binary {
                    peek: name.len() > 6,
                    section,
                    partial: self.partial()?,
                }
            }
            b"BINARY.SIZE" => FetchAttr::BinarySize {
                section: self.section()?,
            },
            // Generation-4 XZIP items exist only in -12, not a strict dialect.
            b"XZIP" | b"XZIP.PEEK" if self.tolerant() => {
                let part = self.bracket_part()?;
                FetchAttr::XZip {
                    peek: name.len() > 4,
                    part,
                    partial: self.partial()?,
                }
            }
            b"XZIP.SIZE" if self.tolerant() => FetchAttr::XZipSize {
                part: self.bracket_part()?,
            },
            b"ALL" | b"FAST" | b"FULL" if in_list && self.tolerant() => {
                FetchAttr::Macro(match name.get(1).copied().unwrap_or_default() {
                    b'L' => FetchMacro::All,
                    b'A' => FetchMacro::Fast,
                    _ => FetchMacro::Full,
                })
            }
            _ => {
                self.pos = start;
                return self.err("fetch attribute");
            }
        };
        Ok(a)
    }

    pub(crate) fn bracket_part(&mut self) -> PResult<Vec<u32>> {
        self.expect(b'[', "[")?;
        let p = self.part_numbers()?;
        self.expect(b']', "]")?;
        Ok(p)
    }

    /// `<origin.count>` of a command.
    fn partial(&mut self) -> PResult<Option<Partial>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let origin = self.number()?;
        self.expect(b'.', ".")?;
        let count = self.nz_number()?;
        self.expect(b'>', ">")?;
        Ok(Some(Partial { origin, count }))
    }

    /// `<origin>` of a response.
    fn origin(&mut self) -> PResult<Option<u32>> {
        if !self.eat(b'<') {
            return Ok(None);
        }
        let o = self.number()?;
        self.expect(b'>', ">")?;
        Ok(Some(o))
    }

    /// `[section]`
    pub(crate) fn section(&mut self) -> PResult<Section> {
        self.expect(b'[', "[")?;
        let part = self.part_numbers()?;
        let mut text = None;
        if !self.at(b']') {
            if !part.is_empty() {
                self.expect(b'.', ".")?;
            }
            text = Some(self.section_text(!part.is_empty())?);
        }
        self.expect(b']', "]")?;
        Ok(Section { part, text })
    }

    fn section_text(&mut self, has_part: bool) -> PResult<SectionText> {
        if self.prefix(b"HEADER.FIELDS") {
            let not = self.prefix(b".NOT");
            self.sp()?;
            let fields = self.astring_list()?;
            if fields.is_empty() {
                return self.err("header field names");
            }
            return Ok(SectionText::HeaderFields { not, fields });
        }
        if self.kw(b"HEADER") {
            return Ok(SectionText::Header);
        }
        if self.kw(b"TEXT") {
            return Ok(SectionText::Text);
        }
        if has_part && self.kw(b"MIME") {
            return Ok(SectionText::Mime);
        }
        // P-IMAP conversion: XCONVERT (send), LCONVERT / CONVERT (tolerant).
        let tol = self.tolerant();
        if self.prefix(b"XCONVERT")
            || (tol && (self.prefix(b"LCONVERT") || self.prefix(b"CONVERT")))
        {
            let strict = self.prefix(b".STRICT");
            self.sp()?;
            return Ok(SectionText::Convert(Box::new(self.convert_params(strict)?)));
        }
        self.err("section text")
    }

    fn convert_params(&mut self, strict: bool) -> PResult<ConvertSpec> {
        self.expect(b'(', "(")?;
        let media = if self.kw(b"NIL") {
            self.sp()?;
            self.expect_kw(b"NIL", "NIL")?;
            ConvertMedia::Default
        } else {
            let a = self.string()?;
            if self.at(b' ') && matches!(self.peek_at(1), Some(b'"') | Some(b'{')) {
                self.sp()?;
                let b = self.string()?;
                if a.as_bytes().eq_ignore_ascii_case(b"NIL")
                    && b.as_bytes().eq_ignore_ascii_case(b"NIL")
                {
                    ConvertMedia::Default
                } else {
                    ConvertMedia::TypeSubtype(a, b)
                }
            } else if self.tolerant() {
                // One-string `"type/subtype"` (-11/-12 only).
                ConvertMedia::Combined(a)
            } else {
                return self.err("media type and subtype");
            }
        };
        let mut params = Vec::new();
        if self.at(b' ') {
            self.sp()?;
            self.expect(b'(', "(")?;
            if !self.eat(b')') {
                loop {
                    let n = self.string()?;
                    self.sp()?;
                    let v = self.string()?;
                    params.push((n, v));
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
        }
        self.expect(b')', ")")?;
        Ok(ConvertSpec {
            strict,
            media,
            params,
        })
    }

    /// `"(" msg-att *(SP msg-att) ")"` of a FETCH response.
    pub(crate) fn fetch_response_items(&mut self) -> PResult<Vec<FetchItem>> {
        let mut v = Vec::with_capacity(4);
        self.fetch_items_into(&mut v)?;
        Ok(v)
    }

    fn fetch_items_into(&mut self, v: &mut Vec<FetchItem>) -> PResult<()> {
        self.expect(b'(', "(")?;
        loop {
            if self.at(b'(') && self.tolerant() {
                self.nested_fetch_items(v)?;
            } else {
                v.push(self.fetch_item()?);
            }
            if self.eat(b')') {
                return Ok(());
            }
            self.sp()?;
            if self.tolerant() && self.eat(b')') {
                return Ok(());
            }
        }
    }

    /// Items wrapped in an extra list, `* 1 FETCH ((UID 7) FLAGS ())`, are read as items of
    /// the response when every one of them is a known item. Otherwise the list is kept as an
    /// unknown item, as before: flattening unknown items would change how they re-read.
    #[inline(never)]
    fn nested_fetch_items(&mut self, v: &mut Vec<FetchItem>) -> PResult<()> {
        let save = self.pos;
        let mut inner = Vec::new();
        self.enter()?;
        let r = self.fetch_items_into(&mut inner);
        self.leave();
        match r {
            Ok(()) if !inner.iter().any(|i| matches!(i, FetchItem::Other { .. })) => {
                v.extend(inner);
                Ok(())
            }
            Err(e) if e.too_deep => Err(e),
            _ => {
                self.pos = save;
                v.push(self.fetch_item()?);
                Ok(())
            }
        }
    }

    fn fetch_item(&mut self) -> PResult<FetchItem> {
        let start = self.pos;
        self.skip_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let name_end = self.pos;
        let name = self.bytes_between(start, name_end);
        if name.is_empty() && !self.tolerant() {
            return self.err("fetch item");
        }
        // Fast path for the items of a pushed flag change, kept small and inline.
        if self.at(b' ') {
            if name == b"UID" {
                self.pos += 1;
                if let Ok(uid) = self.nz_number() {
                    return Ok(FetchItem::Uid(uid));
                }
                self.pos = name_end;
            } else if name == b"FLAGS" && self.peek_at(1) == Some(b'(') {
                self.pos += 1;
                if let Ok(flags) = self.flag_list() {
                    return Ok(FetchItem::Flags(flags));
                }
                self.pos = name_end;
            }
        }
        let known = self.known_fetch_item(name);
        match known {
            Ok(Some(item)) => Ok(item),
            Ok(None) | Err(_) => {
                if let Err(e) = known {
                    if e.too_deep || !self.tolerant() {
                        return Err(e);
                    }
                }
                // Unknown (or, tolerantly, unparseable) item: keep `name [sect]<o> SP value`.
                self.pos = start;
                self.skip_value()?;
                if self.at(b' ') {
                    self.pos += 1;
                    self.skip_value()?;
                }
                Ok(FetchItem::Other {
                    raw: self.slice(start, self.pos),
                })
            }
        }
    }

    #[inline(never)]
    fn known_fetch_item(&mut self, name: &[u8]) -> PResult<Option<FetchItem>> {
        if name.len() > 20 {
            return Ok(None);
        }
        let mut ub = [0u8; 24];
        let n = super::upcase(name, &mut ub);
        let item = match n {
            b"UID" => {
                self.sp()?;
                FetchItem::Uid(self.nz_number()?)
            }
            b"FLAGS" => {
                self.sp()?;
                if self.at(b'(') {
                    FetchItem::Flags(self.flag_list()?)
                } else if self.tolerant() {
                    // `(FLAGS \Seen)` (E-04)
                    FetchItem::Flags(vec![self.flag()?])
                } else {
                    return self.err("flag list");
                }
            }
            b"MODSEQ" => {
                self.sp()?;
                self.expect(b'(', "(")?;
                let m = if self.tolerant() && self.at(b'-') {
                    // `MODSEQ (-1)`: no mod-sequence known; read as 0 (none).
                    self.pos += 1;
                    self.number64()?;
                    0
                } else {
                    self.number64()?
                };
                self.expect(b')', ")")?;
                FetchItem::ModSeq(m)
            }
            b"PREVIEW" => {
                self.sp()?;
                FetchItem::Preview(self.nstring()?)
            }
            b"SAVEDATE" => {
                self.sp()?;
                if self.kw(b"NIL") {
                    FetchItem::SaveDate(None)
                } else {
                    FetchItem::SaveDate(Some(self.date_time()?))
                }
            }
            b"RFC822.SIZE" => {
                self.sp()?;
                FetchItem::Rfc822Size(self.number()?)
            }
            b"INTERNALDATE" => {
                self.sp()?;
                FetchItem::InternalDate(self.date_time()?)
            }
            b"ENVELOPE" => {
                self.sp()?;
                FetchItem::Envelope(Box::new(self.envelope()?))
            }
            b"RFC822" => {
                self.sp()?;
                FetchItem::Rfc822(self.nstring()?)
            }
            b"RFC822.HEADER" => {
                self.sp()?;
                FetchItem::Rfc822Header(self.nstring()?)
            }
            b"RFC822.TEXT" => {
                self.sp()?;
                FetchItem::Rfc822Text(self.nstring()?)
            }
            b"BODYSTRUCTURE" => {
                self.sp()?;
                FetchItem::BodyStructure(Box::new(self.body(true)?))
            }
            b"BODY" if self.at(b'[') => {
                let section = self.section()?;
                let origin = self.origin()?;
                if self.tolerant() && (self.at(b')') || self.at_eol()) {
                    // `* 8 FETCH (BODY[TEXT])`: no value after the section (the truncated
                    // response of Twisted's client tests); read as NIL.
                    return Ok(Some(FetchItem::BodySection {
                        section,
                        origin,
                        data: None,
                    }));
                }
                self.sp()?;
                let data = if self.tolerant() && self.at(b'~') {
                    // E-66 mirror: literal8 where a literal belongs.
                    self.literal_any()?.0.pipe_istring()
                } else {
                    self.nstring()?
                };
                FetchItem::BodySection {
                    section,
                    origin,
                    data,
                }
            }
            b"BODY" => {
                self.sp()?;
                FetchItem::Body(Box::new(self.body(false)?))
            }
            b"BINARY" => {
                let section = self.section()?;
                let origin = self.origin()?;
                self.sp()?;
                FetchItem::Binary {
                    section,
                    origin,
                    data: self.nstring_or_literal8()?,
                }
            }
            b"BINARY.SIZE" => {
                let section = self.section()?;
                self.sp()?;
                FetchItem::BinarySize {
                    section,
                    size: self.number()?,
                }
            }
            b"BODYPARTSTRUCTURE" => {
                let section = self.section()?;
                self.sp()?;
                FetchItem::BodyPartStructure {
                    section,
                    body: Box::new(self.body(true)?),
                }
            }
            b"XZIP" => {
                let part = self.bracket_part()?;
                let origin = self.origin()?;
                if self.tolerant() {
                    self.eat(b' ');
                } else {
                    self.sp()?;
                }
                FetchItem::XZip {
                    part,
                    origin,
                    data: self.nstring_or_literal8()?,
                }
            }
            b"XZIP.SIZE" => {
                let part = self.bracket_part()?;
                self.sp()?;
                FetchItem::XZipSize {
                    part,
                    size: self.number()?,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(item))
    }
}

trait PipeIString {
    fn pipe_istring(self) -> Option<IString>;
}

impl PipeIString for bytes::Bytes {
    fn pipe_istring(self) -> Option<IString> {
        IString::new(self).ok()
    }
}
