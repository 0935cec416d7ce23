//! Hand-written recursive-descent parsers over one complete frame.
//!
//! The framer hands over complete messages, so these parsers never see partial input. Values
//! are `Bytes` slices of the frame (`Bytes::slice`), so literal payloads are never copied.
//! Nesting depth is bounded by [`ParseOptions::max_depth`].

mod append;
mod body;
mod command;
mod fallback;
mod fetch;
mod notify;
mod pimap;
mod primitives;
mod response;
mod search;
mod sort;

use bytes::Bytes;

use super::dialect::Tolerance;
use pimap_types::Tag;

pub(crate) use command::parse_client_message;
pub(crate) use response::parse_response;

/// Parser settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Strict or tolerant reading.
    pub tolerance: Tolerance,
    /// Maximum nesting depth of parenthesised lists, search keys and body structures.
    /// Default 64.
    pub max_depth: u32,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            tolerance: Tolerance::Drafts,
            max_depth: 64,
        }
    }
}

/// A parse failure inside one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PErr {
    /// Byte offset in the frame.
    pub pos: usize,
    /// What was expected there.
    pub expected: &'static str,
    /// Nesting too deep.
    pub too_deep: bool,
}

pub(crate) type PResult<T> = Result<T, PErr>;

/// Cursor over one frame.
pub(crate) struct Parser<'a> {
    frame: &'a Bytes,
    buf: &'a [u8],
    pub(crate) pos: usize,
    depth: u32,
    pub(crate) opts: ParseOptions,
    /// Reading what a server sent (some quirks are read only there).
    pub(crate) from_server: bool,
    /// Inside a response code (`[...]`), where a `]` ends the code.
    pub(crate) in_code: bool,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(frame: &'a Bytes, opts: ParseOptions) -> Self {
        Self {
            frame,
            buf: &frame[..],
            pos: 0,
            depth: 0,
            opts,
            from_server: false,
            in_code: false,
        }
    }

    #[inline]
    pub(crate) fn tolerant(&self) -> bool {
        self.opts.tolerance == Tolerance::Drafts
    }

    #[inline]
    pub(crate) fn err<T>(&self, expected: &'static str) -> PResult<T> {
        Err(PErr {
            pos: self.pos,
            expected,
            too_deep: false,
        })
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn peek_at(&self, off: usize) -> Option<u8> {
        self.buf.get(self.pos + off).copied()
    }

    #[inline]
    pub(crate) fn at(&self, b: u8) -> bool {
        self.peek() == Some(b)
    }

    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.at(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    pub(crate) fn expect(&mut self, b: u8, what: &'static str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            self.err(what)
        }
    }

    /// One SP (tolerant: several).
    #[inline]
    pub(crate) fn sp(&mut self) -> PResult<()> {
        if !self.eat(b' ') {
            return self.err("SP");
        }
        if self.tolerant() {
            while self.eat(b' ') {}
        }
        Ok(())
    }

    /// Are we at the final CRLF (or bare LF)?
    #[inline]
    pub(crate) fn at_eol(&self) -> bool {
        matches!(self.peek(), Some(b'\r') | Some(b'\n') | None)
    }

    /// The final CRLF; it must end the frame.
    pub(crate) fn crlf(&mut self) -> PResult<()> {
        if self.tolerant() {
            while self.at(b' ') {
                self.pos += 1;
            }
        }
        let ok = match self.buf.get(self.pos..) {
            Some(b"\r\n") => true,
            Some(b"\n") => self.tolerant(),
            _ => false,
        };
        if ok {
            self.pos = self.buf.len();
            Ok(())
        } else {
            self.err("CRLF")
        }
    }

    /// Index of the end of the line content (before CR LF).
    pub(crate) fn line_end(&self) -> usize {
        let mut end = self.buf.len();
        if end > 0 && self.buf.get(end - 1) == Some(&b'\n') {
            end -= 1;
            if end > 0 && self.buf.get(end - 1) == Some(&b'\r') {
                end -= 1;
            }
        }
        end.max(self.pos)
    }

    #[inline]
    pub(crate) fn slice(&self, start: usize, end: usize) -> Bytes {
        self.frame.slice(start..end)
    }

    /// Advances past the bytes for which `f` holds; returns how many. Scans a local slice so
    /// the position stays in a register (no store to `self.pos` per byte).
    #[inline]
    pub(crate) fn skip_while(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        self.pos += n;
        n
    }

    #[inline]
    pub(crate) fn bytes_between(&self, start: usize, end: usize) -> &'a [u8] {
        self.buf.get(start..end).unwrap_or(&[])
    }

    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            return Err(PErr {
                pos: self.pos,
                expected: "shallower nesting",
                too_deep: true,
            });
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Case-insensitive keyword followed by a non-atom character (or end).
    #[inline]
    pub(crate) fn kw(&mut self, k: &[u8]) -> bool {
        let end = self.pos + k.len();
        match self.buf.get(self.pos..end) {
            Some(s) if s.eq_ignore_ascii_case(k) => {
                let next = self.buf.get(end).copied();
                if next.is_some_and(pimap_types::is_atom_char) {
                    return false;
                }
                self.pos = end;
                true
            }
            _ => false,
        }
    }

    /// Case-insensitive prefix without the boundary check.
    #[inline]
    pub(crate) fn prefix(&mut self, k: &[u8]) -> bool {
        let end = self.pos + k.len();
        match self.buf.get(self.pos..end) {
            Some(s) if s.eq_ignore_ascii_case(k) => {
                self.pos = end;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn expect_kw(&mut self, k: &[u8], what: &'static str) -> PResult<()> {
        if self.kw(k) {
            Ok(())
        } else {
            self.err(what)
        }
    }
}

/// The tag of a frame, if its first token looks like one (for error reports).
pub(crate) fn frame_tag(frame: &[u8]) -> Option<Tag> {
    let end = frame
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(frame.len());
    let t = frame.get(..end)?;
    if t.is_empty() || !t.iter().all(|&b| pimap_types::is_tag_char(b)) {
        return None;
    }
    Tag::new(Bytes::copy_from_slice(t)).ok()
}

/// `src` upper-cased, without allocating: `src` itself when it has no lower-case letter (what
/// peers send almost always), else a copy in `buf`; empty if it does not fit.
///
/// Returning `src` unchanged matters for speed: comparing keywords straight from the frame avoids
/// a store-forwarding stall (byte-wise stores into `buf`, then wide loads by the comparison).
#[inline]
pub(crate) fn upcase<'b>(src: &'b [u8], buf: &'b mut [u8; 24]) -> &'b [u8] {
    if !src.iter().any(u8::is_ascii_lowercase) {
        return src;
    }
    if src.len() > buf.len() {
        return &[];
    }
    for (d, c) in buf.iter_mut().zip(src) {
        *d = c.to_ascii_uppercase();
    }
    buf.get(..src.len()).unwrap_or(&[])
}
