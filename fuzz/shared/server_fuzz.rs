//! The body of the `server` fuzz target, shared with `tests/fuzz_corpus.rs` (which replays
//! the corpus on stable) so that both run the same code.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pimap::codec::{DecoderOptions, Dialect, ResponseDecoder};
use pimap::server::{
    ConnId, MailboxChange, MailboxSnapshot, MemoryPersistence, MessageProps, MessageSnapshot,
    Output, Reply, Request, RequestId, SeededRandom, Server, ServerConfig, StoreOp,
};
use pimap::types::{FetchAttr, FetchItem, Flag, ListEntry, Mailbox, StoreKind};

const SIZES: [usize; 16] = [
    usize::MAX,
    1,
    2,
    3,
    5,
    7,
    11,
    16,
    32,
    64,
    128,
    256,
    512,
    1024,
    4096,
    0, // per line
];
const MAX_CONNS: usize = 8;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone)]
struct Msg {
    uid: u32,
    flags: Vec<Flag>,
    props: Arc<MessageProps>,
}

struct Folder {
    name: Mailbox,
    uid_validity: u32,
    uid_next: u32,
    msgs: Vec<Msg>,
}

fn key(m: &Mailbox) -> Vec<u8> {
    if m.is_inbox() {
        b"INBOX".to_vec()
    } else {
        m.as_ref().to_vec()
    }
}

fn mbx(s: &str) -> Mailbox {
    Mailbox::try_from(s).expect("mailbox")
}

fn props(n: u64) -> Arc<MessageProps> {
    let subject = match n % 4 {
        0 => "urgent: call me",
        1 => "hello",
        2 => "Re: lunch",
        _ => "",
    };
    let from = if n.is_multiple_of(3) {
        "john@example.com"
    } else {
        "ann@example.org"
    };
    Arc::new(
        MessageProps::new(100 + (n % 1000) as u32, None)
            .with_header("Subject", subject)
            .with_header("From", from),
    )
}

fn flags(n: u64) -> Vec<Flag> {
    let all = [Flag::Seen, Flag::Flagged, Flag::Deleted, Flag::Answered];
    all.iter()
        .enumerate()
        .filter(|(i, _)| n & (1 << i) != 0)
        .map(|(_, f)| f.clone())
        .collect()
}

/// The scripted store: folders of one user.
struct Store {
    folders: BTreeMap<Vec<u8>, Folder>,
    rng: Rng,
}

type Changes = Vec<(Mailbox, MailboxChange)>;

impl Store {
    fn new(seed: u64) -> Self {
        let mut s = Store {
            folders: BTreeMap::new(),
            rng: Rng(seed),
        };
        for (name, n) in [("INBOX", 3), ("Sent", 1), ("Trash", 0)] {
            s.create(mbx(name));
            for _ in 0..n {
                s.add(&mbx(name), Vec::new());
            }
        }
        s
    }

    fn create(&mut self, name: Mailbox) {
        self.folders.insert(
            key(&name),
            Folder {
                name,
                uid_validity: 42,
                uid_next: 1,
                msgs: Vec::new(),
            },
        );
    }

    /// A new message (no change reported; the caller does).
    fn add(&mut self, m: &Mailbox, fl: Vec<Flag>) -> Option<Msg> {
        let n = self.rng.next();
        let f = self.folders.get_mut(&key(m))?;
        let msg = Msg {
            uid: f.uid_next,
            flags: fl,
            props: props(n),
        };
        f.uid_next += 1;
        f.msgs.push(msg.clone());
        Some(msg)
    }

    fn new_change(msg: Msg) -> MailboxChange {
        MailboxChange::New {
            uid: msg.uid,
            flags: msg.flags,
            props: msg.props,
        }
    }

    /// A change from outside (delivery, another client): `what` picks it.
    fn outside_change(&mut self, what: u64) -> Option<(Mailbox, MailboxChange)> {
        let inbox = Mailbox::inbox();
        let r = self.rng.next();
        match what {
            0..=3 => {
                let m = self.add(&inbox, flags(r >> 8 & 0x3))?;
                Some((inbox, Self::new_change(m)))
            }
            4 | 5 => {
                let f = self.folders.get_mut(b"INBOX".as_slice())?;
                let n = f.msgs.len() as u64;
                let m = f.msgs.get_mut(usize::try_from(r % n.max(1)).ok()?)?;
                m.flags = flags(r >> 8);
                let change = MailboxChange::Flags {
                    uid: m.uid,
                    flags: m.flags.clone(),
                    props: m.props.clone(),
                };
                Some((inbox, change))
            }
            6 => {
                let f = self.folders.get_mut(b"INBOX".as_slice())?;
                if f.msgs.is_empty() {
                    return None;
                }
                let i = usize::try_from(r % f.msgs.len() as u64).ok()?;
                let m = f.msgs.remove(i);
                let change = MailboxChange::Expunge {
                    uid: m.uid,
                    props: m.props,
                };
                Some((inbox, change))
            }
            _ => match r % 8 {
                0 => {
                    let f = self.folders.get_mut(b"INBOX".as_slice())?;
                    f.uid_validity += 1;
                    Some((inbox, MailboxChange::UidValidity(f.uid_validity)))
                }
                1..=3 => {
                    let name = mbx(if r & 8 == 0 { "Work" } else { "Trash" });
                    if self.folders.contains_key(&key(&name)) {
                        self.folders.remove(&key(&name));
                        Some((name, MailboxChange::Deleted))
                    } else {
                        self.create(name.clone());
                        Some((name, MailboxChange::Created))
                    }
                }
                _ => {
                    let (from, to) = if self.folders.contains_key(b"Work".as_slice()) {
                        (mbx("Work"), mbx("Play"))
                    } else {
                        (mbx("Play"), mbx("Work"))
                    };
                    let mut f = self.folders.remove(&key(&from))?;
                    f.name = to.clone();
                    self.folders.insert(key(&to), f);
                    Some((from, MailboxChange::Renamed { to }))
                }
            },
        }
    }

    fn snapshot(f: &Folder, read_only: bool) -> MailboxSnapshot {
        let fl = vec![Flag::Seen, Flag::Flagged, Flag::Deleted, Flag::Answered];
        MailboxSnapshot {
            uid_validity: f.uid_validity,
            uid_next: f.uid_next,
            flags: fl.clone(),
            permanent_flags: fl,
            read_only,
            messages: f
                .msgs
                .iter()
                .map(|m| MessageSnapshot {
                    uid: m.uid,
                    flags: m.flags.clone(),
                    props: m.props.clone(),
                })
                .collect(),
            // The last two messages are recent: \Recent tracking is fuzzed too.
            first_recent: Some(f.uid_next.saturating_sub(2).max(1)),
        }
    }

    /// The reply to a request, and the changes to report before completing it.
    fn answer(&mut self, request: &Request, logins: &mut usize) -> (Reply, Changes) {
        let refuse = self.rng.below(16) == 0;
        let no = |t: &str| (Reply::no(t), Vec::new());
        let op = match request {
            Request::Authenticate { password, .. } => {
                if password.expose().as_ref() == b"bad" {
                    return no("bad password");
                }
                *logins += 1;
                return (Reply::Ok, Vec::new());
            }
            Request::Submit(_) if refuse => return no("relay refused"),
            Request::Submit(_) => return (Reply::Submitted, Vec::new()),
            Request::Store { op, .. } => op,
            _ => return no("unsupported"),
        };
        if refuse {
            return no("scripted failure");
        }
        let mut changes = Vec::new();
        let reply = match op {
            StoreOp::Select { mailbox, read_only } => match self.folders.get(&key(mailbox)) {
                Some(f) => Reply::Selected(Self::snapshot(f, *read_only)),
                None => return no("no such mailbox"),
            },
            StoreOp::Create { mailbox } => {
                if self.folders.contains_key(&key(mailbox)) {
                    return no("exists");
                }
                self.create(mailbox.clone());
                changes.push((mailbox.clone(), MailboxChange::Created));
                Reply::Ok
            }
            StoreOp::Delete { mailbox } => {
                if self.folders.remove(&key(mailbox)).is_none() {
                    return no("no such mailbox");
                }
                changes.push((mailbox.clone(), MailboxChange::Deleted));
                Reply::Ok
            }
            StoreOp::Rename { from, to } => {
                if self.folders.contains_key(&key(to)) {
                    return no("exists");
                }
                let Some(mut f) = self.folders.remove(&key(from)) else {
                    return no("no such mailbox");
                };
                f.name = to.clone();
                self.folders.insert(key(to), f);
                changes.push((from.clone(), MailboxChange::Renamed { to: to.clone() }));
                Reply::Ok
            }
            StoreOp::List { .. } => Reply::List(
                self.folders
                    .values()
                    .map(|f| ListEntry {
                        attributes: Vec::new(),
                        delimiter: Some(b'/'),
                        mailbox: f.name.clone(),
                        extended: None,
                    })
                    .collect(),
            ),
            StoreOp::Status { mailbox, items } => match self.folders.get(&key(mailbox)) {
                Some(f) => Reply::Status(
                    items
                        .iter()
                        .map(|a| (a.clone(), f.msgs.len() as u64))
                        .collect(),
                ),
                None => return no("no such mailbox"),
            },
            StoreOp::Append { mailbox, flags, .. } => {
                let Some(m) = self.add(mailbox, flags.clone()) else {
                    return no("[TRYCREATE] no such mailbox");
                };
                let uid = m.uid;
                let uid_validity = self
                    .folders
                    .get(&key(mailbox))
                    .map_or(0, |f| f.uid_validity);
                changes.push((mailbox.clone(), Self::new_change(m)));
                Reply::Appended { uid_validity, uid }
            }
            StoreOp::Fetch {
                mailbox,
                uids,
                items,
            } => {
                let Some(f) = self.folders.get(&key(mailbox)) else {
                    return no("no such mailbox");
                };
                Reply::Fetched(
                    f.msgs
                        .iter()
                        .filter(|m| uids.contains(&m.uid))
                        .map(|m| {
                            let mut v = vec![FetchItem::Flags(m.flags.clone())];
                            if items.contains(&FetchAttr::Uid) {
                                v.push(FetchItem::Uid(m.uid));
                            }
                            if items.contains(&FetchAttr::Rfc822Size) {
                                v.push(FetchItem::Rfc822Size(m.props.size));
                            }
                            (m.uid, v)
                        })
                        .collect(),
                )
            }
            StoreOp::Search { mailbox, .. } => match self.folders.get(&key(mailbox)) {
                Some(f) => Reply::Searched(
                    f.msgs
                        .iter()
                        .map(|m| m.uid)
                        .filter(|u| u % 2 == 1)
                        .collect(),
                ),
                None => return no("no such mailbox"),
            },
            StoreOp::StoreFlags {
                mailbox,
                uids,
                kind,
                flags,
            } => {
                let Some(f) = self.folders.get_mut(&key(mailbox)) else {
                    return no("no such mailbox");
                };
                for m in f.msgs.iter_mut().filter(|m| uids.contains(&m.uid)) {
                    match kind {
                        StoreKind::Replace => m.flags = flags.clone(),
                        StoreKind::Add => {
                            for x in flags {
                                if !m.flags.contains(x) {
                                    m.flags.push(x.clone());
                                }
                            }
                        }
                        StoreKind::Remove => m.flags.retain(|x| !flags.contains(x)),
                    }
                    let change = MailboxChange::Flags {
                        uid: m.uid,
                        flags: m.flags.clone(),
                        props: m.props.clone(),
                    };
                    changes.push((mailbox.clone(), change));
                }
                Reply::Ok
            }
            StoreOp::Copy {
                mailbox,
                uids,
                to,
                remove,
            } => {
                if !self.folders.contains_key(&key(to)) {
                    return no("[TRYCREATE] no such mailbox");
                }
                let Some(f) = self.folders.get_mut(&key(mailbox)) else {
                    return no("no such mailbox");
                };
                let moved: Vec<Msg> = f
                    .msgs
                    .iter()
                    .filter(|m| uids.contains(&m.uid))
                    .cloned()
                    .collect();
                if *remove {
                    f.msgs.retain(|m| !uids.contains(&m.uid));
                    for m in &moved {
                        let change = MailboxChange::Expunge {
                            uid: m.uid,
                            props: m.props.clone(),
                        };
                        changes.push((mailbox.clone(), change));
                    }
                }
                let mut source = Vec::new();
                let mut destination = Vec::new();
                for m in moved {
                    source.push(m.uid);
                    if let Some(n) = self.add(to, m.flags.clone()) {
                        destination.push(n.uid);
                        changes.push((to.clone(), Self::new_change(n)));
                    }
                }
                let uid_validity = self.folders.get(&key(to)).map_or(0, |f| f.uid_validity);
                Reply::Copied {
                    uid_validity,
                    source,
                    destination,
                }
            }
            StoreOp::Expunge { mailbox, uids } => {
                let Some(f) = self.folders.get_mut(&key(mailbox)) else {
                    return no("no such mailbox");
                };
                let doomed = |m: &Msg| {
                    m.flags.contains(&Flag::Deleted)
                        && uids.as_ref().is_none_or(|u| u.contains(&m.uid))
                };
                for m in f.msgs.iter().filter(|m| doomed(m)) {
                    let change = MailboxChange::Expunge {
                        uid: m.uid,
                        props: m.props.clone(),
                    };
                    changes.push((mailbox.clone(), change));
                }
                f.msgs.retain(|m| !doomed(m));
                Reply::Ok
            }
            _ => Reply::Ok,
        };
        (reply, changes)
    }
}

/// The server, its one live connection (reconnected after a close) and what was seen.
struct Harness {
    server: Server,
    store: Store,
    now: Instant,
    conn: Option<ConnId>,
    conns: usize,
    closed: HashSet<ConnId>,
    decoders: HashMap<ConnId, ResponseDecoder>,
    outstanding: Vec<(RequestId, Request)>,
    user: Vec<u8>,
    logins: usize,
}

impl Harness {
    fn connect(&mut self) {
        if self.conns >= MAX_CONNS {
            self.conn = None;
            return;
        }
        let c = self.server.accept(self.now).expect("accept");
        self.conns += 1;
        self.conn = Some(c);
        self.decoders
            .insert(c, ResponseDecoder::new(DecoderOptions::default()));
        self.drain();
    }

    /// Take every output; check it; remember requests.
    fn drain(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Transmit { conn, data } => {
                    assert!(!self.closed.contains(&conn), "Transmit after Close");
                    assert!(!data.is_empty(), "empty Transmit");
                    let d = self
                        .decoders
                        .get_mut(&conn)
                        .expect("Transmit on unknown conn");
                    d.feed(&data);
                    loop {
                        match d.next() {
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(e) => panic!(
                                "server sent an undecodable response: {e}: {:?}",
                                String::from_utf8_lossy(&data)
                            ),
                        }
                    }
                }
                Output::Request { id, conn, request } => {
                    assert!(!self.closed.contains(&conn), "Request after Close");
                    assert!(
                        self.outstanding.iter().all(|(i, _)| *i != id),
                        "request id reused"
                    );
                    if let Request::Authenticate { user, .. } = &request {
                        self.user = user.to_vec();
                    }
                    self.outstanding.push((id, request));
                }
                Output::Notify(_) => {}
                Output::Close { conn } => {
                    assert!(self.closed.insert(conn), "Close twice");
                    if self.conn == Some(conn) {
                        self.conn = None;
                    }
                }
                _ => {}
            }
        }
        assert!(
            self.outstanding.len() <= 2 * self.conns,
            "{} requests outstanding for {} connections",
            self.outstanding.len(),
            self.conns
        );
        assert!(
            self.server.session_count() <= self.logins,
            "{} sessions after {} logins",
            self.server.session_count(),
            self.logins
        );
    }

    fn report(&mut self, changes: Changes) {
        for (m, ch) in changes {
            let user = self.user.clone();
            self.server.mailbox_changed(&user, &m, ch, self.now);
            self.drain();
        }
    }

    /// Answer every outstanding request (and those its completion causes).
    fn complete_all(&mut self) {
        let mut rounds = 0;
        while !self.outstanding.is_empty() {
            rounds += 1;
            assert!(rounds < 100_000, "requests never end");
            let (id, request) = self.outstanding.remove(0);
            let (reply, changes) = self.store.answer(&request, &mut self.logins);
            self.report(changes);
            self.server
                .complete(id, reply, self.now)
                .expect("complete an emitted request");
            self.drain();
        }
    }

    fn disconnect(&mut self) {
        if let Some(c) = self.conn.take() {
            self.server.handle_close(c, self.now);
            self.closed.insert(c);
            self.drain();
        }
    }
}

pub fn run(data: &[u8]) {
    let [mode, events, seed, rest @ ..] = data else {
        return;
    };
    let (mode, events) = (*mode, *events);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (u64::from(events >> 3) << 8 | u64::from(*seed)));
    let mut config = ServerConfig::new(if mode & 0x40 != 0 {
        Dialect::Draft01
    } else {
        Dialect::Draft08
    });
    if mode & 0x20 != 0 {
        config.max_queued_events = 4;
        config.max_folder_events = 2;
        config.max_pipelined = 8;
        config.max_macros = 2;
    }
    let server = Server::with_parts(
        config,
        Box::new(SeededRandom::new(u64::from(*seed))),
        Box::new(MemoryPersistence::new()),
    );
    let mut h = Harness {
        server,
        store: Store::new(rng.next()),
        now: Instant::now(),
        conn: None,
        conns: 0,
        closed: HashSet::new(),
        decoders: HashMap::new(),
        outstanding: Vec::new(),
        user: b"joe".to_vec(),
        logins: 0,
    };
    h.server.set_unix_time(1_700_000_000);
    h.connect();

    let size = SIZES[usize::from(mode & 0x0f)];
    let vary = mode & 0x10 != 0;
    let delay = mode & 0x80 != 0;
    let rate = u64::from(events & 7);
    let mut pos = 0;
    while pos < rest.len() {
        let Some(conn) = h.conn else { break };
        let len = if size == 0 {
            rest[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len() - pos, |i| i + 1)
        } else if vary {
            1 + rng.below(size.min(1 << 16) as u64) as usize
        } else {
            size
        };
        let end = pos.saturating_add(len).min(rest.len());
        let chunk = &rest[pos..end];
        pos = end;
        h.server
            .handle_input(conn, chunk, h.now)
            .expect("input on a live connection");
        h.drain();
        if !delay || rng.below(4) != 0 {
            h.complete_all();
        }
        // Something happens between chunks.
        if rng.below(8) < rate {
            match rng.below(10) {
                what @ 0..=7 => {
                    if let Some(c) = h.store.outside_change(what) {
                        h.report(vec![c]);
                    }
                }
                8 => {
                    h.now += Duration::from_secs(rng.below(2 * 3600));
                    h.server
                        .set_unix_time(1_700_000_000 + rng.below(1 << 20) as i64);
                    if h.server.poll_timeout().is_some_and(|t| t <= h.now) {
                        h.server.handle_timeout(h.now);
                        h.drain();
                    }
                }
                _ => {
                    h.complete_all();
                    h.disconnect();
                }
            }
        }
        if h.conn.is_none() {
            h.complete_all();
            h.connect();
        }
    }
    // The end: everything answered, one more delivery, then a long silence.
    h.complete_all();
    if let Some(c) = h.store.outside_change(0) {
        h.report(vec![c]);
    }
    h.complete_all();
    h.now += Duration::from_secs(2 * 3600);
    h.server.handle_timeout(h.now);
    h.drain();
    h.complete_all();
    assert_eq!(
        h.server.connection_count(),
        0,
        "autologout left a connection"
    );
    h.now += Duration::from_secs(2 * 3600);
    h.server.handle_timeout(h.now);
    h.drain();
    assert_eq!(
        h.server.session_count(),
        0,
        "a detached session never expired"
    );
}
