//! Real byte-exact Dovecot transcripts (tests/vectors/dovecot/*.raw) decode completely with no
//! generic fallback, and every message re-encodes to bytes that decode to an equal value.

mod common;

use pimap::codec::{CommandDecoder, DecoderOptions, Dialect, Encode, ResponseDecoder};
use pimap::types::{ClientMessage, Response};

const SESSIONS: &[&str] = &["dovecot-session", "dovecot-session-qresync"];

fn read(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/vectors/dovecot/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn decode_responses(bytes: &[u8], opts: DecoderOptions) -> Vec<Response> {
    let mut d = ResponseDecoder::new(opts);
    d.feed(bytes);
    let mut v = Vec::new();
    while let Some(r) = d.next().unwrap_or_else(|e| panic!("decode error: {e}")) {
        v.push(r);
    }
    assert_eq!(d.buffered_len(), 0, "trailing bytes left undecoded");
    v
}

fn decode_commands(bytes: &[u8], opts: DecoderOptions) -> Vec<ClientMessage> {
    let mut d = CommandDecoder::new(opts);
    d.feed(bytes);
    let mut v = Vec::new();
    while let Some(c) = d.next().unwrap_or_else(|e| panic!("decode error: {e}")) {
        v.push(c);
    }
    assert_eq!(d.buffered_len(), 0, "trailing bytes left undecoded");
    v
}

#[test]
fn server_side_decodes_fully_without_fallbacks_in_both_modes() {
    for s in SESSIONS {
        let bytes = read(&format!("{s}.server.raw"));
        for opts in [DecoderOptions::default(), DecoderOptions::strict()] {
            let rs = decode_responses(&bytes, opts);
            assert!(rs.len() > 40, "{s}: only {} responses", rs.len());
            for r in &rs {
                let f = common::fallbacks_in_response(r);
                assert!(f.is_empty(), "{s}: generic fallback used: {f:?}");
            }
        }
    }
}

#[test]
fn server_side_reencodes_to_equal_values() {
    for s in SESSIONS {
        let rs = decode_responses(&read(&format!("{s}.server.raw")), DecoderOptions::strict());
        let mut wire = Vec::new();
        for r in &rs {
            wire.extend_from_slice(&r.to_bytes(Dialect::Draft08));
        }
        let again = decode_responses(&wire, DecoderOptions::strict());
        assert_eq!(rs, again, "{s}: re-encoding changed values");
    }
}

#[test]
fn client_side_decodes_and_reencodes() {
    for s in SESSIONS {
        let bytes = read(&format!("{s}.client.raw"));
        let cs = decode_commands(&bytes, DecoderOptions::strict());
        assert!(cs.len() > 10, "{s}: only {} commands", cs.len());
        assert!(
            cs.iter().any(|c| matches!(c, ClientMessage::Done)),
            "{s}: DONE not seen"
        );
        let mut wire = Vec::new();
        for c in &cs {
            wire.extend_from_slice(&c.to_bytes(Dialect::Draft08));
        }
        assert_eq!(cs, decode_commands(&wire, DecoderOptions::strict()), "{s}");
    }
}

#[test]
fn transcripts_decode_identically_in_one_byte_pieces() {
    for s in SESSIONS {
        let bytes = read(&format!("{s}.server.raw"));
        let whole = decode_responses(&bytes, DecoderOptions::default());
        let mut d = ResponseDecoder::default();
        let mut pieces = Vec::new();
        for b in &bytes {
            d.feed(std::slice::from_ref(b));
            while let Some(r) = d.next().expect("decode") {
                pieces.push(r);
            }
        }
        assert_eq!(whole, pieces, "{s}");
    }
}

/// The extensions session (`dovecot-session-extensions.*`): every response and every command
/// is modelled (no fallback of any kind) and re-encodes to an equal value.
#[test]
fn extension_session_is_modelled_both_ways() {
    let s = "dovecot-session-extensions";
    let rs = decode_responses(&read(&format!("{s}.server.raw")), DecoderOptions::strict());
    for r in &rs {
        let f = common::fallbacks_in_response(r);
        assert!(f.is_empty(), "{s}: generic fallback used: {f:?}");
    }
    let mut wire = Vec::new();
    for r in &rs {
        wire.extend_from_slice(&r.to_bytes(Dialect::Draft08));
    }
    assert_eq!(rs, decode_responses(&wire, DecoderOptions::strict()), "{s}");
    use pimap::types::{Code, CommandBody as C, Data, FetchItem};
    let has = |f: &dyn Fn(&Response) -> bool| rs.iter().any(f);
    assert!(has(&|r| matches!(r, Response::Data(Data::ESearch(_)))));
    assert!(has(&|r| matches!(r, Response::Data(Data::Sort { .. }))));
    assert!(has(
        &|r| matches!(r, Response::Data(Data::Thread(t)) if t.iter().any(|t| !t.children.is_empty()))
    ));
    assert!(has(
        &|r| matches!(r, Response::Data(Data::Fetch { items, .. })
        if items.iter().any(|i| matches!(i, FetchItem::Preview(Some(_))))
            && items.iter().any(|i| matches!(i, FetchItem::SaveDate(Some(_)))))
    ));
    for code in [
        Code::AlreadyExists,
        Code::ClientBug,
        Code::Nonexistent,
        Code::NotificationOverflow,
    ] {
        assert!(
            has(&|r| matches!(r, Response::Status(st) if st.code.as_ref() == Some(&code))),
            "{code:?}"
        );
    }
    assert!(has(
        &|r| matches!(r, Response::Status(st) if matches!(st.code, Some(Code::BadUrl(_))))
    ));

    let cs = decode_commands(&read(&format!("{s}.client.raw")), DecoderOptions::strict());
    let bodies: Vec<&C> = cs
        .iter()
        .filter_map(|c| match c {
            ClientMessage::Command(c) => Some(&c.body),
            _ => None,
        })
        .collect();
    assert!(bodies.len() > 20);
    for b in &bodies {
        assert!(!matches!(b, C::Other { .. }), "{s}: fallback for {b:?}");
    }
    for (what, found) in [
        (
            "MULTIAPPEND",
            bodies
                .iter()
                .any(|b| matches!(b, C::AppendMulti { messages, .. } if messages.len() == 3)),
        ),
        (
            "CATENATE",
            bodies.iter().any(|b| matches!(b, C::AppendMulti { .. })),
        ),
        (
            "ESEARCH",
            bodies.iter().any(|b| {
                matches!(
                    b,
                    C::Search {
                        return_opts: Some(_),
                        ..
                    }
                )
            }),
        ),
        (
            "ESORT",
            bodies.iter().any(|b| {
                matches!(
                    b,
                    C::Sort {
                        return_opts: Some(_),
                        ..
                    }
                )
            }),
        ),
        (
            "THREAD",
            bodies.iter().any(|b| matches!(b, C::Thread { .. })),
        ),
        ("NOTIFY", bodies.iter().any(|b| matches!(b, C::Notify(_)))),
    ] {
        assert!(found, "{s}: no {what} command");
    }
    let mut wire = Vec::new();
    for c in &cs {
        wire.extend_from_slice(&c.to_bytes(Dialect::Draft08));
    }
    assert_eq!(cs, decode_commands(&wire, DecoderOptions::strict()), "{s}");
}
