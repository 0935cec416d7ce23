//! SEARCH keys.

use super::{PResult, Parser};
use pimap_types::{IString, SearchKey};

impl Parser<'_> {
    /// `1*(SP search-key)` after the first SP has been consumed; stops at `)` or EOL.
    pub(crate) fn search_keys(&mut self) -> PResult<Vec<SearchKey>> {
        let mut v = vec![self.search_key()?];
        while self.at(b' ') {
            let save = self.pos;
            self.sp()?;
            if self.at_eol() || self.at(b')') {
                self.pos = save;
                break;
            }
            v.push(self.search_key()?);
        }
        Ok(v)
    }

    pub(crate) fn search_key(&mut self) -> PResult<SearchKey> {
        self.enter()?;
        let r = self.search_key_inner();
        self.leave();
        r
    }

    fn search_key_inner(&mut self) -> PResult<SearchKey> {
        use SearchKey as K;
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let keys = self.search_keys()?;
                if self.tolerant() {
                    while self.eat(b' ') {}
                }
                self.expect(b')', ")")?;
                return Ok(K::And(keys));
            }
            Some(b'0'..=b'9') | Some(b'*') | Some(b'$') => {
                return Ok(K::SequenceSet(self.seq_set()?))
            }
            _ => {}
        }
        let start = self.pos;
        let (s, e) = self.atom_span()?;
        let mut ub = [0u8; 24];
        let name = super::upcase(self.bytes_between(s, e), &mut ub);
        // DAYSBEFORETODAY<digits> without SP (-01 ABNF, E-57), tolerant only.
        if name.starts_with(b"DAYSBEFORETODAY") && name.len() > 15 {
            if !self.tolerant() {
                self.pos = start;
                return self.err("DAYSBEFORETODAY SP number");
            }
            self.pos = start + 15;
            return Ok(K::DaysBeforeToday(self.number()?));
        }
        let k = match name {
            b"ALL" => K::All,
            b"ANSWERED" => K::Answered,
            b"DELETED" => K::Deleted,
            b"DRAFT" => K::Draft,
            b"FLAGGED" => K::Flagged,
            b"NEW" => K::New,
            b"OLD" => K::Old,
            b"RECENT" => K::Recent,
            b"SEEN" => K::Seen,
            b"UNANSWERED" => K::Unanswered,
            b"UNDELETED" => K::Undeleted,
            b"UNDRAFT" => K::Undraft,
            b"UNFLAGGED" => K::Unflagged,
            b"UNSEEN" => K::Unseen,
            b"FORWARDED" => K::Forwarded,
            b"UNFORWARDED" => K::Unforwarded,
            b"NONE" => K::None,
            b"BCC" => K::Bcc(self.sp_astring()?),
            b"BODY" => K::Body(self.sp_astring()?),
            b"CC" => K::Cc(self.sp_astring()?),
            b"FROM" => K::From(self.sp_astring()?),
            b"SUBJECT" => K::Subject(self.sp_astring()?),
            b"TEXT" => K::Text(self.sp_astring()?),
            b"TO" => K::To(self.sp_astring()?),
            b"HEADER" => {
                let f = self.sp_astring()?;
                K::Header(f, self.sp_astring()?)
            }
            b"KEYWORD" => {
                self.sp()?;
                K::Keyword(self.atom()?)
            }
            b"UNKEYWORD" => {
                self.sp()?;
                K::Unkeyword(self.atom()?)
            }
            b"BEFORE" => K::Before(self.sp_date()?),
            b"ON" => K::On(self.sp_date()?),
            b"SINCE" => K::Since(self.sp_date()?),
            b"SENTBEFORE" => K::SentBefore(self.sp_date()?),
            b"SENTON" => K::SentOn(self.sp_date()?),
            b"SENTSINCE" => K::SentSince(self.sp_date()?),
            b"LARGER" => {
                self.sp()?;
                K::Larger(self.number()?)
            }
            b"SMALLER" => {
                self.sp()?;
                K::Smaller(self.number()?)
            }
            b"YOUNGER" => {
                self.sp()?;
                K::Younger(self.nz_number()?)
            }
            b"OLDER" => {
                self.sp()?;
                K::Older(self.nz_number()?)
            }
            b"DAYSBEFORETODAY" => {
                self.sp()?;
                K::DaysBeforeToday(self.number()?)
            }
            b"UID" => {
                self.sp()?;
                K::Uid(self.seq_set()?)
            }
            b"NOT" => {
                self.sp()?;
                K::Not(Box::new(self.search_key()?))
            }
            b"OR" => {
                self.sp()?;
                let a = self.search_key()?;
                self.sp()?;
                K::Or(Box::new(a), Box::new(self.search_key()?))
            }
            b"MODSEQ" => {
                self.sp()?;
                let entry = if self.at(b'"') || self.at(b'{') {
                    let name = self.string()?;
                    self.sp()?;
                    let ty = self.atom()?;
                    self.sp()?;
                    Some((name, ty))
                } else {
                    None
                };
                K::ModSeq {
                    entry,
                    modseq: self.number64()?,
                }
            }
            _ => {
                self.pos = start;
                return self.err("search key");
            }
        };
        Ok(k)
    }

    fn sp_astring(&mut self) -> PResult<IString> {
        self.sp()?;
        self.astring()
    }

    fn sp_date(&mut self) -> PResult<pimap_types::Date> {
        self.sp()?;
        self.date()
    }
}
