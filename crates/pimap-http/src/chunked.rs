//! Chunked transfer coding for the persistent mode: decoding with lines and literals reassembled across chunks, one chunk per IMAP response.

use memchr::memchr;

use pimap_codec::{CommandDecoder, DecodeError, DecoderOptions};
use pimap_types::ClientMessage;

// ------------------------------------------------------------------------ chunked coding

/// Limits of a [`ChunkedDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ChunkedLimits {
    /// Largest chunk (default 16 MiB).
    pub max_chunk: u64,
    /// Longest chunk-size line (with extensions) or trailer line (default 4 KiB).
    pub max_line: usize,
    /// Total size of the trailer section (default 16 KiB).
    pub max_trailers: usize,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        Self {
            max_chunk: 16 << 20,
            max_line: 4096,
            max_trailers: 16 << 10,
        }
    }
}

/// An error of the chunked transfer coding. The decoder is unusable afterwards (HTTP
/// framing cannot resynchronise): close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkedError {
    /// The chunk-size line is not hex digits followed by optional extensions.
    #[error("invalid chunk size line")]
    InvalidSize,
    /// A chunk larger than [`ChunkedLimits::max_chunk`].
    #[error("chunk of {size} bytes exceeds the limit of {limit} bytes")]
    ChunkTooLarge {
        /// The announced size.
        size: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A chunk-size or trailer line longer than [`ChunkedLimits::max_line`].
    #[error("chunk header line longer than {limit} bytes")]
    LineTooLong {
        /// The configured limit.
        limit: usize,
    },
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    MissingCrlf,
    /// The trailer section exceeds [`ChunkedLimits::max_trailers`].
    #[error("trailers longer than {limit} bytes")]
    TrailersTooLarge {
        /// The configured limit.
        limit: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(u64),
    DataCr,
    DataLf,
    Trailer,
    Done,
    Failed(ChunkedError),
}

/// Decoder of RFC 7230 §4.1 chunked transfer coding: `hex-size [;ext] CRLF data CRLF`
/// repeated, then `0 CRLF`, optional trailer lines and an empty line. Bytes may be fed in
/// any pieces; the payload is appended to the caller's buffer. A bare LF is accepted where
/// CRLF is expected. Trailers are checked for size and otherwise ignored.
///
/// ```
/// use pimap_http::ChunkedDecoder;
///
/// let mut d = ChunkedDecoder::default();
/// let mut payload = Vec::new();
/// d.feed(b"e\r\n2 CAPABILITY\r\n\r\n5;ext=1\r\nab", &mut payload)?;
/// d.feed(b"cde\r\n0\r\n\r\nNEXT", &mut payload)
///     .map(|used| assert_eq!(used, 10))?; // "NEXT" belongs to the next HTTP message
/// assert_eq!(payload, b"2 CAPABILITY\r\nabcde");
/// assert!(d.is_done());
/// # Ok::<(), pimap_http::ChunkedError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    limits: ChunkedLimits,
    state: ChunkState,
    line: Vec<u8>,
    trailer_bytes: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new(ChunkedLimits::default())
    }
}

impl ChunkedDecoder {
    /// A decoder with these limits.
    pub fn new(limits: ChunkedLimits) -> Self {
        Self {
            limits,
            state: ChunkState::Size,
            line: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// Has the last chunk (and the trailers) been read?
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decode `input`, appending payload bytes to `out`. Returns how many bytes of `input`
    /// were used: all of them, except after the end of the chunked body (the rest belongs
    /// to the next HTTP message).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            let rest = input.get(i..).unwrap_or_default();
            match &mut self.state {
                ChunkState::Failed(e) => return Err(e.clone()),
                ChunkState::Done => return Ok(i),
                ChunkState::Data(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(rest.len());
                    out.extend_from_slice(rest.get(..n).unwrap_or_default());
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = ChunkState::DataCr;
                    }
                    i += n;
                }
                ChunkState::DataCr => {
                    i += 1;
                    self.state = match rest.first() {
                        Some(b'\r') => ChunkState::DataLf,
                        Some(b'\n') => ChunkState::Size,
                        _ => return self.fail(ChunkedError::MissingCrlf),
                    };
                }
                ChunkState::DataLf => {
                    i += 1;
                    if rest.first() != Some(&b'\n') {
                        return self.fail(ChunkedError::MissingCrlf);
                    }
                    self.state = ChunkState::Size;
                }
                ChunkState::Size | ChunkState::Trailer => {
                    let (take, complete) = match memchr(b'\n', rest) {
                        Some(p) => (p + 1, true),
                        None => (rest.len(), false),
                    };
                    if self.line.len() + take > self.limits.max_line {
                        let limit = self.limits.max_line;
                        return self.fail(ChunkedError::LineTooLong { limit });
                    }
                    self.line
                        .extend_from_slice(rest.get(..take).unwrap_or_default());
                    i += take;
                    if complete {
                        let line = std::mem::take(&mut self.line);
                        self.line_done(&line)?;
                        self.line = line;
                        self.line.clear();
                    }
                }
            }
        }
        if let ChunkState::Failed(e) = &self.state {
            return Err(e.clone());
        }
        Ok(i)
    }

    fn fail<T>(&mut self, e: ChunkedError) -> Result<T, ChunkedError> {
        self.state = ChunkState::Failed(e.clone());
        Err(e)
    }

    /// A complete chunk-size or trailer line (with its LF).
    fn line_done(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if self.state == ChunkState::Trailer {
            if text.is_empty() {
                self.state = ChunkState::Done;
                return Ok(());
            }
            self.trailer_bytes += line.len();
            if self.trailer_bytes > self.limits.max_trailers {
                let limit = self.limits.max_trailers;
                return self.fail(ChunkedError::TrailersTooLarge { limit });
            }
            return Ok(());
        }
        let digits = text.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 || digits > 16 {
            return self.fail(ChunkedError::InvalidSize);
        }
        let after = text.get(digits..).unwrap_or_default();
        let after = after.trim_ascii_start();
        if !(after.is_empty() || after.first() == Some(&b';')) {
            return self.fail(ChunkedError::InvalidSize);
        }
        let hex = std::str::from_utf8(text.get(..digits).unwrap_or_default()).unwrap_or("");
        let Ok(size) = u64::from_str_radix(hex, 16) else {
            return self.fail(ChunkedError::InvalidSize);
        };
        if size > self.limits.max_chunk {
            let limit = self.limits.max_chunk;
            return self.fail(ChunkedError::ChunkTooLarge { size, limit });
        }
        self.state = if size == 0 {
            ChunkState::Trailer
        } else {
            ChunkState::Data(size)
        };
        Ok(())
    }
}

/// Reassembles IMAP commands from a chunked request body (server side, persistent mode):
/// the chunk payload is simply a byte stream (E-49), so it goes straight into a
/// [`CommandDecoder`], which copes with lines and literals spanning chunks and with several
/// lines in one chunk. (A [`Server`] connection has its own decoder: [`HttpSessions`] feeds
/// the payload to [`Server::handle_input`] instead; this type is for embedders that decode
/// commands themselves.)
///
/// ```
/// use pimap_http::LineAssembler;
/// use pimap_types::ClientMessage;
///
/// let mut a = LineAssembler::default();
/// a.feed(b"5\r\na1 NO\r\n")?;
/// assert!(a.next().unwrap().is_none());
/// a.feed(b"4\r\nOP\r\n\r\n")?;
/// assert!(matches!(a.next().unwrap(), Some(ClientMessage::Command(_))));
/// # Ok::<(), pimap_http::ChunkedError>(())
/// ```
#[derive(Debug)]
pub struct LineAssembler {
    chunked: ChunkedDecoder,
    decoder: CommandDecoder,
    scratch: Vec<u8>,
}

impl Default for LineAssembler {
    fn default() -> Self {
        Self::new(ChunkedLimits::default(), DecoderOptions::default())
    }
}

impl LineAssembler {
    /// An assembler with these limits.
    pub fn new(limits: ChunkedLimits, opts: DecoderOptions) -> Self {
        Self {
            chunked: ChunkedDecoder::new(limits),
            decoder: CommandDecoder::new(opts),
            scratch: Vec::new(),
        }
    }

    /// Feed chunked wire bytes; returns how many were used (see [`ChunkedDecoder::feed`]).
    pub fn feed(&mut self, wire: &[u8]) -> Result<usize, ChunkedError> {
        self.scratch.clear();
        let used = self.chunked.feed(wire, &mut self.scratch)?;
        self.decoder.feed(&self.scratch);
        Ok(used)
    }

    /// The next complete client message (see [`CommandDecoder::next`]).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<ClientMessage>, DecodeError> {
        self.decoder.next()
    }

    /// Has the chunked body ended?
    pub fn is_done(&self) -> bool {
        self.chunked.is_done()
    }

    /// The command decoder (e.g. to switch AUTHENTICATE data mode).
    pub fn decoder_mut(&mut self) -> &mut CommandDecoder {
        &mut self.decoder
    }
}

/// One chunk: `hex-size CRLF data CRLF`. Empty data gives no bytes (an empty chunk would
/// end the body; send [`LAST_CHUNK`] for that).
///
/// ```
/// assert_eq!(pimap_http::encode_chunk(b"2 CAPABILITY\r\n"), b"e\r\n2 CAPABILITY\r\n\r\n");
/// ```
pub fn encode_chunk(data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The literal length announced at the end of a line (without its line end): `{n}`,
/// `{n+}`, `~{n}`.
fn announced_literal(line: &[u8]) -> Option<usize> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = inner.get(open + 1..)?;
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Length of the first complete IMAP message in `data` (a line, with any literals it
/// announces and the lines continuing it), if complete.
fn message_len(data: &[u8]) -> Option<usize> {
    let mut pos = 0usize;
    loop {
        let lf = pos + memchr(b'\n', data.get(pos..)?)?;
        let line = data.get(pos..lf)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match announced_literal(line) {
            None => return Some(lf + 1),
            Some(n) => {
                pos = (lf + 1).checked_add(n)?;
                if pos > data.len() {
                    return None;
                }
            }
        }
    }
}

/// Cut server output into IMAP messages (responses): each line with its CRLF, a line that
/// announces a literal together with the literal data and the rest of the response. Returns
/// the complete messages and the incomplete rest.
///
/// ```
/// let (msgs, rest) = pimap_http::split_messages(b"* 1 FETCH (BODY[] {3}\r\na\r\n)\r\na1 OK done\r\n+ ");
/// assert_eq!(msgs, [&b"* 1 FETCH (BODY[] {3}\r\na\r\n)\r\n"[..], &b"a1 OK done\r\n"[..]]);
/// assert_eq!(rest, b"+ ");
/// ```
pub fn split_messages(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(n) = message_len(rest) {
        let (m, r) = rest.split_at(n);
        out.push(m);
        rest = r;
    }
    (out, rest)
}
