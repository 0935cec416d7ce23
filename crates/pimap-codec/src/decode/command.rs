//! Commands (what a server reads).

use bytes::Bytes;

use super::{PResult, Parser};
use pimap_types::{
    Atom, ClientMessage, Command, CommandBody, FetchModifier, Flag, IString, ListReturn, Literal8,
    Mailbox, Secret, SelectParam, StatusAttr, StoreKind,
};

/// Parse one client frame: a command, `DONE`, or (when `auth_data`) an AUTHENTICATE line.
pub(crate) fn parse_client_message(p: &mut Parser<'_>, auth_data: bool) -> PResult<ClientMessage> {
    if auth_data {
        let t = p.text_to_eol();
        p.crlf()?;
        return Ok(ClientMessage::AuthData(Secret::new(t)));
    }
    if p.kw(b"DONE") && p.at_eol() {
        p.crlf()?;
        return Ok(ClientMessage::Done);
    }
    p.pos = 0;
    let cmd = parse_command(p)?;
    p.crlf()?;
    Ok(ClientMessage::Command(cmd))
}

/// `tag SP command` (no CRLF).
pub(crate) fn parse_command(p: &mut Parser<'_>) -> PResult<Command> {
    let tag = p.tag()?;
    p.sp()?;
    let body = p.command_body()?;
    Ok(Command { tag, body })
}

impl Parser<'_> {
    fn command_body(&mut self) -> PResult<CommandBody> {
        let start = self.pos;
        let (s, e) = self.atom_span()?;
        let name = self.bytes_between(s, e);
        if name.len() > 16 {
            self.pos = start;
            return self.err("command name");
        }
        let mut up = [0u8; 24];
        let n = super::upcase(name, &mut up);
        let tol = self.tolerant();
        use CommandBody as C;
        let body = match n {
            b"CAPABILITY" => C::Capability,
            b"NOOP" => C::Noop,
            b"LOGOUT" => C::Logout,
            b"STARTTLS" => C::StartTls,
            b"AUTHENTICATE" => {
                self.sp()?;
                let mechanism = self.atom()?;
                let initial_response = if self.at(b' ') {
                    self.sp()?;
                    let s = self.pos;
                    self.skip_while(|b| {
                        b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
                    });
                    if self.pos == s {
                        return self.err("initial response");
                    }
                    Some(Secret::new(self.slice(s, self.pos)))
                } else {
                    None
                };
                C::Authenticate {
                    mechanism,
                    initial_response,
                }
            }
            b"LOGIN" => {
                self.sp()?;
                let username = self.astring()?;
                self.sp()?;
                C::Login {
                    username,
                    password: Secret::new(self.astring()?),
                }
            }
            b"SELECT" | b"EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let params = self.select_params()?;
                if n == b"SELECT" {
                    C::Select { mailbox, params }
                } else {
                    C::Examine { mailbox, params }
                }
            }
            b"CREATE" => C::Create {
                mailbox: self.sp_mailbox()?,
            },
            b"DELETE" => C::Delete {
                mailbox: self.sp_mailbox()?,
            },
            b"SUBSCRIBE" => C::Subscribe {
                mailbox: self.sp_mailbox()?,
            },
            b"UNSUBSCRIBE" => C::Unsubscribe {
                mailbox: self.sp_mailbox()?,
            },
            b"RENAME" => {
                let from = self.sp_mailbox()?;
                C::Rename {
                    from,
                    to: self.sp_mailbox()?,
                }
            }
            b"LIST" => self.list_command()?,
            b"LSUB" => {
                let reference = self.sp_mailbox()?;
                self.sp()?;
                C::Lsub {
                    reference,
                    pattern: self.list_mailbox()?,
                }
            }
            b"STATUS" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                C::Status {
                    mailbox,
                    items: self.status_att_list()?,
                }
            }
            b"APPEND" => self.append()?,
            b"IDLE" => C::Idle,
            b"ENABLE" => {
                let mut v = Vec::new();
                while self.at(b' ') {
                    self.sp()?;
                    v.push(self.atom()?);
                }
                if v.is_empty() {
                    return self.err("capability");
                }
                C::Enable(v)
            }
            b"ID" => {
                self.sp()?;
                C::Id(self.id_params()?)
            }
            b"NAMESPACE" => C::Namespace,
            b"NOTIFY" => self.notify()?,
            b"SORT" => self.sort(false)?,
            b"THREAD" => self.thread(false)?,
            b"COMPRESS" => {
                self.sp()?;
                C::Compress {
                    mechanism: self.atom()?,
                }
            }
            b"CHECK" => C::Check,
            b"CLOSE" => C::Close,
            b"UNSELECT" => C::Unselect,
            b"EXPUNGE" => C::Expunge,
            b"SEARCH" => self.search(false)?,
            b"FETCH" => self.fetch(false)?,
            b"STORE" => self.store(false)?,
            b"COPY" | b"MOVE" => {
                self.sp()?;
                let set = self.seq_set()?;
                let mailbox = self.sp_mailbox()?;
                if n == b"COPY" {
                    C::Copy {
                        uid: false,
                        set,
                        mailbox,
                    }
                } else {
                    C::Move {
                        uid: false,
                        set,
                        mailbox,
                    }
                }
            }
            b"UID" => {
                self.sp()?;
                let s2 = self.pos;
                let sub = self.atom_bytes()?.to_ascii_uppercase();
                match sub.as_slice() {
                    b"FETCH" => self.fetch(true)?,
                    b"STORE" => self.store(true)?,
                    b"SEARCH" => self.search(true)?,
                    b"SORT" => self.sort(true)?,
                    b"THREAD" => self.thread(true)?,
                    b"COPY" | b"MOVE" => {
                        self.sp()?;
                        let set = self.seq_set()?;
                        let mailbox = self.sp_mailbox()?;
                        if sub == b"COPY" {
                            C::Copy {
                                uid: true,
                                set,
                                mailbox,
                            }
                        } else {
                            C::Move {
                                uid: true,
                                set,
                                mailbox,
                            }
                        }
                    }
                    b"EXPUNGE" => {
                        self.sp()?;
                        C::UidExpunge(self.seq_set()?)
                    }
                    // `UID XCONVERT` exists only in -02…-07, no strict dialect.
                    b"XCONVERT" if self.tolerant() => C::XConvert(self.xconvert(true, false)?),
                    _ => {
                        self.pos = e;
                        let name = pimap_types::Atom::unchecked(self.slice(s, e));
                        if let Ok(body) = self.other_command(name) {
                            return Ok(body);
                        }
                        self.pos = s2;
                        return self.err("UID command");
                    }
                }
            }
            // ---- P-IMAP ----
            b"XPROVISION" => {
                let mut device_id = None;
                let mut notif_id = None;
                if self.at(b' ') {
                    self.sp()?;
                    device_id = Some(self.astring()?);
                    if self.at(b' ') {
                        self.sp()?;
                        notif_id = Some(self.astring()?);
                    }
                }
                C::XProvision {
                    device_id,
                    notif_id,
                }
            }
            b"XSETPIMAPPREF" => self.xsetpimappref(pimap_types::PrefCommandName::Current)?,
            b"XSETPREF" if tol => self.xsetpimappref(pimap_types::PrefCommandName::Current)?,
            b"XGETPIMAPPREFS" => self.xgetpimapprefs(pimap_types::PrefCommandName::Current)?,
            b"XGETPIMAPPREF" => self.xgetpimapprefs(pimap_types::PrefCommandName::Draft01)?,
            b"XGETPREF" if tol => self.xgetpimapprefs(pimap_types::PrefCommandName::Current)?,
            b"XFILTER" => C::XFilter(self.xfilter_command()?),
            b"XTERSE" => {
                self.sp()?;
                if self.kw(b"ON") {
                    C::XTerse(true)
                } else if self.kw(b"OFF") {
                    C::XTerse(false)
                } else {
                    return self.err("ON or OFF");
                }
            }
            b"XRESUME" => {
                self.sp()?;
                if self.kw(b"NONE") {
                    C::XResume(None)
                } else {
                    let epoch = self.number64()?;
                    self.sp()?;
                    let offset = self.number64()?;
                    C::XResume(Some(pimap_types::ResumeCursor { epoch, offset }))
                }
            }
            b"XZIP" => C::XZip(self.xzip_command()?),
            b"XDELIVER" => C::XDeliver(self.xdeliver_command(false)?),
            b"LDELIVER" if tol => C::XDeliver(self.xdeliver_command(true)?),
            b"XCONVERT" => C::XConvert(self.xconvert(false, false)?),
            b"XUIDCONVERT" => C::XConvert(self.xconvert(true, true)?),
            b"XPSEARCH" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                let charset = self.charset()?;
                C::XPSearch {
                    mailbox,
                    charset,
                    criteria: self.search_keys()?,
                }
            }
            b"XMACRO" => C::XMacro(self.xmacro_command()?),
            _ => {
                // Not modelled: keep it whole if it is well-formed.
                let name = pimap_types::Atom::unchecked(self.slice(s, e));
                if let Ok(body) = self.other_command(name) {
                    return Ok(body);
                }
                self.pos = start;
                return self.err("known command");
            }
        };
        Ok(body)
    }

    pub(crate) fn sp_mailbox(&mut self) -> PResult<Mailbox> {
        self.sp()?;
        self.mailbox()
    }

    /// `[CHARSET astring SP]` (SP consumed).
    pub(crate) fn charset(&mut self) -> PResult<Option<IString>> {
        if self.kw(b"CHARSET") {
            self.sp()?;
            let c = self.astring()?;
            self.sp()?;
            Ok(Some(c))
        } else {
            Ok(None)
        }
    }

    fn select_params(&mut self) -> PResult<Vec<SelectParam>> {
        let mut v = Vec::new();
        if !self.at(b' ') {
            return Ok(v);
        }
        self.sp()?;
        self.expect(b'(', "(")?;
        loop {
            if self.kw(b"CONDSTORE") {
                v.push(SelectParam::CondStore);
            } else if self.kw(b"QRESYNC") {
                self.sp()?;
                self.expect(b'(', "(")?;
                let uid_validity = self.nz_number()?;
                self.sp()?;
                let modseq = self.number64()?;
                let mut known_uids = None;
                let mut seq_match = None;
                if self.at(b' ') {
                    self.sp()?;
                    if !self.at(b'(') {
                        known_uids = Some(self.seq_set()?);
                        if self.at(b' ') {
                            self.sp()?;
                        }
                    }
                    if self.eat(b'(') {
                        let a = self.seq_set()?;
                        self.sp()?;
                        let b = self.seq_set()?;
                        self.expect(b')', ")")?;
                        seq_match = Some((a, b));
                    }
                }
                self.expect(b')', ")")?;
                v.push(SelectParam::QResync {
                    uid_validity,
                    modseq,
                    known_uids,
                    seq_match,
                });
            } else {
                return self.err("select parameter");
            }
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
        }
    }

    /// `list-mailbox` = 1*list-char / string
    fn list_mailbox(&mut self) -> PResult<IString> {
        if matches!(self.peek(), Some(b'"') | Some(b'{')) {
            return self.string();
        }
        let s = self.pos;
        self.skip_while(|b| pimap_types::is_astring_char(b) || b == b'%' || b == b'*');
        if self.pos == s {
            return self.err("list-mailbox");
        }
        Ok(IString::unchecked(self.slice(s, self.pos)))
    }

    fn list_command(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mut selection = Vec::new();
        if self.eat(b'(') {
            if !self.eat(b')') {
                loop {
                    selection.push(self.atom()?);
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
            self.sp()?;
        }
        let reference = self.mailbox()?;
        self.sp()?;
        let patterns = if self.eat(b'(') {
            let mut v = Vec::new();
            loop {
                v.push(self.list_mailbox()?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
            v
        } else {
            vec![self.list_mailbox()?]
        };
        let mut return_opts = Vec::new();
        if self.at(b' ') {
            self.sp()?;
            self.expect_kw(b"RETURN", "RETURN")?;
            self.sp()?;
            self.expect(b'(', "(")?;
            if !self.eat(b')') {
                loop {
                    if self.kw(b"STATUS") {
                        self.sp()?;
                        return_opts.push(ListReturn::Status(self.status_att_list()?));
                    } else {
                        return_opts.push(ListReturn::Option(self.atom()?));
                    }
                    if self.eat(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
        }
        Ok(CommandBody::List {
            selection,
            reference,
            patterns,
            return_opts,
        })
    }

    pub(crate) fn status_att(&mut self) -> PResult<StatusAttr> {
        let a = self.atom()?;
        let u = a.as_bytes().to_ascii_uppercase();
        Ok(match u.as_slice() {
            b"MESSAGES" => StatusAttr::Messages,
            b"RECENT" => StatusAttr::Recent,
            b"UIDNEXT" => StatusAttr::UidNext,
            b"UIDVALIDITY" => StatusAttr::UidValidity,
            b"UNSEEN" => StatusAttr::Unseen,
            b"HIGHESTMODSEQ" => StatusAttr::HighestModSeq,
            b"SIZE" => StatusAttr::Size,
            b"MONOINCUID" => StatusAttr::MonoIncUid,
            _ => StatusAttr::Other(a),
        })
    }

    fn status_att_list(&mut self) -> PResult<Vec<StatusAttr>> {
        self.expect(b'(', "(")?;
        let mut v = Vec::new();
        loop {
            v.push(self.status_att()?);
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
        }
    }

    /// `ID (k v ...)` / `ID NIL` parameters (shared with the response).
    pub(crate) fn id_params(&mut self) -> PResult<pimap_types::IdParams> {
        if self.kw(b"NIL") {
            return Ok(None);
        }
        self.expect(b'(', "(")?;
        let mut v = Vec::new();
        if self.eat(b')') {
            return Ok(Some(v));
        }
        loop {
            let k = self.string()?;
            self.sp()?;
            let val = self.nstring()?;
            v.push((k, val));
            if self.eat(b')') {
                return Ok(Some(v));
            }
            self.sp()?;
        }
    }

    fn search(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let return_opts = self.search_return()?;
        let charset = self.charset()?;
        Ok(CommandBody::Search {
            uid,
            return_opts,
            charset,
            criteria: self.search_keys()?,
        })
    }

    fn fetch(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let items = self.fetch_items()?;
        let mut modifiers = Vec::new();
        if self.at(b' ') {
            self.sp()?;
            self.expect(b'(', "(")?;
            loop {
                if self.kw(b"CHANGEDSINCE") {
                    self.sp()?;
                    modifiers.push(FetchModifier::ChangedSince(self.number64()?));
                } else if self.kw(b"VANISHED") {
                    modifiers.push(FetchModifier::Vanished);
                } else {
                    return self.err("fetch modifier");
                }
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(CommandBody::Fetch {
            uid,
            set,
            items,
            modifiers,
        })
    }

    fn store(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.eat(b'(') {
            self.expect_kw(b"UNCHANGEDSINCE", "UNCHANGEDSINCE")?;
            self.sp()?;
            unchanged_since = Some(self.number64()?);
            self.expect(b')', ")")?;
            self.sp()?;
        }
        let kind = if self.eat(b'+') {
            StoreKind::Add
        } else if self.eat(b'-') {
            StoreKind::Remove
        } else {
            StoreKind::Replace
        };
        if !self.prefix(b"FLAGS") {
            return self.err("FLAGS");
        }
        let silent = self.prefix(b".SILENT");
        self.sp()?;
        let flags = if self.at(b'(') {
            self.flag_list()?
        } else {
            let mut v = vec![self.flag()?];
            while self.at(b' ') {
                self.sp()?;
                v.push(self.flag()?);
            }
            v
        };
        Ok(CommandBody::Store {
            uid,
            set,
            unchanged_since,
            kind,
            silent,
            flags,
        })
    }

    /// Atom list helper for XMACRO etc.
    pub(crate) fn atom_arg(&mut self) -> PResult<Atom> {
        self.sp()?;
        self.atom()
    }

    /// Literal/literal8 command argument.
    pub(crate) fn literal_arg(&mut self) -> PResult<Literal8> {
        let (data, binary) = self.literal_any()?;
        if !binary && memchr::memchr(0, &data).is_some() {
            return self.err("literal without NUL");
        }
        Ok(Literal8 { data, binary })
    }

    /// Raw base64/text token.
    #[allow(dead_code)]
    pub(crate) fn raw_token(&mut self) -> Bytes {
        let s = self.pos;
        self.skip_while(|b| b != b' ' && b != b'\r' && b != b'\n');
        self.slice(s, self.pos)
    }
}

/// Flags helper used by tests.
#[allow(dead_code)]
pub(crate) fn is_system_flag(f: &Flag) -> bool {
    !matches!(f, Flag::Keyword(_) | Flag::Extension(_))
}
