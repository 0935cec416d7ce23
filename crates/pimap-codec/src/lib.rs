//! Bytes to types and back.
//!
//! * [`framer`]: resumable line + literal framer with limits.
//! * [`CommandDecoder`] / [`ResponseDecoder`]: feed bytes, take typed values.
//! * [`Encode`]: strict, dialect-aware writers into [`bytes::BytesMut`], with a fragment
//!   view for synchronizing literals.
//!
//! Decoding works in two steps: the framer cuts the stream into complete messages (lines plus
//! literal bodies, which it skips by count), then a hand-written recursive-descent parser
//! reads one complete frame. The parser never sees partial input, so it never has to restart.
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod base64;
pub mod compress;
pub mod decode;
mod decoder;
pub mod dialect;
pub mod encode;
pub mod framer;

pub use decoder::{decode_response, CommandDecoder, DecodeError, DecoderOptions, ResponseDecoder};
pub use dialect::{Dialect, Tolerance};
pub use encode::{Encode, EncodeOptions, Encoder, Fragment};
pub use framer::{FrameError, Framer, FramerLimits, LiteralAnnouncement, Role};
