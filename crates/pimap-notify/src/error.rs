//! Errors of the out-of-band notification module.

/// Why a notification payload could not be parsed, decrypted or sized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The input does not have the expected shape; `what` names the offending part.
    #[error("malformed notification: {what}")]
    Malformed {
        /// The part that could not be read (e.g. `"timestamp"`, `"marker"`).
        what: &'static str,
    },
    /// The smallest encoding found is still larger than the channel allows.
    #[error("payload of {size} octets exceeds the channel limit of {limit} octets")]
    TooLarge {
        /// Size in octets of the smallest encoding that could be produced.
        size: usize,
        /// The channel's limit in octets.
        limit: usize,
    },
    /// The [`PayloadCipher`](super::PayloadCipher) rejected the ciphertext.
    #[error("notification payload could not be decrypted")]
    Decrypt,
}
