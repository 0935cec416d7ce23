//! The public streaming decoders: framer + parser.

use bytes::Bytes;

use super::decode::{frame_tag, parse_client_message, parse_response, ParseOptions, Parser};
use super::dialect::Tolerance;
use super::framer::{FrameError, Framer, FramerLimits, LiteralAnnouncement, Role};
use pimap_types::{ClientMessage, Response, Tag};

/// Decoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderOptions {
    /// Tolerant (default) or strict reading.
    pub tolerance: Tolerance,
    /// Size limits of the framer (line, literal, message).
    pub limits: FramerLimits,
    /// Maximum nesting depth of lists, search keys and body structures (default 64).
    pub max_depth: Option<u32>,
}

impl DecoderOptions {
    /// Strict reading with default limits.
    pub fn strict() -> Self {
        Self {
            tolerance: Tolerance::Strict,
            ..Self::default()
        }
    }
    fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            tolerance: self.tolerance,
            max_depth: self.max_depth.unwrap_or(ParseOptions::default().max_depth),
        }
    }
}

/// A message could not be decoded. The decoder has already skipped it: the next call to
/// `next()` continues with the following message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A size limit was exceeded (the message was discarded without buffering it).
    #[error("limit exceeded: {0}")]
    Limit(#[from] FrameError),
    /// The message is not valid syntax.
    #[error("syntax error at offset {offset}: expected {expected}")]
    Syntax {
        /// The tag of the offending command or response, when it could be read.
        tag: Option<Tag>,
        /// Byte offset in the message.
        offset: usize,
        /// What the parser expected there.
        expected: &'static str,
        /// The whole offending message (for logs).
        frame: Bytes,
    },
    /// Parentheses or search keys nested deeper than the configured maximum.
    #[error("nesting deeper than the configured maximum")]
    TooDeep {
        /// The tag, when known.
        tag: Option<Tag>,
    },
}

impl DecodeError {
    /// The tag of the failed message, when known (answer it with `tag BAD ...`).
    pub fn tag(&self) -> Option<Tag> {
        match self {
            DecodeError::Limit(f) => f.tag().and_then(|t| Tag::new(t.clone()).ok()),
            DecodeError::Syntax { tag, .. } | DecodeError::TooDeep { tag } => tag.clone(),
        }
    }
}

fn syntax_error(frame: &Bytes, e: super::decode::PErr) -> DecodeError {
    let tag = frame_tag(frame);
    if e.too_deep {
        DecodeError::TooDeep { tag }
    } else {
        DecodeError::Syntax {
            tag,
            offset: e.pos,
            expected: e.expected,
            frame: frame.clone(),
        }
    }
}

/// Decodes what a client sends (server side): commands, `DONE`, AUTHENTICATE data.
///
/// ```
/// use pimap_codec::CommandDecoder;
/// use pimap_types::{ClientMessage, CommandBody};
///
/// let mut d = CommandDecoder::default();
/// d.feed(b"a1 LOGIN joe#P6505551234@foo.com secret\r\n");
/// let Some(ClientMessage::Command(cmd)) = d.next().unwrap() else { panic!() };
/// assert!(matches!(cmd.body, CommandBody::Login { .. }));
/// assert!(d.next().unwrap().is_none()); // needs more input
/// ```
#[derive(Debug)]
pub struct CommandDecoder {
    framer: Framer,
    opts: DecoderOptions,
    auth_lines: bool,
}

impl Default for CommandDecoder {
    fn default() -> Self {
        Self::new(DecoderOptions::default())
    }
}

impl CommandDecoder {
    /// New decoder.
    pub fn new(opts: DecoderOptions) -> Self {
        Self {
            framer: Framer::new(Role::Server, opts.limits),
            opts,
            auth_lines: false,
        }
    }
    /// Append received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.framer.feed(bytes);
    }
    /// Remove and return the bytes not yet decoded (see [`Framer::take_buffered`]).
    pub fn take_buffered(&mut self) -> bytes::BytesMut {
        self.framer.take_buffered()
    }
    /// The next message: `Ok(None)` means more input is needed. After an `Err` the next call
    /// continues with the following message.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<ClientMessage>, DecodeError> {
        let Some(frame) = self.framer.next_frame()? else {
            return Ok(None);
        };
        let mut p = Parser::new(&frame, self.opts.parse_options());
        match parse_client_message(&mut p, self.auth_lines) {
            Ok(m) => Ok(Some(m)),
            Err(e) => Err(syntax_error(&frame, e)),
        }
    }
    /// Treat the following lines as AUTHENTICATE data (`true` after sending a `+` challenge)
    /// or as commands again (`false` once the exchange is over).
    pub fn set_authenticate_data(&mut self, on: bool) {
        self.auth_lines = on;
    }
    /// A synchronizing literal announced by the client awaits our `+` continuation. Returned
    /// once per literal.
    pub fn take_continuation_request(&mut self) -> Option<LiteralAnnouncement> {
        self.framer.take_continuation_request()
    }
    /// Is the client waiting for a `+` continuation?
    pub fn awaiting_continuation(&self) -> bool {
        self.framer.awaiting_continuation()
    }
    /// Bytes buffered but not yet decoded.
    pub fn buffered_len(&self) -> usize {
        self.framer.buffered_len()
    }
    /// Give back buffer memory while nothing is buffered (see [`Framer::shrink`]).
    pub fn shrink(&mut self, keep: usize) {
        self.framer.shrink(keep);
    }
    /// Change the size limits for what follows (small before authentication, larger
    /// after).
    pub fn set_limits(&mut self, limits: FramerLimits) {
        self.opts.limits = limits;
        self.framer.set_limits(limits);
    }
}

/// Decodes what a server sends (client side): greeting, status responses, untagged data and
/// continuation requests.
///
/// ```
/// use pimap_codec::ResponseDecoder;
/// use pimap_types::{Data, Response};
///
/// let mut d = ResponseDecoder::default();
/// d.feed(b"* 501 EXISTS\r\n* 25 EXPUN");
/// assert_eq!(d.next().unwrap(), Some(Response::Data(Data::Exists(501))));
/// assert_eq!(d.next().unwrap(), None);
/// d.feed(b"GE\r\n");
/// assert_eq!(d.next().unwrap(), Some(Response::Data(Data::Expunge(25))));
/// ```
#[derive(Debug)]
pub struct ResponseDecoder {
    framer: Framer,
    opts: DecoderOptions,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self::new(DecoderOptions::default())
    }
}

impl ResponseDecoder {
    /// New decoder.
    pub fn new(opts: DecoderOptions) -> Self {
        Self {
            framer: Framer::new(Role::Client, opts.limits),
            opts,
        }
    }
    /// Append received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.framer.feed(bytes);
    }
    /// Remove and return the bytes not yet decoded (see [`Framer::take_buffered`]).
    pub fn take_buffered(&mut self) -> bytes::BytesMut {
        self.framer.take_buffered()
    }
    /// The next response: `Ok(None)` means more input is needed. After an `Err` the next
    /// call continues with the following response.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Response>, DecodeError> {
        let Some(frame) = self.framer.next_frame()? else {
            return Ok(None);
        };
        let mut p = Parser::new(&frame, self.opts.parse_options());
        match parse_response(&mut p) {
            Ok(r) => Ok(Some(r)),
            Err(e) => Err(syntax_error(&frame, e)),
        }
    }
    /// Bytes buffered but not yet decoded.
    pub fn buffered_len(&self) -> usize {
        self.framer.buffered_len()
    }
}

/// Decode exactly one complete response from `bytes` (convenience for tests and tools).
pub fn decode_response(
    bytes: &[u8],
    opts: DecoderOptions,
) -> Result<Option<Response>, DecodeError> {
    let mut d = ResponseDecoder::new(opts);
    d.feed(bytes);
    d.next()
}
