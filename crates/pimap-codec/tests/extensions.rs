//! The IMAP extensions the codec models (ESEARCH, SORT, THREAD, NOTIFY, MULTIAPPEND,
//! CATENATE, PREVIEW, SAVEDATE, RFC 5530 codes) and the command fallback, on the wire forms
//! of their RFCs' examples: each decodes to the expected value, strictly, and re-encodes to
//! the same bytes.

use bytes::Bytes;
use pimap_codec::{
    decode_response, CommandDecoder, DecoderOptions, Dialect, Encode, EncodeOptions, Fragment,
};
use pimap_types::*;

fn command(wire: &str, opts: DecoderOptions) -> Command {
    let mut d = CommandDecoder::new(opts);
    d.feed(wire.as_bytes());
    match d.next() {
        Ok(Some(ClientMessage::Command(c))) => c,
        other => panic!("{wire:?}: {other:?}"),
    }
}

/// Decodes strictly and re-encodes to the same bytes.
fn command_exact(wire: &str) -> CommandBody {
    let c = command(wire, DecoderOptions::strict());
    let again = c.to_bytes(Dialect::Draft08);
    assert_eq!(String::from_utf8_lossy(&again), wire, "re-encoding");
    c.body
}

fn response_exact(wire: &str) -> Response {
    let r = decode_response(wire.as_bytes(), DecoderOptions::strict())
        .unwrap_or_else(|e| panic!("{wire:?}: {e}"))
        .unwrap_or_else(|| panic!("{wire:?}: incomplete"));
    let again = r.to_bytes(Dialect::Draft08);
    assert_eq!(String::from_utf8_lossy(&again), wire, "re-encoding");
    r
}

fn data(r: Response) -> Data {
    match r {
        Response::Data(d) => d,
        other => panic!("not data: {other:?}"),
    }
}

fn atom(s: &str) -> Atom {
    Atom::try_from(s).unwrap()
}

#[test]
fn esearch_command_and_response_rfc4731() {
    match command_exact("a1 UID SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED\r\n") {
        CommandBody::Search {
            uid: true,
            return_opts: Some(opts),
            charset: None,
            criteria,
        } => {
            assert_eq!(
                opts,
                vec![
                    SearchReturnOpt::Min,
                    SearchReturnOpt::Max,
                    SearchReturnOpt::Count,
                    SearchReturnOpt::All
                ]
            );
            assert_eq!(criteria, vec![SearchKey::Undeleted]);
        }
        other => panic!("{other:?}"),
    }
    // `RETURN ()` means ALL; it stays an empty list.
    assert!(matches!(
        command_exact("a2 SEARCH RETURN () FLAGGED\r\n"),
        CommandBody::Search { return_opts: Some(v), .. } if v.is_empty()
    ));
    // RFC 9394 PARTIAL is kept with its value.
    match command_exact("a3 UID SEARCH RETURN (PARTIAL -1:-100 COUNT) ALL\r\n") {
        CommandBody::Search {
            return_opts: Some(opts),
            ..
        } => {
            assert_eq!(
                opts[0],
                SearchReturnOpt::Other {
                    name: atom("PARTIAL"),
                    value: Some(Bytes::from_static(b"-1:-100"))
                }
            );
            assert_eq!(opts[1], SearchReturnOpt::Count);
        }
        other => panic!("{other:?}"),
    }
    match data(response_exact(
        "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n",
    )) {
        Data::ESearch(e) => {
            assert_eq!(e.tag.as_ref().map(|t| t.as_bytes()), Some(&b"A285"[..]));
            assert!(e.uid);
            assert_eq!(e.items, vec![ESearchItem::Min(7), ESearchItem::Max(3800)]);
        }
        other => panic!("{other:?}"),
    }
    match data(response_exact(
        "* ESEARCH (TAG \"A284\") COUNT 5 ALL 4:5,12,21 MODSEQ 917162500\r\n",
    )) {
        Data::ESearch(e) => {
            assert!(!e.uid);
            assert_eq!(e.count(), Some(5));
            assert_eq!(e.all().map(|s| s.to_string()).as_deref(), Some("4:5,12,21"));
            assert_eq!(e.items[2], ESearchItem::ModSeq(917162500));
        }
        other => panic!("{other:?}"),
    }
    // Nothing matched: no items at all.
    assert!(matches!(
        data(response_exact("* ESEARCH (TAG \"a\")\r\n")),
        Data::ESearch(ESearch { items, .. }) if items.is_empty()
    ));
}

#[test]
fn sort_and_thread_rfc5256() {
    match command_exact("a1 UID SORT (REVERSE DATE SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n") {
        CommandBody::Sort {
            uid: true,
            return_opts: None,
            criteria,
            charset,
            search,
        } => {
            assert_eq!(
                criteria,
                vec![
                    SortKey {
                        reverse: true,
                        criterion: SortCriterion::Date
                    },
                    SortKey::ascending(SortCriterion::Subject)
                ]
            );
            assert_eq!(charset.as_bytes(), b"UTF-8");
            assert_eq!(search.len(), 1);
        }
        other => panic!("{other:?}"),
    }
    // ESORT (RFC 5267) puts RETURN before the sort keys.
    assert!(matches!(
        command_exact("a2 SORT RETURN (MIN COUNT) (DISPLAYFROM) UTF-8 ALL\r\n"),
        CommandBody::Sort { return_opts: Some(v), .. } if v.len() == 2
    ));
    match command_exact("a3 THREAD REFERENCES US-ASCII TEXT \"gewp zap\"\r\n") {
        CommandBody::Thread {
            uid: false,
            algorithm: ThreadAlgorithm::References,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        command_exact("a4 UID THREAD ORDEREDSUBJECT UTF-8 ALL\r\n"),
        CommandBody::Thread {
            uid: true,
            algorithm: ThreadAlgorithm::OrderedSubject,
            ..
        }
    ));
    assert_eq!(
        data(response_exact("* SORT 2 84 882\r\n")),
        Data::Sort {
            ids: vec![2, 84, 882],
            modseq: None
        }
    );
    assert_eq!(
        data(response_exact("* SORT\r\n")),
        Data::Sort {
            ids: vec![],
            modseq: None
        }
    );
    // RFC 5256's THREAD example.
    match data(response_exact("* THREAD (2)(3 6 (4 23)(44 7 96))\r\n")) {
        Data::Thread(t) => {
            assert_eq!(t.len(), 2);
            assert_eq!(t[0], Thread::chain(vec![2]));
            assert_eq!(t[1].messages, vec![3, 6]);
            assert_eq!(t[1].children[0], Thread::chain(vec![4, 23]));
            assert_eq!(t[1].children[1], Thread::chain(vec![44, 7, 96]));
            assert_eq!(t[1].all_messages(), vec![3, 6, 4, 23, 44, 7, 96]);
        }
        other => panic!("{other:?}"),
    }
    // A thread whose root is missing.
    match data(response_exact("* THREAD ((3)(5))\r\n")) {
        Data::Thread(t) => {
            assert!(t[0].messages.is_empty());
            assert_eq!(t[0].children.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(data(response_exact("* THREAD\r\n")), Data::Thread(vec![]));
    // Strict reading refuses a one-branch nesting (the grammar has none); tolerant reading
    // folds it into the chain.
    assert!(decode_response(b"* THREAD (1 (2))\r\n", DecoderOptions::strict()).is_err());
    assert_eq!(
        decode_response(b"* THREAD (1 (2))\r\n", DecoderOptions::default()).unwrap(),
        Some(Response::Data(Data::Thread(vec![Thread::chain(vec![
            1, 2
        ])])))
    );
}

#[test]
fn notify_rfc5465() {
    let wire = "a1 NOTIFY SET STATUS (SELECTED (MessageNew (UID BODY.PEEK[HEADER.FIELDS (FROM)]) MessageExpunge)) (SUBTREE Lists (MessageNew MessageExpunge FlagChange)) (MAILBOXES (INBOX Sent) NONE)\r\n";
    match command_exact(wire) {
        CommandBody::Notify(NotifyCommand::Set { status, groups }) => {
            assert!(status);
            assert_eq!(groups.len(), 3);
            assert_eq!(groups[0].mailboxes, NotifyMailboxes::Selected);
            assert!(matches!(&groups[0].events[0], NotifyEvent::MessageNew(a) if a.len() == 2));
            assert!(matches!(&groups[1].mailboxes, NotifyMailboxes::Subtree(m) if m.len() == 1));
            assert!(matches!(&groups[2].mailboxes, NotifyMailboxes::Mailboxes(m) if m.len() == 2));
            assert!(groups[2].events.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        command_exact("a2 NOTIFY NONE\r\n"),
        CommandBody::Notify(NotifyCommand::None)
    );
    // Event names are case-insensitive.
    let c = command(
        "a3 NOTIFY SET (personal (messagenew flagchange))\r\n",
        DecoderOptions::strict(),
    );
    assert!(matches!(
        c.body,
        CommandBody::Notify(NotifyCommand::Set { .. })
    ));
    match response_exact("* NO [BADEVENT (MessageNew MessageExpunge)] x\r\n") {
        Response::Status(st) => assert_eq!(
            st.code,
            Some(Code::BadEvent(vec![
                atom("MessageNew"),
                atom("MessageExpunge")
            ]))
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn multiappend_and_catenate() {
    // RFC 3502 MULTIAPPEND: two messages.
    let wire = "a1 APPEND saved-messages (\\Seen) {3+}\r\nabc \" 7-Feb-1994 21:52:25 -0800\" {2+}\r\nde\r\n";
    let c = command(wire, DecoderOptions::strict());
    match &c.body {
        CommandBody::AppendMulti { messages, .. } => {
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0].flags, vec![Flag::Seen]);
            assert!(messages[1].date.is_some());
            assert!(
                matches!(&messages[1].content, AppendContent::Literal(l) if &l.data[..] == b"de")
            );
        }
        other => panic!("{other:?}"),
    }
    let lp = EncodeOptions {
        dialect: Dialect::Draft08,
        literal_plus: true,
    };
    assert_eq!(String::from_utf8_lossy(&c.to_bytes_with(lp)), wire);
    // RFC 4469 CATENATE.
    let wire = "a2 APPEND Drafts (\\Draft) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {4+}\r\nbody URL \"/INBOX;UIDVALIDITY=785799047/;UID=20/;section=1.MIME\")\r\n";
    let c = command(wire, DecoderOptions::strict());
    match &c.body {
        CommandBody::AppendMulti { messages, .. } => match &messages[0].content {
            AppendContent::Catenate(parts) => {
                assert_eq!(parts.len(), 3);
                assert!(matches!(&parts[1], CatenatePart::Text(l) if &l.data[..] == b"body"));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    // The URLs are astrings: written as atoms, they read back the same.
    let again = c.to_bytes_with(lp);
    assert_eq!(
        command(&String::from_utf8_lossy(&again), DecoderOptions::strict()),
        c
    );
    // One plain message stays an APPEND.
    let c = command("a3 APPEND INBOX {1+}\r\nx\r\n", DecoderOptions::strict());
    assert!(matches!(c.body, CommandBody::Append { .. }));
}

#[test]
fn preview_and_savedate() {
    assert!(matches!(
        command_exact("a1 FETCH 1:* (UID PREVIEW (LAZY) SAVEDATE)\r\n"),
        CommandBody::Fetch {
            items: FetchItems::List(v),
            ..
        } if v == vec![FetchAttr::Uid, FetchAttr::Preview { lazy: true }, FetchAttr::SaveDate]
    ));
    assert!(matches!(
        command_exact("a2 FETCH 1 PREVIEW\r\n"),
        CommandBody::Fetch { items: FetchItems::List(v), .. } if v == vec![FetchAttr::Preview { lazy: false }]
    ));
    match data(response_exact(
        "* 1 FETCH (PREVIEW \"Hello, world\" SAVEDATE \"18-Jul-2022 10:00:00 +0000\")\r\n",
    )) {
        Data::Fetch { items, .. } => {
            assert!(
                matches!(&items[0], FetchItem::Preview(Some(p)) if p.as_bytes() == b"Hello, world")
            );
            assert!(matches!(&items[1], FetchItem::SaveDate(Some(_))));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        data(response_exact("* 2 FETCH (PREVIEW NIL SAVEDATE NIL)\r\n")),
        Data::Fetch { items, .. } if items == vec![FetchItem::Preview(None), FetchItem::SaveDate(None)]
    ));
}

#[test]
fn rfc5530_codes() {
    for name in [
        "UNAVAILABLE",
        "AUTHENTICATIONFAILED",
        "AUTHORIZATIONFAILED",
        "EXPIRED",
        "PRIVACYREQUIRED",
        "CONTACTADMIN",
        "NOPERM",
        "INUSE",
        "EXPUNGEISSUED",
        "CORRUPTION",
        "SERVERBUG",
        "CLIENTBUG",
        "CANNOT",
        "LIMIT",
        "OVERQUOTA",
        "ALREADYEXISTS",
        "NONEXISTENT",
    ] {
        let wire = format!("a1 NO [{name}] text\r\n");
        match response_exact(&wire) {
            Response::Status(s) => {
                let code = s.code.unwrap_or_else(|| panic!("{name}: no code"));
                assert!(!matches!(code, Code::Other { .. }), "{name}: {code:?}");
                assert_eq!(code.simple_name(), Some(name));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn an_unmodelled_command_keeps_name_and_arguments_byte_for_byte() {
    let wire = "x1 GETQUOTAROOT \"Work/Q3\" (a \"b c\" [x y]) 1:*\r\n";
    match command_exact(wire) {
        CommandBody::Other { name, args } => {
            assert_eq!(name, atom("GETQUOTAROOT"));
            assert_eq!(
                args.as_deref(),
                Some(&b"\"Work/Q3\" (a \"b c\" [x y]) 1:*"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        command_exact("x2 XYZZY\r\n"),
        CommandBody::Other {
            name: atom("XYZZY"),
            args: None
        }
    );
    // UID with an unknown command: the name is UID.
    assert!(matches!(
        command_exact("x3 UID XFROB 1:5 now\r\n"),
        CommandBody::Other { name, args: Some(a) } if name == atom("UID") && &a[..] == b"XFROB 1:5 now"
    ));
    // Literals inside: kept with their announcement, and a client encoder sends a
    // synchronizing one as its own fragment (it must wait for `+`).
    let wire = "x4 SETMETADATA INBOX (/private/comment {5}\r\nhello)\r\n";
    let c = command(wire, DecoderOptions::strict());
    assert!(matches!(&c.body, CommandBody::Other { .. }));
    assert_eq!(String::from_utf8_lossy(&c.to_bytes(Dialect::Draft08)), wire);
    let frags = c.fragments(EncodeOptions::new(Dialect::Draft08));
    assert_eq!(frags.len(), 3, "{frags:?}");
    assert!(matches!(
        &frags[1],
        Fragment::Literal { data, mode: LiteralMode::Sync } if &data[..] == b"hello"
    ));
    // Malformed arguments are still an error naming the tag.
    for bad in [
        "x5 FROB (unbalanced\r\n",
        "x6 FROB a)\r\n",
        "x7 FROB \"open\r\n",
        "x8 FROB a\x01b\r\n",
    ] {
        let mut d = CommandDecoder::new(DecoderOptions::strict());
        d.feed(bad.as_bytes());
        match d.next() {
            Err(pimap_codec::DecodeError::Syntax { tag: Some(t), .. }) => {
                assert_eq!(&t.as_bytes()[..2], &bad.as_bytes()[..2], "{bad:?}")
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // A known command with bad arguments is not turned into the fallback.
    let mut d = CommandDecoder::new(DecoderOptions::strict());
    d.feed(b"x9 FETCH abc FLAGS\r\n");
    assert!(d.next().is_err());
}
