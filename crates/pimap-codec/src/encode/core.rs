//! Primitive writers shared by commands and responses: atoms, strings, literals, sequence
//! sets, flags, dates, search keys, FETCH attributes and sections, envelopes, body
//! structures, response codes and P-IMAP preference values.
//!
//! Every writer picks the wire form from the value alone. The [`Dialect`] is never consulted
//! here: all dialect differences of P-IMAP are spelled out in the values themselves
//! ([`PrefCommandName`], [`XZipFraming`], [`XFilterCommand`] generations,
//! [`ProvisionItem::EncKey`]'s `legacy` flag, ...), so that `decode(encode(v)) == v`.
//!
//! [`Dialect`]: crate::Dialect
//! [`PrefCommandName`]: pimap_types::PrefCommandName
//! [`XZipFraming`]: pimap_types::XZipFraming
//! [`XFilterCommand`]: pimap_types::XFilterCommand
//! [`ProvisionItem::EncKey`]: pimap_types::ProvisionItem::EncKey

use super::Encoder;
use pimap_types::core::MONTHS;
use pimap_types::{
    is_astring_char, is_atom_char, Address, Atom, BasicFields, BodyExtension, BodyStructure,
    Capability, Code, ConvertMedia, Date, DateTime, Envelope, ExtensionTail, FetchAttr, FetchItems,
    FetchMacro, Flag, FolderSelector, IString, LanguageTail, Literal8, LocationTail, Mailbox,
    MultiPartExtension, Partial, PrefValue, SearchKey, Section, SectionText, SeqNo, SeqRange,
    SequenceSet, SinglePartExtension, SpecificFields, StatusAttr,
};

/// Longest content written as a quoted string; longer strings become literals.
pub(crate) const MAX_QUOTED: usize = 1024;

/// Can `b` be written as a quoted string (7-bit, no NUL/CR/LF, not too long)?
#[inline]
pub(crate) fn is_quotable(b: &[u8]) -> bool {
    b.len() <= MAX_QUOTED
        && b.iter()
            .all(|&c| c != 0 && c != b'\r' && c != b'\n' && c < 0x80)
}

/// Can `b` be written as an atom-form `astring` (1*ASTRING-CHAR)?
#[inline]
pub fn is_astring_atom(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| is_astring_char(c))
}

/// Can `b` be written bare as a `list-mailbox` (1*list-char)?
#[inline]
fn is_list_atom(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|&c| is_astring_char(c) || c == b'%' || c == b'*')
}

/// Does `line` end with something the framer would take for a literal announcement
/// (`{digits}`, `{digits+}`)?
fn ends_like_announcement(line: &[u8]) -> bool {
    let Some(rest) = line.strip_suffix(b"}") else {
        return false;
    };
    let rest = rest.strip_suffix(b"+").unwrap_or(rest);
    let digits = rest.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && rest.len() > digits && rest.get(rest.len() - digits - 1) == Some(&b'{')
}

impl Encoder {
    // ------------------------------------------------------------------ tokens and strings

    /// An atom, verbatim.
    #[inline]
    pub(crate) fn atom(&mut self, a: &Atom) {
        self.raw(a.as_bytes());
    }

    /// A quoted string with `"` and `\` escaped. The caller checked [`is_quotable`].
    pub(crate) fn quoted(&mut self, b: &[u8]) {
        self.byte(b'"');
        let mut rest = b;
        while let Some(i) = memchr::memchr2(b'"', b'\\', rest) {
            let (head, tail) = rest.split_at(i);
            self.raw(head);
            self.byte(b'\\');
            match tail.split_first() {
                Some((&c, t)) => {
                    self.byte(c);
                    rest = t;
                }
                None => {
                    rest = tail;
                    break;
                }
            }
        }
        self.raw(rest);
        self.byte(b'"');
    }

    /// `string`: quoted if possible, else a literal (a literal8 if the data holds NUL).
    pub(crate) fn string(&mut self, b: &[u8]) {
        if is_quotable(b) {
            self.quoted(b);
        } else {
            let binary = memchr::memchr(0, b).is_some();
            self.literal(b, binary);
        }
    }

    /// `nstring`: `NIL` or a string (a large one possibly shared, see
    /// [`Encoder::literal_bytes`]).
    #[inline]
    pub(crate) fn nstring(&mut self, s: Option<&IString>) {
        match s {
            Some(s) if self.share_min.is_some_and(|m| s.len() >= m) => {
                let b = s.to_bytes();
                let binary = memchr::memchr(0, &b).is_some();
                self.literal_bytes(&b, binary);
            }
            Some(s) => self.string(s.as_bytes()),
            None => self.raw(b"NIL"),
        }
    }

    /// `astring`: atom form when non-empty and all ASTRING-CHAR, else a string.
    #[inline]
    pub(crate) fn astring(&mut self, b: &[u8]) {
        if is_astring_atom(b) {
            self.raw(b);
        } else {
            self.string(b);
        }
    }

    /// `astring` in a position where some atoms have another meaning (`NIL` for a
    /// preference value, `ALL` for a folder selector, `Y`/`N` in XDELIVER): content equal to
    /// one of `reserved` (case-insensitively) is quoted.
    pub(crate) fn astring_except(&mut self, b: &[u8], reserved: &[&[u8]]) {
        if is_astring_atom(b) && !reserved.iter().any(|r| r.eq_ignore_ascii_case(b)) {
            self.raw(b);
        } else {
            self.string(b);
        }
    }

    /// A mailbox name (`astring`; empty is `""`).
    #[inline]
    pub(crate) fn mailbox(&mut self, m: &Mailbox) {
        self.astring(m.as_bytes());
    }

    /// `list-mailbox`: bare when all list-chars (`%` and `*` allowed), else a string.
    pub(crate) fn list_mailbox(&mut self, b: &[u8]) {
        if is_list_atom(b) {
            self.raw(b);
        } else {
            self.string(b);
        }
    }

    /// A literal or literal8 argument.
    #[inline]
    pub(crate) fn literal8(&mut self, l: &Literal8) {
        self.literal_bytes(&l.data, l.binary);
    }

    /// Human-readable text up to the end of a line, verbatim (the text is uninterpreted:
    /// 8-bit bytes and even NUL, which the decoder accepts, are passed through) except that
    /// CR and LF, which would end the line, are written as SP, and a text that would end
    /// like a literal announcement (`{5}`) gets a trailing SP so that it cannot be taken
    /// for one.
    pub(crate) fn text(&mut self, b: &[u8]) {
        let mut rest = b;
        while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
            let (head, tail) = rest.split_at(i);
            self.raw(head);
            self.byte(b' ');
            rest = tail.get(1..).unwrap_or(&[]);
        }
        self.raw(rest);
        if ends_like_announcement(b) {
            self.byte(b' ');
        }
    }

    /// A quoted single character (hierarchy delimiter), or `NIL`.
    pub(crate) fn delimiter(&mut self, d: Option<u8>) {
        match d {
            Some(c) if c != 0 && c != b'\r' && c != b'\n' => {
                self.byte(b'"');
                if c == b'"' || c == b'\\' {
                    self.byte(b'\\');
                }
                self.byte(c);
                self.byte(b'"');
            }
            _ => self.raw(b"NIL"),
        }
    }

    /// A number with at least `width` digits (zero-padded).
    pub(crate) fn num_padded(&mut self, n: u32, width: usize) {
        let mut len = 1;
        let mut v = n / 10;
        while v > 0 {
            len += 1;
            v /= 10;
        }
        for _ in len..width {
            self.byte(b'0');
        }
        self.num(u64::from(n));
    }

    /// `"(" astring *(SP astring) ")"`, possibly empty.
    pub(crate) fn astring_list(&mut self, v: &[IString]) {
        self.byte(b'(');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.astring(s.as_bytes());
        }
        self.byte(b')');
    }

    /// `"(" string *(SP string) ")"`, possibly empty.
    pub(crate) fn string_list(&mut self, v: &[IString]) {
        self.byte(b'(');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.string(s.as_bytes());
        }
        self.byte(b')');
    }

    /// Atoms separated by SP (no leading SP).
    pub(crate) fn atoms(&mut self, v: &[Atom]) {
        for (i, a) in v.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.atom(a);
        }
    }

    /// `SP cap` for each capability.
    pub(crate) fn capabilities(&mut self, caps: &[Capability]) {
        for c in caps {
            self.sp();
            self.atom(&c.0);
        }
    }

    // ------------------------------------------------------------------ sets, flags, dates

    fn seq_no(&mut self, n: SeqNo) {
        match n {
            SeqNo::Value(v) => self.num(u64::from(v.get())),
            SeqNo::Largest => self.byte(b'*'),
        }
    }

    /// `1,3:5,9:*` or `$`.
    pub(crate) fn seq_set(&mut self, s: &SequenceSet) {
        match s {
            SequenceSet::Saved => self.byte(b'$'),
            SequenceSet::Ranges(r) => {
                for (i, r) in r.iter().enumerate() {
                    if i > 0 {
                        self.byte(b',');
                    }
                    match *r {
                        SeqRange::Single(a) => self.seq_no(a),
                        SeqRange::Range(a, b) => {
                            self.seq_no(a);
                            self.byte(b':');
                            self.seq_no(b);
                        }
                    }
                }
            }
        }
    }

    /// One flag in canonical capitalisation.
    pub(crate) fn flag(&mut self, f: &Flag) {
        match f {
            Flag::Answered => self.raw(b"\\Answered"),
            Flag::Flagged => self.raw(b"\\Flagged"),
            Flag::Deleted => self.raw(b"\\Deleted"),
            Flag::Seen => self.raw(b"\\Seen"),
            Flag::Draft => self.raw(b"\\Draft"),
            Flag::Recent => self.raw(b"\\Recent"),
            Flag::Forwarded => self.raw(b"\\Forwarded"),
            Flag::Wildcard => self.raw(b"\\*"),
            Flag::Extension(a) => {
                self.byte(b'\\');
                self.atom(a);
            }
            Flag::Keyword(a) => self.atom(a),
        }
    }

    /// `(flag *(SP flag))`, possibly empty.
    pub(crate) fn flag_list(&mut self, flags: &[Flag]) {
        self.byte(b'(');
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.flag(f);
        }
        self.byte(b')');
    }

    fn month(&mut self, m: u8) {
        let name = usize::from(m)
            .checked_sub(1)
            .and_then(|i| MONTHS.get(i))
            .copied();
        self.raw(name.unwrap_or(b"Jan"));
    }

    /// SEARCH `date`: `1-Feb-1994`.
    pub(crate) fn date(&mut self, d: &Date) {
        self.num(u64::from(d.day()));
        self.byte(b'-');
        self.month(d.month());
        self.byte(b'-');
        self.num_padded(u32::from(d.year()), 4);
    }

    /// `date-time`: `"17-Jul-1996 02:44:25 -0700"` (day padded with a space).
    pub(crate) fn date_time(&mut self, dt: &DateTime) {
        let d = dt.date();
        self.byte(b'"');
        if d.day() < 10 {
            self.byte(b' ');
        }
        self.num(u64::from(d.day()));
        self.byte(b'-');
        self.month(d.month());
        self.byte(b'-');
        self.num_padded(u32::from(d.year()), 4);
        self.sp();
        let (h, m, s) = dt.time();
        self.num_padded(u32::from(h), 2);
        self.byte(b':');
        self.num_padded(u32::from(m), 2);
        self.byte(b':');
        self.num_padded(u32::from(s), 2);
        self.sp();
        let z = dt.zone_minutes();
        self.byte(if z < 0 { b'-' } else { b'+' });
        let z = u32::from(z.unsigned_abs());
        self.num_padded(z / 60, 2);
        self.num_padded(z % 60, 2);
        self.byte(b'"');
    }

    // ------------------------------------------------------------------ search

    /// Search keys separated by SP (no leading SP).
    pub(crate) fn search_keys(&mut self, keys: &[SearchKey]) {
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.search_key(k);
        }
    }

    fn key_astring(&mut self, name: &[u8], s: &IString) {
        self.raw(name);
        self.astring(s.as_bytes());
    }

    fn key_date(&mut self, name: &[u8], d: &Date) {
        self.raw(name);
        self.date(d);
    }

    pub(crate) fn key_num(&mut self, name: &[u8], n: u32) {
        self.raw(name);
        self.num(u64::from(n));
    }

    /// One search key.
    pub(crate) fn search_key(&mut self, k: &SearchKey) {
        use SearchKey as K;
        match k {
            K::All => self.raw(b"ALL"),
            K::Answered => self.raw(b"ANSWERED"),
            K::Bcc(s) => self.key_astring(b"BCC ", s),
            K::Before(d) => self.key_date(b"BEFORE ", d),
            K::Body(s) => self.key_astring(b"BODY ", s),
            K::Cc(s) => self.key_astring(b"CC ", s),
            K::Deleted => self.raw(b"DELETED"),
            K::Draft => self.raw(b"DRAFT"),
            K::Flagged => self.raw(b"FLAGGED"),
            K::From(s) => self.key_astring(b"FROM ", s),
            K::Header(f, v) => {
                self.key_astring(b"HEADER ", f);
                self.sp();
                self.astring(v.as_bytes());
            }
            K::Keyword(a) => {
                self.raw(b"KEYWORD ");
                self.atom(a);
            }
            K::Larger(n) => self.key_num(b"LARGER ", *n),
            K::New => self.raw(b"NEW"),
            K::Not(k) => {
                self.raw(b"NOT ");
                self.search_key(k);
            }
            K::Old => self.raw(b"OLD"),
            K::On(d) => self.key_date(b"ON ", d),
            K::Or(a, b) => {
                self.raw(b"OR ");
                self.search_key(a);
                self.sp();
                self.search_key(b);
            }
            K::Recent => self.raw(b"RECENT"),
            K::Seen => self.raw(b"SEEN"),
            K::SentBefore(d) => self.key_date(b"SENTBEFORE ", d),
            K::SentOn(d) => self.key_date(b"SENTON ", d),
            K::SentSince(d) => self.key_date(b"SENTSINCE ", d),
            K::Since(d) => self.key_date(b"SINCE ", d),
            K::Smaller(n) => self.key_num(b"SMALLER ", *n),
            K::Subject(s) => self.key_astring(b"SUBJECT ", s),
            K::Text(s) => self.key_astring(b"TEXT ", s),
            K::To(s) => self.key_astring(b"TO ", s),
            K::Uid(set) => {
                self.raw(b"UID ");
                self.seq_set(set);
            }
            K::Unanswered => self.raw(b"UNANSWERED"),
            K::Undeleted => self.raw(b"UNDELETED"),
            K::Undraft => self.raw(b"UNDRAFT"),
            K::Unflagged => self.raw(b"UNFLAGGED"),
            K::Unkeyword(a) => {
                self.raw(b"UNKEYWORD ");
                self.atom(a);
            }
            K::Unseen => self.raw(b"UNSEEN"),
            K::SequenceSet(set) => self.seq_set(set),
            K::And(keys) => {
                self.byte(b'(');
                self.search_keys(keys);
                self.byte(b')');
            }
            K::ModSeq { entry, modseq } => {
                self.raw(b"MODSEQ ");
                if let Some((name, ty)) = entry {
                    self.string(name.as_bytes());
                    self.sp();
                    self.atom(ty);
                    self.sp();
                }
                self.num(*modseq);
            }
            K::Younger(n) => self.key_num(b"YOUNGER ", *n),
            K::Older(n) => self.key_num(b"OLDER ", *n),
            K::DaysBeforeToday(n) => self.key_num(b"DAYSBEFORETODAY ", *n),
            K::Forwarded => self.raw(b"FORWARDED"),
            K::Unforwarded => self.raw(b"UNFORWARDED"),
            K::None => self.raw(b"NONE"),
        }
    }

    // ------------------------------------------------------------------ FETCH attributes

    /// Part numbers `1.2.3`.
    pub(crate) fn part(&mut self, part: &[u32]) {
        for (i, p) in part.iter().enumerate() {
            if i > 0 {
                self.byte(b'.');
            }
            self.num(u64::from(*p));
        }
    }

    /// `[part]`
    pub(crate) fn bracket_part(&mut self, part: &[u32]) {
        self.byte(b'[');
        self.part(part);
        self.byte(b']');
    }

    /// `[section]`, including the P-IMAP `.XCONVERT[.STRICT] (...)` conversion.
    pub(crate) fn section(&mut self, s: &Section) {
        self.byte(b'[');
        self.part(&s.part);
        if let Some(t) = &s.text {
            if !s.part.is_empty() {
                self.byte(b'.');
            }
            match t {
                SectionText::Header => self.raw(b"HEADER"),
                SectionText::HeaderFields { not, fields } => {
                    self.raw(if *not {
                        b"HEADER.FIELDS.NOT "
                    } else {
                        b"HEADER.FIELDS "
                    });
                    self.astring_list(fields);
                }
                SectionText::Text => self.raw(b"TEXT"),
                SectionText::Mime => self.raw(b"MIME"),
                SectionText::Convert(c) => {
                    self.raw(if c.strict {
                        b"XCONVERT.STRICT ("
                    } else {
                        b"XCONVERT ("
                    });
                    match &c.media {
                        ConvertMedia::TypeSubtype(t, st) => {
                            self.string(t.as_bytes());
                            self.sp();
                            self.string(st.as_bytes());
                        }
                        ConvertMedia::Combined(t) => self.string(t.as_bytes()),
                        ConvertMedia::Default => self.raw(b"NIL NIL"),
                    }
                    if !c.params.is_empty() {
                        self.raw(b" (");
                        for (i, (n, v)) in c.params.iter().enumerate() {
                            if i > 0 {
                                self.sp();
                            }
                            self.string(n.as_bytes());
                            self.sp();
                            self.string(v.as_bytes());
                        }
                        self.byte(b')');
                    }
                    self.byte(b')');
                }
            }
        }
        self.byte(b']');
    }

    /// `<origin.count>`
    pub(crate) fn partial(&mut self, p: Option<&Partial>) {
        if let Some(p) = p {
            self.byte(b'<');
            self.num(u64::from(p.origin));
            self.byte(b'.');
            self.num(u64::from(p.count));
            self.byte(b'>');
        }
    }

    /// `<origin>` of a FETCH response item.
    pub(crate) fn origin(&mut self, o: Option<u32>) {
        if let Some(o) = o {
            self.byte(b'<');
            self.num(u64::from(o));
            self.byte(b'>');
        }
    }

    fn fetch_macro(&mut self, m: FetchMacro) {
        self.raw(match m {
            FetchMacro::All => b"ALL",
            FetchMacro::Fast => b"FAST",
            FetchMacro::Full => b"FULL",
        });
    }

    /// One FETCH attribute of a command.
    pub fn fetch_attr(&mut self, a: &FetchAttr) {
        match a {
            FetchAttr::Envelope => self.raw(b"ENVELOPE"),
            FetchAttr::Flags => self.raw(b"FLAGS"),
            FetchAttr::InternalDate => self.raw(b"INTERNALDATE"),
            FetchAttr::Rfc822 => self.raw(b"RFC822"),
            FetchAttr::Rfc822Header => self.raw(b"RFC822.HEADER"),
            FetchAttr::Rfc822Size => self.raw(b"RFC822.SIZE"),
            FetchAttr::Rfc822Text => self.raw(b"RFC822.TEXT"),
            FetchAttr::Body => self.raw(b"BODY"),
            FetchAttr::BodyStructure => self.raw(b"BODYSTRUCTURE"),
            FetchAttr::Uid => self.raw(b"UID"),
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            } => {
                self.raw(if *peek { b"BODY.PEEK" } else { b"BODY" });
                self.section(section);
                self.partial(partial.as_ref());
            }
            FetchAttr::Binary {
                peek,
                section,
                partial,
            } => {
                self.raw(if *peek { b"BINARY.PEEK" } else { b"BINARY" });
                self.section(section);
                self.partial(partial.as_ref());
            }
            FetchAttr::BinarySize { section } => {
                self.raw(b"BINARY.SIZE");
                self.section(section);
            }
            FetchAttr::ModSeq => self.raw(b"MODSEQ"),
            FetchAttr::XZip {
                peek,
                part,
                partial,
            } => {
                self.raw(if *peek { b"XZIP.PEEK" } else { b"XZIP" });
                self.bracket_part(part);
                self.partial(partial.as_ref());
            }
            FetchAttr::XZipSize { part } => {
                self.raw(b"XZIP.SIZE");
                self.bracket_part(part);
            }
            FetchAttr::Preview { lazy } => {
                self.raw(if *lazy {
                    b"PREVIEW (LAZY)" as &[u8]
                } else {
                    b"PREVIEW"
                });
            }
            FetchAttr::SaveDate => self.raw(b"SAVEDATE"),
            FetchAttr::Macro(m) => self.fetch_macro(*m),
        }
    }

    /// FETCH items: a macro, one bare attribute, or a parenthesised list. A list holding only
    /// a macro is kept parenthesised (`(ALL)`) so that it reads back as a list.
    pub(crate) fn fetch_items(&mut self, items: &FetchItems) {
        match items {
            FetchItems::Macro(m) => self.fetch_macro(*m),
            FetchItems::List(v) => match v.as_slice() {
                [one] if !matches!(one, FetchAttr::Macro(_)) => self.fetch_attr(one),
                _ => {
                    self.byte(b'(');
                    for (i, a) in v.iter().enumerate() {
                        if i > 0 {
                            self.sp();
                        }
                        self.fetch_attr(a);
                    }
                    self.byte(b')');
                }
            },
        }
    }

    /// A STATUS item name.
    pub(crate) fn status_attr(&mut self, a: &StatusAttr) {
        match a {
            StatusAttr::Messages => self.raw(b"MESSAGES"),
            StatusAttr::Recent => self.raw(b"RECENT"),
            StatusAttr::UidNext => self.raw(b"UIDNEXT"),
            StatusAttr::UidValidity => self.raw(b"UIDVALIDITY"),
            StatusAttr::Unseen => self.raw(b"UNSEEN"),
            StatusAttr::HighestModSeq => self.raw(b"HIGHESTMODSEQ"),
            StatusAttr::Size => self.raw(b"SIZE"),
            StatusAttr::MonoIncUid => self.raw(b"MONOINCUID"),
            StatusAttr::Other(a) => self.atom(a),
        }
    }

    /// `(item *(SP item))` of STATUS names.
    pub(crate) fn status_attr_list(&mut self, items: &[StatusAttr]) {
        self.byte(b'(');
        for (i, a) in items.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.status_attr(a);
        }
        self.byte(b')');
    }

    // ------------------------------------------------------------------ envelope and body

    /// `(name adl mailbox host)`
    pub(crate) fn address(&mut self, a: &Address) {
        self.byte(b'(');
        self.nstring(a.name.as_ref());
        self.sp();
        self.nstring(a.adl.as_ref());
        self.sp();
        self.nstring(a.mailbox.as_ref());
        self.sp();
        self.nstring(a.host.as_ref());
        self.byte(b')');
    }

    /// `"(" 1*address ")"` or `NIL` when empty.
    pub(crate) fn address_list(&mut self, v: &[Address]) {
        if v.is_empty() {
            self.raw(b"NIL");
            return;
        }
        self.byte(b'(');
        for a in v {
            self.address(a);
        }
        self.byte(b')');
    }

    /// `ENVELOPE` structure.
    pub(crate) fn envelope(&mut self, e: &Envelope) {
        self.byte(b'(');
        self.nstring(e.date.as_ref());
        self.sp();
        self.nstring(e.subject.as_ref());
        for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
            self.sp();
            self.address_list(list);
        }
        self.sp();
        self.nstring(e.in_reply_to.as_ref());
        self.sp();
        self.nstring(e.message_id.as_ref());
        self.byte(b')');
    }

    /// `body-fld-param`: `(k v k v)` or `NIL` when empty.
    fn body_params(&mut self, v: &[(IString, IString)]) {
        if v.is_empty() {
            self.raw(b"NIL");
            return;
        }
        self.byte(b'(');
        for (i, (k, val)) in v.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.string(k.as_bytes());
            self.sp();
            self.string(val.as_bytes());
        }
        self.byte(b')');
    }

    fn basic_fields(&mut self, b: &BasicFields) {
        self.string(b.media_type.as_bytes());
        self.sp();
        self.string(b.subtype.as_bytes());
        self.sp();
        self.body_params(&b.params);
        self.sp();
        self.nstring(b.id.as_ref());
        self.sp();
        self.nstring(b.description.as_ref());
        self.sp();
        self.string(b.encoding.as_bytes());
        self.sp();
        self.num(u64::from(b.octets));
    }

    /// `body` (BODY or BODYSTRUCTURE, with whatever extension data the value holds).
    pub(crate) fn body(&mut self, b: &BodyStructure) {
        self.byte(b'(');
        match b {
            BodyStructure::Single {
                basic,
                specific,
                extension,
            } => {
                self.basic_fields(basic);
                match specific {
                    SpecificFields::Basic => {}
                    SpecificFields::Text { lines } => {
                        self.sp();
                        self.num(u64::from(*lines));
                    }
                    SpecificFields::Message {
                        envelope,
                        body,
                        lines,
                    } => {
                        self.sp();
                        self.envelope(envelope);
                        self.sp();
                        self.body(body);
                        self.sp();
                        self.num(u64::from(*lines));
                    }
                }
                if let Some(SinglePartExtension { md5, tail }) = extension {
                    self.sp();
                    self.nstring(md5.as_ref());
                    self.ext_tail(tail.as_ref());
                }
            }
            BodyStructure::Multi {
                parts,
                subtype,
                extension,
            } => {
                for p in parts {
                    self.body(p);
                }
                self.sp();
                self.string(subtype.as_bytes());
                if let Some(MultiPartExtension { params, tail }) = extension {
                    self.sp();
                    self.body_params(params);
                    self.ext_tail(tail.as_ref());
                }
            }
        }
        self.byte(b')');
    }

    fn ext_tail(&mut self, t: Option<&ExtensionTail>) {
        let Some(t) = t else { return };
        self.sp();
        match &t.disposition {
            Some((ty, params)) => {
                self.byte(b'(');
                self.string(ty.as_bytes());
                self.sp();
                self.body_params(params);
                self.byte(b')');
            }
            None => self.raw(b"NIL"),
        }
        let Some(LanguageTail {
            languages,
            location,
        }) = &t.language
        else {
            return;
        };
        self.sp();
        match languages.as_slice() {
            [] => self.raw(b"NIL"),
            [one] => self.string(one.as_bytes()),
            many => self.string_list(many),
        }
        let Some(LocationTail {
            location,
            extensions,
        }) = location
        else {
            return;
        };
        self.sp();
        self.nstring(location.as_ref());
        for e in extensions {
            self.sp();
            self.body_extension(e);
        }
    }

    /// `body-extension`. An empty list has no wire form and is written as `NIL`.
    fn body_extension(&mut self, e: &BodyExtension) {
        match e {
            BodyExtension::NString(s) => self.nstring(s.as_ref()),
            BodyExtension::Number(n) => self.num(u64::from(*n)),
            BodyExtension::List(v) if v.is_empty() => self.raw(b"NIL"),
            BodyExtension::List(v) => {
                self.byte(b'(');
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.body_extension(e);
                }
                self.byte(b')');
            }
        }
    }

    // ------------------------------------------------------------------ response codes

    /// `[code]`, brackets included.
    pub(crate) fn code(&mut self, c: &Code) {
        self.byte(b'[');
        match c {
            Code::BadCharset(v) => {
                self.raw(b"BADCHARSET");
                if !v.is_empty() {
                    self.sp();
                    self.astring_list(v);
                }
            }
            Code::Capability(caps) => {
                self.raw(b"CAPABILITY");
                self.capabilities(caps);
            }
            Code::PermanentFlags(f) => {
                self.raw(b"PERMANENTFLAGS ");
                self.flag_list(f);
            }
            Code::UidNext(n) => self.key_num(b"UIDNEXT ", *n),
            Code::UidValidity(n) => self.key_num(b"UIDVALIDITY ", *n),
            Code::Unseen(n) => self.key_num(b"UNSEEN ", *n),
            Code::AppendUid { uid_validity, uids } => {
                self.key_num(b"APPENDUID ", *uid_validity);
                self.sp();
                self.seq_set(uids);
            }
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            } => {
                self.key_num(b"COPYUID ", *uid_validity);
                self.sp();
                self.seq_set(source);
                self.sp();
                self.seq_set(destination);
            }
            Code::HighestModSeq(n) => {
                self.raw(b"HIGHESTMODSEQ ");
                self.num(*n);
            }
            Code::Modified(set) => {
                self.raw(b"MODIFIED ");
                self.seq_set(set);
            }
            Code::BadParameters(v) => {
                self.raw(b"BADPARAMETERS ");
                self.astring_list(v);
            }
            Code::XMacroFailed(n) => self.key_num(b"XMACRO-FAILED ", *n),
            Code::XResume(n) => {
                self.raw(b"XRESUME ");
                self.num(*n);
            }
            Code::BadUrl(url) => {
                self.raw(b"BADURL ");
                // url-resp-text: no `]` and no line end.
                for &b in url
                    .iter()
                    .filter(|&&b| b != b']' && b != b'\r' && b != b'\n')
                {
                    self.byte(b);
                }
            }
            Code::BadEvent(events) => {
                self.raw(b"BADEVENT (");
                self.atoms(events);
                self.byte(b')');
            }
            Code::Other { name, args } => {
                self.atom(name);
                if let Some(a) = args {
                    self.sp();
                    self.raw(a);
                }
            }
            simple => self.raw(simple.simple_name().unwrap_or_default().as_bytes()),
        }
        self.byte(b']');
    }

    // ------------------------------------------------------------------ P-IMAP values

    /// A preference value: astring (`NIL` content quoted), `NIL`, or a list.
    pub(crate) fn pref_value(&mut self, v: &PrefValue) {
        match v {
            PrefValue::String(s) => self.astring_except(s.as_bytes(), &[b"NIL"]),
            PrefValue::Nil => self.raw(b"NIL"),
            PrefValue::List(v) => {
                self.byte(b'(');
                for (i, v) in v.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    self.pref_value(v);
                }
                self.byte(b')');
            }
        }
    }

    /// `ALL` or a mailbox (a mailbox named like one of `reserved` is quoted).
    pub(crate) fn folder_selector(&mut self, f: &FolderSelector, reserved: &[&[u8]]) {
        match f {
            FolderSelector::All => self.raw(b"ALL"),
            FolderSelector::Mailbox(m) => self.astring_except(m.as_bytes(), reserved),
        }
    }
}

/// Is `b` an atom usable as a bare XCONVERT parameter value (`;name=value`)?
pub(crate) fn is_xconvert_value_atom(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| is_atom_char(c) && c != b';')
}

/// Can `b` be a quoted XCONVERT parameter value? The legacy `;name="value"` syntax has no
/// literal form, so 8-bit bytes and any length are quoted (only CR, LF and NUL cannot be).
pub(crate) fn is_xconvert_value_quotable(b: &[u8]) -> bool {
    memchr::memchr3(b'\r', b'\n', 0, b).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::EncodeOptions;

    fn enc() -> Encoder {
        Encoder::new(EncodeOptions::default())
    }

    #[test]
    fn string_forms() {
        let mut e = enc();
        e.astring(b"INBOX");
        e.sp();
        e.astring(b"");
        e.sp();
        e.astring(b"a b\"c\\");
        e.sp();
        e.astring(b"x\r\ny");
        e.sp();
        e.astring_except(b"nil", &[b"NIL"]);
        e.sp();
        e.string(b"ATOM");
        assert_eq!(
            &e.into_bytes()[..],
            &b"INBOX \"\" \"a b\\\"c\\\\\" {4}\r\nx\r\ny \"nil\" \"ATOM\""[..]
        );
    }

    #[test]
    fn dates() {
        let mut e = enc();
        let d = Date::new(1994, 2, 1).unwrap_or_else(|_| unreachable!());
        e.date(&d);
        e.sp();
        let dt = DateTime::new(
            Date::new(1996, 7, 7).unwrap_or_else(|_| unreachable!()),
            2,
            44,
            25,
            -420,
        )
        .unwrap_or_else(|_| unreachable!());
        e.date_time(&dt);
        e.sp();
        let dt = DateTime::new(
            Date::new(96, 7, 17).unwrap_or_else(|_| unreachable!()),
            2,
            4,
            5,
            90,
        )
        .unwrap_or_else(|_| unreachable!());
        e.date_time(&dt);
        assert_eq!(
            &e.into_bytes()[..],
            &b"1-Feb-1994 \" 7-Jul-1996 02:44:25 -0700\" \"17-Jul-0096 02:04:05 +0130\""[..]
        );
    }

    #[test]
    fn text_is_one_line() {
        let mut e = enc();
        e.text(b"a\r\nb\0c {12}");
        assert_eq!(&e.into_bytes()[..], &b"a  b\0c {12} "[..]);
        assert!(ends_like_announcement(b"x {5+}"));
        assert!(!ends_like_announcement(b"x {}"));
        assert!(!ends_like_announcement(b"5}"));
    }
}
