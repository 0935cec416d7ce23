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
            // No OS entropy: fall back to a hash of the address space and time is not
            // acceptable for bearer tokens, so refuse loudly with a recognisable pattern
            // rather than panic; `Server` checks for all-zero ids and retries.
            buf.fill(0);
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
