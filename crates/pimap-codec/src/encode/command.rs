//! Commands (client to server).

use super::{is_xconvert_value_atom, is_xconvert_value_quotable};
use super::{Encode, Encoder};
use pimap_types::{
    Channel, ClientMessage, Command, CommandBody, ComposePart, DeliverKind, EventFilter,
    FetchModifier, FilterType, ListReturn, NewFormat, OriginalMessage, OutbandFormat,
    PrefCommandName, PrefName, PrefSetting, SelectParam, StoreKind, XConvertCommand,
    XDeliverCommand, XFilterActivation, XFilterCommand, XMacroCommand, XZipCommand,
};

impl Encode for Command {
    fn encode(&self, enc: &mut Encoder) {
        enc.command(self);
        enc.crlf();
    }

    fn from_client(&self) -> bool {
        true
    }
}

impl Encode for ClientMessage {
    fn encode(&self, enc: &mut Encoder) {
        match self {
            ClientMessage::Command(c) => c.encode(enc),
            ClientMessage::Done => enc.raw(b"DONE\r\n"),
            ClientMessage::AuthData(d) => {
                enc.text(d.expose());
                enc.crlf();
            }
        }
    }

    fn from_client(&self) -> bool {
        true
    }
}

impl Encoder {
    /// `tag SP command` without the final CRLF (also used inside `XZIP`).
    pub(crate) fn command(&mut self, c: &Command) {
        self.raw(c.tag.as_bytes());
        self.sp();
        self.command_body(&c.body);
    }

    fn uid_prefix(&mut self, uid: bool) {
        if uid {
            self.raw(b"UID ");
        }
    }

    fn name_mailbox(&mut self, name: &[u8], m: &pimap_types::Mailbox) {
        self.raw(name);
        self.mailbox(m);
    }

    fn command_body(&mut self, b: &CommandBody) {
        use CommandBody as C;
        match b {
            C::Capability => self.raw(b"CAPABILITY"),
            C::Noop => self.raw(b"NOOP"),
            C::Logout => self.raw(b"LOGOUT"),
            C::StartTls => self.raw(b"STARTTLS"),
            C::Authenticate {
                mechanism,
                initial_response,
            } => {
                self.raw(b"AUTHENTICATE ");
                self.atom(mechanism);
                if let Some(ir) = initial_response {
                    self.sp();
                    let ir = ir.expose();
                    if ir.is_empty() {
                        self.byte(b'=');
                    } else {
                        self.text(ir);
                    }
                }
            }
            C::Login { username, password } => {
                self.raw(b"LOGIN ");
                self.astring(username.as_bytes());
                self.sp();
                self.astring(password.expose().as_bytes());
            }
            C::Select { mailbox, params } => {
                self.name_mailbox(b"SELECT ", mailbox);
                self.select_params(params);
            }
            C::Examine { mailbox, params } => {
                self.name_mailbox(b"EXAMINE ", mailbox);
                self.select_params(params);
            }
            C::Create { mailbox } => self.name_mailbox(b"CREATE ", mailbox),
            C::Delete { mailbox } => self.name_mailbox(b"DELETE ", mailbox),
            C::Rename { from, to } => {
                self.name_mailbox(b"RENAME ", from);
                self.sp();
                self.mailbox(to);
            }
            C::Subscribe { mailbox } => self.name_mailbox(b"SUBSCRIBE ", mailbox),
            C::Unsubscribe { mailbox } => self.name_mailbox(b"UNSUBSCRIBE ", mailbox),
            C::List {
                selection,
                reference,
                patterns,
                return_opts,
            } => {
                self.raw(b"LIST ");
                if !selection.is_empty() {
                    self.byte(b'(');
                    self.atoms(selection);
                    self.raw(b") ");
                }
                self.mailbox(reference);
                self.sp();
                match patterns.as_slice() {
                    // No patterns has no wire form: list the empty pattern.
                    [] => self.raw(b"\"\""),
                    [one] => self.list_mailbox(one.as_bytes()),
                    many => {
                        self.byte(b'(');
                        for (i, p) in many.iter().enumerate() {
                            if i > 0 {
                                self.sp();
                            }
                            self.list_mailbox(p.as_bytes());
                        }
                        self.byte(b')');
                    }
                }
                if !return_opts.is_empty() {
                    self.raw(b" RETURN (");
                    for (i, r) in return_opts.iter().enumerate() {
                        if i > 0 {
                            self.sp();
                        }
                        match r {
                            ListReturn::Option(a) => self.atom(a),
                            ListReturn::Status(items) => {
                                self.raw(b"STATUS ");
                                self.status_attr_list(items);
                            }
                        }
                    }
                    self.byte(b')');
                }
            }
            C::Lsub { reference, pattern } => {
                self.name_mailbox(b"LSUB ", reference);
                self.sp();
                self.list_mailbox(pattern.as_bytes());
            }
            C::Status { mailbox, items } => {
                self.name_mailbox(b"STATUS ", mailbox);
                self.sp();
                self.status_attr_list(items);
            }
            C::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                self.name_mailbox(b"APPEND ", mailbox);
                self.sp();
                if !flags.is_empty() {
                    self.flag_list(flags);
                    self.sp();
                }
                if let Some(d) = date {
                    self.date_time(d);
                    self.sp();
                }
                self.literal8(message);
            }
            C::AppendCompose {
                mailbox,
                flags,
                date,
                parts,
            } => {
                self.name_mailbox(b"APPEND ", mailbox);
                self.sp();
                if !flags.is_empty() {
                    self.flag_list(flags);
                    self.sp();
                }
                if let Some(d) = date {
                    self.date_time(d);
                    self.sp();
                }
                self.raw(b"XCOMPOSE (");
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    match p {
                        ComposePart::Text(l) => {
                            self.raw(b"TEXT ");
                            self.literal8(l);
                        }
                        ComposePart::SText(l) => {
                            self.raw(b"STEXT ");
                            self.literal8(l);
                        }
                        ComposePart::DText { url, delta } => {
                            self.raw(b"DTEXT ");
                            self.astring(url.as_bytes());
                            self.sp();
                            self.literal8(delta);
                        }
                        ComposePart::Url(url) => {
                            self.raw(b"URL ");
                            self.astring(url.as_bytes());
                        }
                    }
                }
                self.byte(b')');
            }
            C::Idle => self.raw(b"IDLE"),
            C::Enable(caps) => {
                self.raw(b"ENABLE");
                for c in caps {
                    self.sp();
                    self.atom(c);
                }
            }
            C::Id(params) => {
                self.raw(b"ID ");
                self.id_params(params.as_deref());
            }
            C::Namespace => self.raw(b"NAMESPACE"),
            C::Notify(n) => self.notify(n),
            C::Sort {
                uid,
                return_opts,
                criteria,
                charset,
                search,
            } => self.sort_command(*uid, return_opts.as_deref(), criteria, charset, search),
            C::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => self.thread_command(*uid, algorithm, charset, search),
            C::AppendMulti { mailbox, messages } => {
                self.name_mailbox(b"APPEND ", mailbox);
                for m in messages {
                    self.sp();
                    self.append_message(m);
                }
            }
            C::Other { name, args } => {
                self.atom(name);
                if let Some(a) = args {
                    self.sp();
                    self.raw_args(a);
                }
            }
            C::Compress { mechanism } => {
                self.raw(b"COMPRESS ");
                self.atom(mechanism);
            }
            C::Check => self.raw(b"CHECK"),
            C::Close => self.raw(b"CLOSE"),
            C::Unselect => self.raw(b"UNSELECT"),
            C::Expunge => self.raw(b"EXPUNGE"),
            C::UidExpunge(set) => {
                self.raw(b"UID EXPUNGE ");
                self.seq_set(set);
            }
            C::Search {
                uid,
                return_opts,
                charset,
                criteria,
            } => {
                self.uid_prefix(*uid);
                self.raw(b"SEARCH ");
                self.search_return(return_opts.as_deref());
                self.charset(charset.as_ref());
                self.search_keys(criteria);
            }
            C::Fetch {
                uid,
                set,
                items,
                modifiers,
            } => {
                self.uid_prefix(*uid);
                self.raw(b"FETCH ");
                self.seq_set(set);
                self.sp();
                self.fetch_items(items);
                if !modifiers.is_empty() {
                    self.raw(b" (");
                    for (i, m) in modifiers.iter().enumerate() {
                        if i > 0 {
                            self.sp();
                        }
                        match m {
                            FetchModifier::ChangedSince(n) => {
                                self.raw(b"CHANGEDSINCE ");
                                self.num(*n);
                            }
                            FetchModifier::Vanished => self.raw(b"VANISHED"),
                        }
                    }
                    self.byte(b')');
                }
            }
            C::Store {
                uid,
                set,
                unchanged_since,
                kind,
                silent,
                flags,
            } => {
                self.uid_prefix(*uid);
                self.raw(b"STORE ");
                self.seq_set(set);
                self.sp();
                if let Some(n) = unchanged_since {
                    self.raw(b"(UNCHANGEDSINCE ");
                    self.num(*n);
                    self.raw(b") ");
                }
                match kind {
                    StoreKind::Replace => {}
                    StoreKind::Add => self.byte(b'+'),
                    StoreKind::Remove => self.byte(b'-'),
                }
                self.raw(if *silent { b"FLAGS.SILENT " } else { b"FLAGS " });
                self.flag_list(flags);
            }
            C::Copy { uid, set, mailbox } => {
                self.uid_prefix(*uid);
                self.raw(b"COPY ");
                self.seq_set(set);
                self.sp();
                self.mailbox(mailbox);
            }
            C::Move { uid, set, mailbox } => {
                self.uid_prefix(*uid);
                self.raw(b"MOVE ");
                self.seq_set(set);
                self.sp();
                self.mailbox(mailbox);
            }
            C::XProvision {
                device_id,
                notif_id,
            } => {
                self.raw(b"XPROVISION");
                match (device_id, notif_id) {
                    (Some(d), n) => {
                        self.sp();
                        self.astring(d.as_bytes());
                        if let Some(n) = n {
                            self.sp();
                            self.astring(n.as_bytes());
                        }
                    }
                    // A notification id needs a device id before it: send an empty one.
                    (None, Some(n)) => {
                        self.raw(b" \"\" ");
                        self.astring(n.as_bytes());
                    }
                    (None, None) => {}
                }
            }
            C::XSetPimapPref { name: _, setting } => {
                // Both spellings (-01 and -02…-12) are `XSETPIMAPPREF`.
                self.raw(b"XSETPIMAPPREF ");
                self.pref_setting(setting);
            }
            C::XGetPimapPrefs { name, prefs } => {
                self.raw(match name {
                    PrefCommandName::Current => b"XGETPIMAPPREFS (".as_slice(),
                    PrefCommandName::Draft01 => b"XGETPIMAPPREF (".as_slice(),
                });
                for (i, p) in prefs.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.pref_name(p);
                }
                self.byte(b')');
            }
            C::XFilter(f) => self.xfilter_command(f),
            C::XTerse(on) => self.raw(if *on { b"XTERSE ON" } else { b"XTERSE OFF" }),
            C::XResume(None) => self.raw(b"XRESUME NONE"),
            C::XResume(Some(c)) => {
                self.raw(b"XRESUME ");
                self.num(c.epoch);
                self.sp();
                self.num(c.offset);
            }
            C::XZip(z) => match z {
                XZipCommand::Wrapped(inner) => {
                    self.raw(b"XZIP ");
                    self.command(inner);
                }
                XZipCommand::Inline(l) => {
                    self.raw(b"XZIP INLINE ");
                    self.literal8(l);
                }
            },
            C::XDeliver(d) => self.xdeliver_command(d),
            C::XConvert(x) => self.xconvert_command(x),
            C::XPSearch {
                mailbox,
                charset,
                criteria,
            } => {
                self.name_mailbox(b"XPSEARCH ", mailbox);
                self.sp();
                self.charset(charset.as_ref());
                self.search_keys(criteria);
            }
            C::XMacro(m) => self.xmacro_command(m),
        }
    }

    /// `CHARSET c SP` when present.
    fn charset(&mut self, c: Option<&pimap_types::IString>) {
        if let Some(c) = c {
            self.raw(b"CHARSET ");
            self.astring(c.as_bytes());
            self.sp();
        }
    }

    /// ` (CONDSTORE QRESYNC (...))` when there are parameters.
    fn select_params(&mut self, params: &[SelectParam]) {
        if params.is_empty() {
            return;
        }
        self.raw(b" (");
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            match p {
                SelectParam::CondStore => self.raw(b"CONDSTORE"),
                SelectParam::QResync {
                    uid_validity,
                    modseq,
                    known_uids,
                    seq_match,
                } => {
                    self.raw(b"QRESYNC (");
                    self.num(u64::from(*uid_validity));
                    self.sp();
                    self.num(*modseq);
                    if let Some(k) = known_uids {
                        self.sp();
                        self.seq_set(k);
                    }
                    if let Some((a, b)) = seq_match {
                        self.raw(b" (");
                        self.seq_set(a);
                        self.sp();
                        self.seq_set(b);
                        self.byte(b')');
                    }
                    self.byte(b')');
                }
            }
        }
        self.byte(b')');
    }

    /// ID parameters: `("k" "v" "k2" NIL)` or `NIL` (shared with the response).
    pub(crate) fn id_params(
        &mut self,
        params: Option<&[(pimap_types::IString, Option<pimap_types::IString>)]>,
    ) {
        let Some(params) = params else {
            self.raw(b"NIL");
            return;
        };
        self.byte(b'(');
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.string(k.as_bytes());
            self.sp();
            self.nstring(v.as_ref());
        }
        self.byte(b')');
    }

    // ------------------------------------------------------------------ preferences

    /// A preference name (canonical spelling).
    pub(crate) fn pref_name(&mut self, p: &PrefName) {
        match p {
            PrefName::Other(a) => self.atom(a),
            known => self.raw(known.as_str().as_bytes()),
        }
    }

    fn new_format(&mut self, f: &NewFormat) {
        match f {
            NewFormat::None => self.raw(b"NONE"),
            NewFormat::Fetch(items) => self.fetch_items(items),
        }
    }

    fn filter_type(&mut self, t: FilterType) {
        self.byte(match t {
            FilterType::View => b'V',
            FilterType::Notification => b'N',
            FilterType::Both => b'B',
        });
    }

    fn pref_setting(&mut self, s: &PrefSetting) {
        match s {
            PrefSetting::OutbandAddress(a) => {
                self.raw(b"PIMAP_OUTBAND_ADDRESS ");
                self.astring(a.as_bytes());
            }
            PrefSetting::OutbandChannel(c) => {
                self.raw(b"PIMAP_OUTBAND_CHANNEL ");
                match c {
                    Channel::Sms => self.raw(b"SMS"),
                    Channel::GsmSms => self.raw(b"GSMSMS"),
                    Channel::WapPush => self.raw(b"WAP_PUSH"),
                    Channel::WapWdp => self.raw(b"WAPWDP"),
                    Channel::Mms => self.raw(b"MMS"),
                    Channel::Udp => self.raw(b"UDP"),
                    Channel::Sip => self.raw(b"SIP"),
                    Channel::Jms => self.raw(b"JMS"),
                    Channel::None => self.raw(b"NONE"),
                    Channel::Other(a) => self.atom(a),
                }
            }
            PrefSetting::InbandNewFormat(f) => {
                self.raw(b"PIMAP_INBAND_NEW_FORMAT ");
                self.new_format(f);
            }
            PrefSetting::InbandPush(on) => {
                self.raw(if *on {
                    b"PIMAP_INBAND_PUSH ON"
                } else {
                    b"PIMAP_INBAND_PUSH OFF"
                });
            }
            PrefSetting::OutbandFormat(f) => self.raw(match f {
                OutbandFormat::Emn => b"PIMAP_OUTBAND_FORMAT EMN".as_slice(),
                OutbandFormat::Extended => b"PIMAP_OUTBAND_FORMAT EXTENDED".as_slice(),
            }),
            PrefSetting::EventFilter(f) => self.raw(match f {
                EventFilter::All => b"PIMAP_EVENT_FILTER ALL".as_slice(),
                EventFilter::None => b"PIMAP_EVENT_FILTER NONE".as_slice(),
                EventFilter::New => b"PIMAP_EVENT_FILTER NEW".as_slice(),
            }),
            PrefSetting::XFilter(XFilterActivation {
                folder,
                filter_type,
                name,
            }) => {
                self.raw(b"PIMAP_XFILTER (");
                self.folder_selector(folder, &[b"ALL"]);
                self.sp();
                self.filter_type(*filter_type);
                self.sp();
                self.atom(name);
                self.byte(b')');
            }
            PrefSetting::OutbandNewFormat(f) => {
                self.raw(b"PIMAP_OUTBAND_NEW_FORMAT ");
                self.new_format(f);
            }
            PrefSetting::OutbandTypeSms(a) => {
                self.raw(b"PIMAP_OUTBAND_TYPE_SMS ");
                self.astring(a.as_bytes());
            }
            PrefSetting::OutbandTypeJms(a) => {
                self.raw(b"PIMAP_OUTBAND_TYPE_JMS ");
                self.astring(a.as_bytes());
            }
            PrefSetting::Other { name, value } => {
                self.atom(name);
                self.sp();
                self.pref_value(value);
            }
        }
    }

    // ------------------------------------------------------------------ XFILTER

    fn xfilter_command(&mut self, f: &XFilterCommand) {
        // A legacy folder named ALL, GET or SET is quoted so that it cannot be read as the
        // keyword.
        const RESERVED: &[&[u8]] = &[b"ALL", b"GET", b"SET"];
        self.raw(b"XFILTER ");
        match f {
            XFilterCommand::Get {
                charset,
                name,
                desc,
                criteria,
            } => {
                self.raw(b"GET ");
                self.charset(charset.as_ref());
                self.atom(name);
                self.raw(match (desc, criteria) {
                    (true, true) => b" (DESC CRITERIA)".as_slice(),
                    (true, false) => b" (DESC)".as_slice(),
                    (false, true) => b" (CRITERIA)".as_slice(),
                    (false, false) => b" ()".as_slice(),
                });
            }
            XFilterCommand::Set {
                charset,
                name,
                description,
                criteria,
            } => {
                self.raw(b"SET ");
                self.charset(charset.as_ref());
                self.atom(name);
                self.sp();
                self.string(description.as_bytes());
                self.raw(b" (");
                self.search_keys(criteria);
                self.byte(b')');
            }
            XFilterCommand::LegacyGet {
                folder,
                filter_type,
            } => {
                self.folder_selector(folder, RESERVED);
                self.sp();
                self.filter_type(*filter_type);
                self.raw(b" GET");
            }
            XFilterCommand::LegacySet {
                folder,
                filter_type,
                criteria,
            } => {
                self.folder_selector(folder, RESERVED);
                self.sp();
                self.filter_type(*filter_type);
                self.sp();
                self.search_keys(criteria);
            }
        }
    }

    // ------------------------------------------------------------------ XDELIVER

    fn original(&mut self, o: &OriginalMessage) {
        // `[folder SP [uidvalidity SP]] uid`; a UIDVALIDITY without a folder has no wire form
        // and is left out.
        if let Some(f) = &o.folder {
            self.astring_except(f.as_bytes(), &[b"Y", b"N"]);
            self.sp();
            if let Some(v) = o.uid_validity {
                self.num(u64::from(v));
                self.sp();
            }
        }
        self.num(u64::from(o.uid));
        self.raw(if o.attachments { b" Y" } else { b" N" });
    }

    fn xdeliver_command(&mut self, d: &XDeliverCommand) {
        self.raw(b"XDELIVER ");
        match d {
            XDeliverCommand::Classic {
                kind,
                save_to,
                envelope,
                message,
            } => {
                match kind {
                    DeliverKind::New => self.byte(b'N'),
                    DeliverKind::Reply(o) => {
                        self.raw(b"R ");
                        self.original(o);
                    }
                    DeliverKind::Forward(o) => {
                        self.raw(b"F ");
                        self.original(o);
                    }
                }
                if let Some(m) = save_to {
                    self.raw(b" SAVETO=");
                    self.mailbox(m);
                }
                if let Some(env) = envelope {
                    self.raw(b" ENVELOPE ");
                    self.address_list(env);
                }
                self.sp();
                self.literal8(message);
            }
            XDeliverCommand::Capability => self.raw(b"CAPABILITY"),
            XDeliverCommand::Text(l) => {
                self.raw(b"TEXT ");
                self.literal8(l);
            }
        }
    }

    // ------------------------------------------------------------------ XCONVERT (-00…-07)

    fn xconvert_command(&mut self, x: &XConvertCommand) {
        self.raw(if x.xuid_name {
            b"XUIDCONVERT ".as_slice()
        } else if x.uid {
            b"UID XCONVERT ".as_slice()
        } else {
            b"XCONVERT ".as_slice()
        });
        self.num(u64::from(x.id));
        self.sp();
        if x.body_form {
            self.raw(if x.peek { b"BODY.PEEK" } else { b"BODY" });
            self.bracket_part(&x.part);
            self.partial(x.partial.as_ref());
        } else {
            self.part(&x.part);
        }
        self.raw(b" as ");
        self.raw(x.media_type.as_bytes());
        for (n, v) in &x.params {
            self.byte(b';');
            self.raw(n.as_bytes());
            self.byte(b'=');
            let v = v.as_bytes();
            if is_xconvert_value_atom(v) {
                self.raw(v);
            } else if is_xconvert_value_quotable(v) {
                self.quoted(v);
            } else {
                // No wire form: a literal is the closest valid IMAP.
                self.string(v);
            }
        }
    }

    // ------------------------------------------------------------------ XMACRO

    fn xmacro_command(&mut self, m: &XMacroCommand) {
        match m {
            XMacroCommand::Define { name, templates } => {
                self.raw(b"XMACRO DEFINE ");
                self.atom(name);
                self.sp();
                self.string_list(templates);
            }
            XMacroCommand::Run { name, args } => {
                self.raw(b"XMACRO RUN ");
                self.atom(name);
                for a in args {
                    self.sp();
                    self.astring(a.as_bytes());
                }
            }
            XMacroCommand::Delete { name } => {
                self.raw(b"XMACRO DELETE ");
                self.atom(name);
            }
            XMacroCommand::List => self.raw(b"XMACRO LIST"),
        }
    }
}
