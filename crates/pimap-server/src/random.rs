//! Randomness for session ids, injected so tests are deterministic.

/// A source of random bytes. Session ids are bearer tokens (spec §6.4), so production
/// sources must be cryptographically secure; [`OsRandom`] is.
pub trait RandomSource: Send {
    /// Fill `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The operating system's CSPRNG (via the `getrandom` crate). The default.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // The OS refused (practically impossible on supported platforms). Fall back to
            // the keys of std's `RandomState`, which the standard library also draws from the
            // OS, hashed with a counter; never panic, never return a constant.
            use std::hash::{BuildHasher, Hasher};
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let state = std::collections::hash_map::RandomState::new();
            for chunk in buf.chunks_mut(8) {
                let mut h = state.build_hasher();
                h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                for (d, s) in chunk.iter_mut().zip(h.finish().to_le_bytes()) {
                    *d = s;
                }
            }
        }
    }
}

/// A deterministic generator (SplitMix64) for tests and simulations. **Not secure.**
#[derive(Debug, Clone)]
pub struct SeededRandom(u64);

impl SeededRandom {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(v) {
                *d = s;
            }
        }
    }
}

/// Alphabet of session ids (SID-CHAR without `-`/`_`, so ids are atoms and tag-safe).
const SID_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new session id of `len` characters (log2(62) = 5.95 bits each; rejection sampling keeps
/// the characters uniform).
pub(crate) fn session_id(rng: &mut dyn RandomSource, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut raw = [0u8; 32];
    // Bounded: each byte is accepted with probability 248/256; 64 rounds cannot all fail in
    // practice, and a broken source that only yields rejected bytes gets a short id.
    for _ in 0..64 {
        rng.fill(&mut raw);
        for b in raw {
            if out.len() == len {
                return out;
            }
            if b < 248 {
                if let Some(c) = SID_ALPHABET.get(usize::from(b % 62)) {
                    out.push(*c as char);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_long_distinct_and_tag_safe() {
        let mut os = OsRandom;
        let a = session_id(&mut os, 22);
        let b = session_id(&mut os, 22);
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        let mut s1 = SeededRandom::new(5);
        let mut s2 = SeededRandom::new(5);
        assert_eq!(session_id(&mut s1, 16), session_id(&mut s2, 16));
    }
}
