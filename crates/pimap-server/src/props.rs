//! Immutable message properties: what filters are evaluated over.

use bytes::Bytes;

use pimap_types::{BodyStructure, DateTime, Envelope};

/// The immutable properties of one message, supplied by the store with every change and
/// every SELECT listing. P-IMAP filters (spec §1.2) may only use immutable properties, so a
/// message's membership of the mobile and push repositories never changes after arrival.
///
/// Only `size` and `internal_date` are required; a store that supplies more header fields
/// makes more SEARCH keys usable in filters (a key over an absent header does not match).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MessageProps {
    /// `RFC822.SIZE` in octets.
    pub size: u32,
    /// `INTERNALDATE` (the arrival date). `None` for stores that do not know it.
    pub internal_date: Option<DateTime>,
    /// Header fields as (name, unfolded value), in message order. Filters use `From`, `To`,
    /// `Cc`, `Bcc`, `Subject`, `Date` and any `HEADER name value` the store includes.
    pub headers: Vec<(Bytes, Bytes)>,
    /// The decoded text of the body, for `BODY`/`TEXT` keys; `None` when not supplied (those
    /// keys then match nothing).
    pub body_text: Option<Bytes>,
    /// `ENVELOPE`, used to answer PIMAP_INBAND_NEW_FORMAT pushes without a store round trip.
    pub envelope: Option<Box<Envelope>>,
    /// `BODYSTRUCTURE`, used the same way.
    pub body_structure: Option<Box<BodyStructure>>,
}

impl MessageProps {
    /// Properties with only a size and an internal date.
    pub fn new(size: u32, internal_date: Option<DateTime>) -> Self {
        Self {
            size,
            internal_date,
            ..Self::default()
        }
    }

    /// Add a header field (builder style).
    pub fn with_header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first header field called `name` (case-insensitive).
    pub fn header(&self, name: &[u8]) -> Option<&Bytes> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}
