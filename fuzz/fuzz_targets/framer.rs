//! Framer: arbitrary bytes fed in pieces never panic or loop; every frame ends with `\n`;
//! feeding in pieces yields the same frames as feeding everything at once.
//!
//! First input byte: bit 0 = role (0 = server reading commands, 1 = client reading
//! responses), bits 1-7 = piece size minus one (1..=128 bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pimap::codec::{Framer, FramerLimits, Role};

const LIMITS: FramerLimits = FramerLimits { max_line: 4096, max_literal: 1 << 16, max_message: 1 << 17 };

/// Frames (Ok) and errors (Err, as text) in order.
fn frames(role: Role, input: &[u8], piece: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut f = Framer::new(role, LIMITS);
    let mut out = Vec::new();
    let mut budget = 2 * input.len() + 64;
    for chunk in input.chunks(piece.max(1)) {
        f.feed(chunk);
        let _ = f.take_continuation_request();
        loop {
            budget = budget.checked_sub(1).expect("Framer makes no progress");
            match f.next_frame() {
                Ok(None) => break,
                Ok(Some(frame)) => {
                    assert!(frame.ends_with(b"\n"), "frame does not end with LF: {frame:?}");
                    out.push(Ok(frame.to_vec()));
                }
                Err(e) => out.push(Err(e.to_string())),
            }
            let _ = f.take_continuation_request();
            let _ = f.awaiting_continuation();
        }
    }
    assert!(f.buffered_len() <= input.len());
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let role = if first & 1 == 0 { Role::Server } else { Role::Client };
    let piece = usize::from(first >> 1) + 1;
    let pieces = frames(role, rest, piece);
    let whole = frames(role, rest, rest.len());
    let ok = |v: &[Result<Vec<u8>, String>]| v.iter().filter_map(|r| r.clone().ok()).collect::<Vec<_>>();
    assert_eq!(ok(&pieces), ok(&whole), "frames depend on how the input was split");
});
