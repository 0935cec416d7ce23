//! Every decoded response and client message re-encodes (draft -08) to bytes that a fresh
//! decoder of the same tolerance decodes to an equal value, with nothing left over.
//!
//! First input byte: bit 0 = strict reading (otherwise tolerant). The rest is fed whole to a
//! ResponseDecoder and to a CommandDecoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pimap::codec::{CommandDecoder, DecoderOptions, Dialect, Encode, ResponseDecoder, Tolerance};
use pimap::types::{ClientMessage, CommandBody, Response};

fn check_response(v: &Response, opts: DecoderOptions) {
    let enc = v.to_bytes(Dialect::Draft08);
    let mut d = ResponseDecoder::new(opts);
    d.feed(&enc);
    match d.next() {
        Ok(Some(again)) => assert_eq!(&again, v, "re-decoded response differs; encoding {:?}", String::from_utf8_lossy(&enc)),
        other => panic!("encoding of {v:?} does not decode: {other:?}; encoding {:?}", String::from_utf8_lossy(&enc)),
    }
    assert_eq!(d.buffered_len(), 0, "encoding of {v:?} left bytes over: {:?}", String::from_utf8_lossy(&enc));
}

fn check_command(v: &ClientMessage, opts: DecoderOptions) {
    let enc = v.to_bytes(Dialect::Draft08);
    let mut d = CommandDecoder::new(opts);
    d.set_authenticate_data(matches!(v, ClientMessage::AuthData(_)));
    d.feed(&enc);
    match d.next() {
        Ok(Some(again)) => assert_eq!(&again, v, "re-decoded command differs; encoding {:?}", String::from_utf8_lossy(&enc)),
        other => panic!("encoding of {v:?} does not decode: {other:?}; encoding {:?}", String::from_utf8_lossy(&enc)),
    }
    assert_eq!(d.buffered_len(), 0, "encoding of {v:?} left bytes over: {:?}", String::from_utf8_lossy(&enc));
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let opts = DecoderOptions {
        tolerance: if first & 1 != 0 { Tolerance::Strict } else { Tolerance::Drafts },
        ..DecoderOptions::default()
    };
    let mut budget = 2 * rest.len() + 64;
    let mut d = ResponseDecoder::new(opts);
    d.feed(rest);
    loop {
        budget = budget.checked_sub(1).expect("ResponseDecoder makes no progress");
        match d.next() {
            Ok(None) => break,
            Ok(Some(v)) => check_response(&v, opts),
            Err(_) => {}
        }
    }
    let mut budget = 2 * rest.len() + 64;
    let mut d = CommandDecoder::new(opts);
    d.feed(rest);
    loop {
        budget = budget.checked_sub(1).expect("CommandDecoder makes no progress");
        match d.next() {
            Ok(None) => break,
            Ok(Some(v)) => {
                check_command(&v, opts);
                match &v {
                    ClientMessage::Command(c) if matches!(c.body, CommandBody::Authenticate { initial_response: None, .. }) => {
                        d.set_authenticate_data(true)
                    }
                    ClientMessage::AuthData(_) => d.set_authenticate_data(false),
                    _ => {}
                }
            }
            Err(_) => {}
        }
    }
});
