//! Resumable line + literal framer.
//!
//! IMAP messages are CRLF-terminated lines, where a line may end with a literal announcement
//! immediately before the CRLF: `{n}` (synchronizing), `{n+}` (LITERAL+, non-synchronizing),
//! or `~{n}` / `~{n+}` (RFC 3516 literal8). Exactly `n` raw octets follow the announcing line;
//! they are never scanned (they may contain CRLF or `{5}`). The message then continues with
//! more line text, which may announce another literal, and so on. A message ends at the first
//! line that does not end with a literal announcement.
//!
//! [`Framer`] cuts a byte stream into complete messages ("frames"), each a [`Bytes`] that
//! includes the final CRLF and shares the allocation of the internal buffer (no copy beyond
//! the one append in [`Framer::feed`]).
//!
//! * **Resumable**: the scan position is kept between calls, so input arriving one byte at a
//!   time costs about the same as one large buffer. Literal bodies are skipped by count.
//! * **Line ends**: a line ends at LF; the CR before it is expected but a bare LF is accepted
//!   (the frame contains exactly what was sent).
//! * **Bounded**: [`FramerLimits`] bounds every line segment, literal and message. Over a
//!   limit, [`Framer::next_frame`] returns one [`FrameError`] for the offending message and
//!   then discards the rest of that message without buffering it (see [`FrameError`] for the
//!   resynchronisation rules), so the following call continues with the next message.
//! * **Continuation requests**: in [`Role::Server`], a synchronizing literal whose data has
//!   not arrived yet is reported once by [`Framer::take_continuation_request`], so the server
//!   can send `+`.
//!
//! ```
//! # use pimap_codec::{Framer, FramerLimits, Role};
//! let mut framer = Framer::new(Role::Server, FramerLimits::default());
//! framer.feed(b"a1 LOGIN {3}\r\n");
//! assert_eq!(framer.next_frame().unwrap(), None);
//! let request = framer.take_continuation_request().unwrap(); // send "+ Ready"
//! assert_eq!(request.length, 3);
//! framer.feed(b"joe secret\r\na2 NOOP\r\n");
//! assert_eq!(framer.next_frame().unwrap().unwrap(), &b"a1 LOGIN {3}\r\njoe secret\r\n"[..]);
//! assert_eq!(framer.next_frame().unwrap().unwrap(), &b"a2 NOOP\r\n"[..]);
//! assert_eq!(framer.next_frame().unwrap(), None);
//! ```

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr;

/// Which side of the connection the framer decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We are the server and decode commands. A client that announces a synchronizing
    /// literal waits for our `+` continuation before sending the literal data.
    Server,
    /// We are the client and decode responses. Servers send literal data right away.
    Client,
}

/// Size limits of a [`Framer`].
///
/// The defaults are 1 MiB per line segment, 64 MiB per literal and 100 MiB per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FramerLimits {
    /// Maximum length in bytes of one line segment (the text between literals, or between
    /// the message start or a literal and the line end), including the CRLF. Enforced while
    /// the line is still incomplete: a line without CRLF fails once `max_line` bytes of it
    /// are buffered. Default 1 MiB.
    pub max_line: usize,
    /// Maximum announced literal size in bytes. Checked when the announcement is seen,
    /// before any literal data is buffered. Default 64 MiB.
    pub max_literal: u64,
    /// Maximum total size in bytes of one message (all its lines and literal bodies).
    /// Default 100 MiB.
    pub max_message: u64,
}

impl FramerLimits {
    /// Default `max_line`: 1 MiB.
    pub const DEFAULT_MAX_LINE: usize = 64 * 1024 * 16;
    /// Default `max_literal`: 64 MiB.
    pub const DEFAULT_MAX_LITERAL: u64 = 64 * 1024 * 1024;
    /// Default `max_message`: 100 MiB.
    pub const DEFAULT_MAX_MESSAGE: u64 = 100 * 1024 * 1024;
}

impl Default for FramerLimits {
    fn default() -> Self {
        Self {
            max_line: Self::DEFAULT_MAX_LINE,
            max_literal: Self::DEFAULT_MAX_LITERAL,
            max_message: Self::DEFAULT_MAX_MESSAGE,
        }
    }
}

/// A synchronizing literal announced by the client whose data has not arrived yet: the
/// client waits for a `+` continuation request (see [`Framer::take_continuation_request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralAnnouncement {
    /// The tag of the command announcing the literal, when it could be read.
    pub tag: Option<Bytes>,
    /// The announced length in bytes.
    pub length: u64,
    /// `true` for an RFC 3516 literal8 (`~{n}`).
    pub binary: bool,
    /// `true` for `{n}` (the client waits for `+`), `false` for LITERAL+ `{n+}`.
    pub synchronizing: bool,
}

/// A message exceeded a limit or announced an unreadable literal length.
///
/// The framer has already resynchronised when this is returned: the next call to
/// [`Framer::next_frame`] continues with the following message, and the rest of the
/// offending message is discarded without being buffered:
///
/// * an over-long line is discarded up to its LF;
/// * after an over-size synchronizing literal announcement in [`Role::Server`], only the
///   announcing line is dropped (the client waits for a `+` that never comes, so its next
///   bytes are a new command);
/// * otherwise (non-synchronizing literal, or [`Role::Client`]) the announced number of
///   octets is skipped and the rest of the message is discarded line by line, skipping any
///   further announced literals, up to a line that does not announce a literal;
/// * a literal length that does not fit in a `u64` ends the message at the announcing line.
///
/// Each offending message produces exactly one error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A line segment is longer than [`FramerLimits::max_line`].
    #[error("line longer than {limit} bytes")]
    LineTooLong {
        /// The tag of the offending message, when known.
        tag: Option<Bytes>,
        /// The configured limit.
        limit: usize,
    },
    /// A literal announcement exceeds [`FramerLimits::max_literal`].
    #[error("literal of {length} bytes exceeds the limit of {limit} bytes")]
    LiteralTooLarge {
        /// The tag of the offending message, when known.
        tag: Option<Bytes>,
        /// The announced length.
        length: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The message is larger than [`FramerLimits::max_message`].
    #[error("message larger than {limit} bytes")]
    MessageTooLarge {
        /// The tag of the offending message, when known.
        tag: Option<Bytes>,
        /// The configured limit.
        limit: u64,
    },
    /// A literal announcement whose length does not fit in 64 bits.
    #[error("invalid literal length")]
    InvalidLiteralLength {
        /// The tag of the offending message, when known.
        tag: Option<Bytes>,
    },
}

impl FrameError {
    /// The tag of the offending message, when known (answer it with `tag BAD ...`).
    pub fn tag(&self) -> Option<&Bytes> {
        match self {
            FrameError::LineTooLong { tag, .. }
            | FrameError::LiteralTooLarge { tag, .. }
            | FrameError::MessageTooLarge { tag, .. }
            | FrameError::InvalidLiteralLength { tag } => tag.as_ref(),
        }
    }
}

/// A parsed literal announcement at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announced {
    length: u64,
    binary: bool,
    non_sync: bool,
}

impl Announced {
    /// Does the sender wait for a `+` before sending the data?
    fn waits_for_continuation(self, role: Role) -> bool {
        role == Role::Server && !self.non_sync
    }
}

/// The literal announcement at the very end of `line` (a trailing LF and CR are ignored):
/// `None` if the line does not end with `{digits}`, `{digits+}`, `~{digits}` or
/// `~{digits+}`; `Some(Err(()))` if the digits overflow a `u64`.
fn parse_announcement(line: &[u8]) -> Option<Result<Announced, ()>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let (line, non_sync) = match line.strip_suffix(b"+") {
        Some(rest) => (rest, true),
        None => (line, false),
    };
    let digits_start = line
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |p| p + 1);
    let (head, digits) = line.split_at_checked(digits_start)?;
    if digits.is_empty() {
        return None;
    }
    let head = head.strip_suffix(b"{")?;
    let binary = head.ends_with(b"~");
    let mut length: u64 = 0;
    for &d in digits {
        match length
            .checked_mul(10)
            .and_then(|l| l.checked_add(u64::from(d - b'0')))
        {
            Some(l) => length = l,
            None => return Some(Err(())),
        }
    }
    Some(Ok(Announced {
        length,
        binary,
        non_sync,
    }))
}

/// How many trailing bytes of a discarded line are kept to recognise an announcement:
/// `~{` + 20 digits + `+}` + CR is 25 bytes.
const TAIL: usize = 32;

/// Longest tag the framer reports in errors and continuation requests.
const MAX_TAG: usize = 1024;

/// Literals longer than this get their whole room reserved when announced.
const RESERVE_LITERAL_FROM: usize = 64 * 1024;

/// After an error, an empty buffer with more capacity than this is released.
const RETAIN_CAPACITY: usize = 128 * 1024;

/// Bytes are discarded without buffering until the offending message ends.
#[derive(Debug, Clone)]
struct Discard {
    /// Octets of a literal still to skip.
    literal_left: u64,
    /// The last bytes of the line being discarded (up to [`TAIL`]).
    tail: [u8; TAIL],
    /// How many bytes of `tail` are valid.
    tail_len: usize,
}

impl Discard {
    fn new(literal_left: u64, line_so_far: &[u8]) -> Self {
        let mut d = Self {
            literal_left,
            tail: [0; TAIL],
            tail_len: 0,
        };
        d.push_tail(line_so_far);
        d
    }

    /// Remember the last bytes of the current line.
    fn push_tail(&mut self, bytes: &[u8]) {
        let new = bytes
            .get(bytes.len().saturating_sub(TAIL)..)
            .unwrap_or_default();
        let keep = TAIL.saturating_sub(new.len()).min(self.tail_len);
        let from = self.tail_len.saturating_sub(keep);
        self.tail.copy_within(from..self.tail_len, 0);
        if let Some(dst) = self.tail.get_mut(keep..keep + new.len()) {
            dst.copy_from_slice(new);
        }
        self.tail_len = keep + new.len();
    }

    /// The announcement at the end of the line made of the remembered tail plus `rest`.
    fn announcement(&self, rest: &[u8]) -> Option<Result<Announced, ()>> {
        if rest.len() >= TAIL {
            return parse_announcement(rest.get(rest.len() - TAIL..).unwrap_or_default());
        }
        let mut window = [0u8; TAIL];
        let old = self.tail.get(..self.tail_len).unwrap_or_default();
        let old = old
            .get(old.len().saturating_sub(TAIL - rest.len())..)
            .unwrap_or_default();
        let len = old.len() + rest.len();
        let (a, b) = window.split_at_mut(old.len());
        a.copy_from_slice(old);
        b.get_mut(..rest.len())?.copy_from_slice(rest);
        parse_announcement(window.get(..len).unwrap_or_default())
    }

    /// Discard from the start of `input`. Returns how many bytes were consumed and whether
    /// the offending message is over (the rest of `input` then belongs to the next message).
    fn consume(&mut self, input: &[u8], role: Role) -> (usize, bool) {
        let mut off = 0;
        loop {
            let rest = input.get(off..).unwrap_or_default();
            if self.literal_left > 0 {
                let take = self.literal_left.min(rest.len() as u64);
                self.literal_left -= take;
                off += take as usize;
                if self.literal_left > 0 {
                    return (off, false);
                }
                self.tail_len = 0;
                continue;
            }
            let Some(i) = memchr(b'\n', rest) else {
                self.push_tail(rest);
                return (input.len(), false);
            };
            let ann = self.announcement(rest.get(..i).unwrap_or_default());
            off += i + 1;
            self.tail_len = 0;
            match ann {
                Some(Ok(a)) if !a.waits_for_continuation(role) => self.literal_left = a.length,
                _ => return (off, true),
            }
        }
    }
}

/// A synchronizing literal waiting for its data (server side).
#[derive(Debug, Clone, Copy)]
struct Continuation {
    /// The client is waiting while fewer than this many bytes are buffered.
    wait_end: u64,
    length: u64,
    binary: bool,
    taken: bool,
}

/// The kind of limit error found while scanning.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Line,
    Literal(u64),
    Message,
    InvalidLength,
}

/// Resumable IMAP framer: feed bytes, take complete messages.
///
/// See the [module documentation](self) for the framing rules.
#[derive(Clone)]
pub struct Framer {
    role: Role,
    limits: FramerLimits,
    buf: BytesMut,
    /// Everything in `buf` before `pos` belongs to the current message and has been scanned.
    pos: usize,
    /// Start of the current line segment in `buf`.
    seg_start: usize,
    /// Octets of the current literal still to skip, starting at `pos`.
    literal_left: u64,
    /// A synchronizing literal waiting for its data (server side).
    cont: Option<Continuation>,
    /// Discarding the rest of a message that exceeded a limit. Only set while `buf` is empty.
    discard: Option<Discard>,
}

impl fmt::Debug for Framer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Framer")
            .field("role", &self.role)
            .field("limits", &self.limits)
            .field("buffered", &self.buf.len())
            .field("pos", &self.pos)
            .field("literal_left", &self.literal_left)
            .field("awaiting_continuation", &self.awaiting_continuation())
            .field("discarding", &self.discard.is_some())
            .finish_non_exhaustive()
    }
}

impl Framer {
    /// A new framer for `role` with the given limits.
    pub fn new(role: Role, limits: FramerLimits) -> Self {
        Self {
            role,
            limits,
            buf: BytesMut::new(),
            pos: 0,
            seg_start: 0,
            literal_left: 0,
            cont: None,
            discard: None,
        }
    }

    /// Append received bytes. While the rest of an offending message is being discarded,
    /// its bytes are dropped here instead of being buffered.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut bytes = bytes;
        if self.buf.is_empty() {
            if let Some(d) = self.discard.as_mut() {
                let (used, done) = d.consume(bytes, self.role);
                if done {
                    self.discard = None;
                }
                bytes = bytes.get(used..).unwrap_or_default();
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Remove and return every byte not yet returned as a frame (the partial message, if
    /// any, and what follows it), resetting the framer to the start of a message. Used when
    /// the transport changes under the stream, e.g. COMPRESS=DEFLATE (RFC 4978) becoming
    /// active: the bytes after the tagged OK belong to the compressed stream.
    pub fn take_buffered(&mut self) -> BytesMut {
        self.pos = 0;
        self.seg_start = 0;
        self.literal_left = 0;
        self.cont = None;
        std::mem::take(&mut self.buf)
    }

    /// The next complete message, including its final CRLF. `Ok(None)` means more input is
    /// needed. After an `Err` the next call continues with the following message.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.discard.is_some() {
            self.run_discard();
            if self.discard.is_some() {
                return Ok(None);
            }
        }
        loop {
            if self.literal_left > 0 {
                let avail = self.buf.len().saturating_sub(self.pos);
                if (avail as u64) < self.literal_left {
                    self.literal_left -= avail as u64;
                    self.pos = self.buf.len();
                    return Ok(None);
                }
                // `literal_left <= avail`, so it fits in a usize.
                self.pos += self.literal_left as usize;
                self.literal_left = 0;
                self.seg_start = self.pos;
            }
            let rest = self.buf.get(self.pos..).unwrap_or_default();
            let Some(i) = memchr(b'\n', rest) else {
                self.pos = self.buf.len();
                return self.check_incomplete_line().map(|()| None);
            };
            let line_end = self.pos + i + 1;
            let line_over = line_end - self.seg_start > self.limits.max_line;
            let message_over = line_end as u64 > self.limits.max_message;
            if line_over || message_over {
                let failure = self.which_limit(line_over, message_over);
                return Err(self.fail_at_line_end(failure, line_end));
            }
            let line = self.buf.get(self.seg_start..line_end).unwrap_or_default();
            let announced = match parse_announcement(line) {
                None => {
                    let frame = self.buf.split_to(line_end).freeze();
                    self.pos = 0;
                    self.seg_start = 0;
                    self.cont = None;
                    return Ok(Some(frame));
                }
                Some(Err(())) => {
                    return Err(self.fail_at_line_end(Failure::InvalidLength, line_end));
                }
                Some(Ok(a)) => a,
            };
            if announced.length > self.limits.max_literal {
                return Err(self.fail_at_line_end(Failure::Literal(announced.length), line_end));
            }
            let literal_end = (line_end as u64).saturating_add(announced.length);
            if literal_end > self.limits.max_message {
                return Err(self.fail_at_line_end(Failure::Message, line_end));
            }
            self.pos = line_end;
            self.seg_start = line_end;
            self.literal_left = announced.length;
            // Room for the whole literal at once (it is within the limits): grown by
            // doubling, the buffer would end up to twice the message, and the frame keeps
            // that allocation for as long as the message is kept (an APPEND in a store).
            let missing = usize::try_from(literal_end)
                .unwrap_or(usize::MAX)
                .saturating_sub(self.buf.len());
            if missing > RESERVE_LITERAL_FROM {
                self.buf.reserve(missing.saturating_add(2));
            }
            if announced.waits_for_continuation(self.role) {
                // A `{0}` literal has no data, but the client still waits before sending the
                // rest of the command.
                let wait_end = literal_end.saturating_add(u64::from(announced.length == 0));
                if (self.buf.len() as u64) < wait_end {
                    self.cont = Some(Continuation {
                        wait_end,
                        length: announced.length,
                        binary: announced.binary,
                        taken: false,
                    });
                }
            }
        }
    }

    /// The synchronizing literal the client is waiting on, returned once per literal after
    /// the [`next_frame`](Self::next_frame) call that found it returned `Ok(None)`: answer it
    /// with a `+` continuation.
    ///
    /// Only in [`Role::Server`], never for LITERAL+ `{n+}`. No request is made when the
    /// literal data (for `{0}`: the byte after the announcing line) had already arrived when
    /// the announcement was scanned, or has arrived since: the client did not wait.
    pub fn take_continuation_request(&mut self) -> Option<LiteralAnnouncement> {
        let buffered = self.buf.len() as u64;
        let cont = self.cont.as_mut()?;
        if cont.taken || buffered >= cont.wait_end {
            return None;
        }
        cont.taken = true;
        let (length, binary) = (cont.length, cont.binary);
        Some(LiteralAnnouncement {
            tag: self.tag(),
            length,
            binary,
            synchronizing: true,
        })
    }

    /// Is the client waiting for a `+` continuation? `true` from the
    /// [`next_frame`](Self::next_frame) call that found a synchronizing literal whose data
    /// has not arrived, until that data arrives (whether or not the request was taken).
    pub fn awaiting_continuation(&self) -> bool {
        self.cont
            .is_some_and(|c| (self.buf.len() as u64) < c.wait_end)
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// The configured limits.
    pub fn limits(&self) -> &FramerLimits {
        &self.limits
    }

    /// Give back the buffer's memory when nothing is buffered and it holds more than
    /// `keep` octets of capacity (an idle connection then costs almost nothing).
    pub fn shrink(&mut self, keep: usize) {
        if self.buf.is_empty() && self.buf.capacity() > keep {
            self.buf = BytesMut::new();
            self.pos = 0;
            self.seg_start = 0;
        }
    }

    /// Change the limits for what follows (a server raises them after authentication).
    pub fn set_limits(&mut self, limits: FramerLimits) {
        self.limits = limits;
    }

    /// Limit checks on a line segment whose LF has not arrived yet.
    fn check_incomplete_line(&mut self) -> Result<(), FrameError> {
        let line_over = self.buf.len().saturating_sub(self.seg_start) >= self.limits.max_line;
        let message_over = self.buf.len() as u64 >= self.limits.max_message;
        if !line_over && !message_over {
            return Ok(());
        }
        let failure = self.which_limit(line_over, message_over);
        let err = self.error(failure);
        let partial = self.buf.get(self.seg_start..).unwrap_or_default();
        self.discard = Some(Discard::new(0, partial));
        self.buf.clear();
        self.reset_after_error();
        Err(err)
    }

    /// Which limit to report when the current line segment is over `max_line` and/or the
    /// message over `max_message`: the one a byte-by-byte feed would have hit first (the
    /// line limit on a tie), so that errors do not depend on how the input was chunked.
    fn which_limit(&self, line_over: bool, message_over: bool) -> Failure {
        let line_at = (self.seg_start as u64).saturating_add(self.limits.max_line as u64);
        if line_over && (!message_over || line_at <= self.limits.max_message) {
            Failure::Line
        } else {
            Failure::Message
        }
    }

    /// Fail the current message at a complete line ending at `line_end`.
    fn fail_at_line_end(&mut self, failure: Failure, line_end: usize) -> FrameError {
        let err = self.error(failure);
        // Only the line's tail is looked at, exactly as when discarding a line that was
        // incomplete when the limit was hit, so the outcome does not depend on chunking.
        let line = self.buf.get(self.seg_start..line_end).unwrap_or_default();
        let tail = line
            .get(line.len().saturating_sub(TAIL + 1)..)
            .unwrap_or_default();
        let announced = match failure {
            Failure::InvalidLength => None,
            _ => parse_announcement(tail).and_then(Result::ok),
        };
        if let Some(a) = announced.filter(|a| !a.waits_for_continuation(self.role)) {
            self.discard = Some(Discard::new(a.length, &[]));
        }
        self.buf.advance(line_end.min(self.buf.len()));
        self.reset_after_error();
        self.run_discard();
        err
    }

    fn reset_after_error(&mut self) {
        self.pos = 0;
        self.seg_start = 0;
        self.literal_left = 0;
        self.cont = None;
        if self.buf.is_empty() && self.buf.capacity() > RETAIN_CAPACITY {
            self.buf = BytesMut::new();
        }
    }

    /// Discard buffered bytes of an offending message.
    fn run_discard(&mut self) {
        if let Some(d) = self.discard.as_mut() {
            let (used, done) = d.consume(&self.buf, self.role);
            self.buf.advance(used.min(self.buf.len()));
            if done {
                self.discard = None;
            }
        }
    }

    fn error(&self, failure: Failure) -> FrameError {
        let tag = self.tag();
        match failure {
            Failure::Line => FrameError::LineTooLong {
                tag,
                limit: self.limits.max_line,
            },
            Failure::Literal(length) => FrameError::LiteralTooLarge {
                tag,
                length,
                limit: self.limits.max_literal,
            },
            Failure::Message => FrameError::MessageTooLarge {
                tag,
                limit: self.limits.max_message,
            },
            Failure::InvalidLength => FrameError::InvalidLiteralLength { tag },
        }
    }

    /// The tag of the message at the start of the buffer: its first token up to SP, when
    /// it is made of tag characters. Only a prefix is examined that is always buffered when
    /// an error is detected, so the result does not depend on how the input was chunked.
    fn tag(&self) -> Option<Bytes> {
        let window = MAX_TAG
            .min(self.limits.max_line)
            .min(usize::try_from(self.limits.max_message).unwrap_or(usize::MAX));
        let head = self
            .buf
            .get(..window.min(self.buf.len()))
            .unwrap_or_default();
        let end = memchr::memchr3(b' ', b'\r', b'\n', head)?;
        let token = head.get(..end)?;
        if head.get(end) != Some(&b' ')
            || token.is_empty()
            || !token.iter().all(|&b| is_tag_char(b))
        {
            return None;
        }
        Some(Bytes::copy_from_slice(token))
    }
}

/// Any CHAR except controls, SP and `(`, `)`, `{`, `%`, `*`, `"`, `\`, `+`.
fn is_tag_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Out = Vec<Result<Bytes, FrameError>>;

    fn small_limits(max_line: usize, max_literal: u64, max_message: u64) -> FramerLimits {
        FramerLimits {
            max_line,
            max_literal,
            max_message,
        }
    }

    /// Take every available frame, checking the buffer bound after each drain.
    fn drain(f: &mut Framer, out: &mut Out) {
        for _ in 0..1_000_000 {
            match f.next_frame() {
                Ok(Some(frame)) => out.push(Ok(frame)),
                Ok(None) => {
                    assert!(f.buffered_len() as u64 <= f.limits().max_message.max(1));
                    return;
                }
                Err(e) => out.push(Err(e)),
            }
        }
        panic!("next_frame does not make progress");
    }

    fn run_chunks<'a>(
        role: Role,
        limits: FramerLimits,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Out {
        let mut f = Framer::new(role, limits);
        let mut out = Vec::new();
        for chunk in chunks {
            f.feed(chunk);
            drain(&mut f, &mut out);
        }
        out
    }

    fn run_whole(role: Role, limits: FramerLimits, input: &[u8]) -> Out {
        run_chunks(role, limits, [input])
    }

    fn run_bytewise(role: Role, limits: FramerLimits, input: &[u8]) -> Out {
        run_chunks(role, limits, input.chunks(1))
    }

    fn run_sized(role: Role, limits: FramerLimits, input: &[u8], sizes: &[usize]) -> Out {
        let mut rest = input;
        let mut chunks = Vec::new();
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at(size.min(rest.len()));
            chunks.push(a);
            rest = b;
        }
        run_chunks(role, limits, chunks)
    }

    fn frames(out: &Out) -> Vec<&[u8]> {
        out.iter()
            .map(|r| r.as_ref().map(|b| &b[..]).expect("unexpected error"))
            .collect()
    }

    fn tag(t: &str) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(t.as_bytes()))
    }

    const GIB10: u64 = 10_000_000_000;

    // ----- announcement parsing -----

    #[test]
    fn parses_announcements() {
        let ann = |length, binary, non_sync| {
            Some(Ok(Announced {
                length,
                binary,
                non_sync,
            }))
        };
        assert_eq!(
            parse_announcement(b"a1 LOGIN {5}\r\n"),
            ann(5, false, false)
        );
        assert_eq!(
            parse_announcement(b"a1 APPEND x {5+}\r\n"),
            ann(5, false, true)
        );
        assert_eq!(
            parse_announcement(b"a1 APPEND x ~{7}\r\n"),
            ann(7, true, false)
        );
        assert_eq!(
            parse_announcement(b"a1 APPEND x ~{0+}\n"),
            ann(0, true, true)
        );
        assert_eq!(
            parse_announcement(b"{10933843723}\r\n"),
            ann(10_933_843_723, false, false)
        );
        assert_eq!(
            parse_announcement(b"x {18446744073709551615}"),
            ann(u64::MAX, false, false)
        );
        assert_eq!(parse_announcement(b"x {0005}\r\n"), ann(5, false, false));
        assert_eq!(
            parse_announcement(b"x {18446744073709551616}\r\n"),
            Some(Err(()))
        );
        assert_eq!(
            parse_announcement(b"x {99999999999999999999999}\r\n"),
            Some(Err(()))
        );
        for not in [
            &b"x {abc}\r\n"[..],
            b"x {}\r\n",
            b"x {+}\r\n",
            b"x {5\r\n",
            b"x 5}\r\n",
            b"x {5}}\r\n",
            b"x {5++}\r\n",
            b"x {+5}\r\n",
            b"x {-5}\r\n",
            b"x {5} \r\n",
            b"x {5}a\r\n",
            b"x {5}\r\r\n",
            b"x (FLAGS (\\Seen))\r\n",
            b"\r\n",
            b"",
            b"}",
        ] {
            assert_eq!(
                parse_announcement(not),
                None,
                "{:?}",
                String::from_utf8_lossy(not)
            );
        }
    }

    #[test]
    fn tag_characters() {
        for c in [
            b'(', b')', b'{', b'%', b'*', b'"', b'\\', b'+', b' ', 0x7f, 0x1f, 0x80,
        ] {
            assert!(!is_tag_char(c), "{c:#x}");
        }
        for c in [b'a', b'Z', b'0', b'.', b']', b'[', b'!', b'~', b'}'] {
            assert!(is_tag_char(c), "{c:#x}");
        }
    }

    // ----- plain framing -----

    #[test]
    fn frames_lines_and_shares_the_buffer() {
        let input =
            b"* 1 FETCH (UID 7 FLAGS (\\Seen))\r\n* 2 EXISTS\n+ go\r\na1 OK done\r\n* partial";
        let mut f = Framer::new(Role::Client, FramerLimits::default());
        f.feed(input);
        let a = f.next_frame().unwrap().unwrap();
        let b = f.next_frame().unwrap().unwrap();
        let c = f.next_frame().unwrap().unwrap();
        let d = f.next_frame().unwrap().unwrap();
        assert_eq!(&a[..], b"* 1 FETCH (UID 7 FLAGS (\\Seen))\r\n");
        assert_eq!(&b[..], b"* 2 EXISTS\n");
        assert_eq!(&c[..], b"+ go\r\n");
        assert_eq!(&d[..], b"a1 OK done\r\n");
        assert_eq!(f.next_frame().unwrap(), None);
        assert_eq!(f.buffered_len(), b"* partial".len());
        // Zero copy: consecutive frames are adjacent slices of one allocation.
        assert_eq!(a.as_ptr().wrapping_add(a.len()), b.as_ptr());
        assert_eq!(c.as_ptr().wrapping_add(c.len()), d.as_ptr());
        f.feed(b"\r\n");
        assert_eq!(&f.next_frame().unwrap().unwrap()[..], b"* partial\r\n");
        assert_eq!(f.buffered_len(), 0);
        assert_eq!(f.next_frame().unwrap(), None);
        assert!(format!("{f:?}").contains("Framer"));
    }

    #[test]
    fn literal_is_skipped_by_count() {
        // The literal contains CRLF and something that looks like an announcement.
        let msg = b"a1 APPEND INBOX {13}\r\nx\r\n{3}\r\nabc\r\n FLAGS\r\n";
        let next = b"a2 NOOP\r\n";
        let input = [&msg[..], next].concat();
        for role in [Role::Server, Role::Client] {
            let out = run_whole(role, FramerLimits::default(), &input);
            assert_eq!(frames(&out), vec![&msg[..], next]);
            let out = run_bytewise(role, FramerLimits::default(), &input);
            assert_eq!(frames(&out), vec![&msg[..], next]);
        }
    }

    #[test]
    fn several_literals_and_kinds() {
        let msg: &[u8] = b"a1 X {3}\r\nab\n ~{4}\r\n\0\r\n\xff {2+}\r\n{}~{0}\r\n ~{1+}\n}\r\n";
        let input = [msg, b"a2 NOOP\r\n"].concat();
        for role in [Role::Server, Role::Client] {
            for out in [
                run_whole(role, FramerLimits::default(), &input),
                run_bytewise(role, FramerLimits::default(), &input),
            ] {
                assert_eq!(frames(&out), vec![msg, b"a2 NOOP\r\n"]);
            }
        }
    }

    #[test]
    fn non_announcements_end_the_line() {
        let input: &[u8] = b"a1 X {abc}\r\na2 X {}\r\na3 X {5\r\na4 X 5}\r\na5 X {5} \r\n";
        let out = run_whole(Role::Server, FramerLimits::default(), input);
        assert_eq!(out.len(), 5);
        assert_eq!(frames(&out).concat(), input);
    }

    #[test]
    fn u64_sizes() {
        let limits = small_limits(1024, u64::MAX, u64::MAX);
        let mut f = Framer::new(Role::Server, limits);
        f.feed(b"a1 APPEND INBOX {10933843723}\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        let req = f.take_continuation_request().unwrap();
        assert_eq!(req.length, 10_933_843_723);
        // The literal is counted, not scanned.
        f.feed(b"\r\na2 NOOP\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered_len(), 31 + 11);
    }

    #[test]
    fn invalid_literal_length() {
        let input = b"a1 APPEND INBOX {99999999999999999999999}\r\na2 NOOP\r\n";
        for role in [Role::Server, Role::Client] {
            let out = run_whole(role, FramerLimits::default(), input);
            assert_eq!(out, run_bytewise(role, FramerLimits::default(), input));
            assert_eq!(out.len(), 2);
            assert_eq!(
                out[0],
                Err(FrameError::InvalidLiteralLength { tag: tag("a1") })
            );
            assert_eq!(out[0].as_ref().unwrap_err().tag(), tag("a1").as_ref());
            assert_eq!(out[1].as_deref(), Ok(&b"a2 NOOP\r\n"[..]));
        }
    }

    // ----- limits -----

    #[test]
    fn huge_sync_literal_server_drops_the_line() {
        let mut f = Framer::new(Role::Server, FramerLimits::default());
        f.feed(b"a1 APPEND INBOX {10000000000}\r\n");
        assert_eq!(
            f.next_frame(),
            Err(FrameError::LiteralTooLarge {
                tag: tag("a1"),
                length: GIB10,
                limit: FramerLimits::DEFAULT_MAX_LITERAL
            })
        );
        assert_eq!(f.buffered_len(), 0);
        assert!(!f.awaiting_continuation());
        assert_eq!(f.take_continuation_request(), None);
        f.feed(b"a2 NOOP\r\n");
        assert_eq!(
            f.next_frame().unwrap().as_deref(),
            Some(&b"a2 NOOP\r\n"[..])
        );
        assert_eq!(f.next_frame(), Ok(None));
    }

    /// Feed `total` literal octets in 1 MiB chunks (containing CRLF and announcements).
    fn feed_literal(f: &mut Framer, total: u64) {
        let mut chunk = vec![b'x'; 1 << 20];
        chunk[..10].copy_from_slice(b"\r\n{5}\r\n\n\n\n");
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.feed(&chunk[..n]);
            left -= n as u64;
            assert_eq!(f.next_frame(), Ok(None));
            assert_eq!(f.buffered_len(), 0);
        }
    }

    #[test]
    fn huge_literal_is_skipped_without_buffering() {
        let cases: [(Role, &[u8], Option<Bytes>); 4] = [
            (
                Role::Server,
                b"a1 APPEND INBOX {10000000000+}\r\n",
                tag("a1"),
            ),
            (
                Role::Server,
                b"a1 APPEND INBOX ~{10000000000+}\r\n",
                tag("a1"),
            ),
            (Role::Client, b"* 1 FETCH (BODY[] {10000000000}\r\n", None),
            (
                Role::Client,
                b"a1 FETCH (BINARY[] ~{10000000000+}\r\n",
                tag("a1"),
            ),
        ];
        for (role, announce, expected_tag) in cases {
            let mut f = Framer::new(role, FramerLimits::default());
            f.feed(announce);
            assert_eq!(
                f.next_frame(),
                Err(FrameError::LiteralTooLarge {
                    tag: expected_tag,
                    length: GIB10,
                    limit: FramerLimits::DEFAULT_MAX_LITERAL
                })
            );
            assert_eq!(f.buffered_len(), 0);
            assert_eq!(f.take_continuation_request(), None);
            feed_literal(&mut f, GIB10 - 3);
            // The last literal octets, then the rest of the message (with another
            // literal), all discarded.
            f.feed(b"xyz FLAGS {4+}\r\nab\r\n)\r");
            assert_eq!(f.next_frame(), Ok(None));
            assert_eq!(f.buffered_len(), 0);
            f.feed(b"\na2 NOOP\r\n");
            assert_eq!(
                f.next_frame().unwrap().as_deref(),
                Some(&b"a2 NOOP\r\n"[..])
            );
            assert_eq!(f.next_frame(), Ok(None));
        }
    }

    #[test]
    fn huge_literal_discard_in_one_buffer() {
        let input =
            b"a1 X {40}\r\n0123456789012345678901234567890123456789 {3}\r\nabc\r\na2 NOOP\r\n";
        let limits = small_limits(100, 10, 1000);
        for role in [Role::Server, Role::Client] {
            let out = run_whole(role, limits, input);
            assert_eq!(out, run_bytewise(role, limits, input));
            let expected_first = Err(FrameError::LiteralTooLarge {
                tag: tag("a1"),
                length: 40,
                limit: 10,
            });
            match role {
                // The client waits for `+`: the next bytes are taken as new commands.
                Role::Server => {
                    assert_eq!(out.len(), 3);
                    assert_eq!(out[0], expected_first);
                    assert_eq!(
                        out[1].as_deref(),
                        Ok(&b"0123456789012345678901234567890123456789 {3}\r\nabc\r\n"[..])
                    );
                }
                Role::Client => {
                    assert_eq!(out.len(), 2);
                    assert_eq!(out[0], expected_first);
                }
            }
            assert_eq!(out.last().unwrap().as_deref(), Ok(&b"a2 NOOP\r\n"[..]));
        }
    }

    #[test]
    fn long_line_is_detected_early() {
        for role in [Role::Server, Role::Client] {
            let mut f = Framer::new(role, FramerLimits::default());
            let chunk = vec![b'x'; 1 << 20];
            f.feed(b"a1 APPEND ");
            let mut errors = Vec::new();
            for i in 0..100 {
                f.feed(&chunk);
                match f.next_frame() {
                    Ok(None) => {}
                    Ok(Some(frame)) => panic!("unexpected frame of {} bytes", frame.len()),
                    Err(e) => errors.push((i, e)),
                }
                assert!(f.buffered_len() <= FramerLimits::DEFAULT_MAX_LINE + chunk.len());
            }
            assert_eq!(
                errors,
                vec![(
                    0,
                    FrameError::LineTooLong {
                        tag: tag("a1"),
                        limit: FramerLimits::DEFAULT_MAX_LINE
                    }
                )]
            );
            assert_eq!(f.buffered_len(), 0);
            // The over-long line ends with a literal announcement.
            f.feed(b" {5}\r");
            f.feed(b"\n");
            assert_eq!(f.next_frame(), Ok(None));
            assert_eq!(f.buffered_len(), 0);
            match role {
                // The client waits for a `+` that never comes: its next bytes are a command.
                Role::Server => {}
                // The server sends the literal anyway: it is skipped with the rest.
                Role::Client => {
                    f.feed(b"\r\n{3}");
                    f.feed(b" more\r\n");
                    assert_eq!(f.next_frame(), Ok(None));
                    assert_eq!(f.buffered_len(), 0);
                }
            }
            f.feed(b"a2 NOOP\r\n");
            assert_eq!(
                f.next_frame().unwrap().as_deref(),
                Some(&b"a2 NOOP\r\n"[..])
            );
            assert_eq!(f.next_frame(), Ok(None));
        }
    }

    #[test]
    fn long_line_in_one_buffer() {
        let limits = small_limits(16, 100, 1000);
        let input = b"a1 NOOP 12345678901234567890\r\na2 NOOP\r\n";
        let out = run_whole(Role::Server, limits, input);
        assert_eq!(out, run_bytewise(Role::Server, limits, input));
        assert_eq!(
            out,
            vec![
                Err(FrameError::LineTooLong {
                    tag: tag("a1"),
                    limit: 16
                }),
                Ok(Bytes::from_static(b"a2 NOOP\r\n"))
            ]
        );
        // Exactly max_line (including CRLF) is fine.
        let input = b"a1 NOOP 1234\r\n";
        assert_eq!(input.len(), 14);
        let out = run_bytewise(Role::Server, small_limits(14, 100, 1000), input);
        assert_eq!(frames(&out), vec![&input[..]]);
        let out = run_bytewise(Role::Server, small_limits(13, 100, 1000), input);
        assert!(matches!(out[..], [Err(FrameError::LineTooLong { .. })]));
    }

    #[test]
    fn message_size_limit() {
        let limits = small_limits(100, 100, 40);
        let ok: &[u8] = b"a0 X {5}\r\nhello {3}\r\nabc\r\n"; // 26 bytes
        let too_big: &[u8] = b"a1 X {5}\r\nhello {20+}\r\n01234567890123456789 {2+}\r\nxy more\r\n";
        let lines: &[u8] = b"a3 X {5}\r\nhello here is a rather long line\r\n";
        let input = [ok, too_big, b"a2 NOOP\r\n", lines, b"a4 NOOP\r\n"].concat();
        for role in [Role::Server, Role::Client] {
            let out = run_whole(role, limits, &input);
            assert_eq!(out, run_bytewise(role, limits, &input));
            assert_eq!(out, run_sized(role, limits, &input, &[3, 7, 1]));
            assert_eq!(
                out,
                vec![
                    Ok(Bytes::from_static(ok)),
                    Err(FrameError::MessageTooLarge {
                        tag: tag("a1"),
                        limit: 40
                    }),
                    Ok(Bytes::from_static(b"a2 NOOP\r\n")),
                    Err(FrameError::MessageTooLarge {
                        tag: tag("a3"),
                        limit: 40
                    }),
                    Ok(Bytes::from_static(b"a4 NOOP\r\n")),
                ]
            );
        }
    }

    #[test]
    fn untagged_and_continuation_have_no_tag() {
        let limits = small_limits(8, 100, 1000);
        let input =
            b"* 1 FETCH (FLAGS ())\r\n+ a long continuation\r\n1\"2 x x x x x\r\n]a.b x x x x\r\n";
        let out = run_whole(Role::Client, limits, input);
        let tags: Vec<_> = out
            .iter()
            .map(|r| r.as_ref().unwrap_err().tag().cloned())
            .collect();
        assert_eq!(tags, vec![None, None, None, tag("]a.b")]);
    }

    // ----- continuation requests -----

    #[test]
    fn continuation_request_once() {
        let mut f = Framer::new(Role::Server, FramerLimits::default());
        assert!(!f.awaiting_continuation());
        f.feed(b"a1 LOGIN {5}\r\n");
        assert!(!f.awaiting_continuation()); // not scanned yet
        assert_eq!(f.next_frame(), Ok(None));
        assert!(f.awaiting_continuation());
        let expected = LiteralAnnouncement {
            tag: tag("a1"),
            length: 5,
            binary: false,
            synchronizing: true,
        };
        assert_eq!(f.take_continuation_request(), Some(expected));
        assert_eq!(f.take_continuation_request(), None);
        assert!(f.awaiting_continuation());
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.take_continuation_request(), None);
        f.feed(b"fre");
        assert_eq!(f.next_frame(), Ok(None));
        assert!(f.awaiting_continuation());
        assert_eq!(f.take_continuation_request(), None);
        f.feed(b"d1 ~{6}\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        let expected = LiteralAnnouncement {
            tag: tag("a1"),
            length: 6,
            binary: true,
            synchronizing: true,
        };
        assert_eq!(f.take_continuation_request(), Some(expected));
        f.feed(b"secret\r\n");
        assert!(!f.awaiting_continuation());
        assert_eq!(
            f.next_frame().unwrap().as_deref(),
            Some(&b"a1 LOGIN {5}\r\nfred1 ~{6}\r\nsecret\r\n"[..])
        );
        assert_eq!(f.take_continuation_request(), None);
        assert!(!f.awaiting_continuation());
    }

    #[test]
    fn no_continuation_request_when_not_needed() {
        // LITERAL+.
        let mut f = Framer::new(Role::Server, FramerLimits::default());
        f.feed(b"a1 LOGIN {5+}\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        assert!(!f.awaiting_continuation());
        assert_eq!(f.take_continuation_request(), None);
        // Responses.
        let mut f = Framer::new(Role::Client, FramerLimits::default());
        f.feed(b"* 1 FETCH (BODY[] {5}\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        assert!(!f.awaiting_continuation());
        assert_eq!(f.take_continuation_request(), None);
        // The data arrived in the same feed.
        let mut f = Framer::new(Role::Server, FramerLimits::default());
        f.feed(b"a1 LOGIN {5}\r\nfred1 secret");
        assert_eq!(f.next_frame(), Ok(None));
        assert!(!f.awaiting_continuation());
        assert_eq!(f.take_continuation_request(), None);
        // The data arrived before the request was taken.
        let mut f = Framer::new(Role::Server, FramerLimits::default());
        f.feed(b"a1 LOGIN {5}\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        f.feed(b"fred1");
        assert!(!f.awaiting_continuation());
        assert_eq!(f.take_continuation_request(), None);
    }

    #[test]
    fn continuation_for_empty_literal() {
        let mut f = Framer::new(Role::Server, FramerLimits::default());
        f.feed(b"a1 LOGIN {0}\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.take_continuation_request().map(|r| r.length), Some(0));
        f.feed(b" x\r\n");
        assert!(!f.awaiting_continuation());
        assert_eq!(
            f.next_frame().unwrap().as_deref(),
            Some(&b"a1 LOGIN {0}\r\n x\r\n"[..])
        );
    }

    // ----- chunking properties -----

    fn text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            proptest::sample::select(b"ab1 {}+~()*\r\x00\xff".to_vec()),
            0..12,
        )
    }

    fn message() -> impl Strategy<Value = Vec<u8>> {
        let literal = (
            text(),
            0..4u8,
            proptest::collection::vec(any::<u8>(), 0..16),
            any::<bool>(),
        );
        (
            text(),
            proptest::collection::vec(literal, 0..4),
            text(),
            any::<bool>(),
        )
            .prop_map(|(tag, literals, last, bare_lf)| {
                let mut m = tag;
                for (text, kind, data, lf) in literals {
                    m.extend_from_slice(&text);
                    let (tilde, plus) = (kind & 1 == 1, kind & 2 == 2);
                    let ann = format!(
                        "{}{{{}{}}}{}",
                        if tilde { "~" } else { "" },
                        data.len(),
                        if plus { "+" } else { "" },
                        if lf { "\n" } else { "\r\n" }
                    );
                    m.extend_from_slice(ann.as_bytes());
                    m.extend_from_slice(&data);
                }
                m.extend_from_slice(&last);
                m.extend_from_slice(if bare_lf { b"x\n" } else { b"x\r\n" });
                m
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn chunking_does_not_matter(
            messages in proptest::collection::vec(message(), 0..6),
            sizes in proptest::collection::vec(1..40usize, 1..8),
            server in any::<bool>(),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let input = messages.concat();
            let limits = FramerLimits::default();
            let expected: Vec<&[u8]> = messages.iter().map(|m| &m[..]).collect();
            let whole = run_whole(role, limits, &input);
            prop_assert_eq!(frames(&whole), expected);
            prop_assert_eq!(&run_bytewise(role, limits, &input), &whole);
            prop_assert_eq!(&run_sized(role, limits, &input, &sizes), &whole);
        }

        #[test]
        fn limits_do_not_depend_on_chunking(
            parts in proptest::collection::vec(
                prop_oneof![
                    message(),
                    proptest::collection::vec(
                        proptest::sample::select(b"a {}+~09\r\n".to_vec()), 0..60),
                ],
                0..8,
            ),
            sizes in proptest::collection::vec(1..40usize, 1..8),
            server in any::<bool>(),
            max_line in 1..40usize,
            max_literal in 0..20u64,
            max_message in 1..120u64,
        ) {
            let role = if server { Role::Server } else { Role::Client };
            let input = parts.concat();
            let limits = small_limits(max_line, max_literal, max_message);
            let whole = run_whole(role, limits, &input);
            prop_assert_eq!(&run_bytewise(role, limits, &input), &whole);
            prop_assert_eq!(&run_sized(role, limits, &input, &sizes), &whole);
            for frame in whole.iter().flatten() {
                prop_assert!(frame.len() as u64 <= max_message);
                prop_assert!(frame.ends_with(b"\n"));
            }
        }
    }
}
