//! SORT, THREAD and ESEARCH/ESORT, both directions.

use super::Encoder;
use pimap_types::{
    ESearch, ESearchItem, IString, SearchKey, SearchReturnOpt, SortKey, Thread, ThreadAlgorithm,
};

impl Encoder {
    /// `RETURN (opts) ` (with its trailing SP) when asked for.
    pub(crate) fn search_return(&mut self, opts: Option<&[SearchReturnOpt]>) {
        let Some(opts) = opts else {
            return;
        };
        self.raw(b"RETURN (");
        for (i, o) in opts.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            match o {
                SearchReturnOpt::Min => self.raw(b"MIN"),
                SearchReturnOpt::Max => self.raw(b"MAX"),
                SearchReturnOpt::All => self.raw(b"ALL"),
                SearchReturnOpt::Count => self.raw(b"COUNT"),
                SearchReturnOpt::Save => self.raw(b"SAVE"),
                SearchReturnOpt::Other { name, value } => {
                    self.atom(name);
                    if let Some(v) = value {
                        self.sp();
                        self.raw(v);
                    }
                }
            }
        }
        self.raw(b") ");
    }

    /// `[UID] SORT [RETURN (...)] (keys) charset criteria`.
    pub(crate) fn sort_command(
        &mut self,
        uid: bool,
        return_opts: Option<&[SearchReturnOpt]>,
        criteria: &[SortKey],
        charset: &IString,
        search: &[SearchKey],
    ) {
        if uid {
            self.raw(b"UID ");
        }
        self.raw(b"SORT ");
        self.search_return(return_opts);
        self.byte(b'(');
        for (i, k) in criteria.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            if k.reverse {
                self.raw(b"REVERSE ");
            }
            self.raw(k.criterion.as_bytes());
        }
        self.raw(b") ");
        self.astring(charset.as_bytes());
        self.sp();
        self.search_keys(search);
    }

    /// `[UID] THREAD algorithm charset criteria`.
    pub(crate) fn thread_command(
        &mut self,
        uid: bool,
        algorithm: &ThreadAlgorithm,
        charset: &IString,
        search: &[SearchKey],
    ) {
        if uid {
            self.raw(b"UID ");
        }
        self.raw(b"THREAD ");
        self.raw(algorithm.as_bytes());
        self.sp();
        self.astring(charset.as_bytes());
        self.sp();
        self.search_keys(search);
    }

    /// `ESEARCH [(TAG "t")] [UID] items` (after `* `).
    pub(crate) fn esearch(&mut self, e: &ESearch) {
        self.raw(b"ESEARCH");
        if let Some(t) = &e.tag {
            self.raw(b" (TAG ");
            self.string(t.as_bytes());
            self.byte(b')');
        }
        if e.uid {
            self.raw(b" UID");
        }
        for item in &e.items {
            self.sp();
            match item {
                ESearchItem::Min(n) => self.key_num(b"MIN ", *n),
                ESearchItem::Max(n) => self.key_num(b"MAX ", *n),
                ESearchItem::All(set) => {
                    self.raw(b"ALL ");
                    self.seq_set(set);
                }
                ESearchItem::Count(n) => self.key_num(b"COUNT ", *n),
                ESearchItem::ModSeq(n) => {
                    self.raw(b"MODSEQ ");
                    self.num(*n);
                }
                ESearchItem::Other { name, value } => {
                    self.atom(name);
                    self.sp();
                    self.raw(value);
                }
            }
        }
    }

    /// `SEARCH` or `SORT` numbers with the CONDSTORE `(MODSEQ n)` (after `* `).
    pub(crate) fn numbers_and_modseq(&mut self, name: &[u8], ids: &[u32], modseq: Option<u64>) {
        self.raw(name);
        for id in ids {
            self.sp();
            self.num(u64::from(*id));
        }
        if let Some(m) = modseq {
            self.raw(b" (MODSEQ ");
            self.num(m);
            self.byte(b')');
        }
    }

    /// `THREAD (...)...` (after `* `).
    pub(crate) fn thread_data(&mut self, threads: &[Thread]) {
        self.raw(b"THREAD");
        if !threads.is_empty() {
            self.sp();
        }
        for t in threads {
            self.thread(t);
        }
    }

    fn thread(&mut self, t: &Thread) {
        self.byte(b'(');
        self.thread_inner(t, true);
        self.byte(b')');
    }

    /// The chain, then the branches; a single branch continues the chain (the grammar has
    /// no one-branch form).
    fn thread_inner(&mut self, t: &Thread, mut first: bool) {
        for m in &t.messages {
            if !first {
                self.sp();
            }
            self.num(u64::from(*m));
            first = false;
        }
        match t.children.as_slice() {
            [] => {}
            [only] => self.thread_inner(only, first),
            many => {
                if !first {
                    self.sp();
                }
                for c in many {
                    self.thread(c);
                }
            }
        }
    }
}
