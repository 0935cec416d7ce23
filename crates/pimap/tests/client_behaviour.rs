//! Client behaviours the scripts do not show: synchronizing literals wait for `+` (and stop on
//! a NO instead), IDLE refresh through `poll_timeout`, the state-comparison sync, macros and
//! session-id tag prefixes.

use std::time::{Duration, Instant};

use pimap::client::{Client, ClientConfig, ClientMacro, Event, LocalFolder, Output, SyncPlan};
use pimap::types::{CommandBody, Flag, Literal8, Mailbox};

fn drain(c: &mut Client) -> (Vec<u8>, Vec<Event>) {
    let mut wire = Vec::new();
    let mut events = Vec::new();
    while let Some(o) = c.poll_output() {
        match o {
            Output::Transmit(b) => wire.extend_from_slice(&b),
            Output::Event(e) => events.push(e),
            _ => {}
        }
    }
    (wire, events)
}

fn selected(greeting: &[u8]) -> Client {
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default());
    c.handle_input(greeting, now);
    c.login("joe", "pw").unwrap();
    c.select("INBOX").unwrap();
    c.handle_input(
        b"A0001 OK\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\nA0002 OK [READ-WRITE] sel\r\n",
        now,
    );
    drain(&mut c);
    c
}

fn append(data: &'static [u8]) -> CommandBody {
    CommandBody::Append {
        mailbox: Mailbox::inbox(),
        flags: vec![],
        date: None,
        message: Literal8 {
            data: bytes::Bytes::from_static(data),
            binary: false,
        },
    }
}

#[test]
fn synchronizing_literal_waits_for_continuation() {
    let now = Instant::now();
    let mut c = selected(b"* OK [CAPABILITY IMAP4rev1] hi\r\n");
    c.enqueue(append(b"hello")).unwrap();
    c.noop().unwrap();
    let (wire, _) = drain(&mut c);
    assert_eq!(
        wire, b"A0003 APPEND INBOX {5}\r\n",
        "nothing after the announcement"
    );
    c.handle_input(b"+ go ahead\r\n", now);
    let (wire, _) = drain(&mut c);
    assert_eq!(wire, b"hello\r\nA0004 NOOP\r\n");

    // A server that refuses the literal answers NO instead of `+`: the command completes and
    // its data is never sent.
    c.enqueue(append(b"world")).unwrap();
    c.noop().unwrap();
    let (wire, _) = drain(&mut c);
    assert_eq!(wire, b"A0005 APPEND INBOX {5}\r\n");
    c.handle_input(b"A0005 NO [TOOBIG] no\r\n", now);
    let (wire, events) = drain(&mut c);
    assert_eq!(wire, b"A0006 NOOP\r\n");
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Completed(c) if c.command == "APPEND" && !c.is_ok())));
}

#[test]
fn literal_plus_is_used_when_advertised() {
    let mut c = selected(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    c.enqueue(append(b"hello")).unwrap();
    let (wire, _) = drain(&mut c);
    assert_eq!(wire, b"A0003 APPEND INBOX {5+}\r\nhello\r\n");
}

#[test]
fn idle_is_refreshed_before_the_limit() {
    let t0 = Instant::now();
    let mut c = selected(b"* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\n");
    c.idle().unwrap();
    let (wire, _) = drain(&mut c);
    assert_eq!(wire, b"A0003 IDLE\r\n");
    assert_eq!(c.poll_timeout(), None, "no deadline before `+`");
    c.handle_input(b"+ idling\r\n", t0);
    let (_, events) = drain(&mut c);
    assert!(events.iter().any(|e| matches!(e, Event::IdleStarted(_))));
    let deadline = c.poll_timeout().expect("deadline");
    assert_eq!(deadline, t0 + Duration::from_secs(29 * 60));
    c.handle_timeout(deadline - Duration::from_secs(1));
    assert_eq!(drain(&mut c).0, b"", "nothing before the deadline");
    c.handle_timeout(deadline);
    assert_eq!(drain(&mut c).0, b"DONE\r\n");
    c.handle_input(b"A0003 OK idle done\r\n", deadline);
    assert_eq!(drain(&mut c).0, b"A0004 IDLE\r\n", "IDLE again");
    c.handle_input(b"+ idling\r\n", deadline);
    drain(&mut c);
    assert!(c.is_idling());
    // A command while idling ends IDLE first, and IDLE is not resumed.
    c.noop().unwrap();
    assert_eq!(drain(&mut c).0, b"DONE\r\n");
    c.handle_input(b"A0004 OK\r\n", deadline);
    assert_eq!(drain(&mut c).0, b"A0005 NOOP\r\n");
}

#[test]
fn sync_plan_after_listing() {
    let now = Instant::now();
    let mut c = selected(b"* OK [CAPABILITY IMAP4rev1] hi\r\n");
    let local = LocalFolder {
        uid_validity: 7,
        messages: [(10, vec![Flag::Seen]), (11, vec![]), (12, vec![])]
            .into_iter()
            .collect(),
    };
    c.sync(local).unwrap();
    let (wire, _) = drain(&mut c);
    assert_eq!(wire, b"A0003 UID FETCH 1:* (UID FLAGS)\r\n");
    c.handle_input(
        b"* 1 FETCH (UID 10 FLAGS (\\Seen))\r\n* 2 FETCH (UID 12 FLAGS (\\Flagged))\r\n* 3 FETCH (UID 14 FLAGS ())\r\nA0003 OK done\r\n",
        now,
    );
    let (_, events) = drain(&mut c);
    let plan: &SyncPlan = events
        .iter()
        .find_map(|e| match e {
            Event::SyncPlanned { plan, .. } => Some(plan),
            _ => None,
        })
        .expect("a plan");
    assert!(!plan.full_reload);
    assert_eq!(plan.fetch_new, vec![14]);
    assert_eq!(plan.remove, vec![11]);
    assert_eq!(plan.update_flags, vec![(12, vec![Flag::Flagged])]);
}

#[test]
fn macro_results_arrive_as_one_event() {
    let now = Instant::now();
    let mut c = selected(b"* OK [CAPABILITY IMAP4rev1] hi\r\n");
    let m = ClientMacro::new("poll", ["NOOP", "STATUS $1 (MESSAGES)"]);
    let h = c.run_macro(&m, &["Drafts"]).unwrap();
    let (wire, _) = drain(&mut c);
    assert_eq!(
        wire,
        b"A0003 NOOP\r\nA0004 STATUS Drafts (MESSAGES)\r\n".as_slice(),
        "one pipeline"
    );
    c.handle_input(
        b"A0003 OK\r\n* STATUS Drafts (MESSAGES 2)\r\nA0004 OK\r\n",
        now,
    );
    let (_, events) = drain(&mut c);
    let results = events
        .iter()
        .find_map(|e| match e {
            Event::MacroCompleted {
                handle, results, ..
            } if *handle == h => Some(results),
            _ => None,
        })
        .expect("macro completion");
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].data.len(), 1);
    assert!(c
        .run_macro(&ClientMacro::new("bad", ["IDLE", "NOOP"]), &[])
        .is_err());
}

#[test]
fn session_id_tag_prefix() {
    let now = Instant::now();
    let mut cfg = ClientConfig::default();
    cfg.session_id_tags = true;
    let mut c = Client::new(cfg);
    c.handle_input(b"* OK [CAPABILITY IMAP4rev1 XPIMAPV1R1] hi\r\n", now);
    c.login("joe#dev", "pw").unwrap();
    c.handle_input(b"* SESSIONID 123456\r\nA0001 OK\r\n", now);
    drain(&mut c);
    c.noop().unwrap();
    assert_eq!(drain(&mut c).0, b"123456.A0002 NOOP\r\n");
    // An untagged LOGIN severs the session.
    c.handle_input(b"* LOGIN\r\n123456.A0002 NO session gone\r\n", now);
    let (_, events) = drain(&mut c);
    assert!(events.iter().any(|e| matches!(e, Event::SessionSevered)));
    assert!(c.session_id().is_none());
}
