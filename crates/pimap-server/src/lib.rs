//! The server side: a sans-IO P-IMAP server state machine.
//!
//! [`Server`] owns the connections and the device sessions that outlive them (spec §6).
//! It never touches a socket, a clock or a store: the caller feeds it bytes
//! ([`Server::handle_input`]), store changes ([`Server::mailbox_changed`]) and request
//! replies ([`Server::complete`]), and drains [`Output`]s: bytes to transmit, requests to
//! perform (authentication, [`StoreOp`]s addressed by UID, XDELIVER [`Submission`]s),
//! out-of-band [`Notification`]s and closes. Time is passed in; randomness (session ids) comes
//! from a [`RandomSource`].
//!
//! What happens inside:
//!
//! * **Connections**: greeting with the configured capabilities, every RFC 3501 command
//!   dispatched as a typed request, `BAD` with the right tag on bad syntax (then the next
//!   command), `+` for synchronizing literals, IDLE/DONE, LOGOUT, AUTHENTICATE PLAIN,
//!   XTERSE, XZIP (the wrapped command's responses deflated into `* XZIP ~{n}`, or gzip
//!   `* {n}` for -01).
//! * **Device sessions** keyed by (user, device) from a `user#device[@domain]` login:
//!   resumed on the next login with `* SESSION`, `* FOLDER`, the queued events of the selected
//!   folder, `* RESYNC` when events were dropped, and `* SESSIONID` (-06+); expired after
//!   [`ServerConfig::session_expiry`] of inactivity; ended by LOGOUT. A login without a device
//!   id is a plain IMAP session, which refuses the P-IMAP-only commands.
//! * **Filters and preferences** per device ([`DeviceProfile`], persisted through
//!   [`Persistence`]): XSETPIMAPPREF / XGETPIMAPPREFS validated against XPROVISION, XFILTER
//!   generation 1 (per folder V/N/B) and 3 (named filters activated with PIMAP_XFILTER), the
//!   event filter ALL/NONE/NEW, and XMACRO definitions.
//! * **Events** (spec §1.2): folder events are always pushed; a message change outside the
//!   device's view filter is ignored; one that passes the notification and event filters is
//!   pushed, the rest are polled. Events wait in bounded per-folder queues in UID terms and
//!   are numbered when delivered, so a resumed device sees exactly the stream a connected
//!   one would have seen. A full queue is dropped and the device is owed `* RESYNC`.
//! * **Push**: to a connection in IDLE, or at once with PIMAP_INBAND_PUSH ON; new messages
//!   as `* n FETCH (...)` when PIMAP_INBAND_NEW_FORMAT names items the store supplied in
//!   [`MessageProps`] (else `* n EXISTS`); a device with no connection gets an out-of-band
//!   OMA EMN or EXTENDED notification on its PIMAP_OUTBAND_CHANNEL.
//!
//! Message sequence numbers belong to the server: they are positions in each device's
//! mobile repository (the selected folder filtered by its view filter, spec §1.7). The store
//! only sees UIDs.
//!
//! [`blocking`] wraps requests in [`blocking::Store`], [`blocking::Submitter`] and
//! [`blocking::Notifier`] traits for callers who prefer blocking calls; `memory` is an
//! in-memory store (feature `memory-store`, on by default).
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use pimap_server::{Output, Reply, Request, SeededRandom, Server, ServerConfig, MemoryPersistence};
//!
//! let now = Instant::now();
//! let mut server = Server::with_parts(
//!     ServerConfig::default(),
//!     Box::new(SeededRandom::new(1)),
//!     Box::new(MemoryPersistence::new()),
//! );
//! let conn = server.accept(now)?;
//! server.handle_input(conn, b"a1 LOGIN joe#P6505551234 secret\r\n", now)?;
//! let mut wire = Vec::new();
//! while let Some(out) = server.poll_output() {
//!     match out {
//!         Output::Transmit { data, .. } => wire.extend_from_slice(&data),
//!         Output::Request { id, request: Request::Authenticate { user, .. }, .. } => {
//!             assert_eq!(&user[..], b"joe");
//!             server.complete(id, Reply::Ok, now)?; // the caller checked the password
//!         }
//!         _ => {}
//!     }
//! }
//! let wire = String::from_utf8(wire)?;
//! assert!(wire.starts_with("* OK [CAPABILITY IMAP4rev1"));
//! assert!(wire.contains("\r\n* SESSIONID "));
//! assert!(wire.ends_with("a1 OK LOGIN completed\r\n"));
//! assert!(server.has_session(b"joe", b"P6505551234"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blocking;
mod change;
mod commands;
mod config;
mod connection;
mod esearch;
mod fetch_plan;
mod fetch_stream;
pub mod filter;
mod ledger;
mod outband;
mod output;
mod pimap;
mod profile;
mod props;
mod random;
mod request;
#[allow(clippy::module_inception)]
mod server;
mod session;
mod tls;
mod xdeliver;

pub use self::change::MailboxChange;
pub use self::config::{default_capabilities, Provisioning, ServerConfig};
pub use self::filter::{Filter, FilterError, SearchClock};
pub use self::output::{ConnId, Notification, Output};
pub use self::profile::{
    DeviceProfile, FilterRef, FolderFilters, MemoryPersistence, NamedFilter, Persistence, Prefs,
};
pub use self::props::MessageProps;
pub use self::random::{OsRandom, RandomSource, SeededRandom};
pub use self::request::{
    MailboxSnapshot, MessageSnapshot, Reply, Request, RequestId, StoreOp, Submission, SubmitError,
};
pub use self::server::{Server, ServerError};

/// Gives the payload cipher of a device, for EXTENDED notifications and HELLO (spec §7.5,
/// §7.6). The drafts' ciphers ("64-bit AES") are not implementable as written, so the
/// caller supplies real cryptography.
pub trait CipherProvider: Send {
    /// The cipher of a device, or `None` when it has no key.
    fn cipher_for(
        &mut self,
        user: &[u8],
        device: &[u8],
    ) -> Option<&mut dyn pimap_notify::PayloadCipher>;
}
