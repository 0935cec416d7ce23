//! An in-memory message store: the embedded default for examples, tests and the demo server
//! (feature `memory-store`, on by default).
//!
//! [`MemoryStore`] keeps users (with passwords), their mailboxes and messages in memory and
//! answers every [`Request`](pimap_server::Request) the server hands out through
//! [`MemoryStore::handle`]. Every change it makes, whether asked by a request or by
//! [`MemoryStore::inject`] (a delivery), is recorded and handed out, in order, by
//! [`MemoryStore::take_changes`]; feed them to the server before completing the request.
//! Messages are parsed with [mail-parser](https://crates.io/crates/mail-parser) once, when
//! they arrive, into their [`MessageProps`](pimap_server::MessageProps).
//!
//! ```
//! use bytes::Bytes;
//! use pimap_store_memory::MemoryStore;
//! use pimap_server::{Reply, Request, StoreOp};
//! use pimap_types::{FetchAttr, FetchItem, Mailbox};
//!
//! let mut store = MemoryStore::new();
//! store.add_user("alice", "secret");
//! let uid = store
//!     .inject(
//!         "alice",
//!         "INBOX",
//!         b"From: Bob <bob@example.org>\r\nSubject: Hello\r\n\r\nHi Alice!\r\n",
//!         vec![],
//!         None,
//!     )
//!     .expect("delivered");
//!
//! let reply = store.handle(&Request::Store {
//!     user: Bytes::from_static(b"alice"),
//!     op: StoreOp::Fetch {
//!         mailbox: Mailbox::inbox(),
//!         uids: vec![uid],
//!         items: vec![FetchAttr::Envelope],
//!     },
//! });
//! let Reply::Fetched(messages) = reply else { panic!("{reply:?}") };
//! let [(fetched_uid, items)] = messages.as_slice() else { panic!() };
//! assert_eq!(*fetched_uid, uid);
//! let [FetchItem::Envelope(envelope)] = items.as_slice() else { panic!() };
//! assert_eq!(envelope.subject.as_ref().map(|s| s.as_bytes()), Some(&b"Hello"[..]));
//! let from = &envelope.from[0];
//! assert_eq!(from.mailbox.as_ref().map(|s| s.as_bytes()), Some(&b"bob"[..]));
//! assert_eq!(from.host.as_ref().map(|s| s.as_bytes()), Some(&b"example.org"[..]));
//!
//! // The delivery was recorded: INBOX was created, then the message arrived.
//! assert_eq!(store.take_changes().len(), 2);
//! ```
//!
//! # Semantics
//!
//! * **Users**: [`MemoryStore::add_user`] creates a user with an empty, subscribed `INBOX`.
//!   `Authenticate` succeeds when the password matches (the `domain` part of the request is
//!   not used); any other request for an unknown user gets `NO`.
//! * **Mailboxes**: the hierarchy delimiter is `/`; `INBOX` (and `INBOX` as the first level
//!   of a name) is case-insensitive. CREATE makes missing parents and ignores a trailing
//!   delimiter; names are at most [`MAX_MAILBOX_NAME`] octets and hold no `*`, `%` or empty
//!   level. DELETE removes one mailbox (never `INBOX`; inferiors stay). RENAME moves
//!   inferiors along; renaming `INBOX` moves its messages to the new name and leaves an
//!   empty `INBOX` behind (recorded as `Renamed` then `Created` of `INBOX`). Every new
//!   mailbox gets the next UIDVALIDITY of a store-wide counter that starts at
//!   [`FIRST_UID_VALIDITY`], so a store built by the same calls is always the same.
//!   Subscriptions are names apart from the mailboxes: CREATE subscribes nothing, DELETE
//!   leaves the name subscribed (RFC 3501 6.3.6), RENAME moves the subscriptions of the
//!   renamed names along. SUBSCRIBE needs an existing mailbox; UNSUBSCRIBE needs a
//!   subscribed name (existing or not).
//! * **LIST / LSUB**: RFC 3501 patterns (`*` matches anything, `%` anything but `/`) after
//!   the reference; `LIST "" ""` gives `(\Noselect) "/" ""`. LIST also shows missing
//!   parents as `\Noselect`; every entry carries `\HasChildren` or `\HasNoChildren`. LSUB
//!   gives the subscribed names (one whose mailbox is gone as `\Noselect`) and, where a `%`
//!   stops above a subscribed name, its unsubscribed parent as `\Noselect` (RFC 3501
//!   6.3.9).
//! * **SELECT**: all messages ascending by UID; `FLAGS` are the five system flags plus the
//!   keywords in use, `PERMANENTFLAGS` the system flags and `\*`.
//! * **`\Recent`**: each mailbox keeps the first UID no read-write SELECT has taken
//!   ([`MailboxSnapshot::first_recent`](pimap_server::MailboxSnapshot)); the server gives the
//!   messages arriving while a mailbox is selected to one session.
//! * **STATUS**: `MESSAGES`, `RECENT` (messages no SELECT has taken yet), `UIDNEXT`,
//!   `UIDVALIDITY`, `UNSEEN` and `SIZE`; other items are left out.
//! * **APPEND**: `\Recent` and `\*` are dropped from the flags; the internal date defaults
//!   to the store's clock ([`MemoryStore::set_clock`]; the epoch until set). An unknown
//!   mailbox gives `NO [TRYCREATE]`.
//! * **FETCH**: `FLAGS`, `INTERNALDATE`, `RFC822.SIZE`, `ENVELOPE`, `BODY`,
//!   `BODYSTRUCTURE` (with extension data: MD5, disposition, language, location), `RFC822`,
//!   `RFC822.HEADER`, `RFC822.TEXT`, `BODY[section]<partial>` and `BODY.PEEK` (whole
//!   message, part numbers, `HEADER`, `HEADER.FIELDS`, `HEADER.FIELDS.NOT`, `TEXT`,
//!   `MIME`; a missing part gives an empty string), `BINARY[part]<partial>`,
//!   `BINARY.PEEK` and `BINARY.SIZE` (base64 and quoted-printable removed) and `UID`, in
//!   request order, for the UIDs that exist. Left out: `MODSEQ`, `XZIP`, `XZIP.SIZE`,
//!   conversions (`BODY[n.XCONVERT ...]`) and `BINARY` with a text selector. `BODY[...]`,
//!   `BINARY[...]`, `RFC822` and `RFC822.TEXT` set `\Seen` (recorded as a flag change);
//!   the server turns them into their `.PEEK` forms for EXAMINE, as the store does not
//!   know the session. NUL octets, which IMAP4rev1 strings cannot carry, are sent as
//!   spaces in `BODY`/`RFC822` data (`BINARY` sends them as they are).
//! * **SEARCH**: [`evaluate`](pimap_server::filter::evaluate) over each message with its flags,
//!   UID and sequence number (position in the mailbox); the charset is not checked.
//! * **STORE**: only real changes are recorded. **COPY / MOVE**: messages keep their flags
//!   and internal date; an unknown target gives `NO [TRYCREATE]`; when none of the UIDs
//!   exists the reply is `Copied` with empty lists. **EXPUNGE**: removes `\Deleted`
//!   messages (only those listed, for UID EXPUNGE).
//! * **Submit** (XDELIVER) is refused: the store has no way to send mail.
//!
//! # Limits
//!
//! Messages up to [`MAX_MESSAGE_SIZE`] (64 MiB), [`MAX_MAILBOXES`] (10 000) mailboxes per
//! user, [`MAX_MESSAGES`] (1 000 000) messages per mailbox, [`MAX_FLAGS`] flags per
//! message: beyond them the request gets `NO`. At most [`MAX_PENDING_CHANGES`]
//! (1 000 000) changes wait for [`MemoryStore::take_changes`]: the caller must drain them;
//! beyond that the oldest are dropped and the affected mailboxes are reported with
//! [`MailboxChange::UidValidity`](pimap_server::MailboxChange::UidValidity) so that devices
//! resynchronise (never a silent loss). `BODYSTRUCTURE` describes parts to a nesting depth
//! of 32. Parsing never panics, whatever the octets.
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod list;
mod mime;
mod store;

pub use self::store::{
    MemoryStore, FIRST_UID_VALIDITY, MAX_FLAGS, MAX_MAILBOXES, MAX_MAILBOX_NAME, MAX_MESSAGES,
    MAX_MESSAGE_SIZE, MAX_PENDING_CHANGES,
};

impl pimap_server::blocking::Store for MemoryStore {
    fn handle(&mut self, request: &pimap_server::Request) -> pimap_server::Reply {
        MemoryStore::handle(self, request)
    }

    fn take_changes(
        &mut self,
    ) -> Vec<(
        bytes::Bytes,
        pimap_types::Mailbox,
        pimap_server::MailboxChange,
    )> {
        MemoryStore::take_changes(self)
    }
}

/// The [`MessageProps`](pimap_server::MessageProps) of a raw RFC 5322 message, as the
/// server's filters and SEARCH see them (folded headers unfolded, RFC 2047 words decoded,
/// text parts decoded, ENVELOPE and BODYSTRUCTURE): for an embedder whose own store hands
/// the server [`MailboxChange::New`](pimap_server::MailboxChange::New) and snapshots. The
/// same as [`MemoryStore::props_of`]; never panics, whatever the octets.
///
/// ```
/// let raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n  menu\r\nFrom: a@example.org\r\n\r\nbody\r\n";
/// let props = pimap_store_memory::message_props(raw, None);
/// assert_eq!(props.size as usize, raw.len());
/// assert!(props.headers.iter().any(|(n, v)| n.as_ref() == b"Subject" && v.as_ref() == "café menu".as_bytes()));
/// ```
pub fn message_props(
    raw: &[u8],
    internal_date: Option<pimap_types::DateTime>,
) -> pimap_server::MessageProps {
    MemoryStore::props_of(raw, internal_date)
}
