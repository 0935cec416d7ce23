//! Unit tests of the HTTP binding.

use super::*;
use bytes::Bytes;
use memchr::memchr;
use pimap_server::Server;
use pimap_types::{ClientMessage, Tag};
use proptest::prelude::*;
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ bodies

#[test]
fn body_with_literals_of_every_kind() {
    let body: &[u8] = b"a1 LOGIN {3}\r\njoe {6+}\r\nsecret\r\n\
        a2 APPEND INBOX {5+}\r\nHello\r\n\
        a3 APPEND INBOX ~{4}\r\nab\r\n\r\n\
        a4 NOOP\r\n";
    let msgs = parse_request_body(body, &BodyOptions::default()).unwrap();
    let tags: Vec<_> = msgs
        .iter()
        .map(|m| match m {
            ClientMessage::Command(c) => c.tag.to_str_lossy().into_owned(),
            _ => String::new(),
        })
        .collect();
    assert_eq!(tags, ["a1", "a2", "a3", "a4"]);
}

#[test]
fn continuation_commands_must_be_last() {
    let o = BodyOptions::default();
    let e = parse_request_body(b"a1 IDLE\r\na2 NOOP\r\n", &o).unwrap_err();
    assert_eq!(
        e,
        HttpError::ContinuationNotLast {
            tag: Tag::try_from("a1").unwrap()
        }
    );
    assert_eq!(e.status(), 500);
    assert_eq!(e.imap_body().get(..7), Some(&b"a1 BAD "[..]));
    let e = parse_request_body(b"x AUTHENTICATE PLAIN\r\ny NOOP\r\n", &o).unwrap_err();
    assert!(matches!(e, HttpError::ContinuationNotLast { ref tag } if tag.as_bytes() == b"x"));
    // Last is fine, and so is AUTHENTICATE with an initial response anywhere.
    assert_eq!(
        parse_request_body(b"a1 NOOP\r\na2 IDLE\r\n", &o)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        parse_request_body(b"a1 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\na2 NOOP\r\n", &o)
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn body_errors_are_typed_with_tags() {
    let o = BodyOptions::default();
    assert_eq!(parse_request_body(b"", &o), Err(HttpError::EmptyBody));
    let e = parse_request_body(b"a1 NOOP\r\na2 FROB (x\r\n", &o).unwrap_err();
    assert!(matches!(e, HttpError::Syntax { tag: Some(ref t), .. } if t.as_bytes() == b"a2"));
    let e = parse_request_body(b"a1 NOOP\r\na2 APPEND INBOX {10}\r\nshort", &o).unwrap_err();
    assert!(
        matches!(e, HttpError::Incomplete { tag: Some(ref t), .. } if t.as_bytes() == b"a2"),
        "{e:?}"
    );
    let e = parse_request_body(b"a1 APPEND INBOX {10}\r\n", &o).unwrap_err();
    assert!(
        matches!(
            e,
            HttpError::Incomplete {
                awaiting_literal: true,
                ..
            }
        ),
        "{e:?}"
    );
    let e = parse_request_body(b"a1 NOOP", &o).unwrap_err();
    assert!(matches!(
        e,
        HttpError::Incomplete {
            tag: Some(_),
            awaiting_literal: false
        }
    ));
    assert_eq!(
        parse_request_body(b"DONE\r\n", &o),
        Err(HttpError::UnexpectedContinuationData)
    );
    let small = BodyOptions::new(10, 2);
    assert_eq!(
        parse_request_body(b"a1 NOOP\r\na2 NOOP\r\n", &small),
        Err(HttpError::BodyTooLarge {
            size: 18,
            limit: 10
        })
    );
    let few = BodyOptions::new(1000, 2);
    assert_eq!(
        parse_request_body(b"a NOOP\r\nb NOOP\r\nc NOOP\r\n", &few),
        Err(HttpError::TooManyCommands { limit: 2 })
    );
}

#[test]
fn continuation_data_first_when_awaited() {
    let done = BodyOptions {
        awaiting: Awaiting::Done,
        ..BodyOptions::default()
    };
    let m = parse_request_body(b"DONE\r\nb1 NOOP\r\n", &done).unwrap();
    assert_eq!(m.first(), Some(&ClientMessage::Done));
    assert_eq!(
        parse_request_body(b"b1 NOOP\r\nDONE\r\n", &done),
        Err(HttpError::UnexpectedContinuationData)
    );
    let auth = BodyOptions {
        awaiting: Awaiting::AuthData,
        ..BodyOptions::default()
    };
    let m = parse_request_body(b"AGpvZQBzZWNyZXQ=\r\n", &auth).unwrap();
    assert!(matches!(m.as_slice(), [ClientMessage::AuthData(_)]));
    assert_eq!(
        parse_request_body(b"AGpvZQBzZWNyZXQ=\r\nb1 NOOP\r\n", &auth),
        Err(HttpError::CommandsAfterAuthData)
    );
}

// ------------------------------------------------------------------ headers, statuses

#[test]
fn content_types() {
    assert!(content_type_ok("application/vnd.pimap"));
    assert!(content_type_ok(
        "Application/VND.Lemonade; charset=us-ascii"
    ));
    assert!(!content_type_ok("text/plain"));
    assert!(!content_type_ok("application/vnd.pimapx"));
    assert_eq!(request_content_type(1), PIMAP_CONTENT_TYPE);
    assert_eq!(request_content_type(8), PIMAP_CONTENT_TYPE);
    assert_eq!(request_content_type(9), LEMONADE_CONTENT_TYPE);
    assert_eq!(request_content_type(12), LEMONADE_CONTENT_TYPE);
    assert_eq!(response_content_type(6), PIMAP_CONTENT_TYPE);
    assert_eq!(response_content_type(7), TEXT_PLAIN);
    assert_eq!(
        response_content_type(draft_of(Dialect::Draft01)),
        PIMAP_CONTENT_TYPE
    );
    assert_eq!(
        response_content_type(draft_of(Dialect::Draft08)),
        TEXT_PLAIN
    );
}

#[test]
fn statuses_per_version() {
    let ok = BatchOutcome {
        authenticated: true,
        ..Default::default()
    };
    let bad = BatchOutcome {
        any_bad: true,
        ..ok
    };
    let no = BatchOutcome { any_no: true, ..ok };
    let anon = BatchOutcome::default();
    let internal = BatchOutcome {
        internal_error: true,
        ..ok
    };
    let cont = BatchOutcome {
        continuation_pending: true,
        ..ok
    };
    let lost = BatchOutcome {
        any_no: true,
        authenticated: false,
        ..ok
    };
    for d in 0..=2 {
        assert_eq!(status_for(d, &ok), 200);
        assert_eq!(status_for(d, &bad), 400);
        assert_eq!(status_for(d, &no), 400);
        assert_eq!(status_for(d, &anon), 401);
        assert_eq!(status_for(d, &internal), 500);
    }
    for d in 3..=10 {
        for o in [ok, bad, no, anon, cont, lost] {
            assert_eq!(status_for(d, &o), 200, "draft {d} {o:?}");
        }
        assert_eq!(status_for(d, &internal), 500);
    }
    assert_eq!(status_for(11, &ok), 200);
    assert_eq!(status_for(11, &bad), 500);
    assert_eq!(status_for(11, &no), 500);
    assert_eq!(status_for(11, &anon), 200);
    assert_eq!(status_for(12, &ok), 200);
    assert_eq!(status_for(12, &cont), 100);
    assert_eq!(status_for(12, &lost), 401);
    assert_eq!(status_for(12, &bad), 500);
    assert_eq!(status_for(12, &internal), 500);
    // Unknown future drafts follow the default rule.
    assert_eq!(status_for(40, &bad), 200);
}

/// Decode a gzip member (test helper): a plain RFC 1952 header, then inflate (which
/// checks CRC-32 and size).
fn gunzip(data: &[u8]) -> Vec<u8> {
    assert_eq!(data.get(..4), Some(&[0x1f, 0x8b, 8, 0][..]));
    pimap_codec::compress::inflate_all(data, pimap_codec::compress::Limits::default()).unwrap()
}

#[test]
fn gzip_round_trip_and_accept_encoding() {
    let body = b"* 3 EXISTS\r\nb1 OK NOOP completed\r\n".repeat(50);
    let (z, coding) = encode_body(&body, true);
    assert_eq!(coding, Some("gzip"));
    assert!(z.len() < body.len());
    assert_eq!(gunzip(&z), body);
    assert_eq!(gunzip(&encode_body(b"", true).0), b"");
    assert_eq!(encode_body(&body, false), (body.clone(), None));

    assert!(accepts_gzip("gzip"));
    assert!(accepts_gzip("deflate, gzip, br, zstd"));
    assert!(accepts_gzip("GZIP;q=0.5"));
    assert!(accepts_gzip("x-gzip"));
    assert!(accepts_gzip("*"));
    assert!(!accepts_gzip("gzip;q=0"));
    assert!(!accepts_gzip("gzip; q=0.000, *;q=1"));
    assert!(!accepts_gzip("identity"));
    assert!(!accepts_gzip(""));
    assert!(!accepts_gzip("*;q=0"));
    assert!(!accepts_gzip("br, deflate"));
}

// ------------------------------------------------------------------ chunked coding

#[test]
fn chunked_decoding_and_errors() {
    let mut d = ChunkedDecoder::default();
    let mut out = Vec::new();
    let wire = b"e\r\n2 CAPABILITY\r\n\r\n3 ; name=\"v\"\r\nabc\n0\r\nX-Trailer: 1\r\n\r\n";
    assert_eq!(d.feed(wire, &mut out).unwrap(), wire.len());
    assert_eq!(out, b"2 CAPABILITY\r\nabc");
    assert!(d.is_done());
    assert_eq!(d.feed(b"more", &mut out).unwrap(), 0);

    let err = |wire: &[u8], limits: ChunkedLimits| {
        let mut d = ChunkedDecoder::new(limits);
        let e = d.feed(wire, &mut Vec::new()).unwrap_err();
        // Poisoned afterwards.
        assert_eq!(d.feed(b"0\r\n\r\n", &mut Vec::new()), Err(e.clone()));
        e
    };
    let l = ChunkedLimits::default();
    assert_eq!(err(b"zz\r\n", l), ChunkedError::InvalidSize);
    assert_eq!(err(b"\r\n", l), ChunkedError::InvalidSize);
    assert_eq!(err(b"1 x\r\n", l), ChunkedError::InvalidSize);
    assert_eq!(err(b"11111111111111111\r\n", l), ChunkedError::InvalidSize);
    assert_eq!(err(b"3\r\nabcX", l), ChunkedError::MissingCrlf);
    assert_eq!(err(b"3\r\nabc\rX", l), ChunkedError::MissingCrlf);
    let small = ChunkedLimits {
        max_chunk: 4,
        max_line: 8,
        max_trailers: 10,
    };
    assert_eq!(
        err(b"5\r\n", small),
        ChunkedError::ChunkTooLarge { size: 5, limit: 4 }
    );
    assert_eq!(
        err(b"1;aaaaaaaaaa", small),
        ChunkedError::LineTooLong { limit: 8 }
    );
    assert_eq!(
        err(b"0\r\nA: 1\r\nB: 2\r\n", small),
        ChunkedError::TrailersTooLarge { limit: 10 }
    );
}

fn chunked(payload: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut rest = payload;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .clamp(1, rest.len());
        let (c, r) = rest.split_at(n);
        wire.extend(encode_chunk(c));
        rest = r;
        i += 1;
    }
    wire.extend_from_slice(LAST_CHUNK);
    wire
}

proptest! {
    #[test]
    fn chunked_decoding_in_random_pieces(
        payload in proptest::collection::vec(any::<u8>(), 0..600),
        sizes in proptest::collection::vec(1usize..80, 1..8),
        cuts in proptest::collection::vec(1usize..40, 1..50),
    ) {
        let wire = chunked(&payload, &sizes);
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut rest = &wire[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            let (piece, r) = rest.split_at(n);
            prop_assert_eq!(d.feed(piece, &mut out).unwrap(), n);
            rest = r;
            i += 1;
        }
        prop_assert!(d.is_done());
        prop_assert_eq!(out, payload);
    }

    #[test]
    fn commands_split_across_chunks_reassemble(
        sizes in proptest::collection::vec(1usize..20, 1..6),
        cuts in proptest::collection::vec(1usize..30, 1..10),
    ) {
        let payload: &[u8] = b"a1 LOGIN joe#dev secret\r\na2 APPEND INBOX {11}\r\nHello\r\nabc\r\na3 IDLE\r\nDONE\r\n";
        let wire = chunked(payload, &sizes);
        let mut a = LineAssembler::default();
        let mut msgs = Vec::new();
        let mut rest = &wire[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            let (piece, r) = rest.split_at(n);
            a.feed(piece).unwrap();
            while let Some(m) = a.next().unwrap() {
                msgs.push(m);
            }
            rest = r;
            i += 1;
        }
        prop_assert!(a.is_done());
        prop_assert_eq!(msgs.len(), 4);
        prop_assert_eq!(msgs.last(), Some(&ClientMessage::Done));
    }
}

#[test]
fn lines_split_across_chunks() {
    let mut a = LineAssembler::default();
    a.feed(b"5\r\na1 NO\r\n").unwrap();
    assert_eq!(a.next().unwrap(), None);
    // The rest of a1 and all of a2 in one chunk, a3's start too.
    a.feed(&encode_chunk(b"OP\r\na2 NOOP\r\na3 CAP")).unwrap();
    assert!(
        matches!(a.next().unwrap(), Some(ClientMessage::Command(c)) if c.tag.as_bytes() == b"a1")
    );
    assert!(
        matches!(a.next().unwrap(), Some(ClientMessage::Command(c)) if c.tag.as_bytes() == b"a2")
    );
    assert_eq!(a.next().unwrap(), None);
    a.feed(&encode_chunk(b"ABILITY\r\n")).unwrap();
    a.feed(LAST_CHUNK).unwrap();
    assert!(
        matches!(a.next().unwrap(), Some(ClientMessage::Command(c)) if c.tag.as_bytes() == b"a3")
    );
    assert!(a.is_done());
}

#[test]
fn chunks_and_message_splitting() {
    // TV-07-A.2-c.
    assert_eq!(
        encode_chunk(b"2 CAPABILITY\r\n"),
        b"e\r\n2 CAPABILITY\r\n\r\n"
    );
    assert_eq!(
        encode_chunk(b"2 OK CAPABILITY completed\r\n").get(..4),
        Some(&b"1b\r\n"[..])
    );
    assert!(encode_chunk(b"").is_empty());
    let out = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 4)\r\n* 2 FETCH (BODY[1] ~{2}\r\n{})\r\n\
        * OK {bad}\r\n+ idling\r\na1 OK done\r\n* 3 EX";
    let (m, rest) = split_messages(out);
    assert_eq!(m.len(), 5);
    assert_eq!(m[0], b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 4)\r\n");
    assert_eq!(m[1], b"* 2 FETCH (BODY[1] ~{2}\r\n{})\r\n");
    assert_eq!(m[2], b"* OK {bad}\r\n");
    assert_eq!(rest, b"* 3 EX");
    // A literal whose data has not arrived is incomplete.
    assert_eq!(split_messages(b"* 1 FETCH (BODY[] {50}\r\nab").0.len(), 0);
}

#[test]
fn cookies() {
    assert_eq!(session_cookie("JSESSIONID=abc"), Some("abc"));
    assert_eq!(session_cookie("a=b; jsessionid=\"xyz\" ; c=d"), Some("xyz"));
    assert_eq!(session_cookie("a=b"), None);
    assert_eq!(session_cookie("bare"), Some("bare"));
    assert_eq!(session_cookie("  "), None);
}

// ------------------------------------------------------------------ sessions

mod sessions {
    use super::*;
    use pimap_server::blocking::{CollectingNotifier, Driver, NoSubmission};
    use pimap_server::{SeededRandom, ServerConfig};
    use pimap_store_memory::MemoryStore;

    type D = Driver<MemoryStore, NoSubmission, CollectingNotifier>;

    fn driver() -> D {
        let mut store = MemoryStore::new();
        store.add_user("alice", "alicepw");
        for _ in 0..2 {
            store.inject(
                "alice",
                "INBOX",
                b"Subject: hi\r\n\r\nhello\r\n",
                Vec::new(),
                None,
            );
        }
        let _ = store.take_changes();
        let server = Server::with_parts(
            ServerConfig::default(),
            Box::new(SeededRandom::new(7)),
            Box::new(pimap_server::MemoryPersistence::new()),
        );
        Driver::new(server, store, NoSubmission, CollectingNotifier::default())
    }

    fn sessions(config: HttpConfig) -> HttpSessions {
        HttpSessions::with_random(config, Box::new(SeededRandom::new(3)))
    }

    /// Drive the server, route its actions, and collect the events.
    fn pump(d: &mut D, h: &mut HttpSessions, now: Instant) -> Vec<HttpEvent> {
        for a in d.run(now) {
            assert_eq!(h.handle_action(a), None, "every connection is an HTTP one");
        }
        std::iter::from_fn(|| h.poll_event()).collect()
    }

    fn post(
        d: &mut D,
        h: &mut HttpSessions,
        cookie: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> HttpResponse {
        let PostResult::Accepted { exchange, .. } = h.post(&mut d.server, cookie, body, now) else {
            panic!("rejected")
        };
        let ev = pump(d, h, now);
        match ev.as_slice() {
            [HttpEvent::Response {
                exchange: e,
                response,
            }] if *e == exchange => response.clone(),
            other => panic!("unexpected events {other:?}"),
        }
    }

    fn text(r: &HttpResponse) -> String {
        String::from_utf8_lossy(&r.body).into_owned()
    }

    #[test]
    fn cookie_flow() {
        let now = Instant::now();
        let mut d = driver();
        let mut h = sessions(HttpConfig::default());
        let r = post(
            &mut d,
            &mut h,
            None,
            b"a1 LOGIN alice#dev1 alicepw\r\na2 SELECT INBOX\r\na3 FETCH 1:* (UID FLAGS)\r\n",
            now,
        );
        let t = text(&r);
        assert_eq!(r.status, 200, "{t}");
        assert_eq!(r.content_type, TEXT_PLAIN);
        assert!(
            !t.contains("CAPABILITY IMAP4rev1"),
            "greeting swallowed: {t}"
        );
        assert!(t.contains("* SESSIONID "), "{t}");
        assert!(t.contains("* 2 EXISTS\r\n"), "{t}");
        assert!(t.contains("* 1 FETCH (UID 1 FLAGS (\\Recent))"), "{t}");
        assert!(t.ends_with("a3 OK FETCH completed\r\n"), "{t}");
        assert!(r.outcome.authenticated);
        let set = r.set_cookie.clone().unwrap();
        assert!(set.ends_with("; path=/pimap"), "{set}");
        let value = set
            .strip_prefix("JSESSIONID=")
            .and_then(|s| s.split(';').next())
            .unwrap()
            .to_string();
        assert_eq!(value.len(), 32);
        assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(h.session_count(), 1);

        // A new message is polled with the next command of the same session.
        d.store.inject(
            "alice",
            "INBOX",
            b"Subject: new\r\n\r\nx\r\n",
            Vec::new(),
            None,
        );
        assert!(pump_sync(&mut d, &mut h, now).is_empty());
        let cookie = format!("other=1; JSESSIONID={value}");
        let r = post(&mut d, &mut h, Some(&cookie), b"b1 NOOP\r\n", now);
        let t = text(&r);
        assert_eq!(r.set_cookie, None);
        assert!(t.contains("* 3 EXISTS\r\n"), "{t}");
        assert!(t.ends_with("b1 OK completed\r\n"), "{t}");

        // NO and BAD stay 200 under -08; the outcome records them.
        let r = post(
            &mut d,
            &mut h,
            Some(&cookie),
            b"c1 SELECT Nope\r\nc2 FROB\r\n",
            now,
        );
        assert_eq!(r.status, 200);
        assert!(r.outcome.any_no && r.outcome.any_bad, "{}", text(&r));

        // An unknown cookie starts a new (unauthenticated) connection.
        let r = post(&mut d, &mut h, Some("JSESSIONID=feed"), b"x1 NOOP\r\n", now);
        assert!(r.set_cookie.is_some());
        assert!(!r.outcome.authenticated);
        assert_eq!(h.session_count(), 2);

        // LOGOUT ends the session: the cookie is forgotten.
        let r = post(&mut d, &mut h, Some(&cookie), b"z1 LOGOUT\r\n", now);
        assert!(text(&r).contains("* BYE"));
        assert!(!r.outcome.authenticated);
        assert_eq!(h.session_count(), 1);
        // LOGOUT also ends the device session (spec §6).
        assert!(!d.server.has_session(b"alice", b"dev1"));
        assert_eq!(d.server.connection_count(), 1);
    }

    fn pump_sync(d: &mut D, h: &mut HttpSessions, now: Instant) -> Vec<HttpEvent> {
        for a in d.sync_store(now) {
            assert_eq!(h.handle_action(a), None);
        }
        std::iter::from_fn(|| h.poll_event()).collect()
    }

    fn cookie_of(r: &HttpResponse) -> String {
        let set = r.set_cookie.clone().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    #[test]
    fn idle_as_last_command_carries_over() {
        let now = Instant::now();
        let mut d = driver();
        let mut h = sessions(HttpConfig::new(12));
        let r = post(
            &mut d,
            &mut h,
            None,
            b"a1 LOGIN alice#dev1 alicepw\r\na2 SELECT INBOX\r\na3 IDLE\r\n",
            now,
        );
        assert_eq!(r.status, 100, "{}", text(&r));
        assert!(r.outcome.continuation_pending);
        assert!(text(&r).ends_with("+ idling\r\n"), "{}", text(&r));
        assert!(r.set_cookie.as_deref().unwrap().ends_with("path=/lemonade"));
        let cookie = cookie_of(&r);

        // Pushed while idling: kept for the next response.
        d.store.inject(
            "alice",
            "INBOX",
            b"Subject: new\r\n\r\nx\r\n",
            Vec::new(),
            None,
        );
        assert!(pump_sync(&mut d, &mut h, now).is_empty());
        let r = post(&mut d, &mut h, Some(&cookie), b"DONE\r\nb1 NOOP\r\n", now);
        let t = text(&r);
        assert_eq!(r.status, 200, "{t}");
        assert!(t.starts_with("* 3 EXISTS\r\n"), "{t}");
        assert!(t.contains("a3 OK IDLE terminated\r\n"), "{t}");
        assert!(t.ends_with("b1 OK completed\r\n"), "{t}");

        // -12: a batch with IDLE not last is refused with 500 and a tagged BAD.
        let PostResult::Rejected { error, response } =
            h.post(&mut d.server, Some(&cookie), b"c1 IDLE\r\nc2 NOOP\r\n", now)
        else {
            panic!()
        };
        assert!(matches!(error, HttpError::ContinuationNotLast { .. }));
        assert_eq!(response.status, 500);
        assert!(response.body.starts_with(b"c1 BAD "));
    }

    #[test]
    fn authenticate_across_posts() {
        let now = Instant::now();
        let mut d = driver();
        let mut h = sessions(HttpConfig::new(12));
        let r = post(&mut d, &mut h, None, b"a1 AUTHENTICATE PLAIN\r\n", now);
        assert_eq!(r.status, 100, "{}", text(&r));
        let cookie = cookie_of(&r);
        // "\0alice#dev9\0alicepw"
        // Nothing may follow the data: the server reads it only after AUTHENTICATE ends.
        let PostResult::Rejected { error, .. } = h.post(
            &mut d.server,
            Some(&cookie),
            b"AGFsaWNlI2RldjkAYWxpY2Vwdw==\r\na2 NOOP\r\n",
            now,
        ) else {
            panic!()
        };
        assert_eq!(error, HttpError::CommandsAfterAuthData);
        let r = post(
            &mut d,
            &mut h,
            Some(&cookie),
            b"AGFsaWNlI2RldjkAYWxpY2Vwdw==\r\n",
            now,
        );
        let t = text(&r);
        assert!(t.contains("* SESSIONID "), "{t}");
        assert!(t.ends_with("a1 OK LOGIN completed\r\n"), "{t}");
        assert_eq!(r.status, 200, "{t}");
        assert!(r.outcome.authenticated);
    }

    #[test]
    fn old_drafts_report_unauthenticated_and_failures() {
        let now = Instant::now();
        let mut d = driver();
        let mut h = sessions(HttpConfig::new(1));
        let r = post(&mut d, &mut h, None, b"a1 LOGIN alice wrong\r\n", now);
        assert_eq!(r.status, 401, "{}", text(&r));
        assert_eq!(r.content_type, PIMAP_CONTENT_TYPE);
        let cookie = cookie_of(&r);
        let r = post(
            &mut d,
            &mut h,
            Some(&cookie),
            b"a2 LOGIN alice alicepw\r\na3 SELECT Nope\r\n",
            now,
        );
        assert_eq!(r.status, 400, "{}", text(&r));
        let r = post(&mut d, &mut h, Some(&cookie), b"a4 NOOP\r\n", now);
        assert_eq!(r.status, 200, "{}", text(&r));
    }

    #[test]
    fn busy_limits_and_expiry() {
        let now = Instant::now();
        let mut d = driver();
        let mut h = sessions(HttpConfig {
            max_sessions: 1,
            idle_expiry: Duration::from_secs(60),
            ..HttpConfig::default()
        });
        // Accepted but not yet driven: a second POST on the session is busy.
        let PostResult::Accepted { .. } =
            h.post(&mut d.server, None, b"a1 LOGIN alice#dev1 alicepw\r\n", now)
        else {
            panic!()
        };
        let ev = pump(&mut d, &mut h, now);
        let Some(HttpEvent::Response { response, .. }) = ev.first() else {
            panic!()
        };
        let cookie = cookie_of(response);
        let PostResult::Accepted { .. } = h.post(&mut d.server, Some(&cookie), b"b1 NOOP\r\n", now)
        else {
            panic!()
        };
        let PostResult::Rejected { error, response } =
            h.post(&mut d.server, Some(&cookie), b"b2 NOOP\r\n", now)
        else {
            panic!()
        };
        assert_eq!(error, HttpError::SessionBusy);
        assert_eq!(response.status, 409);
        let _ = pump(&mut d, &mut h, now);
        // The session limit.
        let PostResult::Rejected { error, .. } = h.post(&mut d.server, None, b"x NOOP\r\n", now)
        else {
            panic!()
        };
        assert_eq!(error, HttpError::TooManySessions { limit: 1 });
        // Idle expiry closes the server connection; the device session remains.
        let due = h.poll_timeout().unwrap();
        assert_eq!(due, now + Duration::from_secs(60));
        h.handle_timeout(&mut d.server, due - Duration::from_secs(1));
        assert_eq!(h.session_count(), 1);
        h.handle_timeout(&mut d.server, due);
        assert_eq!(h.session_count(), 0);
        assert_eq!(h.poll_timeout(), None);
        assert_eq!(d.server.connection_count(), 0);
        assert!(d.server.has_session(b"alice", b"dev1"));
        // The old cookie starts a new connection; LOGIN resumes the device session.
        let r = post(
            &mut d,
            &mut h,
            Some(&cookie),
            b"c1 LOGIN alice#dev1 alicepw\r\n",
            due,
        );
        assert!(r.set_cookie.is_some());
        assert!(text(&r).contains("* SESSION"), "{}", text(&r));
    }

    #[test]
    fn a_response_split_over_transmissions_is_one_message() {
        let now = Instant::now();
        let mut d = driver();
        let mut h = sessions(HttpConfig::default());
        let s = h.open_stream(&mut d.server, now).unwrap();
        let _ = pump(&mut d, &mut h, now);
        // The server hands a large literal over as its own transmission.
        assert!(h.on_transmit(s, b"* 1 FETCH (BODY[] {5}\r\n"));
        assert!(h.on_transmit(s, b"hello"));
        assert!(h.on_transmit(s, b")\r\na1 OK done\r\n"));
        let mut messages = Vec::new();
        while let Some(ev) = h.poll_event() {
            if let HttpEvent::StreamData { messages: m, .. } = ev {
                messages.extend(m);
            }
        }
        assert_eq!(
            messages,
            [
                Bytes::from_static(b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n"),
                Bytes::from_static(b"a1 OK done\r\n"),
            ]
        );
    }

    #[test]
    fn persistent_stream_one_message_per_chunk() {
        let now = Instant::now();
        let mut d = driver();
        let mut h = sessions(HttpConfig::default());
        let s = h.open_stream(&mut d.server, now).unwrap();
        assert!(pump(&mut d, &mut h, now).is_empty(), "greeting swallowed");
        // Payload pieces split mid-line, as chunks may be.
        for piece in [
            &b"c1 LOGIN alice#dev2 al"[..],
            b"icepw\r\nc1a XSETPIMAPPREF PIMAP_XFILTER (INBOX N ALL)\r\n",
            b"c2 SELECT INBOX\r\nc3 ID",
            b"LE\r\n",
        ] {
            h.stream_input(&mut d.server, s, piece, now).unwrap();
        }
        let mut lines: Vec<Bytes> = Vec::new();
        for ev in pump(&mut d, &mut h, now) {
            let HttpEvent::StreamData { stream, messages } = ev else {
                panic!()
            };
            assert_eq!(stream, s);
            lines.extend(messages);
        }
        assert!(lines.iter().all(|l| l.ends_with(b"\r\n")));
        assert!(lines.iter().all(|l| memchr(b'\n', l) == Some(l.len() - 1)));
        assert_eq!(lines.last().map(|l| &l[..]), Some(&b"+ idling\r\n"[..]));
        // A push while idling.
        d.store.inject(
            "alice",
            "INBOX",
            b"Subject: new\r\n\r\nx\r\n",
            Vec::new(),
            None,
        );
        let ev = pump_sync(&mut d, &mut h, now);
        assert_eq!(
            ev,
            [HttpEvent::StreamData {
                stream: s,
                messages: vec![Bytes::from_static(b"* 3 EXISTS\r\n")]
            }]
        );
        h.stream_input(&mut d.server, s, b"DONE\r\nc4 LOGOUT\r\n", now)
            .unwrap();
        let ev = pump(&mut d, &mut h, now);
        assert_eq!(ev.last(), Some(&HttpEvent::StreamEnd { stream: s }));
        assert_eq!(h.stream_count(), 0);
        assert!(matches!(
            h.stream_input(&mut d.server, s, b"x\r\n", now),
            Err(HttpError::UnknownStream(_))
        ));
    }

    #[test]
    fn http1_rendering() {
        let r = HttpResponse {
            status: 200,
            content_type: TEXT_PLAIN,
            set_cookie: Some("JSESSIONID=ab; path=/pimap".into()),
            body: b"a1 OK done\r\n".to_vec(),
            outcome: BatchOutcome::default(),
        };
        let w = String::from_utf8(r.to_http1(false)).unwrap();
        assert_eq!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\
             Set-Cookie: JSESSIONID=ab; path=/pimap\r\n\r\na1 OK done\r\n"
        );
        let z = r.to_http1(true);
        let split = z.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        assert!(String::from_utf8_lossy(&z[..split]).contains("Content-Encoding: gzip"));
        assert_eq!(gunzip(&z[split + 4..]), r.body);
    }
}
