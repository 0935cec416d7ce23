//! Strict encoders: every command and response writes itself into a [`BytesMut`].
//!
//! The encoder picks atom, quoted string or literal form by content, writes `*`-style
//! sequence sets, and records where synchronizing literals start so that a client can wait
//! for the server's `+` continuation before sending literal data ([`Fragment`]).

mod command;
mod core;
mod fallback;
mod notify;
mod response;
mod sort;

use bytes::{BufMut, Bytes, BytesMut};

use super::dialect::Dialect;
use pimap_types::LiteralMode;

pub use self::core::is_astring_atom;
pub(crate) use self::core::*;
pub use self::response::{fetch_literal_head, StreamedItem, FETCH_LITERAL_END};

/// Options for encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// Dialect to send.
    pub dialect: Dialect,
    /// Send client literals as `{n+}` (the server advertised LITERAL+). Server-to-client
    /// literals are never synchronizing.
    pub literal_plus: bool,
}

impl EncodeOptions {
    /// Options for a dialect, synchronizing literals.
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            literal_plus: false,
        }
    }
}

/// One piece of an encoded message, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    /// Bytes that can be sent at once (ends with the literal announcement or the final CRLF).
    Line(Bytes),
    /// Literal data. With [`LiteralMode::Sync`], a client must wait for `+` first.
    Literal {
        /// The literal octets.
        data: Bytes,
        /// Announcement form.
        mode: LiteralMode,
    },
}

/// Output buffer with encoding options and literal bookkeeping.
#[derive(Debug)]
pub struct Encoder {
    pub(crate) buf: BytesMut,
    pub(crate) opts: EncodeOptions,
    /// `(start, end, mode)` offsets of literal payloads in `buf`.
    pub(crate) literals: Vec<(usize, usize, LiteralMode)>,
    /// Whether literals are written by a client (may be synchronizing).
    pub(crate) client: bool,
    /// Literals of at least this many octets whose data is a [`Bytes`] are not copied but
    /// handed out as their own segment (see [`Encode::encode_segments`]).
    pub(crate) share_min: Option<usize>,
    /// The output before each shared literal, and the literal, in wire order.
    pub(crate) segments: Vec<Bytes>,
}

impl Encoder {
    /// New encoder writing into a fresh buffer.
    pub fn new(opts: EncodeOptions) -> Self {
        Self {
            buf: BytesMut::with_capacity(128),
            opts,
            literals: Vec::new(),
            client: false,
            share_min: None,
            segments: Vec::new(),
        }
    }
    /// New encoder appending to `buf`.
    pub fn with_buffer(buf: BytesMut, opts: EncodeOptions) -> Self {
        Self {
            buf,
            opts,
            literals: Vec::new(),
            client: false,
            share_min: None,
            segments: Vec::new(),
        }
    }
    /// The dialect being written.
    pub fn dialect(&self) -> Dialect {
        self.opts.dialect
    }
    /// Take the encoded bytes.
    pub fn into_bytes(self) -> BytesMut {
        self.buf
    }
    /// Split the output into fragments at the literals.
    pub fn into_fragments(self) -> Vec<Fragment> {
        let buf = self.buf.freeze();
        let mut out = Vec::with_capacity(self.literals.len() * 2 + 1);
        let mut pos = 0;
        for (start, end, mode) in self.literals {
            if start > pos {
                out.push(Fragment::Line(buf.slice(pos..start)));
            }
            out.push(Fragment::Literal {
                data: buf.slice(start..end),
                mode,
            });
            pos = end;
        }
        if pos < buf.len() {
            out.push(Fragment::Line(buf.slice(pos..)));
        }
        out
    }
    #[inline]
    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        self.buf.put_u8(b);
    }
    #[inline]
    pub(crate) fn sp(&mut self) {
        self.buf.put_u8(b' ');
    }
    #[inline]
    pub(crate) fn crlf(&mut self) {
        self.buf.extend_from_slice(b"\r\n");
    }
    /// Write a decimal number.
    #[inline]
    pub(crate) fn num(&mut self, n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut v = n;
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&tmp[i..]);
    }
    /// Write a literal announcement and its data, recording it as a fragment.
    pub(crate) fn literal(&mut self, data: &[u8], binary: bool) {
        let mode = if self.client && !self.opts.literal_plus {
            LiteralMode::Sync
        } else {
            LiteralMode::NonSync
        };
        if binary {
            self.byte(b'~');
        }
        self.byte(b'{');
        self.num(data.len() as u64);
        if self.client && mode == LiteralMode::NonSync {
            self.byte(b'+');
        }
        self.raw(b"}\r\n");
        let start = self.buf.len();
        self.raw(data);
        self.literals.push((start, self.buf.len(), mode));
    }

    /// A literal whose data the caller already holds as [`Bytes`]: when the encoder shares
    /// literals of this size, the announcement ends the current segment and the data
    /// becomes the next one, uncopied; otherwise as [`literal`](Self::literal).
    pub(crate) fn literal_bytes(&mut self, data: &Bytes, binary: bool) {
        let share = !self.client && self.share_min.is_some_and(|m| data.len() >= m);
        if !share {
            return self.literal(data, binary);
        }
        if binary {
            self.byte(b'~');
        }
        self.byte(b'{');
        self.num(data.len() as u64);
        self.raw(b"}\r\n");
        let head = self.buf.split().freeze();
        self.segments.push(head);
        self.segments.push(data.clone());
    }
}

/// Implemented by every command and response (and [`pimap_types::ClientMessage`]).
pub trait Encode {
    /// Write `self` into the encoder.
    fn encode(&self, enc: &mut Encoder);

    /// Is this a client-to-server message (literals may be synchronizing)?
    #[allow(clippy::wrong_self_convention)]
    fn from_client(&self) -> bool {
        false
    }

    /// Append the encoding to `out` for `dialect` (synchronizing client literals).
    fn encode_into(&self, dialect: Dialect, out: &mut BytesMut) {
        let buf = std::mem::take(out);
        let mut enc = Encoder::with_buffer(buf, EncodeOptions::new(dialect));
        enc.client = self.from_client();
        self.encode(&mut enc);
        *out = enc.into_bytes();
    }

    /// Append the encoding to `out`, except that literals of at least `share_min` octets
    /// held as [`Bytes`] (a message body the store returned) are not copied: the output up
    /// to such a literal's announcement is split off `out` and pushed onto `segments`,
    /// followed by the literal's own `Bytes`. The wire order is `segments` (as pushed),
    /// then what is left in `out`. Server-to-client messages only; a client message is
    /// encoded into `out` whole.
    ///
    /// ```
    /// use bytes::{Bytes, BytesMut};
    /// use pimap_codec::{Dialect, Encode};
    /// use pimap_types::{FetchItem, Response, Data, IString, Section};
    ///
    /// let body = Bytes::from(vec![b'x'; 100_000]);
    /// let resp = Response::Data(Data::Fetch {
    ///     seq: 1,
    ///     items: vec![FetchItem::BodySection {
    ///         section: Section::default(),
    ///         origin: None,
    ///         data: Some(IString::new(body.clone()).unwrap()),
    ///     }],
    /// });
    /// let (mut out, mut segments) = (BytesMut::new(), Vec::new());
    /// resp.encode_segments(Dialect::default(), &mut out, 64 * 1024, &mut segments);
    /// assert_eq!(&segments[0][..], b"* 1 FETCH (BODY[] {100000}\r\n");
    /// assert_eq!(segments[1].as_ptr(), body.as_ptr(), "the body is not copied");
    /// assert_eq!(&out[..], b")\r\n");
    /// ```
    fn encode_segments(
        &self,
        dialect: Dialect,
        out: &mut BytesMut,
        share_min: usize,
        segments: &mut Vec<Bytes>,
    ) {
        let buf = std::mem::take(out);
        let mut enc = Encoder::with_buffer(buf, EncodeOptions::new(dialect));
        enc.client = self.from_client();
        enc.share_min = Some(share_min);
        enc.segments = std::mem::take(segments);
        self.encode(&mut enc);
        *segments = std::mem::take(&mut enc.segments);
        *out = enc.into_bytes();
    }

    /// The whole encoding as [`Bytes`].
    fn to_bytes(&self, dialect: Dialect) -> Bytes {
        self.to_bytes_with(EncodeOptions::new(dialect))
    }

    /// The whole encoding with explicit options.
    fn to_bytes_with(&self, opts: EncodeOptions) -> Bytes {
        let mut enc = Encoder::new(opts);
        enc.client = self.from_client();
        self.encode(&mut enc);
        enc.into_bytes().freeze()
    }

    /// The whole encoding as a `Vec<u8>`.
    fn to_vec(&self, dialect: Dialect) -> Vec<u8> {
        self.to_bytes(dialect).to_vec()
    }

    /// The encoding split into lines and literals, so that a client can wait for `+`
    /// before each synchronizing literal.
    fn fragments(&self, opts: EncodeOptions) -> Vec<Fragment> {
        let mut enc = Encoder::new(opts);
        enc.client = self.from_client();
        self.encode(&mut enc);
        enc.into_fragments()
    }
}
