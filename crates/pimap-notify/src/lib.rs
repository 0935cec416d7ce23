//! Out-of-band notifications (spec §7.4–7.7).
//!
//! When a P-IMAP client is not connected (or not listening in band), the server tells it
//! about mailbox changes through an *out-of-band* channel chosen with
//! `PIMAP_OUTBAND_CHANNEL` (SMS, GSM SMS, WAP push/WDP, MMS, UDP, SIP, ...) in the format
//! chosen with `PIMAP_OUTBAND_FORMAT`:
//!
//! * [`EmnNotification`]: the OMA E-mail Notification, a pure *wake-up*: the client connects
//!   and collects the pending events in band (§7.4);
//! * [`ExtendedNotification`]: the EXTENDED format carrying the event (and a message summary),
//!   encrypted with the device's key (§7.5);
//! * [`Hello`] / [`HelloReply`]: how a device registers with the notification delivery
//!   service, proving it holds the key (§7.6; server side in [`answer_hello`]);
//! * [`payload_limit`] / [`fit_to_channel`]: per-channel size limits (§7.7).
//!
//! Like the rest of the crate this module is sans-IO: it produces and reads payload bytes;
//! sending them over SMS, UDP or SIP is the application's adapter. Cryptography is pluggable
//! through [`PayloadCipher`], since the drafts' "64-bit AES" cannot be implemented.
//!
//! ```
//! use pimap_notify::{fit_to_channel, payload_limit, EmnNotification};
//! use pimap_types::Channel;
//!
//! let emn = EmnNotification {
//!     mailbox: "mailat:joe@foo.com".into(),
//!     timestamp_unix: 1_077_259_200,
//! };
//! let xml = emn.to_xml();
//! assert_eq!(
//!     xml,
//!     r#"<emn mailbox="mailat:joe@foo.com" timestamp="2004-02-20T06:40:00Z"></emn>"#
//! );
//! assert_eq!(payload_limit(&Channel::Sms), Some(140));
//! let sms = fit_to_channel(xml.into_bytes(), &Channel::Sms)?;
//! assert!(sms.len() <= 140);
//! assert_eq!(EmnNotification::parse(&sms)?, emn);
//! # Ok::<(), pimap_notify::NotifyError>(())
//! ```
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod channel;
mod cipher;
mod emn;
mod error;
mod extended;
mod hello;

pub use self::channel::{fit_to_channel, payload_limit};
pub use self::cipher::{PayloadCipher, XorTestCipher};
pub use self::emn::EmnNotification;
pub use self::error::NotifyError;
pub use self::extended::{ExtendedEvent, ExtendedNotification, MessageSummary, EXTENDED_MARKER};
pub use self::hello::{answer_hello, Hello, HelloReply};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64 (RFC 4648).
fn b64_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4usize {
            let sym = B64.get(((n >> (18 - 6 * i)) & 63) as usize).copied();
            out.push(if i <= chunk.len() {
                sym.unwrap_or(b'=')
            } else {
                b'='
            });
        }
    }
    out
}

/// Decode standard base64 (padding optional, CR/LF ignored); `None` if anything else is
/// invalid (other characters, data after padding, an impossible length).
fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits, mut symbols, mut pad) = (0u32, 0u32, 0usize, 0usize);
    for &c in text.iter().filter(|c| !matches!(c, b'\r' | b'\n')) {
        if c == b'=' {
            pad += 1;
            continue;
        }
        if pad > 0 {
            return None;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        symbols += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    let valid_len = symbols % 4 != 1 && (pad == 0 || (symbols + pad) % 4 == 0) && pad <= 2;
    valid_len.then_some(out)
}

/// `bytes` without leading and trailing ASCII whitespace (SP, TAB, CR, LF).
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Split off the first SP/TAB-separated word of `bytes` (after leading blanks).
fn next_word(bytes: &[u8]) -> (&[u8], &[u8]) {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let rest = bytes.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|b| matches!(b, b' ' | b'\t'))
        .unwrap_or(rest.len());
    let (word, tail) = rest.split_at(end);
    let skip = tail
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(tail.len());
    (word, tail.get(skip..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors_and_rejects() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64_encode(plain.as_bytes()), enc.as_bytes());
            assert_eq!(
                b64_decode(enc.as_bytes()).as_deref(),
                Some(plain.as_bytes())
            );
        }
        assert_eq!(b64_decode(b"Zm8").as_deref(), Some(&b"fo"[..]));
        assert_eq!(b64_decode(b"Zm9v\r\nYmFy").as_deref(), Some(&b"foobar"[..]));
        for bad in [&b"Z"[..], b"Zm=8", b"Zm 8", b"Zg===", b"Zm9vY===", b"@@@@"] {
            assert_eq!(b64_decode(bad), None, "{bad:?}");
        }
        assert_eq!(next_word(b"  HELLO  id x"), (&b"HELLO"[..], &b"id x"[..]));
        assert_eq!(trim(b" \r\n"), b"");
    }
}
