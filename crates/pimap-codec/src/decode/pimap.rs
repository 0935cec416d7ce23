//! P-IMAP commands and untagged responses, and the XMACRO extension.

use super::{PResult, Parser};
use pimap_types::{
    Atom, Channel, CommandBody, DeliverKind, EventFilter, FetchItems, FilterType, FolderSelector,
    IString, Mailbox, NewFormat, OriginalMessage, OutbandFormat, Partial, PrefCommandName,
    PrefName, PrefSetting, PrefValue, ProvisionItem, Secret, XConvertCommand, XDeliverCommand,
    XFilterActivation, XFilterCommand, XFilterResponse, XMacroCommand, XMacroListing, XZipCommand,
    MAX_MACRO_TEMPLATES,
};

impl Parser<'_> {
    // ------------------------------------------------------------------ preferences

    pub(crate) fn xsetpimappref(&mut self, name: PrefCommandName) -> PResult<CommandBody> {
        let tol = self.tolerant();
        self.sp()?;
        let start = self.pos;
        self.pref_name_token()?;
        // E-08: `PIMAP_INBAND_NEW_FORMAT_(` means SP.
        let underscore_paren =
            tol && self.at(b'(') && self.bytes_between(start, self.pos).ends_with(b"_");
        let pref_bytes = if underscore_paren {
            self.bytes_between(start, self.pos - 1).to_vec()
        } else {
            self.sp()?;
            self.bytes_between(start, self.pos)
                .trim_ascii_end()
                .to_vec()
        };
        let pname = if pref_bytes.contains(&b' ') {
            Some(PrefName::OutbandFormat)
        } else if !tol && pref_bytes.contains(&b'-') {
            None
        } else {
            PrefName::from_name(&pref_bytes)
        };
        let setting = match pname {
            Some(PrefName::OutbandAddress) => PrefSetting::OutbandAddress(self.astring()?),
            Some(PrefName::OutbandChannel) => PrefSetting::OutbandChannel(self.channel()?),
            Some(PrefName::InbandNewFormat) => PrefSetting::InbandNewFormat(self.new_format()?),
            Some(PrefName::OutbandNewFormat) => PrefSetting::OutbandNewFormat(self.new_format()?),
            Some(PrefName::InbandPush) => {
                if self.kw(b"ON") {
                    PrefSetting::InbandPush(true)
                } else if self.kw(b"OFF") {
                    PrefSetting::InbandPush(false)
                } else {
                    return self.err("ON or OFF");
                }
            }
            Some(PrefName::OutbandFormat) => PrefSetting::OutbandFormat(if self.kw(b"EMN") {
                OutbandFormat::Emn
            } else if self.kw(b"EXTENDED") {
                OutbandFormat::Extended
            } else {
                return self.err("EMN or EXTENDED");
            }),
            Some(PrefName::EventFilter) => PrefSetting::EventFilter(self.event_filter()?),
            Some(PrefName::XFilter) => PrefSetting::XFilter(self.xfilter_value()?),
            Some(PrefName::OutbandTypeSms) if tol => PrefSetting::OutbandTypeSms(self.astring()?),
            Some(PrefName::OutbandTypeJms) if tol => PrefSetting::OutbandTypeJms(self.astring()?),
            None if tol && pref_bytes.eq_ignore_ascii_case(b"XFILTER") => {
                PrefSetting::XFilter(self.xfilter_value()?)
            }
            _ => {
                let name = Atom::new(bytes::Bytes::from(pref_bytes))
                    .or_else(|_| self.err("preference name"))?;
                let value = self.pref_value()?;
                PrefSetting::Other { name, value }
            }
        };
        Ok(CommandBody::XSetPimapPref { name, setting })
    }

    /// A preference name token; tolerantly joins `PIMAP OUTBAND FORMAT` (E-06).
    fn pref_name_token(&mut self) -> PResult<()> {
        let start = self.pos;
        self.atom_span()?;
        if self.tolerant()
            && self
                .bytes_between(start, self.pos)
                .eq_ignore_ascii_case(b"PIMAP")
            && self.at(b' ')
        {
            let save = self.pos;
            self.pos += 1;
            if self.kw(b"OUTBAND") && self.eat(b' ') && self.kw(b"FORMAT") {
                return Ok(());
            }
            self.pos = save;
        }
        Ok(())
    }

    fn pref_name_value(&mut self) -> PResult<PrefName> {
        let start = self.pos;
        self.pref_name_token()?;
        let raw = self.bytes_between(start, self.pos);
        if raw.contains(&b' ') {
            return Ok(PrefName::OutbandFormat);
        }
        Ok(match PrefName::from_name(raw) {
            Some(PrefName::InbandNewFormat) if !self.tolerant() && raw.contains(&b'-') => {
                self.pos = start;
                return self.err("preference name");
            }
            Some(n) => n,
            None => PrefName::Other(Atom::unchecked(self.slice(start, self.pos))),
        })
    }

    fn channel(&mut self) -> PResult<Channel> {
        let a = self.atom()?;
        let u = a.as_bytes().to_ascii_uppercase();
        Ok(match u.as_slice() {
            b"SMS" => Channel::Sms,
            b"GSMSMS" => Channel::GsmSms,
            b"WAP_PUSH" => Channel::WapPush,
            b"WAPWDP" => Channel::WapWdp,
            b"MMS" => Channel::Mms,
            b"UDP" => Channel::Udp,
            b"SIP" => Channel::Sip,
            b"JMS" => Channel::Jms,
            b"NONE" => Channel::None,
            _ => Channel::Other(a),
        })
    }

    fn event_filter(&mut self) -> PResult<EventFilter> {
        if self.kw(b"ALL") {
            Ok(EventFilter::All)
        } else if self.kw(b"NONE") {
            Ok(EventFilter::None)
        } else if self.kw(b"NEW") {
            Ok(EventFilter::New)
        } else {
            self.err("ALL, NONE or NEW")
        }
    }

    fn new_format(&mut self) -> PResult<NewFormat> {
        if self.kw(b"NONE") {
            return Ok(NewFormat::None);
        }
        let items = self.fetch_items()?;
        Ok(NewFormat::Fetch(items))
    }

    fn filter_type(&mut self) -> PResult<FilterType> {
        match self.peek().map(|b| b.to_ascii_uppercase()) {
            Some(b'V') if self.kw(b"V") => Ok(FilterType::View),
            Some(b'N') if self.kw(b"N") => Ok(FilterType::Notification),
            Some(b'B') if self.kw(b"B") => Ok(FilterType::Both),
            Some(b'P') if self.tolerant() && self.kw(b"P") => Ok(FilterType::Notification),
            _ => self.err("V, N or B"),
        }
    }

    fn folder_selector(&mut self) -> PResult<FolderSelector> {
        if self.kw(b"ALL") {
            return Ok(FolderSelector::All);
        }
        Ok(FolderSelector::Mailbox(self.mailbox()?))
    }

    /// `(folder V|N|B name)`
    fn xfilter_value(&mut self) -> PResult<XFilterActivation> {
        self.expect(b'(', "(")?;
        let folder = self.folder_selector()?;
        self.sp()?;
        let filter_type = self.filter_type()?;
        self.sp()?;
        let name = self.atom()?;
        self.expect(b')', ")")?;
        Ok(XFilterActivation {
            folder,
            filter_type,
            name,
        })
    }

    /// Generic preference value (atom/string/NIL/list).
    pub(crate) fn pref_value(&mut self) -> PResult<PrefValue> {
        match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.pos += 1;
                let mut v = Vec::new();
                if !self.eat(b')') {
                    loop {
                        v.push(self.pref_value()?);
                        if self.eat(b')') {
                            break;
                        }
                        self.sp()?;
                    }
                }
                self.leave();
                Ok(PrefValue::List(v))
            }
            _ => {
                if self.kw(b"NIL") {
                    return Ok(PrefValue::Nil);
                }
                if self.at(b'"') || self.at(b'{') {
                    return Ok(PrefValue::String(self.string()?));
                }
                // atoms, including fetch-att forms like BODY[HEADER] and `\Seen`.
                let s = self.pos;
                while let Some(b) = self.peek() {
                    if pimap_types::is_astring_char(b) || b == b'\\' {
                        self.pos += 1;
                    } else if b == b'[' {
                        self.skip_brackets()?;
                    } else {
                        break;
                    }
                }
                if self.pos == s {
                    return self.err("preference value");
                }
                Ok(PrefValue::String(IString::unchecked(
                    self.slice(s, self.pos),
                )))
            }
        }
    }

    pub(crate) fn xgetpimapprefs(&mut self, name: PrefCommandName) -> PResult<CommandBody> {
        // "All preferences": bare `XGETPIMAPPREFS` or an empty list `()`.
        if matches!(self.peek(), None | Some(b'\r')) {
            return Ok(CommandBody::XGetPimapPrefs {
                name,
                prefs: Vec::new(),
            });
        }
        self.sp()?;
        self.expect(b'(', "(")?;
        let mut prefs = Vec::new();
        if self.eat(b')') {
            return Ok(CommandBody::XGetPimapPrefs { name, prefs });
        }
        loop {
            prefs.push(self.pref_name_value()?);
            if self.eat(b')') {
                break;
            }
            self.sp()?;
        }
        Ok(CommandBody::XGetPimapPrefs { name, prefs })
    }

    /// `* XGETPIMAPPREFS (name value ...)` after the keyword.
    pub(crate) fn xgetprefs_response(&mut self) -> PResult<Vec<(PrefName, PrefValue)>> {
        self.sp()?;
        self.expect(b'(', "(")?;
        let mut v = Vec::new();
        if self.eat(b')') {
            return Ok(v);
        }
        loop {
            let n = self.pref_name_value()?;
            self.sp()?;
            let val = self.pref_value()?;
            v.push((n, val));
            if self.tolerant() {
                while self.eat(b' ') {}
            }
            if self.eat(b')') {
                return Ok(v);
            }
            if !self.tolerant() {
                self.sp()?;
            }
        }
    }

    // ------------------------------------------------------------------ XFILTER

    pub(crate) fn xfilter_command(&mut self) -> PResult<XFilterCommand> {
        self.sp()?;
        let start = self.pos;
        // Generation 3 if it parses as GET/SET form.
        if self.kw(b"GET") && self.at(b' ') {
            match self.xfilter_get() {
                Ok(c) if self.at_eol() => return Ok(c),
                _ => self.pos = start,
            }
        } else if self.kw(b"SET") && self.at(b' ') {
            match self.xfilter_set() {
                Ok(c) if self.at_eol() => return Ok(c),
                Err(e) if e.too_deep => return Err(e),
                _ => self.pos = start,
            }
        } else {
            self.pos = start;
        }
        // Generation 1/2: folder|ALL V|N|B GET|criteria
        let folder = self.folder_selector()?;
        self.sp()?;
        let filter_type = self.filter_type()?;
        self.sp()?;
        if self.kw(b"GET") {
            return Ok(XFilterCommand::LegacyGet {
                folder,
                filter_type,
            });
        }
        let criteria = self.filter_criteria()?;
        Ok(XFilterCommand::LegacySet {
            folder,
            filter_type,
            criteria,
        })
    }

    fn filter_criteria(&mut self) -> PResult<Vec<pimap_types::SearchKey>> {
        self.search_keys()
    }

    fn xfilter_get(&mut self) -> PResult<XFilterCommand> {
        self.sp()?;
        let charset = self.charset()?;
        let name = self.atom()?;
        self.sp()?;
        self.expect(b'(', "(")?;
        let (mut desc, mut criteria) = (false, false);
        if !self.eat(b')') {
            loop {
                if self.kw(b"DESC") {
                    desc = true;
                } else if self.kw(b"CRITERIA") {
                    criteria = true;
                } else {
                    return self.err("DESC or CRITERIA");
                }
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(XFilterCommand::Get {
            charset,
            name,
            desc,
            criteria,
        })
    }

    fn xfilter_set(&mut self) -> PResult<XFilterCommand> {
        self.sp()?;
        let charset = self.charset()?;
        let name = self.atom()?;
        self.sp()?;
        let description = self.string()?;
        self.sp()?;
        self.expect(b'(', "(")?;
        let criteria = self.filter_criteria()?;
        self.expect(b')', ")")?;
        Ok(XFilterCommand::Set {
            charset,
            name,
            description,
            criteria,
        })
    }

    /// `* XFILTER ...` after the keyword.
    pub(crate) fn xfilter_response(&mut self) -> PResult<XFilterResponse> {
        self.sp()?;
        let start = self.pos;
        // Named form: atom SP "(" ...
        if let Ok(name) = self.atom() {
            if self.at(b' ') && self.peek_at(1) == Some(b'(') {
                self.sp()?;
                self.pos += 1;
                let mut description = None;
                let mut criteria = None;
                loop {
                    if self.tolerant() {
                        while self.eat(b' ') {}
                    }
                    if self.eat(b')') {
                        break;
                    }
                    if self.kw(b"DESC") {
                        self.sp()?;
                        description = Some(self.string()?);
                    } else if self.kw(b"CRITERIA") {
                        if self.tolerant() {
                            while self.eat(b' ') {}
                        } else {
                            self.sp()?;
                        }
                        self.expect(b'(', "(")?;
                        criteria = Some(self.filter_criteria()?);
                        self.expect(b')', ")")?;
                    } else {
                        return self.err("DESC or CRITERIA");
                    }
                    if !self.at(b')') {
                        self.sp()?;
                    }
                }
                return Ok(XFilterResponse::Named {
                    name,
                    description,
                    criteria,
                });
            }
        }
        self.pos = start;
        let folder = self.mailbox()?;
        self.sp()?;
        let filter_type = self.filter_type()?;
        if self.tolerant() && !self.at(b' ') {
            // E-32: missing SP before criteria.
        } else {
            self.sp()?;
        }
        let criteria = self.filter_criteria()?;
        Ok(XFilterResponse::Folder {
            folder,
            filter_type,
            criteria,
        })
    }

    // ------------------------------------------------------------------ XPROVISION

    /// `* XPROVISION ...` after the keyword.
    pub(crate) fn xprovision_response(&mut self) -> PResult<ProvisionItem> {
        self.sp()?;
        let tol = self.tolerant();
        let name_start = self.pos;
        let first = self.atom()?;
        let mut name = first.as_bytes().to_ascii_uppercase();
        // E-18: `XFILTER NAME (..)`, `PIMAP_NOTIFICATION ADDRESS (..)` joined with `_`.
        if tol && (name == b"XFILTER" || name == b"PIMAP_NOTIFICATION") && self.at(b' ') {
            let save = self.pos;
            self.pos += 1;
            match self.atom() {
                // Only the words of the erratum: `PIMAP_NOTIFICATION NIL (...)` is an unknown
                // item with the values NIL and (...), not `PIMAP_NOTIFICATION_NIL`.
                Ok(second)
                    if self.at(b' ')
                        && self.peek_at(1) == Some(b'(')
                        && (if name == b"XFILTER" {
                            second.eq_ignore_case("NAME")
                        } else {
                            second.eq_ignore_case("ADDRESS") || second.eq_ignore_case("PORT")
                        }) =>
                {
                    name.push(b'_');
                    name.extend(second.as_bytes().to_ascii_uppercase());
                }
                _ => self.pos = save,
            }
        }
        let item = match name.as_slice() {
            b"XPIMAPPREF" => {
                self.sp()?;
                let pname = self.pref_name_value()?;
                // E-18 again: `XFILTER NAME` as the pref name.
                let pname = match pname {
                    PrefName::Other(a)
                        if tol
                            && a.eq_ignore_case("XFILTER")
                            && self.at(b' ')
                            && self.peek_at(1) != Some(b'(') =>
                    {
                        self.pos += 1;
                        let second = self.atom()?;
                        let mut j = a.as_bytes().to_vec();
                        j.push(b'_');
                        j.extend_from_slice(second.as_bytes());
                        PrefName::Other(Atom::unchecked(bytes::Bytes::from(j)))
                    }
                    other => other,
                };
                self.sp()?;
                ProvisionItem::PrefValues {
                    name: pname,
                    values: self.astring_list()?,
                }
            }
            b"XFILTER" if self.at(b' ') && self.peek_at(1) == Some(b'(') => {
                self.sp()?;
                ProvisionItem::FilterCriteria(self.astring_list()?)
            }
            b"XFILTER_GET" => {
                self.sp()?;
                ProvisionItem::FilterGet(self.astring_list()?)
            }
            b"XFILTER_SET" => {
                self.sp()?;
                ProvisionItem::FilterSet(self.astring_list()?)
            }
            b"PIMAP_NOTIFICATION_ADDRESS" => {
                ProvisionItem::NotificationAddress(self.single_paren()?)
            }
            b"PIMAP_NOTIFICATION_PORT" => ProvisionItem::NotificationPort(self.single_paren()?),
            b"PIMAP_UDP_HOST" => ProvisionItem::UdpHost(self.single_paren()?),
            b"PIMAP_UDP_PORT" => ProvisionItem::UdpPort(self.single_paren()?),
            b"PIMAP_ENC_KEY" => ProvisionItem::EncKey {
                key: Secret::new(self.single_paren()?),
                legacy: false,
            },
            b"ENC_KEY" if !(self.at(b' ') && self.peek_at(1) == Some(b'(')) => {
                self.sp()?;
                ProvisionItem::EncKey {
                    key: Secret::new(self.astring()?),
                    legacy: true,
                }
            }
            _ => {
                let name = if name.len() == first.as_bytes().len() {
                    first
                } else {
                    Atom::new(bytes::Bytes::from(name)).or_else(|_| {
                        self.pos = name_start;
                        self.err("provision item name")
                    })?
                };
                let mut values = Vec::new();
                while self.at(b' ') {
                    self.sp()?;
                    if self.at_eol() {
                        break;
                    }
                    values.push(self.pref_value()?);
                }
                ProvisionItem::Other { name, values }
            }
        };
        Ok(item)
    }

    /// `SP "(" astring ")"`
    fn single_paren(&mut self) -> PResult<IString> {
        self.sp()?;
        self.expect(b'(', "(")?;
        let v = self.astring()?;
        self.expect(b')', ")")?;
        Ok(v)
    }

    // ------------------------------------------------------------------ XZIP

    pub(crate) fn xzip_command(&mut self) -> PResult<XZipCommand> {
        self.sp()?;
        if self.kw(b"INLINE") {
            self.sp()?;
            return Ok(XZipCommand::Inline(self.literal_arg()?));
        }
        let inner = super::command::parse_command(self)?;
        if matches!(inner.body, CommandBody::XZip(_)) {
            return self.err("a command other than XZIP");
        }
        Ok(XZipCommand::Wrapped(Box::new(inner)))
    }

    // ------------------------------------------------------------------ XDELIVER

    pub(crate) fn xdeliver_command(&mut self, ldeliver: bool) -> PResult<XDeliverCommand> {
        self.sp()?;
        if self.kw(b"CAPABILITY") {
            return Ok(XDeliverCommand::Capability);
        }
        if self.kw(b"TEXT") {
            self.sp()?;
            return Ok(XDeliverCommand::Text(self.literal_arg()?));
        }
        if ldeliver {
            return self.err("CAPABILITY or TEXT");
        }
        let tol = self.tolerant();
        let kind = if self.kw(b"N") {
            DeliverKind::New
        } else {
            let reply = if self.kw(b"R") {
                true
            } else if self.kw(b"F") {
                false
            } else {
                return self.err("N, R or F");
            };
            self.sp()?;
            // Tokens until Y/N (E-13): uid | folder uid | folder uidvalidity uid.
            let mut toks: Vec<IString> = Vec::with_capacity(3);
            let attachments = loop {
                if self.kw(b"Y") {
                    break true;
                }
                if self.kw(b"N") {
                    break false;
                }
                if toks.len() >= 3 {
                    return self.err("Y or N");
                }
                toks.push(self.astring()?);
                self.sp()?;
            };
            let num = |s: &IString| -> Option<u32> {
                std::str::from_utf8(s.as_bytes()).ok()?.parse().ok()
            };
            let bad = |p: &Self| p.err::<OriginalMessage>("original message");
            let orig = match toks.as_slice() {
                [u] => match num(u) {
                    Some(uid) => OriginalMessage {
                        folder: None,
                        uid_validity: None,
                        uid,
                        attachments,
                    },
                    None => bad(self)?,
                },
                [f, u] if tol => match num(u) {
                    Some(uid) => OriginalMessage {
                        folder: Some(Mailbox::normalise(f.to_bytes())),
                        uid_validity: None,
                        uid,
                        attachments,
                    },
                    None => bad(self)?,
                },
                [f, v, u] => match (num(v), num(u)) {
                    (Some(v), Some(uid)) => OriginalMessage {
                        folder: Some(Mailbox::normalise(f.to_bytes())),
                        uid_validity: Some(v),
                        uid,
                        attachments,
                    },
                    _ => bad(self)?,
                },
                _ => bad(self)?,
            };
            if reply {
                DeliverKind::Reply(orig)
            } else {
                DeliverKind::Forward(orig)
            }
        };
        let mut save_to = None;
        let mut envelope = None;
        loop {
            if self.at(b' ') {
                self.sp()?;
            } else if !(tol && self.at(b'{')) {
                return self.err("SP");
            }
            if self.prefix(b"SAVETO=") {
                save_to = Some(self.mailbox()?);
            } else if tol && self.kw(b"SAVETO") {
                self.sp()?;
                save_to = Some(self.mailbox()?);
            } else if self.kw(b"ENVELOPE") {
                self.sp()?;
                envelope = Some(self.deliver_envelope()?);
            } else {
                break;
            }
        }
        let message = self.literal_arg()?;
        Ok(XDeliverCommand::Classic {
            kind,
            save_to,
            envelope,
            message,
        })
    }

    /// `"(" 1*address ")" / nil`; tolerant single-paren form with an extra `)` (E-64).
    fn deliver_envelope(&mut self) -> PResult<Vec<pimap_types::Address>> {
        if self.kw(b"NIL") {
            return Ok(Vec::new());
        }
        if self.peek_at(1) == Some(b'(') {
            return self.address_list();
        }
        if !self.tolerant() {
            return self.err("address list");
        }
        let a = self.address()?;
        self.eat(b')');
        Ok(vec![a])
    }

    // ------------------------------------------------------------------ XCONVERT (-00…-07)

    pub(crate) fn xconvert(&mut self, uid: bool, xuid_name: bool) -> PResult<XConvertCommand> {
        self.sp()?;
        let id = self.nz_number()?;
        self.sp()?;
        let (body_form, peek, part, partial) = if self.prefix(b"BODY") {
            let peek = self.prefix(b".PEEK");
            self.expect(b'[', "[")?;
            let part = self.part_numbers()?;
            self.expect(b']', "]")?;
            let partial = if self.eat(b'<') {
                let origin = self.number()?;
                self.expect(b'.', ".")?;
                let count = self.nz_number()?;
                self.expect(b'>', ">")?;
                Some(Partial { origin, count })
            } else {
                None
            };
            (true, peek, part, partial)
        } else {
            (false, false, self.part_numbers()?, None)
        };
        if part.is_empty() {
            return self.err("part number");
        }
        self.sp()?;
        self.expect_kw(b"AS", "as")?;
        self.sp()?;
        // type/subtype[;name=value]*
        let s = self.pos;
        self.skip_while(|b| pimap_types::is_atom_char(b) && b != b';');
        if self.pos == s || !self.bytes_between(s, self.pos).contains(&b'/') {
            return self.err("media type");
        }
        let media_type = IString::unchecked(self.slice(s, self.pos));
        let mut params = Vec::new();
        if self.at(b';') && !self.tolerant() {
            // `;name=value` target parameters are -06/-07 only.
            return self.err("end of XCONVERT command");
        }
        while self.eat(b';') {
            let ns = self.pos;
            self.skip_while(|b| pimap_types::is_atom_char(b) && b != b'=' && b != b';');
            let n = IString::unchecked(self.slice(ns, self.pos));
            self.expect(b'=', "=")?;
            let v = if self.at(b'"') {
                IString::unchecked(self.quoted()?)
            } else {
                let vs = self.pos;
                self.skip_while(|b| pimap_types::is_atom_char(b) && b != b';');
                IString::unchecked(self.slice(vs, self.pos))
            };
            params.push((n, v));
            if self.tolerant()
                && self.at(b' ')
                && self.peek_at(1).is_some_and(|b| b.is_ascii_alphabetic())
            {
                // wrapped parameter lists in the drafts
                self.pos += 1;
                if !self.at(b';') {
                    self.pos -= 1;
                }
            }
        }
        Ok(XConvertCommand {
            uid,
            xuid_name,
            id,
            body_form,
            peek,
            part,
            partial,
            media_type,
            params,
        })
    }

    // ------------------------------------------------------------------ XMACRO

    pub(crate) fn xmacro_command(&mut self) -> PResult<XMacroCommand> {
        self.sp()?;
        if self.kw(b"LIST") {
            return Ok(XMacroCommand::List);
        }
        if self.kw(b"DELETE") {
            return Ok(XMacroCommand::Delete {
                name: self.atom_arg()?,
            });
        }
        if self.kw(b"RUN") {
            let name = self.atom_arg()?;
            let mut args = Vec::new();
            while self.at(b' ') {
                self.sp()?;
                if args.len() >= 9 {
                    return self.err("at most 9 macro arguments");
                }
                args.push(self.astring()?);
            }
            return Ok(XMacroCommand::Run { name, args });
        }
        if self.kw(b"DEFINE") {
            let name = self.atom_arg()?;
            self.sp()?;
            let templates = self.macro_templates()?;
            return Ok(XMacroCommand::Define { name, templates });
        }
        self.err("DEFINE, RUN, DELETE or LIST")
    }

    fn macro_templates(&mut self) -> PResult<Vec<IString>> {
        self.expect(b'(', "(")?;
        let mut v = Vec::new();
        loop {
            if v.len() >= MAX_MACRO_TEMPLATES {
                return self.err("fewer macro templates");
            }
            v.push(self.string()?);
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
        }
    }

    /// `* XMACRO name (templates)` after the keyword.
    pub(crate) fn xmacro_response(&mut self) -> PResult<XMacroListing> {
        let name = self.atom_arg()?;
        self.sp()?;
        Ok(XMacroListing {
            name,
            templates: self.macro_templates()?,
        })
    }

    #[allow(dead_code)]
    pub(crate) fn fetch_items_value(&mut self) -> PResult<FetchItems> {
        self.fetch_items()
    }
}
