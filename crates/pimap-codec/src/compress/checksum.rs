//! CRC-32 (ISO-HDLC, as in gzip, RFC 1952 §8) and Adler-32 (zlib, RFC 1950 §9).
//!
//! The CRC is table-driven, eight bytes at a time ("slicing-by-8"); the tables are computed at
//! compile time.

/// The reflected CRC-32 polynomial.
const POLY: u32 = 0xEDB8_8320;

/// `TABLES[0]` is the classic byte table; `TABLES[k][b]` is the CRC of byte `b` followed by `k`
/// zero bytes.
static TABLES: [[u32; 256]; 8] = make_tables();

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            k += 1;
        }
        i += 1;
    }
    t
}

/// Look up one table entry. `b` is a byte, so the index is always in bounds.
#[inline(always)]
fn t(k: usize, b: u32) -> u32 {
    match TABLES.get(k) {
        Some(table) => table[(b & 0xff) as usize],
        None => 0,
    }
}

/// A running CRC-32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32(!0)
    }
}

impl Crc32 {
    /// Feed more bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        let mut c = self.0;
        let mut chunks = data.chunks_exact(8);
        for ch in &mut chunks {
            let Ok([b0, b1, b2, b3, b4, b5, b6, b7]) = <[u8; 8]>::try_from(ch) else {
                continue;
            };
            let lo = u32::from_le_bytes([b0, b1, b2, b3]) ^ c;
            let hi = u32::from_le_bytes([b4, b5, b6, b7]);
            c = t(7, lo)
                ^ t(6, lo >> 8)
                ^ t(5, lo >> 16)
                ^ t(4, lo >> 24)
                ^ t(3, hi)
                ^ t(2, hi >> 8)
                ^ t(1, hi >> 16)
                ^ t(0, hi >> 24);
        }
        for &b in chunks.remainder() {
            c = (c >> 8) ^ t(0, c ^ u32::from(b));
        }
        self.0 = c;
    }

    /// The CRC of everything fed so far.
    pub(crate) fn value(self) -> u32 {
        !self.0
    }
}

/// CRC-32 of `data` in one go.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::default();
    c.update(data);
    c.value()
}

/// A running Adler-32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Adler32 { a: 1, b: 0 }
    }
}

impl Adler32 {
    const MOD: u32 = 65_521;
    /// Largest n such that 255n(n+1)/2 + (n+1)(MOD-1) fits in 32 bits.
    const NMAX: usize = 5552;

    /// Feed more bytes.
    pub(crate) fn update(&mut self, data: &[u8]) {
        let (mut a, mut b) = (self.a, self.b);
        for chunk in data.chunks(Self::NMAX) {
            for &x in chunk {
                a += u32::from(x);
                b += a;
            }
            a %= Self::MOD;
            b %= Self::MOD;
        }
        self.a = a;
        self.b = b;
    }

    /// The checksum of everything fed so far.
    pub(crate) fn value(self) -> u32 {
        (self.b << 16) | self.a
    }
}

/// Adler-32 of `data` in one go.
#[cfg(test)]
pub(crate) fn adler32(data: &[u8]) -> u32 {
    let mut c = Adler32::default();
    c.update(data);
    c.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc_bitwise(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        for len in 0..data.len() {
            assert_eq!(crc32(&data[..len]), crc_bitwise(&data[..len]), "len {len}");
        }
        // Incremental at every split point.
        for split in 0..40 {
            let mut c = Crc32::default();
            c.update(&data[..split]);
            c.update(&data[split..]);
            assert_eq!(c.value(), crc_bitwise(&data));
        }
    }

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let big = vec![0xffu8; 100_000];
        // Reference: straightforward modular sums.
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + u64::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(u64::from(adler32(&big)), (b << 16) | a);
    }
}
