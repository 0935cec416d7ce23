//! Raw DEFLATE backend on [`miniz_oxide`] (always compiled).
//!
//! * Compression drives a boxed [`CompressorOxide`] through `compress_to_output`, whose
//!   callback appends straight to the caller's `Vec`: no intermediate buffer, no zero-filling.
//! * Decompression drives a boxed [`InflateState`] (32 KiB wrapping window plus tables),
//!   reused for the whole stream and reset (window zeroed) between streams.
//!
//! Measured limitation (see the module docs of [`super`]): `miniz_oxide` 0.8 (and 0.9) rebuilds
//! its Huffman decoding tables (`init_tree`, 2 × 1024-entry fast tables) at *every* block
//! header, including fixed-Huffman blocks, and every sync flush ends a block. A stream of small
//! sync-flushed messages therefore pays that set-up once per message; there is no API to keep
//! the fixed tables. On the compression side every flush also runs the Huffman table
//! optimiser. Stored blocks avoid both costs but do not compress.

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressionStrategy, CompressorOxide,
    TDEFLFlush, TDEFLStatus,
};
use miniz_oxide::inflate::stream::{inflate, InflateState, ZeroReset};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use super::backend::{Flush, Progress};

/// A raw DEFLATE compressor.
pub(super) struct Deflate {
    c: Box<CompressorOxide>,
}

impl Deflate {
    /// `level` 0..=9 (0 = stored blocks only). Level 1 emits fixed-Huffman blocks only, like
    /// zlib-rs's level 1 (`deflate_quick`): for small flushed messages that is both smaller
    /// (18.4 instead of 24.4 bytes per push event in `benches/compress.rs`, since `miniz_oxide`
    /// otherwise picks dynamic blocks for any block of 48 bytes or more, whatever their size)
    /// and faster; the strategy cannot be changed per block through `miniz_oxide`'s API.
    pub(super) fn new(level: u8) -> Self {
        let level = level.min(9);
        let strategy = if level == 1 {
            CompressionStrategy::Fixed
        } else {
            CompressionStrategy::Default
        };
        // Negative window bits: raw DEFLATE, no zlib header.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, strategy as i32);
        Deflate {
            c: Box::new(CompressorOxide::new(flags)),
        }
    }

    /// Compress all of `input`, appending to `out`, then flush as asked.
    pub(super) fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>, flush: Flush) {
        let flush = match flush {
            Flush::None => TDEFLFlush::None,
            Flush::Sync => TDEFLFlush::Sync,
            Flush::Finish => TDEFLFlush::Finish,
        };
        loop {
            let (status, consumed) = compress_to_output(&mut self.c, input, flush, |chunk| {
                out.extend_from_slice(chunk);
                true
            });
            input = input.get(consumed..).unwrap_or_default();
            match status {
                TDEFLStatus::Okay | TDEFLStatus::Done => {}
                // Only after misuse (compressing after `Finish` without a reset), which the
                // callers rule out.
                TDEFLStatus::BadParam | TDEFLStatus::PutBufFailed => return,
            }
            if input.is_empty() || consumed == 0 {
                return;
            }
        }
    }

    /// Start a new stream with the same parameters.
    pub(super) fn reset(&mut self) {
        self.c.reset();
    }
}

/// A raw DEFLATE decompressor.
pub(super) struct Inflate {
    s: Box<InflateState>,
}

impl Inflate {
    pub(super) fn new() -> Self {
        Inflate {
            s: InflateState::new_boxed(DataFormat::Raw),
        }
    }

    /// Start a new stream; the window is zeroed so that a new stream cannot reach back into
    /// the previous one.
    pub(super) fn reset(&mut self) {
        self.s.reset_as(ZeroReset);
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
        let r = inflate(&mut self.s, input, out, MZFlush::None);
        let ended = match r.status {
            Ok(MZStatus::StreamEnd) => true,
            Ok(_) => false,
            // No progress possible without more input.
            Err(MZError::Buf) => false,
            Err(MZError::Data) => return Err("invalid DEFLATE data"),
            Err(_) => return Err("DEFLATE stream error"),
        };
        Ok(Progress {
            consumed: r.bytes_consumed,
            written: r.bytes_written,
            ended,
        })
    }
}
