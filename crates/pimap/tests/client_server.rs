//! The crate's client against the crate's server over the in-memory store: features that
//! need both sides (XMACRO inner statuses, XZIP inflation, COMPRESS=DEFLATE).

use std::time::Instant;

use pimap::client::{Client, ClientConfig, Completion, Event, Output};
use pimap::server::blocking::{Action, CollectingNotifier, Driver, NoSubmission};
use pimap::server::memory::MemoryStore;
use pimap::server::{ConnId, MemoryPersistence, SeededRandom, Server, ServerConfig};
use pimap::types::{CommandBody, Flag};

pub struct Pair {
    pub d: Driver<MemoryStore, NoSubmission, CollectingNotifier>,
    pub client: Client,
    pub conn: ConnId,
    pub now: Instant,
    /// Bytes the server sent (as on the wire).
    pub wire_in: usize,
}

impl Default for Pair {
    fn default() -> Self {
        Self::new()
    }
}

impl Pair {
    pub fn new() -> Self {
        let mut store = MemoryStore::new();
        store.add_user("alice", "pw");
        for i in 0..20 {
            let msg = format!(
                "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: note {i}\r\n\r\nbody {i}\r\n"
            );
            store.inject("alice", "INBOX", msg.as_bytes(), vec![Flag::Seen], None);
        }
        let _ = store.take_changes();
        let server = Server::with_parts(
            ServerConfig::default(),
            Box::new(SeededRandom::new(3)),
            Box::new(MemoryPersistence::new()),
        );
        let now = Instant::now();
        let mut d = Driver::new(server, store, NoSubmission, CollectingNotifier::default());
        let (conn, actions) = d.accept(now).expect("accept");
        let mut p = Pair {
            d,
            client: Client::new(ClientConfig::default()),
            conn,
            now,
            wire_in: 0,
        };
        p.absorb(actions);
        p
    }

    pub fn absorb(&mut self, actions: Vec<Action>) {
        for a in actions {
            if let Action::Transmit(_, b) = a {
                self.wire_in += b.len();
                self.client.handle_input(&b, self.now);
            }
        }
    }

    /// Run until quiet; return the client's events.
    pub fn run(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for _ in 0..100 {
            let mut out = Vec::new();
            while let Some(o) = self.client.poll_output() {
                match o {
                    Output::Transmit(b) => out.extend_from_slice(&b),
                    Output::Event(e) => events.push(e),
                    _ => {}
                }
            }
            if out.is_empty() {
                return events;
            }
            let a = self.d.input(self.conn, &out, self.now).expect("input");
            self.absorb(a);
        }
        panic!("did not settle");
    }

    pub fn completions(events: &[Event]) -> Vec<&Completion> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Completed(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    pub fn command(&mut self, line: &str) -> Vec<Event> {
        let mut dec = pimap::codec::CommandDecoder::default();
        dec.feed(format!("x {line}\r\n").as_bytes());
        let Ok(Some(pimap::types::ClientMessage::Command(cmd))) = dec.next() else {
            panic!("bad line {line}");
        };
        self.enqueue(cmd.body)
    }

    pub fn enqueue(&mut self, body: CommandBody) -> Vec<Event> {
        self.client.enqueue(body).expect("enqueue");
        self.run()
    }
}

#[test]
fn xmacro_inner_statuses_reach_the_completion() {
    let mut p = Pair::new();
    p.run();
    p.client.login("alice#phone", "pw").expect("login");
    p.run();
    p.command("XMACRO DEFINE SYNC (\"SELECT $1\" \"UID FETCH 1:* (FLAGS)\")");
    let ev = p.command("XMACRO RUN SYNC INBOX");
    assert!(
        !ev.iter().any(|e| matches!(e, Event::ProtocolError(_))),
        "{ev:?}"
    );
    let c = Pair::completions(&ev);
    let run = c.last().expect("completion");
    assert!(run.is_ok(), "{run:?}");
    assert_eq!(run.inner.len(), 2, "{run:?}");
    assert!(run
        .inner
        .iter()
        .all(|s| s.status == pimap::types::Status::Ok));
    assert_eq!(
        run.data
            .iter()
            .filter(|d| matches!(d, pimap::types::Data::Fetch { .. }))
            .count(),
        20
    );
}

#[test]
fn compress_deflate_end_to_end() {
    let mut p = Pair::new();
    p.run();
    p.client.login("alice#phone", "pw").expect("login");
    p.run();
    p.command("XFILTER INBOX N ALL");
    p.client.compress().expect("compress");
    let ev = p.run();
    assert!(p.client.is_compressed(), "{ev:?}");
    p.client.select("INBOX").expect("select");
    let before = p.wire_in;
    p.command("FETCH 1:* (UID FLAGS ENVELOPE)");
    let compressed = p.wire_in - before;
    let view = p.client.mailbox().expect("view");
    assert_eq!(view.exists(), 20);
    assert!(view.messages().iter().all(|m| m.uid.is_some()));
    // Push through the compressed stream.
    p.client.idle().expect("idle");
    p.run();
    p.d.store.inject(
        "alice",
        "INBOX",
        b"Subject: pushed\r\n\r\nx\r\n",
        Vec::new(),
        None,
    );
    let a = p.d.sync_store(p.now);
    p.absorb(a);
    let ev = p.run();
    assert!(
        ev.iter().any(|e| matches!(e, Event::Mailbox(_))),
        "pushed EXISTS arrives compressed: {ev:?}"
    );
    eprintln!("FETCH of 20 envelopes: {compressed} compressed bytes");
    assert!(compressed < 2000, "{compressed}");
}

#[test]
fn xzip_wrapped_responses_are_inflated_and_applied() {
    let mut p = Pair::new();
    p.run();
    p.client.login("alice#phone", "pw").expect("login");
    p.run();
    p.client.select("INBOX").expect("select");
    p.run();
    let ev = p.command("XZIP X1 UID FETCH 1:* (UID FLAGS)");
    let c = Pair::completions(&ev);
    let z = c.last().expect("completion");
    assert!(z.is_ok(), "{z:?}");
    assert_eq!(z.inner.len(), 1, "inner tagged OK: {z:?}");
    assert_eq!(
        z.data
            .iter()
            .filter(|d| matches!(d, pimap::types::Data::Fetch { .. }))
            .count(),
        20,
        "inner FETCH responses attributed to the XZIP command"
    );
    let view = p.client.mailbox().expect("view");
    assert!(
        view.messages().iter().all(|m| m.uid.is_some()),
        "applied to the view"
    );
}

#[test]
fn xzip_fetch_items_of_draft_12_round_trip() {
    let mut p = Pair::new();
    p.run();
    p.client.login("alice", "pw").expect("login");
    p.run();
    p.client.select("INBOX").expect("select");
    p.run();
    let ev = p.command("FETCH 3 (XZIP.PEEK[1] XZIP.SIZE[1] BINARY.PEEK[1])");
    let c = Pair::completions(&ev);
    let f = c.last().expect("completion");
    assert!(f.is_ok(), "{f:?}");
    let parts = f.xzip_parts(pimap::compress::Limits::default());
    assert_eq!(parts.len(), 1, "{f:?}");
    let x = &parts[0];
    assert_eq!((x.seq, x.part.as_slice()), (3, &[1u32][..]));
    assert_eq!(x.data.as_ref().expect("inflates"), b"body 2\r\n");
    let size = f.data.iter().find_map(|d| match d {
        pimap::types::Data::Fetch { items, .. } => items.iter().find_map(|i| match i {
            pimap::types::FetchItem::XZipSize { size, .. } => Some(*size),
            _ => None,
        }),
        _ => None,
    });
    assert!(size.is_some_and(|s| s > 0), "{f:?}");
    let binary = f.data.iter().any(|d| match d {
        pimap::types::Data::Fetch { items, .. } => items
            .iter()
            .any(|i| matches!(i, pimap::types::FetchItem::Binary { .. })),
        _ => false,
    });
    assert!(binary, "BINARY asked for alongside XZIP is kept: {f:?}");
}

#[test]
fn xzip_inline_request_from_the_client() {
    let mut p = Pair::new();
    p.run();
    p.client.login("alice", "pw").expect("login");
    p.run();
    p.client.select("INBOX").expect("select");
    p.run();
    let mut dec = pimap::codec::CommandDecoder::default();
    dec.feed(b"Z7 UID FETCH 1:5 (UID FLAGS)\r\n");
    let Ok(Some(pimap::types::ClientMessage::Command(inner))) = dec.next() else {
        panic!("decode");
    };
    p.client.xzip_inline(inner).expect("xzip inline");
    let ev = p.run();
    let c = Pair::completions(&ev);
    let z = c.last().expect("completion");
    assert!(z.is_ok(), "{z:?}");
    assert_eq!(z.inner.len(), 1, "{z:?}");
    assert_eq!(
        z.inner[0].tag.as_ref().map(|t| t.as_bytes()),
        Some(&b"Z7"[..])
    );
    assert_eq!(
        z.data
            .iter()
            .filter(|d| matches!(d, pimap::types::Data::Fetch { .. }))
            .count(),
        5
    );
}

#[test]
fn untagged_codes_and_permanent_flags_are_kept() {
    use pimap::types::Code;
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default());
    c.handle_input(b"* OK [CAPABILITY IMAP4rev1 MOVE] hi\r\n", now);
    c.login("a", "b").expect("login");
    c.handle_input(b"A0001 OK done\r\n", now);
    c.select("INBOX").expect("select");
    c.handle_input(
        b"* 2 EXISTS\r\n* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\nA0002 OK [READ-WRITE] done\r\n",
        now,
    );
    assert_eq!(
        c.mailbox()
            .and_then(|m| m.permanent_flags())
            .map(|f| f.len()),
        Some(2)
    );
    let h = c
        .enqueue(CommandBody::Move {
            uid: true,
            set: pimap::types::SequenceSet::single(1).unwrap(),
            mailbox: pimap::types::Mailbox::try_from("Sent").unwrap(),
        })
        .expect("move");
    c.handle_input(
        b"* OK [COPYUID 7 1 9] moved\r\n* 1 EXPUNGE\r\nA0003 OK done\r\n",
        now,
    );
    let mut found = false;
    while let Some(o) = c.poll_output() {
        if let Output::Event(Event::Completed(done)) = o {
            if done.handle == h {
                found = done.codes.iter().any(|code| {
                    matches!(
                        code,
                        Code::CopyUid {
                            uid_validity: 7,
                            ..
                        }
                    )
                });
            }
        }
    }
    assert!(
        found,
        "COPYUID of the untagged OK reaches the MOVE completion"
    );
}
