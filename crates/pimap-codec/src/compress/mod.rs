//! Compression: XZIP (all four generations, spec §3.9 and §5) and COMPRESS=DEFLATE (RFC 4978).
//!
//! Sans-IO like the rest of the crate: every type takes bytes and returns bytes.
//!
//! | Use | Encode | Decode |
//! |-----|--------|--------|
//! | XZIP generation 1/2 (-00…-07): gzip, `* {n}` | [`XZipEncoder`] (`generation: 1`), [`gzip`] | [`XZipDecoder`], [`inflate_all`] |
//! | XZIP generation 3 (-08…-11): raw DEFLATE blocks, `* XZIP ~{n}` | [`XZipEncoder`] (`generation: 3`) | [`XZipDecoder`] |
//! | XZIP generation 4 (-12): `FETCH XZIP[part]` | [`deflate_part`] | [`inflate_all`] |
//! | XZIP INLINE requests (gzip, zlib or raw, sniffed) | [`gzip`] / [`deflate_part`] | [`inflate_all`] |
//! | COMPRESS=DEFLATE | [`DeflateStream`] | [`DeflateStream`] |
//! | Building blocks | [`Deflater`] | [`Inflater`], [`sniff`] |
//!
//! # Limits
//!
//! Every inflation is bounded by [`Limits`]: output is produced in steps of at most 256 KiB
//! and the running total is checked after each step, so a compression bomb stops with
//! [`CompressError::TooLarge`] (or [`CompressError::RatioExceeded`]) after at most
//! `max_output` bytes, never after inflating everything. [`Inflater`] and [`XZipDecoder`]
//! count their whole input; [`DeflateStream`] counts each [`DeflateStream::decompress`] call
//! (a COMPRESS=DEFLATE session is unbounded in total).
//!
//! # Backends
//!
//! The raw DEFLATE work is done by one of two pure-Rust backends ([`Backend`]); framing (gzip,
//! zlib), checksums (a table-driven CRC-32, Adler-32) and limits are this module's own.
//!
//! * [`Backend::MinizOxide`]: `miniz_oxide` 0.8, always available.
//! * `Backend::ZlibRs`: `zlib-rs` 0.6 (a Rust port of zlib-ng), behind the cargo feature
//!   `zlib-rs`, **which is on by default**, making it the default backend
//!   ([`Backend::DEFAULT`]).
//!
//! The default was chosen by measurement (`cargo bench --bench compress`, release build, on
//! the shared 2-core development machine; criterion medians). Input `push`: 10 000 untagged
//! push responses (`* n FETCH (UID u [MODSEQ (m)] FLAGS (...))`, `* n EXISTS`,
//! `* n EXPUNGE`; 44.3 bytes on average), each compressed with a sync flush, one stream, and
//! inflated one message per call:
//!
//! | backend, level | bytes/event | compress µs/event | decompress µs/event | both µs/event |
//! |----------------|-------------|-------------------|---------------------|---------------|
//! | miniz_oxide 1  | 18.39       | 1.59              | 3.20                | 4.90          |
//! | miniz_oxide 6  | 19.83       | 3.02              | 2.94                | 6.23          |
//! | miniz_oxide 9  | 19.60       | 7.95              | 2.95                | 11.34         |
//! | zlib-rs 1      | 17.26       | 0.18              | 0.18                | **0.36**      |
//! | zlib-rs 6      | 13.80       | 3.50              | 0.14                | 3.84          |
//! | zlib-rs 9      | 13.05       | 3.87              | 0.13                | 3.94          |
//!
//! Targets: at most 25 bytes per event and at most 1 µs for compress plus decompress; only
//! zlib-rs at level 1 meets both. Input `mixed` (1 000 responses of a mail session,
//! 906 bytes on average: flag FETCHes, ENVELOPE/BODYSTRUCTURE FETCHes, 1–8 KB `BODY[]`
//! literals), bytes per response (ratio), compress / decompress µs per response: miniz_oxide
//! 1: 419 (0.46), 6.3 / 6.2; miniz_oxide 6: 261 (0.29), 44.5 / 5.5; zlib-rs 1: 378 (0.42),
//! 3.2 / 2.1; zlib-rs 6: 258 (0.29), 23.4 / 2.2; zlib-rs 9: 257 (0.28), 37.6 / 2.3.
//!
//! Why `miniz_oxide` cannot reach the targets: every sync flush ends a DEFLATE block, and
//! `miniz_oxide`'s inflater (0.8.9, unchanged in 0.9.1) rebuilds its Huffman decoding tables
//! (`start_static_table` + `init_tree`: two 1024-entry fast tables and the tree) at *every*
//! block header, fixed-Huffman blocks included; profiling shows `init_tree` at about 90 % of
//! inflation time on this stream, and there is no API to keep the fixed tables. The bench
//! drives `miniz_oxide` directly to check the alternatives: reusing the `InflateState` (as
//! this module does) or driving `DecompressorOxide` with an own window both stay at about
//! 3 µs per event; forcing fixed-Huffman blocks on the compressor
//! (`TDEFL_FORCE_ALL_STATIC_BLOCKS`) shrinks small messages (level 6: 13.3 instead of 19.8
//! bytes) but inflates no faster; only stored blocks (`TDEFL_FORCE_ALL_RAW_BLOCKS`) avoid the
//! set-up (0.05 µs) and they do not compress (54 bytes per event). Its compressor also runs
//! the Huffman table optimiser at every flush (1.6 µs per event even at level 1). zlib-rs
//! keeps the fixed tables static (no per-block set-up) and its level 1 (`deflate_quick`)
//! emits fixed-Huffman blocks without building trees; its levels 2 to 9 build dynamic trees
//! at every flush, a few µs each. Hence: zlib-rs is the default backend, and [`PUSH_LEVEL`]
//! (1) is the level for streams of small flushed messages (COMPRESS=DEFLATE, pushed events);
//! [`DEFAULT_LEVEL`] (6) suits one-shot bulk data (XZIP responses, parts). On `miniz_oxide`
//! level 1 also means fixed-Huffman blocks only, as on zlib-rs.
//!
//! Memory (measured with a counting allocator): a [`Deflater`] holds about 380 KB on zlib-rs
//! and 320 KB on `miniz_oxide` (window, hash chains, buffers), an [`Inflater`] about 48 KB and
//! 43 KB; a [`DeflateStream`] holds one of each.
//!
//! Building without default features falls back to `miniz_oxide` with the same API.

mod backend;
mod checksum;
mod deflate;
mod inflate;
mod miniz;
#[cfg(test)]
mod tests;
#[cfg(feature = "zlib-rs")]
mod zlibrs;

use bytes::Bytes;

use pimap_types::{Data, XZipFraming};

pub use self::deflate::Deflater;
pub use self::inflate::Inflater;

/// Compression level for streams of small messages, each sync-flushed (COMPRESS=DEFLATE,
/// pushed events): fast and, on zlib-rs, fixed-Huffman blocks without per-flush tree building.
pub const PUSH_LEVEL: u8 = 1;

/// Compression level for one-shot bulk data (XZIP responses, `FETCH XZIP[part]`).
pub const DEFAULT_LEVEL: u8 = 6;

/// Bounds on every inflation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed output, in bytes (default 64 MiB).
    pub max_output: usize,
    /// Largest ratio of decompressed to compressed bytes (default 1032, the most DEFLATE can
    /// reach), checked once the output exceeds [`Limits::RATIO_GRACE`] bytes.
    pub max_ratio: u32,
}

impl Limits {
    /// The defaults: 64 MiB, ratio 1032.
    pub const DEFAULT: Limits = Limits {
        max_output: 64 << 20,
        max_ratio: 1032,
    };

    /// Output size (1 MiB) above which [`Limits::max_ratio`] is enforced.
    pub const RATIO_GRACE: u64 = 1 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Compression errors. Compressing cannot fail; these come from decompression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressError {
    /// The output would exceed [`Limits::max_output`].
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The compression ratio exceeds [`Limits::max_ratio`].
    #[error("compression ratio {ratio}:1 exceeds the limit")]
    RatioExceeded {
        /// The ratio reached (decompressed / compressed bytes so far).
        ratio: u32,
    },
    /// Invalid compressed data (bad DEFLATE, bad header, checksum mismatch).
    #[error("corrupt compressed data: {0}")]
    Corrupt(&'static str),
    /// The data ended before the end of the compressed stream ([`inflate_all`]).
    #[error("compressed data ends before the end of the stream")]
    Truncated,
}

/// A compressed data format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// gzip (RFC 1952): XZIP generations 1 and 2.
    Gzip,
    /// zlib (RFC 1950): accepted when sniffed.
    Zlib,
    /// Raw DEFLATE (RFC 1951): XZIP generations 3 and 4, COMPRESS=DEFLATE.
    Raw,
}

/// Sniff the format of compressed data from its first two bytes (spec §5.2, E-37): `1F 8B` is
/// gzip; a valid zlib header (`CMF & 0x0F == 8`, window `CMF >> 4 <= 7`,
/// `(CMF * 256 + FLG) % 31 == 0`) is zlib; anything else (including fewer than two bytes) is
/// raw DEFLATE.
///
/// ```
/// use pimap_codec::compress::{sniff, Format};
/// assert_eq!(sniff(&[0x1f, 0x8b, 8]), Format::Gzip);
/// assert_eq!(sniff(&[0x78, 0x9c]), Format::Zlib);
/// assert_eq!(sniff(&[0x0b, 0x49]), Format::Raw);
/// ```
pub fn sniff(first_bytes: &[u8]) -> Format {
    match first_bytes {
        [0x1f, 0x8b, ..] => Format::Gzip,
        [cmf, flg, ..]
            if cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0 =>
        {
            Format::Zlib
        }
        _ => Format::Raw,
    }
}

/// The raw DEFLATE implementation behind [`Deflater`] and [`Inflater`] (see the module docs
/// for the measurements behind the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// `miniz_oxide`: always available.
    MinizOxide,
    /// `zlib-rs` (cargo feature `zlib-rs`, on by default).
    #[cfg(feature = "zlib-rs")]
    ZlibRs,
}

impl Backend {
    /// The default backend: `ZlibRs` when the `zlib-rs` feature is on, else `MinizOxide`.
    #[cfg(feature = "zlib-rs")]
    pub const DEFAULT: Backend = Backend::ZlibRs;
    /// The default backend: `ZlibRs` when the `zlib-rs` feature is on, else `MinizOxide`.
    #[cfg(not(feature = "zlib-rs"))]
    pub const DEFAULT: Backend = Backend::MinizOxide;

    /// Every backend compiled in.
    pub const ALL: &'static [Backend] = &[
        Backend::MinizOxide,
        #[cfg(feature = "zlib-rs")]
        Backend::ZlibRs,
    ];

    /// A short name (`miniz_oxide`, `zlib-rs`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::MinizOxide => "miniz_oxide",
            #[cfg(feature = "zlib-rs")]
            Backend::ZlibRs => "zlib-rs",
        }
    }
}

impl Default for Backend {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Raw DEFLATE of `data` as one finished stream.
fn deflate_once(data: &[u8], level: u8, out: &mut Vec<u8>) {
    let mut d = Deflater::new(level);
    d.compress(data, out);
    d.finish(out);
}

/// gzip (RFC 1952) of `data`: one member, no optional header fields, CRC-32 and ISIZE.
pub fn gzip(data: &[u8], level: u8) -> Vec<u8> {
    let xfl = match level {
        9.. => 2,
        0 | 1 => 4,
        _ => 0,
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 32);
    // ID1 ID2 CM FLG MTIME(4) XFL OS(255 = unknown)
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    deflate_once(data, level, &mut out);
    out.extend_from_slice(&checksum::crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Inflate a complete compressed object, sniffing gzip (all members), zlib or raw DEFLATE;
/// checksums are verified. The data must end exactly at the end of a stream (else
/// [`CompressError::Truncated`]).
pub fn inflate_all(data: &[u8], limits: Limits) -> Result<Vec<u8>, CompressError> {
    let mut inflater = Inflater::new(None, limits);
    let mut out = Vec::new();
    inflater.inflate(data, &mut out)?;
    if !inflater.is_stream_end() {
        return Err(CompressError::Truncated);
    }
    Ok(out)
}

/// XZIP generation 4 (-12): the `FETCH XZIP[part]` data is the raw DEFLATE of the
/// BINARY-decoded part.
pub fn deflate_part(decoded: &[u8], level: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(decoded.len() / 2 + 16);
    deflate_once(decoded, level, &mut out);
    out
}

/// XZIP response encoding (server side).
///
/// * generation 1 or 2 (-00…-07): the whole response stream gzip-compressed, one `* {n}`
///   ([`XZipFraming::Bare`]);
/// * generation 3 (-08…-11; also used for any larger value): raw DEFLATE, `* XZIP ~{n}`
///   ([`XZipFraming::XZip`]), cut into blocks of at most `block_size` uncompressed bytes with a
///   sync flush at each block boundary and one compressor across blocks; the last block ends
///   the stream.
///
/// Generation 4 is a FETCH data item instead: see [`deflate_part`].
///
/// ```
/// use pimap_codec::compress::{XZipDecoder, XZipEncoder, Limits};
/// use pimap_types::{Data, XZipFraming};
///
/// let raw = b"* 1 FETCH (FLAGS (\\Seen))\r\nA002 OK FETCH completed\r\n".repeat(100);
/// let enc = XZipEncoder { generation: 3, block_size: 1024, level: 6 };
/// let blocks = enc.encode(&raw);
/// assert_eq!(blocks.len(), raw.len().div_ceil(1024));
/// let mut dec = XZipDecoder::new(Limits::default());
/// let mut plain = Vec::new();
/// for block in &blocks {
///     let Data::XZip { framing: XZipFraming::XZip, data } = block else { unreachable!() };
///     plain.extend(dec.push(data)?);
/// }
/// assert_eq!(plain, raw);
/// # Ok::<(), pimap_codec::compress::CompressError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XZipEncoder {
    /// XZIP generation: 1 or 2 = gzip, 3 (or more) = raw DEFLATE blocks.
    pub generation: u8,
    /// Largest uncompressed size of one generation-3 block (default 16 KiB; 0 is taken as 1).
    pub block_size: usize,
    /// Compression level 0..=9 (default [`DEFAULT_LEVEL`]).
    pub level: u8,
}

impl Default for XZipEncoder {
    fn default() -> Self {
        XZipEncoder {
            generation: 3,
            block_size: 16 * 1024,
            level: DEFAULT_LEVEL,
        }
    }
}

impl XZipEncoder {
    /// The encoder for a dialect: gzip for [`crate::Dialect::Draft01`], DEFLATE blocks
    /// for [`crate::Dialect::Draft08`].
    pub fn for_dialect(dialect: crate::Dialect) -> Self {
        let generation = match dialect {
            crate::Dialect::Draft01 => 1,
            crate::Dialect::Draft08 => 3,
        };
        XZipEncoder {
            generation,
            ..Self::default()
        }
    }

    /// Compress the raw response stream of an XZIP-wrapped command (its untagged responses
    /// and tagged completion) into the `Data` responses to send, in order.
    pub fn encode(&self, raw_responses: &[u8]) -> Vec<Data> {
        if self.generation <= 2 {
            return vec![Data::XZip {
                framing: XZipFraming::Bare,
                data: Bytes::from(gzip(raw_responses, self.level)),
            }];
        }
        let mut deflater = Deflater::new(self.level);
        let mut blocks = Vec::with_capacity(raw_responses.len() / self.block_size.max(1) + 1);
        let mut chunks = raw_responses.chunks(self.block_size.max(1)).peekable();
        loop {
            let chunk = chunks.next().unwrap_or_default();
            let mut data = Vec::with_capacity(chunk.len() / 2 + 16);
            if chunks.peek().is_some() {
                deflater.compress_sync(chunk, &mut data);
            } else {
                deflater.compress(chunk, &mut data);
                deflater.finish(&mut data);
            }
            blocks.push(Data::XZip {
                framing: XZipFraming::XZip,
                data: Bytes::from(data),
            });
            if chunks.peek().is_none() {
                return blocks;
            }
        }
    }
}

/// XZIP response decoding (client side, spec §5.2): feed every block's bytes in order (the
/// one `* {n}` literal of generations 1/2, or all `* XZIP ~{n}` blocks of generation 3); each
/// call returns the bytes inflated so far. One [`Inflater`] runs across the blocks, its format
/// sniffed on the first block; a stream that ends before the last block is followed by a new
/// one (E-39). The [`Limits`] apply to the total.
#[derive(Debug)]
pub struct XZipDecoder {
    inflater: Inflater,
}

impl XZipDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        XZipDecoder {
            inflater: Inflater::new(None, limits),
        }
    }

    /// Inflate the next block.
    pub fn push(&mut self, block: &[u8]) -> Result<Vec<u8>, CompressError> {
        let mut out = Vec::new();
        self.inflater.inflate(block, &mut out)?;
        Ok(out)
    }

    /// True when the blocks so far end exactly at the end of a stream (always the case for a
    /// complete generation-1/2 response and for this crate's generation-3 encoder; other
    /// generation-3 servers may end on a sync flush instead).
    pub fn is_stream_end(&self) -> bool {
        self.inflater.is_stream_end()
    }

    /// The sniffed format (`None` before two bytes arrived).
    pub fn format(&self) -> Option<Format> {
        self.inflater.format()
    }

    /// Decompressed bytes so far.
    pub fn total_out(&self) -> u64 {
        self.inflater.total_out()
    }
}

/// COMPRESS=DEFLATE (RFC 4978): raw DEFLATE in both directions over the whole connection.
/// Each [`DeflateStream::compress`] output ends with a sync flush, so the peer can act on it at
/// once. The [`Limits`] apply to each [`DeflateStream::decompress`] call.
#[derive(Debug)]
pub struct DeflateStream {
    deflater: Deflater,
    inflater: Inflater,
}

impl DeflateStream {
    /// A stream compressing at `level` (see [`PUSH_LEVEL`]) on the default backend.
    pub fn new(level: u8, limits: Limits) -> Self {
        Self::with_backend(level, limits, Backend::default())
    }

    /// A stream on the given backend.
    pub fn with_backend(level: u8, limits: Limits, backend: Backend) -> Self {
        DeflateStream {
            deflater: Deflater::with_backend(level, backend),
            inflater: Inflater::with_backend(Some(Format::Raw), limits, backend),
        }
    }

    /// Compress outgoing bytes; the result ends with a sync flush (empty for empty input).
    pub fn compress(&mut self, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.compress_into(plain, &mut out);
        out
    }

    /// Like [`DeflateStream::compress`], appending to `out`.
    pub fn compress_into(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        self.deflater.compress_sync(plain, out);
    }

    /// Decompress incoming bytes, split anywhere.
    pub fn decompress(&mut self, wire: &[u8]) -> Result<Vec<u8>, CompressError> {
        let mut out = Vec::new();
        self.decompress_into(wire, &mut out)?;
        Ok(out)
    }

    /// Like [`DeflateStream::decompress`], appending to `out`.
    pub fn decompress_into(&mut self, wire: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        self.inflater.reset_limits();
        self.inflater.inflate(wire, out)
    }

    /// Compressed bytes received so far.
    pub fn total_in(&self) -> u64 {
        self.inflater.total_in()
    }

    /// Decompressed bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.inflater.total_out()
    }
}
