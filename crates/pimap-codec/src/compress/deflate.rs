//! [`Deflater`]: a streaming raw DEFLATE compressor.

use super::backend::{Flush, RawDeflate};
use super::Backend;

/// A streaming raw DEFLATE (RFC 1951) compressor. One instance keeps the 32 KiB dictionary
/// across calls, so consecutive messages compress against each other.
///
/// ```
/// use pimap_codec::compress::{Deflater, Inflater, Format, Limits};
///
/// let mut deflater = Deflater::new(1);
/// let mut inflater = Inflater::new(Some(Format::Raw), Limits::default());
/// let (mut wire, mut plain) = (Vec::new(), Vec::new());
/// for msg in [&b"* 1 EXISTS\r\n"[..], b"* 2 EXISTS\r\n"] {
///     wire.clear();
///     deflater.compress_sync(msg, &mut wire);
///     assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
///     plain.clear();
///     inflater.inflate(&wire, &mut plain)?;
///     assert_eq!(plain, msg);
/// }
/// # Ok::<(), pimap_codec::compress::CompressError>(())
/// ```
pub struct Deflater {
    raw: RawDeflate,
    level: u8,
    backend: Backend,
    /// Input was given since the last flush.
    pending: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("level", &self.level)
            .field("backend", &self.backend)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor on the default [`Backend`]. `level` is 0 (stored blocks) to 9 (best);
    /// larger values are taken as 9.
    pub fn new(level: u8) -> Self {
        Self::with_backend(level, Backend::default())
    }

    /// A compressor on the given backend.
    pub fn with_backend(level: u8, backend: Backend) -> Self {
        let level = level.min(9);
        Deflater {
            raw: RawDeflate::new(backend, level),
            level,
            backend,
            pending: false,
        }
    }

    /// The compression level (0..=9).
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Compress `input`, appending whatever the compressor emits to `out`. The compressor may
    /// keep data back until the next flush; use [`Deflater::compress_sync`] or
    /// [`Deflater::finish`] to emit it.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            return;
        }
        self.raw.compress(input, out, Flush::None);
        self.pending = true;
    }

    /// Compress `input` and append it to `out`, ending with a sync flush (an empty stored
    /// block, `00 00 FF FF`): the peer can inflate everything given so far. With an empty
    /// `input` and nothing held back, nothing is appended.
    pub fn compress_sync(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() && !self.pending {
            return;
        }
        self.raw.compress(input, out, Flush::Sync);
        self.pending = false;
    }

    /// End the stream: append the rest of the data and a final block. The next call starts a
    /// new, independent stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.raw.compress(&[], out, Flush::Finish);
        self.raw.reset();
        self.pending = false;
    }
}
