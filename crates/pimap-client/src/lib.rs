//! Sans-IO P-IMAP client session (spec §3.3, §6, §7).
//!
//! [`Client`] is a state machine: the caller moves bytes between it and a socket (or any other
//! transport), passes the current time, and reads typed [`Event`]s:
//!
//! * greeting, CAPABILITY and dialect detection (spec §10.3), LITERAL+ when advertised,
//!   synchronizing literals sent only after `+`;
//! * pipelining: any number of commands in flight, each completion reported as one
//!   [`Completion`] with its tagged status and the untagged data it produced;
//! * P-IMAP login with `user#device[@domain]`: the outcome (fresh, resumed AUTHENTICATED,
//!   resumed SELECTED with the queued events applied, RESYNC required) — events received
//!   during LOGIN are held until its tagged OK (E-73); SESSIONID kept as a secret; untagged
//!   `LOGIN` or BYE end the session;
//! * an exact [`MailboxView`] of the selected mailbox (EXPUNGE renumbering, FETCH beyond the
//!   count as an implicit EXISTS, VANISHED with QRESYNC, UIDVALIDITY change);
//! * IDLE with automatic refresh before [`ClientConfig::idle_refresh`];
//! * a state-comparison [`SyncPlan`] after RESYNC or a fresh login;
//! * client-side macros ([`ClientMacro`]).
//!
//! Limits: [`ClientConfig`] bounds the queued commands, the data gathered per completion and
//! the events buffered during LOGIN; the decoder limits bound each server message.
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod capabilities;
#[allow(clippy::module_inception)]
mod client;
mod config;
mod event;
mod macros;
mod mailbox;
mod sync;

pub use capabilities::ServerCapabilities;
pub use client::{Client, ClientError, ClientState};
pub use config::ClientConfig;
pub use event::{
    CommandHandle, Completion, Event, GreetingKind, LoginOutcome, MacroHandle, Output, XZipPart,
};
pub use macros::{ClientMacro, MacroError, MAX_MACRO_COMMANDS};
pub use mailbox::{MailboxEvent, MailboxView, MessageEntry, ViewError, MAX_MESSAGES};
pub use sync::{listing_command, plan, LocalFolder, ServerListing, SyncPlan};
