//! SEARCH criteria (RFC 3501 §6.4.4) with CONDSTORE, WITHIN and P-IMAP additions.

use super::core::{Atom, Date, IString, SequenceSet};

/// One search key. A criteria list is `Vec<SearchKey>` (implicitly AND-ed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SearchKey {
    /// `ALL`
    All,
    /// `ANSWERED`
    Answered,
    /// `BCC string`
    Bcc(IString),
    /// `BEFORE date`
    Before(Date),
    /// `BODY string`
    Body(IString),
    /// `CC string`
    Cc(IString),
    /// `DELETED`
    Deleted,
    /// `DRAFT`
    Draft,
    /// `FLAGGED`
    Flagged,
    /// `FROM string`
    From(IString),
    /// `HEADER field-name string`
    Header(IString, IString),
    /// `KEYWORD flag-keyword`
    Keyword(Atom),
    /// `LARGER n`
    Larger(u32),
    /// `NEW`
    New,
    /// `NOT key`
    Not(Box<SearchKey>),
    /// `OLD`
    Old,
    /// `ON date`
    On(Date),
    /// `OR key key`
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT`
    Recent,
    /// `SEEN`
    Seen,
    /// `SENTBEFORE date`
    SentBefore(Date),
    /// `SENTON date`
    SentOn(Date),
    /// `SENTSINCE date`
    SentSince(Date),
    /// `SINCE date`
    Since(Date),
    /// `SMALLER n`
    Smaller(u32),
    /// `SUBJECT string`
    Subject(IString),
    /// `TEXT string`
    Text(IString),
    /// `TO string`
    To(IString),
    /// `UID sequence-set`
    Uid(SequenceSet),
    /// `UNANSWERED`
    Unanswered,
    /// `UNDELETED`
    Undeleted,
    /// `UNDRAFT`
    Undraft,
    /// `UNFLAGGED`
    Unflagged,
    /// `UNKEYWORD flag-keyword`
    Unkeyword(Atom),
    /// `UNSEEN`
    Unseen,
    /// A bare sequence set.
    SequenceSet(SequenceSet),
    /// `( key *(SP key) )`
    And(Vec<SearchKey>),
    /// CONDSTORE `MODSEQ [entry-name entry-type] mod-sequence-valzer`.
    ModSeq {
        /// Optional `entry-name entry-type-req` pair (kept as strings).
        entry: Option<(IString, Atom)>,
        /// The mod-sequence value.
        modseq: u64,
    },
    /// WITHIN `YOUNGER seconds`.
    Younger(u32),
    /// WITHIN `OLDER seconds`.
    Older(u32),
    /// P-IMAP `DAYSBEFORETODAY n` (-01…-10): received on or after local midnight of
    /// today minus n days.
    DaysBeforeToday(u32),
    /// P-IMAP -00/-01 `FORWARDED` (name inferred, spec §3.15).
    Forwarded,
    /// P-IMAP -00/-01 `UNFORWARDED`.
    Unforwarded,
    /// P-IMAP generation-1 filter value `NONE` (matches nothing).
    None,
}
