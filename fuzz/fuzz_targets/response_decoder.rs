//! ResponseDecoder (client side): arbitrary bytes fed in two pieces never panic, never loop.
//!
//! First input byte: bit 7 = strict reading, bit 6 = small limits and nesting depth,
//! bits 0-5 = where to split the rest (0 = all in the second piece, 63 = all in the first).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pimap::codec::{DecoderOptions, FramerLimits, ResponseDecoder, Tolerance};

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
    let mut d = ResponseDecoder::new(opts);
    let mut budget = 2 * rest.len() + 64;
    for piece in [&rest[..at], &rest[at..]] {
        d.feed(piece);
        loop {
            budget = budget.checked_sub(1).expect("ResponseDecoder makes no progress");
            match d.next() {
                Ok(None) => break,
                Ok(Some(_)) => {}
                Err(e) => {
                    let _ = e.tag();
                    let _ = e.to_string();
                }
            }
        }
    }
    assert!(d.buffered_len() <= rest.len());
});
