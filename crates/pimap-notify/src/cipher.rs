//! The pluggable payload cipher.
//!
//! The drafts ask for payloads (EXTENDED notifications, the HELLO device ID, the reply's
//! endpoint) to be encrypted with the device's key, "64-bit AES or 64-bit Triple-DES". That is
//! not implementable as written: AES has no 64-bit variant (its block is 128 bits, keys are
//! 128/192/256 bits), 3DES keys are 112/168 bits, and no mode, IV or padding is specified (spec
//! E-51). The crate therefore does no cryptography itself: the application implements
//! [`PayloadCipher`] with whatever algorithm and key management its deployment agreed on (the
//! key is typically delivered through XPROVISION).

use super::NotifyError;

/// Encrypts and decrypts notification payloads with the device's key.
///
/// Implementations may be stateful (hence `&mut self`), e.g. to draw nonces. Ciphertext is
/// arbitrary bytes; the module base64-encodes it for text channels.
pub trait PayloadCipher {
    /// Encrypt `plaintext`.
    fn encrypt(&mut self, plaintext: &[u8]) -> Vec<u8>;
    /// Decrypt `ciphertext`; an error if it is not authentic or not decryptable.
    fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, NotifyError>;
}

/// A repeating-key XOR "cipher" **for tests only. It is NOT secure** (trivially broken with
/// known plaintext); it exists so tests and examples can exercise the encrypted code paths.
///
/// An empty key leaves data unchanged. Decryption never fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XorTestCipher {
    key: Vec<u8>,
}

impl XorTestCipher {
    /// A test cipher XOR-ing with `key`, repeated.
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    fn apply(&self, data: &[u8]) -> Vec<u8> {
        if self.key.is_empty() {
            return data.to_vec();
        }
        data.iter()
            .zip(self.key.iter().cycle())
            .map(|(d, k)| d ^ k)
            .collect()
    }
}

impl PayloadCipher for XorTestCipher {
    fn encrypt(&mut self, plaintext: &[u8]) -> Vec<u8> {
        self.apply(plaintext)
    }

    fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, NotifyError> {
        Ok(self.apply(ciphertext))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_round_trip_and_empty_key() {
        let mut c = XorTestCipher::new(b"k3y".to_vec());
        let ct = c.encrypt(b"hello world");
        assert_ne!(ct, b"hello world");
        assert_eq!(c.decrypt(&ct).as_deref(), Ok(&b"hello world"[..]));
        let mut id = XorTestCipher::new(Vec::new());
        assert_eq!(id.encrypt(b"abc"), b"abc");
    }
}
