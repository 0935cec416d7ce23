//! Command execution: RFC 3501 commands dispatched to the store as requests, and the
//! completion of those requests.

use std::time::Instant;

use bytes::Bytes;

use pimap_codec::base64::base64_decode;
use pimap_types::{
    Code, Command, CommandBody, Data, FetchAttr, FetchItem, LoginName, Mailbox, NamespaceEntry,
    SearchKey, SearchReturnOpt, SeqNo, SeqRange, SequenceSet, SessionState, Status, Tag,
};

use super::fetch_plan::{FetchJob, XZipRequest};
use super::output::ConnId;
use super::profile::folder_key;
use super::request::{Reply, Request, StoreOp};
use super::server::{Busy, ConnState, Inner, Server, Work};
use super::session::{SelectedView, Session};

/// What a connection waits for, with what it needs to finish the command.
#[derive(Debug)]
pub(crate) enum Pending {
    Login {
        tag: Tag,
        name: LoginName,
    },
    Select {
        tag: Tag,
        mailbox: Mailbox,
        read_only: bool,
    },
    Simple {
        tag: Tag,
        name: &'static str,
        no_expunge: bool,
    },
    Close {
        tag: Tag,
    },
    List {
        tag: Tag,
        lsub: bool,
    },
    Status {
        tag: Tag,
        mailbox: Mailbox,
    },
    Append {
        tag: Tag,
    },
    /// One chunk of a FETCH ([`FetchJob`] holds the rest).
    Fetch(Box<FetchJob>),
    Search {
        tag: Tag,
        uid: bool,
        /// ESEARCH `RETURN` options (`None`: answer `* SEARCH`).
        esearch: Option<Vec<SearchReturnOpt>>,
    },
    Copy {
        tag: Tag,
        name: &'static str,
    },
    XDeliver(super::xdeliver::Step),
    FilterGetAll {
        tag: Tag,
        filter_type: pimap_types::FilterType,
    },
}

impl Pending {
    /// The reply kinds that answer this request, if `reply` is not one of them (`No` always
    /// is). XDELIVER's steps check their own replies.
    pub(crate) fn mismatch(&self, reply: &Reply) -> Option<&'static str> {
        let fits = matches!(
            (self, reply),
            (_, Reply::No { .. })
                | (Pending::XDeliver(_), _)
                | (
                    Pending::Login { .. },
                    Reply::Ok | Reply::Authenticated { .. }
                )
                | (Pending::Select { .. }, Reply::Selected(_))
                | (Pending::Simple { .. } | Pending::Close { .. }, Reply::Ok)
                | (
                    Pending::List { .. } | Pending::FilterGetAll { .. },
                    Reply::List(_)
                )
                | (Pending::Status { .. }, Reply::Status(_))
                | (Pending::Append { .. }, Reply::Appended { .. })
                | (Pending::Fetch(_), Reply::Fetched(_))
                | (Pending::Search { .. }, Reply::Searched(_))
                | (Pending::Copy { .. }, Reply::Copied { .. })
        );
        if fits {
            return None;
        }
        Some(match self {
            Pending::Login { .. } => "Ok or Authenticated",
            Pending::Select { .. } => "Selected",
            Pending::Simple { .. } | Pending::Close { .. } => "Ok",
            Pending::List { .. } | Pending::FilterGetAll { .. } => "List",
            Pending::Status { .. } => "Status",
            Pending::Append { .. } => "Appended",
            Pending::Fetch(_) => "Fetched",
            Pending::Search { .. } => "Searched",
            Pending::Copy { .. } => "Copied",
            Pending::XDeliver(_) => "a reply of its step",
        })
    }

    fn tag(&self) -> &Tag {
        match self {
            Pending::Login { tag, .. }
            | Pending::Select { tag, .. }
            | Pending::Simple { tag, .. }
            | Pending::Close { tag }
            | Pending::List { tag, .. }
            | Pending::Status { tag, .. }
            | Pending::Append { tag }
            | Pending::Search { tag, .. }
            | Pending::Copy { tag, .. }
            | Pending::XDeliver(super::xdeliver::Step { tag, .. })
            | Pending::FilterGetAll { tag, .. } => tag,
            Pending::Fetch(job) => &job.tag,
        }
    }
}

/// A sequence set naming exactly these numbers (ascending input).
pub(crate) fn set_of(ns: &[u32]) -> Option<SequenceSet> {
    let mut ranges = Vec::new();
    let mut it = ns
        .iter()
        .copied()
        .filter_map(std::num::NonZeroU32::new)
        .peekable();
    while let Some(a) = it.next() {
        let mut b = a;
        while let Some(n) = it.peek().copied() {
            if Some(n.get()) == b.get().checked_add(1) {
                b = n;
                it.next();
            } else {
                break;
            }
        }
        ranges.push(if a == b {
            SeqRange::Single(SeqNo::Value(a))
        } else {
            SeqRange::Range(SeqNo::Value(a), SeqNo::Value(b))
        });
    }
    SequenceSet::new(ranges).ok()
}

/// Replace -12 `XZIP[part]` / `XZIP.SIZE[part]` attributes by `BINARY.PEEK[part]` (or
/// `BINARY[part]` for a non-PEEK XZIP, which sets \Seen like BINARY does); returns the
/// attributes for the store and the XZIP ones to rebuild.
fn xzip_as_binary(items: Vec<FetchAttr>) -> (Vec<FetchAttr>, XZipRequest) {
    let mut out = Vec::with_capacity(items.len());
    let mut xzip = Vec::new();
    let wanted: Vec<Vec<u32>> = items
        .iter()
        .filter_map(|a| match a {
            FetchAttr::Binary { section, .. } if section.text.is_none() => {
                Some(section.part.clone())
            }
            _ => None,
        })
        .collect();
    for a in items {
        let binary = match &a {
            FetchAttr::XZip { peek, part, .. } => Some(FetchAttr::Binary {
                peek: *peek,
                section: pimap_types::Section {
                    part: part.clone(),
                    text: None,
                },
                partial: None,
            }),
            FetchAttr::XZipSize { part } => Some(FetchAttr::Binary {
                peek: true,
                section: pimap_types::Section {
                    part: part.clone(),
                    text: None,
                },
                partial: None,
            }),
            _ => None,
        };
        match binary {
            Some(b) => {
                if !out.contains(&b) {
                    out.push(b);
                }
                xzip.push(a);
            }
            None => {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
    }
    (out, (xzip, wanted))
}

/// Turn the BINARY data of the parts asked for with XZIP into `XZIP[part]<origin>` (raw
/// DEFLATE of the decoded part, `<origin.count>` applied to the compressed octets) and
/// `XZIP.SIZE[part]` items; BINARY items only fetched for them are dropped.
fn binary_as_xzip(
    items: Vec<FetchItem>,
    (xzip, wanted): &XZipRequest,
    level: u8,
) -> Vec<FetchItem> {
    let mut out = Vec::with_capacity(items.len());
    let mut parts: Vec<(Vec<u32>, Option<bytes::Bytes>)> = Vec::new();
    for i in items {
        match i {
            FetchItem::Binary {
                section,
                data,
                origin,
            } if section.text.is_none() => {
                parts.push((section.part.clone(), data.clone()));
                if wanted.contains(&section.part) {
                    out.push(FetchItem::Binary {
                        section,
                        data,
                        origin,
                    });
                }
            }
            other => out.push(other),
        }
    }
    for a in xzip {
        let (part, partial, size_only) = match a {
            FetchAttr::XZip { part, partial, .. } => (part, *partial, false),
            FetchAttr::XZipSize { part } => (part, None, true),
            _ => continue,
        };
        let data = parts
            .iter()
            .find(|(p, _)| p == part)
            .and_then(|(_, d)| d.as_ref());
        let compressed = data.map(|d| pimap_codec::compress::deflate_part(d, level));
        if size_only {
            let size = compressed
                .as_ref()
                .map_or(0, |c| u32::try_from(c.len()).unwrap_or(u32::MAX));
            out.push(FetchItem::XZipSize {
                part: part.clone(),
                size,
            });
        } else {
            let (origin, data) = match (compressed, partial) {
                (Some(c), Some(p)) => {
                    let start = (p.origin as usize).min(c.len());
                    let end = start.saturating_add(p.count as usize).min(c.len());
                    (
                        Some(p.origin),
                        c.get(start..end).map(bytes::Bytes::copy_from_slice),
                    )
                }
                (c, _) => (None, c.map(bytes::Bytes::from)),
            };
            out.push(FetchItem::XZip {
                part: part.clone(),
                origin,
                data,
            });
        }
    }
    out
}

impl Server {
    pub(crate) fn session_of(&self, conn: ConnId) -> Option<&Session> {
        self.conns
            .get(&conn)
            .and_then(|c| c.session)
            .and_then(|k| self.sessions.get(&k))
    }

    pub(crate) fn session_mut(&mut self, conn: ConnId) -> Option<&mut Session> {
        let k = self.conns.get(&conn).and_then(|c| c.session)?;
        self.sessions.get_mut(&k)
    }

    fn user_of(&self, conn: ConnId) -> Bytes {
        self.session_of(conn)
            .map(|s| s.user.clone())
            .unwrap_or_default()
    }

    fn store_request(&mut self, conn: ConnId, op: StoreOp, pending: Pending) {
        let user = self.user_of(conn);
        self.request(conn, Request::Store { user, op }, pending);
    }

    pub(crate) fn ok(&mut self, conn: ConnId, tag: Tag, code: Option<Code>, text: &str) {
        self.status(conn, Some(tag), Status::Ok, code, text);
    }

    pub(crate) fn no(&mut self, conn: ConnId, tag: Tag, text: &str) {
        self.status(conn, Some(tag), Status::No, None, text);
    }

    /// `NO [LIMIT]` (RFC 5530): a documented limit refused the command.
    pub(crate) fn no_limit(&mut self, conn: ConnId, tag: Tag, text: &str) {
        let code = super::server::limit_code();
        self.status(conn, Some(tag), Status::No, code, text);
    }

    pub(crate) fn bad(&mut self, conn: ConnId, tag: Tag, text: &str) {
        self.status(conn, Some(tag), Status::Bad, None, text);
    }

    /// The selected view's UIDs addressed by a sequence set (by UID or by position).
    /// Does a message-sequence set name a number past the last message the client knows?
    /// RFC 3501 9 (`seq-number`) makes that a BAD, as Dovecot answers. A range ending in
    /// `*` is read as reaching the last message, and UID sets never are.
    fn beyond_last(&self, conn: ConnId, set: &SequenceSet, uid: bool) -> bool {
        let Some(view) = self.selected_view(conn).filter(|_| !uid) else {
            return false;
        };
        let n = view.exists();
        let over = |s: &SeqNo| matches!(s, SeqNo::Value(v) if v.get() > n);
        match set {
            SequenceSet::Ranges(v) => v.iter().any(|r| match r {
                SeqRange::Single(a) => over(a),
                SeqRange::Range(a, b) => {
                    !matches!(a, SeqNo::Largest)
                        && !matches!(b, SeqNo::Largest)
                        && (over(a) || over(b))
                }
            }),
            _ => false,
        }
    }

    fn resolve_set(&self, conn: ConnId, set: &SequenceSet, uid: bool) -> Option<Vec<u32>> {
        let view = self.session_of(conn)?.selected.as_ref()?;
        if uid {
            let max = view.uids.last().copied().unwrap_or(0);
            Some(
                view.uids
                    .iter()
                    .copied()
                    .filter(|u| set.contains(*u, max))
                    .collect(),
            )
        } else {
            let n = view.exists();
            Some(
                view.uids
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| u32::try_from(i + 1).is_ok_and(|s| set.contains(s, n)))
                    .map(|(_, u)| *u)
                    .collect(),
            )
        }
    }

    pub(crate) fn selected_view_of(&self, conn: ConnId) -> Option<&SelectedView> {
        self.selected_view(conn)
    }

    fn selected_view(&self, conn: ConnId) -> Option<&SelectedView> {
        self.session_of(conn)?.selected.as_ref()
    }

    /// Request the next chunk of a FETCH.
    fn fetch_next(&mut self, conn: ConnId, mut job: Box<FetchJob>) {
        let Some(chunk) = job.chunks.pop_front() else {
            self.deliver(conn, !job.uid);
            return self.ok(conn, job.tag, None, "FETCH completed");
        };
        job.piece = chunk.piece.and_then(|p| Some((*chunk.uids.first()?, p)));
        let op = StoreOp::Fetch {
            mailbox: job.mailbox.clone(),
            items: job.items_of(&chunk),
            uids: chunk.uids,
        };
        self.store_request(conn, op, Pending::Fetch(job));
    }

    fn selected_mailbox(&self, conn: ConnId) -> Option<(Mailbox, bool)> {
        let v = self.session_of(conn)?.selected.as_ref()?;
        Some((v.mailbox.clone(), v.read_only))
    }

    pub(crate) fn run_work(&mut self, conn: ConnId, w: Work, now: Instant) {
        let busy = self.conns.get(&conn).map(|c| c.busy.clone());
        match w {
            Work::Bad(tag, text) => {
                self.end_idle_if_needed(conn);
                self.status(conn, tag, Status::Bad, None, &text);
            }
            Work::Msg(pimap_types::ClientMessage::Done) => match busy {
                Some(Busy::Idle(tag)) => {
                    self.end_idle_if_needed(conn);
                    let _ = tag;
                }
                _ => self.status(conn, None, Status::Bad, None, "Unexpected DONE"),
            },
            Work::Msg(pimap_types::ClientMessage::AuthData(data)) => match busy {
                Some(Busy::AuthData(tag)) => {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.busy = Busy::No;
                        c.decoder.set_authenticate_data(false);
                    }
                    if data.expose().as_ref() == b"*" {
                        self.bad(conn, tag, "AUTHENTICATE cancelled");
                    } else {
                        self.auth_plain(conn, tag, data.expose());
                    }
                }
                _ => self.status(conn, None, Status::Bad, None, "Unexpected data line"),
            },
            Work::Msg(pimap_types::ClientMessage::Command(cmd)) => {
                self.end_idle_if_needed(conn);
                self.execute(conn, cmd, now);
            }
            Work::FetchMore(job) => self.fetch_next(conn, job),
            Work::Inner(cmd, inner) => {
                if let (Inner::Macro(i), Some(c)) = (inner, self.conns.get_mut(&conn)) {
                    c.inner = Some((cmd.tag.clone(), i));
                }
                self.execute(conn, cmd, now);
            }
            Work::EndMacro(tag) => {
                let failed = self.conns.get_mut(&conn).and_then(|c| {
                    c.macro_depth = c.macro_depth.saturating_sub(1);
                    c.macro_failed.take()
                });
                match failed {
                    None => self.ok(conn, tag, None, "XMACRO completed"),
                    Some(i) => self.status(
                        conn,
                        Some(tag),
                        Status::No,
                        Some(Code::XMacroFailed(i)),
                        "XMACRO command failed",
                    ),
                }
            }
            Work::EndZip(tag, start) => self.end_zip(conn, tag, start),
        }
    }

    /// Leave IDLE (DONE, or any other input while idling): due events, then the tagged OK.
    fn end_idle_if_needed(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if let Busy::Idle(tag) = std::mem::replace(&mut c.busy, Busy::No) {
            self.deliver(conn, false);
            self.ok(conn, tag, None, "IDLE terminated");
        } else if let Busy::AuthData(tag) = &c.busy {
            let tag = tag.clone();
            c.busy = Busy::No;
            c.decoder.set_authenticate_data(false);
            self.bad(conn, tag, "AUTHENTICATE aborted");
        }
    }

    fn execute(&mut self, conn: ConnId, cmd: Command, now: Instant) {
        let Some(state) = self.conns.get(&conn).map(|c| c.state) else {
            return;
        };
        let tag = cmd.tag;
        use CommandBody as B;
        match cmd.body {
            B::Capability => {
                let caps = self.capabilities_for(conn);
                self.send_data(conn, Data::Capability(caps));
                self.deliver(conn, false);
                self.ok(conn, tag, None, "CAPABILITY completed");
            }
            // CHECK is a selected-state command (RFC 3501 6.4.1); NOOP works in any state.
            B::Check if self.selected_mailbox(conn).is_none() => {
                self.bad(conn, tag, "No mailbox selected")
            }
            B::Noop | B::Check => {
                self.deliver(conn, false);
                self.ok(conn, tag, None, "completed");
            }
            B::Logout => {
                self.status(conn, None, Status::Bye, None, "Logging out");
                self.ok(conn, tag, None, "LOGOUT completed");
                // LOGOUT ends a device session: its queues are discarded (spec §1.6).
                if let Some(k) = self.conns.get(&conn).and_then(|c| c.session) {
                    self.end_session(k);
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.state = ConnState::Logout;
                }
                self.close_conn(conn, now);
            }
            B::StartTls => self.starttls(conn, tag, state),
            B::Other { name, .. } => {
                let text = format!("Unknown command {}", name.to_str_lossy());
                self.bad(conn, tag, &text);
            }
            B::Login { username, password } => {
                if state != ConnState::NotAuthenticated {
                    return self.bad(conn, tag, "Already authenticated");
                }
                if self.login_disabled(conn) {
                    return self.privacy_required(conn, tag);
                }
                let name = LoginName::parse(username.as_bytes());
                let request = Request::Authenticate {
                    user: name.user.clone(),
                    domain: name.domain.clone(),
                    password: pimap_types::Secret::new(Bytes::copy_from_slice(
                        password.expose().as_bytes(),
                    )),
                    authorize_as: None,
                };
                self.request(conn, request, Pending::Login { tag, name });
            }
            B::Authenticate {
                mechanism,
                initial_response,
            } => {
                if state != ConnState::NotAuthenticated {
                    return self.bad(conn, tag, "Already authenticated");
                }
                if !mechanism.as_bytes().eq_ignore_ascii_case(b"PLAIN") {
                    return self.no(conn, tag, "Unsupported authentication mechanism");
                }
                if self.login_disabled(conn) {
                    return self.privacy_required(conn, tag);
                }
                match initial_response {
                    Some(ir) => self.auth_plain(conn, tag, ir.expose()),
                    None => {
                        self.continuation(conn, "");
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.busy = Busy::AuthData(tag);
                            c.decoder.set_authenticate_data(true);
                        }
                    }
                }
            }
            // XTERSE and XZIP are valid in every state (spec §3.8, §3.9.1).
            body @ (B::XTerse(_) | B::XZip(_)) => self.pimap_command(conn, tag, body, now),
            B::XResume(at) => self.xresume(conn, tag, state, at),
            _ if state == ConnState::NotAuthenticated => self.bad(conn, tag, "Log in first"),
            B::Select { mailbox, .. } => self.select(conn, tag, mailbox, false),
            B::Examine { mailbox, .. } => self.select(conn, tag, mailbox, true),
            B::Create { mailbox } => self.simple(conn, tag, StoreOp::Create { mailbox }, "CREATE"),
            B::Delete { mailbox } => self.simple(conn, tag, StoreOp::Delete { mailbox }, "DELETE"),
            B::Rename { from, to } => {
                self.simple(conn, tag, StoreOp::Rename { from, to }, "RENAME")
            }
            B::Subscribe { mailbox } => self.simple(
                conn,
                tag,
                StoreOp::Subscribe {
                    mailbox,
                    subscribe: true,
                },
                "SUBSCRIBE",
            ),
            B::Unsubscribe { mailbox } => self.simple(
                conn,
                tag,
                StoreOp::Subscribe {
                    mailbox,
                    subscribe: false,
                },
                "UNSUBSCRIBE",
            ),
            B::List {
                reference,
                patterns,
                ..
            } => {
                let Some(pattern) = patterns.into_iter().next() else {
                    return self.bad(conn, tag, "LIST needs a pattern");
                };
                let op = StoreOp::List {
                    reference,
                    pattern,
                    subscribed_only: false,
                };
                self.store_request(conn, op, Pending::List { tag, lsub: false });
            }
            B::Lsub { reference, pattern } => {
                let op = StoreOp::List {
                    reference,
                    pattern,
                    subscribed_only: true,
                };
                self.store_request(conn, op, Pending::List { tag, lsub: true });
            }
            B::Status { mailbox, items } => {
                let op = StoreOp::Status {
                    mailbox: mailbox.clone(),
                    items,
                };
                self.store_request(conn, op, Pending::Status { tag, mailbox });
            }
            B::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                let op = StoreOp::Append {
                    mailbox,
                    flags,
                    date,
                    message: message.data.clone(),
                };
                self.store_request(conn, op, Pending::Append { tag });
            }
            B::AppendCompose { .. } => self.no(conn, tag, "XCOMPOSE is not supported"),
            B::AppendMulti { .. } => {
                self.bad(conn, tag, "MULTIAPPEND and CATENATE are not offered")
            }
            B::Notify(_) => self.bad(conn, tag, "NOTIFY is not offered"),
            B::Idle => {
                self.continuation(conn, "idling");
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.busy = Busy::Idle(tag);
                }
                self.deliver(conn, false);
            }
            B::Enable(_) => {
                self.send_data(conn, Data::Enabled(Vec::new()));
                self.ok(conn, tag, None, "ENABLE completed");
            }
            B::Id(_) => {
                self.send_data(conn, Data::Id(None));
                self.ok(conn, tag, None, "ID completed");
            }
            B::Namespace => {
                let personal: Vec<NamespaceEntry> = pimap_types::IString::try_from("")
                    .ok()
                    .map(|prefix| NamespaceEntry {
                        prefix,
                        delimiter: Some(b'/'),
                        extensions: None,
                    })
                    .into_iter()
                    .collect();
                self.send_data(
                    conn,
                    Data::Namespace {
                        personal,
                        other: Vec::new(),
                        shared: Vec::new(),
                    },
                );
                self.ok(conn, tag, None, "NAMESPACE completed");
            }
            B::Compress { mechanism } => self.compress(conn, tag, mechanism, now),
            body @ (B::XProvision { .. }
            | B::XSetPimapPref { .. }
            | B::XGetPimapPrefs { .. }
            | B::XFilter(_)
            | B::XDeliver(_)
            | B::XConvert(_)
            | B::XPSearch { .. }
            | B::XMacro(_)) => self.pimap_command(conn, tag, body, now),
            _ if state != ConnState::Selected => self.bad(conn, tag, "No mailbox selected"),
            B::Unselect => {
                self.unselect(conn);
                self.ok(conn, tag, None, "UNSELECT completed");
            }
            B::Close => match self.selected_mailbox(conn) {
                Some((mailbox, false)) => {
                    // Expunge silently: the expunges are queued, not sent, and the folder
                    // is unselected when the store answers.
                    let op = StoreOp::Expunge {
                        mailbox,
                        uids: None,
                    };
                    self.store_request(conn, op, Pending::Close { tag });
                }
                _ => {
                    self.unselect(conn);
                    self.ok(conn, tag, None, "CLOSE completed");
                }
            },
            B::Expunge => self.expunge(conn, tag, None),
            B::UidExpunge(set) => {
                let uids = self.resolve_set(conn, &set, true).unwrap_or_default();
                self.expunge(conn, tag, Some(uids));
            }
            B::Search {
                uid,
                return_opts,
                charset,
                criteria,
            } => {
                let Some((mailbox, _)) = self.selected_mailbox(conn) else {
                    return self.bad(conn, tag, "No mailbox selected");
                };
                let offered = [
                    SearchReturnOpt::Min,
                    SearchReturnOpt::Max,
                    SearchReturnOpt::All,
                    SearchReturnOpt::Count,
                ];
                if return_opts
                    .as_ref()
                    .is_some_and(|v| v.iter().any(|o| !offered.contains(o)))
                {
                    return self.bad(conn, tag, "SEARCH RETURN offers MIN, MAX, ALL and COUNT");
                }
                let criteria = self.rewrite_search(conn, criteria);
                let op = StoreOp::Search {
                    mailbox,
                    charset,
                    criteria,
                };
                let pending = Pending::Search {
                    tag,
                    uid,
                    esearch: return_opts,
                };
                self.store_request(conn, op, pending);
            }
            B::Fetch {
                uid, set, items, ..
            } => {
                let Some((mailbox, _)) = self.selected_mailbox(conn) else {
                    return self.bad(conn, tag, "No mailbox selected");
                };
                if matches!(&items, pimap_types::FetchItems::List(v) if v.iter().any(|a| {
                    matches!(a, FetchAttr::Preview { .. } | FetchAttr::SaveDate)
                })) {
                    return self.bad(conn, tag, "PREVIEW and SAVEDATE are not offered");
                }
                if self.beyond_last(conn, &set, uid) {
                    return self.bad(conn, tag, "Invalid message sequence number");
                }
                let uids = self.resolve_set(conn, &set, uid).unwrap_or_default();
                if uids.is_empty() {
                    self.deliver(conn, !uid);
                    return self.ok(conn, tag, None, "FETCH completed");
                }
                let mut items = items.attributes();
                if self.selected_mailbox(conn).is_some_and(|(_, ro)| ro) {
                    // EXAMINE: fetching must not set \Seen.
                    for a in &mut items {
                        match a {
                            FetchAttr::BodySection { peek, .. }
                            | FetchAttr::Binary { peek, .. } => *peek = true,
                            _ => {}
                        }
                    }
                }
                if uid && !items.contains(&FetchAttr::Uid) {
                    items.insert(0, FetchAttr::Uid);
                }
                let with_uid = items.contains(&FetchAttr::Uid);
                let (items, xzip) = xzip_as_binary(items);
                let msgs: Vec<(u32, Option<u32>)> = match self.selected_view(conn) {
                    Some(view) => uids.iter().map(|u| (*u, view.size_of(*u))).collect(),
                    None => uids.iter().map(|u| (*u, None)).collect(),
                };
                let splittable = xzip.0.is_empty();
                let chunks = super::fetch_plan::plan(
                    &msgs,
                    &items,
                    self.config.fetch_chunk as u64,
                    splittable,
                );
                let job = FetchJob {
                    tag,
                    uid,
                    with_uid,
                    xzip,
                    mailbox,
                    items,
                    chunks,
                    piece: None,
                };
                self.fetch_next(conn, Box::new(job));
            }
            B::Store {
                uid,
                set,
                kind,
                flags,
                silent,
                ..
            } => {
                let Some((mailbox, read_only)) = self.selected_mailbox(conn) else {
                    return self.bad(conn, tag, "No mailbox selected");
                };
                if read_only {
                    return self.no(conn, tag, "Mailbox is read-only");
                }
                if self.beyond_last(conn, &set, uid) {
                    return self.bad(conn, tag, "Invalid message sequence number");
                }
                let uids = self.resolve_set(conn, &set, uid).unwrap_or_default();
                if uids.is_empty() {
                    self.deliver(conn, !uid);
                    return self.ok(conn, tag, None, "STORE completed");
                }
                if silent {
                    let key = folder_key(&mailbox);
                    if let Some(s) = self.session_mut(conn) {
                        s.silent_store = Some((key, uids.clone()));
                    }
                }
                let op = StoreOp::StoreFlags {
                    mailbox,
                    uids,
                    kind,
                    flags,
                };
                self.store_request(
                    conn,
                    op,
                    Pending::Simple {
                        tag,
                        name: "STORE",
                        no_expunge: !uid,
                    },
                );
            }
            B::Sort { .. } => self.bad(conn, tag, "SORT is not offered"),
            B::Thread { .. } => self.bad(conn, tag, "THREAD is not offered"),
            B::Copy { uid, set, mailbox } => self.copy(conn, tag, uid, set, mailbox, false),
            B::Move { uid, set, mailbox } => self.copy(conn, tag, uid, set, mailbox, true),
        }
    }

    /// COMPRESS=DEFLATE (RFC 4978): the tagged OK is the last uncompressed output; every
    /// later byte in both directions passes through raw DEFLATE.
    fn compress(&mut self, conn: ConnId, tag: Tag, mechanism: pimap_types::Atom, now: Instant) {
        if !mechanism.eq_ignore_case("DEFLATE") {
            return self.no(conn, tag, "Unknown compression mechanism");
        }
        if self.conns.get(&conn).is_some_and(|c| c.deflate.is_some()) {
            return self.status(
                conn,
                Some(tag),
                Status::No,
                Some(Code::CompressionActive),
                "Already compressing",
            );
        }
        self.ok(conn, tag, None, "DEFLATE active");
        self.flush_conn(conn);
        let level = self.config.compress_level;
        let limits = self.config.inflate_limits;
        if let Some(c) = self.conns.get_mut(&conn) {
            let mut stream = pimap_codec::compress::DeflateStream::new(level, limits);
            let rest = c.decoder.take_buffered();
            let plain = if rest.is_empty() {
                Ok(Vec::new())
            } else {
                stream.decompress(&rest)
            };
            c.deflate = Some(stream);
            match plain {
                Ok(p) => c.decoder.feed(&p),
                Err(_) => {
                    self.status(conn, None, Status::Bye, None, "Compression error");
                    self.close_conn(conn, now);
                }
            }
        }
    }

    fn copy(
        &mut self,
        conn: ConnId,
        tag: Tag,
        uid: bool,
        set: SequenceSet,
        to: Mailbox,
        remove: bool,
    ) {
        let Some((mailbox, read_only)) = self.selected_mailbox(conn) else {
            return self.bad(conn, tag, "No mailbox selected");
        };
        if remove && read_only {
            return self.no(conn, tag, "Mailbox is read-only");
        }
        if self.beyond_last(conn, &set, uid) {
            return self.bad(conn, tag, "Invalid message sequence number");
        }
        let uids = self.resolve_set(conn, &set, uid).unwrap_or_default();
        let name = if remove { "MOVE" } else { "COPY" };
        if uids.is_empty() {
            return self.ok(conn, tag, None, "nothing to do");
        }
        let op = StoreOp::Copy {
            mailbox,
            uids,
            to,
            remove,
        };
        self.store_request(conn, op, Pending::Copy { tag, name });
    }

    fn expunge(&mut self, conn: ConnId, tag: Tag, uids: Option<Vec<u32>>) {
        let Some((mailbox, read_only)) = self.selected_mailbox(conn) else {
            return self.bad(conn, tag, "No mailbox selected");
        };
        if read_only {
            return self.no(conn, tag, "Mailbox is read-only");
        }
        let op = StoreOp::Expunge { mailbox, uids };
        self.store_request(
            conn,
            op,
            Pending::Simple {
                tag,
                name: "EXPUNGE",
                no_expunge: false,
            },
        );
    }

    /// `XRESUME`: before login, the position the next device login resumes from; after
    /// login, an acknowledgement of a position (see [`pimap_types::ResumeCursor`]).
    fn xresume(
        &mut self,
        conn: ConnId,
        tag: Tag,
        state: ConnState,
        at: Option<pimap_types::ResumeCursor>,
    ) {
        if state == ConnState::NotAuthenticated {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.resume_from = Some(at);
            }
            return self.ok(conn, tag, None, "XRESUME position noted");
        }
        if let (Some(at), Some(s)) = (at, self.session_mut(conn)) {
            s.ledger.acknowledge(at);
        }
        self.ok(conn, tag, None, "XRESUME completed");
    }

    pub(crate) fn unselect(&mut self, conn: ConnId) {
        let had = self.session_of(conn).is_some_and(|s| s.selected.is_some());
        if let Some(s) = self.session_mut(conn) {
            s.selected = None;
        }
        if let (true, Some(sk)) = (had, self.conns.get(&conn).and_then(|c| c.session)) {
            let max = self.config.max_queued_events;
            self.record_delivery(conn, sk, super::ledger::Delivered::Selected, max);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            if c.state == ConnState::Selected {
                c.state = ConnState::Authenticated;
            }
        }
    }

    fn select(&mut self, conn: ConnId, tag: Tag, mailbox: Mailbox, read_only: bool) {
        // A failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
        self.unselect(conn);
        let op = StoreOp::Select {
            mailbox: mailbox.clone(),
            read_only,
        };
        self.store_request(
            conn,
            op,
            Pending::Select {
                tag,
                mailbox,
                read_only,
            },
        );
    }

    fn simple(&mut self, conn: ConnId, tag: Tag, op: StoreOp, name: &'static str) {
        self.store_request(
            conn,
            op,
            Pending::Simple {
                tag,
                name,
                no_expunge: false,
            },
        );
    }

    /// Sequence-set keys name positions in the device's view: rewrite them as UID sets.
    fn rewrite_search(&self, conn: ConnId, criteria: Vec<SearchKey>) -> Vec<SearchKey> {
        /// Sequence sets become UID sets of the view; RECENT, NEW and OLD are this
        /// session's `\Recent` (the store does not know it).
        fn walk(k: SearchKey, view: &[u32], recent: &SearchKey) -> SearchKey {
            match k {
                SearchKey::SequenceSet(set) => {
                    let n = u32::try_from(view.len()).unwrap_or(u32::MAX);
                    let uids: Vec<u32> = view
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| u32::try_from(i + 1).is_ok_and(|s| set.contains(s, n)))
                        .map(|(_, u)| *u)
                        .collect();
                    match set_of(&uids) {
                        Some(s) => SearchKey::Uid(s),
                        None => SearchKey::None,
                    }
                }
                SearchKey::Recent => recent.clone(),
                SearchKey::New => SearchKey::And(vec![recent.clone(), SearchKey::Unseen]),
                SearchKey::Old => SearchKey::Not(Box::new(recent.clone())),
                SearchKey::Not(b) => SearchKey::Not(Box::new(walk(*b, view, recent))),
                SearchKey::Or(a, b) => SearchKey::Or(
                    Box::new(walk(*a, view, recent)),
                    Box::new(walk(*b, view, recent)),
                ),
                SearchKey::And(v) => {
                    SearchKey::And(v.into_iter().map(|k| walk(k, view, recent)).collect())
                }
                other => other,
            }
        }
        let sel = self.session_of(conn).and_then(|s| s.selected.as_ref());
        let view: &[u32] = sel.map(|v| v.uids.as_slice()).unwrap_or(&[]);
        let recent_uids: Vec<u32> = sel
            .map(|v| {
                v.recent
                    .iter()
                    .copied()
                    .filter(|u| v.seq_of(*u).is_some())
                    .collect()
            })
            .unwrap_or_default();
        let recent = match set_of(&recent_uids) {
            Some(s) => SearchKey::Uid(s),
            None => SearchKey::None,
        };
        criteria
            .into_iter()
            .map(|k| walk(k, view, &recent))
            .collect()
    }

    fn auth_plain(&mut self, conn: ConnId, tag: Tag, data: &[u8]) {
        let Some(raw) = base64_decode(data) else {
            return self.bad(conn, tag, "Invalid base64");
        };
        let mut parts = raw.split(|b| *b == 0);
        let (authz, authc, pass) = (parts.next(), parts.next(), parts.next());
        let (Some(authz), Some(authc), Some(pass)) = (authz, authc, pass) else {
            return self.bad(conn, tag, "Malformed PLAIN response");
        };
        if parts.next().is_some() {
            return self.bad(conn, tag, "Malformed PLAIN response");
        }
        // An authorization identity other than the authentication identity (RFC 4616) is
        // never ignored: refused, unless the caller decides (it then sees `authorize_as`).
        let acting = !authz.is_empty() && authz != authc;
        if acting && !self.config.allow_authorization_identity {
            let code = pimap_types::Atom::new(&b"AUTHORIZATIONFAILED"[..])
                .ok()
                .map(|name| Code::Other { name, args: None });
            return self.status(
                conn,
                Some(tag),
                pimap_types::Status::No,
                code,
                "Authorization identity not permitted",
            );
        }
        let login = LoginName::parse(authc);
        // The session belongs to the identity acted as.
        let name = if acting {
            LoginName::parse(authz)
        } else {
            login.clone()
        };
        let request = Request::Authenticate {
            user: login.user.clone(),
            domain: login.domain.clone(),
            password: pimap_types::Secret::new(Bytes::copy_from_slice(pass)),
            authorize_as: acting.then(|| Bytes::copy_from_slice(authz)),
        };
        self.request(conn, request, Pending::Login { tag, name });
    }

    /// A request completed for a live connection.
    pub(crate) fn finish(&mut self, conn: ConnId, pending: Pending, reply: Reply, now: Instant) {
        if let Some(s) = self.session_mut(conn) {
            s.silent_store = None;
        }
        let pending = match pending {
            Pending::XDeliver(step) => return self.xdeliver_step(conn, true, step, reply),
            other => other,
        };
        if let Reply::No { code, text } = &reply {
            let tag = pending.tag().clone();
            if let Pending::Login { .. } = pending {
                let code = pimap_types::Atom::new(&b"AUTHENTICATIONFAILED"[..])
                    .ok()
                    .map(|name| Code::Other { name, args: None });
                return self.status(conn, Some(tag), Status::No, code, "Authentication failed");
            }
            self.deliver(conn, false);
            return self.status(conn, Some(tag), Status::No, code.clone(), text);
        }
        match (pending, reply) {
            (Pending::Login { tag, name }, Reply::Ok) => {
                let account = name.account();
                self.login_ok(conn, tag, name, account, now)
            }
            (Pending::Login { tag, name }, Reply::Authenticated { account }) => {
                self.login_ok(conn, tag, name, account, now)
            }
            (
                Pending::Select {
                    tag,
                    mailbox,
                    read_only,
                },
                Reply::Selected(snap),
            ) => self.select_ok(conn, tag, mailbox, read_only || snap.read_only, snap),
            (
                Pending::Simple {
                    tag,
                    name,
                    no_expunge,
                },
                Reply::Ok,
            ) => {
                self.deliver(conn, no_expunge);
                self.ok(conn, tag, None, &format!("{name} completed"));
            }
            (Pending::Close { tag }, Reply::Ok) => {
                self.unselect(conn);
                self.ok(conn, tag, None, "CLOSE completed");
            }
            (Pending::List { tag, lsub }, Reply::List(entries)) => {
                for e in entries {
                    self.send_data(conn, if lsub { Data::Lsub(e) } else { Data::List(e) });
                }
                self.deliver(conn, false);
                self.ok(
                    conn,
                    tag,
                    None,
                    if lsub {
                        "LSUB completed"
                    } else {
                        "LIST completed"
                    },
                );
            }
            (Pending::Status { tag, mailbox }, Reply::Status(mut items)) => {
                // RFC 3501 2.3.2: \Recent is per session; STATUS of the mailbox this session
                // has selected counts the messages recent in it (as Dovecot does), not the
                // ones no session has taken.
                let mine = self
                    .selected_view(conn)
                    .filter(|v| v.tracks_recent && v.mailbox == mailbox)
                    .map(SelectedView::recent_count);
                if let Some(n) = mine {
                    for (k, v) in &mut items {
                        if *k == pimap_types::StatusAttr::Recent {
                            *v = u64::from(n);
                        }
                    }
                }
                self.send_data(conn, Data::Status { mailbox, items });
                self.deliver(conn, false);
                self.ok(conn, tag, None, "STATUS completed");
            }
            (Pending::Append { tag }, Reply::Appended { uid_validity, uid }) => {
                self.deliver(conn, false);
                let code = set_of(&[uid]).map(|uids| Code::AppendUid { uid_validity, uids });
                self.ok(conn, tag, code, "APPEND completed");
            }
            (Pending::Fetch(mut job), Reply::Fetched(rows)) if job.piece.is_some() => {
                if let Some((uid, piece)) = job.piece.take() {
                    self.fetch_piece(conn, job, uid, piece, rows, now);
                }
            }
            (Pending::Fetch(job), Reply::Fetched(rows)) => {
                let mut out = Vec::with_capacity(rows.len());
                let level = self.config.xzip_level;
                if let Some(view) = self.selected_view(conn) {
                    for (u, mut items) in rows {
                        if !job.xzip.0.is_empty() {
                            items = binary_as_xzip(items, &job.xzip, level);
                        }
                        let Some(seq) = view.seq_of(u) else { continue };
                        for i in &mut items {
                            if let FetchItem::Flags(f) = i {
                                *f = view.shown_flags(u, std::mem::take(f));
                            }
                        }
                        if job.with_uid && !items.iter().any(|i| matches!(i, FetchItem::Uid(_))) {
                            items.insert(0, FetchItem::Uid(u));
                        }
                        out.push(Data::Fetch { seq, items });
                    }
                }
                for d in out {
                    self.send_data(conn, d);
                }
                if job.chunks.is_empty() {
                    self.deliver(conn, !job.uid);
                    self.ok(conn, job.tag, None, "FETCH completed");
                } else if let Some(c) = self.conns.get_mut(&conn) {
                    // The next chunk waits, like a command, until the output is below the
                    // connection's budget (`process` runs it).
                    c.work.push_front(Work::FetchMore(job));
                }
            }
            (Pending::Search { tag, uid, esearch }, Reply::Searched(uids)) => {
                let mut ids: Vec<u32> =
                    match self.session_of(conn).and_then(|s| s.selected.as_ref()) {
                        Some(view) => uids
                            .iter()
                            .filter_map(|u| view.seq_of(*u).map(|s| if uid { *u } else { s }))
                            .collect(),
                        None => Vec::new(),
                    };
                match esearch {
                    None => self.send_data(conn, Data::Search { ids, modseq: None }),
                    Some(opts) => {
                        ids.sort_unstable();
                        ids.dedup();
                        let answer = crate::esearch::answer(&tag, uid, &opts, &ids);
                        self.send_data(conn, Data::ESearch(answer));
                    }
                }
                self.deliver(conn, !uid);
                self.ok(conn, tag, None, "SEARCH completed");
            }
            (
                Pending::Copy { tag, name },
                Reply::Copied {
                    uid_validity,
                    source,
                    destination,
                },
            ) => {
                let code = match (set_of(&source), set_of(&destination)) {
                    (Some(source), Some(destination)) => Some(Code::CopyUid {
                        uid_validity,
                        source,
                        destination,
                    }),
                    _ => None,
                };
                if name == "MOVE" {
                    // RFC 6851 4.3: COPYUID in an untagged OK before the EXPUNGEs.
                    if code.is_some() {
                        self.status(conn, None, Status::Ok, code, "Moved UIDs");
                    }
                    self.deliver(conn, false);
                    return self.ok(conn, tag, None, "MOVE completed");
                }
                self.deliver(conn, false);
                self.ok(conn, tag, code, &format!("{name} completed"));
            }
            (Pending::FilterGetAll { tag, filter_type }, Reply::List(entries)) => {
                let folders: Vec<Mailbox> = entries.into_iter().map(|e| e.mailbox).collect();
                self.filter_lines(conn, tag, &folders, filter_type);
            }
            (p, _) => {
                let tag = p.tag().clone();
                self.no(conn, tag, "Store returned an unexpected reply");
            }
        }
    }

    /// A request completed after its connection went away: nothing to answer.
    /// A request completed after its connection went away: only XDELIVER goes on (its
    /// outcome is reported to the device later); anything else has nobody to answer.
    pub(crate) fn finish_detached(
        &mut self,
        conn: ConnId,
        pending: Pending,
        reply: Reply,
        _now: Instant,
    ) {
        if let Pending::XDeliver(step) = pending {
            self.xdeliver_step(conn, false, step, reply);
        }
    }

    fn select_ok(
        &mut self,
        conn: ConnId,
        tag: Tag,
        mailbox: Mailbox,
        read_only: bool,
        snap: super::request::MailboxSnapshot,
    ) {
        let key = folder_key(&mailbox);
        let clock = self.clock;
        // `\Recent`: from the store's first recent UID, less what this server already gave
        // to a session; a read-write SELECT takes them all.
        let account = self.session_of(conn).map(|s| s.user.clone());
        let (tracks_recent, recent_floor) = match (snap.first_recent, account) {
            (Some(first), Some(user)) => {
                let ck = (user, key.clone());
                let claimed = self.recent_claimed.get(&ck).copied().unwrap_or(0);
                if !read_only && !snap.read_only {
                    let top = snap.uid_next.saturating_sub(1).max(claimed);
                    self.recent_claimed.insert(ck, top);
                }
                (true, first.max(claimed.saturating_add(1)))
            }
            _ => (false, u32::MAX),
        };
        let Some(s) = self.session_mut(conn) else {
            return self.no(conn, tag, "No session");
        };
        let filter = if s.is_device() {
            s.profile.view_filter(&key).cloned()
        } else {
            None
        };
        let visible: Vec<&super::request::MessageSnapshot> = snap
            .messages
            .iter()
            .filter(|m| filter.as_ref().is_none_or(|f| f.matches(&m.props, &clock)))
            .collect();
        // RFC 3501 7.1: the sequence number of the first message without \Seen.
        let first_unseen = visible
            .iter()
            .position(|m| !m.flags.contains(&pimap_types::Flag::Seen))
            .and_then(|i| u32::try_from(i + 1).ok());
        let (uids, sizes): (Vec<u32>, Vec<u32>) =
            visible.iter().map(|m| (m.uid, m.props.size)).unzip();
        let recent: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| *u >= recent_floor)
            .collect();
        let view = SelectedView {
            mailbox: mailbox.clone(),
            key,
            read_only,
            uids,
            sizes,
            snapshot_uid_next: snap.uid_next,
            flags: snap.flags.clone(),
            tracks_recent,
            recent,
        };
        let recent_count = view.recent_count();
        let exists = view.exists();
        if !s.is_device() {
            // A plain IMAP session has no P-IMAP queue semantics: the snapshot is the state.
            if let Some(q) = s.queues.get_mut(&view.key) {
                q.events.clear();
                q.pushed_upto = 0;
            }
        }
        s.select(view);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Selected;
        }
        self.send_data(conn, Data::Flags(snap.flags.clone()));
        self.send_data(conn, Data::Exists(exists));
        self.send_data(conn, Data::Recent(recent_count));
        if let Some(n) = first_unseen {
            self.status(
                conn,
                None,
                Status::Ok,
                Some(Code::Unseen(n)),
                "First unseen.",
            );
        }
        self.status(
            conn,
            None,
            Status::Ok,
            Some(Code::UidValidity(snap.uid_validity)),
            "UIDs valid",
        );
        self.status(
            conn,
            None,
            Status::Ok,
            Some(Code::UidNext(snap.uid_next)),
            "Predicted next UID",
        );
        self.status(
            conn,
            None,
            Status::Ok,
            Some(Code::PermanentFlags(snap.permanent_flags.clone())),
            "Limited",
        );
        self.deliver(conn, false);
        let code = if read_only {
            Code::ReadOnly
        } else {
            Code::ReadWrite
        };
        self.ok(
            conn,
            tag,
            Some(code),
            if read_only {
                "EXAMINE completed"
            } else {
                "SELECT completed"
            },
        );
        if let Some(sk) = self.conns.get(&conn).and_then(|c| c.session) {
            let max = self.config.max_queued_events;
            self.record_delivery(conn, sk, super::ledger::Delivered::Selected, max);
        }
    }

    /// A login succeeded for `account` (the full identity: sessions, store requests and
    /// changes are keyed by it, never by the bare user name).
    fn login_ok(&mut self, conn: ConnId, tag: Tag, name: LoginName, account: Bytes, now: Instant) {
        let (connected, devices, oldest_detached) = self.user_load(&account);
        let resuming = name
            .device
            .as_ref()
            .and_then(|d| self.registry.get(&(account.clone(), d.clone())))
            .and_then(|k| self.sessions.get(k))
            .is_some_and(|s| s.conn.is_some());
        if connected >= self.config.max_connections_per_user && !resuming {
            return self.no_limit(conn, tag, "Too many connections for this account");
        }
        self.authenticated(conn);
        let Some(device) = name.device.clone() else {
            // Plain IMAP session: per connection, no filters, not resumable.
            let sk = self.next_session_key();
            let mut s = Session::new(
                account.clone(),
                None,
                None,
                String::new(),
                Default::default(),
                now,
            );
            s.conn = Some(conn);
            self.sessions.insert(sk, s);
            self.index_session(sk, account);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = Some(sk);
                c.state = ConnState::Authenticated;
            }
            return self.ok(conn, tag, None, "LOGIN completed");
        };
        let key = (account.clone(), device.clone());
        let draft08 = self.config.dialect != pimap_codec::Dialect::Draft01;
        if let Some(sk) = self.registry.get(&key).copied() {
            // Resume (spec §6.2).
            let other = self.sessions.get(&sk).and_then(|s| s.conn);
            if let Some(other) = other.filter(|o| *o != conn) {
                let written = self.conns.get(&other).map(|c| c.resume_offset());
                if let (Some(w), Some(s)) = (written, self.sessions.get_mut(&sk)) {
                    s.ledger.detached(w);
                }
                if let Some(oc) = self.conns.get_mut(&other) {
                    oc.session = None;
                }
                self.status(
                    other,
                    None,
                    Status::Bye,
                    None,
                    "Session resumed on another connection",
                );
                self.close_conn(other, now);
            }
            let (reported, exact) = self.resume_request(conn);
            let (state, folder, sid) = match self.sessions.get_mut(&sk) {
                Some(s) => {
                    s.conn = Some(conn);
                    s.last_active = now;
                    match s.ledger.attach(reported, exact) {
                        super::ledger::Resolution::Replay(v) => s.replay(v),
                        super::ledger::Resolution::Resync => s.owes_resync = true,
                    }
                    (
                        if s.selected.is_some() {
                            SessionState::Selected
                        } else {
                            SessionState::Authenticated
                        },
                        s.selected.as_ref().map(|v| v.mailbox.clone()),
                        s.sid.clone(),
                    )
                }
                None => return self.no(conn, tag, "Session lost"),
            };
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = Some(sk);
                c.state = if folder.is_some() {
                    ConnState::Selected
                } else {
                    ConnState::Authenticated
                };
            }
            if exact {
                self.announce_resume(conn, sk);
            }
            self.send_data(conn, Data::Session(state));
            if let Some(f) = folder {
                self.send_data(conn, Data::Folder(f));
            }
            self.report_kept_outcomes(conn, sk);
            self.deliver(conn, false);
            if draft08 {
                self.send_sid(conn, &sid);
            }
            return self.ok(conn, tag, None, "LOGIN completed");
        }
        if devices >= self.config.max_device_sessions_per_user {
            // One account cannot fill the session table: its longest-detached device
            // session makes room (that device starts over with a fresh session).
            match oldest_detached {
                Some(k) => self.end_session(k),
                None => {
                    return self.no_limit(conn, tag, "Too many device sessions for this account")
                }
            }
        }
        if self.sessions.len() >= self.config.max_sessions {
            return self.no(conn, tag, "Too many sessions");
        }
        let profile = self
            .persistence
            .load_shared(&account, &device)
            .unwrap_or_default();
        let sid = super::random::session_id(self.rng.as_mut(), self.config.session_id_len);
        let sk = self.next_session_key();
        let mut s = Session::new(
            account.clone(),
            Some(device),
            name.domain.clone(),
            sid.clone(),
            profile,
            now,
        );
        s.conn = Some(conn);
        let (_, exact) = self.resume_request(conn);
        let _ = s.ledger.attach(None, exact);
        self.sessions.insert(sk, s);
        self.registry.insert(key, sk);
        self.index_session(sk, account);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(sk);
            c.state = ConnState::Authenticated;
        }
        if exact {
            self.announce_resume(conn, sk);
        }
        if draft08 {
            self.send_sid(conn, &sid);
        }
        self.ok(conn, tag, None, "LOGIN completed");
    }

    /// An account's connected sessions, device sessions, and its longest-detached device
    /// session.
    fn user_load(&self, account: &Bytes) -> (usize, usize, Option<u64>) {
        let Some(keys) = self.by_user.get(account) else {
            return (0, 0, None);
        };
        let mut connected = 0;
        let mut devices = 0;
        let mut oldest: Option<(Instant, u64)> = None;
        for k in keys {
            let Some(s) = self.sessions.get(k) else {
                continue;
            };
            connected += usize::from(s.conn.is_some());
            if s.is_device() {
                devices += 1;
                if s.conn.is_none() && oldest.is_none_or(|(t, _)| s.last_active < t) {
                    oldest = Some((s.last_active, *k));
                }
            }
        }
        (connected, devices, oldest.map(|(_, k)| k))
    }

    /// The position a device login asked to resume from, and whether the attachment is
    /// exact (the client sent `XRESUME`, and the login is not inside an XZIP capture).
    fn resume_request(&self, conn: ConnId) -> (Option<pimap_types::ResumeCursor>, bool) {
        match self.conns.get(&conn) {
            Some(c) => (
                c.resume_from.flatten(),
                c.resume_from.is_some() && c.capturing == 0,
            ),
            None => (None, false),
        }
    }

    /// `* OK [XRESUME epoch]`: positions of this attachment count from the end of this line.
    fn announce_resume(&mut self, conn: ConnId, sk: u64) {
        let Some(epoch) = self.sessions.get(&sk).map(|s| s.ledger.epoch()) else {
            return;
        };
        self.status(
            conn,
            None,
            Status::Ok,
            Some(Code::XResume(epoch)),
            "Resume position",
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.resume_base = Some(c.position());
        }
    }

    fn send_sid(&mut self, conn: ConnId, sid: &str) {
        if let Ok(a) = pimap_types::Atom::new(Bytes::copy_from_slice(sid.as_bytes())) {
            self.send_data(conn, Data::SessionId(pimap_types::Secret::new(a)));
        }
    }

    pub(crate) fn push_front_work(&mut self, conn: ConnId, items: Vec<Work>) {
        if let Some(c) = self.conns.get_mut(&conn) {
            for w in items.into_iter().rev() {
                c.work.push_front(w);
            }
        }
    }
}
