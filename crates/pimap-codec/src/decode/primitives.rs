//! Atoms, numbers, strings, literals, sequence sets, flags and dates.

use std::num::NonZeroU32;

use bytes::Bytes;

use super::{PResult, Parser};
use pimap_types::core::MONTHS;
use pimap_types::{
    is_astring_char, is_atom_char, is_tag_char, Atom, Date, DateTime, Flag, IString, Mailbox,
    SeqNo, SeqRange, SequenceSet, Tag,
};

impl Parser<'_> {
    /// Raw atom bytes (1*ATOM-CHAR).
    #[inline]
    pub(crate) fn atom_span(&mut self) -> PResult<(usize, usize)> {
        let start = self.pos;
        self.skip_while(is_atom_char);
        if self.pos == start {
            return self.err("atom");
        }
        Ok((start, self.pos))
    }

    pub(crate) fn atom(&mut self) -> PResult<Atom> {
        let (s, e) = self.atom_span()?;
        Ok(Atom::unchecked(self.slice(s, e)))
    }

    /// Bytes of the next atom, without consuming... consumed; returns the slice.
    pub(crate) fn atom_bytes(&mut self) -> PResult<&[u8]> {
        let (s, e) = self.atom_span()?;
        Ok(self.bytes_between(s, e))
    }

    pub(crate) fn tag(&mut self) -> PResult<Tag> {
        let start = self.pos;
        self.skip_while(is_tag_char);
        if self.pos == start {
            return self.err("tag");
        }
        Ok(Tag::unchecked(self.slice(start, self.pos)))
    }

    #[inline]
    pub(crate) fn number64(&mut self) -> PResult<u64> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let mut v: u64 = 0;
        let mut n = 0;
        for &d in rest {
            if !d.is_ascii_digit() {
                break;
            }
            v = match v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
            {
                Some(v) => v,
                None => {
                    self.pos += n;
                    return self.err("number in range");
                }
            };
            n += 1;
        }
        if n == 0 {
            return self.err("number");
        }
        self.pos += n;
        Ok(v)
    }

    #[inline]
    pub(crate) fn number(&mut self) -> PResult<u32> {
        let v = self.number64()?;
        u32::try_from(v).or_else(|_| self.err("32-bit number"))
    }

    pub(crate) fn nz_number(&mut self) -> PResult<u32> {
        let v = self.number()?;
        if v == 0 {
            return self.err("non-zero number");
        }
        Ok(v)
    }

    /// A quoted string's content (unescaped).
    pub(crate) fn quoted(&mut self) -> PResult<Bytes> {
        self.expect(b'"', "quoted string")?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.peek_at(1) {
                        Some(b'"') | Some(b'\\') => self.pos += 2,
                        _ if self.tolerant() => self.pos += 1,
                        _ => return self.err("quoted-special after backslash"),
                    }
                }
                Some(b'\r') | Some(b'\n') | Some(0) | None => return self.err("closing quote"),
                Some(_) => self.pos += 1,
            }
        }
        let end = self.pos;
        self.pos += 1;
        if !escaped {
            return Ok(self.slice(start, end));
        }
        let raw = self.bytes_between(start, end);
        let mut out = Vec::with_capacity(raw.len());
        let mut i = raw.iter();
        while let Some(&b) = i.next() {
            if b == b'\\' {
                match i.clone().next() {
                    Some(&n) if n == b'"' || n == b'\\' => {
                        out.push(n);
                        i.next();
                    }
                    _ => out.push(b),
                }
            } else {
                out.push(b);
            }
        }
        Ok(Bytes::from(out))
    }

    /// `{n}` / `{n+}` / `~{n}` CRLF and the octets. Returns (data, binary).
    pub(crate) fn literal_any(&mut self) -> PResult<(Bytes, bool)> {
        let binary = self.eat(b'~');
        self.expect(b'{', "literal")?;
        let n = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "}")?;
        if !self.eat(b'\r') && !self.tolerant() {
            return self.err("CRLF after literal announcement");
        }
        self.expect(b'\n', "LF after literal announcement")?;
        let n = usize::try_from(n).or_else(|_| self.err("literal size"))?;
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return self.err("literal data");
        };
        let data = self.slice(self.pos, end);
        self.pos = end;
        Ok((data, binary))
    }

    /// A text literal (no NUL).
    pub(crate) fn literal(&mut self) -> PResult<Bytes> {
        if self.at(b'~') {
            return self.err("literal (not literal8)");
        }
        let start = self.pos;
        let (d, _) = self.literal_any()?;
        if memchr::memchr(0, &d).is_some() {
            self.pos = start;
            return self.err("literal without NUL");
        }
        Ok(d)
    }

    /// `string` = quoted / literal.
    pub(crate) fn string(&mut self) -> PResult<IString> {
        match self.peek() {
            Some(b'"') => Ok(IString::unchecked(self.quoted()?)),
            Some(b'{') => Ok(IString::unchecked(self.literal()?)),
            _ => self.err("string"),
        }
    }

    /// `astring` = 1*ASTRING-CHAR / string.
    pub(crate) fn astring(&mut self) -> PResult<IString> {
        match self.peek() {
            Some(b'"') | Some(b'{') => self.string(),
            _ => {
                let start = self.pos;
                self.skip_while(is_astring_char);
                if self.pos == start {
                    return self.err("astring");
                }
                Ok(IString::unchecked(self.slice(start, self.pos)))
            }
        }
    }

    /// `nstring` = string / NIL.
    pub(crate) fn nstring(&mut self) -> PResult<Option<IString>> {
        if self.kw(b"NIL") {
            return Ok(None);
        }
        if !self.tolerant() || matches!(self.peek(), Some(b'"') | Some(b'{')) {
            return self.string().map(Some);
        }
        // Tolerant: some servers send atoms where strings belong.
        self.astring().map(Some)
    }

    /// nstring or literal8; returns raw bytes (binary allowed).
    pub(crate) fn nstring_or_literal8(&mut self) -> PResult<Option<Bytes>> {
        if self.kw(b"NIL") {
            return Ok(None);
        }
        match self.peek() {
            Some(b'~') | Some(b'{') => Ok(Some(self.literal_any()?.0)),
            Some(b'"') => Ok(Some(self.quoted()?)),
            _ => self.err("nstring or literal8"),
        }
    }

    pub(crate) fn mailbox(&mut self) -> PResult<Mailbox> {
        let s = self.astring()?;
        Ok(Mailbox::normalise(s.to_bytes()))
    }

    fn seq_no(&mut self) -> PResult<SeqNo> {
        if self.eat(b'*') {
            return Ok(SeqNo::Largest);
        }
        let n = self.number()?;
        match NonZeroU32::new(n) {
            Some(n) => Ok(SeqNo::Value(n)),
            None => self.err("non-zero sequence number"),
        }
    }

    pub(crate) fn seq_set(&mut self) -> PResult<SequenceSet> {
        if self.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut v = Vec::with_capacity(1);
        loop {
            let a = self.seq_no()?;
            if self.eat(b':') {
                let b = self.seq_no()?;
                v.push(SeqRange::Range(a, b));
            } else {
                v.push(SeqRange::Single(a));
            }
            if !self.eat(b',') {
                break;
            }
        }
        Ok(SequenceSet::Ranges(v))
    }

    /// One flag (`\Seen`, `keyword`, `\*`).
    pub(crate) fn flag(&mut self) -> PResult<Flag> {
        if self.eat(b'\\') {
            if self.eat(b'*') {
                return Ok(Flag::Wildcard);
            }
            let (s, e) = self.atom_span()?;
            let name = self.bytes_between(s, e);
            let f = match name.len() {
                4 if name.eq_ignore_ascii_case(b"Seen") => Flag::Seen,
                5 if name.eq_ignore_ascii_case(b"Draft") => Flag::Draft,
                6 if name.eq_ignore_ascii_case(b"Recent") => Flag::Recent,
                7 if name.eq_ignore_ascii_case(b"Deleted") => Flag::Deleted,
                7 if name.eq_ignore_ascii_case(b"Flagged") => Flag::Flagged,
                8 if name.eq_ignore_ascii_case(b"Answered") => Flag::Answered,
                9 if name.eq_ignore_ascii_case(b"Forwarded") => Flag::Forwarded,
                _ => Flag::Extension(Atom::unchecked(self.slice(s, e))),
            };
            Ok(f)
        } else if self.from_server && self.tolerant() && !self.in_code {
            // imap.gmail.com sends keywords with `]` (`OIB-Seen-[Google Mail]/...`),
            // which no atom may hold (ruby/net-imap quirky_behaviors.yml).
            let start = self.pos;
            self.skip_while(|b| is_atom_char(b) || b == b']');
            if self.pos == start {
                return self.err("flag");
            }
            Ok(Flag::Keyword(Atom::unchecked(self.slice(start, self.pos))))
        } else {
            Ok(Flag::Keyword(self.atom()?))
        }
    }

    /// `(flag *(SP flag))` possibly empty.
    pub(crate) fn flag_list(&mut self) -> PResult<Vec<Flag>> {
        self.expect(b'(', "(")?;
        if self.eat(b')') {
            return Ok(Vec::new());
        }
        // Room for the system flags and a few keywords up front: one allocation, no growth
        // for typical lists.
        let mut v = Vec::with_capacity(8);
        loop {
            v.push(self.flag()?);
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
            if self.tolerant() && self.eat(b')') {
                return Ok(v);
            }
        }
    }

    fn month(&mut self) -> PResult<u8> {
        let s = self.bytes_between(self.pos, self.pos + 3);
        for (i, m) in MONTHS.iter().enumerate() {
            if s.eq_ignore_ascii_case(&m[..]) {
                self.pos += 3;
                return Ok(i as u8 + 1);
            }
        }
        self.err("month")
    }

    fn digits(&mut self, min: usize, max: usize) -> PResult<u32> {
        let start = self.pos;
        let mut v = 0u32;
        while self.pos - start < max {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(d - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        if self.pos - start < min {
            return self.err("digits");
        }
        Ok(v)
    }

    /// `date` = date-text / DQUOTE date-text DQUOTE (`1-Feb-1994`).
    pub(crate) fn date(&mut self) -> PResult<Date> {
        let q = self.eat(b'"');
        let day = self.digits(1, 2)?;
        self.expect(b'-', "-")?;
        let month = self.month()?;
        self.expect(b'-', "-")?;
        let year = self.digits(4, 4)?;
        if q {
            self.expect(b'"', "closing quote")?;
        }
        Date::new(year as u16, month, day as u8).or_else(|_| self.err("valid date"))
    }

    /// `date-time` = DQUOTE date-day-fixed "-" month "-" year SP time SP zone DQUOTE.
    pub(crate) fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"', "date-time")?;
        self.eat(b' ');
        let day = self.digits(1, 2)?;
        self.expect(b'-', "-")?;
        let month = self.month()?;
        self.expect(b'-', "-")?;
        let year = self.digits(4, 4)?;
        self.expect(b' ', "SP")?;
        let h = self.digits(2, 2)?;
        self.expect(b':', ":")?;
        let m = self.digits(2, 2)?;
        self.expect(b':', ":")?;
        let s = self.digits(2, 2)?;
        self.expect(b' ', "SP")?;
        let neg = match self.peek() {
            Some(b'+') => false,
            Some(b'-') => true,
            _ => return self.err("zone"),
        };
        self.pos += 1;
        let z = self.digits(4, 4)?;
        self.expect(b'"', "closing quote")?;
        let mins = (z / 100 * 60 + z % 100) as i16;
        let date = Date::new(year as u16, month, day as u8).or_else(|_| self.err("valid date"))?;
        DateTime::new(
            date,
            h as u8,
            m as u8,
            s as u8,
            if neg { -mins } else { mins },
        )
        .or_else(|_| self.err("valid time"))
    }

    /// Skip one generic value (atom with optional `[...]`/`<...>`, number, string, literal,
    /// literal8, NIL, parenthesised list). Used to keep unknown data verbatim.
    pub(crate) fn skip_value(&mut self) -> PResult<()> {
        match self.peek() {
            Some(b'(') => {
                self.enter()?;
                self.pos += 1;
                if !self.eat(b')') {
                    loop {
                        self.skip_value()?;
                        if self.eat(b')') {
                            break;
                        }
                        self.sp()?;
                    }
                }
                self.leave();
                Ok(())
            }
            Some(b'"') => self.quoted().map(drop),
            Some(b'{') | Some(b'~') => self.literal_any().map(drop),
            Some(b'\\') => {
                self.pos += 1;
                if self.eat(b'*') {
                    return Ok(());
                }
                self.atom_span().map(drop)
            }
            _ => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if is_atom_char(b) {
                        self.pos += 1;
                    } else if b == b'[' {
                        self.skip_brackets()?;
                    } else {
                        break;
                    }
                }
                if self.pos == start {
                    return self.err("value");
                }
                if self.at(b'<') {
                    self.pos += 1;
                    self.skip_while(|b| b.is_ascii_digit() || b == b'.');
                    self.expect(b'>', ">")?;
                }
                Ok(())
            }
        }
    }

    /// Skip `[ ... ]` with nested brackets/lists/strings.
    pub(crate) fn skip_brackets(&mut self) -> PResult<()> {
        self.expect(b'[', "[")?;
        self.enter()?;
        loop {
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(b'"') => {
                    self.quoted()?;
                }
                Some(b'(') => self.skip_value()?,
                Some(b'{') => {
                    self.literal_any()?;
                }
                Some(b'[') => self.skip_brackets()?,
                Some(b'\r') | Some(b'\n') | None => return self.err("]"),
                Some(_) => self.pos += 1,
            }
        }
        self.leave();
        Ok(())
    }

    /// Skip SP-separated generic values to the end of the line (not consuming CRLF).
    pub(crate) fn skip_values_to_eol(&mut self) -> PResult<()> {
        while !self.at_eol() {
            self.skip_value()?;
            if self.at_eol() {
                break;
            }
            self.sp()?;
        }
        Ok(())
    }

    /// Human-readable text up to the line end (any bytes but CR/LF).
    pub(crate) fn text_to_eol(&mut self) -> Bytes {
        let start = self.pos;
        let end = match memchr::memchr2(
            b'\r',
            b'\n',
            self.bytes_between(start, self.line_end().max(start)),
        ) {
            Some(i) => start + i,
            None => self.line_end().max(start),
        };
        self.pos = end;
        self.slice(start, end)
    }

    /// `"(" astring *(SP astring) ")"` possibly empty (tolerant of trailing space).
    pub(crate) fn astring_list(&mut self) -> PResult<Vec<IString>> {
        self.expect(b'(', "(")?;
        let mut v = Vec::new();
        if self.eat(b')') {
            return Ok(v);
        }
        loop {
            v.push(self.astring()?);
            if self.eat(b')') {
                return Ok(v);
            }
            self.sp()?;
            if self.tolerant() && self.eat(b')') {
                return Ok(v);
            }
        }
    }

    /// Part numbers `1.2.3` (stops before a `.` not followed by a digit).
    pub(crate) fn part_numbers(&mut self) -> PResult<Vec<u32>> {
        let mut v = Vec::new();
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Ok(v);
        }
        v.push(self.nz_number()?);
        while self.at(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            v.push(self.nz_number()?);
        }
        Ok(v)
    }
}
