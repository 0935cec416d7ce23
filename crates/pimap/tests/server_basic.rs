//! Server behaviour over a scripted store: login, resume, filters, push, queues, RESYNC.

#[path = "support/server_harness.rs"]
mod harness;

use harness::*;
use pimap::server::ServerConfig;

fn setup() -> Harness<ScriptStore> {
    let mut store = ScriptStore::default();
    store.add_folder("joe", "INBOX", 3);
    store.add_folder("joe", "Sent", 0);
    Harness::new(ServerConfig::default(), store)
}

#[test]
fn login_select_fetch_idle_push_resume() {
    let mut h = setup();
    let c = h.connect();
    let r = h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    assert!(r.starts_with("* SESSIONID "), "{r}");
    assert!(r.ends_with("a1 OK LOGIN completed\r\n"), "{r}");
    let r = h.send(c, "a2 SELECT INBOX\r\n");
    assert!(r.contains("* 3 EXISTS\r\n"), "{r}");
    assert!(r.contains("a2 OK [READ-WRITE]"), "{r}");
    let r = h.send(c, "a3 FETCH 1:* (UID FLAGS)\r\n");
    assert!(r.contains("* 3 FETCH (UID 3 FLAGS ())\r\n"), "{r}");
    // Defaults: notification filter NONE -> nothing pushed while idling.
    let r = h.send(c, "a4 IDLE\r\n");
    assert!(r.starts_with("+ "), "{r}");
    h.d.store.deliver("joe", "INBOX", "hello");
    h.sync();
    assert_eq!(h.take(c), "", "polled event must not be pushed");
    let r = h.send(c, "DONE\r\n");
    assert_eq!(r, "* 4 EXISTS\r\na4 OK IDLE terminated\r\n");
    // Notification filter ALL via XFILTER generation 1: pushed in IDLE.
    let r = h.send(c, "a5 XFILTER INBOX N ALL\r\n");
    assert!(r.ends_with("a5 OK XFILTER completed\r\n"), "{r}");
    h.send(c, "a6 IDLE\r\n");
    h.d.store.deliver("joe", "INBOX", "pushed");
    h.sync();
    assert_eq!(h.take(c), "* 5 EXISTS\r\n");
    h.send(c, "DONE\r\n");
    // Disconnect without LOGOUT after events were pushed: the device may not have read
    // them, and it did not say which it applied (no XRESUME), so it is owed RESYNC.
    h.close(c);
    h.d.store.expunge_uid("joe", "INBOX", 2);
    h.d.store.deliver("joe", "INBOX", "while away");
    h.sync();
    let c2 = h.connect();
    let r = h.send(c2, "b1 LOGIN joe#P1 pw\r\n");
    let lines: Vec<&str> = r.lines().collect();
    assert_eq!(lines[0], "* SESSION SELECTED", "{r}");
    assert_eq!(lines[1], "* FOLDER INBOX", "{r}");
    assert_eq!(lines[2], "* 2 EXPUNGE", "{r}");
    assert_eq!(lines[3], "* 5 EXISTS", "{r}");
    assert_eq!(lines[4], "* RESYNC", "{r}");
    assert!(lines[5].starts_with("* SESSIONID "), "{r}");
    assert_eq!(lines[6], "b1 OK LOGIN completed", "{r}");
    // Still selected without SELECT.
    let r = h.send(c2, "b2 UID FETCH 1:* (FLAGS)\r\n");
    assert!(r.contains("* 5 FETCH (UID 6 FLAGS ())"), "{r}");
}

#[test]
fn queue_overflow_owes_resync() {
    let mut store = ScriptStore::default();
    store.add_folder("joe", "INBOX", 1);
    let mut cfg = ServerConfig::default();
    cfg.max_queued_events = 5;
    let mut h = Harness::new(cfg, store);
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    h.send(c, "a2 SELECT INBOX\r\n");
    h.close(c);
    // The 6th change overflows; the two after it are not queued against the stale view.
    for i in 0..8 {
        h.d.store.deliver("joe", "INBOX", &format!("m{i}"));
    }
    h.sync();
    let c = h.connect();
    let r = h.send(c, "b1 LOGIN joe#P1 pw\r\n");
    assert!(
        r.contains("* SESSION SELECTED\r\n* FOLDER INBOX\r\n"),
        "{r}"
    );
    assert!(r.contains("* RESYNC\r\n"), "{r}");
    assert!(!r.contains("EXISTS"), "{r}");
}

#[test]
fn xgetpimapprefs_without_names_returns_all() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    for cmd in ["a2 XGETPIMAPPREFS\r\n", "a3 XGETPIMAPPREFS ()\r\n"] {
        let r = h.send(c, cmd);
        assert!(r.starts_with("* XGETPIMAPPREFS ("), "{r}");
        assert!(
            r.contains("PIMAP_EVENT_FILTER ALL") && r.contains("PIMAP_INBAND_PUSH OFF"),
            "{r}"
        );
    }
}

#[test]
fn bad_syntax_gets_tagged_bad_and_session_continues() {
    let mut h = setup();
    let c = h.connect();
    let r = h.send(c, "a1 LOGIN\r\na2 NOOP\r\n");
    assert!(r.starts_with("a1 BAD"), "{r}");
    assert!(r.ends_with("a2 OK completed\r\n"), "{r}");
    let r = h.send(c, "a3 SELECT INBOX\r\n");
    assert!(r.starts_with("a3 BAD"), "{r}");
    let r = h.send(c, "a4 XSETPIMAPPREF PIMAP_INBAND_PUSH ON\r\n");
    assert!(r.starts_with("a4 BAD"), "{r}");
    h.send(c, "a5 LOGIN joe pw\r\n");
    let r = h.send(c, "a6 XSETPIMAPPREF PIMAP_INBAND_PUSH ON\r\n");
    assert!(
        r.starts_with("a6 NO"),
        "plain session refuses P-IMAP-only: {r}"
    );
}

#[test]
fn sync_literal_gets_continuation() {
    let mut h = setup();
    let c = h.connect();
    let r = h.send(c, "a1 LOGIN {5}\r\n");
    assert!(r.starts_with("+ "), "{r}");
    let r = h.send(c, "joe#X pw\r\n");
    assert!(r.ends_with("a1 OK LOGIN completed\r\n"), "{r}");
}

#[test]
fn inband_new_format_sends_fetch_instead_of_exists() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let r = h.send(
        c,
        "a2 XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS)\r\n",
    );
    assert!(r.starts_with("a2 OK"), "{r}");
    h.send(c, "a3 SELECT INBOX\r\n");
    h.d.store.deliver("joe", "INBOX", "new");
    h.sync();
    let r = h.send(c, "a4 NOOP\r\n");
    assert_eq!(r, "* 4 FETCH (UID 4 FLAGS ())\r\na4 OK completed\r\n");
}

struct Keys(pimap::notify::XorTestCipher);
impl pimap::server::CipherProvider for Keys {
    fn cipher_for(
        &mut self,
        _user: &[u8],
        device: &[u8],
    ) -> Option<&mut dyn pimap::notify::PayloadCipher> {
        (device == b"P1").then_some(&mut self.0 as &mut dyn pimap::notify::PayloadCipher)
    }
}

#[test]
fn hello_registration_and_extended_notification() {
    use pimap::notify::{ExtendedEvent, ExtendedNotification, Hello, HelloReply, XorTestCipher};
    let mut h = setup();
    h.d.server
        .set_cipher_provider(Box::new(Keys(XorTestCipher::new(b"k3y".to_vec()))));
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    h.send(c, "a2 SELECT INBOX\r\n");
    h.send(c, "a3 XFILTER INBOX N ALL\r\n");
    h.send(c, "a4 XSETPIMAPPREF PIMAP_OUTBAND_CHANNEL SMS\r\n");
    h.send(c, "a5 XSETPIMAPPREF PIMAP_OUTBAND_ADDRESS 5551234\r\n");
    let r = h.send(c, "a6 XSETPIMAPPREF PIMAP_OUTBAND_FORMAT EXTENDED\r\n");
    assert!(r.starts_with("a6 OK"), "{r}");
    // HELLO with the right key is accepted, with a wrong key refused.
    let mut key = XorTestCipher::new(b"k3y".to_vec());
    let hello = Hello::new("P1", &mut key, Some("ip=127.0.0.1".into()));
    let (reply, net) = h.d.server.handle_hello(&hello.encode());
    assert_eq!(
        HelloReply::parse(&reply).unwrap(),
        HelloReply::Ok { endpoint: None }
    );
    assert_eq!(net.as_deref(), Some("ip=127.0.0.1"));
    let mut wrong = XorTestCipher::new(b"other".to_vec());
    let bad = Hello::new("P1", &mut wrong, None);
    let (reply, _) = h.d.server.handle_hello(&bad.encode());
    assert_eq!(
        HelloReply::parse(&reply).unwrap(),
        HelloReply::InvalidEncryptionKey
    );
    // Offline: a new message becomes an encrypted EXTENDED notification on SMS.
    h.close(c);
    h.d.store.deliver("joe", "INBOX", "offline news");
    h.sync();
    let n = h.d.notifier.sent.pop_front().expect("notification");
    assert_eq!(&n.address[..], b"5551234");
    assert!(n.payload.len() <= 140, "fits one SMS: {}", n.payload.len());
    let mut key = XorTestCipher::new(b"k3y".to_vec());
    let parsed = ExtendedNotification::parse(&n.payload, Some(&mut key)).unwrap();
    assert_eq!(parsed.event, ExtendedEvent::NewMessage);
    assert_eq!(parsed.message.unwrap().subject, "offline news");
}

#[test]
fn inband_push_without_idle_and_other_folders_wait_for_select() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    h.send(c, "a2 XFILTER ALL N ALL\r\n");
    let r = h.send(c, "a3 XSETPIMAPPREF PIMAP_INBAND_PUSH ON\r\n");
    assert!(r.starts_with("a3 OK"), "{r}");
    h.send(c, "a4 SELECT INBOX\r\n");
    h.d.store.deliver("joe", "INBOX", "pushed at once");
    h.sync();
    assert_eq!(
        h.take(c),
        "* 4 EXISTS\r\n",
        "PIMAP_INBAND_PUSH pushes without IDLE"
    );
    // A change in another folder is queued, not pushed, until that folder is selected.
    h.d.store.deliver("joe", "Sent", "elsewhere");
    h.sync();
    assert_eq!(h.take(c), "");
    let r = h.send(c, "a5 SELECT Sent\r\n");
    assert!(r.contains("* 1 EXISTS\r\n"), "{r}");
    assert!(
        r.contains("* 1 FETCH (UID 1 FLAGS ())\r\n"),
        "queued event collected: {r}"
    );
}

#[test]
fn xdeliver_with_saveto_answers_appenduid() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let msg = "From: joe@example.com\r\nTo: ann@example.com\r\nSubject: hi\r\n\r\nHello\r\n";
    let r = h.send(
        c,
        &format!(
            "a2 XDELIVER N SAVETO=Sent ENVELOPE ((NIL NIL \"ann\" \"example.com\")) {{{}+}}\r\n{msg}\r\n",
            msg.len()
        ),
    );
    assert!(r.starts_with("a2 OK [APPENDUID 42 1]"), "{r}");
    assert_eq!(h.d.submitter.sent.len(), 1);
    assert_eq!(&h.d.submitter.sent[0].message[..], msg.as_bytes());
    assert_eq!(
        h.d.submitter.sent[0].envelope.as_ref().map(Vec::len),
        Some(1)
    );
    assert_eq!(h.d.store.messages("joe", "Sent").len(), 1);
}

#[test]
fn xmacro_define_run_and_failure_code() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let r = h.send(
        c,
        "a2 XMACRO DEFINE SYNC (\"SELECT $1\" \"UID FETCH 1:* (FLAGS)\")\r\n",
    );
    assert!(r.starts_with("a2 OK"), "{r}");
    let r = h.send(c, "a3 XMACRO RUN SYNC INBOX\r\n");
    assert!(r.contains("a3.1 OK [READ-WRITE]"), "{r}");
    assert!(r.contains("* 3 FETCH (UID 3 FLAGS ())"), "{r}");
    assert!(r.contains("a3.2 OK"), "{r}");
    assert!(r.ends_with("a3 OK XMACRO completed\r\n"), "{r}");
    let r = h.send(c, "a4 XMACRO RUN SYNC Nonexistent\r\n");
    assert!(r.contains("a4.1 NO"), "{r}");
    assert!(
        r.ends_with("a4 NO [XMACRO-FAILED 1] XMACRO command failed\r\n"),
        "{r}"
    );
    let r = h.send(c, "a5 XMACRO LIST\r\n");
    assert!(
        r.starts_with("* XMACRO SYNC (\"SELECT $1\" \"UID FETCH 1:* (FLAGS)\")"),
        "{r}"
    );
    let r = h.send(c, "a6 XMACRO DEFINE BAD (\"XMACRO LIST\")\r\n");
    assert!(r.starts_with("a6 NO"), "no nesting: {r}");
}

#[test]
fn prefs_persist_across_sessions_and_expiry_ends_sessions() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    h.send(c, "a2 XSETPIMAPPREF PIMAP_OUTBAND_CHANNEL SMS\r\n");
    h.send(c, "a3 LOGOUT\r\n");
    assert!(
        !h.d.server.has_session(b"joe", b"P1"),
        "LOGOUT ends the session"
    );
    let c = h.connect();
    let r = h.send(c, "b1 LOGIN joe#P1 pw\r\n");
    assert!(!r.contains("* SESSION "), "fresh session after LOGOUT: {r}");
    let r = h.send(c, "b2 XGETPIMAPPREFS (PIMAP_OUTBAND_CHANNEL)\r\n");
    assert!(
        r.starts_with("* XGETPIMAPPREFS (PIMAP_OUTBAND_CHANNEL SMS)"),
        "{r}"
    );
    h.close(c);
    assert!(h.d.server.has_session(b"joe", b"P1"));
    h.advance(std::time::Duration::from_secs(30 * 60));
    assert!(
        h.d.server.has_session(b"joe", b"P1"),
        "kept for at least an hour"
    );
    assert!(
        h.d.server.has_sessions_of(b"joe"),
        "a detached session counts"
    );
    assert!(!h.d.server.has_sessions_of(b"jo"));
    h.advance(std::time::Duration::from_secs(31 * 60));
    assert!(
        !h.d.server.has_session(b"joe", b"P1"),
        "expired after an hour"
    );
    assert!(!h.d.server.has_sessions_of(b"joe"));
    // A plain session lives as long as its connection.
    let c = h.connect();
    h.send(c, "c1 LOGIN joe pw\r\n");
    assert!(h.d.server.has_sessions_of(b"joe"));
    h.close(c);
    assert!(!h.d.server.has_sessions_of(b"joe"));
}

#[test]
fn authenticate_plain_and_xterse() {
    let mut h = setup();
    let c = h.connect();
    let r = h.send(c, "a1 AUTHENTICATE PLAIN\r\n");
    assert_eq!(r, "+ \r\n");
    // "\0joe#P1\0pw"
    let r = h.send(c, "AGpvZSNQMQBwdw==\r\n");
    assert!(r.starts_with("* SESSIONID "), "{r}");
    assert!(r.contains("a1 OK"), "{r}");
    let r = h.send(c, "a2 XTERSE ON\r\n");
    assert_eq!(r, "a2 OK\r\n", "TV-00-3.2.4-a: the reply is already terse");
    let r = h.send(c, "a3 NOOP\r\n");
    assert_eq!(r, "a3 OK\r\n", "terse: no text");
}

#[test]
fn select_after_queued_arrival_and_expunge_needs_no_resync() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let uid = h.d.store.deliver("joe", "INBOX", "gone soon");
    h.d.store.expunge_uid("joe", "INBOX", uid);
    h.d.store.deliver("joe", "INBOX", "stays");
    h.sync();
    let r = h.send(c, "a2 SELECT INBOX\r\n");
    assert!(r.contains("* 4 EXISTS\r\n"), "{r}");
    assert!(!r.contains("RESYNC"), "the snapshot is complete: {r}");
}

#[test]
fn overflow_in_an_unselected_folder_owes_resync_only_when_selected() {
    let mut store = ScriptStore::default();
    store.add_folder("joe", "INBOX", 1);
    store.add_folder("joe", "Sent", 0);
    let mut cfg = ServerConfig::default();
    cfg.max_queued_events = 3;
    let mut h = Harness::new(cfg, store);
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    h.send(c, "a2 SELECT INBOX\r\n");
    for i in 0..5 {
        h.d.store.deliver("joe", "Sent", &format!("s{i}"));
    }
    h.sync();
    let r = h.send(c, "a3 NOOP\r\n");
    assert_eq!(r, "a3 OK completed\r\n", "INBOX is intact");
    let r = h.send(c, "a4 SELECT Sent\r\n");
    assert!(
        r.contains("* 5 EXISTS\r\n") && r.contains("* RESYNC\r\n"),
        "{r}"
    );
}

#[test]
fn store_silent_sends_no_fetch_for_its_own_change() {
    let mut h = setup();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe pw\r\n");
    h.send(c, "a2 SELECT INBOX\r\n");
    let r = h.send(c, "a3 STORE 1 +FLAGS.SILENT (\\Flagged)\r\n");
    assert_eq!(
        r, "a3 OK STORE completed\r\n",
        "RFC 3501 6.4.6: no FETCH for .SILENT"
    );
    let r = h.send(c, "a4 STORE 2 +FLAGS (\\Flagged)\r\n");
    assert!(r.starts_with("* 2 FETCH ("), "{r}");
    // Another session's change of the same message is still reported.
    let c2 = h.connect();
    h.send(c2, "b1 LOGIN joe pw\r\n");
    h.send(c2, "b2 SELECT INBOX\r\n");
    let r = h.send(c2, "b3 STORE 1 +FLAGS.SILENT (\\Seen)\r\n");
    assert_eq!(r, "b3 OK STORE completed\r\n");
    let r = h.send(c, "a5 NOOP\r\n");
    assert!(r.contains("* 1 FETCH ("), "the other session sees it: {r}");
}

#[test]
fn shutdown_says_bye_unavailable_and_keeps_device_sessions() {
    let mut h = setup();
    let device = h.connect();
    let r = h.send(device, "a1 LOGIN joe#P1 pw\r\na2 SELECT INBOX\r\n");
    assert!(r.contains("a2 OK"), "{r}");
    let plain = h.connect();
    h.send(plain, "b1 LOGIN joe pw\r\n");
    let idle = h.send(device, "a3 IDLE\r\n");
    assert!(idle.starts_with('+'), "{idle}");
    h.d.server.shutdown_connections(h.now);
    let a = h.d.run(h.now);
    h.absorb_for_test(a);
    for c in [device, plain] {
        let out = h.take(c);
        assert!(
            out.ends_with("* BYE [UNAVAILABLE] Server shutting down\r\n"),
            "{out:?}"
        );
        assert!(h.closed.contains(&c), "closed after the BYE");
    }
    assert_eq!(h.d.server.connection_count(), 0);
    assert!(h.d.server.has_session(b"joe", b"P1"), "kept for resumption");
}

#[test]
fn a_command_over_more_messages_than_the_queue_limit_is_answered_in_full() {
    // A plain IMAP session cannot be told RESYNC: its own EXPUNGE of 20 messages must come
    // back as 20 EXPUNGE responses even with a queue limit of 5.
    let mut store = ScriptStore::default();
    store.add_folder("joe", "INBOX", 20);
    let mut config = ServerConfig::default();
    config.max_queued_events = 5;
    let mut h = Harness::new(config, store);
    let c = h.connect();
    let r = h.send(c, "a1 LOGIN joe pw\r\na2 SELECT INBOX\r\n");
    assert!(r.contains("* 20 EXISTS"), "{r}");
    let r = h.send(
        c,
        "a3 STORE 1:* +FLAGS.SILENT (\\Deleted)\r\na4 EXPUNGE\r\n",
    );
    assert!(r.contains("a4 OK"), "{r}");
    assert_eq!(r.matches(" EXPUNGE\r\n").count(), 20, "{r}");
    assert!(!r.contains("RESYNC"), "{r}");
}
