//! ESEARCH (RFC 4731), its SEARCHRES `SAVE` option (RFC 5182) and the CONDSTORE `MODSEQ`
//! result (RFC 7162).

use bytes::Bytes;

use super::core::{Atom, IString, SequenceSet};

/// One option of `SEARCH RETURN (...)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SearchReturnOpt {
    /// `MIN`: the lowest match.
    Min,
    /// `MAX`: the highest match.
    Max,
    /// `ALL`: every match, as a sequence set.
    All,
    /// `COUNT`: how many matched.
    Count,
    /// `SAVE` (RFC 5182): keep the result as `$`.
    Save,
    /// An option this crate does not model (for example RFC 9394 `PARTIAL`), kept as sent.
    Other {
        /// The option name.
        name: Atom,
        /// Its raw value, if any (one generic value: atom, number, string or list).
        value: Option<Bytes>,
    },
}

/// `* ESEARCH [(TAG "t")] [UID] items`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ESearch {
    /// The search correlator: the tag of the command this answers.
    pub tag: Option<IString>,
    /// `UID`: the numbers are UIDs.
    pub uid: bool,
    /// Result items, in the order sent.
    pub items: Vec<ESearchItem>,
}

impl ESearch {
    /// The `COUNT` item, if present.
    pub fn count(&self) -> Option<u32> {
        self.items.iter().find_map(|i| match i {
            ESearchItem::Count(n) => Some(*n),
            _ => None,
        })
    }

    /// The `ALL` item, if present.
    pub fn all(&self) -> Option<&SequenceSet> {
        self.items.iter().find_map(|i| match i {
            ESearchItem::All(s) => Some(s),
            _ => None,
        })
    }
}

/// One result item of an ESEARCH response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ESearchItem {
    /// `MIN n`
    Min(u32),
    /// `MAX n`
    Max(u32),
    /// `ALL set`
    All(SequenceSet),
    /// `COUNT n`
    Count(u32),
    /// `MODSEQ n` (CONDSTORE)
    ModSeq(u64),
    /// An item this crate does not model, kept as sent.
    Other {
        /// Item name.
        name: Atom,
        /// Its raw value (one generic value).
        value: Bytes,
    },
}
