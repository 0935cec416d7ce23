//! [`Inflater`]: a streaming, bounded decompressor for gzip, zlib and raw DEFLATE.

use super::backend::RawInflate;
use super::checksum::{Adler32, Crc32};
use super::{sniff, Backend, CompressError, Format, Limits};

/// Longest gzip header accepted (FEXTRA, FNAME and FCOMMENT included).
const MAX_GZIP_HEADER: usize = 1 << 20;
/// Output room of the first inflation step of a call, per input byte.
const STEP_PER_INPUT_BYTE: usize = 4;
/// Smallest output step.
const MIN_STEP: usize = 256;
/// Largest output step: output is checked against the limits at least this often.
const MAX_STEP: usize = 256 * 1024;

/// gzip header flags (RFC 1952 §2.3.1).
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;
const FRESERVED: u8 = 0xe0;

/// Where the inflater is in the current stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Format not known yet: collecting the first two bytes.
    Sniff,
    /// Reading a gzip member header.
    GzipHeader(Gz),
    /// Reading the two zlib header bytes (into `hold`).
    ZlibHeader,
    /// Inflating DEFLATE data.
    Body,
    /// Reading the gzip (8 bytes) or zlib (4 bytes) trailer into `hold`.
    Trailer,
    /// A stream ended; further input starts a new one.
    Ended,
}

/// gzip header parser state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gz {
    /// The 10 fixed bytes; the count read so far.
    Fixed(u8),
    /// FEXTRA length: bytes read, value.
    ExtraLen(u8, u16),
    /// FEXTRA data: bytes left.
    Extra(u16),
    /// Zero-terminated FNAME.
    Name,
    /// Zero-terminated FCOMMENT.
    Comment,
    /// FHCRC: bytes read, value.
    HeaderCrc(u8, u16),
}

/// A streaming decompressor of gzip (RFC 1952, multi-member), zlib (RFC 1950) or raw DEFLATE
/// (RFC 1951), with the format given or sniffed from the first two bytes ([`sniff`]).
///
/// * Input may be split anywhere; all of it is consumed by every call (partial headers and
///   trailers are held internally).
/// * Output is appended to the caller's buffer in bounded steps, and the running total is
///   checked against the [`Limits`] after every step: a compression bomb stops with
///   [`CompressError::TooLarge`] or [`CompressError::RatioExceeded`] having written at most
///   `max_output` bytes.
/// * gzip CRC-32/ISIZE and zlib Adler-32 are verified.
/// * When a stream ends and more input follows, a new stream of the same format starts
///   (gzip members; spec E-39 for XZIP blocks).
/// * After an error the inflater stays failed and returns the same error.
pub struct Inflater {
    raw: RawInflate,
    backend: Backend,
    format: Option<Format>,
    limits: Limits,
    stage: Stage,
    /// Sniffed bytes, zlib header, or trailer bytes.
    hold: [u8; 8],
    held: usize,
    /// gzip: flags of the current member and running header CRC and length.
    gz_flags: u8,
    gz_crc: Crc32,
    gz_len: usize,
    /// Checksum of the current stream's output.
    crc: Crc32,
    adler: Adler32,
    /// Output length of the current member, modulo 2^32 (gzip ISIZE).
    member_len: u32,
    total_in: u64,
    total_out: u64,
    budget_in: u64,
    budget_out: u64,
    streams: u64,
    failed: Option<CompressError>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("backend", &self.backend)
            .field("format", &self.format)
            .field("limits", &self.limits)
            .field("stage", &self.stage)
            .field("total_in", &self.total_in)
            .field("total_out", &self.total_out)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

fn start_stage(format: Format) -> Stage {
    match format {
        Format::Gzip => Stage::GzipHeader(Gz::Fixed(0)),
        Format::Zlib => Stage::ZlibHeader,
        Format::Raw => Stage::Body,
    }
}

impl Inflater {
    /// An inflater on the default [`Backend`]. `format: None` sniffs the format from the
    /// first two bytes.
    pub fn new(format: Option<Format>, limits: Limits) -> Self {
        Self::with_backend(format, limits, Backend::default())
    }

    /// An inflater on the given backend.
    pub fn with_backend(format: Option<Format>, limits: Limits, backend: Backend) -> Self {
        Inflater {
            raw: RawInflate::new(backend),
            backend,
            format,
            limits,
            stage: format.map_or(Stage::Sniff, start_stage),
            hold: [0; 8],
            held: 0,
            gz_flags: 0,
            gz_crc: Crc32::default(),
            gz_len: 0,
            crc: Crc32::default(),
            adler: Adler32::default(),
            member_len: 0,
            total_in: 0,
            total_out: 0,
            budget_in: 0,
            budget_out: 0,
            streams: 0,
            failed: None,
        }
    }

    /// The format: as given, or as sniffed (`None` until two bytes arrived).
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Compressed bytes consumed so far.
    pub fn total_in(&self) -> u64 {
        self.total_in
    }

    /// Decompressed bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }

    /// Number of streams (gzip members, zlib or raw streams) that ended, trailers verified.
    pub fn streams_ended(&self) -> u64 {
        self.streams
    }

    /// True when the last stream ended (final block and trailer read) and no byte of another
    /// stream has arrived since: the input so far is complete.
    pub fn is_stream_end(&self) -> bool {
        self.stage == Stage::Ended
    }

    /// Restart the [`Limits`] accounting (the totals are kept). For long-lived streams such as
    /// COMPRESS=DEFLATE, where the limits apply to each burst rather than to the session.
    pub fn reset_limits(&mut self) {
        self.budget_in = 0;
        self.budget_out = 0;
    }

    /// Inflate `input`, appending the output to `out`. State is kept across calls, so input
    /// may be split anywhere. On error, `out` may have received part of the output (never more
    /// than the limit allows).
    pub fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.inflate_inner(input, out);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn inflate_inner(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        if self.stage == Stage::Sniff {
            while self.held < 2 {
                let Some((&b, rest)) = input.split_first() else {
                    return Ok(());
                };
                self.hold_byte(b);
                input = rest;
            }
            let [a, b, ..] = self.hold;
            let first = [a, b];
            let format = sniff(&first);
            self.format = Some(format);
            self.stage = start_stage(format);
            self.held = 0;
            // The two bytes were counted when held; feed them without counting them again.
            self.budget_in = self.budget_in.saturating_sub(2);
            self.total_in = self.total_in.saturating_sub(2);
            self.feed(&first, out)?;
        }
        self.feed(input, out)
    }

    fn hold_byte(&mut self, b: u8) {
        if let Some(slot) = self.hold.get_mut(self.held) {
            *slot = b;
            self.held += 1;
        }
        self.count_in(1);
    }

    fn count_in(&mut self, n: usize) {
        let n = n as u64;
        self.budget_in = self.budget_in.saturating_add(n);
        self.total_in = self.total_in.saturating_add(n);
    }

    /// Run the state machine over `input` (format known).
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        loop {
            match self.stage {
                Stage::Sniff => return Ok(()),
                Stage::GzipHeader(gz) => {
                    let (used, next) = self.gzip_header(gz, input)?;
                    self.count_in(used);
                    input = input.get(used..).unwrap_or_default();
                    self.stage = match next {
                        Some(gz) => Stage::GzipHeader(gz),
                        None => Stage::Body,
                    };
                    if next.is_some() {
                        return Ok(());
                    }
                }
                Stage::ZlibHeader => {
                    while self.held < 2 {
                        let Some((&b, rest)) = input.split_first() else {
                            return Ok(());
                        };
                        self.hold_byte(b);
                        input = rest;
                    }
                    let [cmf, flg, ..] = self.hold;
                    self.held = 0;
                    if cmf & 0x0f != 8
                        || cmf >> 4 > 7
                        || (u16::from(cmf) * 256 + u16::from(flg)) % 31 != 0
                    {
                        return Err(CompressError::Corrupt("invalid zlib header"));
                    }
                    if flg & 0x20 != 0 {
                        return Err(CompressError::Corrupt(
                            "zlib preset dictionary not supported",
                        ));
                    }
                    self.stage = Stage::Body;
                }
                Stage::Body => {
                    let (used, ended) = self.body(input, out)?;
                    input = input.get(used..).unwrap_or_default();
                    if !ended {
                        return Ok(());
                    }
                    self.held = 0;
                    self.stage = Stage::Trailer;
                }
                Stage::Trailer => {
                    let need = match self.format {
                        Some(Format::Gzip) => 8,
                        Some(Format::Zlib) => 4,
                        _ => 0,
                    };
                    while self.held < need {
                        let Some((&b, rest)) = input.split_first() else {
                            return Ok(());
                        };
                        self.hold_byte(b);
                        input = rest;
                    }
                    self.check_trailer()?;
                    self.held = 0;
                    self.streams = self.streams.saturating_add(1);
                    self.stage = Stage::Ended;
                }
                Stage::Ended => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    // More input after the end of a stream: a new stream of the same format
                    // (gzip members, E-39).
                    self.raw.reset();
                    self.crc = Crc32::default();
                    self.adler = Adler32::default();
                    self.member_len = 0;
                    self.stage = start_stage(self.format.unwrap_or(Format::Raw));
                }
            }
        }
    }

    /// Parse gzip header bytes. Returns the bytes used and the next header state (`None`: the
    /// header is complete).
    fn gzip_header(
        &mut self,
        mut gz: Gz,
        input: &[u8],
    ) -> Result<(usize, Option<Gz>), CompressError> {
        for (i, &b) in input.iter().enumerate() {
            if gz == Gz::Fixed(0) {
                self.gz_crc = Crc32::default();
                self.gz_len = 0;
                self.gz_flags = 0;
            }
            if !matches!(gz, Gz::HeaderCrc(..)) {
                self.gz_crc.update(&[b]);
            }
            self.gz_len += 1;
            if self.gz_len > MAX_GZIP_HEADER {
                return Err(CompressError::Corrupt("gzip header too long"));
            }
            let next = match gz {
                Gz::Fixed(n) => {
                    match (n, b) {
                        (0, 0x1f) | (1, 0x8b) => {}
                        (0 | 1, _) => {
                            return Err(CompressError::Corrupt(if self.streams == 0 {
                                "not a gzip member"
                            } else {
                                "data after a gzip member is not a gzip member"
                            }))
                        }
                        (2, 8) => {}
                        (2, _) => return Err(CompressError::Corrupt("gzip method is not DEFLATE")),
                        (3, flags) if flags & FRESERVED != 0 => {
                            return Err(CompressError::Corrupt("gzip reserved flags set"))
                        }
                        (3, flags) => self.gz_flags = flags,
                        _ => {}
                    }
                    if n >= 9 {
                        self.after(0)
                    } else {
                        Some(Gz::Fixed(n + 1))
                    }
                }
                Gz::ExtraLen(0, _) => Some(Gz::ExtraLen(1, u16::from(b))),
                Gz::ExtraLen(_, lo) => {
                    let len = lo | (u16::from(b) << 8);
                    if len == 0 {
                        self.after(1)
                    } else {
                        Some(Gz::Extra(len))
                    }
                }
                Gz::Extra(left) => {
                    if left <= 1 {
                        self.after(1)
                    } else {
                        Some(Gz::Extra(left - 1))
                    }
                }
                Gz::Name => {
                    if b == 0 {
                        self.after(2)
                    } else {
                        Some(Gz::Name)
                    }
                }
                Gz::Comment => {
                    if b == 0 {
                        self.after(3)
                    } else {
                        Some(Gz::Comment)
                    }
                }
                Gz::HeaderCrc(0, _) => Some(Gz::HeaderCrc(1, u16::from(b))),
                Gz::HeaderCrc(_, lo) => {
                    let value = lo | (u16::from(b) << 8);
                    if u32::from(value) != self.gz_crc.value() & 0xffff {
                        return Err(CompressError::Corrupt("gzip header CRC mismatch"));
                    }
                    None
                }
            };
            match next {
                Some(n) => gz = n,
                None => return Ok((i + 1, None)),
            }
        }
        Ok((input.len(), Some(gz)))
    }

    /// The gzip header part after part `rank` (0 fixed, 1 extra, 2 name, 3 comment).
    fn after(&self, rank: u8) -> Option<Gz> {
        let f = self.gz_flags;
        if rank < 1 && f & FEXTRA != 0 {
            Some(Gz::ExtraLen(0, 0))
        } else if rank < 2 && f & FNAME != 0 {
            Some(Gz::Name)
        } else if rank < 3 && f & FCOMMENT != 0 {
            Some(Gz::Comment)
        } else if rank < 4 && f & FHCRC != 0 {
            Some(Gz::HeaderCrc(0, 0))
        } else {
            None
        }
    }

    fn check_trailer(&self) -> Result<(), CompressError> {
        let [a, b, c, d, e, f, g, h] = self.hold;
        match self.format {
            Some(Format::Gzip) => {
                if u32::from_le_bytes([a, b, c, d]) != self.crc.value() {
                    return Err(CompressError::Corrupt("gzip CRC-32 mismatch"));
                }
                if u32::from_le_bytes([e, f, g, h]) != self.member_len {
                    return Err(CompressError::Corrupt("gzip ISIZE mismatch"));
                }
            }
            Some(Format::Zlib) if u32::from_be_bytes([a, b, c, d]) != self.adler.value() => {
                return Err(CompressError::Corrupt("zlib Adler-32 mismatch"));
            }
            _ => {}
        }
        Ok(())
    }

    /// Inflate DEFLATE data from `input` in bounded steps. Returns the input bytes used and
    /// whether the stream's final block ended.
    fn body(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), CompressError> {
        let mut used = 0usize;
        let mut step = input
            .len()
            .saturating_mul(STEP_PER_INPUT_BYTE)
            .clamp(MIN_STEP, MAX_STEP);
        loop {
            let allowed = (self.limits.max_output as u64).saturating_sub(self.budget_out);
            let room = usize::try_from(allowed.saturating_add(1))
                .unwrap_or(usize::MAX)
                .min(step);
            let start = out.len();
            out.resize(start.saturating_add(room), 0);
            let rest = input.get(used..).unwrap_or_default();
            let result = match out.get_mut(start..) {
                Some(tail) => self.raw.inflate(rest, tail),
                None => Ok(Default::default()),
            };
            let p = match result {
                Ok(p) => p,
                Err(msg) => {
                    out.truncate(start);
                    return Err(CompressError::Corrupt(msg));
                }
            };
            let end = start.saturating_add(p.written);
            if let Some(new) = out.get(start..end) {
                match self.format {
                    Some(Format::Gzip) => self.crc.update(new),
                    Some(Format::Zlib) => self.adler.update(new),
                    _ => {}
                }
            }
            out.truncate(end);
            used = used.saturating_add(p.consumed);
            self.count_in(p.consumed);
            self.member_len = self.member_len.wrapping_add(p.written as u32);
            self.budget_out = self.budget_out.saturating_add(p.written as u64);
            self.total_out = self.total_out.saturating_add(p.written as u64);
            self.check_limits(out, start)?;
            if p.ended {
                return Ok((used, true));
            }
            if p.written < room {
                if used >= input.len() {
                    return Ok((used, false));
                }
                if p.consumed == 0 && p.written == 0 {
                    return Err(CompressError::Corrupt("DEFLATE decoder made no progress"));
                }
            } else {
                step = step.saturating_mul(2).min(MAX_STEP);
            }
        }
    }

    fn check_limits(&self, out: &mut Vec<u8>, step_start: usize) -> Result<(), CompressError> {
        let limit = self.limits.max_output;
        if self.budget_out > limit as u64 {
            // Keep `out` within the limit: drop the byte that crossed it.
            let over = usize::try_from(self.budget_out - limit as u64).unwrap_or(usize::MAX);
            let keep = out
                .len()
                .saturating_sub(over)
                .max(step_start.min(out.len()));
            out.truncate(keep);
            return Err(CompressError::TooLarge { limit });
        }
        if self.budget_out > Limits::RATIO_GRACE
            && self.budget_out
                > self
                    .budget_in
                    .saturating_mul(u64::from(self.limits.max_ratio))
        {
            let ratio = self.budget_out / self.budget_in.max(1);
            return Err(CompressError::RatioExceeded {
                ratio: u32::try_from(ratio).unwrap_or(u32::MAX),
            });
        }
        Ok(())
    }
}
