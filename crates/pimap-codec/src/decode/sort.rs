//! SORT, THREAD (RFC 5256) and the ESEARCH/ESORT return options (RFC 4731, RFC 5267), both
//! directions: the commands a server reads and the responses a client reads.

use super::{PResult, Parser};
use pimap_types::{
    CommandBody, ESearch, ESearchItem, SearchReturnOpt, SortCriterion, SortKey, Thread,
    ThreadAlgorithm,
};

impl Parser<'_> {
    /// `RETURN SP "(" [opt *(SP opt)] ")" SP`, if present (the trailing SP is consumed).
    pub(crate) fn search_return(&mut self) -> PResult<Option<Vec<SearchReturnOpt>>> {
        if !self.kw(b"RETURN") {
            return Ok(None);
        }
        self.sp()?;
        self.expect(b'(', "(")?;
        let mut v = Vec::new();
        if !self.eat(b')') {
            loop {
                v.push(self.search_return_opt()?);
                if self.eat(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        self.sp()?;
        Ok(Some(v))
    }

    fn search_return_opt(&mut self) -> PResult<SearchReturnOpt> {
        let name = self.atom()?;
        let up = name.as_bytes().to_ascii_uppercase();
        Ok(match up.as_slice() {
            b"MIN" => SearchReturnOpt::Min,
            b"MAX" => SearchReturnOpt::Max,
            b"ALL" => SearchReturnOpt::All,
            b"COUNT" => SearchReturnOpt::Count,
            b"SAVE" => SearchReturnOpt::Save,
            _ => {
                // RFC 4466 search-mod-params: a number, a sequence set or a list follows.
                let value = if self.at(b' ')
                    && self.peek_at(1).is_some_and(|b| {
                        b.is_ascii_digit() || matches!(b, b'-' | b'(' | b'$' | b'*')
                    }) {
                    self.sp()?;
                    let s = self.pos;
                    self.ext_value()?;
                    Some(self.slice(s, self.pos))
                } else {
                    None
                };
                SearchReturnOpt::Other { name, value }
            }
        })
    }

    /// One RFC 4466 tagged-ext-val: a parenthesised list, or a run of characters up to SP,
    /// `)` or the line end (sequence sets such as `1:*` and `-1:-100` included).
    pub(crate) fn ext_value(&mut self) -> PResult<()> {
        if self.at(b'(') {
            return self.skip_value();
        }
        if self.at(b'"') {
            return self.quoted().map(drop);
        }
        let n = self.skip_while(|b| b > b' ' && b != b')' && b != b'(' && b != 0x7f);
        if n == 0 {
            return self.err("value");
        }
        Ok(())
    }

    /// `[UID] SORT` after the command name.
    pub(crate) fn sort(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let return_opts = self.search_return()?;
        self.expect(b'(', "(")?;
        let mut criteria = Vec::new();
        loop {
            let reverse = self.kw(b"REVERSE");
            if reverse {
                self.sp()?;
            }
            criteria.push(SortKey {
                reverse,
                criterion: SortCriterion::from_atom(self.atom()?),
            });
            if self.eat(b')') {
                break;
            }
            self.sp()?;
        }
        self.sp()?;
        let charset = self.astring()?;
        self.sp()?;
        Ok(CommandBody::Sort {
            uid,
            return_opts,
            criteria,
            charset,
            search: self.search_keys()?,
        })
    }

    /// `[UID] THREAD` after the command name.
    pub(crate) fn thread(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let algorithm = ThreadAlgorithm::from_atom(self.atom()?);
        self.sp()?;
        let charset = self.astring()?;
        self.sp()?;
        Ok(CommandBody::Thread {
            uid,
            algorithm,
            charset,
            search: self.search_keys()?,
        })
    }

    /// `* SEARCH` and `* SORT` data after the name: `*(SP nz-number) [SP "(" "MODSEQ" SP n
    /// ")"]`.
    pub(crate) fn numbers_and_modseq(&mut self) -> PResult<(Vec<u32>, Option<u64>)> {
        let mut ids = Vec::new();
        let mut modseq = None;
        while self.at(b' ') {
            self.sp()?;
            if self.at_eol() {
                break;
            }
            if self.eat(b'(') {
                self.expect_kw(b"MODSEQ", "MODSEQ")?;
                self.sp()?;
                modseq = Some(self.number64()?);
                self.expect(b')', ")")?;
                break;
            }
            ids.push(self.nz_number()?);
        }
        Ok((ids, modseq))
    }

    /// `* THREAD` data after the name: `*(SP? thread-list)`.
    pub(crate) fn thread_data(&mut self) -> PResult<Vec<Thread>> {
        let mut v = Vec::new();
        if self.at(b' ') {
            self.sp()?;
        }
        while self.at(b'(') {
            v.push(self.thread_list()?);
            if self.tolerant() {
                while self.eat(b' ') {}
            }
        }
        Ok(v)
    }

    /// `"(" (thread-members / thread-nested) ")"`.
    fn thread_list(&mut self) -> PResult<Thread> {
        self.enter()?;
        self.expect(b'(', "(")?;
        let mut t = Thread::default();
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            t.messages.push(self.nz_number()?);
            if !self.eat(b' ') {
                break;
            }
        }
        while self.at(b'(') {
            t.children.push(self.thread_list()?);
            if self.tolerant() {
                while self.eat(b' ') {}
            }
        }
        self.expect(b')', ")")?;
        self.leave();
        if t.messages.is_empty() && t.children.is_empty() {
            return self.err("thread members");
        }
        if !self.tolerant() && t.children.len() == 1 {
            // thread-nested = 2*thread-list
            return self.err("two or more nested threads");
        }
        Ok(t.normalized())
    }

    /// `* ESEARCH` data after the name.
    pub(crate) fn esearch_data(&mut self) -> PResult<ESearch> {
        let mut r = ESearch {
            tag: None,
            uid: false,
            items: Vec::new(),
        };
        if self.at(b' ') && self.peek_at(1) == Some(b'(') {
            self.sp()?;
            self.pos += 1;
            self.expect_kw(b"TAG", "TAG")?;
            self.sp()?;
            r.tag = Some(self.string()?);
            self.expect(b')', ")")?;
        }
        let save = self.pos;
        if self.at(b' ') {
            self.sp()?;
            if self.kw(b"UID") {
                r.uid = true;
            } else {
                self.pos = save;
            }
        }
        while self.at(b' ') {
            self.sp()?;
            if self.at_eol() {
                break;
            }
            let name = self.atom()?;
            self.sp()?;
            let up = name.as_bytes().to_ascii_uppercase();
            let item = match up.as_slice() {
                b"MIN" => ESearchItem::Min(self.nz_number()?),
                b"MAX" => ESearchItem::Max(self.nz_number()?),
                b"ALL" => ESearchItem::All(self.seq_set()?),
                b"COUNT" => ESearchItem::Count(self.number()?),
                b"MODSEQ" => ESearchItem::ModSeq(self.number64()?),
                _ => {
                    let s = self.pos;
                    self.ext_value()?;
                    ESearchItem::Other {
                        name,
                        value: self.slice(s, self.pos),
                    }
                }
            };
            r.items.push(item);
        }
        Ok(r)
    }
}
