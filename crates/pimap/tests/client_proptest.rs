//! Property tests of the client state machine: input fed in random pieces gives the same
//! outputs as fed whole, and arbitrary server bytes never panic it.

use std::time::Instant;

use pimap::client::{Client, ClientConfig, Event, MailboxEvent, Output};
use proptest::prelude::*;

/// A valid server stream: greeting, LOGIN and SELECT completions, then pushed events that a
/// model of the mailbox keeps in range.
/// Returns the stream, the final message count and how many event lines were pushed.
fn server_stream(ops: &[(u8, u32)]) -> (Vec<u8>, u32, usize) {
    let mut s = b"* OK [CAPABILITY IMAP4rev1 IDLE LITERAL+] hi\r\n".to_vec();
    s.extend_from_slice(b"A0001 OK LOGIN done\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 9] v\r\n");
    s.extend_from_slice(b"A0002 OK [READ-WRITE] SELECT done\r\n");
    let mut exists = 3u32;
    let mut lines = 1; // SELECT's EXISTS
    for &(op, x) in ops {
        let before = s.len();
        match op % 4 {
            0 => {
                exists += 1 + x % 3;
                s.extend_from_slice(format!("* {exists} EXISTS\r\n").as_bytes());
            }
            1 if exists > 0 => {
                let seq = 1 + x % exists;
                exists -= 1;
                s.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
            }
            2 if exists > 0 => {
                let seq = 1 + x % exists;
                s.extend_from_slice(
                    format!("* {seq} FETCH (FLAGS (\\Seen $K{}))\r\n", x % 5).as_bytes(),
                );
            }
            _ => {
                // A FETCH beyond the count: an implicit EXISTS (E-72).
                exists += 1;
                s.extend_from_slice(
                    format!("* {exists} FETCH (UID {} FLAGS ())\r\n", 100 + exists).as_bytes(),
                );
            }
        }
        if s.len() > before {
            lines += 1;
        }
    }
    (s, exists, lines)
}

fn run(pieces: &[&[u8]]) -> (Vec<Output>, Client) {
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default());
    c.login("joe", "pw").unwrap();
    c.select("INBOX").unwrap();
    let mut out = Vec::new();
    for p in pieces {
        c.handle_input(p, now);
        while let Some(o) = c.poll_output() {
            out.push(o);
        }
    }
    (out, c)
}

fn split<'a>(b: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut v = Vec::new();
    let mut rest = b;
    for &c in cuts {
        if rest.is_empty() {
            break;
        }
        let n = 1 + c % rest.len();
        let (a, r) = rest.split_at(n);
        v.push(a);
        rest = r;
    }
    v.push(rest);
    v
}

proptest! {
    #[test]
    fn pieces_give_the_same_events(
        ops in prop::collection::vec((any::<u8>(), any::<u32>()), 0..60),
        cuts in prop::collection::vec(0usize..64, 0..200),
    ) {
        let (stream, exists, lines) = server_stream(&ops);
        let (whole, cw) = run(&[&stream]);
        let (pieces, cp) = run(&split(&stream, &cuts));
        prop_assert_eq!(&whole, &pieces);
        prop_assert_eq!(cw.mailbox().map(|v| v.exists()), Some(exists));
        prop_assert_eq!(cp.mailbox().map(|v| v.exists()), Some(exists));
        for o in &whole {
            if let Output::Event(e) = o {
                prop_assert!(!matches!(e, Event::ProtocolError(_) | Event::ViewInconsistent(_)), "{:?}", e);
            }
        }
        // At least one mailbox event per pushed line.
        let n = whole.iter().filter(|o| matches!(o, Output::Event(Event::Mailbox(
            MailboxEvent::Exists { .. } | MailboxEvent::Expunged { .. } | MailboxEvent::FlagsChanged { .. })))).count();
        prop_assert!(n >= lines, "{} mailbox events for {} lines", n, lines);
    }

    #[test]
    fn arbitrary_server_bytes_never_panic(
        prefix in prop::sample::select(vec![
            &b""[..],
            b"* OK hi\r\n",
            b"* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK x\r\n",
            b"* OK [CAPABILITY IMAP4rev1] hi\r\nA0001 OK x\r\n* 2 EXISTS\r\nA0002 OK s\r\n",
        ]),
        junk in prop::collection::vec(any::<u8>(), 0..512),
        tokens in prop::collection::vec(prop::sample::select(vec![
            "* 5 EXPUNGE\r\n", "* 0 EXPUNGE\r\n", "* 4294967295 EXISTS\r\n", "* 1 EXISTS\r\n",
            "+ go\r\n", "A0003 OK x\r\n", "A0001 NO x\r\n", "* SESSION SELECTED\r\n",
            "* FOLDER INBOX\r\n", "* RESYNC\r\n", "* LOGIN\r\n", "* BYE x\r\n",
            "* 3 FETCH (UID 0 FLAGS (\\Seen))\r\n", "* VANISHED 1:*\r\n", "{5}\r\n",
            "* OK [UIDVALIDITY 1] x\r\n", "* OK [UIDVALIDITY 2] x\r\n", "* SESSIONID 1\r\n",
        ]), 0..40),
    ) {
        let now = Instant::now();
        let mut c = Client::new(ClientConfig::default());
        c.login("joe#dev", "pw").unwrap();
        c.select("INBOX").unwrap();
        c.handle_input(prefix, now);
        let _ = c.idle();
        for t in &tokens {
            c.handle_input(t.as_bytes(), now);
            while c.poll_output().is_some() {}
        }
        c.handle_input(&junk, now);
        let _ = c.noop();
        let _ = c.done();
        c.handle_timeout(now + std::time::Duration::from_secs(3600));
        while c.poll_output().is_some() {}
    }
}
