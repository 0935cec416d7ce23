//! Limits: oversized literals and lines give typed errors without buffering them, and the
//! next message still decodes.

use pimap::codec::{CommandDecoder, DecodeError, FrameError, ResponseDecoder};
use pimap::types::{ClientMessage, CommandBody, Data, Response};

fn tag_of(e: &DecodeError) -> Option<String> {
    e.tag()
        .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned())
}

#[test]
fn ten_gigabyte_sync_literal_is_refused_and_next_command_decodes() {
    let mut d = CommandDecoder::default();
    d.feed(b"a1 APPEND INBOX {10737418240}\r\n");
    let e = d.next().expect_err("must refuse a 10 GB literal");
    assert!(
        matches!(
            e,
            DecodeError::Limit(FrameError::LiteralTooLarge {
                length: 10737418240,
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(tag_of(&e).as_deref(), Some("a1"));
    assert!(
        d.take_continuation_request().is_none(),
        "no '+' may be sent for a refused literal"
    );
    assert!(d.buffered_len() < 1024);
    d.feed(b"a2 NOOP\r\n");
    let m = d.next().expect("next command decodes").expect("complete");
    assert!(
        matches!(m, ClientMessage::Command(c) if c.body == CommandBody::Noop && c.tag.as_bytes() == b"a2")
    );
}

#[test]
fn ten_gigabyte_nonsync_literal_is_skipped_without_buffering() {
    let mut d = CommandDecoder::default();
    d.feed(b"a1 APPEND INBOX {10737418240+}\r\n");
    let e = d.next().expect_err("must refuse a 10 GB literal");
    assert_eq!(tag_of(&e).as_deref(), Some("a1"));
    // The client sends (part of) the data anyway: it is discarded, never buffered.
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..8 {
        d.feed(&chunk);
        assert!(d.next().expect("discarding").is_none());
        assert!(d.buffered_len() <= 2 << 20, "buffered {}", d.buffered_len());
    }
}

#[test]
fn hundred_megabyte_line_is_refused_and_next_command_decodes() {
    let mut d = CommandDecoder::default();
    d.feed(b"a1 SEARCH TEXT ");
    let chunk = vec![b'x'; 1 << 20];
    let mut err = None;
    for _ in 0..100 {
        d.feed(&chunk);
        match d.next() {
            Ok(None) => {}
            Ok(Some(m)) => panic!("unexpected {m:?}"),
            Err(e) => {
                assert!(err.is_none(), "one error per message");
                err = Some(e)
            }
        }
        assert!(d.buffered_len() <= 4 << 20, "buffered {}", d.buffered_len());
    }
    let e = err.expect("a 100 MB line must be refused");
    assert!(
        matches!(e, DecodeError::Limit(FrameError::LineTooLong { .. })),
        "{e:?}"
    );
    assert_eq!(tag_of(&e).as_deref(), Some("a1"));
    d.feed(b"\r\na2 NOOP\r\n");
    let m = d.next().expect("next decodes").expect("complete");
    assert!(matches!(m, ClientMessage::Command(c) if c.tag.as_bytes() == b"a2"));
}

#[test]
fn response_side_oversized_literal_is_skipped() {
    let mut d = ResponseDecoder::default();
    d.feed(b"* {10933843723}\r\n");
    assert!(matches!(
        d.next(),
        Err(DecodeError::Limit(FrameError::LiteralTooLarge { .. }))
    ));
    assert!(d.buffered_len() < 1024);
}

#[test]
fn syntax_error_carries_tag_and_decoding_continues() {
    let mut d = CommandDecoder::default();
    d.feed(b"x1 FETCH 1:* (BOGUS\r\nx2 NOOP\r\n");
    let e = d.next().expect_err("bad syntax");
    assert_eq!(tag_of(&e).as_deref(), Some("x1"));
    assert!(matches!(d.next(), Ok(Some(ClientMessage::Command(c))) if c.tag.as_bytes() == b"x2"));
}

#[test]
fn deep_nesting_is_bounded() {
    let mut d = ResponseDecoder::default();
    let mut line = b"* 1 FETCH (BODYSTRUCTURE ".to_vec();
    line.extend(std::iter::repeat_n(b'(', 10_000));
    line.extend_from_slice(b"\r\n* 2 EXISTS\r\n");
    d.feed(&line);
    assert!(d.next().is_err());
    assert_eq!(
        d.next().expect("next decodes"),
        Some(Response::Data(Data::Exists(2)))
    );
}
