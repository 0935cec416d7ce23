//! Raw DEFLATE backend on [`zlib_rs`] (cargo feature `zlib-rs`), through its safe
//! `Deflate`/`Inflate` API.
//!
//! zlib's inflater keeps the fixed-Huffman decoding tables in static memory, so a
//! fixed-Huffman block (what small sync-flushed messages use) costs no table set-up; level 1
//! compresses with `deflate_quick` (fixed Huffman, no tree building per flush). Levels 2..=9
//! build dynamic trees at every flush (a few µs per flush; see the module docs of [`super`]).

use zlib_rs::{DeflateFlush, InflateError, InflateFlush, Status};

use super::backend::{Flush, Progress};

/// Raw DEFLATE: negative window bits in zlib terms; 15 = 32 KiB window.
const WINDOW_BITS: u8 = 15;

/// Output room for one compression call: enough for `n` input bytes in almost every case
/// (the loop asks for more when it is not).
fn room_for(n: usize) -> usize {
    n.saturating_add(n / 8).saturating_add(64).min(1 << 20)
}

/// A raw DEFLATE compressor.
pub(super) struct Deflate {
    d: zlib_rs::Deflate,
}

impl Deflate {
    /// `level` 0..=9 (0 = stored blocks only).
    pub(super) fn new(level: u8) -> Self {
        Deflate {
            d: zlib_rs::Deflate::new(i32::from(level.min(9)), false, WINDOW_BITS),
        }
    }

    /// Compress all of `input`, appending to `out`, then flush as asked.
    pub(super) fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>, flush: Flush) {
        let flush = match flush {
            Flush::None => DeflateFlush::NoFlush,
            Flush::Sync => DeflateFlush::SyncFlush,
            Flush::Finish => DeflateFlush::Finish,
        };
        loop {
            let start = out.len();
            let room = room_for(input.len());
            out.resize(start.saturating_add(room), 0);
            let (in0, out0) = (self.d.total_in(), self.d.total_out());
            let tail = out.get_mut(start..).unwrap_or_default();
            let status = self.d.compress(input, tail, flush);
            let consumed = usize::try_from(self.d.total_in().wrapping_sub(in0)).unwrap_or(0);
            let written = usize::try_from(self.d.total_out().wrapping_sub(out0)).unwrap_or(0);
            out.truncate(start.saturating_add(written));
            input = input.get(consumed..).unwrap_or_default();
            match status {
                Ok(Status::StreamEnd) => return,
                // `BufError`: no progress possible (e.g. a repeated flush with nothing new).
                Ok(Status::BufError) | Err(_) => return,
                Ok(Status::Ok) => {}
            }
            // zlib: the call is complete when it left output room unused.
            if input.is_empty() && written < room {
                return;
            }
        }
    }

    /// Start a new stream with the same parameters.
    pub(super) fn reset(&mut self) {
        self.d.reset();
    }
}

/// A raw DEFLATE decompressor.
pub(super) struct Inflate {
    i: zlib_rs::Inflate,
}

impl Inflate {
    pub(super) fn new() -> Self {
        Inflate {
            i: zlib_rs::Inflate::new(false, WINDOW_BITS),
        }
    }

    /// Start a new stream.
    pub(super) fn reset(&mut self) {
        self.i.reset(false);
    }

    /// Inflate from `input` into `out`.
    pub(super) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Progress, &'static str> {
        if out.is_empty() {
            return Ok(Progress::default());
        }
        let (in0, out0) = (self.i.total_in(), self.i.total_out());
        let status = self.i.decompress(input, out, InflateFlush::NoFlush);
        let consumed = usize::try_from(self.i.total_in().wrapping_sub(in0)).unwrap_or(0);
        let written = usize::try_from(self.i.total_out().wrapping_sub(out0)).unwrap_or(0);
        let ended = match status {
            Ok(Status::StreamEnd) => true,
            Ok(Status::Ok | Status::BufError) => false,
            Err(InflateError::DataError) => return Err("invalid DEFLATE data"),
            Err(InflateError::NeedDict { .. }) => return Err("DEFLATE preset dictionary required"),
            Err(InflateError::MemError) => return Err("out of memory"),
            Err(InflateError::StreamError) => return Err("DEFLATE stream error"),
        };
        Ok(Progress {
            consumed,
            written,
            ended,
        })
    }
}
