//! Test harness for the server: a small scripted store (one user's mailboxes with
//! synthetic messages), a recording submitter, and a driver with per-connection output.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pimap::server::blocking::{Action, CollectingNotifier, Driver, Store, Submitter};
use pimap::server::SubmitError;
use pimap::server::{
    ConnId, MailboxChange, MailboxSnapshot, MemoryPersistence, MessageProps, MessageSnapshot,
    Reply, Request, SeededRandom, Server, ServerConfig, StoreOp, Submission,
};
use pimap::types::{FetchAttr, FetchItem, Flag, ListEntry, Mailbox, StoreKind};

#[derive(Debug, Clone)]
pub struct Msg {
    pub uid: u32,
    pub flags: Vec<Flag>,
    pub props: Arc<MessageProps>,
}

#[derive(Debug, Default)]
pub struct Folder {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub msgs: Vec<Msg>,
    /// Canned FETCH data per UID: a requested attribute answered by one of these items
    /// wins over the synthetic answer (see [`ScriptStore::set_canned`]).
    pub canned: BTreeMap<u32, Vec<FetchItem>>,
}

/// A scripted store: users with password "pw", mailboxes of synthetic messages.
#[derive(Debug, Default)]
pub struct ScriptStore {
    pub folders: BTreeMap<(Bytes, Bytes), Folder>,
    pub changes: Vec<(Bytes, Mailbox, MailboxChange)>,
    /// Passwords accepted besides "pw" (see [`ScriptStore::accept_password`]).
    pub extra_passwords: Vec<Bytes>,
    /// Accounts are named without the login's domain (a single-domain store: the domain of
    /// `user#device@domain` names the server). Otherwise the server's default applies:
    /// `user@domain`.
    pub single_domain: bool,
    /// APPEND fails (to test what happens after a submission when the SAVETO copy fails).
    pub fail_append: bool,
}

pub fn mbx(s: &str) -> Mailbox {
    Mailbox::try_from(s).expect("mailbox")
}

fn key(m: &Mailbox) -> Bytes {
    if m.is_inbox() {
        Bytes::from_static(b"INBOX")
    } else {
        m.to_bytes()
    }
}

pub fn props(subject: &str) -> Arc<MessageProps> {
    Arc::new(
        MessageProps::new(100 + subject.len() as u32, None)
            .with_header("Subject", subject.to_string())
            .with_header("From", "john@example.com"),
    )
}

impl ScriptStore {
    pub fn add_folder(&mut self, user: &str, name: &str, n: u32) {
        let mut f = Folder {
            uid_validity: 42,
            uid_next: 1,
            msgs: Vec::new(),
            canned: BTreeMap::new(),
        };
        for i in 0..n {
            f.msgs.push(Msg {
                uid: f.uid_next,
                flags: Vec::new(),
                props: props(&format!("message {}", i + 1)),
            });
            f.uid_next += 1;
        }
        self.folders
            .insert((Bytes::from(user.to_string()), key(&mbx(name))), f);
    }

    /// Deliver a new message (recorded as a change).
    pub fn deliver(&mut self, user: &str, name: &str, subject: &str) -> u32 {
        let m = mbx(name);
        let f = self
            .folders
            .get_mut(&(Bytes::from(user.to_string()), key(&m)))
            .expect("folder");
        let uid = f.uid_next;
        f.uid_next += 1;
        let p = props(subject);
        f.msgs.push(Msg {
            uid,
            flags: Vec::new(),
            props: p.clone(),
        });
        self.changes.push((
            Bytes::from(user.to_string()),
            m,
            MailboxChange::New {
                uid,
                flags: Vec::new(),
                props: p,
            },
        ));
        uid
    }

    pub fn set_flags(&mut self, user: &str, name: &str, uid: u32, flags: Vec<Flag>) {
        let m = mbx(name);
        let f = self
            .folders
            .get_mut(&(Bytes::from(user.to_string()), key(&m)))
            .expect("folder");
        if let Some(msg) = f.msgs.iter_mut().find(|x| x.uid == uid) {
            msg.flags = flags.clone();
            let p = msg.props.clone();
            self.changes.push((
                Bytes::from(user.to_string()),
                m,
                MailboxChange::Flags {
                    uid,
                    flags,
                    props: p,
                },
            ));
        }
    }

    pub fn expunge_uid(&mut self, user: &str, name: &str, uid: u32) {
        let m = mbx(name);
        let f = self
            .folders
            .get_mut(&(Bytes::from(user.to_string()), key(&m)))
            .expect("folder");
        if let Some(i) = f.msgs.iter().position(|x| x.uid == uid) {
            let msg = f.msgs.remove(i);
            self.changes.push((
                Bytes::from(user.to_string()),
                m,
                MailboxChange::Expunge {
                    uid,
                    props: msg.props,
                },
            ));
        }
    }

    /// Current messages of a folder.
    pub fn messages(&self, user: &str, name: &str) -> Vec<Msg> {
        self.folders
            .get(&(Bytes::from(user.to_string()), key(&mbx(name))))
            .map(|f| f.msgs.clone())
            .unwrap_or_default()
    }

    /// Drop recorded changes (setup before any session exists).
    pub fn take_changes_for_test(&mut self) -> Vec<(Bytes, Mailbox, MailboxChange)> {
        std::mem::take(&mut self.changes)
    }

    /// Accept this password too (for replaying transcripts that log in with another one).
    pub fn accept_password(&mut self, password: &str) {
        self.extra_passwords.push(Bytes::from(password.to_string()));
    }

    /// Canned FETCH data for one message: each requested attribute that one of `items`
    /// answers (same kind; same section and origin for `BODY[...]`) is answered with it,
    /// the others as usual.
    pub fn set_canned(&mut self, user: &str, name: &str, uid: u32, items: Vec<FetchItem>) {
        let m = mbx(name);
        let f = self
            .folders
            .get_mut(&(Bytes::from(user.to_string()), key(&m)))
            .expect("folder");
        f.canned.insert(uid, items);
    }

    fn folder(&mut self, user: &Bytes, m: &Mailbox) -> Option<&mut Folder> {
        self.folders.get_mut(&(user.clone(), key(m)))
    }
}

impl Store for ScriptStore {
    fn handle(&mut self, request: &Request) -> Reply {
        let (user, op) = match request {
            Request::Authenticate { user, password, .. } => {
                let pw = password.expose().as_ref();
                return if pw == b"pw" || self.extra_passwords.iter().any(|p| p.as_ref() == pw) {
                    if self.single_domain {
                        Reply::Authenticated {
                            account: user.clone(),
                        }
                    } else {
                        Reply::Ok
                    }
                } else {
                    Reply::no("bad password")
                };
            }
            Request::Store { user, op } => (user.clone(), op.clone()),
            _ => return Reply::no("unsupported"),
        };
        match op {
            StoreOp::Select { mailbox, .. } => match self.folder(&user, &mailbox) {
                Some(f) => Reply::Selected(MailboxSnapshot {
                    uid_validity: f.uid_validity,
                    uid_next: f.uid_next,
                    flags: vec![Flag::Seen, Flag::Deleted, Flag::Flagged],
                    permanent_flags: vec![Flag::Seen, Flag::Deleted, Flag::Flagged],
                    read_only: false,
                    messages: f
                        .msgs
                        .iter()
                        .map(|m| MessageSnapshot {
                            uid: m.uid,
                            flags: m.flags.clone(),
                            props: m.props.clone(),
                        })
                        .collect(),
                    first_recent: None,
                }),
                None => Reply::no("no such mailbox"),
            },
            StoreOp::List { .. } => Reply::List(
                self.folders
                    .keys()
                    .filter(|(u, _)| *u == user)
                    .map(|(_, name)| ListEntry {
                        attributes: Vec::new(),
                        delimiter: Some(b'/'),
                        mailbox: Mailbox::new(name.clone()).expect("mailbox"),
                        extended: None,
                    })
                    .collect(),
            ),
            StoreOp::Fetch {
                mailbox,
                uids,
                items,
            } => {
                let Some(f) = self.folder(&user, &mailbox) else {
                    return Reply::no("no such mailbox");
                };
                let rows = f
                    .msgs
                    .iter()
                    .filter(|m| uids.contains(&m.uid))
                    .map(|m| {
                        let mut v = Vec::new();
                        let canned = f.canned.get(&m.uid);
                        for a in &items {
                            if let Some(c) =
                                canned.and_then(|c| c.iter().find(|i| canned_answers(a, i)))
                            {
                                v.push(c.clone());
                                continue;
                            }
                            match a {
                                FetchAttr::Uid => v.push(FetchItem::Uid(m.uid)),
                                FetchAttr::Flags => v.push(FetchItem::Flags(m.flags.clone())),
                                FetchAttr::Rfc822Size => {
                                    v.push(FetchItem::Rfc822Size(m.props.size))
                                }
                                _ => {}
                            }
                        }
                        (m.uid, v)
                    })
                    .collect();
                Reply::Fetched(rows)
            }
            StoreOp::StoreFlags {
                mailbox,
                uids,
                kind,
                flags,
            } => {
                let name = String::from_utf8_lossy(&key(&mailbox)).into_owned();
                let u = String::from_utf8_lossy(&user).into_owned();
                let current: Vec<(u32, Vec<Flag>)> = match self.folder(&user, &mailbox) {
                    Some(f) => f
                        .msgs
                        .iter()
                        .filter(|m| uids.contains(&m.uid))
                        .map(|m| (m.uid, m.flags.clone()))
                        .collect(),
                    None => return Reply::no("no such mailbox"),
                };
                for (uid, mut fl) in current {
                    match kind {
                        StoreKind::Replace => fl = flags.clone(),
                        StoreKind::Add => {
                            for x in &flags {
                                if !fl.contains(x) {
                                    fl.push(x.clone());
                                }
                            }
                        }
                        StoreKind::Remove => fl.retain(|x| !flags.contains(x)),
                    }
                    self.set_flags(&u, &name, uid, fl);
                }
                Reply::Ok
            }
            StoreOp::Expunge { mailbox, uids } => {
                let name = String::from_utf8_lossy(&key(&mailbox)).into_owned();
                let u = String::from_utf8_lossy(&user).into_owned();
                let doomed: Vec<u32> = match self.folder(&user, &mailbox) {
                    Some(f) => f
                        .msgs
                        .iter()
                        .filter(|m| m.flags.contains(&Flag::Deleted))
                        .filter(|m| uids.as_ref().is_none_or(|u| u.contains(&m.uid)))
                        .map(|m| m.uid)
                        .collect(),
                    None => return Reply::no("no such mailbox"),
                };
                for uid in doomed {
                    self.expunge_uid(&u, &name, uid);
                }
                Reply::Ok
            }
            StoreOp::Append { mailbox, .. } => {
                let name = String::from_utf8_lossy(&key(&mailbox)).into_owned();
                let u = String::from_utf8_lossy(&user).into_owned();
                if self.folder(&user, &mailbox).is_none() || self.fail_append {
                    return Reply::no("no such mailbox");
                }
                let uid = self.deliver(&u, &name, "appended");
                Reply::Appended {
                    uid_validity: 42,
                    uid,
                }
            }
            StoreOp::Status { mailbox, .. } => match self.folder(&user, &mailbox) {
                Some(f) => Reply::Status(vec![
                    (pimap::types::StatusAttr::Messages, f.msgs.len() as u64),
                    (
                        pimap::types::StatusAttr::UidValidity,
                        u64::from(f.uid_validity),
                    ),
                ]),
                None => Reply::no("no such mailbox"),
            },
            StoreOp::Search { mailbox, .. } => match self.folder(&user, &mailbox) {
                Some(f) => Reply::Searched(f.msgs.iter().map(|m| m.uid).collect()),
                None => Reply::no("no such mailbox"),
            },
            _ => Reply::Ok,
        }
    }

    fn take_changes(&mut self) -> Vec<(Bytes, Mailbox, MailboxChange)> {
        std::mem::take(&mut self.changes)
    }
}

/// Does a canned item answer this FETCH attribute?
fn canned_answers(a: &FetchAttr, i: &FetchItem) -> bool {
    match (a, i) {
        (FetchAttr::Flags, FetchItem::Flags(_))
        | (FetchAttr::Envelope, FetchItem::Envelope(_))
        | (FetchAttr::InternalDate, FetchItem::InternalDate(_))
        | (FetchAttr::Rfc822, FetchItem::Rfc822(_))
        | (FetchAttr::Rfc822Header, FetchItem::Rfc822Header(_))
        | (FetchAttr::Rfc822Text, FetchItem::Rfc822Text(_))
        | (FetchAttr::Rfc822Size, FetchItem::Rfc822Size(_))
        | (FetchAttr::Body, FetchItem::Body(_))
        | (FetchAttr::BodyStructure, FetchItem::BodyStructure(_))
        | (FetchAttr::Uid, FetchItem::Uid(_))
        | (FetchAttr::ModSeq, FetchItem::ModSeq(_)) => true,
        (
            FetchAttr::BodySection {
                section, partial, ..
            },
            FetchItem::BodySection {
                section: s, origin, ..
            },
        ) => s == section && *origin == partial.map(|p| p.origin),
        _ => false,
    }
}

/// Accepts every submission and records it.
#[derive(Debug, Default)]
pub struct RecordingSubmitter {
    pub sent: Vec<Submission>,
}

impl Submitter for RecordingSubmitter {
    fn submit(&mut self, s: &Submission) -> Result<(), SubmitError> {
        self.sent.push(s.clone());
        Ok(())
    }
}

pub struct Harness<S: Store> {
    pub d: Driver<S, RecordingSubmitter, CollectingNotifier>,
    pub now: Instant,
    pub out: HashMap<ConnId, Vec<u8>>,
    pub closed: Vec<ConnId>,
    pub starttls: Vec<ConnId>,
}

impl<S: Store> Harness<S> {
    pub fn new(config: ServerConfig, store: S) -> Self {
        let server = Server::with_parts(
            config,
            Box::new(SeededRandom::new(7)),
            Box::new(MemoryPersistence::new()),
        );
        Self {
            d: Driver::new(
                server,
                store,
                RecordingSubmitter::default(),
                CollectingNotifier::default(),
            ),
            now: Instant::now(),
            out: HashMap::new(),
            closed: Vec::new(),
            starttls: Vec::new(),
        }
    }

    fn absorb(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Transmit(c, b) => self.out.entry(c).or_default().extend_from_slice(&b),
                Action::Close(c) => self.closed.push(c),
                Action::StartTls(c) => self.starttls.push(c),
                other => panic!("unexpected action {other:?}"),
            }
        }
    }

    /// Take actions from a direct driver call (timeouts, transmissions) into the outputs.
    pub fn absorb_for_test(&mut self, actions: Vec<Action>) {
        self.absorb(actions);
    }

    /// Open a connection; returns it with the greeting consumed.
    pub fn connect(&mut self) -> ConnId {
        let (c, a) = self.d.accept(self.now).expect("accept");
        self.absorb(a);
        self.take(c);
        c
    }

    /// Send bytes and return everything the server wrote to this connection since.
    pub fn send(&mut self, c: ConnId, bytes: &str) -> String {
        let a = self.d.input(c, bytes.as_bytes(), self.now).expect("input");
        self.absorb(a);
        self.take(c)
    }

    /// Send raw bytes (binary allowed) and return everything written to this connection since.
    pub fn send_raw(&mut self, c: ConnId, bytes: &[u8]) -> Vec<u8> {
        let a = self.d.input(c, bytes, self.now).expect("input");
        self.absorb(a);
        self.take_raw(c)
    }

    /// Everything written to this connection since the last take, as raw bytes.
    pub fn take_raw(&mut self, c: ConnId) -> Vec<u8> {
        self.out.remove(&c).unwrap_or_default()
    }

    pub fn take(&mut self, c: ConnId) -> String {
        String::from_utf8_lossy(&self.out.remove(&c).unwrap_or_default()).into_owned()
    }

    /// Feed store changes made outside commands to the server.
    pub fn sync(&mut self) {
        let a = self.d.sync_store(self.now);
        self.absorb(a);
    }

    pub fn close(&mut self, c: ConnId) {
        let a = self.d.closed(c, self.now);
        self.absorb(a);
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        let a = self.d.timeout(self.now);
        self.absorb(a);
    }
}
