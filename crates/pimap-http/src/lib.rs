//! The HTTP binding (spec §8.1), sans-IO: the pieces an HTTP server or client embeds. No
//! HTTP library is used and no HTTP message is parsed here; the embedder's HTTP stack hands
//! over bodies, header values and (for persistent mode) body bytes as they arrive.
//!
//! * **Request bodies** ([`parse_request_body`]): one or more tagged commands, each ending
//!   with CRLF, with literal data in the body after the command line (`{n}`, `{n+}` and
//!   `~{n}` are all accepted since the data is already present). A command that needs a
//!   continuation request (IDLE, AUTHENTICATE without an initial response) may only be the
//!   last of a body ([`HttpError::ContinuationNotLast`]). Bounded by [`BodyOptions`].
//! * **Content types** ([`content_type_ok`], [`request_content_type`],
//!   [`response_content_type`]) per spec §8.1.2: receivers accept both
//!   `application/vnd.pimap` and `application/vnd.lemonade`.
//! * **Status codes** ([`status_for`]) per draft (spec §8.1.3). The crate's choice: **the
//!   IMAP body is authoritative**. A client parses the body whatever the status; a server
//!   picks the status of its draft, by default the -07…-10 rule (200 unless an internal
//!   failure prevented producing the IMAP responses).
//! * **gzip content coding** (spec §5.3; -00…-06 App. A): [`accepts_gzip`] honours q-values
//!   and [`encode_body`] gzips a whole response body (with [`pimap_codec::compress::gzip`]);
//!   `Content-Encoding: gzip` is sent only when the client accepted it (E-48), and HTTP
//!   framing is standard HTTP/1.1 whatever the drafts' templates show (E-48).
//! * **Chunked persistent mode** (spec §8.1.6): [`ChunkedDecoder`] decodes RFC 7230 chunked
//!   transfer coding fed in any pieces; the payload is simply a byte stream (E-49: IMAP lines
//!   may span chunks and a chunk may hold several lines), which [`LineAssembler`] feeds into
//!   a [`CommandDecoder`]. [`encode_chunk`] writes one chunk; the drafts' convention is one
//!   chunk per IMAP line ([`split_messages`] cuts server output into lines, literals included
//!   in the line they belong to).
//! * **Sessions** ([`HttpSessions`]): the server-side binding over a sans-IO
//!   [`Server`]: one server connection per cookie in non-persistent mode (in-response
//!   connectivity, spec §8.1.5) and one per long-lived chunked POST in persistent mode
//!   (in-band connectivity, spec §8.1.6).
//!
//! # How [`HttpSessions`] and the [`Server`] fit together
//!
//! The server has a single output queue for all its connections, and its requests
//! (authentication, store operations) must be answered by the caller. [`HttpSessions`] never
//! drains that queue itself; it only sees the bytes of the connections it owns:
//!
//! ```text
//!  HTTP POST body ──► HttpSessions::post ──► Server::accept / Server::handle_input
//!  chunked body bytes ► HttpSessions::stream_input ─┘
//!
//!  Server::poll_output (or blocking::Driver::run, which answers requests)
//!      Transmit / Close ──► HttpSessions::handle_output / handle_action
//!                           (returns the outputs of connections it does not own)
//!      Request / Notify ──► the caller (e.g. blocking::Driver answers them)
//!
//!  HttpSessions::poll_event ──► HttpEvent::Response   (one per POST, when every tag is done)
//!                               HttpEvent::StreamData (persistent mode: one message per chunk)
//!                               HttpEvent::StreamEnd
//! ```
//!
//! A POST's response is complete when every tagged command of its body got its tagged
//! response, or when a command that needs a continuation got its `+` (status 100 under
//! draft -12). Output that arrives between two POSTs of a session (pushes while idling) is
//! kept, bounded, for the next response.
//!
//! ```
//! use std::time::Instant;
//! use pimap_http::{HttpConfig, HttpEvent, HttpSessions, PostResult};
//! use pimap_server::blocking::{CollectingNotifier, Driver, NoSubmission};
//! use pimap_store_memory::MemoryStore;
//! use pimap_server::{Server, ServerConfig};
//!
//! let now = Instant::now();
//! let mut store = MemoryStore::new();
//! store.add_user("joe", "secret");
//! let server = Server::new(ServerConfig::default());
//! let mut driver = Driver::new(server, store, NoSubmission, CollectingNotifier::default());
//! let mut http = HttpSessions::new(HttpConfig::default());
//!
//! let body = b"a1 LOGIN joe#dev1 secret\r\na2 NOOP\r\n";
//! let PostResult::Accepted { exchange, .. } = http.post(&mut driver.server, None, body, now)
//! else { panic!() };
//! for action in driver.run(now) {
//!     // Every connection of this server is an HTTP one: nothing is left over.
//!     assert!(http.handle_action(action).is_none());
//! }
//! let Some(HttpEvent::Response { exchange: done, response }) = http.poll_event() else {
//!     panic!()
//! };
//! assert_eq!(done, exchange);
//! assert_eq!(response.status, 200);
//! assert!(response.set_cookie.as_deref().unwrap().starts_with("JSESSIONID="));
//! assert!(response.body.ends_with(b"a2 OK completed\r\n"));
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use memchr::memchr;

use pimap_codec::{CommandDecoder, DecodeError, DecoderOptions, Dialect};
use pimap_server::blocking::Action;
use pimap_server::{ConnId, OsRandom, Output, RandomSource, Server, ServerError};
use pimap_types::{ClientMessage, Command, CommandBody, Tag};

/// `application/vnd.pimap`: the request (and, up to -06, response) type of drafts -00…-08.
pub const PIMAP_CONTENT_TYPE: &str = "application/vnd.pimap";
/// `application/vnd.lemonade`: the request type of drafts -09…-12.
pub const LEMONADE_CONTENT_TYPE: &str = "application/vnd.lemonade";
/// `text/plain`: the response type of drafts -07…-12.
pub const TEXT_PLAIN: &str = "text/plain";
/// The session cookie's name (TV-07-A.1-a).
pub const COOKIE_NAME: &str = "JSESSIONID";
/// The request header this crate's examples use to ask for persistent mode (with
/// `Transfer-Encoding: chunked`). The drafts only show `Connection: keep-alive`, which
/// every HTTP/1.1 client sends anyway, so an explicit marker is used.
pub const PERSISTENT_HEADER: &str = "X-PIMAP-Persistent";
/// The last chunk of a chunked body without trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The draft number a [`Dialect`] stands for (1 or 8), for [`status_for`] and the content
/// type functions.
pub fn draft_of(dialect: Dialect) -> u8 {
    dialect.draft()
}

// ------------------------------------------------------------------------------ errors

/// Why a request (or chunked stream) was refused. Every variant that concerns one command
/// carries its tag when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The body is larger than [`BodyOptions::max_body`].
    #[error("request body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The body size.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The body holds no command.
    #[error("request body holds no command")]
    EmptyBody,
    /// More than [`BodyOptions::max_commands`] commands.
    #[error("more than {limit} commands in one request")]
    TooManyCommands {
        /// The configured limit.
        limit: usize,
    },
    /// A command that needs a continuation request (IDLE, AUTHENTICATE without initial
    /// response) is followed by more commands (-12 A.1: the server must answer 5xx).
    #[error("command {tag:?} needs a continuation but is not the last of the request")]
    ContinuationNotLast {
        /// Its tag.
        tag: Tag,
    },
    /// The body ends inside a command (a missing CRLF, or literal data shorter than
    /// announced).
    #[error("request body ends inside a command")]
    Incomplete {
        /// The tag of the incomplete command, when readable.
        tag: Option<Tag>,
        /// The body ends right after a synchronizing literal announcement.
        awaiting_literal: bool,
    },
    /// A command could not be decoded.
    #[error("bad command: {error}")]
    Syntax {
        /// Its tag, when readable.
        tag: Option<Tag>,
        /// The decoder's error (boxed: it carries the offending frame).
        error: Box<DecodeError>,
    },
    /// `DONE` or AUTHENTICATE data at the start of a body with no pending continuation, or
    /// anywhere else in a body.
    #[error("continuation data (DONE or AUTHENTICATE data) without a pending continuation")]
    UnexpectedContinuationData,
    /// More lines after AUTHENTICATE data: the server reads commands only once the
    /// authentication exchange is over (RFC 3501 §6.2.2), so they cannot share its body.
    #[error("commands follow AUTHENTICATE data in the same request")]
    CommandsAfterAuthData,
    /// [`HttpConfig::max_sessions`] reached.
    #[error("too many HTTP sessions (limit {limit})")]
    TooManySessions {
        /// The configured limit.
        limit: usize,
    },
    /// A POST for a session whose previous POST is still being answered.
    #[error("the session is still answering a previous request")]
    SessionBusy,
    /// Not a persistent stream of these sessions.
    #[error("unknown stream {0:?}")]
    UnknownStream(ConnId),
    /// The server refused (connection limit, closed connection).
    #[error("server: {0}")]
    Server(#[from] ServerError),
    /// Chunked transfer coding error.
    #[error("chunked coding: {0}")]
    Chunked(#[from] ChunkedError),
}

impl HttpError {
    /// The tag of the offending command, when known.
    pub fn tag(&self) -> Option<&Tag> {
        match self {
            HttpError::ContinuationNotLast { tag } => Some(tag),
            HttpError::Incomplete { tag, .. } | HttpError::Syntax { tag, .. } => tag.as_ref(),
            _ => None,
        }
    }

    /// The HTTP status for this refusal: 413 (too large), 409 (session busy), 503 (too
    /// many sessions, server limit), 500 (continuation not last, as -12 A.1 asks), else 400.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::SessionBusy => 409,
            HttpError::TooManySessions { .. } | HttpError::Server(_) => 503,
            HttpError::ContinuationNotLast { .. } => 500,
            _ => 400,
        }
    }

    /// An IMAP-style body explaining the refusal: `tag BAD text` when the tag is known,
    /// else `* BAD text` (the body stays authoritative, spec §8.1.3).
    pub fn imap_body(&self) -> Vec<u8> {
        let text = self.to_string().replace(['\r', '\n'], " ");
        match self.tag() {
            Some(t) => format!("{} BAD {text}\r\n", t.to_str_lossy()).into_bytes(),
            None => format!("* BAD {text}\r\n").into_bytes(),
        }
    }
}

// ------------------------------------------------------------------------ request bodies

/// What a body continues, when the previous response of the session ended with a `+`
/// continuation request (draft -12's status 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Awaiting {
    /// Nothing: the body holds commands only.
    #[default]
    Nothing,
    /// IDLE is running: the body may start with `DONE`.
    Done,
    /// AUTHENTICATE waits for data: the first line of the body is that data.
    AuthData,
}

/// Limits and decoding options of [`parse_request_body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyOptions {
    /// Largest body (default 16 MiB).
    pub max_body: usize,
    /// Most commands in one body (default 128; keep it below the server's
    /// `max_pipelined`).
    pub max_commands: usize,
    /// Command decoding limits and tolerance (use the server's).
    pub decoder: DecoderOptions,
    /// What the body continues (default: nothing).
    pub awaiting: Awaiting,
}

impl Default for BodyOptions {
    fn default() -> Self {
        Self {
            max_body: 16 << 20,
            max_commands: 128,
            decoder: DecoderOptions::default(),
            awaiting: Awaiting::Nothing,
        }
    }
}

impl BodyOptions {
    /// Defaults with these limits.
    pub fn new(max_body: usize, max_commands: usize) -> Self {
        Self {
            max_body,
            max_commands,
            ..Self::default()
        }
    }
}

/// Does this command make the server send a `+` continuation request (so it must be the
/// last of a batch)? IDLE, and AUTHENTICATE without an initial response.
pub fn needs_continuation(cmd: &Command) -> bool {
    matches!(
        cmd.body,
        CommandBody::Idle
            | CommandBody::Authenticate {
                initial_response: None,
                ..
            }
    )
}

/// One decoded item of a body: a message, or a command that failed to decode but whose tag
/// is known (the server answers it with `tag BAD`).
#[derive(Debug)]
enum Item {
    Msg(ClientMessage),
    Bad(Tag),
}

/// The tag at the start of `bytes`, if it is a valid one.
fn leading_tag(bytes: &[u8]) -> Option<Tag> {
    let end = bytes
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    Tag::new(Bytes::copy_from_slice(bytes.get(..end)?)).ok()
}

/// Decode a body into items; syntax errors with a known tag become [`Item::Bad`].
fn scan(body: &[u8], opts: &BodyOptions) -> Result<Vec<(Item, Option<DecodeError>)>, HttpError> {
    if body.len() > opts.max_body {
        return Err(HttpError::BodyTooLarge {
            size: body.len(),
            limit: opts.max_body,
        });
    }
    let mut dec = CommandDecoder::new(opts.decoder);
    dec.set_authenticate_data(opts.awaiting == Awaiting::AuthData);
    dec.feed(body);
    let mut items: Vec<(Item, Option<DecodeError>)> = Vec::new();
    loop {
        let r = dec.next();
        let first = items.is_empty();
        dec.set_authenticate_data(false);
        match r {
            Ok(Some(m)) => {
                let allowed = match &m {
                    ClientMessage::Command(_) => true,
                    ClientMessage::Done => first && opts.awaiting == Awaiting::Done,
                    ClientMessage::AuthData(_) => first && opts.awaiting == Awaiting::AuthData,
                };
                if !allowed {
                    return Err(HttpError::UnexpectedContinuationData);
                }
                items.push((Item::Msg(m), None));
            }
            Ok(None) => break,
            Err(e) => match e.tag() {
                Some(t) => items.push((Item::Bad(t), Some(e))),
                None => {
                    return Err(HttpError::Syntax {
                        tag: None,
                        error: Box::new(e),
                    })
                }
            },
        }
        if items.len() > opts.max_commands {
            return Err(HttpError::TooManyCommands {
                limit: opts.max_commands,
            });
        }
    }
    let rest = dec.buffered_len();
    if rest > 0 {
        let tail = body
            .get(body.len().saturating_sub(rest)..)
            .unwrap_or_default();
        return Err(HttpError::Incomplete {
            tag: leading_tag(tail),
            awaiting_literal: dec.awaiting_continuation(),
        });
    }
    if items.is_empty() {
        return Err(HttpError::EmptyBody);
    }
    if opts.awaiting == Awaiting::AuthData && items.len() > 1 {
        return Err(HttpError::CommandsAfterAuthData);
    }
    let last = items.len() - 1;
    for (i, (item, _)) in items.iter().enumerate() {
        if let Item::Msg(ClientMessage::Command(cmd)) = item {
            if i < last && needs_continuation(cmd) {
                return Err(HttpError::ContinuationNotLast {
                    tag: cmd.tag.clone(),
                });
            }
        }
    }
    Ok(items)
}

/// Decode the body of a POST (spec §8.1.4): one or more tagged commands, literal data after
/// a command line, a command needing a continuation only as the last one, `DONE` or
/// AUTHENTICATE data only first and only when [`BodyOptions::awaiting`] says so.
///
/// ```
/// use pimap_http::{parse_request_body, BodyOptions, HttpError};
/// use pimap_types::ClientMessage;
///
/// let body = b"a1 LOGIN {3}\r\njoe secret\r\na2 APPEND INBOX {5+}\r\nHello\r\n";
/// let msgs = parse_request_body(body, &BodyOptions::default())?;
/// assert_eq!(msgs.len(), 2);
///
/// let err = parse_request_body(b"a1 IDLE\r\na2 NOOP\r\n", &BodyOptions::default());
/// assert!(matches!(err, Err(HttpError::ContinuationNotLast { .. })));
/// # Ok::<(), HttpError>(())
/// ```
pub fn parse_request_body(
    body: &[u8],
    opts: &BodyOptions,
) -> Result<Vec<ClientMessage>, HttpError> {
    scan(body, opts)?
        .into_iter()
        .map(|(item, err)| match (item, err) {
            (Item::Msg(m), _) => Ok(m),
            (Item::Bad(tag), Some(error)) => Err(HttpError::Syntax {
                tag: Some(tag),
                error: Box::new(error),
            }),
            (Item::Bad(tag), None) => Err(HttpError::Incomplete {
                tag: Some(tag),
                awaiting_literal: false,
            }),
        })
        .collect()
}

// ------------------------------------------------------------------------ content types

/// Is this `Content-Type` header value acceptable for a request? `application/vnd.pimap`
/// and `application/vnd.lemonade`, case-insensitive, parameters ignored (spec §8.1.2:
/// receivers accept both).
pub fn content_type_ok(value: &str) -> bool {
    let media = value.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case(PIMAP_CONTENT_TYPE)
        || media.eq_ignore_ascii_case(LEMONADE_CONTENT_TYPE)
}

/// The request `Content-Type` a client of `draft` sends (spec §8.1.2):
/// `application/vnd.pimap` up to -08, `application/vnd.lemonade` from -09.
pub fn request_content_type(draft: u8) -> &'static str {
    if draft <= 8 {
        PIMAP_CONTENT_TYPE
    } else {
        LEMONADE_CONTENT_TYPE
    }
}

/// The response `Content-Type` a server of `draft` sends (spec §8.1.2):
/// `application/vnd.pimap` up to -06, `text/plain` from -07.
pub fn response_content_type(draft: u8) -> &'static str {
    if draft <= 6 {
        PIMAP_CONTENT_TYPE
    } else {
        TEXT_PLAIN
    }
}

// ------------------------------------------------------------------------ status codes

/// What happened to a batch, for [`status_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchOutcome {
    /// Some command was answered `BAD`.
    pub any_bad: bool,
    /// Some command was answered `NO`.
    pub any_no: bool,
    /// The response ends with a `+` continuation request (IDLE, AUTHENTICATE).
    pub continuation_pending: bool,
    /// The session is authenticated after the batch.
    pub authenticated: bool,
    /// An internal failure prevented producing some IMAP responses (the connection was
    /// closed before every command was answered).
    pub internal_error: bool,
}

/// The HTTP status a server of `draft` answers a batch with (spec §8.1.3).
///
/// * -00…-02: 500 on an internal error, 401 if the session is not authenticated, 400 if any
///   command got BAD or NO, else 200.
/// * -03…-10 (and the default for unknown drafts): 500 on an internal error, else 200 —
///   BAD/NO still give 200.
/// * -11: 500 on an internal error or any BAD/NO, else 200.
/// * -12: 500 on an internal error, 100 if a continuation is pending, 401 if the session is
///   no longer authenticated, 500 on any BAD/NO, else 200.
///
/// The crate's resolution: **the body is authoritative**. Whatever the status, the client
/// parses the body when there is one; 401 means "session lost, log in again", 100 means
/// "send the continuation data in the next POST". HTTP stacks cannot always send 100 as a
/// final status with a body; a server that cannot should stay with a -07…-10 draft.
///
/// ```
/// use pimap_http::{status_for, BatchOutcome};
///
/// let no = BatchOutcome { any_no: true, authenticated: true, ..Default::default() };
/// assert_eq!(status_for(1, &no), 400);
/// assert_eq!(status_for(8, &no), 200);
/// assert_eq!(status_for(11, &no), 500);
/// ```
pub fn status_for(draft: u8, outcome: &BatchOutcome) -> u16 {
    if outcome.internal_error {
        return 500;
    }
    let failed = outcome.any_bad || outcome.any_no;
    match draft {
        0..=2 => {
            if !outcome.authenticated {
                401
            } else if failed {
                400
            } else {
                200
            }
        }
        11 if failed => 500,
        12 => {
            if outcome.continuation_pending {
                100
            } else if !outcome.authenticated {
                401
            } else if failed {
                500
            } else {
                200
            }
        }
        _ => 200,
    }
}

// ------------------------------------------------------------------------ gzip

/// Does an `Accept-Encoding` header value allow gzip? `gzip` (or `x-gzip`) with a q-value
/// above 0, or `*` above 0 when gzip is not listed; `gzip;q=0` refuses it.
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut gzip: Option<f64> = None;
    let mut star: Option<f64> = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let mut q = 1.0;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    // An unreadable q-value counts as "not acceptable".
                    q = v.trim().parse::<f64>().unwrap_or(0.0);
                }
            }
        }
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.map_or(q, |g: f64| g.max(q)));
        } else if coding == "*" {
            star = Some(q);
        }
    }
    match gzip {
        Some(q) => q > 0.0,
        None => star.is_some_and(|q| q > 0.0),
    }
}

/// The response body to send and its `Content-Encoding` value: gzipped (level 6) with
/// `Some("gzip")` when `gzip` is set (the client accepted it, [`accepts_gzip`]), else the
/// body unchanged and `None`. The whole body is compressed "regardless of the IMAP commands
/// or session state" (spec §5.3).
pub fn encode_body(body: &[u8], gzip: bool) -> (Vec<u8>, Option<&'static str>) {
    if gzip {
        (pimap_codec::compress::gzip(body, 6), Some("gzip"))
    } else {
        (body.to_vec(), None)
    }
}

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

// ------------------------------------------------------------------------ sessions

/// Configuration of [`HttpSessions`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The draft whose status codes and content types are used (default 8).
    pub draft: u8,
    /// The cookie's `path` attribute (`/pimap`; `/lemonade` for -12).
    pub cookie_path: String,
    /// Sessions (cookies) plus persistent streams at most (default 1 000); a POST that
    /// would create one more is refused with 503.
    pub max_sessions: usize,
    /// A cookie session with no POST for this long is ended: its server connection is
    /// closed, and the device session waits in the server for resumption by device id
    /// (default 30 minutes).
    pub idle_expiry: Duration,
    /// Cookie sessions not (yet) logged in, at most (default 100). A POST that would create
    /// one more ends the longest-idle of them, so a flood of anonymous POSTs can neither
    /// fill [`max_sessions`](Self::max_sessions) nor lock out users who log in.
    pub max_anonymous_sessions: usize,
    /// A cookie session still not logged in after this long without a POST is ended
    /// (default 60 s).
    pub anonymous_expiry: Duration,
    /// Largest POST body (default 16 MiB).
    pub max_body: usize,
    /// Most commands per POST (default 128; the server's `max_pipelined` is 256).
    pub max_commands: usize,
    /// Output kept for a cookie session between two POSTs (pushes while idling; default
    /// 1 MiB). Beyond it the session is ended.
    pub max_pending_output: usize,
    /// Send the IMAP greeting on persistent streams (default `false`: the drafts' HTTP
    /// binding never shows it; non-persistent sessions never send it).
    pub persistent_greeting: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self::new(8)
    }
}

impl HttpConfig {
    /// Defaults for a draft.
    pub fn new(draft: u8) -> Self {
        Self {
            draft,
            cookie_path: if draft >= 12 { "/lemonade" } else { "/pimap" }.into(),
            max_sessions: 1000,
            idle_expiry: Duration::from_secs(30 * 60),
            max_anonymous_sessions: 100,
            anonymous_expiry: Duration::from_secs(60),
            max_body: 16 << 20,
            max_commands: 128,
            max_pending_output: 1 << 20,
            persistent_greeting: false,
        }
    }
}

/// Identifies one POST being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(pub u64);

/// A complete non-persistent response. `Debug` redacts the cookie and shows the body's size
/// only (it may carry a LOGIN's SESSIONID).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status ([`status_for`] of the configured draft, or a refusal's).
    pub status: u16,
    /// The `Content-Type` value.
    pub content_type: &'static str,
    /// The `Set-Cookie` value on the first response of a session
    /// (`JSESSIONID=<32 hex digits>; path=/pimap`).
    pub set_cookie: Option<String>,
    /// The IMAP responses (untagged and tagged), uncompressed.
    pub body: Vec<u8>,
    /// What happened, as used for the status.
    pub outcome: BatchOutcome,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field(
                "set_cookie",
                &self.set_cookie.as_ref().map(|_| "<redacted>"),
            )
            .field("body_len", &self.body.len())
            .field("outcome", &self.outcome)
            .finish()
    }
}

impl HttpResponse {
    /// A plain HTTP/1.1 rendering (status line, `Content-Type`, `Content-Length`,
    /// `Set-Cookie`, `Content-Encoding: gzip` when `gzip`, empty line, body), for embedders
    /// that write HTTP themselves.
    pub fn to_http1(&self, gzip: bool) -> Vec<u8> {
        let (body, coding) = encode_body(&self.body, gzip);
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            body.len()
        );
        if let Some(c) = &self.set_cookie {
            out.push_str(&format!("Set-Cookie: {c}\r\n"));
        }
        if let Some(c) = coding {
            out.push_str(&format!("Content-Encoding: {c}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// What [`HttpSessions::post`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostResult {
    /// The body went to the server; the response comes as [`HttpEvent::Response`] with this
    /// id once the server's outputs have been driven.
    Accepted {
        /// The exchange.
        exchange: ExchangeId,
        /// The server connection of the session.
        conn: ConnId,
        /// A new session (and cookie) was created.
        new_session: bool,
    },
    /// Refused before reaching the server; answer with `response`.
    Rejected {
        /// Why.
        error: HttpError,
        /// The response to send (status from [`HttpError::status`], IMAP-style body).
        response: HttpResponse,
    },
}

/// Something for the HTTP layer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpEvent {
    /// A POST is answered.
    Response {
        /// Which POST.
        exchange: ExchangeId,
        /// The response.
        response: HttpResponse,
    },
    /// Output on a persistent stream: one IMAP response per element (a line, literals
    /// included). Send each as one chunk ([`encode_chunk`], or one data frame of an HTTP
    /// library's streaming body).
    StreamData {
        /// The stream.
        stream: ConnId,
        /// The responses.
        messages: Vec<Bytes>,
    },
    /// The server closed a persistent stream (LOGOUT, autologout): end the chunked response
    /// ([`LAST_CHUNK`]).
    StreamEnd {
        /// The stream.
        stream: ConnId,
    },
}

/// A tag a POST waits for.
#[derive(Debug, Clone)]
struct Expect {
    tag: Tag,
    login: bool,
    logout: bool,
    cont: Awaiting,
}

#[derive(Debug)]
struct Exchange {
    id: ExchangeId,
    expected: VecDeque<Expect>,
    body: Vec<u8>,
    outcome: BatchOutcome,
}

#[derive(Debug)]
struct Session {
    conn: ConnId,
    last_active: Instant,
    authenticated: bool,
    /// The tag whose continuation the last response ended with.
    carry: Option<Expect>,
    exchange: Option<Exchange>,
    /// Output between two POSTs.
    pending: Vec<u8>,
    /// No response has been sent yet: the next one carries Set-Cookie.
    new: bool,
}

#[derive(Debug)]
enum Role {
    Cookie(String),
    Stream,
}

#[derive(Debug)]
struct ConnInfo {
    role: Role,
    /// The greeting (the first response) is still to be swallowed.
    greeting_left: bool,
}

/// The server side of the HTTP binding over a sans-IO [`Server`]. See the
/// [module documentation](self) for the plumbing.
///
/// * **Non-persistent mode** ([`post`](Self::post)): one server connection per cookie. A
///   POST without a cookie, or with an unknown or expired one, gets a new connection (its
///   greeting is swallowed) and a new 128-bit cookie (`Set-Cookie: JSESSIONID=<hex>;
///   path=/pimap` on its first response). The cookie's life is bound to that server
///   connection: it ends when the server closes it (LOGOUT, autologout) or after
///   [`HttpConfig::idle_expiry`] without a POST; the P-IMAP device session itself survives
///   in the server and resumes by device id on the next LOGIN.
/// * **Persistent mode** ([`open_stream`](Self::open_stream)): one server connection per
///   long-lived chunked POST; its request payload goes to
///   [`stream_input`](Self::stream_input) as it arrives and its output comes back as
///   [`HttpEvent::StreamData`], one IMAP response per chunk.
pub struct HttpSessions {
    config: HttpConfig,
    rng: Box<dyn RandomSource>,
    sessions: HashMap<String, Session>,
    conns: HashMap<ConnId, ConnInfo>,
    events: VecDeque<HttpEvent>,
    /// Connections to close at the next call that has the server (overflowing sessions).
    doomed: Vec<ConnId>,
    next_exchange: u64,
    /// The latest `now` passed in (the due time of doomed connections).
    clock: Option<Instant>,
}

impl fmt::Debug for HttpSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSessions")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .field("connections", &self.conns.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// `value` as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `JSESSIONID` value of a `Cookie` header value (`a=b; JSESSIONID=v`); a header value
/// without any `=` is taken as the session id itself.
pub fn session_cookie(cookie_header: &str) -> Option<&str> {
    let h = cookie_header.trim();
    if !h.contains('=') {
        return (!h.is_empty()).then_some(h);
    }
    h.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(COOKIE_NAME)
            .then(|| v.trim().trim_matches('"'))
    })
}

impl HttpSessions {
    /// Sessions with cookies from the OS random source.
    pub fn new(config: HttpConfig) -> Self {
        Self::with_random(config, Box::new(OsRandom))
    }

    /// Sessions with cookies from `rng` (it must be cryptographically secure in production:
    /// a cookie is a bearer token).
    pub fn with_random(config: HttpConfig, rng: Box<dyn RandomSource>) -> Self {
        Self {
            config,
            rng,
            sessions: HashMap::new(),
            conns: HashMap::new(),
            events: VecDeque::new(),
            doomed: Vec::new(),
            next_exchange: 1,
            clock: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Live cookie sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Open persistent streams.
    pub fn stream_count(&self) -> usize {
        self.conns
            .values()
            .filter(|c| matches!(c.role, Role::Stream))
            .count()
    }

    /// Is this server connection one of ours?
    pub fn owns(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// The server connection of a cookie session.
    pub fn session_conn(&self, cookie: &str) -> Option<ConnId> {
        self.sessions.get(cookie).map(|s| s.conn)
    }

    fn new_cookie(&mut self) -> String {
        loop {
            let mut raw = [0u8; 16];
            self.rng.fill(&mut raw);
            let c = hex(&raw);
            if !self.sessions.contains_key(&c) {
                return c;
            }
        }
    }

    fn reject(&self, error: HttpError) -> PostResult {
        let response = HttpResponse {
            status: error.status(),
            content_type: response_content_type(self.config.draft),
            set_cookie: None,
            body: error.imap_body(),
            outcome: BatchOutcome {
                any_bad: true,
                ..BatchOutcome::default()
            },
        };
        PostResult::Rejected { error, response }
    }

    /// Close connections of sessions that overflowed.
    fn reap(&mut self, server: &mut Server, now: Instant) {
        self.clock = Some(self.clock.map_or(now, |c| c.max(now)));
        for conn in std::mem::take(&mut self.doomed) {
            server.handle_close(conn, now);
        }
    }

    /// A non-persistent POST: `cookie_header` is the request's `Cookie` header value (or the
    /// bare session id), `body` its (decoded) body. Creates a session when the cookie is
    /// missing or unknown, checks the body ([`parse_request_body`] rules; a command with a
    /// known tag that fails to decode is left to the server, which answers `tag BAD`), and
    /// feeds it to the session's server connection. Then drive the server's outputs through
    /// [`handle_output`](Self::handle_output) / [`handle_action`](Self::handle_action)
    /// and answer its requests; the response arrives as [`HttpEvent::Response`].
    pub fn post(
        &mut self,
        server: &mut Server,
        cookie_header: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> PostResult {
        self.reap(server, now);
        let existing = cookie_header
            .and_then(session_cookie)
            .filter(|c| self.sessions.contains_key(*c))
            .map(str::to_string);
        let mut awaiting = Awaiting::Nothing;
        if let Some(s) = existing.as_ref().and_then(|c| self.sessions.get(c)) {
            if s.exchange.is_some() {
                return self.reject(HttpError::SessionBusy);
            }
            awaiting = s.carry.as_ref().map_or(Awaiting::Nothing, |e| e.cont);
        }
        let opts = BodyOptions {
            max_body: self.config.max_body,
            max_commands: self.config.max_commands,
            decoder: server.config().decoder,
            awaiting,
        };
        let items = match scan(body, &opts) {
            Ok(items) => items,
            Err(e) => return self.reject(e),
        };
        let mut expected: VecDeque<Expect> = items
            .iter()
            .filter_map(|(item, _)| match item {
                Item::Msg(ClientMessage::Command(cmd)) => Some(Expect {
                    tag: cmd.tag.clone(),
                    login: matches!(
                        cmd.body,
                        CommandBody::Login { .. } | CommandBody::Authenticate { .. }
                    ),
                    logout: matches!(cmd.body, CommandBody::Logout),
                    cont: match cmd.body {
                        CommandBody::Idle => Awaiting::Done,
                        CommandBody::Authenticate {
                            initial_response: None,
                            ..
                        } => Awaiting::AuthData,
                        _ => Awaiting::Nothing,
                    },
                }),
                Item::Bad(tag) => Some(Expect {
                    tag: tag.clone(),
                    login: false,
                    logout: false,
                    cont: Awaiting::Nothing,
                }),
                _ => None,
            })
            .collect();

        let (cookie, conn, new_session) = match existing {
            Some(c) => {
                let conn = self.sessions.get(&c).map_or(ConnId(0), |s| s.conn);
                (c, conn, false)
            }
            None => {
                self.make_room_for_anonymous(server, now);
                if self.conns.len() >= self.config.max_sessions {
                    let limit = self.config.max_sessions;
                    return self.reject(HttpError::TooManySessions { limit });
                }
                let conn = match server.accept(now) {
                    Ok(c) => c,
                    Err(e) => return self.reject(HttpError::Server(e)),
                };
                let cookie = self.new_cookie();
                self.conns.insert(
                    conn,
                    ConnInfo {
                        role: Role::Cookie(cookie.clone()),
                        greeting_left: true,
                    },
                );
                self.sessions.insert(
                    cookie.clone(),
                    Session {
                        conn,
                        last_active: now,
                        authenticated: false,
                        carry: None,
                        exchange: None,
                        pending: Vec::new(),
                        new: true,
                    },
                );
                (cookie, conn, true)
            }
        };
        let id = ExchangeId(self.next_exchange);
        self.next_exchange += 1;
        let Some(s) = self.sessions.get_mut(&cookie) else {
            return self.reject(HttpError::EmptyBody);
        };
        // Any input ends IDLE and is AUTHENTICATE's data: the carried tag completes now.
        if let Some(c) = s.carry.take() {
            expected.push_front(c);
        }
        s.last_active = now;
        s.exchange = Some(Exchange {
            id,
            expected,
            body: std::mem::take(&mut s.pending),
            outcome: BatchOutcome::default(),
        });
        if let Err(e) = server.handle_input(conn, body, now) {
            // The server no longer knows the connection: the session is gone.
            self.sessions.remove(&cookie);
            self.conns.remove(&conn);
            return self.reject(HttpError::Server(e));
        }
        PostResult::Accepted {
            exchange: id,
            conn,
            new_session,
        }
    }

    /// Open a persistent stream (a long-lived chunked POST): a new server connection whose
    /// greeting is swallowed unless [`HttpConfig::persistent_greeting`] is set.
    pub fn open_stream(&mut self, server: &mut Server, now: Instant) -> Result<ConnId, HttpError> {
        self.reap(server, now);
        if self.conns.len() >= self.config.max_sessions {
            return Err(HttpError::TooManySessions {
                limit: self.config.max_sessions,
            });
        }
        let conn = server.accept(now)?;
        self.conns.insert(
            conn,
            ConnInfo {
                role: Role::Stream,
                greeting_left: !self.config.persistent_greeting,
            },
        );
        Ok(conn)
    }

    /// Payload bytes of a persistent stream's request body (after chunked decoding by the
    /// HTTP stack or a [`ChunkedDecoder`]), in any pieces.
    pub fn stream_input(
        &mut self,
        server: &mut Server,
        stream: ConnId,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), HttpError> {
        if !matches!(
            self.conns.get(&stream),
            Some(ConnInfo {
                role: Role::Stream,
                ..
            })
        ) {
            return Err(HttpError::UnknownStream(stream));
        }
        server.handle_input(stream, payload, now)?;
        Ok(())
    }

    /// The client ended a persistent stream (its request body ended, or the HTTP connection
    /// broke): the server connection is closed; the device session stays in the server for
    /// resumption.
    pub fn close_stream(&mut self, server: &mut Server, stream: ConnId, now: Instant) {
        if matches!(
            self.conns.get(&stream),
            Some(ConnInfo {
                role: Role::Stream,
                ..
            })
        ) {
            self.conns.remove(&stream);
            server.handle_close(stream, now);
        }
    }

    /// Route one server output: `Transmit` and `Close` of our connections are consumed
    /// (`None`); everything else (requests, notifications, other connections' bytes) is
    /// returned for the caller.
    pub fn handle_output(&mut self, output: Output) -> Option<Output> {
        match output {
            Output::Transmit { conn, data } => {
                if self.on_transmit(conn, &data) {
                    None
                } else {
                    Some(Output::Transmit { conn, data })
                }
            }
            Output::Close { conn } => {
                if self.on_close(conn) {
                    None
                } else {
                    Some(Output::Close { conn })
                }
            }
            other => Some(other),
        }
    }

    /// [`handle_output`](Self::handle_output) for [`blocking::Driver`](pimap_server::blocking::Driver)
    /// users, whose `run` answers requests and returns transport [`Action`]s.
    pub fn handle_action(&mut self, action: Action) -> Option<Action> {
        match action {
            Action::Transmit(conn, data) => {
                (!self.on_transmit(conn, &data)).then_some(Action::Transmit(conn, data))
            }
            Action::Close(conn) => (!self.on_close(conn)).then_some(Action::Close(conn)),
            other => Some(other),
        }
    }

    /// Bytes the server transmits on `conn`. Returns `false` (and does nothing) when the
    /// connection is not ours. The server emits whole responses per transmission; an
    /// incomplete tail is treated as one response.
    pub fn on_transmit(&mut self, conn: ConnId, data: &[u8]) -> bool {
        let Some(info) = self.conns.get_mut(&conn) else {
            return false;
        };
        let (complete, rest) = split_messages(data);
        let mut messages: Vec<&[u8]> = complete;
        if !rest.is_empty() {
            messages.push(rest);
        }
        if info.greeting_left && !messages.is_empty() {
            info.greeting_left = false;
            messages.remove(0);
        }
        match &info.role {
            Role::Stream => {
                if !messages.is_empty() {
                    self.events.push_back(HttpEvent::StreamData {
                        stream: conn,
                        messages: messages.into_iter().map(Bytes::copy_from_slice).collect(),
                    });
                }
            }
            Role::Cookie(cookie) => {
                let cookie = cookie.clone();
                for m in messages {
                    self.session_output(&cookie, m);
                }
            }
        }
        true
    }

    /// The server closed `conn`. Returns `false` when it is not ours.
    pub fn on_close(&mut self, conn: ConnId) -> bool {
        let Some(info) = self.conns.remove(&conn) else {
            return false;
        };
        match info.role {
            Role::Stream => self.events.push_back(HttpEvent::StreamEnd { stream: conn }),
            Role::Cookie(cookie) => {
                if let Some(mut s) = self.sessions.remove(&cookie) {
                    s.authenticated = false;
                    if let Some(mut ex) = s.exchange.take() {
                        ex.outcome.internal_error |= !ex.expected.is_empty();
                        self.finish(None, &mut s, ex);
                    }
                }
            }
        }
        true
    }

    /// One response of a cookie session's connection.
    fn session_output(&mut self, cookie: &str, msg: &[u8]) {
        let Some(mut s) = self.sessions.remove(cookie) else {
            return;
        };
        let keep = self.session_output_inner(cookie, &mut s, msg);
        if keep {
            self.sessions.insert(cookie.to_string(), s);
        } else {
            self.conns.remove(&s.conn);
            self.doomed.push(s.conn);
        }
    }

    /// Returns `false` when the session must end (pending output overflow).
    fn session_output_inner(&mut self, cookie: &str, s: &mut Session, msg: &[u8]) -> bool {
        let Some(mut ex) = s.exchange.take() else {
            s.pending.extend_from_slice(msg);
            return s.pending.len() <= self.config.max_pending_output;
        };
        ex.body.extend_from_slice(msg);
        let mut words = msg.split(|&b| b == b' ' || b == b'\r' || b == b'\n');
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        if first == b"+" {
            if ex.expected.len() == 1
                && ex
                    .expected
                    .front()
                    .is_some_and(|e| e.cont != Awaiting::Nothing)
            {
                ex.outcome.continuation_pending = true;
                s.carry = ex.expected.pop_front();
            }
        } else if first == b"*" {
            if second.eq_ignore_ascii_case(b"BYE") {
                s.authenticated = false;
            }
        } else if let Some(pos) = ex.expected.iter().position(|e| e.tag.as_bytes() == first) {
            let done = ex.expected.remove(pos);
            let ok = second.eq_ignore_ascii_case(b"OK");
            ex.outcome.any_bad |= second.eq_ignore_ascii_case(b"BAD");
            ex.outcome.any_no |= second.eq_ignore_ascii_case(b"NO");
            if let Some(e) = done {
                if e.login && ok {
                    s.authenticated = true;
                }
                if e.logout {
                    s.authenticated = false;
                }
            }
        }
        if ex.expected.is_empty() {
            self.finish(Some(cookie), s, ex);
        } else {
            s.exchange = Some(ex);
        }
        true
    }

    /// Emit the response of a finished exchange; `cookie` is the session's when it lives on.
    fn finish(&mut self, cookie: Option<&str>, s: &mut Session, mut ex: Exchange) {
        ex.outcome.authenticated = s.authenticated;
        let set_cookie = match cookie {
            Some(c) if s.new => {
                s.new = false;
                Some(format!(
                    "{COOKIE_NAME}={c}; path={}",
                    self.config.cookie_path
                ))
            }
            _ => None,
        };
        let response = HttpResponse {
            status: status_for(self.config.draft, &ex.outcome),
            content_type: response_content_type(self.config.draft),
            set_cookie,
            body: ex.body,
            outcome: ex.outcome,
        };
        self.events.push_back(HttpEvent::Response {
            exchange: ex.id,
            response,
        });
    }

    /// The next event to act on.
    #[must_use = "events must be drained"]
    pub fn poll_event(&mut self) -> Option<HttpEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the earliest
    /// idle expiry of a cookie session (now, when a session must be closed).
    #[must_use = "the caller must arrange to call handle_timeout then"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self
            .sessions
            .values()
            .filter(|s| s.exchange.is_none())
            .map(|s| {
                let limit = if s.authenticated {
                    self.config.idle_expiry
                } else {
                    self.config.anonymous_expiry
                };
                s.last_active + limit
            })
            .min();
        if self.doomed.is_empty() {
            expiry
        } else {
            self.clock.or(expiry)
        }
    }

    /// Anonymous (not logged in) cookie sessions: keep them under
    /// [`HttpConfig::max_anonymous_sessions`] by ending the longest-idle one.
    fn make_room_for_anonymous(&mut self, server: &mut Server, now: Instant) {
        let anonymous = self.sessions.values().filter(|s| !s.authenticated).count();
        if anonymous < self.config.max_anonymous_sessions {
            return;
        }
        let oldest = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.authenticated && s.exchange.is_none())
            .min_by_key(|(_, s)| s.last_active)
            .map(|(k, _)| k.clone());
        if let Some(s) = oldest.and_then(|k| self.sessions.remove(&k)) {
            self.conns.remove(&s.conn);
            server.handle_close(s.conn, now);
        }
    }

    /// Does this `Cookie` header name a logged-in session? (A front end can allow such
    /// requests larger bodies than anonymous ones.)
    pub fn is_authenticated(&self, cookie_header: Option<&str>) -> bool {
        cookie_header
            .and_then(session_cookie)
            .and_then(|c| self.sessions.get(c))
            .is_some_and(|s| s.authenticated)
    }

    /// Cookie sessions now (for monitoring): all, and those not logged in.
    pub fn session_counts(&self) -> (usize, usize) {
        let anonymous = self.sessions.values().filter(|s| !s.authenticated).count();
        (self.sessions.len(), anonymous)
    }

    /// End cookie sessions idle for [`HttpConfig::idle_expiry`] (or, not logged in, for
    /// [`HttpConfig::anonymous_expiry`]; their server connections are closed; the device
    /// sessions stay in the server for resumption) and close the connections of sessions
    /// that overflowed.
    pub fn handle_timeout(&mut self, server: &mut Server, now: Instant) {
        self.reap(server, now);
        let idle = self.config.idle_expiry;
        let anon = self.config.anonymous_expiry;
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                let limit = if s.authenticated { idle } else { anon };
                s.exchange.is_none() && now.saturating_duration_since(s.last_active) >= limit
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            if let Some(s) = self.sessions.remove(&k) {
                self.conns.remove(&s.conn);
                server.handle_close(s.conn, now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ------------------------------------------------------------------ bodies

    #[test]
    fn body_with_literals_of_every_kind() {
        let body: &[u8] = b"a1 LOGIN {3}\r\njoe {6+}\r\nsecret\r\n\
            a2 APPEND INBOX {5+}\r\nHello\r\n\
            a3 APPEND INBOX ~{4}\r\nab\r\n\r\n\
            a4 NOOP\r\n";
        let msgs = parse_request_body(body, &BodyOptions::default()).unwrap();
        let tags: Vec<_> = msgs
            .iter()
            .map(|m| match m {
                ClientMessage::Command(c) => c.tag.to_str_lossy().into_owned(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(tags, ["a1", "a2", "a3", "a4"]);
    }

    #[test]
    fn continuation_commands_must_be_last() {
        let o = BodyOptions::default();
        let e = parse_request_body(b"a1 IDLE\r\na2 NOOP\r\n", &o).unwrap_err();
        assert_eq!(
            e,
            HttpError::ContinuationNotLast {
                tag: Tag::try_from("a1").unwrap()
            }
        );
        assert_eq!(e.status(), 500);
        assert_eq!(e.imap_body().get(..7), Some(&b"a1 BAD "[..]));
        let e = parse_request_body(b"x AUTHENTICATE PLAIN\r\ny NOOP\r\n", &o).unwrap_err();
        assert!(matches!(e, HttpError::ContinuationNotLast { ref tag } if tag.as_bytes() == b"x"));
        // Last is fine, and so is AUTHENTICATE with an initial response anywhere.
        assert_eq!(
            parse_request_body(b"a1 NOOP\r\na2 IDLE\r\n", &o)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_request_body(b"a1 AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=\r\na2 NOOP\r\n", &o)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn body_errors_are_typed_with_tags() {
        let o = BodyOptions::default();
        assert_eq!(parse_request_body(b"", &o), Err(HttpError::EmptyBody));
        let e = parse_request_body(b"a1 NOOP\r\na2 FROB x\r\n", &o).unwrap_err();
        assert!(matches!(e, HttpError::Syntax { tag: Some(ref t), .. } if t.as_bytes() == b"a2"));
        let e = parse_request_body(b"a1 NOOP\r\na2 APPEND INBOX {10}\r\nshort", &o).unwrap_err();
        assert!(
            matches!(e, HttpError::Incomplete { tag: Some(ref t), .. } if t.as_bytes() == b"a2"),
            "{e:?}"
        );
        let e = parse_request_body(b"a1 APPEND INBOX {10}\r\n", &o).unwrap_err();
        assert!(
            matches!(
                e,
                HttpError::Incomplete {
                    awaiting_literal: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = parse_request_body(b"a1 NOOP", &o).unwrap_err();
        assert!(matches!(
            e,
            HttpError::Incomplete {
                tag: Some(_),
                awaiting_literal: false
            }
        ));
        assert_eq!(
            parse_request_body(b"DONE\r\n", &o),
            Err(HttpError::UnexpectedContinuationData)
        );
        let small = BodyOptions::new(10, 2);
        assert_eq!(
            parse_request_body(b"a1 NOOP\r\na2 NOOP\r\n", &small),
            Err(HttpError::BodyTooLarge {
                size: 18,
                limit: 10
            })
        );
        let few = BodyOptions::new(1000, 2);
        assert_eq!(
            parse_request_body(b"a NOOP\r\nb NOOP\r\nc NOOP\r\n", &few),
            Err(HttpError::TooManyCommands { limit: 2 })
        );
    }

    #[test]
    fn continuation_data_first_when_awaited() {
        let done = BodyOptions {
            awaiting: Awaiting::Done,
            ..BodyOptions::default()
        };
        let m = parse_request_body(b"DONE\r\nb1 NOOP\r\n", &done).unwrap();
        assert_eq!(m.first(), Some(&ClientMessage::Done));
        assert_eq!(
            parse_request_body(b"b1 NOOP\r\nDONE\r\n", &done),
            Err(HttpError::UnexpectedContinuationData)
        );
        let auth = BodyOptions {
            awaiting: Awaiting::AuthData,
            ..BodyOptions::default()
        };
        let m = parse_request_body(b"AGpvZQBzZWNyZXQ=\r\n", &auth).unwrap();
        assert!(matches!(m.as_slice(), [ClientMessage::AuthData(_)]));
        assert_eq!(
            parse_request_body(b"AGpvZQBzZWNyZXQ=\r\nb1 NOOP\r\n", &auth),
            Err(HttpError::CommandsAfterAuthData)
        );
    }

    // ------------------------------------------------------------------ headers, statuses

    #[test]
    fn content_types() {
        assert!(content_type_ok("application/vnd.pimap"));
        assert!(content_type_ok(
            "Application/VND.Lemonade; charset=us-ascii"
        ));
        assert!(!content_type_ok("text/plain"));
        assert!(!content_type_ok("application/vnd.pimapx"));
        assert_eq!(request_content_type(1), PIMAP_CONTENT_TYPE);
        assert_eq!(request_content_type(8), PIMAP_CONTENT_TYPE);
        assert_eq!(request_content_type(9), LEMONADE_CONTENT_TYPE);
        assert_eq!(request_content_type(12), LEMONADE_CONTENT_TYPE);
        assert_eq!(response_content_type(6), PIMAP_CONTENT_TYPE);
        assert_eq!(response_content_type(7), TEXT_PLAIN);
        assert_eq!(
            response_content_type(draft_of(Dialect::Draft01)),
            PIMAP_CONTENT_TYPE
        );
        assert_eq!(
            response_content_type(draft_of(Dialect::Draft08)),
            TEXT_PLAIN
        );
    }

    #[test]
    fn statuses_per_version() {
        let ok = BatchOutcome {
            authenticated: true,
            ..Default::default()
        };
        let bad = BatchOutcome {
            any_bad: true,
            ..ok
        };
        let no = BatchOutcome { any_no: true, ..ok };
        let anon = BatchOutcome::default();
        let internal = BatchOutcome {
            internal_error: true,
            ..ok
        };
        let cont = BatchOutcome {
            continuation_pending: true,
            ..ok
        };
        let lost = BatchOutcome {
            any_no: true,
            authenticated: false,
            ..ok
        };
        for d in 0..=2 {
            assert_eq!(status_for(d, &ok), 200);
            assert_eq!(status_for(d, &bad), 400);
            assert_eq!(status_for(d, &no), 400);
            assert_eq!(status_for(d, &anon), 401);
            assert_eq!(status_for(d, &internal), 500);
        }
        for d in 3..=10 {
            for o in [ok, bad, no, anon, cont, lost] {
                assert_eq!(status_for(d, &o), 200, "draft {d} {o:?}");
            }
            assert_eq!(status_for(d, &internal), 500);
        }
        assert_eq!(status_for(11, &ok), 200);
        assert_eq!(status_for(11, &bad), 500);
        assert_eq!(status_for(11, &no), 500);
        assert_eq!(status_for(11, &anon), 200);
        assert_eq!(status_for(12, &ok), 200);
        assert_eq!(status_for(12, &cont), 100);
        assert_eq!(status_for(12, &lost), 401);
        assert_eq!(status_for(12, &bad), 500);
        assert_eq!(status_for(12, &internal), 500);
        // Unknown future drafts follow the default rule.
        assert_eq!(status_for(40, &bad), 200);
    }

    /// Decode a gzip member (test helper): a plain RFC 1952 header, then inflate (which
    /// checks CRC-32 and size).
    fn gunzip(data: &[u8]) -> Vec<u8> {
        assert_eq!(data.get(..4), Some(&[0x1f, 0x8b, 8, 0][..]));
        pimap_codec::compress::inflate_all(data, pimap_codec::compress::Limits::default()).unwrap()
    }

    #[test]
    fn gzip_round_trip_and_accept_encoding() {
        let body = b"* 3 EXISTS\r\nb1 OK NOOP completed\r\n".repeat(50);
        let (z, coding) = encode_body(&body, true);
        assert_eq!(coding, Some("gzip"));
        assert!(z.len() < body.len());
        assert_eq!(gunzip(&z), body);
        assert_eq!(gunzip(&encode_body(b"", true).0), b"");
        assert_eq!(encode_body(&body, false), (body.clone(), None));

        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip, br, zstd"));
        assert!(accepts_gzip("GZIP;q=0.5"));
        assert!(accepts_gzip("x-gzip"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip; q=0.000, *;q=1"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("*;q=0"));
        assert!(!accepts_gzip("br, deflate"));
    }

    // ------------------------------------------------------------------ chunked coding

    #[test]
    fn chunked_decoding_and_errors() {
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        let wire = b"e\r\n2 CAPABILITY\r\n\r\n3 ; name=\"v\"\r\nabc\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(d.feed(wire, &mut out).unwrap(), wire.len());
        assert_eq!(out, b"2 CAPABILITY\r\nabc");
        assert!(d.is_done());
        assert_eq!(d.feed(b"more", &mut out).unwrap(), 0);

        let err = |wire: &[u8], limits: ChunkedLimits| {
            let mut d = ChunkedDecoder::new(limits);
            let e = d.feed(wire, &mut Vec::new()).unwrap_err();
            // Poisoned afterwards.
            assert_eq!(d.feed(b"0\r\n\r\n", &mut Vec::new()), Err(e.clone()));
            e
        };
        let l = ChunkedLimits::default();
        assert_eq!(err(b"zz\r\n", l), ChunkedError::InvalidSize);
        assert_eq!(err(b"\r\n", l), ChunkedError::InvalidSize);
        assert_eq!(err(b"1 x\r\n", l), ChunkedError::InvalidSize);
        assert_eq!(err(b"11111111111111111\r\n", l), ChunkedError::InvalidSize);
        assert_eq!(err(b"3\r\nabcX", l), ChunkedError::MissingCrlf);
        assert_eq!(err(b"3\r\nabc\rX", l), ChunkedError::MissingCrlf);
        let small = ChunkedLimits {
            max_chunk: 4,
            max_line: 8,
            max_trailers: 10,
        };
        assert_eq!(
            err(b"5\r\n", small),
            ChunkedError::ChunkTooLarge { size: 5, limit: 4 }
        );
        assert_eq!(
            err(b"1;aaaaaaaaaa", small),
            ChunkedError::LineTooLong { limit: 8 }
        );
        assert_eq!(
            err(b"0\r\nA: 1\r\nB: 2\r\n", small),
            ChunkedError::TrailersTooLarge { limit: 10 }
        );
    }

    fn chunked(payload: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut wire = Vec::new();
        let mut rest = payload;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(1)
                .clamp(1, rest.len());
            let (c, r) = rest.split_at(n);
            wire.extend(encode_chunk(c));
            rest = r;
            i += 1;
        }
        wire.extend_from_slice(LAST_CHUNK);
        wire
    }

    proptest! {
        #[test]
        fn chunked_decoding_in_random_pieces(
            payload in proptest::collection::vec(any::<u8>(), 0..600),
            sizes in proptest::collection::vec(1usize..80, 1..8),
            cuts in proptest::collection::vec(1usize..40, 1..50),
        ) {
            let wire = chunked(&payload, &sizes);
            let mut d = ChunkedDecoder::default();
            let mut out = Vec::new();
            let mut rest = &wire[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                let (piece, r) = rest.split_at(n);
                prop_assert_eq!(d.feed(piece, &mut out).unwrap(), n);
                rest = r;
                i += 1;
            }
            prop_assert!(d.is_done());
            prop_assert_eq!(out, payload);
        }

        #[test]
        fn commands_split_across_chunks_reassemble(
            sizes in proptest::collection::vec(1usize..20, 1..6),
            cuts in proptest::collection::vec(1usize..30, 1..10),
        ) {
            let payload: &[u8] = b"a1 LOGIN joe#dev secret\r\na2 APPEND INBOX {11}\r\nHello\r\nabc\r\na3 IDLE\r\nDONE\r\n";
            let wire = chunked(payload, &sizes);
            let mut a = LineAssembler::default();
            let mut msgs = Vec::new();
            let mut rest = &wire[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                let (piece, r) = rest.split_at(n);
                a.feed(piece).unwrap();
                while let Some(m) = a.next().unwrap() {
                    msgs.push(m);
                }
                rest = r;
                i += 1;
            }
            prop_assert!(a.is_done());
            prop_assert_eq!(msgs.len(), 4);
            prop_assert_eq!(msgs.last(), Some(&ClientMessage::Done));
        }
    }

    #[test]
    fn lines_split_across_chunks() {
        let mut a = LineAssembler::default();
        a.feed(b"5\r\na1 NO\r\n").unwrap();
        assert_eq!(a.next().unwrap(), None);
        // The rest of a1 and all of a2 in one chunk, a3's start too.
        a.feed(&encode_chunk(b"OP\r\na2 NOOP\r\na3 CAP")).unwrap();
        assert!(
            matches!(a.next().unwrap(), Some(ClientMessage::Command(c)) if c.tag.as_bytes() == b"a1")
        );
        assert!(
            matches!(a.next().unwrap(), Some(ClientMessage::Command(c)) if c.tag.as_bytes() == b"a2")
        );
        assert_eq!(a.next().unwrap(), None);
        a.feed(&encode_chunk(b"ABILITY\r\n")).unwrap();
        a.feed(LAST_CHUNK).unwrap();
        assert!(
            matches!(a.next().unwrap(), Some(ClientMessage::Command(c)) if c.tag.as_bytes() == b"a3")
        );
        assert!(a.is_done());
    }

    #[test]
    fn chunks_and_message_splitting() {
        // TV-07-A.2-c.
        assert_eq!(
            encode_chunk(b"2 CAPABILITY\r\n"),
            b"e\r\n2 CAPABILITY\r\n\r\n"
        );
        assert_eq!(
            encode_chunk(b"2 OK CAPABILITY completed\r\n").get(..4),
            Some(&b"1b\r\n"[..])
        );
        assert!(encode_chunk(b"").is_empty());
        let out = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 4)\r\n* 2 FETCH (BODY[1] ~{2}\r\n{})\r\n\
            * OK {bad}\r\n+ idling\r\na1 OK done\r\n* 3 EX";
        let (m, rest) = split_messages(out);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0], b"* 1 FETCH (BODY[] {5}\r\nab\r\nc UID 4)\r\n");
        assert_eq!(m[1], b"* 2 FETCH (BODY[1] ~{2}\r\n{})\r\n");
        assert_eq!(m[2], b"* OK {bad}\r\n");
        assert_eq!(rest, b"* 3 EX");
        // A literal whose data has not arrived is incomplete.
        assert_eq!(split_messages(b"* 1 FETCH (BODY[] {50}\r\nab").0.len(), 0);
    }

    #[test]
    fn cookies() {
        assert_eq!(session_cookie("JSESSIONID=abc"), Some("abc"));
        assert_eq!(session_cookie("a=b; jsessionid=\"xyz\" ; c=d"), Some("xyz"));
        assert_eq!(session_cookie("a=b"), None);
        assert_eq!(session_cookie("bare"), Some("bare"));
        assert_eq!(session_cookie("  "), None);
    }

    // ------------------------------------------------------------------ sessions

    mod sessions {
        use super::*;
        use pimap_server::blocking::{CollectingNotifier, Driver, NoSubmission};
        use pimap_server::{SeededRandom, ServerConfig};
        use pimap_store_memory::MemoryStore;

        type D = Driver<MemoryStore, NoSubmission, CollectingNotifier>;

        fn driver() -> D {
            let mut store = MemoryStore::new();
            store.add_user("alice", "alicepw");
            for _ in 0..2 {
                store.inject(
                    "alice",
                    "INBOX",
                    b"Subject: hi\r\n\r\nhello\r\n",
                    Vec::new(),
                    None,
                );
            }
            let _ = store.take_changes();
            let server = Server::with_parts(
                ServerConfig::default(),
                Box::new(SeededRandom::new(7)),
                Box::new(pimap_server::MemoryPersistence::new()),
            );
            Driver::new(server, store, NoSubmission, CollectingNotifier::default())
        }

        fn sessions(config: HttpConfig) -> HttpSessions {
            HttpSessions::with_random(config, Box::new(SeededRandom::new(3)))
        }

        /// Drive the server, route its actions, and collect the events.
        fn pump(d: &mut D, h: &mut HttpSessions, now: Instant) -> Vec<HttpEvent> {
            for a in d.run(now) {
                assert_eq!(h.handle_action(a), None, "every connection is an HTTP one");
            }
            std::iter::from_fn(|| h.poll_event()).collect()
        }

        fn post(
            d: &mut D,
            h: &mut HttpSessions,
            cookie: Option<&str>,
            body: &[u8],
            now: Instant,
        ) -> HttpResponse {
            let PostResult::Accepted { exchange, .. } = h.post(&mut d.server, cookie, body, now)
            else {
                panic!("rejected")
            };
            let ev = pump(d, h, now);
            match ev.as_slice() {
                [HttpEvent::Response {
                    exchange: e,
                    response,
                }] if *e == exchange => response.clone(),
                other => panic!("unexpected events {other:?}"),
            }
        }

        fn text(r: &HttpResponse) -> String {
            String::from_utf8_lossy(&r.body).into_owned()
        }

        #[test]
        fn cookie_flow() {
            let now = Instant::now();
            let mut d = driver();
            let mut h = sessions(HttpConfig::default());
            let r = post(
                &mut d,
                &mut h,
                None,
                b"a1 LOGIN alice#dev1 alicepw\r\na2 SELECT INBOX\r\na3 FETCH 1:* (UID FLAGS)\r\n",
                now,
            );
            let t = text(&r);
            assert_eq!(r.status, 200, "{t}");
            assert_eq!(r.content_type, TEXT_PLAIN);
            assert!(
                !t.contains("CAPABILITY IMAP4rev1"),
                "greeting swallowed: {t}"
            );
            assert!(t.contains("* SESSIONID "), "{t}");
            assert!(t.contains("* 2 EXISTS\r\n"), "{t}");
            assert!(t.contains("* 1 FETCH (UID 1 FLAGS ()"), "{t}");
            assert!(t.ends_with("a3 OK FETCH completed\r\n"), "{t}");
            assert!(r.outcome.authenticated);
            let set = r.set_cookie.clone().unwrap();
            assert!(set.ends_with("; path=/pimap"), "{set}");
            let value = set
                .strip_prefix("JSESSIONID=")
                .and_then(|s| s.split(';').next())
                .unwrap()
                .to_string();
            assert_eq!(value.len(), 32);
            assert!(value.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(h.session_count(), 1);

            // A new message is polled with the next command of the same session.
            d.store.inject(
                "alice",
                "INBOX",
                b"Subject: new\r\n\r\nx\r\n",
                Vec::new(),
                None,
            );
            assert!(pump_sync(&mut d, &mut h, now).is_empty());
            let cookie = format!("other=1; JSESSIONID={value}");
            let r = post(&mut d, &mut h, Some(&cookie), b"b1 NOOP\r\n", now);
            let t = text(&r);
            assert_eq!(r.set_cookie, None);
            assert!(t.contains("* 3 EXISTS\r\n"), "{t}");
            assert!(t.ends_with("b1 OK completed\r\n"), "{t}");

            // NO and BAD stay 200 under -08; the outcome records them.
            let r = post(
                &mut d,
                &mut h,
                Some(&cookie),
                b"c1 SELECT Nope\r\nc2 FROB\r\n",
                now,
            );
            assert_eq!(r.status, 200);
            assert!(r.outcome.any_no && r.outcome.any_bad, "{}", text(&r));

            // An unknown cookie starts a new (unauthenticated) connection.
            let r = post(&mut d, &mut h, Some("JSESSIONID=feed"), b"x1 NOOP\r\n", now);
            assert!(r.set_cookie.is_some());
            assert!(!r.outcome.authenticated);
            assert_eq!(h.session_count(), 2);

            // LOGOUT ends the session: the cookie is forgotten.
            let r = post(&mut d, &mut h, Some(&cookie), b"z1 LOGOUT\r\n", now);
            assert!(text(&r).contains("* BYE"));
            assert!(!r.outcome.authenticated);
            assert_eq!(h.session_count(), 1);
            // LOGOUT also ends the device session (spec §6).
            assert!(!d.server.has_session(b"alice", b"dev1"));
            assert_eq!(d.server.connection_count(), 1);
        }

        fn pump_sync(d: &mut D, h: &mut HttpSessions, now: Instant) -> Vec<HttpEvent> {
            for a in d.sync_store(now) {
                assert_eq!(h.handle_action(a), None);
            }
            std::iter::from_fn(|| h.poll_event()).collect()
        }

        fn cookie_of(r: &HttpResponse) -> String {
            let set = r.set_cookie.clone().unwrap();
            set.split(';').next().unwrap().to_string()
        }

        #[test]
        fn idle_as_last_command_carries_over() {
            let now = Instant::now();
            let mut d = driver();
            let mut h = sessions(HttpConfig::new(12));
            let r = post(
                &mut d,
                &mut h,
                None,
                b"a1 LOGIN alice#dev1 alicepw\r\na2 SELECT INBOX\r\na3 IDLE\r\n",
                now,
            );
            assert_eq!(r.status, 100, "{}", text(&r));
            assert!(r.outcome.continuation_pending);
            assert!(text(&r).ends_with("+ idling\r\n"), "{}", text(&r));
            assert!(r.set_cookie.as_deref().unwrap().ends_with("path=/lemonade"));
            let cookie = cookie_of(&r);

            // Pushed while idling: kept for the next response.
            d.store.inject(
                "alice",
                "INBOX",
                b"Subject: new\r\n\r\nx\r\n",
                Vec::new(),
                None,
            );
            assert!(pump_sync(&mut d, &mut h, now).is_empty());
            let r = post(&mut d, &mut h, Some(&cookie), b"DONE\r\nb1 NOOP\r\n", now);
            let t = text(&r);
            assert_eq!(r.status, 200, "{t}");
            assert!(t.starts_with("* 3 EXISTS\r\n"), "{t}");
            assert!(t.contains("a3 OK IDLE terminated\r\n"), "{t}");
            assert!(t.ends_with("b1 OK completed\r\n"), "{t}");

            // -12: a batch with IDLE not last is refused with 500 and a tagged BAD.
            let PostResult::Rejected { error, response } =
                h.post(&mut d.server, Some(&cookie), b"c1 IDLE\r\nc2 NOOP\r\n", now)
            else {
                panic!()
            };
            assert!(matches!(error, HttpError::ContinuationNotLast { .. }));
            assert_eq!(response.status, 500);
            assert!(response.body.starts_with(b"c1 BAD "));
        }

        #[test]
        fn authenticate_across_posts() {
            let now = Instant::now();
            let mut d = driver();
            let mut h = sessions(HttpConfig::new(12));
            let r = post(&mut d, &mut h, None, b"a1 AUTHENTICATE PLAIN\r\n", now);
            assert_eq!(r.status, 100, "{}", text(&r));
            let cookie = cookie_of(&r);
            // "\0alice#dev9\0alicepw"
            // Nothing may follow the data: the server reads it only after AUTHENTICATE ends.
            let PostResult::Rejected { error, .. } = h.post(
                &mut d.server,
                Some(&cookie),
                b"AGFsaWNlI2RldjkAYWxpY2Vwdw==\r\na2 NOOP\r\n",
                now,
            ) else {
                panic!()
            };
            assert_eq!(error, HttpError::CommandsAfterAuthData);
            let r = post(
                &mut d,
                &mut h,
                Some(&cookie),
                b"AGFsaWNlI2RldjkAYWxpY2Vwdw==\r\n",
                now,
            );
            let t = text(&r);
            assert!(t.contains("* SESSIONID "), "{t}");
            assert!(t.ends_with("a1 OK LOGIN completed\r\n"), "{t}");
            assert_eq!(r.status, 200, "{t}");
            assert!(r.outcome.authenticated);
        }

        #[test]
        fn old_drafts_report_unauthenticated_and_failures() {
            let now = Instant::now();
            let mut d = driver();
            let mut h = sessions(HttpConfig::new(1));
            let r = post(&mut d, &mut h, None, b"a1 LOGIN alice wrong\r\n", now);
            assert_eq!(r.status, 401, "{}", text(&r));
            assert_eq!(r.content_type, PIMAP_CONTENT_TYPE);
            let cookie = cookie_of(&r);
            let r = post(
                &mut d,
                &mut h,
                Some(&cookie),
                b"a2 LOGIN alice alicepw\r\na3 SELECT Nope\r\n",
                now,
            );
            assert_eq!(r.status, 400, "{}", text(&r));
            let r = post(&mut d, &mut h, Some(&cookie), b"a4 NOOP\r\n", now);
            assert_eq!(r.status, 200, "{}", text(&r));
        }

        #[test]
        fn busy_limits_and_expiry() {
            let now = Instant::now();
            let mut d = driver();
            let mut h = sessions(HttpConfig {
                max_sessions: 1,
                idle_expiry: Duration::from_secs(60),
                ..HttpConfig::default()
            });
            // Accepted but not yet driven: a second POST on the session is busy.
            let PostResult::Accepted { .. } =
                h.post(&mut d.server, None, b"a1 LOGIN alice#dev1 alicepw\r\n", now)
            else {
                panic!()
            };
            let ev = pump(&mut d, &mut h, now);
            let Some(HttpEvent::Response { response, .. }) = ev.first() else {
                panic!()
            };
            let cookie = cookie_of(response);
            let PostResult::Accepted { .. } =
                h.post(&mut d.server, Some(&cookie), b"b1 NOOP\r\n", now)
            else {
                panic!()
            };
            let PostResult::Rejected { error, response } =
                h.post(&mut d.server, Some(&cookie), b"b2 NOOP\r\n", now)
            else {
                panic!()
            };
            assert_eq!(error, HttpError::SessionBusy);
            assert_eq!(response.status, 409);
            let _ = pump(&mut d, &mut h, now);
            // The session limit.
            let PostResult::Rejected { error, .. } =
                h.post(&mut d.server, None, b"x NOOP\r\n", now)
            else {
                panic!()
            };
            assert_eq!(error, HttpError::TooManySessions { limit: 1 });
            // Idle expiry closes the server connection; the device session remains.
            let due = h.poll_timeout().unwrap();
            assert_eq!(due, now + Duration::from_secs(60));
            h.handle_timeout(&mut d.server, due - Duration::from_secs(1));
            assert_eq!(h.session_count(), 1);
            h.handle_timeout(&mut d.server, due);
            assert_eq!(h.session_count(), 0);
            assert_eq!(h.poll_timeout(), None);
            assert_eq!(d.server.connection_count(), 0);
            assert!(d.server.has_session(b"alice", b"dev1"));
            // The old cookie starts a new connection; LOGIN resumes the device session.
            let r = post(
                &mut d,
                &mut h,
                Some(&cookie),
                b"c1 LOGIN alice#dev1 alicepw\r\n",
                due,
            );
            assert!(r.set_cookie.is_some());
            assert!(text(&r).contains("* SESSION"), "{}", text(&r));
        }

        #[test]
        fn persistent_stream_one_message_per_chunk() {
            let now = Instant::now();
            let mut d = driver();
            let mut h = sessions(HttpConfig::default());
            let s = h.open_stream(&mut d.server, now).unwrap();
            assert!(pump(&mut d, &mut h, now).is_empty(), "greeting swallowed");
            // Payload pieces split mid-line, as chunks may be.
            for piece in [
                &b"c1 LOGIN alice#dev2 al"[..],
                b"icepw\r\nc1a XSETPIMAPPREF PIMAP_XFILTER (INBOX N ALL)\r\n",
                b"c2 SELECT INBOX\r\nc3 ID",
                b"LE\r\n",
            ] {
                h.stream_input(&mut d.server, s, piece, now).unwrap();
            }
            let mut lines: Vec<Bytes> = Vec::new();
            for ev in pump(&mut d, &mut h, now) {
                let HttpEvent::StreamData { stream, messages } = ev else {
                    panic!()
                };
                assert_eq!(stream, s);
                lines.extend(messages);
            }
            assert!(lines.iter().all(|l| l.ends_with(b"\r\n")));
            assert!(lines.iter().all(|l| memchr(b'\n', l) == Some(l.len() - 1)));
            assert_eq!(lines.last().map(|l| &l[..]), Some(&b"+ idling\r\n"[..]));
            // A push while idling.
            d.store.inject(
                "alice",
                "INBOX",
                b"Subject: new\r\n\r\nx\r\n",
                Vec::new(),
                None,
            );
            let ev = pump_sync(&mut d, &mut h, now);
            assert_eq!(
                ev,
                [HttpEvent::StreamData {
                    stream: s,
                    messages: vec![Bytes::from_static(b"* 3 EXISTS\r\n")]
                }]
            );
            h.stream_input(&mut d.server, s, b"DONE\r\nc4 LOGOUT\r\n", now)
                .unwrap();
            let ev = pump(&mut d, &mut h, now);
            assert_eq!(ev.last(), Some(&HttpEvent::StreamEnd { stream: s }));
            assert_eq!(h.stream_count(), 0);
            assert!(matches!(
                h.stream_input(&mut d.server, s, b"x\r\n", now),
                Err(HttpError::UnknownStream(_))
            ));
        }

        #[test]
        fn http1_rendering() {
            let r = HttpResponse {
                status: 200,
                content_type: TEXT_PLAIN,
                set_cookie: Some("JSESSIONID=ab; path=/pimap".into()),
                body: b"a1 OK done\r\n".to_vec(),
                outcome: BatchOutcome::default(),
            };
            let w = String::from_utf8(r.to_http1(false)).unwrap();
            assert_eq!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\
                 Set-Cookie: JSESSIONID=ab; path=/pimap\r\n\r\na1 OK done\r\n"
            );
            let z = r.to_http1(true);
            let split = z.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            assert!(String::from_utf8_lossy(&z[..split]).contains("Content-Encoding: gzip"));
            assert_eq!(gunzip(&z[split + 4..]), r.body);
        }
    }
}
