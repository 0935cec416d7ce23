//! Responses (what a client reads).

use bytes::Bytes;

use super::{PResult, Parser};
use pimap_types::{
    Atom, Capability, Code, Continuation, Data, ListEntry, Literal8, NamespaceEntry,
    PrefCommandName, Response, SessionState, Status, StatusResponse, XConvertData, XZipFraming,
};

/// Parse one server frame.
pub(crate) fn parse_response(p: &mut Parser<'_>) -> PResult<Response> {
    p.from_server = true;
    let r = match p.peek() {
        Some(b'+') => {
            p.pos += 1;
            Response::Continuation(p.continuation()?)
        }
        Some(b'*') => {
            p.pos += 1;
            p.sp()?;
            if p.peek().is_some_and(|b| b.is_ascii_digit()) {
                // The push path (`* n FETCH`, `* n EXISTS`, `* n EXPUNGE`) skips the large
                // stack frame of `untagged`.
                let raw_start = p.pos;
                let n = p.number()?;
                p.sp()?;
                Response::Data(p.numbered(n, raw_start)?)
            } else {
                p.untagged()?
            }
        }
        _ => {
            let tag = p.tag()?;
            p.sp()?;
            let (status, code, text) = p.tagged_status()?;
            Response::Status(StatusResponse {
                tag: Some(tag),
                status,
                code,
                text,
            })
        }
    };
    p.crlf()?;
    Ok(r)
}

impl Parser<'_> {
    fn continuation(&mut self) -> PResult<Continuation> {
        if self.at_eol() {
            // `+` CRLF (missing text; common quirk)
            return Ok(Continuation {
                code: None,
                text: Bytes::new(),
            });
        }
        self.expect(b' ', "SP")?;
        let (code, text) = self.resp_text()?;
        Ok(Continuation { code, text })
    }

    /// `["[" resp-text-code "]" SP] text`
    fn resp_text(&mut self) -> PResult<(Option<Code>, Bytes)> {
        let mut code = None;
        if self.at(b'[') {
            let save = self.pos;
            match self.resp_code() {
                Ok(c) => code = Some(c),
                Err(e) if e.too_deep => return Err(e),
                Err(e) => {
                    if !self.tolerant() {
                        return Err(e);
                    }
                    self.pos = save;
                }
            }
            if code.is_some() && self.at(b' ') {
                self.pos += 1;
            }
        }
        let text = self.text_to_eol();
        if code.is_none() && self.tolerant() {
            // E-10: `OK XDELIVER [APPENDUID 1 140] completed`
            if let Some(i) = memchr::memmem::find(&text, b"[APPENDUID ")
                .or_else(|| memchr::memmem::find(&text, b"[XDELIVERUID "))
            {
                let end = self.pos;
                self.pos = end - text.len() + i;
                let c = self.resp_code();
                self.pos = end;
                if let Ok(c) = c {
                    code = Some(c);
                }
            }
        }
        Ok((code, text))
    }

    /// Status word and resp-text of a tagged response.
    fn tagged_status(&mut self) -> PResult<(Status, Option<Code>, Bytes)> {
        let start = self.pos;
        let status = if self.kw(b"OK") {
            Status::Ok
        } else if self.kw(b"NO") {
            Status::No
        } else if self.kw(b"BAD") {
            Status::Bad
        } else if self.tolerant() && self.kw(b"0K") {
            Status::Ok
        } else if self.kw(b"BYE") || self.kw(b"PREAUTH") {
            self.pos = start;
            return self.err("OK, NO or BAD");
        } else if self.tolerant() {
            // E-24/E-50: tagged line without status word: OK with the rest read as resp-text.
            let (code, text) = self.resp_text()?;
            return Ok((Status::Ok, code, text));
        } else {
            return self.err("OK, NO or BAD");
        };
        let (code, text) = self.status_tail()?;
        Ok((status, code, text))
    }

    fn status_tail(&mut self) -> PResult<(Option<Code>, Bytes)> {
        if self.at_eol() {
            // Terse mode / missing text (E-34).
            return Ok((None, Bytes::new()));
        }
        self.expect(b' ', "SP")?;
        self.resp_text()
    }

    #[inline(never)]
    fn untagged(&mut self) -> PResult<Response> {
        if self.at(b'{') {
            // Generation 1/2 XZIP: `* {n}` CRLF data
            let data = self.literal_any()?.0;
            return Ok(Response::Data(Data::XZip {
                framing: XZipFraming::Bare,
                data,
            }));
        }
        if self.tolerant()
            && self
                .buf
                .get(self.pos..self.pos + 5)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"XZIP["))
        {
            // E-65: `* XZIP[1.2]~{n}` outside a FETCH response (-12 example).
            self.pos += 4;
            let part = self.bracket_part()?;
            self.eat(b' ');
            let data = self.literal_any()?.0;
            return Ok(Response::Data(Data::XZipPart { part, data }));
        }
        if self.tolerant() && self.at(b'[') {
            // `* [COPYUID ...]` with no status word (home.pl, read as OK by MailKit).
            let (code, text) = self.resp_text()?;
            return Ok(Response::Status(StatusResponse {
                tag: None,
                status: Status::Ok,
                code,
                text,
            }));
        }
        let start = self.pos;
        let (s, e) = self.atom_span()?;
        let name = self.bytes_between(s, e);
        let mut up = [0u8; 24];
        let n: &[u8] = if name.len() <= 16 {
            super::upcase(name, &mut up)
        } else {
            &[]
        };
        let tol = self.tolerant();
        let status = match n {
            b"OK" => Some(Status::Ok),
            b"NO" => Some(Status::No),
            b"BAD" => Some(Status::Bad),
            b"PREAUTH" => Some(Status::PreAuth),
            b"BYE" => Some(Status::Bye),
            b"0K" if tol => Some(Status::Ok),
            _ => None,
        };
        if let Some(status) = status {
            let (code, text) = self.status_tail()?;
            return Ok(Response::Status(StatusResponse {
                tag: None,
                status,
                code,
                text,
            }));
        }
        let parsed: PResult<Data> = match n {
            b"CAPABILITY" => self.capability_list().map(Data::Capability),
            b"LIST" => self.list_entry().map(Data::List),
            b"LSUB" => self.list_entry().map(Data::Lsub),
            b"STATUS" => self.status_data(),
            b"SEARCH" => self.search_data(),
            b"ESEARCH" => self.esearch_data().map(Data::ESearch),
            b"SORT" => self
                .numbers_and_modseq()
                .map(|(ids, modseq)| Data::Sort { ids, modseq }),
            b"THREAD" => self.thread_data().map(Data::Thread),
            b"FLAGS" => self.sp().and_then(|_| self.flag_list()).map(Data::Flags),
            b"ENABLED" => {
                let mut v = Vec::new();
                let mut r = Ok(());
                while self.at(b' ') {
                    if let Err(e) = self.sp().and_then(|_| self.atom().map(|a| v.push(a))) {
                        r = Err(e);
                        break;
                    }
                }
                r.map(|_| Data::Enabled(v))
            }
            b"ID" => self.sp().and_then(|_| self.id_params()).map(Data::Id),
            b"NAMESPACE" => self.namespace_data(),
            b"VANISHED" => self.vanished(),
            b"SESSION" => self.sp().and_then(|_| {
                if self.kw(b"AUTHENTICATED") {
                    Ok(Data::Session(SessionState::Authenticated))
                } else if self.kw(b"SELECTED") {
                    Ok(Data::Session(SessionState::Selected))
                } else {
                    self.err("AUTHENTICATED or SELECTED")
                }
            }),
            b"FOLDER" => self.sp().and_then(|_| self.mailbox()).map(Data::Folder),
            b"RESYNC" => Ok(Data::Resync),
            b"SESSIONID" => self
                .sp()
                .and_then(|_| self.atom())
                .map(|a| Data::SessionId(pimap_types::Secret::new(a))),
            b"LOGIN" => {
                if self.at(b' ') {
                    self.pos += 1;
                }
                Ok(Data::LoginSevered(self.text_to_eol()))
            }
            b"XPROVISION" => self.xprovision_response().map(Data::XProvision),
            b"XGETPIMAPPREFS" => self.xgetprefs_response().map(|prefs| Data::XGetPimapPrefs {
                name: PrefCommandName::Current,
                prefs,
            }),
            b"XGETPIMAPPREF" => self.xgetprefs_response().map(|prefs| Data::XGetPimapPrefs {
                name: PrefCommandName::Draft01,
                prefs,
            }),
            b"XGETPREF" if tol => self.xgetprefs_response().map(|prefs| Data::XGetPimapPrefs {
                name: PrefCommandName::Current,
                prefs,
            }),
            b"XFILTER" => self.xfilter_response().map(Data::XFilter),
            b"XZIP" => self.xzip_data(),
            b"LZIP" if tol => self.xzip_data(),
            b"XDELIVER" => self.xdeliver_data(),
            b"XENCRYPTED" => {
                self.sp()
                    .and_then(|_| self.nstring_or_literal8())
                    .and_then(|d| match d {
                        Some(d) => Ok(Data::XEncrypted(d)),
                        None => self.err("encrypted data"),
                    })
            }
            b"XMACRO" => self.xmacro_response().map(Data::XMacro),
            _ => return self.other_data(start),
        };
        match parsed {
            Ok(d) => Ok(Response::Data(d)),
            Err(e) if e.too_deep || !tol => Err(e),
            Err(_) => self.other_data(start),
        }
    }

    /// Keep an unmodelled untagged response verbatim.
    fn other_data(&mut self, start: usize) -> PResult<Response> {
        self.pos = start;
        if self.tolerant() {
            // Anything up to CRLF, literals included (skip them by count).
            let save = self.pos;
            if self.skip_values_to_eol().is_err() {
                self.pos = save;
                self.text_to_eol();
            }
        } else {
            self.skip_values_to_eol()?;
        }
        let end = self.pos;
        Ok(Response::Data(Data::Other {
            raw: self.slice(start, end),
        }))
    }

    #[inline(never)]
    fn numbered(&mut self, n: u32, raw_start: usize) -> PResult<Data> {
        let start = self.pos;
        let (s, e) = self.atom_span()?;
        let mut ub = [0u8; 24];
        let kw = super::upcase(self.bytes_between(s, e), &mut ub);
        let tol = self.tolerant();
        let d = match kw {
            b"EXISTS" => Data::Exists(n),
            b"EXITS" if tol => Data::Exists(n),
            b"RECENT" => Data::Recent(n),
            b"EXPUNGE" => Data::Expunge(n),
            b"EXPUNGED" if tol => Data::Expunge(n),
            b"FETCH" => {
                self.sp()?;
                let items = self.fetch_response_items()?;
                Data::Fetch { seq: n, items }
            }
            b"XCONVERT" => {
                self.sp()?;
                if matches!(self.peek(), Some(b'{') | Some(b'~')) {
                    let (data, binary) = self.literal_any()?;
                    return Ok(Data::XConvert {
                        seq: n,
                        data: XConvertData::Literal(Literal8 { data, binary }),
                    });
                }
                let save = self.pos;
                match self.xconvert_items() {
                    Ok(d) => Data::XConvert { seq: n, data: d },
                    Err(e) if e.too_deep => return Err(e),
                    Err(_) => {
                        self.pos = save;
                        let raw = self.text_to_eol();
                        Data::XConvert {
                            seq: n,
                            data: XConvertData::Raw(raw),
                        }
                    }
                }
            }
            _ => {
                // `* n KEYWORD ...` not modelled: keep verbatim (including the number).
                self.pos = start;
                if tol {
                    if self.skip_values_to_eol().is_err() {
                        self.text_to_eol();
                    }
                } else {
                    self.skip_values_to_eol()?;
                }
                return Ok(Data::Other {
                    raw: self.slice(raw_start, self.pos),
                });
            }
        };
        Ok(d)
    }

    /// `(UID u BODYPARTSTRUCTURE[p] body BODY[p]<o> literal)` of legacy XCONVERT.
    fn xconvert_items(&mut self) -> PResult<XConvertData> {
        self.expect(b'(', "(")?;
        let mut uid = None;
        if self.kw(b"UID") {
            self.sp()?;
            uid = Some(self.nz_number()?);
            self.sp()?;
        }
        if !self.prefix(b"BODYPARTSTRUCTURE") {
            return self.err("BODYPARTSTRUCTURE");
        }
        let section = self.section()?;
        self.sp()?;
        let body = Box::new(self.body(true)?);
        self.sp()?;
        if !self.prefix(b"BODY") {
            return self.err("BODY");
        }
        let _ = self.section()?;
        let origin = if self.eat(b'<') {
            let o = self.number()?;
            self.expect(b'>', ">")?;
            Some(o)
        } else {
            None
        };
        self.sp()?;
        let (data, _) = self.literal_any()?;
        if self.tolerant() {
            while self.eat(b'\r') || self.eat(b'\n') {}
        }
        self.expect(b')', ")")?;
        Ok(XConvertData::Items {
            uid,
            section,
            body,
            origin,
            data,
        })
    }

    fn capability_list(&mut self) -> PResult<Vec<Capability>> {
        let mut v = Vec::with_capacity(16);
        while self.at(b' ') {
            self.sp()?;
            if self.at_eol() {
                break;
            }
            v.push(Capability(self.atom()?));
        }
        if v.is_empty() {
            return self.err("capability");
        }
        Ok(v)
    }

    fn list_entry(&mut self) -> PResult<ListEntry> {
        self.sp()?;
        let attributes = self.flag_list()?;
        self.sp()?;
        let delimiter = if self.kw(b"NIL") {
            None
        } else {
            let q = self.quoted()?;
            match q.as_ref() {
                [c] => Some(*c),
                // An empty delimiter means a flat namespace, like NIL.
                [] if self.tolerant() => None,
                _ => return self.err("one-character delimiter"),
            }
        };
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut extended = None;
        if self.at(b' ') {
            self.sp()?;
            let s = self.pos;
            self.skip_value()?;
            extended = Some(self.slice(s, self.pos));
        }
        Ok(ListEntry {
            attributes,
            delimiter,
            mailbox,
            extended,
        })
    }

    fn status_data(&mut self) -> PResult<Data> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        self.sp()?;
        self.expect(b'(', "(")?;
        let mut items = Vec::new();
        if !self.eat(b')') {
            loop {
                let a = self.status_att()?;
                self.sp()?;
                items.push((a, self.number64()?));
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(Data::Status { mailbox, items })
    }

    fn search_data(&mut self) -> PResult<Data> {
        let (ids, modseq) = self.numbers_and_modseq()?;
        Ok(Data::Search { ids, modseq })
    }

    fn namespace_data(&mut self) -> PResult<Data> {
        let mut lists: [Vec<NamespaceEntry>; 3] = Default::default();
        for l in lists.iter_mut() {
            self.sp()?;
            if self.kw(b"NIL") {
                continue;
            }
            self.expect(b'(', "(")?;
            loop {
                self.expect(b'(', "(")?;
                let prefix = self.string()?;
                self.sp()?;
                let delimiter = if self.kw(b"NIL") {
                    None
                } else {
                    match self.quoted()?.as_ref() {
                        [c] => Some(*c),
                        _ => return self.err("one-character delimiter"),
                    }
                };
                let mut extensions = None;
                if self.at(b' ') {
                    let s = self.pos + 1;
                    while self.at(b' ') {
                        self.sp()?;
                        self.skip_value()?;
                        if self.at(b' ') {
                            self.sp()?;
                            self.skip_value()?;
                        }
                    }
                    extensions = Some(self.slice(s, self.pos));
                }
                self.expect(b')', ")")?;
                l.push(NamespaceEntry {
                    prefix,
                    delimiter,
                    extensions,
                });
                if self.eat(b')') {
                    break;
                }
                if self.tolerant() {
                    while self.eat(b' ') {}
                }
            }
        }
        let [personal, other, shared] = lists;
        Ok(Data::Namespace {
            personal,
            other,
            shared,
        })
    }

    fn vanished(&mut self) -> PResult<Data> {
        self.sp()?;
        let mut earlier = false;
        if self.eat(b'(') {
            self.expect_kw(b"EARLIER", "EARLIER")?;
            self.expect(b')', ")")?;
            self.sp()?;
            earlier = true;
        }
        Ok(Data::Vanished {
            earlier,
            uids: self.seq_set()?,
        })
    }

    fn xzip_data(&mut self) -> PResult<Data> {
        self.sp()?;
        let data = self.literal_any()?.0;
        Ok(Data::XZip {
            framing: XZipFraming::XZip,
            data,
        })
    }

    fn xdeliver_data(&mut self) -> PResult<Data> {
        self.sp()?;
        if self.kw(b"CAPABILITY") {
            self.sp()?;
            return Ok(Data::XDeliverCapability(self.astring_list()?));
        }
        let (data, binary) = self.literal_any()?;
        Ok(Data::XDeliverTranscript(Literal8 { data, binary }))
    }

    /// `[code]` including brackets.
    pub(crate) fn resp_code(&mut self) -> PResult<Code> {
        self.in_code = true;
        let r = self.resp_code_inner();
        self.in_code = false;
        r
    }

    fn resp_code_inner(&mut self) -> PResult<Code> {
        self.expect(b'[', "[")?;
        let name_start = self.pos;
        let (s, e) = self.atom_span()?;
        let name = self.bytes_between(s, e).to_ascii_uppercase();
        let save = self.pos;
        let known = self.known_code(&name);
        let code = match known {
            Ok(Some(c)) if self.at(b']') => c,
            Err(e) if e.too_deep => return Err(e),
            Err(e) if !self.tolerant() => return Err(e),
            Ok(Some(_)) if !self.tolerant() => return self.err("]"),
            _ => {
                // Unknown code or (tolerantly) unparseable arguments: keep verbatim.
                self.pos = save;
                let args = if self.eat(b' ') {
                    let a = self.pos;
                    while !matches!(self.peek(), Some(b']') | Some(b'\r') | Some(b'\n') | None) {
                        self.pos += 1;
                    }
                    Some(self.slice(a, self.pos))
                } else {
                    None
                };
                let name =
                    Atom::new(self.slice(name_start, e)).or_else(|_| self.err("code name"))?;
                Code::Other { name, args }
            }
        };
        self.expect(b']', "]")?;
        Ok(code)
    }

    fn known_code(&mut self, name: &[u8]) -> PResult<Option<Code>> {
        if let Some(c) = Code::from_simple_name(name) {
            return Ok(Some(c));
        }
        let c = match name {
            b"BADURL" => {
                self.sp()?;
                let s = self.pos;
                self.skip_while(|b| b != b']' && b != b'\r' && b != b'\n');
                if self.pos == s {
                    return self.err("URL");
                }
                Code::BadUrl(self.slice(s, self.pos))
            }
            b"BADEVENT" => {
                self.sp()?;
                self.expect(b'(', "(")?;
                let mut v = Vec::new();
                loop {
                    v.push(self.atom()?);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
                Code::BadEvent(v)
            }
            b"BADCHARSET" => {
                if self.at(b' ') {
                    self.sp()?;
                    Code::BadCharset(self.astring_list()?)
                } else {
                    Code::BadCharset(Vec::new())
                }
            }
            b"CAPABILITY" => Code::Capability(self.capability_list()?),
            b"PERMANENTFLAGS" => {
                self.sp()?;
                Code::PermanentFlags(self.flag_list()?)
            }
            b"UIDNEXT" => {
                self.sp()?;
                Code::UidNext(self.nz_number()?)
            }
            b"UIDVALIDITY" => {
                self.sp()?;
                Code::UidValidity(self.nz_number()?)
            }
            b"UNSEEN" => {
                self.sp()?;
                Code::Unseen(self.nz_number()?)
            }
            b"APPENDUID" => self.appenduid()?,
            b"XDELIVERUID" if self.tolerant() => self.appenduid()?,
            b"COPYUID" => {
                self.sp()?;
                let uid_validity = self.nz_number()?;
                self.sp()?;
                let source = self.seq_set()?;
                self.sp()?;
                Code::CopyUid {
                    uid_validity,
                    source,
                    destination: self.seq_set()?,
                }
            }
            b"HIGHESTMODSEQ" => {
                self.sp()?;
                Code::HighestModSeq(self.number64()?)
            }
            b"MODIFIED" => {
                self.sp()?;
                Code::Modified(self.seq_set()?)
            }
            b"BADPARAMETERS" => {
                self.sp()?;
                Code::BadParameters(self.astring_list()?)
            }
            b"XMACRO-FAILED" => {
                self.sp()?;
                Code::XMacroFailed(self.number()?)
            }
            b"XRESUME" => {
                self.sp()?;
                Code::XResume(self.number64()?)
            }
            _ => return Ok(None),
        };
        Ok(Some(c))
    }

    fn appenduid(&mut self) -> PResult<Code> {
        self.sp()?;
        let uid_validity = self.nz_number()?;
        self.sp()?;
        Ok(Code::AppendUid {
            uid_validity,
            uids: self.seq_set()?,
        })
    }
}
