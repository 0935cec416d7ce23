//! The pimap client against a real Dovecot on 127.0.0.1 (installed and started by
//! tests/support/dovecot.rs): login, LIST, SELECT, FETCH of UID/FLAGS/ENVELOPE/BODYSTRUCTURE and
//! a body literal, STORE, IDLE with a message injected from another connection, DONE, FETCH of
//! the new message, LOGOUT. The client is driven over a std TcpStream; every wait is bounded.

#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/peers.rs"]
mod peers;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use pimap::client::{Client, ClientConfig, ClientState, Completion, Event, MailboxEvent, Output};
use pimap::codec::CommandDecoder;
use pimap::types::{ClientMessage, CommandBody, Data, FetchItem};

const WAIT: Duration = Duration::from_secs(15);

struct Driver {
    client: Client,
    stream: TcpStream,
    events: Vec<Event>,
}

impl Driver {
    /// Moves bytes both ways until an event satisfies `done`; returns that event.
    fn until(&mut self, what: &str, done: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + WAIT;
        let mut buf = [0u8; 16 * 1024];
        loop {
            while let Some(o) = self.client.poll_output() {
                match o {
                    Output::Transmit(b) => self.stream.write_all(&b).expect("write"),
                    Output::Event(e) => {
                        assert!(
                            !matches!(e, Event::ProtocolError(_) | Event::ViewInconsistent(_)),
                            "{e:?}"
                        );
                        self.events.push(e.clone());
                        if done(&e) {
                            return e;
                        }
                    }
                    _ => {}
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("server closed while waiting for {what}"),
                Ok(n) => self.client.handle_input(&buf[..n], Instant::now()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn complete(&mut self, body: CommandBody) -> Completion {
        let h = self.client.enqueue(body).expect("enqueue");
        match self.until(
            "completion",
            |e| matches!(e, Event::Completed(c) if c.handle == h),
        ) {
            Event::Completed(c) => {
                assert!(c.is_ok(), "{} failed: {:?}", c.command, c.status);
                c
            }
            _ => unreachable!(),
        }
    }
}

/// A command body from its text (the same decoder that reads a server's input).
fn cmd(text: &str) -> CommandBody {
    let mut d = CommandDecoder::default();
    d.feed(format!("x {text}\r\n").as_bytes());
    match d.next() {
        Ok(Some(ClientMessage::Command(c))) => c.body,
        other => panic!("{text}: {other:?}"),
    }
}

const MESSAGE: &[u8] = b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: first\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello from the pimap interop test.\r\n";

#[test]
fn client_session_against_dovecot() {
    if !peers::available("client_session_against_dovecot", &[peers::DOVECOT]) {
        return;
    }
    session(false);
}

/// The same session through COMPRESS=DEFLATE (RFC 4978; Dovecot's imap_zlib plugin): every
/// byte after the tagged OK is raw DEFLATE in both directions, including the IDLE push.
#[test]
fn client_session_against_dovecot_compressed() {
    if !peers::available(
        "client_session_against_dovecot_compressed",
        &[peers::DOVECOT],
    ) {
        return;
    }
    session(true);
}

fn session(compress: bool) {
    let server = dovecot::Dovecot::start_with(dovecot::Options {
        compress,
        ..Default::default()
    });
    server.inject("INBOX", MESSAGE);
    let stream = server.connect();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut d = Driver {
        client: Client::new(ClientConfig::default()),
        stream,
        events: Vec::new(),
    };
    d.until("greeting", |e| matches!(e, Event::Greeting { .. }));

    let h = d.client.login(&server.user, &server.password).unwrap();
    d.until(
        "login",
        |e| matches!(e, Event::Completed(c) if c.handle == h),
    );
    assert_eq!(d.client.state(), &ClientState::Authenticated);
    if compress {
        assert!(
            d.client.capabilities().has("COMPRESS=DEFLATE"),
            "Dovecot must offer COMPRESS=DEFLATE"
        );
        let h = d.client.compress().unwrap();
        d.until(
            "COMPRESS",
            |e| matches!(e, Event::Completed(c) if c.handle == h && c.is_ok()),
        );
        assert!(d.client.is_compressed());
    }

    let list = d.complete(cmd(r#"LIST "" "*""#));
    assert!(list.data.iter().any(|x| matches!(x, Data::List(_))));

    d.client.select("INBOX").unwrap();
    match d.until("select", |e| matches!(e, Event::Selected { .. })) {
        Event::Selected {
            exists,
            uid_validity,
            ..
        } => {
            assert_eq!(exists, 1);
            assert!(uid_validity.is_some());
        }
        _ => unreachable!(),
    }

    let f = d.complete(cmd("FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE)"));
    let items: Vec<&FetchItem> = f
        .data
        .iter()
        .filter_map(|x| match x {
            Data::Fetch { items, .. } => Some(items),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(items.iter().any(|i| matches!(i, FetchItem::Uid(_))));
    assert!(items.iter().any(|i| matches!(i, FetchItem::Envelope(e) if e.subject.as_ref().is_some_and(|s| s.as_bytes() == b"first"))));
    assert!(items
        .iter()
        .any(|i| matches!(i, FetchItem::BodyStructure(_))));

    let body = d.complete(cmd("FETCH 1 BODY[]"));
    assert!(body.data.iter().any(|x| matches!(x, Data::Fetch { items, .. }
        if items.iter().any(|i| matches!(i, FetchItem::BodySection { data: Some(b), .. } if b.as_bytes() == MESSAGE)))));

    d.complete(cmd(r"STORE 1 +FLAGS (\Flagged)"));
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e, Event::Mailbox(MailboxEvent::FlagsChanged { seq: 1, .. }))));

    // IDLE, then a message arrives through another connection.
    let idle = d.client.idle().unwrap();
    d.until("IDLE", |e| matches!(e, Event::IdleStarted(h) if *h == idle));
    let pushed_at = Instant::now();
    server.inject("INBOX", b"Subject: second\r\n\r\npushed\r\n");
    d.until("pushed EXISTS", |e| {
        matches!(e, Event::Mailbox(MailboxEvent::Exists { count: 2 }))
    });
    eprintln!("push seen {:?} after injection", pushed_at.elapsed());
    d.client.done().unwrap();
    d.until(
        "IDLE completion",
        |e| matches!(e, Event::Completed(c) if c.handle == idle),
    );

    let new = d.complete(cmd("FETCH 2 (UID ENVELOPE)"));
    assert!(new
        .data
        .iter()
        .any(|x| matches!(x, Data::Fetch { seq: 2, .. })));
    assert_eq!(d.client.mailbox().map(|v| v.exists()), Some(2));

    d.complete(CommandBody::Logout);
    assert_eq!(d.client.state(), &ClientState::Logout);
}
