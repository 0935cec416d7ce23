//! One client connection's protocol, apart from device sessions and fan-out: the framer and
//! decoder of its input, the queue of work read ahead, what it waits for (a request, IDLE,
//! AUTHENTICATE data), its write buffer with terse mode, XZIP capture and COMPRESS, and the
//! stream position XRESUME counts in. [`Server`](super::Server) owns one per connection and
//! decides what the commands do; what is here is testable without it.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use pimap_codec::{CommandDecoder, Dialect, Encode};
use pimap_types::{ClientMessage, Code, Response, Status, StatusResponse, Tag};

use super::request::RequestId;

/// Buffer capacity an idle connection may keep.
pub(crate) const IDLE_BUFFER: usize = 1024;

/// Literals of at least this many octets (a message body from the store) are handed to the
/// caller as their own transmission, sharing the store's bytes, instead of being copied into
/// the write buffer (not under COMPRESS or while an XZIP capture holds the output).
pub(crate) const SHARED_LITERAL: usize = 64 * 1024;

/// IMAP connection state (RFC 3501 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    NotAuthenticated,
    Authenticated,
    Selected,
    Logout,
}

/// What a connection is waiting for before it reads its next command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Busy {
    No,
    Request(RequestId),
    Idle(Tag),
    AuthData(Tag),
}

/// Work items of a connection: client messages and the markers that close macro runs and
/// XZIP captures.
#[derive(Debug)]
pub(crate) enum Work {
    Msg(ClientMessage),
    /// Inner command of an XMACRO RUN (index 1-based) or XZIP.
    Inner(pimap_types::Command, Inner),
    /// End of an XMACRO RUN: the outer tag completes.
    EndMacro(Tag),
    /// End of an XZIP capture started at this buffer offset.
    EndZip(Tag, usize),
    /// A BAD response for input that could not be decoded, answered in order.
    Bad(Option<Tag>, String),
    /// The next chunk of a FETCH in progress (run once the output has drained).
    FetchMore(Box<super::fetch_plan::FetchJob>),
}

/// Which wrapper an inner command belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inner {
    Macro(usize),
    Zip,
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub decoder: CommandDecoder,
    pub state: ConnState,
    pub session: Option<u64>,
    pub work: VecDeque<Work>,
    pub busy: Busy,
    pub terse: bool,
    pub last_input: Instant,
    /// Output ready before [`wbuf`](Self::wbuf): segments split off it around shared
    /// literals, in wire order.
    pub queued: VecDeque<Bytes>,
    /// Octets in [`queued`](Self::queued).
    pub queued_len: usize,
    /// Output being assembled (after [`queued`](Self::queued)).
    pub wbuf: BytesMut,
    /// A streamed FETCH literal is open: its octets are still to come, so every other
    /// response written meanwhile (a BYE of a timer, say) is held in
    /// [`held`](Self::held) until it is closed.
    pub literal_open: bool,
    /// Responses written while a literal is open.
    pub held: BytesMut,
    /// Nesting of XZIP captures: output is held back while non-zero.
    pub capturing: usize,
    /// COMPRESS=DEFLATE is active (RFC 4978).
    pub deflate: Option<pimap_codec::compress::DeflateStream>,
    /// Inner commands of the current macro run that failed: (index of first failure).
    pub macro_failed: Option<u32>,
    /// The inner command of a macro run being executed (its tag and index).
    pub inner: Option<(Tag, usize)>,
    pub closed: bool,
    /// Plain (uncompressed) octets handed to the caller for transmission so far.
    pub written: u64,
    /// `XRESUME` as the client sent it before login: `Some(None)` for `XRESUME NONE`.
    pub resume_from: Option<Option<pimap_types::ResumeCursor>>,
    /// The stream position just after this connection's `* OK [XRESUME n]` line.
    pub resume_base: Option<u64>,
    /// Stream position where the current XZIP capture started.
    pub zip_start: Option<u64>,
    /// Depth of XMACRO runs in progress (inner commands still queued).
    pub macro_depth: usize,
    /// When the connection was accepted (for the login timeout).
    pub accepted: Instant,
    /// The peer's address, when the caller gave it ([`Server::accept_from`]).
    pub addr: Option<std::net::IpAddr>,
    /// Input octets buffered in the decoder (counted in the global budget).
    pub buffered: usize,
    /// Output octets handed to the caller and not yet reported transmitted.
    pub unsent: u64,
    /// The transport is protected by TLS (implicit TLS, or after STARTTLS).
    pub secure: bool,
    /// STARTTLS was answered; input is ignored until [`Server::secured`].
    pub tls_pending: bool,
}

impl Conn {
    /// The stream position after everything written so far (valid outside XZIP captures).
    pub fn position(&self) -> u64 {
        self.written.saturating_add(self.pending_len() as u64)
    }

    /// Output octets written and not yet handed to the caller.
    pub fn pending_len(&self) -> usize {
        self.queued_len + self.wbuf.len()
    }

    /// The position relative to the `XRESUME` line (0 when none was sent).
    pub fn resume_offset(&self) -> u64 {
        self.position()
            .saturating_sub(self.resume_base.unwrap_or(self.position()))
    }
}

/// What one decoding step of [`Conn::read_step`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadStep {
    /// A message (or a BAD for undecodable input) was queued; call again.
    Continue,
    /// A synchronizing literal waits for `+`: answer it, then call again.
    Continuation,
    /// The queue is full: the connection is to be closed with BYE.
    TooManyPipelined,
    /// Decoding stops until the queued command ran (COMPRESS, LOGIN, AUTHENTICATE: what
    /// follows is framed differently), or the connection is closed.
    Paused,
    /// Nothing complete is buffered.
    NeedInput,
}

impl Conn {
    /// A new connection in the not-authenticated state.
    pub fn new(
        decoder: CommandDecoder,
        now: Instant,
        addr: Option<std::net::IpAddr>,
        secure: bool,
    ) -> Self {
        Conn {
            decoder,
            state: ConnState::NotAuthenticated,
            session: None,
            work: VecDeque::new(),
            busy: Busy::No,
            terse: false,
            last_input: now,
            queued: VecDeque::new(),
            queued_len: 0,
            wbuf: BytesMut::new(),
            literal_open: false,
            held: BytesMut::new(),
            capturing: 0,
            deflate: None,
            macro_failed: None,
            inner: None,
            closed: false,
            written: 0,
            resume_from: None,
            resume_base: None,
            zip_start: None,
            macro_depth: 0,
            accepted: now,
            addr,
            buffered: 0,
            unsent: 0,
            secure,
            tls_pending: false,
        }
    }

    /// Encode a response onto the write buffer; `false` (nothing written) once closed.
    pub fn write(&mut self, dialect: Dialect, resp: &Response) -> bool {
        if self.closed {
            return false;
        }
        if self.literal_open {
            resp.encode_into(dialect, &mut self.held);
            return true;
        }
        if self.capturing > 0 || self.deflate.is_some() {
            resp.encode_into(dialect, &mut self.wbuf);
            return true;
        }
        let mut segments = Vec::new();
        resp.encode_segments(dialect, &mut self.wbuf, SHARED_LITERAL, &mut segments);
        for seg in segments {
            self.queued_len += seg.len();
            self.queued.push_back(seg);
        }
        true
    }

    /// Output octets that go out as they are, after everything written before (a streamed
    /// literal's piece): their own transmission, uncopied, unless an XZIP capture is
    /// collecting the output.
    pub fn push_segment(&mut self, seg: Bytes) {
        if self.closed || seg.is_empty() {
            return;
        }
        if self.capturing > 0 {
            self.wbuf.extend_from_slice(&seg);
            return;
        }
        if !self.wbuf.is_empty() {
            let before = self.wbuf.split().freeze();
            self.queued_len += before.len();
            self.queued.push_back(before);
        }
        self.queued_len += seg.len();
        self.queued.push_back(seg);
    }

    /// Start a streamed literal: `head` announces it; other responses are held until
    /// [`close_literal`](Self::close_literal).
    pub fn open_literal(&mut self, head: Bytes) {
        self.push_segment(head);
        self.literal_open = true;
    }

    /// End a streamed literal with `end` (the rest of its response) and release what was
    /// held meanwhile.
    pub fn close_literal(&mut self, end: Bytes) {
        self.push_segment(end);
        self.literal_open = false;
        if !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            self.wbuf.extend_from_slice(&held);
        }
    }

    /// A tagged (or untagged) status response as this connection sends it: no text in
    /// terse mode (tagged only); the status of a macro's inner command is noted for
    /// `XMACRO-FAILED`.
    pub fn status_response(
        &mut self,
        tag: Option<Tag>,
        status: Status,
        code: Option<Code>,
        text: &str,
    ) -> Response {
        let terse = self.terse && tag.is_some();
        if let Some(t) = &tag {
            if self.inner.as_ref().is_some_and(|(it, _)| it == t) {
                if let Some((_, i)) = self.inner.take() {
                    if status != Status::Ok && self.macro_failed.is_none() {
                        self.macro_failed = u32::try_from(i).ok();
                    }
                }
            }
        }
        let text = if terse {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(text.as_bytes())
        };
        Response::Status(StatusResponse {
            tag,
            status,
            code,
            text,
        })
    }

    /// The next buffered bytes to transmit (compressed under COMPRESS), unless an XZIP
    /// capture holds them back; counted as unsent until the caller reports them
    /// transmitted. Call until `None`: a shared literal comes as its own transmission.
    pub fn take_transmit(&mut self) -> Option<Bytes> {
        if self.capturing > 0 {
            return None;
        }
        let plain = if let Some(seg) = self.queued.pop_front() {
            self.queued_len -= seg.len();
            seg
        } else if self.wbuf.is_empty() {
            return None;
        } else {
            let plain = self.wbuf.split().freeze();
            if self.wbuf.capacity() > IDLE_BUFFER {
                // The spare capacity would pin the whole allocation while idle.
                self.wbuf = BytesMut::new();
            }
            plain
        };
        self.written = self.written.saturating_add(plain.len() as u64);
        let data = match self.deflate.as_mut() {
            Some(d) => Bytes::from(d.compress(&plain)),
            None => plain,
        };
        self.unsent += data.len() as u64;
        Some(data)
    }

    /// One decoding step: queue the next complete message (or a BAD for undecodable input,
    /// answered in order with the commands before it), or say what stops decoding.
    pub fn read_step(&mut self, max_pipelined: usize) -> ReadStep {
        if self.closed {
            return ReadStep::Paused;
        }
        if self.decoder.take_continuation_request().is_some() {
            return ReadStep::Continuation;
        }
        match self.decoder.next() {
            Ok(Some(msg)) => {
                if self.work.len() >= max_pipelined {
                    return ReadStep::TooManyPipelined;
                }
                // After COMPRESS the bytes that follow belong to the compressed stream:
                // stop decoding until the command has run (RFC 4978 §3). After LOGIN /
                // AUTHENTICATE too: what follows is framed with the limits of the state
                // the login leads to (small before authentication, normal after).
                let stop = matches!(&msg, ClientMessage::Command(cmd)
                    if matches!(cmd.body, pimap_types::CommandBody::Compress { .. }
                        | pimap_types::CommandBody::Login { .. }
                        | pimap_types::CommandBody::Authenticate { .. }));
                self.work.push_back(Work::Msg(msg));
                if stop {
                    ReadStep::Paused
                } else {
                    ReadStep::Continue
                }
            }
            // A continuation may be due for a literal announced by the last bytes.
            Ok(None) if self.decoder.take_continuation_request().is_some() => {
                ReadStep::Continuation
            }
            Ok(None) => ReadStep::NeedInput,
            Err(e) => {
                self.work.push_back(Work::Bad(e.tag(), format!("{e}")));
                ReadStep::Continue
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimap_codec::compress::{DeflateStream, Limits};

    fn conn() -> Conn {
        Conn::new(CommandDecoder::default(), Instant::now(), None, false)
    }

    fn steps(c: &mut Conn, max: usize) -> Vec<ReadStep> {
        let mut out = Vec::new();
        loop {
            let s = c.read_step(max);
            out.push(s);
            if matches!(
                s,
                ReadStep::NeedInput | ReadStep::Paused | ReadStep::TooManyPipelined
            ) {
                return out;
            }
        }
    }

    #[test]
    fn pipelined_commands_queue_and_bad_input_keeps_its_place() {
        let mut c = conn();
        c.decoder.feed(b"a1 NOOP\r\na2 FROB (\r\na3 NOOP\r\n");
        assert_eq!(steps(&mut c, 10).last(), Some(&ReadStep::NeedInput));
        assert_eq!(c.work.len(), 3);
        assert!(matches!(&c.work[1], Work::Bad(Some(t), _) if t.as_bytes() == b"a2"));
    }

    #[test]
    fn synchronizing_literal_asks_for_continuation_once() {
        let mut c = conn();
        c.decoder.feed(b"a1 LOGIN {3}\r\n");
        assert_eq!(
            steps(&mut c, 10),
            [ReadStep::Continuation, ReadStep::NeedInput]
        );
        c.decoder.feed(b"joe pw\r\na2 NOOP\r\n");
        // LOGIN pauses decoding: what follows is framed with the limits after login.
        assert_eq!(steps(&mut c, 10), [ReadStep::Paused]);
        assert_eq!(c.work.len(), 1);
    }

    #[test]
    fn read_ahead_is_bounded() {
        let mut c = conn();
        c.decoder.feed(b"a1 NOOP\r\na2 NOOP\r\na3 NOOP\r\n");
        assert_eq!(steps(&mut c, 2).last(), Some(&ReadStep::TooManyPipelined));
        assert_eq!(c.work.len(), 2);
    }

    #[test]
    fn terse_drops_tagged_text_only_and_macro_failures_are_noted() {
        let mut c = conn();
        c.terse = true;
        let t = Tag::new(Bytes::from_static(b"m1.1")).unwrap();
        c.inner = Some((t.clone(), 1));
        let r = c.status_response(Some(t), Status::No, None, "nope");
        assert!(matches!(&r, Response::Status(s) if s.text.is_empty()));
        assert_eq!(c.macro_failed, Some(1));
        let r = c.status_response(None, Status::Ok, None, "kept");
        assert!(matches!(&r, Response::Status(s) if &s.text[..] == b"kept"));
    }

    #[test]
    fn capture_holds_output_and_compression_applies_on_transmit() {
        let dialect = Dialect::default();
        let mut c = conn();
        let ok = c.status_response(None, Status::Ok, None, "hello");
        c.capturing = 1;
        assert!(c.write(dialect, &ok));
        assert_eq!(c.take_transmit(), None, "held back during an XZIP capture");
        c.capturing = 0;
        let plain = c.take_transmit().unwrap();
        assert_eq!(&plain[..], b"* OK hello\r\n");
        assert_eq!(c.position(), plain.len() as u64);
        c.deflate = Some(DeflateStream::new(1, Limits::default()));
        assert!(c.write(dialect, &ok));
        let wire = c.take_transmit().unwrap();
        let mut peer = DeflateStream::new(1, Limits::default());
        assert_eq!(peer.decompress(&wire).unwrap(), b"* OK hello\r\n");
        assert_eq!(c.unsent, (plain.len() + wire.len()) as u64);
        c.closed = true;
        assert!(!c.write(dialect, &ok), "nothing is written once closed");
    }

    #[test]
    fn a_large_literal_is_its_own_transmission_sharing_the_bytes() {
        use pimap_types::{Data, FetchItem, IString, Section};
        let dialect = Dialect::default();
        let body = Bytes::from(vec![b'x'; SHARED_LITERAL]);
        let fetch = Response::Data(Data::Fetch {
            seq: 1,
            items: vec![FetchItem::BodySection {
                section: Section::default(),
                origin: None,
                data: Some(IString::new(body.clone()).unwrap()),
            }],
        });
        let mut c = conn();
        assert!(c.write(dialect, &fetch));
        let whole = fetch.to_bytes(dialect);
        assert_eq!(c.position(), whole.len() as u64);
        let mut pieces = Vec::new();
        while let Some(p) = c.take_transmit() {
            pieces.push(p);
        }
        assert_eq!(pieces.len(), 3, "head, the literal, the rest");
        assert_eq!(pieces[1].as_ptr(), body.as_ptr(), "not copied");
        assert_eq!(pieces.concat(), whole.to_vec());
        assert_eq!(c.unsent, whole.len() as u64);
        // Under COMPRESS the output is compressed anyway: one transmission.
        c.deflate = Some(DeflateStream::new(1, Limits::default()));
        assert!(c.write(dialect, &fetch));
        let wire = c.take_transmit().unwrap();
        assert_eq!(c.take_transmit(), None);
        let mut peer = DeflateStream::new(1, Limits::default());
        assert_eq!(peer.decompress(&wire).unwrap(), whole.to_vec());
    }
}
