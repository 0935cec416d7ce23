//! The data model: values only, no parsing, no I/O.
//!
//! Values hold [`bytes::Bytes`] slices of the frame they were decoded from (no lifetimes, no
//! copies of literal payloads) and are valid by construction.

pub mod body;
pub mod command;
pub mod core;
pub mod fetch;
pub mod pimap;
pub mod response;
pub mod search;
pub mod xmacro;

pub use self::body::*;
pub use self::command::*;
pub use self::core::*;
pub use self::fetch::*;
pub use self::pimap::*;
pub use self::response::*;
pub use self::search::*;
pub use self::xmacro::*;
