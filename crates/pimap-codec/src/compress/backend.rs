//! Dispatch between the raw DEFLATE backends. Framing (gzip, zlib), checksums and limits
//! live above this layer, so every backend only has to speak RFC 1951.

#[cfg(feature = "zlib-rs")]
use super::zlibrs;
use super::{miniz, Backend};

/// Flush mode of one compression call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flush {
    /// Let the compressor keep data back.
    None,
    /// End the current block and emit an empty stored block (`00 00 FF FF`).
    Sync,
    /// End the stream (final block).
    Finish,
}

/// Result of one decompression step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Progress {
    /// Input bytes consumed.
    pub(super) consumed: usize,
    /// Output bytes written.
    pub(super) written: usize,
    /// The final block ended; `consumed` stops right after it.
    pub(super) ended: bool,
}

/// A raw DEFLATE compressor of either backend.
pub(super) enum RawDeflate {
    Miniz(miniz::Deflate),
    #[cfg(feature = "zlib-rs")]
    ZlibRs(zlibrs::Deflate),
}

impl RawDeflate {
    pub(super) fn new(backend: Backend, level: u8) -> Self {
        match backend {
            Backend::MinizOxide => RawDeflate::Miniz(miniz::Deflate::new(level)),
            #[cfg(feature = "zlib-rs")]
            Backend::ZlibRs => RawDeflate::ZlibRs(zlibrs::Deflate::new(level)),
        }
    }

    pub(super) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, flush: Flush) {
        match self {
            RawDeflate::Miniz(d) => d.compress(input, out, flush),
            #[cfg(feature = "zlib-rs")]
            RawDeflate::ZlibRs(d) => d.compress(input, out, flush),
        }
    }

    pub(super) fn reset(&mut self) {
        match self {
            RawDeflate::Miniz(d) => d.reset(),
            #[cfg(feature = "zlib-rs")]
            RawDeflate::ZlibRs(d) => d.reset(),
        }
    }
}

/// A raw DEFLATE decompressor of either backend.
pub(super) enum RawInflate {
    Miniz(miniz::Inflate),
    #[cfg(feature = "zlib-rs")]
    ZlibRs(zlibrs::Inflate),
}

impl RawInflate {
    pub(super) fn new(backend: Backend) -> Self {
        match backend {
            Backend::MinizOxide => RawInflate::Miniz(miniz::Inflate::new()),
            #[cfg(feature = "zlib-rs")]
            Backend::ZlibRs => RawInflate::ZlibRs(zlibrs::Inflate::new()),
        }
    }

    pub(super) fn reset(&mut self) {
        match self {
            RawInflate::Miniz(i) => i.reset(),
            #[cfg(feature = "zlib-rs")]
            RawInflate::ZlibRs(i) => i.reset(),
        }
    }

    pub(super) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Progress, &'static str> {
        match self {
            RawInflate::Miniz(i) => i.inflate(input, out),
            #[cfg(feature = "zlib-rs")]
            RawInflate::ZlibRs(i) => i.inflate(input, out),
        }
    }
}
