//! Core IMAP values: tags, atoms, strings, mailboxes, sequence sets, flags, dates and secrets.
//!
//! Every value is valid by construction: constructors check the characters the wire syntax
//! allows, so that the encoder can never produce invalid IMAP.

use std::fmt;
use std::num::NonZeroU32;

use bytes::Bytes;

/// Error returned when a value does not satisfy the syntax rules of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct ValidationError {
    /// The kind of value that failed validation (e.g. `"atom"`).
    pub kind: &'static str,
    /// Why it failed.
    pub reason: &'static str,
}

impl ValidationError {
    pub(crate) const fn new(kind: &'static str, reason: &'static str) -> Self {
        Self { kind, reason }
    }
}

/// Is `b` an RFC 3501 `ATOM-CHAR` (any CHAR except atom-specials)?
#[inline]
pub const fn is_atom_char(b: u8) -> bool {
    CHAR_CLASS[b as usize] & ATOM != 0
}

/// Is `b` an RFC 3501 `ASTRING-CHAR` (ATOM-CHAR or `]`)?
#[inline]
pub const fn is_astring_char(b: u8) -> bool {
    CHAR_CLASS[b as usize] & ASTRING != 0
}

/// Is `b` allowed in a tag (ASTRING-CHAR except `+`)?
#[inline]
pub const fn is_tag_char(b: u8) -> bool {
    CHAR_CLASS[b as usize] & TAG != 0
}

const ATOM: u8 = 1;
const ASTRING: u8 = 2;
const TAG: u8 = 4;

/// Character classes of every octet, computed at compile time: the scanners' inner loops do
/// one table load per byte instead of a chain of range comparisons.
const CHAR_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0x21;
    while i <= 0x7e {
        let b = i as u8;
        let atom = !matches!(
            b,
            b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
        );
        let astring = atom || b == b']';
        let tag = astring && b != b'+';
        t[i] = ((atom as u8) * ATOM) | ((astring as u8) * ASTRING) | ((tag as u8) * TAG);
        i += 1;
    }
    t
};

/// Is `b` a `TEXT-CHAR` (any CHAR except CR and LF, and not NUL)?
#[inline]
pub const fn is_text_char(b: u8) -> bool {
    b != 0 && b != b'\r' && b != b'\n'
}

macro_rules! bytes_newtype_common {
    ($t:ident) => {
        impl $t {
            /// The raw bytes of this value.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
            /// The value as shared [`Bytes`].
            pub fn to_bytes(&self) -> Bytes {
                self.0.clone()
            }
            /// The value as UTF-8 text, lossily converted.
            pub fn to_str_lossy(&self) -> std::borrow::Cow<'_, str> {
                String::from_utf8_lossy(&self.0)
            }
            /// Construct without validation. Only for `pimap-codec`'s parser, which has
            /// already checked the syntax; not part of the stable API.
            #[doc(hidden)]
            pub fn unchecked(b: Bytes) -> Self {
                Self(b)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "{}({:?})",
                    stringify!($t),
                    String::from_utf8_lossy(&self.0)
                )
            }
        }
        impl AsRef<[u8]> for $t {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }
    };
}

/// A command tag: one or more ASTRING-CHARs except `+`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tag(Bytes);
bytes_newtype_common!(Tag);

impl Tag {
    /// Validate and build a tag.
    pub fn new(b: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let b = b.into();
        if b.is_empty() {
            return Err(ValidationError::new("tag", "empty"));
        }
        if !b.iter().all(|&c| is_tag_char(c)) {
            return Err(ValidationError::new(
                "tag",
                "contains a character not allowed in tags",
            ));
        }
        Ok(Self(b))
    }
}

impl TryFrom<&str> for Tag {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Tag::new(Bytes::copy_from_slice(s.as_bytes()))
    }
}

/// An atom: one or more ATOM-CHARs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Atom(Bytes);
bytes_newtype_common!(Atom);

impl Atom {
    /// Validate and build an atom.
    pub fn new(b: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let b = b.into();
        if b.is_empty() {
            return Err(ValidationError::new("atom", "empty"));
        }
        if !b.iter().all(|&c| is_atom_char(c)) {
            return Err(ValidationError::new("atom", "contains an atom-special"));
        }
        Ok(Self(b))
    }
    /// Build an atom from a static string (validated).
    pub fn from_static(s: &'static str) -> Result<Self, ValidationError> {
        Self::new(Bytes::from_static(s.as_bytes()))
    }
    /// Case-insensitive comparison with an ASCII string.
    pub fn eq_ignore_case(&self, s: &str) -> bool {
        self.0.eq_ignore_ascii_case(s.as_bytes())
    }
}

impl TryFrom<&str> for Atom {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Atom::new(Bytes::copy_from_slice(s.as_bytes()))
    }
}

/// The content of an IMAP string (`astring`, `string`, `nstring` content).
///
/// Holds the decoded bytes; the encoder chooses atom, quoted string or literal form by
/// content. Any byte except NUL is allowed (use [`Literal8`] for binary data).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IString(Bytes);
bytes_newtype_common!(IString);

impl IString {
    /// Validate (no NUL byte) and build a string.
    pub fn new(b: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let b = b.into();
        if memchr::memchr(0, &b).is_some() {
            return Err(ValidationError::new("string", "contains NUL"));
        }
        Ok(Self(b))
    }
    /// Is the content empty?
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Length of the content in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl TryFrom<&str> for IString {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        IString::new(Bytes::copy_from_slice(s.as_bytes()))
    }
}

/// `nstring`: a string or `NIL`.
pub type NString = Option<IString>;

/// Literal data (binary allowed) with the form it should be, or was, sent in.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Literal8 {
    /// The octets.
    pub data: Bytes,
    /// `true` for an RFC 3516 `literal8` (`~{n}`), which may contain NUL.
    pub binary: bool,
}

impl fmt::Debug for Literal8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Literal8({} octets, binary: {})",
            self.data.len(),
            self.binary
        )
    }
}

impl Literal8 {
    /// Text literal; rejects NUL (use [`Literal8::binary`] for binary data).
    pub fn text(data: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let data = data.into();
        if memchr::memchr(0, &data).is_some() {
            return Err(ValidationError::new(
                "literal",
                "contains NUL; use a binary literal",
            ));
        }
        Ok(Self {
            data,
            binary: false,
        })
    }
    /// Binary literal (`~{n}`), any octets.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self {
            data: data.into(),
            binary: true,
        }
    }
}

/// How a literal is announced on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralMode {
    /// `{n}`: the sender waits for a `+` continuation (client to server).
    Sync,
    /// `{n+}`: LITERAL+ / LITERAL-, sent without waiting.
    NonSync,
}

/// A mailbox name. `INBOX` is case-insensitive and normalised to upper case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mailbox(Bytes);
bytes_newtype_common!(Mailbox);

impl Mailbox {
    /// Build a mailbox name (no NUL). `inbox` in any case becomes `INBOX`.
    pub fn new(b: impl Into<Bytes>) -> Result<Self, ValidationError> {
        let b = b.into();
        if memchr::memchr(0, &b).is_some() {
            return Err(ValidationError::new("mailbox", "contains NUL"));
        }
        Ok(Self::normalise(b))
    }
    /// A mailbox name as read from the wire (already validated by the parser): any case
    /// spelling of `INBOX` becomes `INBOX`, other names are kept as they are.
    #[doc(hidden)]
    pub fn normalise(b: Bytes) -> Self {
        if b.eq_ignore_ascii_case(b"INBOX") && &b[..] != b"INBOX" {
            Self(Bytes::from_static(b"INBOX"))
        } else {
            Self(b)
        }
    }
    /// The `INBOX` mailbox.
    pub fn inbox() -> Self {
        Self(Bytes::from_static(b"INBOX"))
    }
    /// Is this `INBOX`?
    pub fn is_inbox(&self) -> bool {
        &self.0[..] == b"INBOX"
    }
}

impl TryFrom<&str> for Mailbox {
    type Error = ValidationError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Mailbox::new(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Mailbox> for IString {
    fn from(m: Mailbox) -> Self {
        IString(m.0)
    }
}

/// A value wrapped so that `Debug` never prints it (passwords, keys, session ids).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a secret.
    pub fn new(v: T) -> Self {
        Self(v)
    }
    /// Access the secret value. Call sites are easy to audit.
    pub fn expose(&self) -> &T {
        &self.0
    }
    /// Unwrap the secret value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One element of a sequence set: a number or `*` (the largest number in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNo {
    /// A concrete, non-zero sequence number or UID.
    Value(NonZeroU32),
    /// `*`.
    Largest,
}

/// A single number or a range in a sequence set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqRange {
    /// `n`
    Single(SeqNo),
    /// `a:b` (order as written; IMAP treats it as unordered).
    Range(SeqNo, SeqNo),
}

/// A non-empty sequence set (`1,3:5,9:*`), or `$` (SEARCHRES saved result).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// Explicit ranges (never empty).
    Ranges(Vec<SeqRange>),
    /// `$`: the result of the last `SEARCH RETURN (SAVE)` (RFC 5182).
    Saved,
}

impl SequenceSet {
    /// Build from ranges; fails if empty.
    pub fn new(ranges: Vec<SeqRange>) -> Result<Self, ValidationError> {
        if ranges.is_empty() {
            return Err(ValidationError::new("sequence set", "empty"));
        }
        Ok(Self::Ranges(ranges))
    }
    /// A set with one number; fails for 0.
    pub fn single(n: u32) -> Result<Self, ValidationError> {
        let n = NonZeroU32::new(n).ok_or(ValidationError::new("sequence set", "zero"))?;
        Ok(Self::Ranges(vec![SeqRange::Single(SeqNo::Value(n))]))
    }
    /// `a:b`; fails for 0.
    pub fn range(a: u32, b: u32) -> Result<Self, ValidationError> {
        let a = NonZeroU32::new(a).ok_or(ValidationError::new("sequence set", "zero"))?;
        let b = NonZeroU32::new(b).ok_or(ValidationError::new("sequence set", "zero"))?;
        Ok(Self::Ranges(vec![SeqRange::Range(
            SeqNo::Value(a),
            SeqNo::Value(b),
        )]))
    }
    /// `1:*`
    pub fn all() -> Self {
        Self::Ranges(vec![SeqRange::Range(
            SeqNo::Value(NonZeroU32::MIN),
            SeqNo::Largest,
        )])
    }
    /// Does the set contain `n`, given `largest` as the value of `*`?
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let v = |s: SeqNo| match s {
            SeqNo::Value(v) => v.get(),
            SeqNo::Largest => largest,
        };
        match self {
            Self::Saved => false,
            Self::Ranges(r) => r.iter().any(|r| match *r {
                SeqRange::Single(s) => v(s) == n,
                SeqRange::Range(a, b) => {
                    let (lo, hi) = if v(a) <= v(b) {
                        (v(a), v(b))
                    } else {
                        (v(b), v(a))
                    };
                    lo <= n && n <= hi
                }
            }),
        }
    }
    /// Iterate over the concrete numbers (with `*` = `largest`), in set order. Ranges are
    /// expanded lazily.
    pub fn iter(&self, largest: u32) -> impl Iterator<Item = u32> + '_ {
        let ranges: &[SeqRange] = match self {
            Self::Ranges(r) => r,
            Self::Saved => &[],
        };
        ranges.iter().flat_map(move |r| {
            let v = |s: SeqNo| match s {
                SeqNo::Value(v) => v.get(),
                SeqNo::Largest => largest,
            };
            let (lo, hi) = match *r {
                SeqRange::Single(s) => (v(s), v(s)),
                SeqRange::Range(a, b) => (v(a).min(v(b)), v(a).max(v(b))),
            };
            lo..=hi
        })
    }
}

/// A message flag (also used for mailbox attributes of LIST).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Seen`
    Seen,
    /// `\Draft`
    Draft,
    /// `\Recent` (only in FETCH responses).
    Recent,
    /// `\Forwarded` (P-IMAP -00/-01 system flag).
    Forwarded,
    /// `\*` in PERMANENTFLAGS: new keywords may be created.
    Wildcard,
    /// Any other `\Name` flag or mailbox attribute (the atom after the backslash).
    Extension(Atom),
    /// A keyword such as `$Forwarded` or `NonJunk`.
    Keyword(Atom),
}

impl Flag {
    /// Parse a flag from its wire text (e.g. `\Seen`, `$Label`). Case-insensitive for system
    /// flags.
    pub fn parse(s: &[u8]) -> Result<Self, ValidationError> {
        if let Some(rest) = s.strip_prefix(b"\\") {
            if rest == b"*" {
                return Ok(Flag::Wildcard);
            }
            let f = match rest.to_ascii_lowercase().as_slice() {
                b"answered" => Flag::Answered,
                b"flagged" => Flag::Flagged,
                b"deleted" => Flag::Deleted,
                b"seen" => Flag::Seen,
                b"draft" => Flag::Draft,
                b"recent" => Flag::Recent,
                b"forwarded" => Flag::Forwarded,
                _ => Flag::Extension(Atom::new(Bytes::copy_from_slice(rest))?),
            };
            Ok(f)
        } else {
            Ok(Flag::Keyword(Atom::new(Bytes::copy_from_slice(s))?))
        }
    }
}

/// A calendar date (`date` in SEARCH, `1-Feb-1994`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Month abbreviations used by IMAP dates.
pub const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

impl Date {
    /// 1970-01-01.
    pub const UNIX_EPOCH: Date = Date {
        year: 1970,
        month: 1,
        day: 1,
    };

    /// Build a date; `month` is 1..=12, `day` 1..=31, `year` 0..=9999.
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, ValidationError> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || year > 9999 {
            return Err(ValidationError::new("date", "out of range"));
        }
        Ok(Self { year, month, day })
    }
    /// Year.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// Month 1..=12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// Day of month 1..=31.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// Days since 1970-01-01 (proleptic Gregorian), for date arithmetic such as
    /// `DAYSBEFORETODAY`.
    pub fn days_since_epoch(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }
    /// The date `days` days since 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Result<Self, ValidationError> {
        let z = days + 719468;
        let era = z.div_euclid(146097);
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = if m <= 2 { y + 1 } else { y };
        let year = u16::try_from(y).map_err(|_| ValidationError::new("date", "out of range"))?;
        Self::new(year, m as u8, d as u8)
    }
}

/// A date and time with zone (`date-time`, e.g. `"17-Jul-1996 02:44:25 -0700"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    /// Zone offset in minutes east of UTC.
    zone_minutes: i16,
}

impl DateTime {
    /// Build a date-time; zone in minutes east of UTC (-5999..=5999 per `+hhmm`).
    pub fn new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        zone_minutes: i16,
    ) -> Result<Self, ValidationError> {
        if hour > 23
            || minute > 59
            || second > 60
            || !(-(99 * 60 + 59)..=99 * 60 + 59).contains(&zone_minutes)
        {
            return Err(ValidationError::new("date-time", "out of range"));
        }
        Ok(Self {
            date,
            hour,
            minute,
            second,
            zone_minutes,
        })
    }
    /// The date part.
    pub fn date(&self) -> Date {
        self.date
    }
    /// Hour, minute, second.
    pub fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }
    /// Zone offset in minutes east of UTC.
    pub fn zone_minutes(&self) -> i16 {
        self.zone_minutes
    }
}

/// A capability atom (`IMAP4rev1`, `IDLE`, `AUTH=PLAIN`, `xPIMAPv1r1`, ...).
///
/// Capabilities compare case-insensitively on the wire; [`Capability::is`] does that.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Capability(pub Atom);

impl Capability {
    /// Case-insensitive test (`cap.is("IDLE")`).
    pub fn is(&self, name: &str) -> bool {
        self.0.eq_ignore_case(name)
    }
    /// For `AUTH=X`, `COMPRESS=X`, `XENCRYPTED=X` ...: the part after `=`, if the name
    /// before it matches case-insensitively.
    pub fn value_of(&self, prefix: &str) -> Option<&[u8]> {
        let b = self.0.as_bytes();
        let p = prefix.as_bytes();
        if b.len() > p.len() && b[..p.len()].eq_ignore_ascii_case(p) && b[p.len()] == b'=' {
            Some(&b[p.len() + 1..])
        } else {
            None
        }
    }
}

/// The parameter list of `ID` (RFC 2971) in both directions: `NIL`, or field/value pairs
/// (a value may be `NIL`).
pub type IdParams = Option<Vec<(IString, Option<IString>)>>;

#[cfg(test)]
mod tests {
    #[test]
    fn char_class_table_matches_rfc3501() {
        for b in 0..=255u8 {
            let atom = (0x21..=0x7e).contains(&b) && !b"(){ %*\"\\]".contains(&b);
            assert_eq!(super::is_atom_char(b), atom, "atom {b:#x}");
            assert_eq!(
                super::is_astring_char(b),
                atom || b == b']',
                "astring {b:#x}"
            );
            assert_eq!(
                super::is_tag_char(b),
                (atom || b == b']') && b != b'+',
                "tag {b:#x}"
            );
        }
    }

    use super::*;

    #[test]
    fn constructors_validate() {
        assert!(Tag::try_from("a1").is_ok());
        assert!(Tag::try_from("a+1").is_err());
        assert!(Tag::try_from("").is_err());
        assert!(Atom::try_from("FOO").is_ok());
        assert!(Atom::try_from("FO O").is_err());
        assert!(Atom::try_from("a]").is_err());
        assert!(IString::new(&b"a\0b"[..]).is_err());
        assert_eq!(Mailbox::try_from("inbox").map(|m| m.is_inbox()), Ok(true));
        assert!(SequenceSet::single(0).is_err());
        assert!(SequenceSet::new(vec![]).is_err());
        assert!(Date::new(2024, 13, 1).is_err());
    }

    #[test]
    fn sequence_set_iteration_and_membership() {
        let s = SequenceSet::Ranges(vec![
            SeqRange::Single(SeqNo::Value(NonZeroU32::new(2).unwrap())),
            SeqRange::Range(SeqNo::Largest, SeqNo::Value(NonZeroU32::new(8).unwrap())),
        ]);
        assert_eq!(s.iter(10).collect::<Vec<_>>(), vec![2, 8, 9, 10]);
        assert!(s.contains(9, 10));
        assert!(!s.contains(3, 10));
    }

    #[test]
    fn date_arithmetic_round_trips() {
        let d = Date::new(2003, 6, 1).unwrap();
        assert_eq!(Date::from_days_since_epoch(d.days_since_epoch()), Ok(d));
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_epoch(), 11017);
    }

    #[test]
    fn secrets_are_redacted() {
        let s = Secret::new(IString::try_from("hunter2").unwrap());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
