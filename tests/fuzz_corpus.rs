//! Replays the fuzz corpora (`fuzz/corpus/<target>/*`) and the saved crash inputs
//! (`fuzz/regressions/<target>/*`) on stable Rust, through copies of the fuzz target bodies
//! (`fuzz/fuzz_targets/<target>.rs`; keep the two in sync). No input may panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use pimap::codec::{
    CommandDecoder, DecoderOptions, Dialect, Encode, Framer, FramerLimits, ResponseDecoder, Role,
    Tolerance,
};
use pimap::types::{ClientMessage, CommandBody, Response};

// ---- fuzz_targets/command_decoder.rs -------------------------------------------------------

fn command_decoder(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let opts = DecoderOptions {
        tolerance: if first & 0x80 != 0 {
            Tolerance::Strict
        } else {
            Tolerance::Drafts
        },
        limits: if first & 0x40 != 0 {
            FramerLimits {
                max_line: 256,
                max_literal: 512,
                max_message: 1024,
            }
        } else {
            FramerLimits::default()
        },
        max_depth: if first & 0x40 != 0 { Some(8) } else { None },
    };
    let at = rest.len() * usize::from(first & 0x3f) / 63;
    let mut d = CommandDecoder::new(opts);
    let mut budget = 2 * rest.len() + 64;
    for piece in [&rest[..at], &rest[at..]] {
        d.feed(piece);
        let _ = d.take_continuation_request();
        loop {
            budget = budget
                .checked_sub(1)
                .expect("CommandDecoder makes no progress");
            match d.next() {
                Ok(None) => break,
                Ok(Some(ClientMessage::Command(c))) => {
                    if matches!(
                        c.body,
                        CommandBody::Authenticate {
                            initial_response: None,
                            ..
                        }
                    ) {
                        d.set_authenticate_data(true);
                    }
                }
                Ok(Some(ClientMessage::AuthData(_))) => d.set_authenticate_data(false),
                Ok(Some(_)) => {}
                Err(e) => {
                    let _ = e.tag();
                    let _ = e.to_string();
                }
            }
            let _ = d.take_continuation_request();
            let _ = d.awaiting_continuation();
        }
    }
    assert!(d.buffered_len() <= rest.len());
}

// ---- fuzz_targets/response_decoder.rs ------------------------------------------------------

fn response_decoder(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let opts = DecoderOptions {
        tolerance: if first & 0x80 != 0 {
            Tolerance::Strict
        } else {
            Tolerance::Drafts
        },
        limits: if first & 0x40 != 0 {
            FramerLimits {
                max_line: 256,
                max_literal: 512,
                max_message: 1024,
            }
        } else {
            FramerLimits::default()
        },
        max_depth: if first & 0x40 != 0 { Some(8) } else { None },
    };
    let at = rest.len() * usize::from(first & 0x3f) / 63;
    let mut d = ResponseDecoder::new(opts);
    let mut budget = 2 * rest.len() + 64;
    for piece in [&rest[..at], &rest[at..]] {
        d.feed(piece);
        loop {
            budget = budget
                .checked_sub(1)
                .expect("ResponseDecoder makes no progress");
            match d.next() {
                Ok(None) => break,
                Ok(Some(_)) => {}
                Err(e) => {
                    let _ = e.tag();
                    let _ = e.to_string();
                }
            }
        }
    }
    assert!(d.buffered_len() <= rest.len());
}

// ---- fuzz_targets/framer.rs ----------------------------------------------------------------

const LIMITS: FramerLimits = FramerLimits {
    max_line: 4096,
    max_literal: 1 << 16,
    max_message: 1 << 17,
};

fn frames(role: Role, input: &[u8], piece: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut f = Framer::new(role, LIMITS);
    let mut out = Vec::new();
    let mut budget = 2 * input.len() + 64;
    for chunk in input.chunks(piece.max(1)) {
        f.feed(chunk);
        let _ = f.take_continuation_request();
        loop {
            budget = budget.checked_sub(1).expect("Framer makes no progress");
            match f.next_frame() {
                Ok(None) => break,
                Ok(Some(frame)) => {
                    assert!(
                        frame.ends_with(b"\n"),
                        "frame does not end with LF: {frame:?}"
                    );
                    out.push(Ok(frame.to_vec()));
                }
                Err(e) => out.push(Err(e.to_string())),
            }
            let _ = f.take_continuation_request();
            let _ = f.awaiting_continuation();
        }
    }
    assert!(f.buffered_len() <= input.len());
    out
}

fn framer(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let role = if first & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let piece = usize::from(first >> 1) + 1;
    let pieces = frames(role, rest, piece);
    let whole = frames(role, rest, rest.len());
    let ok =
        |v: &[Result<Vec<u8>, String>]| v.iter().filter_map(|r| r.clone().ok()).collect::<Vec<_>>();
    assert_eq!(
        ok(&pieces),
        ok(&whole),
        "frames depend on how the input was split"
    );
}

// ---- fuzz_targets/roundtrip.rs -------------------------------------------------------------

fn check_response(v: &Response, opts: DecoderOptions) {
    let enc = v.to_bytes(Dialect::Draft08);
    let mut d = ResponseDecoder::new(opts);
    d.feed(&enc);
    match d.next() {
        Ok(Some(again)) => assert_eq!(
            &again,
            v,
            "re-decoded response differs; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
        other => panic!(
            "encoding of {v:?} does not decode: {other:?}; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
    }
    assert_eq!(
        d.buffered_len(),
        0,
        "encoding of {v:?} left bytes over: {:?}",
        String::from_utf8_lossy(&enc)
    );
}

fn check_command(v: &ClientMessage, opts: DecoderOptions) {
    let enc = v.to_bytes(Dialect::Draft08);
    let mut d = CommandDecoder::new(opts);
    d.set_authenticate_data(matches!(v, ClientMessage::AuthData(_)));
    d.feed(&enc);
    match d.next() {
        Ok(Some(again)) => assert_eq!(
            &again,
            v,
            "re-decoded command differs; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
        other => panic!(
            "encoding of {v:?} does not decode: {other:?}; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
    }
    assert_eq!(
        d.buffered_len(),
        0,
        "encoding of {v:?} left bytes over: {:?}",
        String::from_utf8_lossy(&enc)
    );
}

fn roundtrip(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let opts = DecoderOptions {
        tolerance: if first & 1 != 0 {
            Tolerance::Strict
        } else {
            Tolerance::Drafts
        },
        ..DecoderOptions::default()
    };
    let mut budget = 2 * rest.len() + 64;
    let mut d = ResponseDecoder::new(opts);
    d.feed(rest);
    loop {
        budget = budget
            .checked_sub(1)
            .expect("ResponseDecoder makes no progress");
        match d.next() {
            Ok(None) => break,
            Ok(Some(v)) => check_response(&v, opts),
            Err(_) => {}
        }
    }
    let mut budget = 2 * rest.len() + 64;
    let mut d = CommandDecoder::new(opts);
    d.feed(rest);
    loop {
        budget = budget
            .checked_sub(1)
            .expect("CommandDecoder makes no progress");
        match d.next() {
            Ok(None) => break,
            Ok(Some(v)) => {
                check_command(&v, opts);
                match &v {
                    ClientMessage::Command(c)
                        if matches!(
                            c.body,
                            CommandBody::Authenticate {
                                initial_response: None,
                                ..
                            }
                        ) =>
                    {
                        d.set_authenticate_data(true)
                    }
                    ClientMessage::AuthData(_) => d.set_authenticate_data(false),
                    _ => {}
                }
            }
            Err(_) => {}
        }
    }
}

// ---- fuzz_targets/client.rs ---------------------------------------------------------------

fn client(data: &[u8]) {
    use pimap::client::{Client, ClientConfig};
    use std::time::{Duration, Instant};
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default());
    let user = if first & 1 != 0 { "joe#dev" } else { "joe" };
    let _ = c.login(user, "pw");
    if first & 2 != 0 {
        let _ = c.select("INBOX");
    }
    if first & 4 != 0 {
        let _ = c.idle();
    }
    if first & 8 != 0 {
        for p in rest.chunks(7) {
            c.handle_input(p, now);
            while c.poll_output().is_some() {}
        }
    } else {
        c.handle_input(rest, now);
    }
    let _ = c.noop();
    let _ = c.done();
    c.handle_timeout(now + Duration::from_secs(3600));
    while c.poll_output().is_some() {}
}

// ---- fuzz_targets/server.rs ---------------------------------------------------------------

fn server(data: &[u8]) {
    server_fuzz::run(data);
}

mod server_fuzz {
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
        let from = if n % 3 == 0 {
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
}

// ---- replay --------------------------------------------------------------------------------

/// A fuzz target: its name and the function that replays one input.
type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("command_decoder", command_decoder),
    ("response_decoder", response_decoder),
    ("framer", framer),
    ("roundtrip", roundtrip),
    ("client", client),
    ("server", server),
];

/// Input files of one directory (hidden files and README skipped); empty if it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            !n.starts_with('.') && !n.ends_with(".md")
        })
        .collect();
    v.sort();
    v
}

fn replay(kind: &str) -> (usize, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut n = 0;
    let mut failures = Vec::new();
    for &(target, run) in TARGETS {
        for path in inputs(&root.join(target)) {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
            if let Err(e) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{target}: {}: {msg}", path.display()));
            }
        }
    }
    (n, failures)
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let (n, failures) = replay("corpus");
    eprintln!("fuzz corpus: {n} inputs");
    assert!(
        n >= 100,
        "expected at least 100 corpus files under fuzz/corpus/*/, found {n}"
    );
    assert!(
        failures.is_empty(),
        "{} of {n} corpus inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fuzz_regressions_replay_without_panic() {
    let (n, failures) = replay("regressions");
    eprintln!("fuzz regressions: {n} inputs");
    assert!(
        failures.is_empty(),
        "{} of {n} regression inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
