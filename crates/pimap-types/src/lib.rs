//! The data model: values only, no parsing, no I/O.
//!
//! Values hold [`bytes::Bytes`] slices of the frame they were decoded from (no lifetimes, no
//! copies of literal payloads) and are valid by construction.
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub(crate) mod body;
pub(crate) mod command;
pub mod core;
mod display;
pub(crate) mod esearch;
pub(crate) mod fetch;
pub(crate) mod notify;
pub(crate) mod pimap;
pub(crate) mod response;
pub(crate) mod search;
pub(crate) mod sort;
pub(crate) mod xmacro;
pub(crate) mod xresume;

pub use self::body::*;
pub use self::command::*;
pub use self::core::*;
pub use self::esearch::*;
pub use self::fetch::*;
pub use self::notify::*;
pub use self::pimap::*;
pub use self::response::*;
pub use self::search::*;
pub use self::sort::*;
pub use self::xmacro::*;
pub use self::xresume::*;
