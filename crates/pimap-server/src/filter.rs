//! SEARCH-key evaluation over one message, and P-IMAP view and notification filters.
//!
//! [`evaluate`] answers SEARCH criteria (RFC 3501 §6.4.4, WITHIN from RFC 5032 and the
//! P-IMAP additions `DAYSBEFORETODAY`, `NONE`, `FORWARDED` and `UNFORWARDED`) for one
//! message described by [`MessageFacts`]. A [`Filter`] is a criteria list restricted to the
//! immutable properties of a message (spec §1.2), so that whether a message belongs to the
//! mobile or push repository never changes after it arrived.
//!
//! Matching rules, for the keys where RFC 3501 leaves room:
//!
//! * String keys are case-insensitive substring tests with ASCII case folding over the raw
//!   header values the store supplied (no RFC 2047 decoding). An empty string is a substring
//!   of every value.
//! * `FROM`, `TO`, `CC`, `BCC` and `SUBJECT` test every header field of that name; an absent
//!   field counts as an empty value (as the envelope's `NIL`), so an empty string matches
//!   it and any other string does not.
//! * `HEADER name string` needs a field called `name`; with an empty string it matches every
//!   message that has that field.
//! * `BODY` tests [`MessageProps::body_text`]; when the store did not supply it, `BODY`
//!   matches nothing. `TEXT` tests the header fields (as `Name: value` lines) and the body.
//! * `BEFORE`, `ON` and `SINCE` compare the date part of the internal date as written in its
//!   own zone (RFC 3501: "disregarding time and timezone"); `SENTBEFORE`, `SENTON` and
//!   `SENTSINCE` do the same with the `Date:` header field, parsed tolerantly (RFC 5322,
//!   obsolete two- and three-digit years, asctime and ISO 8601 forms). A message without an
//!   internal date, or without a parsable `Date:` field, matches none of these keys.
//! * `YOUNGER n` matches when the message arrived at most `n` seconds before
//!   [`SearchClock::now_unix`]; `OLDER n` matches exactly the other messages with an
//!   internal date (so `NOT YOUNGER n` and `OLDER n` agree).
//! * `DAYSBEFORETODAY n` matches messages that arrived on or after local midnight (in
//!   [`SearchClock::zone_minutes`]) of today minus `n` days: `0` is today only.
//! * Flag keys look at [`MessageFacts::flags`]; when that is `None` (a filter), every flag
//!   key, positive or `UN`-prefixed, matches nothing. `RECENT` needs `\Recent` in the flags.
//! * `MODSEQ` matches nothing (mod-sequences are not among the facts); a saved sequence set
//!   (`$`) matches nothing.

use pimap_types::{Date, DateTime, Flag, SearchKey};

use super::props::MessageProps;

const SECS_PER_DAY: i64 = 86_400;

/// Deepest nesting of `NOT`/`OR`/`AND` that [`evaluate`] follows; deeper criteria match
/// nothing.
const MAX_DEPTH: usize = 256;

/// Days since the epoch of 0000-01-01, the first [`Date`].
const MIN_DAYS: i64 = -719_528;
/// Days since the epoch of 9999-12-31, the last [`Date`].
const MAX_DAYS: i64 = 2_932_896;

/// The caller's clock as filters need it.
///
/// "Today" (for `DAYSBEFORETODAY`) is the calendar date of [`now_unix`](Self::now_unix) in
/// the zone [`zone_minutes`](Self::zone_minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchClock {
    /// The current time in seconds since 1970-01-01T00:00:00Z.
    pub now_unix: i64,
    /// The user's zone offset in minutes east of UTC.
    pub zone_minutes: i16,
}

impl SearchClock {
    /// A clock at `now_unix` in UTC.
    pub fn from_unix(now_unix: i64) -> Self {
        Self {
            now_unix,
            zone_minutes: 0,
        }
    }

    /// Today's date in the clock's zone, clamped to the dates [`Date`] can hold
    /// (0000-01-01 to 9999-12-31).
    pub fn today(&self) -> Date {
        let days = self.today_days().clamp(MIN_DAYS, MAX_DAYS);
        // Every day count in MIN_DAYS..=MAX_DAYS is a valid `Date` (tested at both ends and
        // by the proptest over every clock); the epoch is a harmless fallback.
        Date::from_days_since_epoch(days).unwrap_or(Date::UNIX_EPOCH)
    }

    /// Today as days since the epoch, in the clock's zone (not clamped).
    fn today_days(&self) -> i64 {
        self.now_unix
            .saturating_add(i64::from(self.zone_minutes) * 60)
            .div_euclid(SECS_PER_DAY)
    }
}

/// What a search key can look at for one message.
#[derive(Debug, Clone, Copy)]
pub struct MessageFacts<'a> {
    /// The message's immutable properties.
    pub props: &'a MessageProps,
    /// Current flags (including `\Recent` when the message is recent in this session);
    /// `None` when evaluating a filter (flags are mutable and filters may not use them: flag
    /// keys never match).
    pub flags: Option<&'a [Flag]>,
    /// The message's UID (`0` when unknown: `UID` keys then match nothing).
    pub uid: u32,
    /// The message's sequence number (`0` when unknown: sequence sets then match nothing).
    pub seq: u32,
    /// The largest UID in the mailbox (the value of `*` in a `UID` key).
    pub max_uid: u32,
    /// The number of messages in the mailbox (the value of `*` in a sequence set).
    pub max_seq: u32,
}

/// Evaluate SEARCH criteria (AND-ed) for one message.
///
/// Covers RFC 3501 §6.4.4, WITHIN (`YOUNGER`/`OLDER`, RFC 5032) and the P-IMAP keys
/// `DAYSBEFORETODAY n` (internal date on or after local midnight of today minus `n` days;
/// `0` is today only), `NONE` (matches nothing) and `FORWARDED`/`UNFORWARDED` (the
/// `\Forwarded` flag). See the [module documentation](self) for the exact matching rules.
/// An empty list matches every message; criteria nested deeper than 256 levels match
/// nothing. Never panics.
pub fn evaluate(criteria: &[SearchKey], facts: &MessageFacts<'_>, clock: &SearchClock) -> bool {
    let mut cx = Cx {
        facts,
        clock,
        sent: Lazy::Unknown,
    };
    cx.all(criteria, 0).unwrap_or(false)
}

/// Criteria nested deeper than [`MAX_DEPTH`].
struct TooDeep;

/// A value computed on first use.
enum Lazy<T> {
    Unknown,
    Known(T),
}

/// Evaluation context for one message.
struct Cx<'f, 'a> {
    facts: &'f MessageFacts<'a>,
    clock: &'f SearchClock,
    /// The parsed `Date:` header field (parsed once per evaluation).
    sent: Lazy<Option<Date>>,
}

impl Cx<'_, '_> {
    fn all(&mut self, keys: &[SearchKey], depth: usize) -> Result<bool, TooDeep> {
        for k in keys {
            if !self.key(k, depth)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn key(&mut self, key: &SearchKey, depth: usize) -> Result<bool, TooDeep> {
        use SearchKey as K;
        if depth > MAX_DEPTH {
            return Err(TooDeep);
        }
        let facts = self.facts;
        let props = facts.props;
        let clock = self.clock;
        Ok(match key {
            K::All => true,
            K::None => false,
            K::Not(k) => !self.key(k, depth + 1)?,
            K::Or(a, b) => self.key(a, depth + 1)? || self.key(b, depth + 1)?,
            K::And(keys) => self.all(keys, depth + 1)?,

            K::Answered => has_flag(facts, |f| matches!(f, Flag::Answered)),
            K::Unanswered => lacks_flag(facts, |f| matches!(f, Flag::Answered)),
            K::Deleted => has_flag(facts, |f| matches!(f, Flag::Deleted)),
            K::Undeleted => lacks_flag(facts, |f| matches!(f, Flag::Deleted)),
            K::Draft => has_flag(facts, |f| matches!(f, Flag::Draft)),
            K::Undraft => lacks_flag(facts, |f| matches!(f, Flag::Draft)),
            K::Flagged => has_flag(facts, |f| matches!(f, Flag::Flagged)),
            K::Unflagged => lacks_flag(facts, |f| matches!(f, Flag::Flagged)),
            K::Seen => has_flag(facts, |f| matches!(f, Flag::Seen)),
            K::Unseen => lacks_flag(facts, |f| matches!(f, Flag::Seen)),
            K::Recent => has_flag(facts, |f| matches!(f, Flag::Recent)),
            K::Old => lacks_flag(facts, |f| matches!(f, Flag::Recent)),
            K::New => {
                has_flag(facts, |f| matches!(f, Flag::Recent))
                    && lacks_flag(facts, |f| matches!(f, Flag::Seen))
            }
            K::Forwarded => has_flag(facts, |f| matches!(f, Flag::Forwarded)),
            K::Unforwarded => lacks_flag(facts, |f| matches!(f, Flag::Forwarded)),
            K::Keyword(k) => has_flag(facts, |f| is_keyword(f, k.as_bytes())),
            K::Unkeyword(k) => lacks_flag(facts, |f| is_keyword(f, k.as_bytes())),

            K::From(s) => address_contains(props, b"From", s.as_bytes()),
            K::To(s) => address_contains(props, b"To", s.as_bytes()),
            K::Cc(s) => address_contains(props, b"Cc", s.as_bytes()),
            K::Bcc(s) => address_contains(props, b"Bcc", s.as_bytes()),
            K::Subject(s) => field_contains(props, b"Subject", s.as_bytes()),
            K::Header(name, s) => header_contains(props, name.as_bytes(), s.as_bytes()),
            K::Body(s) => props
                .body_text
                .as_ref()
                .is_some_and(|b| Needle::new(s.as_bytes()).found_in(b)),
            K::Text(s) => text_contains(props, s.as_bytes()),

            K::Before(d) => props.internal_date.is_some_and(|t| t.date() < *d),
            K::On(d) => props.internal_date.is_some_and(|t| t.date() == *d),
            K::Since(d) => props.internal_date.is_some_and(|t| t.date() >= *d),
            K::SentBefore(d) => self.sent_date().is_some_and(|s| s < *d),
            K::SentOn(d) => self.sent_date().is_some_and(|s| s == *d),
            K::SentSince(d) => self.sent_date().is_some_and(|s| s >= *d),

            K::Larger(n) => props.size > *n,
            K::Smaller(n) => props.size < *n,

            K::Uid(set) => facts.uid != 0 && set.contains(facts.uid, facts.max_uid),
            K::SequenceSet(set) => facts.seq != 0 && set.contains(facts.seq, facts.max_seq),
            K::ModSeq { .. } => false,

            K::Younger(n) => age(props, clock).is_some_and(|a| a <= i128::from(*n)),
            K::Older(n) => age(props, clock).is_some_and(|a| a > i128::from(*n)),
            K::DaysBeforeToday(n) => props.internal_date.is_some_and(|t| {
                let local = unix_time(&t).saturating_add(i64::from(clock.zone_minutes) * 60);
                local.div_euclid(SECS_PER_DAY) >= clock.today_days().saturating_sub(i64::from(*n))
            }),
        })
    }

    /// The date part of the `Date:` header field, parsed on first use.
    fn sent_date(&mut self) -> Option<Date> {
        match self.sent {
            Lazy::Known(d) => d,
            Lazy::Unknown => {
                let d = self
                    .facts
                    .props
                    .header(b"Date")
                    .and_then(|v| parse_date_header(v));
                self.sent = Lazy::Known(d);
                d
            }
        }
    }
}

/// The flags are known and one satisfies `pred`.
fn has_flag(facts: &MessageFacts<'_>, pred: impl Fn(&Flag) -> bool) -> bool {
    facts.flags.is_some_and(|fl| fl.iter().any(pred))
}

/// The flags are known and none satisfies `pred`.
fn lacks_flag(facts: &MessageFacts<'_>, pred: impl Fn(&Flag) -> bool) -> bool {
    facts.flags.is_some_and(|fl| !fl.iter().any(pred))
}

/// Is `f` the keyword `k` (compared case-insensitively)?
fn is_keyword(f: &Flag, k: &[u8]) -> bool {
    matches!(f, Flag::Keyword(a) if a.as_bytes().eq_ignore_ascii_case(k))
}

/// Seconds from the internal date to the clock's now (negative for a future date).
fn age(props: &MessageProps, clock: &SearchClock) -> Option<i128> {
    props
        .internal_date
        .map(|t| i128::from(clock.now_unix) - i128::from(unix_time(&t)))
}

/// The instant of a date-time, in seconds since 1970-01-01T00:00:00Z.
fn unix_time(t: &DateTime) -> i64 {
    let (h, m, s) = t.time();
    // |days| < 3·10⁶, so nothing here can overflow.
    t.date().days_since_epoch() * SECS_PER_DAY
        + i64::from(h) * 3600
        + i64::from(m) * 60
        + i64::from(s)
        - i64::from(t.zone_minutes()) * 60
}

/// A search string, lower-cased once.
struct Needle(Vec<u8>);

impl Needle {
    fn new(s: &[u8]) -> Self {
        Self(s.to_ascii_lowercase())
    }

    /// Is the needle a substring of `hay`, ignoring ASCII case?
    fn found_in(&self, hay: &[u8]) -> bool {
        if self.0.is_empty() {
            return true;
        }
        if hay.len() < self.0.len() {
            return false;
        }
        if hay.iter().any(u8::is_ascii_uppercase) {
            memchr::memmem::find(&hay.to_ascii_lowercase(), &self.0).is_some()
        } else {
            memchr::memmem::find(hay, &self.0).is_some()
        }
    }
}

/// `FROM`/`TO`/`CC`/`BCC`/`SUBJECT`: some field `name` contains `s`; an absent field is an
/// empty value.
fn field_contains(props: &MessageProps, name: &[u8], s: &[u8]) -> bool {
    let needle = Needle::new(s);
    let mut values = fields(props, name).peekable();
    if values.peek().is_none() {
        return s.is_empty();
    }
    values.any(|v| needle.found_in(v))
}

/// `FROM`/`TO`/`CC`/`BCC`: as [`field_contains`], on the addresses with their comments
/// (RFC 5322 `(...)`, nested, outside quoted strings) removed: `alice (not bob) <a@x>` does
/// not match `bob`.
fn address_contains(props: &MessageProps, name: &[u8], s: &[u8]) -> bool {
    let needle = Needle::new(s);
    let mut values = fields(props, name).peekable();
    if values.peek().is_none() {
        return s.is_empty();
    }
    values.any(|v| needle.found_in(&without_comments(v)))
}

/// `v` without its RFC 5322 comments (each replaced by one space).
fn without_comments(v: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr(b'(', v).is_none() {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut depth = 0u32;
    let mut quoted = false;
    let mut escaped = false;
    for &b in v {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(b);
            }
            continue;
        }
        match b {
            b'\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(b);
                }
            }
            b'"' if depth == 0 => {
                quoted = !quoted;
                out.push(b);
            }
            b'(' if !quoted => {
                if depth == 0 {
                    out.push(b' ');
                }
                depth = depth.saturating_add(1);
            }
            b')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(b),
            _ => {}
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `HEADER name s`: some field `name` exists and contains `s`.
fn header_contains(props: &MessageProps, name: &[u8], s: &[u8]) -> bool {
    let needle = Needle::new(s);
    fields(props, name).any(|v| needle.found_in(v))
}

/// The values of every header field called `name` (case-insensitive).
fn fields<'p>(props: &'p MessageProps, name: &'p [u8]) -> impl Iterator<Item = &'p [u8]> + 'p {
    props
        .headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// `TEXT s`: the header (as `Name: value` lines) or the body contains `s`.
fn text_contains(props: &MessageProps, s: &[u8]) -> bool {
    let needle = Needle::new(s);
    if needle.0.is_empty() {
        return true;
    }
    let len = props
        .headers
        .iter()
        .map(|(n, v)| n.len().saturating_add(v.len()).saturating_add(4))
        .fold(0usize, usize::saturating_add);
    let mut header = Vec::with_capacity(len);
    for (n, v) in &props.headers {
        header.extend_from_slice(n);
        header.extend_from_slice(b": ");
        header.extend_from_slice(v);
        header.extend_from_slice(b"\r\n");
    }
    needle.found_in(&header) || props.body_text.as_ref().is_some_and(|b| needle.found_in(b))
}

/// The calendar date of a `Date:` header field value, in the sender's zone.
///
/// Tolerant: accepts RFC 5322 (`[Day,] d Mon yyyy hh:mm[:ss] zone`, with or without the
/// day name, comma or seconds, full month names, obsolete 2- and 3-digit years), IMAP
/// `d-Mon-yyyy`, asctime (`Day Mon d hh:mm:ss yyyy`) and ISO 8601 (`yyyy-mm-dd...`).
/// Returns `None` for anything else.
fn parse_date_header(v: &[u8]) -> Option<Date> {
    let toks: Vec<&[u8]> = v
        .split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',' | b'-'))
        .filter(|t| !t.is_empty())
        .map(|t| t.strip_suffix(b".").unwrap_or(t))
        .take(6)
        .collect();
    let mut t = toks.as_slice();
    // An optional day name ("Tue", "Tuesday").
    if let [first, rest @ ..] = t {
        if first.iter().all(u8::is_ascii_alphabetic) && month(first).is_none() {
            t = rest;
        }
    }
    // RFC 5322 and IMAP: day month year.
    if let [d, m, y, ..] = t {
        if let (Some(d), Some(m), Some(y)) = (day(d), month(m), year(y)) {
            return Date::new(y, m, d).ok();
        }
    }
    // asctime: month day [time] year.
    if let [m, d, rest @ ..] = t {
        if let (Some(m), Some(d)) = (month(m), day(d)) {
            let y = rest
                .iter()
                .take(2)
                .find(|tok| !tok.contains(&b':'))
                .and_then(|tok| year(tok))?;
            return Date::new(y, m, d).ok();
        }
    }
    // ISO 8601: yyyy-mm-dd, possibly followed by "Thh:mm...".
    if let [y, m, d, ..] = t {
        return iso_date(y, m, d);
    }
    None
}

/// `yyyy`, `mm` and `dd` (possibly followed by a time) as an ISO 8601 date.
fn iso_date(y: &[u8], m: &[u8], d: &[u8]) -> Option<Date> {
    if y.len() != 4 {
        return None;
    }
    let digits = d.iter().take_while(|b| b.is_ascii_digit()).count();
    let d = day(d.get(..digits)?)?;
    let m = number(m).filter(|n| n.len_ok(2))?.value;
    let y = number(y)?.value;
    Date::new(u16::try_from(y).ok()?, u8::try_from(m).ok()?, d).ok()
}

/// A run of ASCII digits (at most 4) and its value.
struct Number {
    value: u32,
    digits: usize,
}

impl Number {
    fn len_ok(&self, max: usize) -> bool {
        (1..=max).contains(&self.digits)
    }
}

/// `tok` as a number of 1 to 4 digits.
fn number(tok: &[u8]) -> Option<Number> {
    if tok.is_empty() || tok.len() > 4 || !tok.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = tok
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some(Number {
        value,
        digits: tok.len(),
    })
}

/// A day of month (1 or 2 digits, 1..=31).
fn day(tok: &[u8]) -> Option<u8> {
    let n = number(tok)?;
    if !n.len_ok(2) || !(1..=31).contains(&n.value) {
        return None;
    }
    u8::try_from(n.value).ok()
}

/// A year: 4 digits as is; obsolete 2 digits (below 50 is 20xx, else 19xx) and 3 digits
/// (plus 1900) as RFC 5322 §4.3 says.
fn year(tok: &[u8]) -> Option<u16> {
    let n = number(tok)?;
    let y = match n.digits {
        2 if n.value < 50 => n.value + 2000,
        2 | 3 => n.value + 1900,
        4 => n.value,
        _ => return None,
    };
    u16::try_from(y).ok()
}

/// An English month name or abbreviation (case-insensitive, at least 3 letters).
fn month(tok: &[u8]) -> Option<u8> {
    const NAMES: [&[u8]; 12] = [
        b"january",
        b"february",
        b"march",
        b"april",
        b"may",
        b"june",
        b"july",
        b"august",
        b"september",
        b"october",
        b"november",
        b"december",
    ];
    if tok.len() < 3 || !tok.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let lower = tok.to_ascii_lowercase();
    NAMES
        .iter()
        .zip(1u8..)
        .find(|(name, _)| name.starts_with(&lower) || lower.starts_with(name))
        .map(|(_, m)| m)
}

/// Why a criteria list cannot be a [`Filter`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A key looks at a mutable property (flags, UIDs, sequence numbers, mod-sequences).
    #[error("filter key {key} uses a mutable message property")]
    Mutable {
        /// The key's name as written in IMAP (`SEEN`, `UID`, `MODSEQ`, ...).
        key: &'static str,
    },
    /// More keys than [`Filter::MAX_KEYS`], counting nested keys.
    #[error("filter is too large ({keys} keys, limit {limit})")]
    TooLarge {
        /// How many keys the criteria hold.
        keys: usize,
        /// The limit ([`Filter::MAX_KEYS`]).
        limit: usize,
    },
}

/// A view or notification filter: SEARCH criteria over immutable properties (spec §1.2).
///
/// Built by [`Filter::new`], which rejects every key over a mutable property, so that a
/// message's membership never changes after it arrived (except through the passing of time,
/// for `DAYSBEFORETODAY`, `YOUNGER` and `OLDER`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter {
    criteria: Vec<SearchKey>,
}

impl Filter {
    /// The most keys a filter may hold, counting the keys nested in `NOT`, `OR` and
    /// parenthesised lists (each `NOT`, `OR` and list counts too).
    pub const MAX_KEYS: usize = 256;

    /// Validate a criteria list (AND-ed; an empty list matches every message).
    ///
    /// Rejects, anywhere inside `NOT`, `OR` and parenthesised lists, the flag keys
    /// (`ANSWERED`, `DELETED`, `DRAFT`, `FLAGGED`, `NEW`, `OLD`, `RECENT`, `SEEN`, their `UN`
    /// forms, `KEYWORD`, `UNKEYWORD`, `FORWARDED`, `UNFORWARDED`), sequence sets, `UID` and
    /// `MODSEQ`; and lists of more than [`MAX_KEYS`](Self::MAX_KEYS) keys (checked first).
    /// `ALL`, `NONE` and `NOT ALL` are fine.
    pub fn new(criteria: Vec<SearchKey>) -> Result<Self, FilterError> {
        let mut keys = 0usize;
        let mut mutable = None;
        // Iterative, so that no nesting depth can exhaust the stack.
        let mut stack: Vec<&SearchKey> = criteria.iter().rev().collect();
        while let Some(k) = stack.pop() {
            keys += 1;
            if mutable.is_none() {
                mutable = mutable_key(k);
            }
            match k {
                SearchKey::Not(k) => stack.push(k),
                SearchKey::Or(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                SearchKey::And(ks) => stack.extend(ks.iter().rev()),
                _ => {}
            }
        }
        if keys > Self::MAX_KEYS {
            return Err(FilterError::TooLarge {
                keys,
                limit: Self::MAX_KEYS,
            });
        }
        if let Some(key) = mutable {
            return Err(FilterError::Mutable { key });
        }
        Ok(Self { criteria })
    }

    /// The filter that matches every message (`ALL`).
    pub fn all() -> Self {
        Self {
            criteria: vec![SearchKey::All],
        }
    }

    /// The filter that matches no message, spelt `NOT ALL` as drafts -02 and later do.
    pub fn none() -> Self {
        Self {
            criteria: vec![SearchKey::Not(Box::new(SearchKey::All))],
        }
    }

    /// The criteria (AND-ed).
    pub fn criteria(&self) -> &[SearchKey] {
        &self.criteria
    }

    /// Does the message match? Flags, UIDs and sequence numbers are not available to
    /// filters (and were rejected by [`Filter::new`]).
    pub fn matches(&self, props: &MessageProps, clock: &SearchClock) -> bool {
        let facts = MessageFacts {
            props,
            flags: None,
            uid: 0,
            seq: 0,
            max_uid: 0,
            max_seq: 0,
        };
        evaluate(&self.criteria, &facts, clock)
    }

    /// Is the filter literally `NONE` or `NOT ALL` (the spellings of "no messages")?
    pub fn matches_nothing(&self) -> bool {
        match self.criteria.as_slice() {
            [SearchKey::None] => true,
            [SearchKey::Not(k)] => matches!(**k, SearchKey::All),
            _ => false,
        }
    }
}

/// The IMAP name of `k` if it looks at a mutable property (not looking inside it).
fn mutable_key(k: &SearchKey) -> Option<&'static str> {
    use SearchKey as K;
    Some(match k {
        K::Answered => "ANSWERED",
        K::Deleted => "DELETED",
        K::Draft => "DRAFT",
        K::Flagged => "FLAGGED",
        K::New => "NEW",
        K::Old => "OLD",
        K::Recent => "RECENT",
        K::Seen => "SEEN",
        K::Unanswered => "UNANSWERED",
        K::Undeleted => "UNDELETED",
        K::Undraft => "UNDRAFT",
        K::Unflagged => "UNFLAGGED",
        K::Unseen => "UNSEEN",
        K::Keyword(_) => "KEYWORD",
        K::Unkeyword(_) => "UNKEYWORD",
        K::Forwarded => "FORWARDED",
        K::Unforwarded => "UNFORWARDED",
        K::Uid(_) => "UID",
        K::SequenceSet(_) => "sequence set",
        K::ModSeq { .. } => "MODSEQ",
        K::All
        | K::None
        | K::Not(_)
        | K::Or(..)
        | K::And(_)
        | K::Bcc(_)
        | K::Before(_)
        | K::Body(_)
        | K::Cc(_)
        | K::From(_)
        | K::Header(..)
        | K::Larger(_)
        | K::On(_)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_)
        | K::Since(_)
        | K::Smaller(_)
        | K::Subject(_)
        | K::Text(_)
        | K::To(_)
        | K::Younger(_)
        | K::Older(_)
        | K::DaysBeforeToday(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimap_types::{Atom, IString, SequenceSet};
    use proptest::prelude::*;

    fn s(x: &str) -> IString {
        IString::try_from(x).unwrap()
    }

    fn d(y: u16, m: u8, day: u8) -> Date {
        Date::new(y, m, day).unwrap()
    }

    fn dt(y: u16, mo: u8, day: u8, h: u8, mi: u8, sec: u8, zone: i16) -> DateTime {
        DateTime::new(d(y, mo, day), h, mi, sec, zone).unwrap()
    }

    fn not(k: SearchKey) -> SearchKey {
        SearchKey::Not(Box::new(k))
    }

    fn or(a: SearchKey, b: SearchKey) -> SearchKey {
        SearchKey::Or(Box::new(a), Box::new(b))
    }

    /// 2024-03-10 15:00:00 UTC.
    const NOW: i64 = 1_710_082_800;

    fn clock() -> SearchClock {
        SearchClock::from_unix(NOW)
    }

    fn sample() -> MessageProps {
        let mut p = MessageProps::new(2000, Some(dt(2024, 3, 10, 12, 0, 0, 60)))
            .with_header("From", "Alice <alice@Example.COM>")
            .with_header("To", "bob@example.org")
            .with_header("Cc", "carol@example.net")
            .with_header("Subject", "Quarterly Report")
            .with_header("Date", "Sun, 10 Mar 2024 11:59:00 +0100")
            .with_header("X-Priority", "1")
            .with_header("Received", "from a")
            .with_header("received", "from b");
        p.body_text = Some("Hello World, see attached".into());
        p
    }

    fn facts<'a>(props: &'a MessageProps, flags: Option<&'a [Flag]>) -> MessageFacts<'a> {
        MessageFacts {
            props,
            flags,
            uid: 5,
            seq: 3,
            max_uid: 10,
            max_seq: 7,
        }
    }

    /// Evaluate one key without flags.
    fn eval(k: SearchKey, p: &MessageProps) -> bool {
        evaluate(&[k], &facts(p, None), &clock())
    }

    #[test]
    fn clock_today_and_extremes() {
        assert_eq!(SearchClock::from_unix(NOW).today(), d(2024, 3, 10));
        assert_eq!(SearchClock::from_unix(0).today(), d(1970, 1, 1));
        assert_eq!(SearchClock::from_unix(-1).today(), d(1969, 12, 31));
        // 23:30 UTC is already tomorrow at +01:00, still today at -05:00.
        let late = NOW + 8 * 3600 + 1800;
        let c = |zone_minutes| SearchClock {
            now_unix: late,
            zone_minutes,
        };
        assert_eq!(c(60).today(), d(2024, 3, 11));
        assert_eq!(c(-300).today(), d(2024, 3, 10));
        assert_eq!(c(0).today(), d(2024, 3, 10));
        // The clamp bounds are exactly the first and last representable dates.
        assert_eq!(d(0, 1, 1).days_since_epoch(), MIN_DAYS);
        assert_eq!(d(9999, 12, 31).days_since_epoch(), MAX_DAYS);
        for (now_unix, zone_minutes) in [(i64::MIN, i16::MIN), (i64::MAX, i16::MAX)] {
            let c = SearchClock {
                now_unix,
                zone_minutes,
            };
            let t = c.today();
            assert!(t == d(0, 1, 1) || t == d(9999, 12, 31));
        }
    }

    #[test]
    fn all_none_and_connectives() {
        let p = sample();
        assert!(eval(SearchKey::All, &p));
        assert!(!eval(SearchKey::None, &p));
        assert!(!eval(not(SearchKey::All), &p));
        assert!(eval(not(SearchKey::None), &p));
        assert!(eval(or(SearchKey::None, SearchKey::All), &p));
        assert!(!eval(or(SearchKey::None, not(SearchKey::All)), &p));
        assert!(eval(
            SearchKey::And(vec![SearchKey::All, SearchKey::Larger(1)]),
            &p
        ));
        assert!(!eval(
            SearchKey::And(vec![SearchKey::All, SearchKey::None]),
            &p
        ));
        assert!(eval(SearchKey::And(vec![]), &p));
        // The list itself is AND-ed; an empty list matches.
        let f = facts(&p, None);
        assert!(evaluate(&[], &f, &clock()));
        assert!(evaluate(
            &[SearchKey::All, SearchKey::Smaller(3000)],
            &f,
            &clock()
        ));
        assert!(!evaluate(
            &[SearchKey::All, SearchKey::Smaller(2000)],
            &f,
            &clock()
        ));
    }

    #[test]
    fn address_keys_ignore_comments() {
        let p = MessageProps::new(10, None)
            .with_header(&b"From"[..], &b"alice (not bob (really)) <a@x.test>"[..])
            .with_header(&b"To"[..], &b"\"carol (the boss)\" <c@y.test>"[..]);
        assert!(!eval(SearchKey::From(s("bob")), &p));
        assert!(!eval(SearchKey::From(s("really")), &p));
        assert!(eval(SearchKey::From(s("a@x.test")), &p));
        assert!(eval(SearchKey::From(s("alice")), &p));
        // Parentheses inside a quoted display name are not a comment.
        assert!(eval(SearchKey::To(s("the boss")), &p));
        // HEADER still matches the field as written.
        assert!(eval(SearchKey::Header(s("From"), s("not bob")), &p));
        assert_eq!(&*without_comments(b"a(b\\)c)d"), b"a d");
    }

    #[test]
    fn address_and_subject_keys() {
        let p = sample();
        assert!(eval(SearchKey::From(s("alice@example.com")), &p));
        assert!(eval(SearchKey::From(s("ALICE")), &p));
        assert!(!eval(SearchKey::From(s("bob")), &p));
        assert!(eval(SearchKey::To(s("Bob@")), &p));
        assert!(!eval(SearchKey::To(s("carol")), &p));
        assert!(eval(SearchKey::Cc(s("carol")), &p));
        assert!(eval(SearchKey::Subject(s("quarterly rep")), &p));
        assert!(!eval(SearchKey::Subject(s("annual")), &p));
        // An absent field is an empty value.
        assert!(!eval(SearchKey::Bcc(s("x")), &p));
        assert!(eval(SearchKey::Bcc(s("")), &p));
        assert!(eval(SearchKey::From(s("")), &p));
        // Case folding is ASCII only: no match across non-ASCII case.
        let u = MessageProps::new(1, None).with_header("Subject", "Ünïcode");
        assert!(eval(SearchKey::Subject(s("Ünï")), &u));
        assert!(!eval(SearchKey::Subject(s("ünï")), &u));
        assert!(eval(SearchKey::Subject(s("CODE")), &u));
    }

    #[test]
    fn header_key() {
        let p = sample();
        let h = |n: &str, v: &str| SearchKey::Header(s(n), s(v));
        assert!(eval(h("x-priority", "1"), &p));
        assert!(eval(h("X-PRIORITY", ""), &p));
        assert!(!eval(h("X-Priority", "2"), &p));
        assert!(!eval(h("X-Mailer", ""), &p));
        assert!(!eval(h("", ""), &p));
        // Every field of that name is tested, not only the first.
        assert!(eval(h("Received", "from b"), &p));
        assert!(eval(h("Subject", "REPORT"), &p));
    }

    #[test]
    fn body_and_text() {
        let p = sample();
        assert!(eval(SearchKey::Body(s("world")), &p));
        assert!(eval(SearchKey::Body(s("")), &p));
        assert!(!eval(SearchKey::Body(s("quarterly")), &p));
        assert!(eval(SearchKey::Text(s("quarterly")), &p));
        assert!(eval(SearchKey::Text(s("subject: quarterly")), &p));
        assert!(eval(SearchKey::Text(s("ATTACHED")), &p));
        assert!(!eval(SearchKey::Text(s("nowhere")), &p));
        assert!(eval(SearchKey::Text(s("")), &p));
        let mut bare = p.clone();
        bare.body_text = None;
        assert!(!eval(SearchKey::Body(s("world")), &bare));
        assert!(!eval(SearchKey::Body(s("")), &bare));
        assert!(!eval(SearchKey::Text(s("world")), &bare));
        assert!(eval(SearchKey::Text(s("x-priority: 1")), &bare));
        assert!(!eval(not(SearchKey::Body(s("world"))), &p));
    }

    #[test]
    fn size_keys() {
        let p = sample();
        assert!(eval(SearchKey::Larger(1999), &p));
        assert!(!eval(SearchKey::Larger(2000), &p));
        assert!(eval(SearchKey::Smaller(2001), &p));
        assert!(!eval(SearchKey::Smaller(2000), &p));
        assert!(!eval(SearchKey::Smaller(0), &p));
        assert!(!eval(SearchKey::Larger(u32::MAX), &p));
    }

    #[test]
    fn internal_date_keys_ignore_time_and_zone() {
        // 00:30 at +02:00 is the 9th in UTC, but the date written is the 10th.
        let p = MessageProps::new(1, Some(dt(2024, 3, 10, 0, 30, 0, 120)));
        assert!(eval(SearchKey::On(d(2024, 3, 10)), &p));
        assert!(!eval(SearchKey::On(d(2024, 3, 9)), &p));
        assert!(eval(SearchKey::Before(d(2024, 3, 11)), &p));
        assert!(!eval(SearchKey::Before(d(2024, 3, 10)), &p));
        assert!(eval(SearchKey::Since(d(2024, 3, 10)), &p));
        assert!(!eval(SearchKey::Since(d(2024, 3, 11)), &p));
        assert!(eval(SearchKey::Since(d(2023, 12, 31)), &p));
        let none = MessageProps::new(1, None);
        for k in [
            SearchKey::On(d(2024, 3, 10)),
            SearchKey::Before(d(9999, 12, 31)),
            SearchKey::Since(d(0, 1, 1)),
            SearchKey::Younger(u32::MAX),
            SearchKey::Older(0),
            SearchKey::DaysBeforeToday(u32::MAX),
        ] {
            assert!(!eval(k.clone(), &none), "{k:?}");
        }
    }

    #[test]
    fn days_before_today_boundaries() {
        let at = |t: DateTime| MessageProps::new(1, Some(t));
        let dbt = |n, p: &MessageProps, c: &SearchClock| {
            evaluate(&[SearchKey::DaysBeforeToday(n)], &facts(p, None), c)
        };
        let utc = clock();
        let midnight = at(dt(2024, 3, 10, 0, 0, 0, 0));
        let before_midnight = at(dt(2024, 3, 9, 23, 59, 59, 0));
        let two_days = at(dt(2024, 3, 8, 0, 0, 0, 0));
        let just_before_two = at(dt(2024, 3, 7, 23, 59, 59, 0));
        assert!(dbt(0, &midnight, &utc));
        assert!(!dbt(0, &before_midnight, &utc));
        assert!(dbt(1, &before_midnight, &utc));
        assert!(dbt(2, &two_days, &utc));
        assert!(!dbt(1, &two_days, &utc));
        assert!(!dbt(2, &just_before_two, &utc));
        assert!(dbt(3, &just_before_two, &utc));
        assert!(dbt(u32::MAX, &just_before_two, &utc));
        // A future arrival is "on or after".
        assert!(dbt(0, &at(dt(2030, 1, 1, 0, 0, 0, 0)), &utc));
        // The internal date's zone is taken into account: 00:30 at +01:00 is 23:30 UTC
        // the day before.
        assert!(!dbt(0, &at(dt(2024, 3, 10, 0, 30, 0, 60)), &utc));
        // The clock's zone decides where midnight is: at +01:00, local midnight of the
        // 10th is 23:00 UTC on the 9th.
        let cet = SearchClock {
            now_unix: NOW,
            zone_minutes: 60,
        };
        let late_9th = at(dt(2024, 3, 9, 23, 30, 0, 0));
        assert!(dbt(0, &late_9th, &cet));
        assert!(!dbt(0, &late_9th, &utc));
        let est = SearchClock {
            now_unix: NOW,
            zone_minutes: -300,
        };
        // 03:00 UTC on the 10th is 22:00 on the 9th at -05:00.
        let early_10th = at(dt(2024, 3, 10, 3, 0, 0, 0));
        assert!(dbt(0, &early_10th, &utc));
        assert!(!dbt(0, &early_10th, &est));
        assert!(dbt(1, &early_10th, &est));
    }

    #[test]
    fn younger_and_older() {
        // One hour before NOW, written at -07:00.
        let p = MessageProps::new(1, Some(dt(2024, 3, 10, 7, 0, 0, -420)));
        assert!(eval(SearchKey::Younger(3600), &p));
        assert!(!eval(SearchKey::Younger(3599), &p));
        assert!(eval(SearchKey::Older(3599), &p));
        assert!(!eval(SearchKey::Older(3600), &p));
        for n in [0, 1, 3599, 3600, 3601, u32::MAX] {
            assert_ne!(
                eval(SearchKey::Younger(n), &p),
                eval(SearchKey::Older(n), &p)
            );
        }
        // A message from the future is younger than anything.
        let future = MessageProps::new(1, Some(dt(2030, 1, 1, 0, 0, 0, 0)));
        assert!(eval(SearchKey::Younger(0), &future));
        assert!(!eval(SearchKey::Older(0), &future));
        // Extreme clocks do not overflow.
        let c = SearchClock {
            now_unix: i64::MIN,
            zone_minutes: i16::MIN,
        };
        assert!(!evaluate(&[SearchKey::Older(0)], &facts(&p, None), &c));
    }

    #[test]
    fn date_header_forms() {
        let want = Some(d(2024, 3, 10));
        for v in [
            "Sun, 10 Mar 2024 11:59:00 +0100",
            "10 Mar 2024 11:59 +0100",
            "Sun,10 Mar 2024 11:59:00 GMT",
            "  Sunday, 10 March 2024 11:59:00 -0000 (UTC)",
            "sun, 10 MAR 2024 11:59:00 +0100",
            "Sun, 10 Mar 24 11:59:00 EST",
            "Sun, 10 Mar 124 11:59:00 EST",
            "Sun Mar 10 11:59:00 2024",
            "Sun Mar 10 2024 11:59:00 GMT+0100",
            "10-Mar-2024 11:59:00 +0100",
            "2024-03-10T11:59:00Z",
            "2024-03-10",
            "Sun., 10 Mar. 2024 11:59:00 +0100",
            "Sun,\r\n 10 Mar 2024\t11:59:00 +0100",
        ] {
            assert_eq!(parse_date_header(v.as_bytes()), want, "{v:?}");
        }
        assert_eq!(
            parse_date_header(b"1 Feb 94 10:00 PST"),
            Some(d(1994, 2, 1))
        );
        assert_eq!(
            parse_date_header(b"Tue, 1 Feb 1994 10:00:00 -0800"),
            Some(d(1994, 2, 1))
        );
        assert_eq!(parse_date_header(b"31 Dec 49"), Some(d(2049, 12, 31)));
        assert_eq!(parse_date_header(b"1 Jan 50"), Some(d(1950, 1, 1)));
        assert_eq!(parse_date_header(b"Sep 5 2001"), Some(d(2001, 9, 5)));
        assert_eq!(parse_date_header(b"5 Sept 2001"), Some(d(2001, 9, 5)));
        for v in [
            "",
            "   ",
            "yesterday",
            "Sun,",
            "32 Mar 2024",
            "0 Mar 2024",
            "10 Foo 2024",
            "10 Mar 20245",
            "10 Mar",
            "Mar 10",
            "10 Ma 2024",
            "2024-13-01",
            "2024-03-00",
            "1e3 Mar 2024",
            "\u{0}\u{ff}",
        ] {
            assert_eq!(parse_date_header(v.as_bytes()), None, "{v:?}");
        }
    }

    #[test]
    fn sent_date_keys() {
        // 23:30 at -05:00 is the 11th in UTC; the written date (the 10th) counts.
        let p = MessageProps::new(1, None).with_header("date", "Sun, 10 Mar 2024 23:30 -0500");
        assert!(eval(SearchKey::SentOn(d(2024, 3, 10)), &p));
        assert!(!eval(SearchKey::SentOn(d(2024, 3, 11)), &p));
        assert!(eval(SearchKey::SentBefore(d(2024, 3, 11)), &p));
        assert!(!eval(SearchKey::SentBefore(d(2024, 3, 10)), &p));
        assert!(eval(SearchKey::SentSince(d(2024, 3, 10)), &p));
        assert!(!eval(SearchKey::SentSince(d(2024, 3, 11)), &p));
        // Several SENT keys in one evaluation (the header is parsed once).
        let f = facts(&p, None);
        assert!(evaluate(
            &[
                SearchKey::SentSince(d(2024, 1, 1)),
                SearchKey::SentBefore(d(2025, 1, 1)),
                not(SearchKey::SentOn(d(2024, 3, 9))),
            ],
            &f,
            &clock()
        ));
        for q in [
            MessageProps::new(1, None),
            MessageProps::new(1, None).with_header("Date", "garbage"),
        ] {
            for k in [
                SearchKey::SentOn(d(2024, 3, 10)),
                SearchKey::SentBefore(d(9999, 12, 31)),
                SearchKey::SentSince(d(0, 1, 1)),
            ] {
                assert!(!eval(k.clone(), &q), "{k:?} {q:?}");
            }
        }
    }

    #[test]
    fn flag_keys() {
        let p = sample();
        let kw = |x: &str| Atom::try_from(x).unwrap();
        let flags = [
            Flag::Seen,
            Flag::Answered,
            Flag::Forwarded,
            Flag::Keyword(kw("$Label1")),
        ];
        let with = |k: SearchKey, fl: &[Flag]| evaluate(&[k], &facts(&p, Some(fl)), &clock());
        use SearchKey as K;
        for (k, want) in [
            (K::Seen, true),
            (K::Unseen, false),
            (K::Answered, true),
            (K::Unanswered, false),
            (K::Forwarded, true),
            (K::Unforwarded, false),
            (K::Deleted, false),
            (K::Undeleted, true),
            (K::Draft, false),
            (K::Undraft, true),
            (K::Flagged, false),
            (K::Unflagged, true),
            (K::Recent, false),
            (K::Old, true),
            (K::New, false),
            (K::Keyword(kw("$label1")), true),
            (K::Unkeyword(kw("$LABEL1")), false),
            (K::Keyword(kw("$Label2")), false),
            (K::Unkeyword(kw("$Label2")), true),
        ] {
            assert_eq!(with(k.clone(), &flags), want, "{k:?}");
            // Without flags, no flag key matches, positive or negative.
            assert!(!eval(k.clone(), &p), "{k:?} without flags");
        }
        let recent_unseen = [Flag::Recent];
        assert!(with(K::New, &recent_unseen));
        assert!(with(K::Recent, &recent_unseen));
        assert!(!with(K::Old, &recent_unseen));
        assert!(!with(K::New, &[Flag::Recent, Flag::Seen]));
        assert!(with(K::Unseen, &[]));
        assert!(!with(K::Seen, &[]));
    }

    #[test]
    fn uid_and_sequence_keys() {
        let p = sample();
        let f = facts(&p, None);
        let c = clock();
        let one = |k: SearchKey, f: &MessageFacts<'_>| evaluate(&[k], f, &c);
        assert!(one(SearchKey::Uid(SequenceSet::single(5).unwrap()), &f));
        assert!(!one(SearchKey::Uid(SequenceSet::single(6).unwrap()), &f));
        assert!(one(SearchKey::Uid(SequenceSet::range(4, 6).unwrap()), &f));
        assert!(one(SearchKey::Uid(SequenceSet::all()), &f));
        assert!(one(
            SearchKey::SequenceSet(SequenceSet::single(3).unwrap()),
            &f
        ));
        assert!(!one(
            SearchKey::SequenceSet(SequenceSet::single(5).unwrap()),
            &f
        ));
        assert!(!one(SearchKey::Uid(SequenceSet::Saved), &f));
        assert!(!one(SearchKey::SequenceSet(SequenceSet::Saved), &f));
        // `*` is the largest UID / the message count.
        let star = SequenceSet::Ranges(vec![pimap_types::SeqRange::Single(
            pimap_types::SeqNo::Largest,
        )]);
        let last = MessageFacts {
            uid: 10,
            seq: 7,
            ..f
        };
        assert!(one(SearchKey::Uid(star.clone()), &last));
        assert!(one(SearchKey::SequenceSet(star.clone()), &last));
        assert!(!one(SearchKey::Uid(star.clone()), &f));
        // Unknown numbers (0) match nothing, even `*` of an empty mailbox.
        let unknown = MessageFacts {
            uid: 0,
            seq: 0,
            max_uid: 0,
            max_seq: 0,
            ..f
        };
        assert!(!one(SearchKey::Uid(star.clone()), &unknown));
        assert!(!one(SearchKey::SequenceSet(star), &unknown));
        assert!(!one(
            SearchKey::ModSeq {
                entry: None,
                modseq: 0
            },
            &f
        ));
    }

    #[test]
    fn nesting_deeper_than_the_limit_matches_nothing() {
        let p = sample();
        let nest = |n: usize| {
            let mut k = SearchKey::All;
            for _ in 0..n {
                k = not(k);
            }
            k
        };
        assert!(eval(nest(200), &p));
        assert!(!eval(nest(199), &p));
        // Too deep: false whatever the parity (not a negated error).
        assert!(!eval(nest(300), &p));
        assert!(!eval(nest(301), &p));
        let f = facts(&p, None);
        assert!(!evaluate(&[SearchKey::All, nest(301)], &f, &clock()));
    }

    #[test]
    fn filter_rejects_every_mutable_key_anywhere() {
        use SearchKey as K;
        let kw = Atom::try_from("$Label").unwrap();
        let mutable = [
            (K::Answered, "ANSWERED"),
            (K::Deleted, "DELETED"),
            (K::Draft, "DRAFT"),
            (K::Flagged, "FLAGGED"),
            (K::New, "NEW"),
            (K::Old, "OLD"),
            (K::Recent, "RECENT"),
            (K::Seen, "SEEN"),
            (K::Unanswered, "UNANSWERED"),
            (K::Undeleted, "UNDELETED"),
            (K::Undraft, "UNDRAFT"),
            (K::Unflagged, "UNFLAGGED"),
            (K::Unseen, "UNSEEN"),
            (K::Keyword(kw.clone()), "KEYWORD"),
            (K::Unkeyword(kw), "UNKEYWORD"),
            (K::Forwarded, "FORWARDED"),
            (K::Unforwarded, "UNFORWARDED"),
            (K::Uid(SequenceSet::all()), "UID"),
            (
                K::SequenceSet(SequenceSet::single(1).unwrap()),
                "sequence set",
            ),
            (K::SequenceSet(SequenceSet::Saved), "sequence set"),
            (
                K::ModSeq {
                    entry: None,
                    modseq: 7,
                },
                "MODSEQ",
            ),
        ];
        for (k, name) in mutable {
            let want = Err(FilterError::Mutable { key: name });
            let placements = [
                vec![k.clone()],
                vec![K::Larger(1), k.clone()],
                vec![not(k.clone())],
                vec![or(K::All, k.clone())],
                vec![or(not(k.clone()), K::All)],
                vec![K::And(vec![K::Smaller(9), k.clone()])],
                vec![not(K::And(vec![or(K::None, not(k.clone()))]))],
            ];
            for c in placements {
                assert_eq!(Filter::new(c.clone()), want, "{c:?}");
            }
        }
        // The first mutable key in order is reported.
        assert_eq!(
            Filter::new(vec![or(K::Seen, K::Deleted), K::Draft]),
            Err(FilterError::Mutable { key: "SEEN" })
        );
    }

    #[test]
    fn filter_accepts_immutable_keys() {
        use SearchKey as K;
        let ok = vec![
            K::All,
            K::None,
            not(K::All),
            K::From(s("a")),
            K::To(s("a")),
            K::Cc(s("a")),
            K::Bcc(s("a")),
            K::Subject(s("a")),
            K::Header(s("X"), s("")),
            K::Body(s("a")),
            K::Text(s("a")),
            K::Before(d(2024, 1, 1)),
            K::On(d(2024, 1, 1)),
            K::Since(d(2024, 1, 1)),
            K::SentBefore(d(2024, 1, 1)),
            K::SentOn(d(2024, 1, 1)),
            K::SentSince(d(2024, 1, 1)),
            K::Larger(1),
            K::Smaller(1),
            K::Younger(1),
            K::Older(1),
            K::DaysBeforeToday(0),
            or(K::Larger(1), K::And(vec![K::Smaller(2)])),
        ];
        for k in ok {
            assert!(Filter::new(vec![k.clone()]).is_ok(), "{k:?}");
        }
        assert_eq!(Filter::new(vec![]).map(|f| f.criteria().len()), Ok(0));
    }

    #[test]
    fn filter_size_limit_counts_nested_keys() {
        use SearchKey as K;
        let flat = |n| vec![K::Larger(1); n];
        assert!(Filter::new(flat(Filter::MAX_KEYS)).is_ok());
        assert_eq!(
            Filter::new(flat(Filter::MAX_KEYS + 1)),
            Err(FilterError::TooLarge {
                keys: 257,
                limit: 256
            })
        );
        // 128 NOTs around 128 keys, plus the AND: 257.
        let mut k = K::And(vec![K::Larger(1); 128]);
        for _ in 0..128 {
            k = not(k);
        }
        assert_eq!(
            Filter::new(vec![k.clone()]),
            Err(FilterError::TooLarge {
                keys: 257,
                limit: 256
            })
        );
        // Size is checked before mutability.
        let mut big = flat(300);
        big.push(K::Seen);
        assert!(matches!(
            Filter::new(big),
            Err(FilterError::TooLarge { keys: 301, .. })
        ));
        // Deep nesting is counted without recursion (the depth here is bounded by the
        // recursive `Drop` of `SearchKey`, not by `Filter::new`).
        let mut deep = K::All;
        for _ in 0..5_000 {
            deep = not(deep);
        }
        assert!(matches!(
            Filter::new(vec![deep]),
            Err(FilterError::TooLarge { .. })
        ));
    }

    #[test]
    fn filter_matching_and_matches_nothing() {
        let p = sample();
        let c = clock();
        assert!(Filter::all().matches(&p, &c));
        assert!(!Filter::all().matches_nothing());
        assert!(Filter::none().matches_nothing());
        assert!(!Filter::none().matches(&p, &c));
        assert_eq!(Filter::none().criteria(), &[not(SearchKey::All)]);
        assert!(Filter::new(vec![SearchKey::None])
            .unwrap()
            .matches_nothing());
        assert!(Filter::new(vec![not(SearchKey::All)])
            .unwrap()
            .matches_nothing());
        for c in [
            vec![],
            vec![SearchKey::All],
            vec![not(SearchKey::None)],
            vec![SearchKey::None, SearchKey::All],
            vec![SearchKey::And(vec![SearchKey::None])],
            vec![not(not(not(SearchKey::All)))],
        ] {
            assert!(!Filter::new(c.clone()).unwrap().matches_nothing(), "{c:?}");
        }
        let f = Filter::new(vec![
            SearchKey::From(s("alice")),
            SearchKey::DaysBeforeToday(0),
            SearchKey::Larger(1024),
        ])
        .unwrap();
        assert!(f.matches(&p, &c));
        let tomorrow = SearchClock::from_unix(NOW + 86_400);
        assert!(!f.matches(&p, &tomorrow));
        let mut small = p.clone();
        small.size = 10;
        assert!(!f.matches(&small, &c));
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            FilterError::Mutable { key: "SEEN" }.to_string(),
            "filter key SEEN uses a mutable message property"
        );
        assert_eq!(
            FilterError::TooLarge {
                keys: 300,
                limit: 256
            }
            .to_string(),
            "filter is too large (300 keys, limit 256)"
        );
    }

    fn istring() -> impl Strategy<Value = IString> {
        prop_oneof![
            prop::collection::vec(1u8..=255, 0..6),
            prop::collection::vec(prop::sample::select(b"aAbB: 1-".to_vec()), 0..4),
        ]
        .prop_map(|v| IString::new(v).unwrap())
    }

    fn date() -> impl Strategy<Value = Date> {
        (0u16..=9999, 1u8..=12, 1u8..=31).prop_map(|(y, m, dd)| d(y, m, dd))
    }

    fn date_time() -> impl Strategy<Value = DateTime> {
        (date(), 0u8..24, 0u8..60, 0u8..=60, -5999i16..=5999)
            .prop_map(|(dd, h, m, sec, z)| DateTime::new(dd, h, m, sec, z).unwrap())
    }

    fn seq_set() -> impl Strategy<Value = SequenceSet> {
        prop_oneof![
            (1u32..20).prop_map(|n| SequenceSet::single(n).unwrap()),
            (1u32..20, 1u32..20).prop_map(|(a, b)| SequenceSet::range(a, b).unwrap()),
            Just(SequenceSet::all()),
            Just(SequenceSet::Saved),
        ]
    }

    fn leaf() -> impl Strategy<Value = SearchKey> {
        use SearchKey as K;
        let kw = || Atom::try_from("$K").unwrap();
        prop_oneof![
            Just(K::All),
            Just(K::None),
            Just(K::Seen),
            Just(K::Unseen),
            Just(K::New),
            Just(K::Old),
            Just(K::Forwarded),
            Just(K::Keyword(kw())),
            Just(K::Unkeyword(kw())),
            istring().prop_map(K::From),
            istring().prop_map(K::Subject),
            istring().prop_map(K::Body),
            istring().prop_map(K::Text),
            (istring(), istring()).prop_map(|(n, v)| K::Header(n, v)),
            date().prop_map(K::Before),
            date().prop_map(K::On),
            date().prop_map(K::Since),
            date().prop_map(K::SentBefore),
            date().prop_map(K::SentOn),
            date().prop_map(K::SentSince),
            any::<u32>().prop_map(K::Larger),
            any::<u32>().prop_map(K::Smaller),
            any::<u32>().prop_map(K::Younger),
            any::<u32>().prop_map(K::Older),
            any::<u32>().prop_map(K::DaysBeforeToday),
            seq_set().prop_map(K::Uid),
            seq_set().prop_map(K::SequenceSet),
        ]
    }

    fn key() -> impl Strategy<Value = SearchKey> {
        leaf().prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(not),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
                prop::collection::vec(inner, 0..4).prop_map(SearchKey::And),
            ]
        })
    }

    fn date_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(
                prop::sample::select(b"0123456789 ,-:+.TZMarFebSunJanDec()\t".to_vec()),
                0..40
            ),
            "(Sun, )?[0-9]{1,3} (Jan|Feb|Sept|mar) [0-9]{1,5}( [0-9]{2}:[0-9]{2})?( [+-][0-9]{4})?"
                .prop_map(String::into_bytes),
        ]
    }

    proptest! {
        /// `evaluate` never panics, whatever the headers, the Date: field, the clock, the
        /// facts and the criteria; and NOT is the complement at shallow depths.
        #[test]
        fn evaluate_never_panics(
            headers in prop::collection::vec(
                (
                    prop::sample::select(vec!["From", "to", "Subject", "X-A", "Date", ""]),
                    prop::collection::vec(any::<u8>(), 0..30),
                ),
                0..6,
            ),
            date_header in date_value(),
            body in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
            internal in prop::option::of(date_time()),
            size in any::<u32>(),
            now_unix in prop_oneof![any::<i64>(), -100_000_000_000i64..100_000_000_000],
            zone_minutes in any::<i16>(),
            flags in prop::option::of(prop::collection::vec(
                prop::sample::select(vec![Flag::Seen, Flag::Recent, Flag::Forwarded]), 0..3)),
            (uid, seq, max_uid, max_seq) in (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
            criteria in prop::collection::vec(key(), 0..4),
        ) {
            let mut props = MessageProps::new(size, internal);
            for (n, v) in headers {
                props = props.with_header(n, v);
            }
            props = props.with_header("Date", date_header);
            props.body_text = body.map(Into::into);
            let flags = flags.as_deref();
            let facts = MessageFacts { props: &props, flags, uid, seq, max_uid, max_seq };
            let clock = SearchClock { now_unix, zone_minutes };
            let _ = clock.today();
            let r = evaluate(&criteria, &facts, &clock);
            let negated = evaluate(&[not(SearchKey::And(criteria.clone()))], &facts, &clock);
            prop_assert_eq!(negated, !r);
            if let Ok(f) = Filter::new(criteria) {
                let _ = f.matches(&props, &clock);
            }
        }

        /// Any date written in the RFC 5322 form parses back to itself.
        #[test]
        fn rfc5322_dates_round_trip(
            dd in date(),
            dow in prop::sample::select(vec!["", "Mon, ", "Thu,", "Sunday, "]),
            full in any::<bool>(),
        ) {
            prop_assume!(dd.year() >= 1000);
            let names = [
                "January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December",
            ];
            let name = names[usize::from(dd.month()) - 1];
            let name = if full { name } else { &name[..3] };
            let v = format!("{dow}{} {name} {} 12:34:56 +0000", dd.day(), dd.year());
            prop_assert_eq!(parse_date_header(v.as_bytes()), Some(dd));
        }
    }
}
