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
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use pimap_codec::Dialect;

mod body;
mod chunked;
mod content;
mod error;
mod sessions;

pub use self::body::*;
pub use self::chunked::*;
pub use self::content::*;
pub use self::error::*;
pub use self::sessions::*;

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

#[cfg(test)]
mod tests;
