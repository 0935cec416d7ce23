//! The server side: a sans-IO P-IMAP server state machine.
//!
//! (Module documentation is completed with the server.)

pub mod blocking;
mod change;
mod commands;
mod config;
pub mod filter;
#[cfg(feature = "memory-store")]
pub mod memory;
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
    MailboxSnapshot, MessageSnapshot, Reply, Request, RequestId, StoreOp, Submission,
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
    ) -> Option<&mut dyn crate::notify::PayloadCipher>;
}
