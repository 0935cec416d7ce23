//! The client state machine driven by scripts: every spec test vector that a client can take
//! part in (tests/vectors/pimap) and the real Dovecot transcripts (tests/vectors/dovecot).
//!
//! The script's commands are given to `Client::enqueue` (the client picks its own tags); the
//! script's server lines are fed back with the tags mapped to the client's. Checked for every
//! script: the client transmits exactly the script's commands (decoded and compared), every
//! command completes with the script's tagged status, and no protocol error or view
//! inconsistency is reported. Specific vectors also check the login outcome and the view.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use common::vecfile::{load_dir, load_file, Expect, Vector};
use pimap::client::{
    Client, ClientConfig, ClientState, CommandHandle, Completion, Event, LoginOutcome,
    MailboxEvent, Output,
};
use pimap::codec::{CommandDecoder, Dialect, Encode, ResponseDecoder};
use pimap::types::{ClientMessage, CommandBody, Mailbox, Response, Tag};

const GREETING: &[u8] = b"* OK [CAPABILITY IMAP4rev1 IDLE LITERAL+ XPIMAPV1R1] ready\r\n";

struct Replay {
    client: Client,
    now: Instant,
    /// script tag -> client tag
    tags: HashMap<Vec<u8>, Tag>,
    handles: Vec<(Vec<u8>, CommandHandle)>,
    sent: Vec<u8>,
    events: Vec<Event>,
    /// Command bodies given to the client, in order, and DONE markers.
    expected_wire: Vec<ClientMessage>,
}

impl Replay {
    fn new() -> Self {
        let mut r = Replay {
            client: Client::new(ClientConfig::default()),
            now: Instant::now(),
            tags: HashMap::new(),
            handles: Vec::new(),
            sent: Vec::new(),
            events: Vec::new(),
            expected_wire: Vec::new(),
        };
        r.server(GREETING);
        r
    }

    fn drain(&mut self) {
        while let Some(o) = self.client.poll_output() {
            match o {
                Output::Transmit(b) => self.sent.extend_from_slice(&b),
                Output::Event(e) => self.events.push(e),
                _ => {}
            }
        }
    }

    /// A client line of the script.
    fn client_msg(&mut self, bytes: &[u8]) -> bool {
        let mut d = CommandDecoder::default();
        d.feed(bytes);
        match d.next() {
            Ok(Some(ClientMessage::Command(c))) => {
                let h = self
                    .client
                    .enqueue(c.body.clone())
                    .expect("enqueue accepted");
                let tag = self.client.tag_of(h).expect("tag of a new command").clone();
                self.tags.insert(c.tag.as_bytes().to_vec(), tag);
                self.handles.push((c.tag.as_bytes().to_vec(), h));
                self.expected_wire.push(ClientMessage::Command(c));
                self.drain();
                true
            }
            Ok(Some(ClientMessage::Done)) => {
                // DONE may already have gone out on its own (a later command ends IDLE).
                if self.client.is_idling() {
                    self.client.done().expect("DONE while idling");
                }
                self.expected_wire.push(ClientMessage::Done);
                self.drain();
                true
            }
            _ => false,
        }
    }

    /// A server message of the script, tag mapped to the client's.
    fn server(&mut self, bytes: &[u8]) {
        let mut d = ResponseDecoder::default();
        d.feed(bytes);
        let wire = match d.next() {
            Ok(Some(Response::Status(mut s))) if s.tag.is_some() => {
                let t = s
                    .tag
                    .as_ref()
                    .map(|t| t.as_bytes().to_vec())
                    .unwrap_or_default();
                if let Some(mapped) = self.tags.get(&t) {
                    s.tag = Some(mapped.clone());
                }
                Response::Status(s).to_bytes(Dialect::Draft08).to_vec()
            }
            _ => bytes.to_vec(),
        };
        self.client.handle_input(&wire, self.now);
        self.drain();
    }

    fn completions(&self) -> Vec<&Completion> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Completed(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn login_outcome(&self) -> Option<&LoginOutcome> {
        self.events.iter().find_map(|e| match e {
            Event::LoggedIn(o) => Some(o),
            _ => None,
        })
    }

    /// Checks common to every script.
    fn check(&self, name: &str, statuses: &HashMap<Vec<u8>, (pimap::types::Status, String)>) {
        for e in &self.events {
            assert!(
                !matches!(e, Event::ProtocolError(_) | Event::ViewInconsistent(_)),
                "{name}: unexpected {e:?}"
            );
        }
        // What went out decodes to the script's commands, in order.
        let mut d = CommandDecoder::default();
        d.feed(&self.sent);
        let mut got = Vec::new();
        while let Ok(Some(m)) = d.next() {
            got.push(m);
        }
        let strip = |m: &ClientMessage| match m {
            ClientMessage::Command(c) => Some(c.body.clone()),
            _ => None,
        };
        let got_bodies: Vec<Option<CommandBody>> = got.iter().map(strip).collect();
        let want_bodies: Vec<Option<CommandBody>> = self.expected_wire.iter().map(strip).collect();
        assert_eq!(
            got_bodies.iter().flatten().collect::<Vec<_>>(),
            want_bodies.iter().flatten().collect::<Vec<_>>(),
            "{name}: commands on the wire"
        );
        // Every command completed with the script's status.
        let completions = self.completions();
        for (script_tag, h) in &self.handles {
            let Some((status, _)) = statuses.get(script_tag) else {
                continue; // the script ends before the command's completion
            };
            let c = completions
                .iter()
                .find(|c| c.handle == *h)
                .unwrap_or_else(|| {
                    panic!(
                        "{name}: no completion for {:?}",
                        String::from_utf8_lossy(script_tag)
                    )
                });
            assert_eq!(c.status.status, *status, "{name}: status of {:?}", c.tag);
        }
    }
}

/// Runs one vector. Scripts that do not log in themselves start after a plain LOGIN and a
/// SELECT of INBOX with 500 messages (the drafts show them in SELECTED state without the
/// preceding steps).
fn run_vector(v: &Vector) -> Option<Replay> {
    let mut r = Replay::new();
    let starts_with_login = v.msgs.iter().find(|m| m.client).is_some_and(|m| {
        let up = m.bytes.to_ascii_uppercase();
        up.windows(7).any(|w| w == b" LOGIN ")
    });
    if !starts_with_login {
        // As many messages as the script's first EXISTS implies were there before.
        let first_exists = v.msgs.iter().filter(|m| !m.client).find_map(|m| {
            let mut d = ResponseDecoder::default();
            d.feed(&m.bytes);
            match d.next() {
                Ok(Some(Response::Data(pimap::types::Data::Exists(n)))) => Some(n),
                _ => None,
            }
        });
        let exists = format!("* {} EXISTS\r\n", first_exists.map_or(500, |n| n - 1));
        for (c, s) in [
            (
                &b"p1 LOGIN joe secret\r\n"[..],
                &[&b"p1 OK done\r\n"[..]][..],
            ),
            (
                b"p2 SELECT INBOX\r\n",
                &[
                    exists.as_bytes(),
                    b"* OK [UIDVALIDITY 7] ok\r\n",
                    b"p2 OK [READ-WRITE] done\r\n",
                ][..],
            ),
        ] {
            r.client_msg(c);
            for line in s {
                r.server(line);
            }
        }
    }
    let mut statuses = HashMap::new();
    for m in &v.msgs {
        if m.expect == Expect::NoPanic {
            if m.client {
                break; // a junk command: the rest of the script is not a client's
            }
            continue;
        }
        if m.client {
            if !r.client_msg(&m.bytes) {
                return None; // not a command this client can send (continuation data etc.)
            }
        } else {
            let mut d = ResponseDecoder::default();
            d.feed(&m.bytes);
            if let Ok(Some(Response::Status(s))) = d.next() {
                if let Some(t) = &s.tag {
                    statuses.insert(t.as_bytes().to_vec(), (s.status, String::new()));
                }
            }
            r.server(&m.bytes);
        }
    }
    r.check(&v.name, &statuses);
    Some(r)
}

fn vectors_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/pimap")
}

fn vector(name: &str) -> Replay {
    let v = load_file(&vectors_dir().join(format!("{name}.vec")));
    run_vector(&v).unwrap_or_else(|| panic!("{name}: not replayable"))
}

#[test]
fn every_client_vector_replays() {
    let mut replayed = 0;
    let mut skipped = Vec::new();
    for v in load_dir(&vectors_dir()) {
        if v.expect_header.is_some() || !v.msgs.iter().any(|m| m.client) {
            continue;
        }
        match run_vector(&v) {
            Some(_) => replayed += 1,
            None => skipped.push(v.name.clone()),
        }
    }
    eprintln!("replayed {replayed} vectors; not client-sendable: {skipped:?}");
    assert!(replayed >= 60, "only {replayed} vectors replayed");
}

#[test]
fn login_fresh_session() {
    for name in ["TV-01-3.1.5-a", "TV-02-4.1.4-a", "TV-06-5.1.4-a"] {
        let r = vector(name);
        assert_eq!(r.login_outcome(), Some(&LoginOutcome::Fresh), "{name}");
        assert_eq!(r.client.state(), &ClientState::Authenticated);
    }
    assert!(vector("TV-06-5.1.4-a").client.session_id().is_some());
}

#[test]
fn login_resumed_authenticated() {
    for name in ["TV-00-3.1.5-a", "TV-02-4.1.4-b", "TV-06-5.1.4-b"] {
        let r = vector(name);
        assert_eq!(
            r.login_outcome(),
            Some(&LoginOutcome::ResumedAuthenticated),
            "{name}"
        );
        assert_eq!(r.client.state(), &ClientState::Authenticated);
    }
}

#[test]
fn login_resumed_selected_applies_queued_events() {
    for name in ["TV-00-3.1.5-b", "TV-02-4.1.4-c", "TV-06-5.1.4-c"] {
        let r = vector(name);
        assert!(
            matches!(r.login_outcome(), Some(LoginOutcome::ResumedSelected { mailbox, events: 2 }) if mailbox.is_inbox()),
            "{name}: {:?}",
            r.login_outcome()
        );
        assert_eq!(r.client.state(), &ClientState::Selected(Mailbox::inbox()));
        // `* 14 EXISTS` then `* 49 FETCH`: the FETCH beyond the count is an implicit EXISTS.
        let view = r.client.mailbox().expect("view");
        assert_eq!(view.exists(), 49, "{name}");
        let mailbox_events: Vec<&MailboxEvent> = r
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Mailbox(m) => Some(m),
                _ => None,
            })
            .collect();
        assert!(matches!(
            mailbox_events.first(),
            Some(MailboxEvent::Exists { count: 14 })
        ));
        assert!(mailbox_events
            .iter()
            .any(|e| matches!(e, MailboxEvent::Exists { count: 49 })));
        // The queued events come before the login outcome, which comes before the completion.
        let pos = |f: &dyn Fn(&Event) -> bool| r.events.iter().position(f).unwrap();
        let first_event = pos(&|e| matches!(e, Event::Mailbox(_)));
        let outcome = pos(&|e| matches!(e, Event::LoggedIn(_)));
        let done = pos(&|e| matches!(e, Event::Completed(_)));
        assert!(first_event < outcome && outcome < done, "{name}: order");
    }
}

#[test]
fn login_resync_required() {
    for name in ["TV-02-4.1.4-d", "TV-06-5.1.4-d"] {
        let r = vector(name);
        assert!(
            matches!(r.login_outcome(), Some(LoginOutcome::ResyncRequired { selected: Some(m) }) if m.is_inbox()),
            "{name}: {:?}",
            r.login_outcome()
        );
    }
    let r = vector("TV-01-3.1.7-a");
    assert!(r.events.iter().any(|e| matches!(e, Event::ResyncRequired)));
}

#[test]
fn idle_walkthrough_applies_pushed_events() {
    let r = vector("TV-00-D.2-a");
    assert!(r.events.iter().any(|e| matches!(e, Event::IdleStarted(_))));
    let evs: Vec<&MailboxEvent> = r
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Mailbox(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(evs
        .iter()
        .any(|e| matches!(e, MailboxEvent::Exists { count: 501 })));
    assert!(evs
        .iter()
        .any(|e| matches!(e, MailboxEvent::Expunged { seq: 25, .. })));
    // After EXPUNGE 25 the view has 500 messages; the FLAGS of 101 apply to the new 101.
    assert!(evs
        .iter()
        .any(|e| matches!(e, MailboxEvent::FlagsChanged { seq: 101, .. })));
    assert_eq!(r.client.mailbox().map(|v| v.exists()), Some(500));
}

/// Commands of the real Dovecot session, enqueued one by one; Dovecot's responses fed back.
fn replay_transcript(name: &str) -> Replay {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/dovecot");
    let client_raw = std::fs::read(dir.join(format!("{name}.client.raw"))).unwrap();
    let server_raw = std::fs::read(dir.join(format!("{name}.server.raw"))).unwrap();
    // Split the server stream into messages (the greeting first).
    let mut d = ResponseDecoder::default();
    d.feed(&server_raw);
    let mut responses = Vec::new();
    while let Ok(Some(r)) = d.next() {
        responses.push(r);
    }
    let mut cd = CommandDecoder::default();
    cd.feed(&client_raw);
    let mut commands = Vec::new();
    loop {
        match cd.next() {
            Ok(Some(m)) => commands.push(m),
            Ok(None) => break,
            Err(e) => panic!("client transcript: {e}"),
        }
        cd.take_continuation_request();
    }
    let mut r = Replay {
        client: Client::new(ClientConfig::default()),
        now: Instant::now(),
        tags: HashMap::new(),
        handles: Vec::new(),
        sent: Vec::new(),
        events: Vec::new(),
        expected_wire: Vec::new(),
    };
    let mut statuses = HashMap::new();
    // Pipeline everything up front except DONE; the client itself ends IDLE when the next
    // command is queued and holds commands while it waits for continuations.
    let mut resp = responses.into_iter();
    if let Some(g) = resp.next() {
        r.client.handle_input(&g.to_bytes(Dialect::Draft08), r.now);
        r.drain();
    }
    for m in &commands {
        if let ClientMessage::Command(c) = m {
            let h = r.client.enqueue(c.body.clone()).unwrap();
            let tag = r.client.tag_of(h).unwrap().clone();
            r.tags.insert(c.tag.as_bytes().to_vec(), tag);
            r.handles.push((c.tag.as_bytes().to_vec(), h));
            r.expected_wire.push(m.clone());
        }
    }
    r.drain();
    for resp in resp {
        if let Response::Status(s) = &resp {
            if let Some(t) = &s.tag {
                statuses.insert(t.as_bytes().to_vec(), (s.status, String::new()));
            }
        }
        let bytes = match resp {
            Response::Status(mut s) if s.tag.is_some() => {
                let t = s.tag.as_ref().unwrap().as_bytes().to_vec();
                s.tag = r.tags.get(&t).cloned().or(s.tag);
                Response::Status(s).to_bytes(Dialect::Draft08)
            }
            other => other.to_bytes(Dialect::Draft08),
        };
        r.client.handle_input(&bytes, r.now);
        r.drain();
    }
    r.check(name, &statuses);
    r
}

#[test]
fn dovecot_session_replays() {
    let r = replay_transcript("dovecot-session");
    assert_eq!(r.client.state(), &ClientState::Logout);
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::LoggedIn(LoginOutcome::Plain))));
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::Selected { exists, .. } if *exists > 0)));
    assert!(r.events.iter().any(|e| matches!(e, Event::IdleStarted(_))));
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, Event::Mailbox(MailboxEvent::Expunged { .. }))));
}

#[test]
fn dovecot_qresync_session_replays() {
    let r = replay_transcript("dovecot-session-qresync");
    assert_eq!(r.client.state(), &ClientState::Logout);
}

#[test]
fn pimap_command_results_reach_the_completion() {
    use pimap::types::{Code, Data};
    let only = |r: &Replay| -> Vec<Completion> { r.completions().into_iter().cloned().collect() };
    // XGETPIMAPPREFS: the untagged preference list belongs to its command.
    let r = vector("TV-06-5.2.2-a");
    assert!(only(&r).iter().any(|c| c.command == "XGETPIMAPPREFS"
        && c.data
            .iter()
            .any(|d| matches!(d, Data::XGetPimapPrefs { prefs, .. } if !prefs.is_empty()))));
    // XFILTER GET: the filter listing belongs to its command.
    let r = vector("TV-06-5.2.3-b");
    assert!(only(&r)
        .iter()
        .any(|c| c.command == "XFILTER" && c.data.iter().any(|d| matches!(d, Data::XFilter(_)))));
    // XDELIVER with SAVETO: the completion carries APPENDUID (E-10 form read tolerantly).
    for name in ["TV-00-3.2.6-a", "TV-07-5.3.5-a"] {
        let r = vector(name);
        assert!(
            only(&r).iter().any(|c| c.command == "XDELIVER"
                && matches!(
                    c.status.code,
                    Some(Code::AppendUid {
                        uid_validity: 1,
                        ..
                    })
                )),
            "{name}"
        );
    }
}
