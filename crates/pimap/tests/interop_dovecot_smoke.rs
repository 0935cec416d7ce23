//! Smoke test of the Dovecot interop harness (tests/support/dovecot.rs): a raw std TcpStream
//! talks to a real Dovecot on 127.0.0.1, IDLEs, and sees messages delivered by another
//! connection (IMAP APPEND) and by dovecot-lda pushed as `* n EXISTS`.
//! It proves the harness only; it does not use the pimap library.

#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/peers.rs"]
mod peers;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long an IDLE client may wait for a pushed EXISTS.
const PUSH_LIMIT: Duration = Duration::from_secs(10);

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn send(&mut self, line: &str) {
        self.w
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("write {line:?}: {e}"));
    }

    /// One line without CRLF; fails if nothing complete arrives before `deadline`.
    fn line_before(&mut self, deadline: Instant) -> String {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "deadline passed while waiting for a line");
        self.r
            .get_ref()
            .set_read_timeout(Some(left))
            .expect("set_read_timeout");
        let mut buf = String::new();
        let n = self
            .r
            .read_line(&mut buf)
            .unwrap_or_else(|e| panic!("read failed or timed out ({e}); partial {buf:?}"));
        assert!(n > 0 && buf.ends_with('\n'), "connection closed: {buf:?}");
        let line = buf.trim_end_matches(['\r', '\n']).to_string();
        eprintln!("S: {line}");
        line
    }

    fn line(&mut self) -> String {
        self.line_before(Instant::now() + dovecot::IO_TIMEOUT)
    }

    /// Send `tag cmd`, read until the tagged response, assert it is OK; returns the untagged
    /// lines seen on the way.
    fn ok(&mut self, tag: &str, cmd: &str) -> Vec<String> {
        self.send(&format!("{tag} {cmd}"));
        self.tagged_ok(tag)
    }

    fn tagged_ok(&mut self, tag: &str) -> Vec<String> {
        let prefix = format!("{tag} ");
        let mut untagged = Vec::new();
        for _ in 0..1000 {
            let line = self.line();
            if let Some(rest) = line.strip_prefix(&prefix) {
                assert!(rest.starts_with("OK"), "{tag} not OK: {line}");
                return untagged;
            }
            untagged.push(line);
        }
        panic!("no tagged response for {tag}");
    }

    /// In IDLE: wait (bounded) for a line ending in EXISTS; returns it and the time it took.
    fn wait_exists(&mut self, since: Instant) -> (String, Duration) {
        let deadline = since + PUSH_LIMIT;
        loop {
            let line = self.line_before(deadline);
            if line.starts_with("* ") && line.ends_with("EXISTS") {
                return (line, since.elapsed());
            }
        }
    }
}

#[test]
fn dovecot_harness_login_select_idle_push_logout() {
    if !peers::available(
        "dovecot_harness_login_select_idle_push_logout",
        &[peers::DOVECOT],
    ) {
        return;
    }
    let t0 = Instant::now();
    let server = dovecot::Dovecot::start();
    let started = t0.elapsed();
    assert_eq!(server.addr().ip().to_string(), "127.0.0.1");

    let w = server.connect();
    let mut c = Conn {
        r: BufReader::new(w.try_clone().expect("clone")),
        w,
    };
    let greeting = c.line();
    assert!(greeting.starts_with("* OK"), "greeting: {greeting}");

    c.ok("a1", &format!("LOGIN {} {}", server.user, server.password));
    let select = c.ok("a2", "SELECT INBOX");
    assert!(
        select.iter().any(|l| l == "* 0 EXISTS"),
        "fresh INBOX should be empty: {select:?}"
    );

    // 1) APPEND from another IMAP connection while this one IDLEs.
    c.send("a3 IDLE");
    let cont = c.line();
    assert!(cont.starts_with('+'), "IDLE continuation: {cont}");
    let t_inject = Instant::now();
    let uid = server.inject(
        "INBOX",
        b"From: a@pimap.test\nTo: alice@pimap.test\nSubject: pushed\n\nhello\n",
    );
    assert_eq!(uid, 1);
    let (line, push1) = c.wait_exists(t_inject);
    assert_eq!(line, "* 1 EXISTS");
    c.send("DONE");
    c.tagged_ok("a3");

    // 2) Local delivery (dovecot-lda, no IMAP) while IDLEing again.
    c.send("a4 IDLE");
    let cont = c.line();
    assert!(cont.starts_with('+'), "IDLE continuation: {cont}");
    let t_deliver = Instant::now();
    server.deliver(
        "alice",
        "INBOX",
        b"From: b@pimap.test\r\nSubject: lda\r\n\r\nhi\r\n",
    );
    let (line, push2) = c.wait_exists(t_deliver);
    assert_eq!(line, "* 2 EXISTS");
    c.send("DONE");
    c.tagged_ok("a4");

    let bye = c.ok("a5", "LOGOUT");
    assert!(bye.iter().any(|l| l.starts_with("* BYE")), "{bye:?}");

    drop(server);
    eprintln!(
        "timings: start {started:?}, APPEND->EXISTS {push1:?}, LDA->EXISTS {push2:?}, total {:?}",
        t0.elapsed()
    );
}

#[test]
fn two_instances_run_side_by_side() {
    if !peers::available("two_instances_run_side_by_side", &[peers::DOVECOT]) {
        return;
    }
    let a = dovecot::Dovecot::start();
    let b = dovecot::Dovecot::start();
    assert_ne!(a.port, b.port);
    assert_ne!(a.state_dir(), b.state_dir());
    assert_eq!(a.inject("INBOX", b"Subject: a\r\n\r\na\r\n"), 1);
    assert_eq!(
        b.inject_as("bob", "bobpw", "INBOX", b"Subject: b\r\n\r\nb\r\n"),
        1
    );
    let dir = a.state_dir().to_path_buf();
    drop(a);
    assert!(!dir.exists(), "state dir not purged: {}", dir.display());
}
