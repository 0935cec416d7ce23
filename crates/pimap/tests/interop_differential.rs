//! Differential test of the gateway: the same random sequence of IMAP commands from several
//! concurrent clients, interleaved with deliveries into the backend, runs once directly
//! against Dovecot (as `bob`) and once through the gateway in front of the same Dovecot (as
//! `alice`). Both accounts start alike and see the same operations, so every response must
//! agree after normalisation, and at the end both accounts' mailboxes must be identical
//! (UIDs, flags, sizes, subjects), as read from Dovecot directly.
//!
//! What is compared per step: the tagged status (OK / NO / BAD), the last `EXISTS`, the
//! `EXPUNGE`s in order, the FETCH items per message (merged per sequence number; `UID` only
//! where both sides sent it, and required where the command asked for it), SEARCH results,
//! STATUS items, LIST names, and the UIDNEXT / COPYUID / APPENDUID codes (UIDVALIDITY masked).
//! Known, documented gaps of the gateway are masked: `\Recent` (RECENT counts and the flag)
//! and the `[UNSEEN]` / `[HIGHESTMODSEQ]` / `[PERMANENTFLAGS]` codes of SELECT. INTERNALDATE
//! is not asked for (the two accounts get their messages at different instants). One
//! difference is allowed by RFC 3501 and tolerated: EXPUNGE or STORE on an EXAMINEd mailbox,
//! which Dovecot answers OK (changing nothing) and this server NO (read-only).
//!
//! Deliveries go to both accounts between steps; afterwards every client on the gateway side
//! sends NOOP until it sees as many messages as its direct twin (the watch connection reports
//! with the backend's notification delay), and the merged NOOP answers are compared.
//!
//! `PIMAP_DIFF_STEPS` (default 1500) and `PIMAP_DIFF_SEED` choose the run; a divergence
//! fails the test with the seed, the step, both commands' normalised answers and the last 20
//! steps.

#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/gateway_process.rs"]
mod gateway_process;
#[path = "support/peers.rs"]
mod peers;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gateway_process::Gateway;
use pimap::codec::{DecoderOptions, ResponseDecoder};
use pimap::types::{Code, Data, FetchItem, Flag, Response, Status, StatusResponse};

/// Mailboxes at or above this many messages are not COPY sources (see the generator).
const MAX_COPY_SOURCE: u32 = 2000;
const WAIT: Duration = Duration::from_secs(20);
const CLIENTS: usize = 3;
const FOLDERS: [&str; 3] = ["INBOX", "Kept", "Other"];

// ------------------------------------------------------------------------------------------
// a raw IMAP connection: commands as text, responses through the crate's tolerant decoder

struct Raw {
    name: String,
    last: String,
    stream: TcpStream,
    dec: ResponseDecoder,
    n: u32,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(port: u16, name: &str) -> Raw {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut r = Raw {
            name: name.to_string(),
            last: String::new(),
            stream,
            dec: ResponseDecoder::new(DecoderOptions::default()),
            n: 0,
            buf: vec![0; 64 * 1024],
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(Response::Status(s)) = r.next(deadline) {
                assert_eq!(s.status, Status::Ok, "greeting {s:?}");
                return r;
            }
        }
    }

    /// The next decoded response; panics after `deadline`.
    fn next(&mut self, deadline: Instant) -> Option<Response> {
        loop {
            match self.dec.next() {
                Ok(Some(r)) => return Some(r),
                Ok(None) => {}
                Err(e) => panic!("{}: undecodable response to {}: {e}", self.name, self.last),
            }
            assert!(
                Instant::now() < deadline,
                "{}: timed out waiting for the answer to {}",
                self.name,
                self.last
            );
            match self.stream.read(&mut self.buf) {
                Ok(0) => panic!("{}: connection closed after {}", self.name, self.last),
                Ok(n) => self.dec.feed(&self.buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None
                }
                Err(e) => panic!("{}: read after {}: {e}", self.name, self.last),
            }
        }
    }

    /// Send `tN <line>` (CRLF added; `line` may carry LITERAL+ literals) and read to its
    /// tagged status.
    fn cmd(&mut self, line: &[u8]) -> (Vec<Response>, StatusResponse) {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.last = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
        let mut wire = format!("{tag} ").into_bytes();
        wire.extend_from_slice(line);
        wire.extend_from_slice(b"\r\n");
        self.stream.write_all(&wire).expect("write");
        self.read_to(&tag)
    }

    fn read_to(&mut self, tag: &str) -> (Vec<Response>, StatusResponse) {
        let deadline = Instant::now() + WAIT;
        let mut untagged = Vec::new();
        loop {
            match self.next(deadline) {
                Some(Response::Status(s))
                    if s.tag
                        .as_ref()
                        .is_some_and(|t| t.as_bytes() == tag.as_bytes()) =>
                {
                    return (untagged, s)
                }
                Some(r) => untagged.push(r),
                None => {}
            }
        }
    }

    /// IDLE for `dwell`, then DONE; everything until the tagged status.
    fn idle(&mut self, dwell: Duration) -> (Vec<Response>, StatusResponse) {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.stream
            .write_all(format!("{tag} IDLE\r\n").as_bytes())
            .expect("write");
        let deadline = Instant::now() + WAIT;
        let mut untagged = Vec::new();
        loop {
            match self.next(deadline) {
                Some(Response::Continuation(_)) => break,
                Some(Response::Status(s)) if s.tag.is_some() => return (untagged, s),
                Some(r) => untagged.push(r),
                None => {}
            }
        }
        let until = Instant::now() + dwell;
        while Instant::now() < until {
            if let Some(r) = self.next(deadline) {
                untagged.push(r);
            }
        }
        self.stream.write_all(b"DONE\r\n").expect("write");
        let (more, s) = self.read_to(&tag);
        untagged.extend(more);
        (untagged, s)
    }
}

// ------------------------------------------------------------------------------------------
// normalisation

/// What a command's answer means, in a form both servers must agree on.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
struct Answer {
    status: String,
    /// The tagged text of a NO / BAD, shown on divergence, never compared.
    note: String,
    exists: Option<u32>,
    expunged: Vec<u32>,
    fetch: BTreeMap<u32, BTreeMap<String, String>>,
    uids: BTreeMap<u32, u32>,
    search: Option<Vec<u32>>,
    status_items: BTreeMap<String, String>,
    list: BTreeSet<String>,
    codes: BTreeSet<String>,
}

fn flags_text(flags: &[Flag]) -> String {
    let mut v: Vec<String> = flags
        .iter()
        .filter(|f| !matches!(f, Flag::Recent))
        .map(|f| format!("{f:?}"))
        .collect();
    v.sort();
    v.join(" ")
}

fn item_key(i: &FetchItem) -> String {
    match i {
        FetchItem::BodySection { .. } | FetchItem::Binary { .. } | FetchItem::BinarySize { .. } => {
            let s = format!("{i:?}");
            // the section spec, not the data
            s.split(", data").next().unwrap_or(&s).to_string()
        }
        _ => format!("{i:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

fn normalise(untagged: Vec<Response>, tagged: StatusResponse, want_uid: bool) -> Answer {
    let mut a = Answer {
        status: format!("{:?}", tagged.status),
        note: if tagged.status == Status::Ok {
            String::new()
        } else {
            String::from_utf8_lossy(&tagged.text).into_owned()
        },
        ..Answer::default()
    };
    let keep_code = |c: &Option<Code>, a: &mut Answer| match c {
        Some(Code::UidNext(n)) => {
            a.codes.insert(format!("UIDNEXT {n}"));
        }
        Some(Code::CopyUid {
            source,
            destination,
            ..
        }) => {
            a.codes
                .insert(format!("COPYUID {source:?} {destination:?}"));
        }
        Some(Code::AppendUid { uids, .. }) => {
            a.codes.insert(format!("APPENDUID {uids:?}"));
        }
        Some(Code::ReadOnly) => {
            a.codes.insert("READ-ONLY".into());
        }
        Some(Code::ReadWrite) => {
            a.codes.insert("READ-WRITE".into());
        }
        _ => {}
    };
    if tagged.status == Status::Ok {
        keep_code(&tagged.code, &mut a);
    }
    for r in untagged {
        match r {
            Response::Status(s) => keep_code(&s.code, &mut a),
            Response::Data(d) => match d {
                Data::Exists(n) => a.exists = Some(n),
                Data::Expunge(n) => {
                    a.expunged.push(n);
                    // Later FETCH lines refer to the new numbering.
                    let shifted: BTreeMap<u32, BTreeMap<String, String>> =
                        std::mem::take(&mut a.fetch)
                            .into_iter()
                            .filter(|(s, _)| *s != n)
                            .map(|(s, m)| (if s > n { s - 1 } else { s }, m))
                            .collect();
                    a.fetch = shifted;
                    if let Some(e) = a.exists.as_mut() {
                        *e = e.saturating_sub(1);
                    }
                }
                Data::Fetch { seq, items } => {
                    let row = a.fetch.entry(seq).or_default();
                    for i in items {
                        match &i {
                            FetchItem::Uid(u) => {
                                a.uids.insert(seq, *u);
                            }
                            FetchItem::Flags(f) => {
                                row.insert("FLAGS".into(), flags_text(f));
                            }
                            FetchItem::InternalDate(_) | FetchItem::ModSeq(_) => {}
                            _ => {
                                row.insert(item_key(&i), format!("{i:?}"));
                            }
                        }
                    }
                }
                Data::Search { mut ids, .. } => {
                    ids.sort_unstable();
                    a.search = Some(ids);
                }
                Data::Status { items, .. } => {
                    for (k, v) in items {
                        let k = format!("{k:?}");
                        if k != "Recent" && k != "UidValidity" {
                            a.status_items.insert(k, v.to_string());
                        }
                    }
                }
                Data::List(e) => {
                    a.list
                        .insert(String::from_utf8_lossy(e.mailbox.as_bytes()).into_owned());
                }
                _ => {}
            },
            Response::Continuation(_) => {}
        }
    }
    if !want_uid {
        a.uids.clear();
    }
    a
}

/// `Err` with what differs; UIDs compared where both sent them, required where asked for.
fn compare(direct: &Answer, gateway: &Answer, want_uid: bool) -> Result<(), String> {
    let mut d = direct.clone();
    let mut g = gateway.clone();
    if want_uid {
        for seq in d.fetch.keys().chain(g.fetch.keys()) {
            if direct.uids.contains_key(seq) != gateway.uids.contains_key(seq) {
                return Err(format!("UID of message {seq} sent by one side only"));
            }
        }
    } else {
        d.uids.clear();
        g.uids.clear();
    }
    d.note.clear();
    g.note.clear();
    // Rows with nothing but an (unsolicited) UID are noise.
    d.fetch.retain(|_, m| !m.is_empty());
    g.fetch.retain(|_, m| !m.is_empty());
    if d == g {
        Ok(())
    } else {
        Err(format!(
            "direct:  {d:?} {:?}\ngateway: {g:?} {:?}",
            direct.note, gateway.note
        ))
    }
}

/// The answers differ only in what they announce of the mailbox (EXISTS, EXPUNGE).
fn same_but_announcements(direct: &Answer, gateway: &Answer) -> bool {
    let strip = |a: &Answer| Answer {
        exists: None,
        expunged: Vec::new(),
        ..a.clone()
    };
    compare(&strip(direct), &strip(gateway), true).is_ok()
        || compare(&strip(direct), &strip(gateway), false).is_ok()
}

/// A server may announce a change made outside the session (Dovecot's own delivery, the
/// gateway's watch connection seeing it a moment later) at any later command: poll both
/// sides with NOOP until they have announced the same (5 s at most), and give the answers
/// with what the polls announced merged in. A change one side never announces still
/// diverges.
fn settle(direct: &mut Raw, gateway: &mut Raw, mut da: Answer, mut ga: Answer) -> (Answer, Answer) {
    // (`exists` is the count after the answer's announcements, in their order.)
    let merge = |a: &mut Answer, more: Answer| {
        match (more.exists, a.exists.as_mut()) {
            (Some(e), _) => a.exists = Some(e),
            (None, Some(e)) => *e = e.saturating_sub(more.expunged.len() as u32),
            (None, None) => {}
        }
        a.expunged.extend(more.expunged);
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while (da.exists, &da.expunged) != (ga.exists, &ga.expunged) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let (u, s) = direct.cmd(b"NOOP");
        merge(&mut da, normalise(u, s, false));
        let (u, s) = gateway.cmd(b"NOOP");
        merge(&mut ga, normalise(u, s, false));
    }
    (da, ga)
}

// ------------------------------------------------------------------------------------------
// the gateway process

fn start_gateway(backend_port: u16, seconds: u64) -> Gateway {
    // The gateway's log, for a failure's post-mortem.
    let log_path =
        std::env::temp_dir().join(format!("pimap-diff-gateway-{}.log", std::process::id()));
    eprintln!("gateway log: {}", log_path.display());
    let log = std::fs::File::create(&log_path).expect("gateway log");
    let seconds = seconds.to_string();
    gateway_process::start(
        backend_port,
        &["--max-seconds", &seconds, "--poll-folders-secs", "1"],
        Stdio::from(log),
    )
}

// ------------------------------------------------------------------------------------------
// the random program

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// One client's view as the direct side reported it (both sides must agree on it).
#[derive(Clone, Default)]
struct View {
    selected: Option<(String, bool)>,
    exists: u32,
}

impl View {
    fn apply(&mut self, a: &Answer, selecting: Option<(String, bool)>) {
        if let Some(s) = selecting {
            self.selected = if a.status == "Ok" { Some(s) } else { None };
            self.exists = 0;
        }
        if let Some(e) = a.exists {
            self.exists = e;
        } else {
            self.exists = self.exists.saturating_sub(a.expunged.len() as u32);
        }
    }
}

fn message(k: u32, rng: &mut Rng) -> Vec<u8> {
    let body_lines = 1 + rng.below(6) as usize;
    let mut m = format!(
        "From: Sender {k} <s{k}@example.com>\r\nTo: alice@example.com\r\nSubject: m{k}\r\n\
         Message-ID: <m{k}@example.com>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
    );
    if rng.below(3) == 0 {
        m.push_str(
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b\r\n\
             Content-Type: text/html\r\n\r\n<p>two</p>\r\n--b--\r\n",
        );
    } else {
        m.push_str("\r\n");
        for i in 0..body_lines {
            m.push_str(&format!("line {i} of message {k}\r\n"));
        }
    }
    m.into_bytes()
}

/// A command for a client with `view`, and whether its answer must carry UIDs.
fn command(rng: &mut Rng, view: &View, k: &mut u32) -> (Vec<u8>, bool, Option<(String, bool)>) {
    let n = view.exists;
    let seq = |rng: &mut Rng| 1 + rng.below(u64::from(n.max(1))) as u32;
    let set = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 => "1:*".into(),
            1 => {
                let a = seq(rng);
                let b = seq(rng);
                format!("{}:{}", a.min(b), a.max(b))
            }
            _ => seq(rng).to_string(),
        }
    };
    let uid_set = |rng: &mut Rng| -> String {
        match rng.below(3) {
            0 => "1:*".into(),
            _ => (1 + rng.below(u64::from(*k + 2))).to_string(),
        }
    };
    let folder = |rng: &mut Rng| rng.pick(&FOLDERS).to_string();
    let items = [
        "FLAGS",
        "(UID FLAGS)",
        "(FLAGS RFC822.SIZE)",
        "ENVELOPE",
        "(UID BODYSTRUCTURE)",
        "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]",
        "(BODY[TEXT])",
        "BODY.PEEK[1]",
        "(UID RFC822.SIZE ENVELOPE FLAGS)",
        "BODY[]",
    ];
    let selected = view.selected.is_some();
    let r = rng.below(100);
    let text = match r {
        _ if !selected && r < 60 => {
            let ro = rng.below(4) == 0;
            let f = folder(rng);
            let verb = if ro { "EXAMINE" } else { "SELECT" };
            return (format!("{verb} {f}").into_bytes(), false, Some((f, ro)));
        }
        0..=5 => {
            let ro = rng.below(4) == 0;
            let f = folder(rng);
            let verb = if ro { "EXAMINE" } else { "SELECT" };
            return (format!("{verb} {f}").into_bytes(), false, Some((f, ro)));
        }
        6..=19 if n > 0 => {
            let i = rng.pick(&items);
            let uid = i.contains("UID");
            return (format!("FETCH {} {i}", set(rng)).into_bytes(), uid, None);
        }
        20..=27 => {
            let i = rng.pick(&items);
            return (
                format!("UID FETCH {} {i}", uid_set(rng)).into_bytes(),
                true,
                None,
            );
        }
        28..=35 => {
            let c = rng.pick(&[
                "ALL",
                "FLAGGED",
                "UNSEEN",
                "DELETED",
                "SEEN NOT FLAGGED",
                "SUBJECT m1",
                "OR ANSWERED FLAGGED",
                "BODY part",
                "LARGER 200",
            ]);
            let uid = if rng.below(2) == 0 { "UID " } else { "" };
            format!("{uid}SEARCH {c}")
        }
        36..=49 if n > 0 => {
            let kind = rng.pick(&[
                "+FLAGS",
                "-FLAGS",
                "FLAGS",
                "+FLAGS.SILENT",
                "-FLAGS.SILENT",
            ]);
            let flags = rng.pick(&[
                "(\\Seen)",
                "(\\Flagged)",
                "(\\Deleted)",
                "(\\Answered \\Seen)",
                "($Junk)",
                "(\\Flagged \\Deleted)",
            ]);
            if rng.below(3) == 0 {
                return (
                    format!("UID STORE {} {kind} {flags}", uid_set(rng)).into_bytes(),
                    true,
                    None,
                );
            }
            format!("STORE {} {kind} {flags}", set(rng))
        }
        // COPY only from mailboxes under MAX_COPY_SOURCE messages: copying ranges doubles
        // them, and a run grew to 12 800 messages, where the debug-build gateway took longer
        // than the 10 s poll to show a delivery (a scale issue of the gateway, reported;
        // this harness checks meaning, not scale).
        50..=55 if n > 0 && n < MAX_COPY_SOURCE => format!("COPY {} {}", set(rng), folder(rng)),
        56..=60 if n > 0 => format!("MOVE {} {}", set(rng), folder(rng)),
        61..=63 if n > 0 => {
            return (
                format!("UID MOVE {} {}", uid_set(rng), folder(rng)).into_bytes(),
                true,
                None,
            )
        }
        64..=68 => "EXPUNGE".into(),
        69..=73 => {
            *k += 1;
            let m = message(*k, rng);
            let flags = rng.pick(&["", "(\\Seen) ", "(\\Flagged \\Draft) "]);
            let mut line =
                format!("APPEND {} {flags}{{{}+}}\r\n", folder(rng), m.len()).into_bytes();
            line.extend_from_slice(&m);
            return (line, false, None);
        }
        74..=77 => format!("STATUS {} (MESSAGES UIDNEXT UNSEEN)", folder(rng)),
        78..=81 => "NOOP".into(),
        82..=83 => "CHECK".into(),
        84..=85 => "LIST \"\" *".into(),
        86 => "CREATE Other".into(),
        87 => "DELETE Other".into(),
        88 => "RENAME Other Renamed".into(),
        89 => "RENAME Renamed Other".into(),
        90..=92 => "CLOSE".into(),
        _ => "NOOP".into(),
    };
    (text.into_bytes(), false, None)
}

// ------------------------------------------------------------------------------------------
// the run

struct Side {
    clients: Vec<Raw>,
}

fn login(port: u16, user: &str, name: &str) -> Raw {
    let mut r = Raw::connect(port, name);
    let (_, s) = r.cmd(format!("LOGIN {user} {user}pw").as_bytes());
    assert_eq!(s.status, Status::Ok, "LOGIN {user}: {s:?}");
    r
}

/// Every folder of `user`, read directly from Dovecot: (name, [(uid, flags, size, subject)]).
fn final_state(port: u16, user: &str) -> BTreeMap<String, Vec<String>> {
    let mut r = login(port, user, "final");
    let (u, _) = r.cmd(b"LIST \"\" *");
    let names = normalise(u, ok_status(), false).list;
    let mut out = BTreeMap::new();
    for name in names {
        let (_, s) = r.cmd(format!("EXAMINE \"{name}\"").as_bytes());
        assert_eq!(s.status, Status::Ok);
        let (u, _) = r.cmd(b"UID FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
        let a = normalise(u, ok_status(), true);
        let rows = a
            .fetch
            .iter()
            .map(|(seq, m)| format!("uid {:?} {m:?}", a.uids.get(seq)))
            .collect();
        out.insert(name, rows);
    }
    let _ = r.cmd(b"LOGOUT");
    out
}

fn ok_status() -> StatusResponse {
    StatusResponse {
        tag: None,
        status: Status::Ok,
        code: None,
        text: Default::default(),
    }
}

#[test]
fn gateway_answers_like_dovecot() {
    if !peers::available("gateway_answers_like_dovecot", &[peers::DOVECOT]) {
        return;
    }
    let steps: u32 = std::env::var("PIMAP_DIFF_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let seed: u64 = std::env::var("PIMAP_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("differential run: seed {seed}, {steps} steps, {CLIENTS} clients per side");
    // PIMAP_DIFF_TRACE=1 prints every step's two answers.
    let trace = std::env::var_os("PIMAP_DIFF_TRACE").is_some();
    let dc = dovecot::Dovecot::start();
    let gw = start_gateway(dc.port, 1800);
    let mut rng = Rng(seed);
    let mut k = 0u32;
    for user in ["alice", "bob"] {
        let mut r = login(dc.port, user, "setup");
        for f in ["Kept", "Other"] {
            let _ = r.cmd(format!("CREATE {f}").as_bytes());
        }
        let _ = r.cmd(b"LOGOUT");
    }
    let mut seed_rng = Rng(seed ^ 0x9E37_79B9_7F4A_7C15);
    for _ in 0..4 {
        k += 1;
        let m = message(k, &mut seed_rng);
        dc.inject_as("bob", "bobpw", "INBOX", &m);
        dc.inject_as("alice", "alicepw", "INBOX", &m);
    }
    let mut direct = Side {
        clients: (0..CLIENTS)
            .map(|c| login(dc.port, "bob", &format!("direct client {c}")))
            .collect(),
    };
    let mut gateway = Side {
        clients: (0..CLIENTS)
            .map(|c| login(gw.port, "alice", &format!("gateway client {c}")))
            .collect(),
    };
    let mut views = vec![View::default(); CLIENTS];
    let mut history: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let started = Instant::now();
    for step in 0..steps {
        if rng.below(100) < 4 {
            // A delivery into both accounts, then every client catches up.
            k += 1;
            let m = message(k, &mut rng);
            let f = *rng.pick(&["INBOX", "INBOX", "Kept"]);
            dc.inject_as("bob", "bobpw", f, &m);
            dc.inject_as("alice", "alicepw", f, &m);
            history.push(format!("{step}: deliver m{k} to {f}"));
            *counts.entry("deliver".into()).or_default() += 1;
            #[allow(clippy::needless_range_loop)] // c indexes three parallel vectors
            for c in 0..CLIENTS {
                // Each side polls until the client sees the new message (Dovecot's maildir
                // sync may itself notice it a moment late); the merged answers compare.
                let here = views[c].selected.as_ref().is_some_and(|(sel, _)| sel == f);
                let want = views[c].exists + u32::from(here);
                let poll = |raw: &mut Raw| -> Answer {
                    let mut merged = Vec::new();
                    let mut last;
                    let deadline = Instant::now() + Duration::from_secs(10);
                    loop {
                        let (u, s) = raw.cmd(b"NOOP");
                        merged.extend(u);
                        last = s;
                        let probe = normalise(merged.clone(), ok_status(), false);
                        let seen = probe.exists.unwrap_or(views[c].exists);
                        if !here || seen >= want || Instant::now() > deadline {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    normalise(merged, last, false)
                };
                let da = poll(&mut direct.clients[c]);
                let ga = poll(&mut gateway.clients[c]);
                views[c].apply(&da, None);
                if let Err(e) = compare(&da, &ga, false) {
                    panic!(
                        "seed {seed} step {step}: after delivering m{k} to {f}, client {c} \
                         (selected {:?}) diverges:\n{e}\nlast steps:\n{}",
                        views[c].selected,
                        history[history.len().saturating_sub(20)..].join("\n")
                    );
                }
            }
            continue;
        }
        let c = rng.below(CLIENTS as u64) as usize;
        let idle = rng.below(100) < 4;
        let (mut line, want_uid, selecting) = if idle {
            (b"IDLE".to_vec(), false, None)
        } else {
            command(&mut rng, &views[c], &mut k)
        };
        // Dovecot ends (BYE) a session whose selected mailbox another session deletes or
        // renames; such a step is not comparable, so it becomes a NOOP.
        let other_selected = views
            .iter()
            .any(|v| v.selected.as_ref().is_some_and(|(f, _)| f == "Other"));
        if other_selected
            && (line.starts_with(b"DELETE Other") || line.starts_with(b"RENAME Other"))
        {
            line = b"NOOP".to_vec();
        }
        // Dovecot moves messages out of an EXAMINEd mailbox; this server refuses (read-only).
        // The states would part, so that step is not taken either.
        let read_only = views[c].selected.as_ref().is_some_and(|(_, ro)| *ro);
        if read_only && (line.starts_with(b"MOVE") || line.starts_with(b"UID MOVE")) {
            line = b"NOOP".to_vec();
        }
        // A MOVE into the selected mailbox itself leaves Dovecot's other sessions counting
        // one message too many (seen with seed 11: `* 6 EXISTS` for a mailbox of 5, on a later
        // STORE); not comparable, not taken.
        if let Some((sel, _)) = &views[c].selected {
            let into_self = format!(" {sel}");
            if (line.starts_with(b"MOVE") || line.starts_with(b"UID MOVE"))
                && line.ends_with(into_self.as_bytes())
            {
                line = b"NOOP".to_vec();
            }
        }
        let shown = String::from_utf8_lossy(line.split(|b| *b == b'\r').next().unwrap_or(&line))
            .into_owned();
        history.push(format!("{step}: client {c}: {shown}"));
        let verb: String = shown
            .split(' ')
            .take(if shown.starts_with("UID ") { 2 } else { 1 })
            .collect::<Vec<_>>()
            .join(" ");
        *counts.entry(verb.clone()).or_default() += 1;
        let (da, ga) = if idle {
            let (u, s) = direct.clients[c].idle(Duration::from_millis(30));
            let da = normalise(u, s, false);
            let (u, s) = gateway.clients[c].idle(Duration::from_millis(30));
            (da, normalise(u, s, false))
        } else {
            let (u, s) = direct.clients[c].cmd(&line);
            let da = normalise(u, s, want_uid);
            let (u, s) = gateway.clients[c].cmd(&line);
            (da, normalise(u, s, want_uid))
        };
        let mut ga = ga;
        if read_only
            && ["EXPUNGE", "STORE", "UID STORE"].contains(&verb.as_str())
            && ga.status == "No"
            && da
                == (Answer {
                    status: "Ok".into(),
                    ..Answer::default()
                })
        {
            ga.status = da.status.clone();
        }
        let (da, ga) = if compare(&da, &ga, want_uid).is_err() && same_but_announcements(&da, &ga) {
            settle(&mut direct.clients[c], &mut gateway.clients[c], da, ga)
        } else {
            (da, ga)
        };
        if let Err(e) = compare(&da, &ga, want_uid) {
            panic!(
                "seed {seed} step {step}: client {c} (selected {:?}, {} messages) `{shown}` \
                 diverges:\n{e}\nlast steps:\n{}",
                views[c].selected,
                views[c].exists,
                history[history.len().saturating_sub(20)..].join("\n")
            );
        }
        if trace {
            eprintln!("{step} c{c} {shown}\n  direct  {da:?}\n  gateway {ga:?}");
        }
        views[c].apply(&da, selecting);
        if shown == "CLOSE" && da.status == "Ok" {
            views[c].selected = None;
            views[c].exists = 0;
        }
        // Servers may tell other sessions of a change at any later command that allows it
        // (Dovecot skips RENAME, LIST, STATUS...; this server does not): after a command that
        // may change something, every other client polls with NOOP, where both must have
        // told everything, and those answers are compared.
        let reads_only = [
            "NOOP",
            "CHECK",
            "LIST",
            "STATUS",
            "SEARCH",
            "UID SEARCH",
            "IDLE",
        ]
        .iter()
        .any(|v| verb == *v);
        if !reads_only {
            for c2 in (0..CLIENTS).filter(|c2| *c2 != c) {
                let (u, s) = direct.clients[c2].cmd(b"NOOP");
                let da = normalise(u, s, false);
                let (u, s) = gateway.clients[c2].cmd(b"NOOP");
                let ga = normalise(u, s, false);
                if let Err(e) = compare(&da, &ga, false) {
                    panic!(
                        "seed {seed} step {step}: after client {c}'s `{shown}`, client {c2} \
                         (selected {:?}, {} messages) polls and diverges:\n{e}\nlast steps:\n{}",
                        views[c2].selected,
                        views[c2].exists,
                        history[history.len().saturating_sub(20)..].join("\n")
                    );
                }
                views[c2].apply(&da, None);
            }
        }
    }
    for side in [&mut direct, &mut gateway] {
        for c in &mut side.clients {
            let _ = c.cmd(b"LOGOUT");
        }
    }
    let elapsed = started.elapsed();
    let d = final_state(dc.port, "bob");
    let g = final_state(dc.port, "alice");
    let total: usize = d.values().map(Vec::len).sum();
    eprintln!(
        "differential run: {steps} steps in {:.1} s, {k} messages made, {total} left in {} \
         folders; commands {counts:?}",
        elapsed.as_secs_f64(),
        d.len()
    );
    assert_eq!(
        d.keys().collect::<Vec<_>>(),
        g.keys().collect::<Vec<_>>(),
        "seed {seed}: folders differ"
    );
    for (name, rows) in &d {
        assert_eq!(rows, &g[name], "seed {seed}: final state of {name} differs");
    }
}
