//! This crate's `XRESUME` extension: exact resumption of a device session after a connection
//! dropped with pushed data in flight.
//!
//! A P-IMAP server keeps a device session across connections and resumes it at the next
//! LOGIN with the events the device missed. The drafts leave open what happens to events
//! already written to a connection that then died before the device read them: they may be
//! lost. `XRESUME` closes that gap:
//!
//! * The server advertises the capability `XRESUME`.
//! * Before `LOGIN` (or `AUTHENTICATE`), a client that knows the extension sends
//!   `tag XRESUME NONE` (first login) or `tag XRESUME <epoch> <offset>`: the position of the
//!   last response it applied.
//! * When that login attaches a device session, the server's first untagged response is
//!   `* OK [XRESUME <epoch>] ...`: a new *epoch* (one per attachment of the session to a
//!   connection). The *offset* is the number of octets of complete responses the client has
//!   processed on this connection after the end of that line (after decompression with
//!   COMPRESS=DEFLATE).
//! * At the next resumption the server replays exactly the events written after that
//!   position, renumbered against the state the client had, and nothing before it. A position
//!   it cannot honour (older than what it kept, inside an XZIP response, before a SELECT that
//!   the client may not have seen) is answered with `* RESYNC`, never with silence.
//! * In the authenticated state `tag XRESUME <epoch> <offset>` acknowledges a position, so the
//!   server can forget what precedes it.
//!
//! A client without the extension that drops the connection without LOGOUT after events were
//! written to it is sent `* RESYNC` on resumption (the drafts' rule).

/// A position in the stream of responses of one attachment of a device session.
///
/// Ordered by epoch, then offset.
///
/// ```
/// use pimap_types::ResumeCursor;
/// let a = ResumeCursor { epoch: 3, offset: 900 };
/// let b = ResumeCursor { epoch: 4, offset: 0 };
/// assert!(a < b);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ResumeCursor {
    /// The attachment (`* OK [XRESUME epoch]`).
    pub epoch: u64,
    /// Octets of complete responses processed after the `XRESUME` line.
    pub offset: u64,
}
