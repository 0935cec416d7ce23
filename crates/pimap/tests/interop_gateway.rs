//! examples/gateway.rs (our sans-IO Server in front of a real Dovecot, reached with our own
//! Client) driven by our Client as a device: push through the watch connection, queued events
//! on session resume, XDELIVER over SMTP with SAVETO/APPENDUID, and a backend restart (Dovecot
//! stopped and started again on the same port) that ends in `* RESYNC`. Everything on 127.0.0.1; every
//! wait is bounded.

#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/gateway_process.rs"]
mod gateway_process;
#[path = "support/peers.rs"]
mod peers;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gateway_process::Gateway;
use pimap::client::{Client, ClientConfig, Completion, Event, LoginOutcome, MailboxEvent, Output};
use pimap::codec::CommandDecoder;
use pimap::types::{ClientMessage, Code, CommandBody};

const WAIT: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------------------------------
// the gateway process

fn start_gateway(backend_port: u16, smtp_port: Option<u16>) -> Gateway {
    start_gateway_with(backend_port, smtp_port, &[])
}

fn start_gateway_with(backend_port: u16, smtp_port: Option<u16>, extra: &[&str]) -> Gateway {
    let smtp = smtp_port.map(|p| format!("127.0.0.1:{p}"));
    let mut args = vec!["--notify", "log", "--max-seconds", "120"];
    if let Some(s) = &smtp {
        args.extend(["--smtp", s.as_str()]);
    }
    args.extend(extra);
    gateway_process::start(backend_port, &args, Stdio::inherit())
}

// ------------------------------------------------------------------------------------------
// a device: our Client over a std TcpStream

struct Device {
    client: Client,
    stream: TcpStream,
    events: Vec<Event>,
    raw: Vec<u8>,
}

impl Device {
    fn connect(port: u16) -> Device {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect gateway");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut d = Device {
            client: Client::new(ClientConfig::default()),
            stream,
            events: Vec::new(),
            raw: Vec::new(),
        };
        d.until("greeting", |e| matches!(e, Event::Greeting { .. }));
        d
    }

    /// Moves bytes until an event satisfies `done` or `limit` passes.
    fn try_until(&mut self, limit: Duration, done: impl Fn(&Event) -> bool) -> Option<Event> {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 16 * 1024];
        loop {
            while let Some(o) = self.client.poll_output() {
                match o {
                    Output::Transmit(b) => self.stream.write_all(&b).expect("write"),
                    Output::Event(e) => {
                        assert!(!matches!(e, Event::ProtocolError(_)), "{e:?}");
                        self.events.push(e.clone());
                        if done(&e) {
                            return Some(e);
                        }
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("gateway closed the connection"),
                Ok(n) => {
                    self.raw.extend_from_slice(&buf[..n]);
                    self.client.handle_input(&buf[..n], Instant::now());
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    fn until(&mut self, what: &str, done: impl Fn(&Event) -> bool) -> Event {
        self.try_until(WAIT, done)
            .unwrap_or_else(|| panic!("timed out waiting for {what}; events {:?}", self.events))
    }

    fn run(&mut self, body: CommandBody) -> Completion {
        let h = self.client.enqueue(body).expect("enqueue");
        match self.until(
            "completion",
            |e| matches!(e, Event::Completed(c) if c.handle == h),
        ) {
            Event::Completed(c) => c,
            _ => unreachable!(),
        }
    }

    fn ok(&mut self, text: &str) -> Completion {
        let c = self.run(cmd(text));
        assert!(c.is_ok(), "{text}: {:?}", c.status);
        c
    }

    fn login(&mut self, user: &str, password: &str) -> LoginOutcome {
        let h = self.client.login(user, password).unwrap();
        let mut outcome = None;
        loop {
            match self.until("login", |e| {
                matches!(e, Event::LoggedIn(_)) || matches!(e, Event::Completed(c) if c.handle == h)
            }) {
                Event::LoggedIn(o) => outcome = Some(o),
                Event::Completed(c) => {
                    assert!(c.is_ok(), "LOGIN {user}: {:?}", c.status);
                    return outcome.expect("LoggedIn before the tagged OK");
                }
                _ => unreachable!(),
            }
        }
    }

    fn select_inbox(&mut self) -> u32 {
        self.client.select("INBOX").unwrap();
        match self.until("select", |e| matches!(e, Event::Selected { .. })) {
            Event::Selected { exists, .. } => exists,
            _ => unreachable!(),
        }
    }

    fn idle(&mut self) -> pimap::client::CommandHandle {
        let h = self.client.idle().unwrap();
        self.until("IDLE", |e| matches!(e, Event::IdleStarted(x) if *x == h));
        h
    }

    fn done(&mut self, h: pimap::client::CommandHandle) {
        self.client.done().unwrap();
        self.until(
            "IDLE completion",
            |e| matches!(e, Event::Completed(c) if c.handle == h),
        );
    }
}

/// A command body from its text (the same decoder that reads a server's input).
fn cmd(text: &str) -> CommandBody {
    cmd_bytes(format!("x {text}\r\n").as_bytes())
}

fn cmd_bytes(wire: &[u8]) -> CommandBody {
    let mut d = CommandDecoder::default();
    d.feed(wire);
    match d.next() {
        Ok(Some(ClientMessage::Command(c))) => c.body,
        other => panic!("{}: {other:?}", String::from_utf8_lossy(wire)),
    }
}

/// Poll `f` every 100 ms until it is true or `limit` passes.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

// ------------------------------------------------------------------------------------------
// a. push through the gateway, and queued events on session resume

#[test]
fn push_and_resume_through_gateway() {
    if !peers::available("push_and_resume_through_gateway", &[peers::DOVECOT]) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    dc.inject(
        "INBOX",
        b"From: a@example.com\r\nSubject: already there\r\n\r\nold\r\n",
    );
    let gw = start_gateway(dc.port, None);

    let mut d = Device::connect(gw.port);
    let outcome = d.login("alice#phone", "alicepw");
    assert_eq!(outcome, LoginOutcome::Fresh);
    d.ok("XFILTER INBOX N ALL");
    assert_eq!(d.select_inbox(), 1);

    let idle = d.idle();
    dc.inject(
        "INBOX",
        b"From: b@example.com\r\nSubject: pushed\r\n\r\npushed through the gateway\r\n",
    );
    d.until("pushed EXISTS/FETCH", |e| {
        matches!(
            e,
            Event::Mailbox(MailboxEvent::Exists { count: 2 })
                | Event::Mailbox(MailboxEvent::Fetched { seq: 2, .. })
        )
    });
    d.done(idle);
    // The phone keeps its view and XRESUME position, as a real client persists them.
    let view = d.client.mailbox().cloned();
    let cursor = d.client.resume_cursor();
    drop(d);

    // The device is gone; the event is queued in its session.
    dc.inject(
        "INBOX",
        b"From: c@example.com\r\nSubject: queued\r\n\r\nwhile away\r\n",
    );
    std::thread::sleep(Duration::from_secs(3)); // the watch connection reports within ~1 s

    let mut d = Device::connect(gw.port);
    if let Some(v) = view {
        d.client.restore_view(v);
    }
    d.client
        .restore_cursor(cursor.expect("the gateway offers XRESUME"));
    let outcome = d.login("alice#phone", "alicepw");
    let raw = String::from_utf8_lossy(&d.raw).into_owned();
    assert!(
        !raw.contains("* RESYNC"),
        "it read everything before leaving: {raw}"
    );
    assert!(raw.contains("* SESSION SELECTED\r\n"), "{raw}");
    assert!(raw.contains("* FOLDER INBOX\r\n"), "{raw}");
    match outcome {
        LoginOutcome::ResumedSelected { mailbox, events } => {
            assert!(mailbox.is_inbox());
            assert!(events >= 1, "no queued event: {raw}");
        }
        other => panic!("unexpected outcome {other:?}: {raw}"),
    }
    assert!(
        raw.contains("* 3 EXISTS") || raw.contains("* 3 FETCH"),
        "{raw}"
    );
    assert_eq!(d.client.mailbox().map(|v| v.exists()), Some(3));

    // Pass-through store operations on the resumed session.
    let f = d.ok("FETCH 3 (UID ENVELOPE)");
    assert!(!f.data.is_empty());
    d.ok(r"STORE 1 +FLAGS (\Flagged)");
    let s = d.ok("SEARCH FLAGGED");
    assert!(format!("{:?}", s.data).contains("Search"), "{:?}", s.data);
    d.ok(r#"LIST "" "*""#);
    d.ok("STATUS INBOX (MESSAGES UIDNEXT)");
    d.ok("LOGOUT");
}

// ------------------------------------------------------------------------------------------
// b. XDELIVER over SMTP, SAVETO=Sent with APPENDUID

struct Sink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn has_aiosmtpd() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start_sink() -> Sink {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    if !has_aiosmtpd() {
        let _ = Command::new("bash").arg(interop.join("setup.sh")).status();
    }
    assert!(has_aiosmtpd(), "python3 cannot import aiosmtpd");
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("pimap-gw-sink-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new("python3")
        .arg(interop.join("smtp_sink.py"))
        .args(["--dir", dir.to_str().unwrap(), "--host", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start smtp_sink.py");
    let sink = Sink { child, port, dir };
    let up = eventually(WAIT, || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok_and(|s| {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut l = String::new();
            BufReader::new(s).read_line(&mut l).is_ok() && l.starts_with("220")
        })
    });
    assert!(up, "SMTP sink did not come up on port {port}");
    sink
}

#[test]
fn xdeliver_through_gateway() {
    if !peers::available(
        "xdeliver_through_gateway",
        &[peers::DOVECOT, peers::AIOSMTPD],
    ) {
        return;
    }
    let sink = start_sink();
    let dc = dovecot::Dovecot::start();
    let gw = start_gateway(dc.port, Some(sink.port));

    let mut d = Device::connect(gw.port);
    d.login("alice#mail", "alicepw");
    // Sent may exist already (autocreate); either way it exists afterwards.
    let _ = d.run(cmd("CREATE Sent"));

    let msg = b"From: alice@localhost\r\nTo: Bob <bob@example.com>\r\nSubject: via the gateway\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\nlast\r\n";
    let mut wire = format!("x XDELIVER N SAVETO=Sent {{{}}}\r\n", msg.len()).into_bytes();
    wire.extend_from_slice(msg);
    wire.extend_from_slice(b"\r\n");
    let c = d.run(cmd_bytes(&wire));
    assert!(c.is_ok(), "XDELIVER: {:?}", c.status);
    let appended = match &c.status.code {
        Some(Code::AppendUid { uids, .. }) => uids.iter(u32::MAX).next(),
        other => panic!("no APPENDUID: {other:?}"),
    };
    assert!(appended.is_some_and(|u| u > 0));

    let eml = sink.dir.join("000001.eml");
    assert!(
        eventually(WAIT, || eml.exists()),
        "nothing arrived at the sink"
    );
    assert_eq!(std::fs::read(&eml).unwrap(), msg.to_vec(), "not byte-exact");
    let meta = std::fs::read_to_string(sink.dir.join("000001.json")).unwrap();
    assert!(meta.contains("bob@example.com"), "{meta}");
    assert!(meta.contains("alice@localhost"), "{meta}");

    // The copy is in Sent on the backend.
    let st = d.ok("STATUS Sent (MESSAGES)");
    assert!(
        format!("{:?}", st.data).contains("Messages, 1"),
        "{:?}",
        st.data
    );
    d.ok("LOGOUT");
}

// ------------------------------------------------------------------------------------------
// c. backend restart: Dovecot is stopped, a message is delivered meanwhile (into the Maildir), and
//    Dovecot is started again. The gateway reconnects and catches up from a fresh snapshot:
//    the idling device gets the new message as an exact event, and no `* RESYNC`.

#[test]
fn backend_restart_is_caught_up_without_resync() {
    if !peers::available(
        "backend_restart_is_caught_up_without_resync",
        &[peers::DOVECOT],
    ) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    dc.inject("INBOX", b"Subject: one\r\n\r\n1\r\n");
    let mut gw = start_gateway(dc.port, None);

    let mut d = Device::connect(gw.port);
    d.login("alice#tab", "alicepw");
    d.ok("XFILTER INBOX N ALL");
    assert_eq!(d.select_inbox(), 1);
    let idle = d.idle();

    // The gateway's command and watch connections break; mail arrives while the backend is
    // down.
    dc.stop();
    dc.drop_into_maildir("alice", b"Subject: two\n\nwhile the backend was down\n");
    dc.start_again();
    eprintln!("Dovecot restarted");

    // The watch reconnects with backoff; under a loaded CI machine (several Dovecots
    // restarting at once) that took more than 10 s.
    let got = d
        .try_until(Duration::from_secs(40), |e| {
            matches!(
                e,
                Event::ResyncRequired
                    | Event::Mailbox(MailboxEvent::Exists { count: 2 })
                    | Event::Mailbox(MailboxEvent::Fetched { seq: 2, .. })
            )
        })
        .expect("neither the missed message nor RESYNC after the restart");
    assert!(
        !matches!(got, Event::ResyncRequired),
        "RESYNC although the gateway could tell what changed: {:?}",
        d.events
    );
    d.done(idle);
    assert!(gw.child.try_wait().unwrap().is_none(), "gateway exited");

    // The gateway works again: a store request and a new push.
    let f = d.ok("FETCH 2 (UID ENVELOPE)");
    assert!(
        format!("{:?}", f.data).contains(r#"subject: Some(IString("two"))"#),
        "{:?}",
        f.data
    );
    let idle = d.idle();
    dc.inject("INBOX", b"Subject: three\r\n\r\n3\r\n");
    d.until("push after reconnect", |e| {
        matches!(
            e,
            Event::Mailbox(MailboxEvent::Exists { count: 3 })
                | Event::Mailbox(MailboxEvent::Fetched { seq: 3, .. })
        )
    });
    d.done(idle);
    assert!(
        !d.events.iter().any(|e| matches!(e, Event::ResyncRequired)),
        "{:?}",
        d.events
    );
    d.ok("LOGOUT");
}

// ------------------------------------------------------------------------------------------
// d. the first commands after a push see the pushed message (the command connection's view
//    is brought up to date first), and a sequence-number FETCH that names UID carries it

#[test]
fn commands_right_after_a_push_see_the_pushed_message() {
    if !peers::available(
        "commands_right_after_a_push_see_the_pushed_message",
        &[peers::DOVECOT],
    ) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    dc.inject("INBOX", b"Subject: one\r\n\r\n1\r\n");
    let gw = start_gateway(dc.port, None);

    let mut d = Device::connect(gw.port);
    d.login("alice#phone", "alicepw");
    let _ = d.run(cmd("CREATE Kept"));
    d.ok("XFILTER INBOX N ALL");
    assert_eq!(d.select_inbox(), 1);
    let f = d.ok("FETCH 1 (UID)");
    let uid_of = |c: &Completion, seq: u32| {
        c.data.iter().find_map(|x| match x {
            pimap::types::Data::Fetch { seq: s, items } if *s == seq => {
                items.iter().find_map(|i| match i {
                    pimap::types::FetchItem::Uid(u) => Some(*u),
                    _ => None,
                })
            }
            _ => None,
        })
    };
    assert!(
        uid_of(&f, 1).is_some(),
        "FETCH 1 (UID) without UID: {:?}",
        f.data
    );

    let idle = d.idle();
    let pushed_uid = dc.inject("INBOX", b"Subject: two\r\n\r\npushed\r\n");
    d.until("pushed EXISTS", |e| {
        matches!(
            e,
            Event::Mailbox(MailboxEvent::Exists { count: 2 })
                | Event::Mailbox(MailboxEvent::Fetched { seq: 2, .. })
        )
    });
    d.done(idle);

    // At once, before anything else touches the gateway's command connection.
    let s = d.ok("SEARCH ALL");
    assert!(
        s.data
            .iter()
            .any(|x| matches!(x, pimap::types::Data::Search { ids, .. } if ids.contains(&2))),
        "SEARCH ALL misses the pushed message: {:?}",
        s.data
    );
    let f = d.ok("FETCH 2 (UID FLAGS)");
    assert_eq!(uid_of(&f, 2), Some(pushed_uid), "{:?}", f.data);
    // The backend connection's \Recent is not the device's: none is shown, as SELECT
    // (`* 0 RECENT`) and STATUS (`RECENT 0`) say.
    assert!(!format!("{:?}", f.data).contains("Recent"), "{:?}", f.data);
    let st = d.ok("STATUS INBOX (RECENT)");
    assert!(
        st.data
            .iter()
            .any(|x| matches!(x, pimap::types::Data::Status { items, .. }
            if items.contains(&(pimap::types::StatusAttr::Recent, 0)))),
        "{:?}",
        st.data
    );
    d.ok(r"STORE 2 +FLAGS (\Flagged)");
    let c = d.ok("COPY 2 Kept");
    assert!(
        matches!(c.status.code, Some(Code::CopyUid { .. })),
        "COPY of the pushed message without COPYUID: {:?}",
        c.status
    );
    // MOVE is offered and passed through, with COPYUID (a client without it falls back to
    // COPY + STORE + EXPUNGE).
    let caps = d.ok("CAPABILITY");
    assert!(
        format!("{:?}", caps.data).contains("MOVE"),
        "{:?}",
        caps.data
    );
    let m = d.ok("MOVE 2 Kept");
    let codes: Vec<&Code> = m.status.code.iter().chain(m.codes.iter()).collect();
    assert!(
        codes.iter().any(|c| matches!(c, Code::CopyUid { .. })),
        "MOVE without COPYUID: {:?} {:?}",
        m.status,
        m.codes
    );
    assert!(
        m.data
            .iter()
            .any(|x| matches!(x, pimap::types::Data::Expunge(2))),
        "MOVE did not expunge message 2 from the view: {:?}",
        m.data
    );
    d.ok("LOGOUT");

    // What the backend holds, asked directly: the copy and the moved message, both flagged,
    // in Kept; INBOX has only the first message.
    let mut direct = Device::connect(dc.port);
    direct.login("alice", "alicepw");
    let has = |c: &Completion, n: u64| {
        c.data.iter().any(|x| {
            matches!(x, pimap::types::Data::Status { items, .. }
                if items.contains(&(pimap::types::StatusAttr::Messages, n)))
        })
    };
    let st = direct.ok("STATUS Kept (MESSAGES)");
    assert!(has(&st, 2), "Kept should hold 2: {:?}", st.data);
    let st = direct.ok("STATUS INBOX (MESSAGES)");
    assert!(has(&st, 1), "INBOX should hold 1: {:?}", st.data);
    direct.ok("SELECT Kept");
    let s = direct.ok("SEARCH FLAGGED");
    assert!(
        s.data
            .iter()
            .any(|x| matches!(x, pimap::types::Data::Search { ids, .. } if ids == &vec![1, 2])),
        "the flag did not reach the backend: {:?}",
        s.data
    );
    direct.ok("LOGOUT");
}

// ------------------------------------------------------------------------------------------
// e. one backend session per user whatever case the device typed; idle command connections
//    and watchers of users without sessions go away

#[test]
fn user_case_is_folded_and_idle_backend_connections_close() {
    if !peers::available(
        "user_case_is_folded_and_idle_backend_connections_close",
        &[peers::DOVECOT],
    ) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    dc.inject("INBOX", b"Subject: one\r\n\r\n1\r\n");
    let gw = start_gateway_with(
        dc.port,
        None,
        &["--backend-idle-secs", "1", "--idle-refresh-secs", "1"],
    );
    // A device session under one spelling is the same session under another.
    let mut d = Device::connect(gw.port);
    assert_eq!(d.login("alice#phone", "alicepw"), LoginOutcome::Fresh);
    d.ok("XFILTER INBOX N ALL");
    assert_eq!(d.select_inbox(), 1);
    drop(d);
    let mut d = Device::connect(gw.port);
    let outcome = d.login("ALICE#phone", "alicepw");
    assert!(
        !matches!(outcome, LoginOutcome::Fresh),
        "ALICE#phone started a new session: {outcome:?}"
    );
    d.ok("LOGOUT");
    // Eight plain logins in different cases, each logged out.
    let mut most = 0;
    for name in [
        "alice", "ALICE", "Alice", "aLice", "alICE", "ALice", "alicE", "AlIcE",
    ] {
        let mut d = Device::connect(gw.port);
        d.login(name, "alicepw");
        d.select_inbox();
        most = most.max(dc.imap_connections("alice"));
        d.ok("LOGOUT");
    }
    eprintln!("backend connections of alice while logged in: at most {most}");
    assert!(
        most <= 2,
        "one command and one watch connection per user, saw {most}"
    );
    // No session is left: within a few idle periods every backend connection is gone.
    let gone = eventually(Duration::from_secs(15), || {
        dc.imap_connections("alice") == 0
    });
    assert!(
        gone,
        "backend connections left open: {}",
        dc.imap_connections("alice")
    );
    // And a new login works (a new worker and watcher), with push.
    let mut d = Device::connect(gw.port);
    d.login("Alice#tab", "alicepw");
    d.ok("XFILTER INBOX N ALL");
    assert_eq!(d.select_inbox(), 1);
    let idle = d.idle();
    dc.inject("INBOX", b"Subject: two\r\n\r\n2\r\n");
    d.until("push after the watcher restarted", |e| {
        matches!(
            e,
            Event::Mailbox(MailboxEvent::Exists { count: 2 })
                | Event::Mailbox(MailboxEvent::Fetched { seq: 2, .. })
        )
    });
    d.done(idle);
    d.ok("LOGOUT");
}

// ------------------------------------------------------------------------------------------
// f. mail delivered into a folder other than INBOX is pushed (the folder poll)

#[test]
fn delivery_into_another_folder_is_pushed() {
    if !peers::available("delivery_into_another_folder_is_pushed", &[peers::DOVECOT]) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    let gw = start_gateway_with(dc.port, None, &["--poll-folders-secs", "1"]);
    let mut d = Device::connect(gw.port);
    d.login("alice#phone", "alicepw");
    let _ = d.run(cmd("CREATE Lists"));
    dc.inject("Lists", b"Subject: first\r\n\r\n1\r\n");
    d.ok("XFILTER Lists N ALL");
    d.client.select("Lists").unwrap();
    match d.until("select", |e| matches!(e, Event::Selected { .. })) {
        Event::Selected { exists, .. } => assert_eq!(exists, 1),
        _ => unreachable!(),
    }
    let idle = d.idle();
    let t = Instant::now();
    dc.inject("Lists", b"Subject: second\r\n\r\nto the list\r\n");
    d.until("push of mail delivered into Lists", |e| {
        matches!(
            e,
            Event::Mailbox(MailboxEvent::Exists { count: 2 })
                | Event::Mailbox(MailboxEvent::Fetched { seq: 2, .. })
        )
    });
    eprintln!(
        "pushed from Lists after {:?} (poll interval 1 s)",
        t.elapsed()
    );
    d.done(idle);
    d.ok("LOGOUT");
}

// ------------------------------------------------------------------------------------------
// g. what the gateway adds to push latency: an IDLE client directly on Dovecot and a device
//    in IDLE through the gateway see each delivery; the difference between the two arrival
//    times is the gateway's share (watch connection -> describe -> server -> device). The
//    figures are printed (run with --nocapture); the test asserts only that every delivery
//    reached both, in order.

/// Lines read from `stream`, each with the instant it was read, sent to `tx`.
fn timestamped_lines(stream: TcpStream, tx: mpsc::Sender<(Instant, String)>) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(stream);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            if tx
                .send((Instant::now(), std::mem::take(&mut line)))
                .is_err()
            {
                return;
            }
        }
    });
}

/// Log in, select INBOX and enter IDLE with raw commands; lines come on the channel.
fn raw_idler(
    port: u16,
    login: &str,
    setup: &[&str],
) -> (TcpStream, mpsc::Receiver<(Instant, String)>) {
    let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    s.set_nodelay(true).unwrap();
    let (tx, rx) = mpsc::channel();
    timestamped_lines(s.try_clone().unwrap(), tx);
    let mut w = s.try_clone().unwrap();
    let mut n = 0;
    let mut send = |cmd: &str| {
        n += 1;
        let tag = format!("p{n}");
        w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).unwrap();
        loop {
            let (_, l) = rx.recv_timeout(WAIT).expect("answer");
            if l.starts_with(&format!("{tag} ")) {
                assert!(l.starts_with(&format!("{tag} OK")), "{cmd}: {l}");
                return;
            }
        }
    };
    send(&format!("LOGIN {login} alicepw"));
    for c in setup {
        send(c);
    }
    send("SELECT INBOX");
    w.write_all(b"p99 IDLE\r\n").unwrap();
    loop {
        let (_, l) = rx.recv_timeout(WAIT).expect("IDLE continuation");
        if l.starts_with('+') {
            break;
        }
    }
    (s, rx)
}

fn exists_of(line: &str) -> Option<u32> {
    let rest = line.strip_prefix("* ")?;
    let (n, what) = rest.split_once(' ')?;
    what.trim_end()
        .eq("EXISTS")
        .then(|| n.parse().ok())
        .flatten()
}

#[test]
fn push_latency_added_by_the_gateway() {
    if !peers::available("push_latency_added_by_the_gateway", &[peers::DOVECOT]) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    let gw = start_gateway(dc.port, None);
    let (_direct, direct_rx) = raw_idler(dc.port, "alice", &[]);
    // A second direct client: how far apart Dovecot itself tells two IDLE sessions.
    let (_twin, twin_rx) = raw_idler(dc.port, "alice", &[]);
    let (_device, device_rx) = raw_idler(gw.port, "alice#lat", &["XFILTER INBOX N ALL"]);
    let rounds = 20u32;
    let mut added = Vec::new();
    let mut spread = Vec::new();
    for i in 1..=rounds {
        dc.inject(
            "INBOX",
            format!("Subject: latency {i}\r\n\r\nround {i}\r\n").as_bytes(),
        );
        let arrival = |rx: &mpsc::Receiver<(Instant, String)>| loop {
            let (t, l) = rx.recv_timeout(WAIT).expect("EXISTS");
            if exists_of(&l) == Some(i) {
                return t;
            }
        };
        let d = arrival(&direct_rx);
        let t = arrival(&twin_rx);
        let g = arrival(&device_rx);
        let first = d.min(t);
        added.push(g.saturating_duration_since(first));
        spread.push(d.max(t).saturating_duration_since(first));
        std::thread::sleep(Duration::from_millis(50));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let show = |what: &str, v: &mut Vec<Duration>| {
        v.sort();
        eprintln!(
            "{what}, {rounds} deliveries: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
            ms(v[v.len() / 2]),
            ms(v[v.len() * 9 / 10]),
            ms(v[v.len() - 1])
        );
    };
    show(
        "device through the gateway after the first direct IDLE client",
        &mut added,
    );
    show("second direct IDLE client after the first", &mut spread);
}

// ------------------------------------------------------------------------------------------
// h. a message larger than the gateway's FETCH chunk (1 MiB): the gateway streams BODY[] as
//    partials from Dovecot (`BODY.PEEK[]<offset.count>`) under one announced literal; the
//    device receives exactly Dovecot's octets, and RFC822 the same.

/// Log in as alice, select INBOX and FETCH `item` of message 1 over a raw connection; the
/// literal of the first FETCH response carrying `want` (`BODY[]` or `RFC822`).
fn raw_fetch(addr: (Ipv4Addr, u16), item: &str, want: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(
        format!("a LOGIN alice alicepw\r\nb SELECT INBOX\r\nc FETCH 1 ({item})\r\nd LOGOUT\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut wire = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    while !wire.windows(6).any(|w| w == b"d OK L") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => wire.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read: {e} after {} octets", wire.len()),
        }
    }
    let mut d = pimap::codec::ResponseDecoder::default();
    d.feed(&wire);
    while let Some(r) = d.next().expect("well-formed responses") {
        if let pimap::types::Response::Data(pimap::types::Data::Fetch { items, .. }) = r {
            for i in items {
                match (i, want) {
                    (pimap::types::FetchItem::BodySection { data, .. }, "BODY[]")
                    | (pimap::types::FetchItem::Rfc822(data), "RFC822") => {
                        return data.map(|d| d.to_bytes().to_vec()).unwrap_or_default()
                    }
                    _ => {}
                }
            }
        }
    }
    panic!("no {want} in the answer to FETCH {item}");
}

#[test]
fn a_message_larger_than_a_fetch_chunk_is_streamed_exactly() {
    if !peers::available(
        "a_message_larger_than_a_fetch_chunk_is_streamed_exactly",
        &[peers::DOVECOT],
    ) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    let gw = start_gateway(dc.port, None);
    // 3 MB of varied lines, so that a misplaced piece shows.
    let mut msg = b"From: a@example.org\r\nSubject: large\r\n\r\n".to_vec();
    let mut i = 0u32;
    while msg.len() < 3_000_000 {
        msg.extend_from_slice(format!("line {i} of the large message\r\n").as_bytes());
        i += 1;
    }
    dc.inject("INBOX", &msg);
    let direct = raw_fetch((Ipv4Addr::LOCALHOST, dc.port), "BODY.PEEK[]", "BODY[]");
    assert_eq!(direct.len(), msg.len(), "Dovecot holds the message as sent");
    let through = raw_fetch((Ipv4Addr::LOCALHOST, gw.port), "BODY.PEEK[]", "BODY[]");
    assert!(through == direct, "BODY[] through the gateway is Dovecot's");
    let through = raw_fetch((Ipv4Addr::LOCALHOST, gw.port), "RFC822", "RFC822");
    assert!(through == direct, "RFC822 through the gateway is Dovecot's");
}
