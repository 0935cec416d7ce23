//! CommandDecoder (server side): arbitrary bytes fed in two pieces never panic, never loop.
//!
//! First input byte: bit 7 = strict reading, bit 6 = small limits and nesting depth,
//! bits 0-5 = where to split the rest (0 = all in the second piece, 63 = all in the first).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pimap::codec::{CommandDecoder, DecoderOptions, FramerLimits, Tolerance};
use pimap::types::{ClientMessage, CommandBody};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let opts = DecoderOptions {
        tolerance: if first & 0x80 != 0 { Tolerance::Strict } else { Tolerance::Drafts },
        limits: if first & 0x40 != 0 {
            FramerLimits { max_line: 256, max_literal: 512, max_message: 1024 }
        } else {
            FramerLimits::default()
        },
        max_depth: if first & 0x40 != 0 { Some(8) } else { None },
    };
    let at = rest.len() * usize::from(first & 0x3f) / 63;
    let mut d = CommandDecoder::new(opts);
    // Every Ok(Some)/Err accounts for at least one message, so this bound is never reached
    // unless the decoder stops making progress.
    let mut budget = 2 * rest.len() + 64;
    for piece in [&rest[..at], &rest[at..]] {
        d.feed(piece);
        let _ = d.take_continuation_request();
        loop {
            budget = budget.checked_sub(1).expect("CommandDecoder makes no progress");
            match d.next() {
                Ok(None) => break,
                Ok(Some(ClientMessage::Command(c))) => {
                    if matches!(c.body, CommandBody::Authenticate { initial_response: None, .. }) {
                        d.set_authenticate_data(true);
                    }
                }
                Ok(Some(ClientMessage::AuthData(_))) => d.set_authenticate_data(false),
                Ok(Some(_)) => {}
                Err(e) => {
                    let _ = e.tag();
                    let _ = e.to_string();
                }
            }
            let _ = d.take_continuation_request();
            let _ = d.awaiting_continuation();
        }
    }
    assert!(d.buffered_len() <= rest.len());
});
