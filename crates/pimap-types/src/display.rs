//! `Display` for the values people print: the wire spelling where there is one (flags,
//! sequence sets, dates), the text lossily decoded as UTF-8 otherwise (tags, atoms, strings,
//! mailbox names as sent, that is modified UTF-7 for non-ASCII names). `Secret` has none on
//! purpose.

use std::fmt;

use crate::core::{
    Atom, Capability, Date, DateTime, Flag, IString, Mailbox, SeqNo, SeqRange, SequenceSet, Tag,
    MONTHS,
};

macro_rules! display_lossy {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_str_lossy())
            }
        }
    )*};
}

display_lossy!(Tag, Atom, IString, Mailbox);

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `\Seen`, `\*`, `$Label`.
impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let system = match self {
            Flag::Answered => "Answered",
            Flag::Flagged => "Flagged",
            Flag::Deleted => "Deleted",
            Flag::Seen => "Seen",
            Flag::Draft => "Draft",
            Flag::Recent => "Recent",
            Flag::Forwarded => "Forwarded",
            Flag::Wildcard => "*",
            Flag::Extension(a) => return write!(f, "\\{a}"),
            Flag::Keyword(a) => return a.fmt(f),
        };
        write!(f, "\\{system}")
    }
}

impl fmt::Display for SeqNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNo::Value(n) => n.fmt(f),
            SeqNo::Largest => f.write_str("*"),
        }
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqRange::Single(n) => n.fmt(f),
            SeqRange::Range(a, b) => write!(f, "{a}:{b}"),
        }
    }
}

/// `1,3:5,9:*` or `$`.
impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceSet::Saved => f.write_str("$"),
            SequenceSet::Ranges(rs) => {
                for (i, r) in rs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    r.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}

fn month(m: u8) -> &'static str {
    MONTHS
        .get(usize::from(m.saturating_sub(1)))
        .and_then(|b| std::str::from_utf8(&b[..]).ok())
        .unwrap_or("???")
}

/// `1-Feb-1994` (SEARCH `date`).
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.day(), month(self.month()), self.year())
    }
}

/// `17-Jul-1996 02:44:25 -0700` (INTERNALDATE's `date-time`, without the quotes).
impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.date();
        let (h, m, s) = self.time();
        let z = self.zone_minutes();
        let sign = if z < 0 { '-' } else { '+' };
        let z = z.unsigned_abs();
        write!(
            f,
            "{:02}-{}-{} {h:02}:{m:02}:{s:02} {sign}{:02}{:02}",
            d.day(),
            month(d.month()),
            d.year(),
            z / 60,
            z % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn wire_spellings() {
        assert_eq!(Flag::Seen.to_string(), "\\Seen");
        assert_eq!(Flag::Wildcard.to_string(), "\\*");
        assert_eq!(Flag::parse(b"$Label").unwrap().to_string(), "$Label");
        assert_eq!(Flag::parse(b"\\Junk").unwrap().to_string(), "\\Junk");
        let n = |v| SeqNo::Value(NonZeroU32::new(v).unwrap());
        let set = SequenceSet::new(vec![
            SeqRange::Single(n(1)),
            SeqRange::Range(n(3), n(5)),
            SeqRange::Range(n(9), SeqNo::Largest),
        ])
        .unwrap();
        assert_eq!(set.to_string(), "1,3:5,9:*");
        assert_eq!(SequenceSet::Saved.to_string(), "$");
        assert_eq!(Mailbox::try_from("INBOX").unwrap().to_string(), "INBOX");
        let d = Date::new(1994, 2, 1).unwrap();
        assert_eq!(d.to_string(), "1-Feb-1994");
        let t = DateTime::new(Date::new(1996, 7, 17).unwrap(), 2, 44, 25, -420).unwrap();
        assert_eq!(t.to_string(), "17-Jul-1996 02:44:25 -0700");
    }
}
