//! Content types, HTTP status codes per draft, gzip content coding.

use crate::*;

// ------------------------------------------------------------------------ content types

/// Is this `Content-Type` header value acceptable for a request? `application/vnd.pimap`
/// and `application/vnd.lemonade`, case-insensitive, parameters ignored (spec §8.1.2:
/// receivers accept both).
pub fn content_type_ok(value: &str) -> bool {
    let media = value.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case(PIMAP_CONTENT_TYPE)
        || media.eq_ignore_ascii_case(LEMONADE_CONTENT_TYPE)
}

/// The request `Content-Type` a client of `draft` sends (spec §8.1.2):
/// `application/vnd.pimap` up to -08, `application/vnd.lemonade` from -09.
pub fn request_content_type(draft: u8) -> &'static str {
    if draft <= 8 {
        PIMAP_CONTENT_TYPE
    } else {
        LEMONADE_CONTENT_TYPE
    }
}

/// The response `Content-Type` a server of `draft` sends (spec §8.1.2):
/// `application/vnd.pimap` up to -06, `text/plain` from -07.
pub fn response_content_type(draft: u8) -> &'static str {
    if draft <= 6 {
        PIMAP_CONTENT_TYPE
    } else {
        TEXT_PLAIN
    }
}

// ------------------------------------------------------------------------ status codes

/// What happened to a batch, for [`status_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchOutcome {
    /// Some command was answered `BAD`.
    pub any_bad: bool,
    /// Some command was answered `NO`.
    pub any_no: bool,
    /// The response ends with a `+` continuation request (IDLE, AUTHENTICATE).
    pub continuation_pending: bool,
    /// The session is authenticated after the batch.
    pub authenticated: bool,
    /// An internal failure prevented producing some IMAP responses (the connection was
    /// closed before every command was answered).
    pub internal_error: bool,
}

/// The HTTP status a server of `draft` answers a batch with (spec §8.1.3).
///
/// * -00…-02: 500 on an internal error, 401 if the session is not authenticated, 400 if any
///   command got BAD or NO, else 200.
/// * -03…-10 (and the default for unknown drafts): 500 on an internal error, else 200 —
///   BAD/NO still give 200.
/// * -11: 500 on an internal error or any BAD/NO, else 200.
/// * -12: 500 on an internal error, 100 if a continuation is pending, 401 if the session is
///   no longer authenticated, 500 on any BAD/NO, else 200.
///
/// The crate's resolution: **the body is authoritative**. Whatever the status, the client
/// parses the body when there is one; 401 means "session lost, log in again", 100 means
/// "send the continuation data in the next POST". HTTP stacks cannot always send 100 as a
/// final status with a body; a server that cannot should stay with a -07…-10 draft.
///
/// ```
/// use pimap_http::{status_for, BatchOutcome};
///
/// let no = BatchOutcome { any_no: true, authenticated: true, ..Default::default() };
/// assert_eq!(status_for(1, &no), 400);
/// assert_eq!(status_for(8, &no), 200);
/// assert_eq!(status_for(11, &no), 500);
/// ```
pub fn status_for(draft: u8, outcome: &BatchOutcome) -> u16 {
    if outcome.internal_error {
        return 500;
    }
    let failed = outcome.any_bad || outcome.any_no;
    match draft {
        0..=2 => {
            if !outcome.authenticated {
                401
            } else if failed {
                400
            } else {
                200
            }
        }
        11 if failed => 500,
        12 => {
            if outcome.continuation_pending {
                100
            } else if !outcome.authenticated {
                401
            } else if failed {
                500
            } else {
                200
            }
        }
        _ => 200,
    }
}

// ------------------------------------------------------------------------ gzip

/// Does an `Accept-Encoding` header value allow gzip? `gzip` (or `x-gzip`) with a q-value
/// above 0, or `*` above 0 when gzip is not listed; `gzip;q=0` refuses it.
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    let mut gzip: Option<f64> = None;
    let mut star: Option<f64> = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let mut q = 1.0;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    // An unreadable q-value counts as "not acceptable".
                    q = v.trim().parse::<f64>().unwrap_or(0.0);
                }
            }
        }
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(gzip.map_or(q, |g: f64| g.max(q)));
        } else if coding == "*" {
            star = Some(q);
        }
    }
    match gzip {
        Some(q) => q > 0.0,
        None => star.is_some_and(|q| q > 0.0),
    }
}

/// The response body to send and its `Content-Encoding` value: gzipped (level 6) with
/// `Some("gzip")` when `gzip` is set (the client accepted it, [`accepts_gzip`]), else the
/// body unchanged and `None`. The whole body is compressed "regardless of the IMAP commands
/// or session state" (spec §5.3).
pub fn encode_body(body: &[u8], gzip: bool) -> (Vec<u8>, Option<&'static str>) {
    if gzip {
        (pimap_codec::compress::gzip(body, 6), Some("gzip"))
    } else {
        (body.to_vec(), None)
    }
}
