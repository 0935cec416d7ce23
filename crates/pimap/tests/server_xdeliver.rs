//! XDELIVER never leaves the device guessing: sent and saved, sent but not saved, or not
//! sent; reported on resumption when the connection died before the answer.

#[path = "support/server_harness.rs"]
mod harness;

use std::time::Instant;

use bytes::Bytes;
use harness::*;
use pimap::server::{Output, Reply, Request, SeededRandom, Server, ServerConfig, StoreOp};

const MSG: &str = "From: joe@example.com\r\nTo: ann@example.com\r\nSubject: hi\r\n\r\nHello\r\n";

fn xdeliver(tag: &str, saveto: &str) -> String {
    format!(
        "{tag} XDELIVER N SAVETO={saveto} ENVELOPE ((NIL NIL \"ann\" \"example.com\")) {{{}+}}\r\n{MSG}\r\n",
        MSG.len()
    )
}

fn setup() -> Harness<ScriptStore> {
    let mut store = ScriptStore::default();
    store.add_folder("joe", "INBOX", 1);
    store.add_folder("joe", "Sent", 0);
    Harness::new(ServerConfig::default(), store)
}

#[test]
fn missing_saveto_mailbox_sends_nothing() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let r = h.send(c, &xdeliver("a2", "Nowhere"));
    assert!(r.starts_with("a2 NO [TRYCREATE]"), "{r}");
    assert!(h.d.submitter.sent.is_empty(), "nothing may be sent");
    // The session goes on.
    let r = h.send(c, "a3 NOOP\r\n");
    assert!(r.ends_with("a3 OK completed\r\n"), "{r}");
}

#[test]
fn saveto_failure_after_sending_is_sent_not_saved_never_no() {
    let mut h = setup();
    h.d.store.fail_append = true;
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let r = h.send(c, &xdeliver("a2", "Sent"));
    assert!(r.starts_with("a2 OK [XDELIVER-UNSAVED]"), "{r}");
    assert_eq!(h.d.submitter.sent.len(), 1);
}

/// The raw server, with the caller's side of each request done by hand.
struct Raw {
    server: Server,
    now: Instant,
    wire: Vec<u8>,
    pending: Vec<(pimap::server::RequestId, Request)>,
}

impl Raw {
    fn new() -> Self {
        Raw {
            server: Server::with_parts(
                ServerConfig::default(),
                Box::new(SeededRandom::new(3)),
                Box::new(pimap::server::MemoryPersistence::new()),
            ),
            now: Instant::now(),
            wire: Vec::new(),
            pending: Vec::new(),
        }
    }
    fn drain(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Transmit { data, .. } => self.wire.extend_from_slice(&data),
                Output::Request { id, request, .. } => self.pending.push((id, request)),
                _ => {}
            }
        }
    }
    fn input(&mut self, c: pimap::server::ConnId, s: &str) {
        self.server.handle_input(c, s.as_bytes(), self.now).unwrap();
        self.drain();
    }
    fn take_request(&mut self) -> (pimap::server::RequestId, Request) {
        assert!(!self.pending.is_empty(), "a request is due");
        self.pending.remove(0)
    }
    fn complete(&mut self, id: pimap::server::RequestId, reply: Reply) {
        self.server.complete(id, reply, self.now).unwrap();
        self.drain();
    }
    fn login(&mut self) -> pimap::server::ConnId {
        let c = self.server.accept(self.now).unwrap();
        self.drain();
        self.input(c, "l1 LOGIN joe#P1 pw\r\n");
        let (id, r) = self.take_request();
        assert!(matches!(r, Request::Authenticate { .. }));
        self.complete(id, Reply::Ok);
        c
    }
    fn wire(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.wire)).unwrap()
    }
}

#[test]
fn device_gone_before_the_smtp_answer_learns_the_outcome_on_resume() {
    let mut r = Raw::new();
    let c = r.login();
    r.wire();
    r.input(c, &xdeliver("a2", "Sent"));
    let (id, req) = r.take_request();
    assert!(matches!(
        req,
        Request::Store {
            op: StoreOp::Status { .. },
            ..
        }
    ));
    r.complete(id, Reply::Status(Vec::new()));
    let (submit, req) = r.take_request();
    assert!(matches!(req, Request::Submit(_)));
    // The phone loses coverage while SMTP is still talking.
    r.server.handle_close(c, r.now);
    r.drain();
    r.complete(submit, Reply::Submitted);
    // The copy is still saved.
    let (id, req) = r.take_request();
    assert!(
        matches!(&req, Request::Store { op: StoreOp::Append { message, .. }, .. } if message == &Bytes::from(MSG)),
        "{req:?}"
    );
    r.complete(
        id,
        Reply::Appended {
            uid_validity: 42,
            uid: 7,
        },
    );
    // At resumption the device is told: sent and saved.
    let _ = r.login();
    let out = r.wire();
    assert!(
        out.contains("* OK [XDELIVERED a2 SAVED 42 7]"),
        "resume must report the outcome: {out}"
    );
}

#[test]
fn device_gone_before_the_saveto_check_means_nothing_sent_and_is_told() {
    let mut r = Raw::new();
    let c = r.login();
    r.input(c, &xdeliver("a2", "Sent"));
    let (id, _) = r.take_request();
    r.server.handle_close(c, r.now);
    r.drain();
    r.complete(id, Reply::Status(Vec::new()));
    assert!(
        r.pending.is_empty(),
        "nothing submitted behind the device's back"
    );
    let _ = r.login();
    let out = r.wire();
    assert!(out.contains("* NO [XDELIVERED a2 NOTSENT]"), "{out}");
}

#[test]
fn failed_submission_of_a_gone_device_is_reported_not_sent() {
    let mut r = Raw::new();
    let c = r.login();
    r.input(c, &format!("a3 XDELIVER N {{{}+}}\r\n{MSG}\r\n", MSG.len()));
    let (submit, req) = r.take_request();
    assert!(matches!(req, Request::Submit(_)));
    r.server.handle_close(c, r.now);
    r.drain();
    r.complete(submit, Reply::no("relay refused"));
    let _ = r.login();
    let out = r.wire();
    assert!(out.contains("* NO [XDELIVERED a3 NOTSENT]"), "{out}");
}

/// Without a submission path XDELIVER is neither advertised nor served.
#[test]
fn no_submitter_no_xdeliver() {
    use pimap::server::blocking::{Action, CollectingNotifier, Driver, NoSubmission};
    let mut store = ScriptStore::default();
    store.add_folder("joe", "INBOX", 1);
    let server = Server::new(ServerConfig::default());
    assert!(
        server.offers("XDELIVER"),
        "the default configuration offers it"
    );
    let mut d = Driver::new(server, store, NoSubmission, CollectingNotifier::default());
    assert!(!d.server.offers("XDELIVER"));
    let now = Instant::now();
    let text = |actions: Vec<Action>| -> String {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Transmit(_, b) => Some(String::from_utf8_lossy(&b).into_owned()),
                _ => None,
            })
            .collect()
    };
    let (c, a) = d.accept(now).expect("accept");
    let greeting = text(a);
    assert!(
        greeting.contains("IMAP4rev1") && !greeting.contains("XDELIVER"),
        "{greeting}"
    );
    let r = text(
        d.input(c, b"a LOGIN joe#phone pw\r\nb CAPABILITY\r\n", now)
            .expect("input"),
    );
    assert!(r.contains("b OK") && !r.contains("XDELIVER"), "{r}");
    let r = text(
        d.input(c, xdeliver("x", "INBOX").as_bytes(), now)
            .expect("input"),
    );
    assert!(r.contains("x NO") && r.contains("not offered"), "{r}");
}

/// A submission path that is down answers `NO [UNAVAILABLE]` (retry later); a refusal answers
/// a plain NO with the reason.
#[test]
fn submit_errors_are_typed() {
    use pimap::server::blocking::{Action, CollectingNotifier, Driver, Submitter};
    use pimap::server::{Submission, SubmitError};
    struct Failing(SubmitError);
    impl Submitter for Failing {
        fn submit(&mut self, _: &Submission) -> Result<(), SubmitError> {
            Err(self.0.clone())
        }
    }
    let text = |actions: Vec<Action>| -> String {
        actions
            .into_iter()
            .filter_map(|a| match a {
                Action::Transmit(_, b) => Some(String::from_utf8_lossy(&b).into_owned()),
                _ => None,
            })
            .collect()
    };
    for (err, expect) in [
        (
            SubmitError::Unavailable("relay down".into()),
            "x NO [UNAVAILABLE] Not sent: relay down",
        ),
        (
            SubmitError::Refused("no such recipient".into()),
            "x NO Not sent: no such recipient",
        ),
    ] {
        let mut store = ScriptStore::default();
        store.add_folder("joe", "INBOX", 1);
        let server = Server::new(ServerConfig::default());
        let mut d = Driver::new(server, store, Failing(err), CollectingNotifier::default());
        assert!(d.server.offers("XDELIVER"));
        let now = Instant::now();
        let (c, _) = d.accept(now).expect("accept");
        let _ = d.input(c, b"a LOGIN joe#phone pw\r\n", now).expect("input");
        let r = text(
            d.input(c, xdeliver("x", "INBOX").as_bytes(), now)
                .expect("input"),
        );
        assert!(r.contains(expect), "{expect}: {r}");
    }
}
