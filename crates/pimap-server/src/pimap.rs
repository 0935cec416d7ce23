//! P-IMAP commands handled inside the server: XPROVISION, preferences, filters, XTERSE,
//! XZIP, XDELIVER, XMACRO (spec §3.5-3.9, §9).

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};

use pimap_codec::{CommandDecoder, EncodeOptions, Encoder};
use pimap_types::{
    Channel, ClientMessage, CommandBody, Data, EventFilter, FetchAttr, FetchItems, FilterType,
    FolderSelector, IString, NewFormat, OutbandFormat, PrefName, PrefSetting, PrefValue,
    ProvisionItem, Tag, XFilterCommand, XFilterResponse, XMacroCommand, XMacroListing, XZipCommand,
};

use super::commands::Pending;
use super::filter::Filter;
use super::output::ConnId;
use super::profile::{folder_key, FilterRef, NamedFilter, MAX_FOLDER_FILTERS, MAX_NAMED_FILTERS};
use super::request::Request;
use super::server::{Inner, Server, Work};

fn istr(s: &str) -> Option<IString> {
    IString::try_from(s).ok()
}

fn istrs(v: &[&str]) -> Vec<IString> {
    v.iter().filter_map(|s| istr(s)).collect()
}

fn pv(s: &str) -> PrefValue {
    istr(s).map(PrefValue::String).unwrap_or(PrefValue::Nil)
}

/// Text of each FETCH attribute of a new-format preference.
fn new_format_value(f: &NewFormat) -> PrefValue {
    match f {
        NewFormat::None => pv("NONE"),
        NewFormat::Fetch(items) => {
            let attrs: Vec<FetchAttr> = match items {
                FetchItems::Macro(m) => return pv(macro_name(*m)),
                FetchItems::List(l) => l.clone(),
            };
            PrefValue::List(
                attrs
                    .iter()
                    .map(|a| {
                        let mut enc = Encoder::new(EncodeOptions::default());
                        enc.fetch_attr(a);
                        let text = enc.into_bytes();
                        IString::new(text.freeze())
                            .map(PrefValue::String)
                            .unwrap_or(PrefValue::Nil)
                    })
                    .collect(),
            )
        }
    }
}

fn macro_name(m: pimap_types::FetchMacro) -> &'static str {
    match m {
        pimap_types::FetchMacro::All => "ALL",
        pimap_types::FetchMacro::Fast => "FAST",
        pimap_types::FetchMacro::Full => "FULL",
    }
}

/// `$1`..`$9` substitution; arguments become atoms or quoted strings, never raw syntax.
fn substitute(template: &[u8], args: &[IString]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(template.len() + 16);
    let mut i = 0;
    while let Some(&b) = template.get(i) {
        let digit = template.get(i + 1).copied().filter(u8::is_ascii_digit);
        match (b, digit) {
            (b'$', Some(d)) if d != b'0' => {
                let arg = args.get(usize::from(d - b'1'))?;
                let a = arg.as_bytes();
                if !a.is_empty() && pimap_codec::encode::is_astring_atom(a) {
                    out.extend_from_slice(a);
                } else {
                    if a.iter().any(|c| matches!(c, b'\r' | b'\n' | 0)) {
                        return None;
                    }
                    out.push(b'"');
                    for &c in a {
                        if c == b'"' || c == b'\\' {
                            out.push(b'\\');
                        }
                        out.push(c);
                    }
                    out.push(b'"');
                }
                i += 2;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// May a macro template be this command? Not XMACRO, IDLE, AUTHENTICATE, LOGOUT, XRESUME,
/// a command this crate does not model, nor an XZIP wrapping one of them (a macro that runs
/// itself through XZIP would recurse).
fn allowed_in_macro(body: &CommandBody) -> bool {
    match body {
        CommandBody::XMacro(_)
        | CommandBody::Other { .. }
        | CommandBody::Idle
        | CommandBody::Authenticate { .. }
        | CommandBody::Logout
        | CommandBody::XResume(_) => false,
        CommandBody::XZip(XZipCommand::Wrapped(inner)) => {
            !matches!(inner.body, CommandBody::XZip(_)) && allowed_in_macro(&inner.body)
        }
        _ => true,
    }
}

/// Decode one macro template line as a command with `tag`.
fn decode_template(tag: &[u8], line: &[u8]) -> Option<pimap_types::Command> {
    let mut d = CommandDecoder::default();
    let mut buf = Vec::with_capacity(tag.len() + line.len() + 3);
    buf.extend_from_slice(tag);
    buf.push(b' ');
    buf.extend_from_slice(line);
    buf.extend_from_slice(b"\r\n");
    d.feed(&buf);
    match d.next() {
        Ok(Some(ClientMessage::Command(c))) if d.buffered_len() == 0 => Some(c),
        _ => None,
    }
}

impl Server {
    fn device_only(&mut self, conn: ConnId, tag: &Tag) -> bool {
        let ok = self.session_of(conn).is_some_and(|s| s.is_device());
        if !ok {
            self.no(
                conn,
                tag.clone(),
                "P-IMAP session required (log in with user#device)",
            );
        }
        ok
    }

    fn save_profile(&mut self, conn: ConnId) {
        let Some(s) = self.session_of(conn) else {
            return;
        };
        if let Some(d) = &s.device {
            let (u, d, p) = (s.user.clone(), d.clone(), s.profile.clone());
            self.persistence.save_shared(&u, &d, &p);
        }
    }

    /// A view filter changed: if it may concern the selected folder, the device's view is no
    /// longer the mobile repository, so it is owed RESYNC (spec §1.2).
    fn view_filter_changed(&mut self, conn: ConnId, folder: Option<&Bytes>) {
        if let Some(s) = self.session_mut(conn) {
            let hit = match (&s.selected, folder) {
                (Some(_), None) => true,
                (Some(v), Some(f)) => v.key == *f,
                _ => false,
            };
            if hit {
                s.owes_resync = true;
            }
        }
    }

    pub(crate) fn pimap_command(
        &mut self,
        conn: ConnId,
        tag: Tag,
        body: CommandBody,
        now: Instant,
    ) {
        let _ = now;
        match body {
            CommandBody::XProvision { .. } => self.xprovision(conn, tag),
            CommandBody::XTerse(on) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.terse = on;
                }
                self.ok(conn, tag, None, "XTERSE completed");
            }
            CommandBody::XSetPimapPref { setting, .. } => {
                if self.device_only(conn, &tag) {
                    self.set_pref(conn, tag, setting);
                }
            }
            CommandBody::XGetPimapPrefs { name, prefs } => {
                if self.device_only(conn, &tag) {
                    self.get_prefs(conn, tag, name, prefs);
                }
            }
            CommandBody::XFilter(cmd) => {
                if self.device_only(conn, &tag) {
                    self.xfilter(conn, tag, cmd);
                }
            }
            CommandBody::XMacro(cmd) => {
                if self.device_only(conn, &tag) {
                    self.xmacro(conn, tag, cmd);
                }
            }
            CommandBody::XZip(_) if self.conns.get(&conn).is_some_and(|c| c.capturing > 0) => {
                self.bad(conn, tag, "XZIP cannot be nested")
            }
            CommandBody::XZip(XZipCommand::Wrapped(inner)) => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if matches!(inner.body, CommandBody::XZip(_) | CommandBody::Idle) {
                    return self.bad(conn, tag, "XZIP cannot wrap XZIP or IDLE");
                }
                c.capturing += 1;
                let start = c.wbuf.len();
                c.zip_start = Some(c.position());
                self.push_front_work(
                    conn,
                    vec![Work::Inner(*inner, Inner::Zip), Work::EndZip(tag, start)],
                );
            }
            CommandBody::XZip(XZipCommand::Inline(lit)) => {
                let mut limits = self.config.inflate_limits;
                limits.max_output = limits.max_output.min(self.config.max_inline_inflated);
                let preauth = self
                    .conns
                    .get(&conn)
                    .is_some_and(|c| c.state == super::server::ConnState::NotAuthenticated);
                if preauth {
                    // Small work before authentication.
                    let cap = usize::try_from(self.config.preauth_limits.max_message)
                        .unwrap_or(usize::MAX);
                    limits.max_output = limits.max_output.min(cap);
                }
                let inner = pimap_codec::compress::inflate_all(&lit.data, limits)
                    .ok()
                    .and_then(|raw| {
                        let mut d = CommandDecoder::default();
                        d.feed(&raw);
                        if !raw.ends_with(b"\r\n") {
                            d.feed(b"\r\n");
                        }
                        match d.next() {
                            Ok(Some(ClientMessage::Command(c))) if d.buffered_len() == 0 => Some(c),
                            _ => None,
                        }
                    });
                match inner {
                    Some(cmd) if !matches!(cmd.body, CommandBody::XZip(_) | CommandBody::Idle) => {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.capturing += 1;
                            let start = c.wbuf.len();
                            c.zip_start = Some(c.position());
                            self.push_front_work(
                                conn,
                                vec![Work::Inner(cmd, Inner::Zip), Work::EndZip(tag, start)],
                            );
                        }
                    }
                    _ => self.bad(
                        conn,
                        tag,
                        "XZIP INLINE data is not one compressed command (DEFLATE, zlib or gzip)",
                    ),
                }
            }
            CommandBody::XDeliver(d) => self.xdeliver(conn, tag, d),
            CommandBody::XConvert(_) => self.no(conn, tag, "XCONVERT is not supported"),
            CommandBody::XPSearch { .. } => self.no(conn, tag, "XPSEARCH is not supported"),
            _ => self.bad(conn, tag, "Unexpected command"),
        }
    }

    /// Close an XZIP capture: compress what the inner command wrote.
    pub(crate) fn end_zip(&mut self, conn: ConnId, tag: Tag, start: usize) {
        let dialect = self.config.dialect;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let raw = if start <= c.wbuf.len() {
            c.wbuf.split_off(start)
        } else {
            BytesMut::new()
        };
        c.capturing = c.capturing.saturating_sub(1);
        let mut enc = pimap_codec::compress::XZipEncoder::for_dialect(dialect);
        enc.level = self.config.xzip_level;
        for d in enc.encode(&raw) {
            self.send_data(conn, d);
        }
        let sk = self.conns.get_mut(&conn).and_then(|c| {
            c.zip_start = None;
            c.session
        });
        let offset = self.conns.get(&conn).map(|c| c.resume_offset());
        if let (Some(sk), Some(offset)) = (sk, offset) {
            if let Some(s) = self.sessions.get_mut(&sk).filter(|s| s.conn == Some(conn)) {
                s.ledger.zip_ended(offset);
            }
        }
        self.ok(conn, tag, None, "XZIP completed");
    }

    fn xprovision(&mut self, conn: ConnId, tag: Tag) {
        let p = self.config.provisioning.clone();
        if let Some(items) = p.items_override {
            for i in items {
                self.send_data(conn, Data::XProvision(i));
            }
            self.deliver(conn, false);
            return self.ok(conn, tag, None, "XPROVISION completed");
        }
        let mut items = vec![
            ProvisionItem::FilterGet(istrs(&["DESC", "CRITERIA"])),
            // The SEARCH keys a filter may use (immutable message properties, spec §1.2).
            ProvisionItem::FilterSet(istrs(&[
                "ALL",
                "NONE",
                "NOT",
                "OR",
                "FROM",
                "TO",
                "CC",
                "BCC",
                "SUBJECT",
                "HEADER",
                "BODY",
                "TEXT",
                "LARGER",
                "SMALLER",
                "BEFORE",
                "ON",
                "SINCE",
                "SENTBEFORE",
                "SENTON",
                "SENTSINCE",
                "YOUNGER",
                "OLDER",
                "DAYSBEFORETODAY",
            ])),
            ProvisionItem::PrefValues {
                name: PrefName::OutbandChannel,
                values: istrs(&p.channels),
            },
            ProvisionItem::PrefValues {
                name: PrefName::InbandNewFormat,
                values: istrs(&[
                    "NONE",
                    "ALL",
                    "FAST",
                    "FULL",
                    "UID",
                    "FLAGS",
                    "INTERNALDATE",
                    "RFC822.SIZE",
                    "ENVELOPE",
                    "BODYSTRUCTURE",
                ]),
            },
            ProvisionItem::PrefValues {
                name: PrefName::InbandPush,
                values: istrs(&["ON", "OFF"]),
            },
            ProvisionItem::PrefValues {
                name: PrefName::EventFilter,
                values: istrs(&p.event_filters),
            },
            ProvisionItem::PrefValues {
                name: PrefName::OutbandFormat,
                values: istrs(&p.outband_formats),
            },
        ];
        if let Some(s) = self.session_of(conn) {
            let mut names = vec!["ALL".to_string()];
            names.extend(
                s.profile
                    .named_filters
                    .keys()
                    .map(|k| String::from_utf8_lossy(k).into_owned()),
            );
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            items.push(ProvisionItem::PrefValues {
                name: PrefName::XFilter,
                values: istrs(&names),
            });
        }
        if let Some(a) = p.notification_address.as_deref().and_then(istr) {
            items.push(ProvisionItem::NotificationAddress(a));
        }
        if let Some(port) = p.notification_port.and_then(|n| istr(&n.to_string())) {
            items.push(ProvisionItem::NotificationPort(port));
        }
        for i in items {
            self.send_data(conn, Data::XProvision(i));
        }
        self.deliver(conn, false);
        self.ok(conn, tag, None, "XPROVISION completed");
    }

    fn set_pref(&mut self, conn: ConnId, tag: Tag, setting: PrefSetting) {
        let prov = self.config.provisioning.clone();
        let allowed = |list: &[&str], v: &str| list.iter().any(|a| a.eq_ignore_ascii_case(v));
        let Some(s) = self.session_mut(conn) else {
            return;
        };
        let prefs = &mut std::sync::Arc::make_mut(&mut s.profile).prefs;
        let mut view_changed: Option<Option<Bytes>> = None;
        let result: Result<(), &'static str> = match setting {
            PrefSetting::OutbandAddress(a) => {
                prefs.outband_address = Some(a);
                Ok(())
            }
            PrefSetting::OutbandChannel(c) => {
                if allowed(&prov.channels, c.as_str()) {
                    prefs.outband_channel = c;
                    Ok(())
                } else {
                    Err("Channel not offered (see XPROVISION)")
                }
            }
            PrefSetting::InbandNewFormat(f) => {
                prefs.inband_new_format = f;
                Ok(())
            }
            PrefSetting::OutbandNewFormat(f) => {
                prefs.outband_new_format = f;
                Ok(())
            }
            PrefSetting::InbandPush(on) => {
                prefs.inband_push = on;
                Ok(())
            }
            PrefSetting::OutbandFormat(f) => {
                let name = match f {
                    OutbandFormat::Emn => "EMN",
                    OutbandFormat::Extended => "EXTENDED",
                };
                if allowed(&prov.outband_formats, name) {
                    prefs.outband_format = f;
                    Ok(())
                } else {
                    Err("Format not offered (see XPROVISION)")
                }
            }
            PrefSetting::EventFilter(e) => {
                let name = match e {
                    EventFilter::All => "ALL",
                    EventFilter::None => "NONE",
                    EventFilter::New => "NEW",
                };
                if allowed(&prov.event_filters, name) {
                    prefs.event_filter = e;
                    Ok(())
                } else {
                    Err("Event filter not offered (see XPROVISION)")
                }
            }
            PrefSetting::XFilter(act) => {
                let name = Bytes::copy_from_slice(&act.name.as_bytes().to_ascii_uppercase());
                let known = &name[..] == b"ALL" || s.profile.named_filters.contains_key(&name);
                let folder = match &act.folder {
                    FolderSelector::All => None,
                    FolderSelector::Mailbox(m) => Some(folder_key(m)),
                };
                if !known {
                    Err("Unknown filter name")
                } else if folder.is_some() && s.profile.folders.len() >= MAX_FOLDER_FILTERS {
                    Err("Too many per-folder filters")
                } else {
                    if act.filter_type != FilterType::Notification {
                        view_changed = Some(folder.clone());
                    }
                    std::sync::Arc::make_mut(&mut s.profile).set_filter(
                        folder,
                        act.filter_type,
                        FilterRef::Named(name),
                    );
                    Ok(())
                }
            }
            PrefSetting::OutbandTypeSms(a) => {
                prefs.outband_channel = Channel::Sms;
                prefs.outband_address = Some(a);
                Ok(())
            }
            PrefSetting::OutbandTypeJms(a) => {
                prefs.outband_channel = Channel::Jms;
                prefs.outband_address = Some(a);
                Ok(())
            }
            _ => Err("Unknown preference"),
        };
        match result {
            Ok(()) => {
                if let Some(f) = view_changed {
                    self.view_filter_changed(conn, f.as_ref());
                }
                self.save_profile(conn);
                self.deliver(conn, false);
                self.ok(conn, tag, None, "XSETPIMAPPREF completed");
            }
            Err(why) => self.no(conn, tag, why),
        }
    }

    fn get_prefs(
        &mut self,
        conn: ConnId,
        tag: Tag,
        name: pimap_types::PrefCommandName,
        wanted: Vec<PrefName>,
    ) {
        let Some(s) = self.session_of(conn) else {
            return;
        };
        let p = &s.profile.prefs;
        let all = [
            PrefName::OutbandAddress,
            PrefName::OutbandChannel,
            PrefName::InbandNewFormat,
            PrefName::InbandPush,
            PrefName::OutbandFormat,
            PrefName::EventFilter,
            PrefName::XFilter,
        ];
        let wanted: Vec<PrefName> = if wanted.is_empty() {
            all.to_vec()
        } else {
            wanted
        };
        let mut out: Vec<(PrefName, PrefValue)> = Vec::new();
        for w in wanted {
            match &w {
                PrefName::OutbandAddress => out.push((
                    w.clone(),
                    p.outband_address
                        .clone()
                        .map(PrefValue::String)
                        .unwrap_or(PrefValue::Nil),
                )),
                PrefName::OutbandChannel => out.push((w.clone(), pv(p.outband_channel.as_str()))),
                PrefName::InbandNewFormat => {
                    out.push((w.clone(), new_format_value(&p.inband_new_format)))
                }
                PrefName::OutbandNewFormat => {
                    out.push((w.clone(), new_format_value(&p.outband_new_format)))
                }
                PrefName::InbandPush => {
                    out.push((w.clone(), pv(if p.inband_push { "ON" } else { "OFF" })))
                }
                PrefName::OutbandFormat => out.push((
                    w.clone(),
                    pv(match p.outband_format {
                        OutbandFormat::Emn => "EMN",
                        OutbandFormat::Extended => "EXTENDED",
                    }),
                )),
                PrefName::EventFilter => out.push((
                    w.clone(),
                    pv(match p.event_filter {
                        EventFilter::All => "ALL",
                        EventFilter::None => "NONE",
                        EventFilter::New => "NEW",
                    }),
                )),
                PrefName::XFilter => {
                    let mut slots: Vec<(Bytes, &super::profile::FolderFilters)> =
                        vec![(Bytes::from_static(b"ALL"), &s.profile.all_folders)];
                    slots.extend(s.profile.folders.iter().map(|(k, v)| (k.clone(), v)));
                    for (folder, f) in slots {
                        // Both slots naming the same filter read back as one `B` entry.
                        let both = matches!((&f.view, &f.notification),
                            (Some(FilterRef::Named(a)), Some(FilterRef::Named(b))) if a == b);
                        let entries: &[(&str, &Option<FilterRef>)] = if both {
                            &[("B", &f.view)]
                        } else {
                            &[("V", &f.view), ("N", &f.notification)]
                        };
                        for &(ty, r) in entries {
                            if let Some(FilterRef::Named(n)) = r {
                                let fold = IString::new(folder.clone()).ok();
                                let name = IString::new(n.clone()).ok();
                                if let (Some(fold), Some(name)) = (fold, name) {
                                    out.push((
                                        w.clone(),
                                        PrefValue::List(vec![
                                            PrefValue::String(fold),
                                            pv(ty),
                                            PrefValue::String(name),
                                        ]),
                                    ));
                                }
                            }
                        }
                    }
                }
                _ => out.push((w.clone(), PrefValue::Nil)),
            }
        }
        self.send_data(conn, Data::XGetPimapPrefs { name, prefs: out });
        self.deliver(conn, false);
        self.ok(conn, tag, None, "XGETPIMAPPREFS completed");
    }

    fn xfilter(&mut self, conn: ConnId, tag: Tag, cmd: XFilterCommand) {
        match cmd {
            XFilterCommand::Set {
                name,
                description,
                criteria,
                ..
            } => {
                let filter = match Filter::new(criteria) {
                    Ok(f) => f,
                    Err(e) => return self.no(conn, tag, &e.to_string()),
                };
                let key = Bytes::copy_from_slice(&name.as_bytes().to_ascii_uppercase());
                let Some(s) = self.session_mut(conn) else {
                    return;
                };
                if !s.profile.named_filters.contains_key(&key)
                    && s.profile.named_filters.len() >= MAX_NAMED_FILTERS
                {
                    return self.no(conn, tag, "Too many named filters");
                }
                // Redefining a filter in use as a view filter changes the mobile repository.
                let in_view = std::iter::once(&s.profile.all_folders)
                    .chain(s.profile.folders.values())
                    .any(|f| matches!(&f.view, Some(FilterRef::Named(n)) if *n == key));
                std::sync::Arc::make_mut(&mut s.profile)
                    .named_filters
                    .insert(
                        key,
                        NamedFilter {
                            description,
                            filter,
                        },
                    );
                if in_view {
                    self.view_filter_changed(conn, None);
                }
                self.save_profile(conn);
                self.deliver(conn, false);
                self.ok(conn, tag, None, "XFILTER completed");
            }
            XFilterCommand::Get {
                name,
                desc,
                criteria,
                ..
            } => {
                let key = Bytes::copy_from_slice(&name.as_bytes().to_ascii_uppercase());
                let found = self
                    .session_of(conn)
                    .and_then(|s| s.profile.named_filters.get(&key).cloned());
                let Some(nf) = found else {
                    return self.no(conn, tag, "No such filter");
                };
                let (want_desc, want_crit) = if !desc && !criteria {
                    (true, true)
                } else {
                    (desc, criteria)
                };
                self.send_data(
                    conn,
                    Data::XFilter(XFilterResponse::Named {
                        name,
                        description: want_desc.then(|| nf.description.clone()),
                        criteria: want_crit.then(|| nf.filter.criteria().to_vec()),
                    }),
                );
                self.deliver(conn, false);
                self.ok(conn, tag, None, "XFILTER completed");
            }
            XFilterCommand::LegacySet {
                folder,
                filter_type,
                criteria,
            } => {
                let filter = match Filter::new(criteria) {
                    Ok(f) => f,
                    Err(e) => return self.no(conn, tag, &e.to_string()),
                };
                let folder = match &folder {
                    FolderSelector::All => None,
                    FolderSelector::Mailbox(m) => Some(folder_key(m)),
                };
                let Some(s) = self.session_mut(conn) else {
                    return;
                };
                if folder.is_some() && s.profile.folders.len() >= MAX_FOLDER_FILTERS {
                    return self.no(conn, tag, "Too many per-folder filters");
                }
                std::sync::Arc::make_mut(&mut s.profile).set_filter(
                    folder.clone(),
                    filter_type,
                    FilterRef::Inline(filter),
                );
                if filter_type != FilterType::Notification {
                    self.view_filter_changed(conn, folder.as_ref());
                }
                self.save_profile(conn);
                self.deliver(conn, false);
                self.ok(conn, tag, None, "XFILTER completed");
            }
            XFilterCommand::LegacyGet {
                folder,
                filter_type,
            } => match folder {
                // `ALL`: one line per folder of the user, so ask the store for the list.
                FolderSelector::All => {
                    let user = self
                        .session_of(conn)
                        .map(|s| s.user.clone())
                        .unwrap_or_default();
                    let (Ok(reference), Some(pattern)) =
                        (pimap_types::Mailbox::new(Bytes::new()), istr("*"))
                    else {
                        return self.no(conn, tag, "Cannot list folders");
                    };
                    self.request(
                        conn,
                        Request::Store {
                            user,
                            op: super::request::StoreOp::List {
                                reference,
                                pattern,
                                subscribed_only: false,
                            },
                        },
                        Pending::FilterGetAll { tag, filter_type },
                    );
                }
                FolderSelector::Mailbox(m) => self.filter_lines(conn, tag, &[m], filter_type),
            },
        }
    }

    /// `* XFILTER folder V|N criteria` lines for generation-1 XFILTER GET.
    pub(crate) fn filter_lines(
        &mut self,
        conn: ConnId,
        tag: Tag,
        folders: &[pimap_types::Mailbox],
        filter_type: FilterType,
    ) {
        let Some(s) = self.session_of(conn) else {
            return;
        };
        let mut out = Vec::new();
        for mailbox in folders {
            let key = folder_key(mailbox);
            for ty in [FilterType::View, FilterType::Notification] {
                if filter_type != FilterType::Both && filter_type != ty {
                    continue;
                }
                let f = if ty == FilterType::View {
                    s.profile
                        .view_filter(&key)
                        .cloned()
                        .unwrap_or_else(Filter::all)
                } else {
                    s.profile
                        .notification_filter(&key)
                        .cloned()
                        .unwrap_or_else(Filter::none)
                };
                out.push(Data::XFilter(XFilterResponse::Folder {
                    folder: mailbox.clone(),
                    filter_type: ty,
                    criteria: f.criteria().to_vec(),
                }));
            }
        }
        for d in out {
            self.send_data(conn, d);
        }
        self.deliver(conn, false);
        self.ok(conn, tag, None, "XFILTER completed");
    }

    fn xmacro(&mut self, conn: ConnId, tag: Tag, cmd: XMacroCommand) {
        let max = self.config.max_macros;
        match cmd {
            XMacroCommand::Define { name, templates } => {
                for (i, t) in templates.iter().enumerate() {
                    // Placeholders are checked with a neutral argument.
                    let probe: Vec<IString> = (0..9).filter_map(|_| istr("X")).collect();
                    let line = substitute(t.as_bytes(), &probe);
                    let cmd = line.as_deref().and_then(|l| decode_template(b"T", l));
                    let ok = cmd.as_ref().is_some_and(|c| allowed_in_macro(&c.body));
                    if !ok {
                        return self.no(
                            conn,
                            tag,
                            &format!("Template {} is not a valid command (no XMACRO, IDLE, AUTHENTICATE or LOGOUT)", i + 1),
                        );
                    }
                }
                let key = Bytes::copy_from_slice(&name.as_bytes().to_ascii_uppercase());
                let Some(s) = self.session_mut(conn) else {
                    return;
                };
                if !s.profile.macros.contains_key(&key) && s.profile.macros.len() >= max {
                    return self.no(conn, tag, "Too many macros");
                }
                std::sync::Arc::make_mut(&mut s.profile)
                    .macros
                    .insert(key, templates);
                self.save_profile(conn);
                self.ok(conn, tag, None, "XMACRO completed");
            }
            XMacroCommand::Delete { name } => {
                let key = Bytes::copy_from_slice(&name.as_bytes().to_ascii_uppercase());
                let removed = self
                    .session_mut(conn)
                    .and_then(|s| std::sync::Arc::make_mut(&mut s.profile).macros.remove(&key))
                    .is_some();
                if removed {
                    self.save_profile(conn);
                    self.ok(conn, tag, None, "XMACRO completed");
                } else {
                    self.no(conn, tag, "No such macro");
                }
            }
            XMacroCommand::List => {
                let list: Vec<(Bytes, Vec<IString>)> = self
                    .session_of(conn)
                    .map(|s| {
                        s.profile
                            .macros
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                for (k, templates) in list {
                    if let Ok(name) = pimap_types::Atom::new(k) {
                        self.send_data(conn, Data::XMacro(XMacroListing { name, templates }));
                    }
                }
                self.ok(conn, tag, None, "XMACRO completed");
            }
            XMacroCommand::Run { .. }
                if self.conns.get(&conn).is_some_and(|c| c.macro_depth > 0) =>
            {
                // A macro that reaches XMACRO RUN again (through XZIP or any wrapper) would
                // recurse without bound.
                self.no(conn, tag, "XMACRO RUN cannot be nested")
            }
            XMacroCommand::Run { name, args } => {
                let key = Bytes::copy_from_slice(&name.as_bytes().to_ascii_uppercase());
                let Some(templates) = self
                    .session_of(conn)
                    .and_then(|s| s.profile.macros.get(&key).cloned())
                else {
                    return self.no(conn, tag, "No such macro");
                };
                let mut work = Vec::with_capacity(templates.len() + 1);
                for (i, t) in templates.iter().enumerate() {
                    let mut inner_tag = BytesMut::with_capacity(tag.as_bytes().len() + 4);
                    inner_tag.put_slice(tag.as_bytes());
                    inner_tag.put_slice(format!(".{}", i + 1).as_bytes());
                    let cmd = substitute(t.as_bytes(), &args)
                        .and_then(|l| decode_template(&inner_tag, &l));
                    match cmd {
                        Some(c) => work.push(Work::Inner(c, Inner::Macro(i + 1))),
                        None => {
                            return self.no(
                                conn,
                                tag,
                                &format!("Template {} does not accept these arguments", i + 1),
                            )
                        }
                    }
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.macro_failed = None;
                    c.macro_depth += 1;
                }
                work.push(Work::EndMacro(tag));
                self.push_front_work(conn, work);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_quotes_arguments() {
        let args = vec![istr("INBOX").unwrap(), istr("a b\"c").unwrap()];
        assert_eq!(
            substitute(b"SELECT $1", &args).unwrap(),
            b"SELECT INBOX".to_vec()
        );
        assert_eq!(
            substitute(b"SEARCH SUBJECT $2", &args).unwrap(),
            b"SEARCH SUBJECT \"a b\\\"c\"".to_vec()
        );
        assert!(substitute(b"SELECT $3", &args).is_none());
    }
}
