//! ENVELOPE, addresses and BODY/BODYSTRUCTURE.

use super::{PResult, Parser};
use pimap_types::{
    Address, BasicFields, BodyExtension, BodyStructure, Envelope, ExtensionTail, IString,
    LanguageTail, LocationTail, MultiPartExtension, SinglePartExtension, SpecificFields,
};

impl Parser<'_> {
    pub(crate) fn envelope(&mut self) -> PResult<Envelope> {
        self.enter()?;
        self.expect(b'(', "envelope")?;
        let date = self.nstring()?;
        self.sp()?;
        let subject = self.nstring()?;
        self.sp()?;
        let from = self.address_list()?;
        self.sp()?;
        let sender = self.address_list()?;
        self.sp()?;
        let reply_to = self.address_list()?;
        self.sp()?;
        let to = self.address_list()?;
        self.sp()?;
        let cc = self.address_list()?;
        self.sp()?;
        let bcc = self.address_list()?;
        self.sp()?;
        let in_reply_to = self.nstring()?;
        self.sp()?;
        let message_id = self.nstring()?;
        self.expect(b')', ")")?;
        self.leave();
        Ok(Envelope {
            date,
            subject,
            from,
            sender,
            reply_to,
            to,
            cc,
            bcc,
            in_reply_to,
            message_id,
        })
    }

    /// A body size or line count. Tolerant: a negative number (servers send `-1` for
    /// "unknown") reads as 0.
    fn size_number(&mut self) -> PResult<u32> {
        if self.tolerant() && self.at(b'-') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            self.number64()?;
            return Ok(0);
        }
        self.number()
    }

    /// `"(" 1*address ")" / nil`
    pub(crate) fn address_list(&mut self) -> PResult<Vec<Address>> {
        if self.kw(b"NIL") {
            return Ok(Vec::new());
        }
        self.expect(b'(', "address list")?;
        let mut v = Vec::new();
        loop {
            v.push(self.address()?);
            if self.eat(b')') {
                return Ok(v);
            }
            // Some servers put spaces between addresses.
            if self.tolerant() {
                while self.eat(b' ') {}
            }
        }
    }

    pub(crate) fn address(&mut self) -> PResult<Address> {
        self.expect(b'(', "address")?;
        let name = self.nstring()?;
        self.sp()?;
        let adl = self.nstring()?;
        self.sp()?;
        let mailbox = self.nstring()?;
        self.sp()?;
        let host = self.nstring()?;
        self.expect(b')', ")")?;
        Ok(Address {
            name,
            adl,
            mailbox,
            host,
        })
    }

    /// `body`; `extensible` = BODYSTRUCTURE (extension data allowed).
    pub(crate) fn body(&mut self, extensible: bool) -> PResult<BodyStructure> {
        self.enter()?;
        self.expect(b'(', "body")?;
        let b = if self.at(b'(') {
            self.body_multi(extensible)?
        } else {
            self.body_single(extensible)?
        };
        self.expect(b')', ")")?;
        self.leave();
        Ok(b)
    }

    fn body_multi(&mut self, extensible: bool) -> PResult<BodyStructure> {
        let mut parts = Vec::new();
        while self.at(b'(') {
            parts.push(self.body(extensible)?);
            if self.tolerant() {
                while self.eat(b' ') {}
            }
        }
        if !self.tolerant() || self.at(b' ') {
            self.sp()?;
        }
        let subtype = self.string_tol()?;
        let mut extension = None;
        if self.at(b' ') {
            self.sp()?;
            let params = self.body_params()?;
            let tail = self.ext_tail()?;
            extension = Some(MultiPartExtension { params, tail });
        }
        Ok(BodyStructure::Multi {
            parts,
            subtype,
            extension,
        })
    }

    /// A string, tolerating NIL (as empty) and atoms in tolerant mode.
    fn string_tol(&mut self) -> PResult<IString> {
        if self.tolerant() {
            Ok(self
                .nstring()?
                .unwrap_or_else(|| IString::unchecked(bytes::Bytes::new())))
        } else {
            self.string()
        }
    }

    fn body_single(&mut self, _extensible: bool) -> PResult<BodyStructure> {
        let media_type = self.string_tol()?;
        self.sp()?;
        let subtype = self.string_tol()?;
        self.sp()?;
        let params = self.body_params()?;
        self.sp()?;
        let id = self.nstring()?;
        self.sp()?;
        let description = self.nstring()?;
        self.sp()?;
        let encoding = self.string_tol()?;
        self.sp()?;
        let octets = self.size_number()?;
        let basic = BasicFields {
            media_type,
            subtype,
            params,
            id,
            description,
            encoding,
            octets,
        };
        let t = basic.media_type.as_bytes();
        let st = basic.subtype.as_bytes();
        let specific = if t.eq_ignore_ascii_case(b"MESSAGE")
            && (st.eq_ignore_ascii_case(b"RFC822") || st.eq_ignore_ascii_case(b"GLOBAL"))
            && self.at(b' ')
            && self.peek_at(1) == Some(b'(')
        {
            self.sp()?;
            let envelope = Box::new(self.envelope()?);
            self.sp()?;
            let body = Box::new(self.body(true)?);
            self.sp()?;
            let lines = self.size_number()?;
            SpecificFields::Message {
                envelope,
                body,
                lines,
            }
        } else if t.eq_ignore_ascii_case(b"TEXT")
            && self.at(b' ')
            && self
                .peek_at(1)
                .is_some_and(|b| b.is_ascii_digit() || (b == b'-' && self.tolerant()))
        {
            self.sp()?;
            SpecificFields::Text {
                lines: self.size_number()?,
            }
        } else {
            SpecificFields::Basic
        };
        let mut extension = None;
        if self.at(b' ') {
            self.sp()?;
            let md5 = self.nstring()?;
            let tail = self.ext_tail()?;
            extension = Some(SinglePartExtension { md5, tail });
        }
        Ok(BodyStructure::Single {
            basic,
            specific,
            extension,
        })
    }

    /// `body-fld-param` = "(" string SP string *(SP string SP string) ")" / nil
    fn body_params(&mut self) -> PResult<Vec<(IString, IString)>> {
        if self.kw(b"NIL") {
            return Ok(Vec::new());
        }
        self.expect(b'(', "body parameters")?;
        let mut v = Vec::new();
        if self.tolerant() && self.eat(b')') {
            return Ok(v);
        }
        loop {
            let k = self.string_tol()?;
            self.sp()?;
            let val = self.string_tol()?;
            v.push((k, val));
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
        }
    }

    /// Disposition, language, location, extensions (each optional after the previous).
    fn ext_tail(&mut self) -> PResult<Option<ExtensionTail>> {
        if !self.at(b' ') {
            return Ok(None);
        }
        self.sp()?;
        let disposition = if self.kw(b"NIL") {
            None
        } else {
            self.expect(b'(', "disposition")?;
            let t = self.string_tol()?;
            self.sp()?;
            let p = self.body_params()?;
            self.expect(b')', ")")?;
            Some((t, p))
        };
        let mut tail = ExtensionTail {
            disposition,
            language: None,
        };
        if !self.at(b' ') {
            return Ok(Some(tail));
        }
        self.sp()?;
        let languages = if self.at(b'(') {
            self.pos += 1;
            let mut v = Vec::new();
            loop {
                v.push(self.string_tol()?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
            v
        } else {
            self.nstring()?.into_iter().collect()
        };
        let mut lang = LanguageTail {
            languages,
            location: None,
        };
        if self.at(b' ') {
            self.sp()?;
            let location = self.nstring()?;
            let mut extensions = Vec::new();
            while self.at(b' ') {
                self.sp()?;
                extensions.push(self.body_extension()?);
            }
            lang.location = Some(LocationTail {
                location,
                extensions,
            });
        }
        tail.language = Some(lang);
        Ok(Some(tail))
    }

    fn body_extension(&mut self) -> PResult<BodyExtension> {
        match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.pos += 1;
                let mut v = Vec::new();
                loop {
                    v.push(self.body_extension()?);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
                self.leave();
                Ok(BodyExtension::List(v))
            }
            Some(b'0'..=b'9') => Ok(BodyExtension::Number(self.number()?)),
            _ => Ok(BodyExtension::NString(self.nstring()?)),
        }
    }
}
