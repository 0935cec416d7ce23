//! RFC 3501 / RFC 6851 behaviour of the server over the in-memory store, each as a client
//! sees it on the wire: `[UNSEEN n]` on SELECT, subscriptions apart from mailboxes (LSUB's
//! `\Noselect` parent, a deleted mailbox staying subscribed), MOVE (advertised, COPYUID
//! before the EXPUNGEs), and new keywords announced with `* FLAGS` to every session that
//! has the mailbox selected, and `\Recent` held by exactly one session.

#[path = "support/server_harness.rs"]
mod harness;

use harness::*;
use pimap::server::memory::MemoryStore;
use pimap::server::ServerConfig;

fn store() -> MemoryStore {
    let mut store = MemoryStore::new();
    store.add_user("joe", "pw");
    for (subject, flags) in [
        ("one", vec![pimap::types::Flag::Seen]),
        ("two", vec![]),
        ("three", vec![]),
    ] {
        let msg = format!("Subject: {subject}\r\n\r\nbody\r\n");
        store
            .inject("joe", "INBOX", msg.as_bytes(), flags, None)
            .expect("delivered");
    }
    let _ = store.take_changes();
    store
}

fn logged_in(h: &mut Harness<MemoryStore>) -> pimap::server::ConnId {
    let c = h.connect();
    let r = h.send(c, "a LOGIN joe pw\r\n");
    assert!(r.contains("a OK"), "{r}");
    c
}

/// The lines of `text` in order; panics naming the first of `wanted` not found after the
/// previous one.
fn in_order(text: &str, wanted: &[&str]) {
    let mut rest = text;
    for w in wanted {
        match rest.find(w) {
            Some(i) => rest = &rest[i + w.len()..],
            None => panic!("{w:?} not found (in order) in:\n{text}"),
        }
    }
}

#[test]
fn select_names_the_first_unseen_message() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let c = logged_in(&mut h);
    let r = h.send(c, "b SELECT INBOX\r\n");
    in_order(&r, &["* 3 EXISTS", "* OK [UNSEEN 2]", "b OK [READ-WRITE]"]);
    h.send(c, "c STORE 2:3 +FLAGS (\\Seen)\r\n");
    let r = h.send(c, "d EXAMINE INBOX\r\n");
    assert!(!r.contains("UNSEEN"), "every message is seen: {r}");
}

#[test]
fn subscriptions_are_names_apart_from_mailboxes() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let c = logged_in(&mut h);
    h.send(c, "b CREATE foo/bar\r\n");
    let r = h.send(c, "c LSUB \"\" *\r\n");
    assert!(!r.contains("foo"), "CREATE subscribes nothing: {r}");
    assert!(r.contains("c OK"), "{r}");
    h.send(c, "d SUBSCRIBE foo/bar\r\n");
    // RFC 3501 6.3.9: `%` stops at foo, which is not subscribed: foo with \Noselect.
    let r = h.send(c, "e LSUB \"\" %\r\n");
    assert!(r.contains("* LSUB (\\Noselect"), "{r}");
    assert!(r.contains("\"/\" foo\r\n"), "{r}");
    assert!(!r.contains("foo/bar"), "{r}");
    // A deleted mailbox stays subscribed and can still be unsubscribed.
    h.send(c, "f DELETE foo/bar\r\n");
    let r = h.send(c, "g LSUB \"\" *\r\n");
    assert!(r.contains("foo/bar"), "{r}");
    let r = h.send(c, "h UNSUBSCRIBE foo/bar\r\n");
    assert!(r.contains("h OK"), "{r}");
    let r = h.send(c, "i LSUB \"\" *\r\n");
    assert!(!r.contains("foo/bar"), "{r}");
}

#[test]
fn move_is_advertised_and_sends_copyuid_before_the_expunges() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let c = h.connect();
    let r = h.send(c, "a CAPABILITY\r\n");
    for cap in [" MOVE", " UNSELECT", " ID", " NAMESPACE"] {
        assert!(r.contains(cap), "{cap} not advertised: {r}");
    }
    h.send(c, "b LOGIN joe pw\r\n");
    h.send(c, "c CREATE Archive\r\n");
    h.send(c, "d SELECT INBOX\r\n");
    let r = h.send(c, "e MOVE 1:2 Archive\r\n");
    in_order(
        &r,
        &["* OK [COPYUID ", "* 1 EXPUNGE", "* 1 EXPUNGE", "e OK"],
    );
    assert!(!r.contains("e OK [COPYUID"), "COPYUID once, untagged: {r}");
    let r = h.send(c, "f STATUS Archive (MESSAGES)\r\n");
    assert!(r.contains("MESSAGES 2"), "{r}");
}

#[test]
fn a_new_keyword_is_announced_with_flags() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let a = logged_in(&mut h);
    let b = logged_in(&mut h);
    let r = h.send(a, "s SELECT INBOX\r\n");
    assert!(!r.contains("$Important"), "{r}");
    h.send(b, "s SELECT INBOX\r\n");
    let r = h.send(a, "t STORE 1 +FLAGS ($Important)\r\n");
    in_order(
        &r,
        &[
            "* FLAGS (",
            "$Important)",
            "* 1 FETCH (",
            "$Important",
            "t OK",
        ],
    );
    // The other session learns the keyword before the change that carries it.
    let r = h.send(b, "n NOOP\r\n");
    in_order(&r, &["* FLAGS (", "$Important)", "* 1 FETCH", "n OK"]);
    // Announced once.
    let r = h.send(a, "u STORE 2 +FLAGS ($Important)\r\n");
    assert!(!r.contains("* FLAGS"), "{r}");
}

#[test]
fn recent_belongs_to_one_session() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let c = logged_in(&mut h);
    // EXAMINE shows the recent messages without taking them.
    let r = h.send(c, "x EXAMINE INBOX\r\n");
    assert!(r.contains("* 3 RECENT"), "{r}");
    let a = logged_in(&mut h);
    let r = h.send(a, "s SELECT INBOX\r\n");
    assert!(r.contains("* 3 RECENT"), "{r}");
    let r = h.send(a, "f FETCH 1 FLAGS\r\n");
    assert!(r.contains("\\Recent"), "{r}");
    // SELECT took them: another session sees none, and STATUS counts none.
    let b = logged_in(&mut h);
    let r = h.send(b, "t STATUS INBOX (RECENT)\r\n");
    assert!(r.contains("RECENT 0"), "{r}");
    let r = h.send(b, "s SELECT INBOX\r\n");
    assert!(r.contains("* 0 RECENT"), "{r}");
    let r = h.send(b, "f FETCH 1:* FLAGS\r\n");
    assert!(!r.contains("\\Recent"), "{r}");
    // A message arriving while both have INBOX selected is recent in one of them.
    h.d.store
        .inject(
            "joe",
            "INBOX",
            b"Subject: four\r\n\r\nnew\r\n",
            Vec::new(),
            None,
        )
        .expect("delivered");
    h.sync();
    let ra = h.send(a, "n NOOP\r\n");
    let rb = h.send(b, "n NOOP\r\n");
    in_order(&ra, &["* 4 EXISTS", "* 4 RECENT", "n OK"]);
    in_order(&rb, &["* 4 EXISTS", "* 0 RECENT", "n OK"]);
    // SEARCH RECENT / NEW / OLD answer from the session's own \Recent.
    let r = h.send(a, "q SEARCH RECENT\r\n");
    assert!(r.contains("* SEARCH 1 2 3 4\r\n"), "{r}");
    let r = h.send(a, "q SEARCH NEW\r\n");
    assert!(r.contains("* SEARCH 2 3 4\r\n"), "message 1 is seen: {r}");
    let r = h.send(b, "q SEARCH OLD\r\n");
    assert!(r.contains("* SEARCH 1 2 3 4\r\n"), "{r}");
    let r = h.send(b, "q SEARCH RECENT\r\n");
    assert!(r.contains("* SEARCH\r\n"), "{r}");
}

#[test]
fn esearch_is_advertised_and_answers_with_the_tag() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let c = logged_in(&mut h);
    let r = h.send(c, "b CAPABILITY\r\n");
    assert!(r.contains(" ESEARCH"), "{r}");
    h.send(c, "c SELECT INBOX\r\n");
    let r = h.send(c, "d UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN\r\n");
    in_order(
        &r,
        &[
            "* ESEARCH (TAG \"d\") UID MIN 2 MAX 3 ALL 2:3 COUNT 2\r\n",
            "d OK",
        ],
    );
    // RFC 4731 3.1: `RETURN ()` is ALL; no match gives no ALL (and no MIN/MAX).
    let r = h.send(c, "e SEARCH RETURN () SEEN\r\n");
    in_order(&r, &["* ESEARCH (TAG \"e\") ALL 1\r\n", "e OK"]);
    let r = h.send(c, "f SEARCH RETURN (MIN COUNT) DELETED\r\n");
    in_order(&r, &["* ESEARCH (TAG \"f\") COUNT 0\r\n", "f OK"]);
    assert!(!r.contains("* SEARCH"), "{r}");
    // SAVE needs SEARCHRES, which is not offered.
    let r = h.send(c, "g SEARCH RETURN (SAVE) ALL\r\n");
    assert!(r.contains("g BAD"), "{r}");
    // A plain SEARCH is still answered with * SEARCH.
    let r = h.send(c, "h SEARCH UNSEEN\r\n");
    in_order(&r, &["* SEARCH 2 3\r\n", "h OK"]);
}

#[test]
fn an_unknown_command_gets_bad_with_its_tag_and_the_session_goes_on() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let c = h.connect();
    // Before login too: a precise BAD, not a syntax error.
    let r = h.send(c, "x1 GETQUOTAROOT INBOX\r\n");
    assert!(r.contains("x1 BAD Unknown command GETQUOTAROOT"), "{r}");
    let r = h.send(c, "x2 LOGIN joe pw\r\n");
    assert!(r.contains("x2 OK"), "{r}");
    // Arguments with a literal are framed and skipped whole (the literal is not run as a
    // command).
    let r = h.send(
        c,
        "x3 SETMETADATA INBOX (/private/comment {11+}\r\nx4 LOGOUT\r\n)\r\n",
    );
    assert!(r.contains("x3 BAD Unknown command SETMETADATA"), "{r}");
    assert!(!r.contains("BYE"), "{r}");
    // Extensions the codec reads but this server does not offer are refused by name.
    h.send(c, "x5 SELECT INBOX\r\n");
    for (cmd, what) in [
        ("x6 SORT (DATE) UTF-8 ALL\r\n", "x6 BAD SORT is not offered"),
        (
            "x7 THREAD REFERENCES UTF-8 ALL\r\n",
            "x7 BAD THREAD is not offered",
        ),
        ("x8 NOTIFY NONE\r\n", "x8 BAD NOTIFY is not offered"),
        (
            "x9 FETCH 1 (PREVIEW)\r\n",
            "x9 BAD PREVIEW and SAVEDATE are not offered",
        ),
    ] {
        let r = h.send(c, cmd);
        assert!(r.contains(what), "{cmd}: {r}");
    }
    let r = h.send(c, "y NOOP\r\n");
    assert!(r.contains("y OK"), "{r}");
}

#[test]
fn a_store_gets_its_own_fetch_while_another_sessions_expunge_waits() {
    let mut h = Harness::new(ServerConfig::default(), store());
    let a = logged_in(&mut h);
    let b = logged_in(&mut h);
    h.send(a, "a1 SELECT INBOX\r\n");
    h.send(b, "b1 SELECT INBOX\r\n");
    let r = h.send(b, "b2 STORE 1 +FLAGS (\\Deleted)\r\n");
    assert!(r.contains("b2 OK"), "{r}");
    let r = h.send(b, "b3 EXPUNGE\r\n");
    assert!(r.contains("* 1 EXPUNGE"), "{r}");
    // A's STORE: RFC 3501 7.4.1 keeps the EXPUNGE of message 1 back, but A's own flag
    // change is answered at once, numbered as A still sees the mailbox.
    let r = h.send(a, "a2 STORE 3 +FLAGS (\\Flagged)\r\n");
    in_order(
        &r,
        &["* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent))", "a2 OK"],
    );
    assert!(!r.contains("EXPUNGE"), "{r}");
    let r = h.send(a, "a3 NOOP\r\n");
    in_order(&r, &["* 1 EXPUNGE", "a3 OK"]);
    assert!(!r.contains("FETCH"), "delivered once: {r}");
    // After the EXPUNGE the message is number 2.
    let r = h.send(a, "a4 FETCH 2 (FLAGS)\r\n");
    assert!(r.contains("* 2 FETCH (FLAGS (\\Flagged \\Recent))"), "{r}");
}
