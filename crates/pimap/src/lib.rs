//! # pimap: sans-IO P-IMAP (Push Extensions to IMAP) and IMAP4rev1
//!
//! `pimap` turns bytes into typed IMAP4rev1 and P-IMAP values and back, with no sockets,
//! threads or clocks. It implements the IETF drafts draft-maes-lemonade-p-imap-00…-12,
//! sending the draft -08 dialect (or -01) and reading every draft's spelling tolerantly.
//!
//! * [`types`]: the data model (commands, responses, FETCH data, body structures, search
//!   keys, and the P-IMAP items: preferences, filters, provisioning, XDELIVER, XZIP, session
//!   responses, XMACRO).
//! * [`codec`]: the resumable [`codec::Framer`], the streaming [`codec::CommandDecoder`] and
//!   [`codec::ResponseDecoder`], and the strict [`codec::Encode`] trait.
//! * [`compress`]: XZIP (gzip and DEFLATE, all generations) and COMPRESS=DEFLATE, bounded.
//! * [`notify`]: out-of-band notification payloads (OMA EMN, EXTENDED, HELLO) and channel limits.
//! * [`http`]: the HTTP binding, sans-IO: request bodies, content types, status codes per
//!   draft, gzip content coding, chunked persistent mode, and cookie / stream sessions over
//!   the [`server::Server`].
//!
//! ## Quick start
//!
//! Decode a command (as a server would), then encode a response:
//!
//! ```
//! use pimap::codec::{CommandDecoder, Dialect, Encode};
//! use pimap::types::*;
//!
//! let mut decoder = CommandDecoder::default();
//! decoder.feed(b"A003 XGETPIMAPPREFS (PIMAP_OUTBAND_CHANNEL)\r\n");
//! let Some(ClientMessage::Command(cmd)) = decoder.next()? else { unreachable!() };
//! assert_eq!(cmd.body, CommandBody::XGetPimapPrefs {
//!     name: PrefCommandName::Current,
//!     prefs: vec![PrefName::OutbandChannel],
//! });
//!
//! let data = Response::Data(Data::XGetPimapPrefs {
//!     name: PrefCommandName::Current,
//!     prefs: vec![(PrefName::OutbandChannel, PrefValue::String(IString::try_from("SMS")?))],
//! });
//! let done = Response::Status(StatusResponse {
//!     tag: Some(cmd.tag.clone()),
//!     status: Status::Ok,
//!     code: None,
//!     text: "XGETPIMAPPREFS completed".into(),
//! });
//! let mut wire = data.to_vec(Dialect::Draft08);
//! wire.extend(done.to_vec(Dialect::Draft08));
//! assert_eq!(
//!     wire,
//!     b"* XGETPIMAPPREFS (PIMAP_OUTBAND_CHANNEL SMS)\r\nA003 OK XGETPIMAPPREFS completed\r\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Limits and tolerance
//!
//! Every buffer is bounded ([`codec::FramerLimits`]: 1 MiB per line, 64 MiB per literal,
//! 100 MiB per message by default; nesting depth 64). A message over a limit, or with bad
//! syntax, yields a typed [`codec::DecodeError`] carrying its tag, and decoding continues with
//! the next message. Reading is tolerant by default ([`codec::Tolerance::Drafts`]: every
//! alias and typo of the drafts listed in the spec's errata) and can be made strict.
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use pimap_codec as codec;
pub use pimap_codec::compress;
pub use pimap_types as types;

#[cfg(feature = "client")]
pub use pimap_client as client;

#[cfg(feature = "http")]
pub use pimap_http as http;

#[cfg(feature = "server")]
pub use pimap_notify as notify;

/// The server state machine ([`pimap-server`](pimap_server)) and, with the `memory-store`
/// feature, the in-memory store as `server::memory`
/// ([`pimap-store-memory`](pimap_store_memory)).
#[cfg(feature = "server")]
pub mod server {
    pub use pimap_server::*;
    #[cfg(feature = "memory-store")]
    pub use pimap_store_memory as memory;
}
