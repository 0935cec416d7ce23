//! SORT and THREAD (RFC 5256) and the ESORT return options (RFC 5267).

use super::core::Atom;

/// One sort criterion with its direction (`[REVERSE] key`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortKey {
    /// `REVERSE` before the key.
    pub reverse: bool,
    /// The key.
    pub criterion: SortCriterion,
}

impl SortKey {
    /// An ascending key.
    pub fn ascending(criterion: SortCriterion) -> Self {
        Self {
            reverse: false,
            criterion,
        }
    }
}

/// Sort keys of RFC 5256 and RFC 5957 (`DISPLAYFROM`, `DISPLAYTO`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortCriterion {
    /// `ARRIVAL`: internal date and time.
    Arrival,
    /// `CC`: first Cc address's mailbox.
    Cc,
    /// `DATE`: the Date header (sent date).
    Date,
    /// `FROM`: first From address's mailbox.
    From,
    /// `SIZE`: RFC822.SIZE.
    Size,
    /// `SUBJECT`: base subject.
    Subject,
    /// `TO`: first To address's mailbox.
    To,
    /// `DISPLAYFROM` (RFC 5957).
    DisplayFrom,
    /// `DISPLAYTO` (RFC 5957).
    DisplayTo,
    /// Any other key atom, kept as sent.
    Other(Atom),
}

impl SortCriterion {
    /// The key as sent.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SortCriterion::Arrival => b"ARRIVAL",
            SortCriterion::Cc => b"CC",
            SortCriterion::Date => b"DATE",
            SortCriterion::From => b"FROM",
            SortCriterion::Size => b"SIZE",
            SortCriterion::Subject => b"SUBJECT",
            SortCriterion::To => b"TO",
            SortCriterion::DisplayFrom => b"DISPLAYFROM",
            SortCriterion::DisplayTo => b"DISPLAYTO",
            SortCriterion::Other(a) => a.as_bytes(),
        }
    }

    /// The criterion an atom names (case-insensitive); [`SortCriterion::Other`] if unknown.
    pub fn from_atom(a: Atom) -> Self {
        let up = a.as_bytes().to_ascii_uppercase();
        match up.as_slice() {
            b"ARRIVAL" => SortCriterion::Arrival,
            b"CC" => SortCriterion::Cc,
            b"DATE" => SortCriterion::Date,
            b"FROM" => SortCriterion::From,
            b"SIZE" => SortCriterion::Size,
            b"SUBJECT" => SortCriterion::Subject,
            b"TO" => SortCriterion::To,
            b"DISPLAYFROM" => SortCriterion::DisplayFrom,
            b"DISPLAYTO" => SortCriterion::DisplayTo,
            _ => SortCriterion::Other(a),
        }
    }
}

/// THREAD algorithms (RFC 5256).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThreadAlgorithm {
    /// `ORDEREDSUBJECT`
    OrderedSubject,
    /// `REFERENCES`
    References,
    /// Any other algorithm atom (for example `REFS`), kept as sent.
    Other(Atom),
}

impl ThreadAlgorithm {
    /// The algorithm as sent.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ThreadAlgorithm::OrderedSubject => b"ORDEREDSUBJECT",
            ThreadAlgorithm::References => b"REFERENCES",
            ThreadAlgorithm::Other(a) => a.as_bytes(),
        }
    }

    /// The algorithm an atom names (case-insensitive).
    pub fn from_atom(a: Atom) -> Self {
        if a.eq_ignore_case("ORDEREDSUBJECT") {
            ThreadAlgorithm::OrderedSubject
        } else if a.eq_ignore_case("REFERENCES") {
            ThreadAlgorithm::References
        } else {
            ThreadAlgorithm::Other(a)
        }
    }
}

/// One thread of a `* THREAD` response: a chain of messages, each the parent of the next,
/// then the branches below the last one.
///
/// `(3 6 (4 23)(44 7 96))` is `messages [3, 6]` with two children, `[4, 23]` and
/// `[44, 7, 96]`. A thread whose root is missing (`((3)(5))`) has no messages and only
/// children. A chain with exactly one child is the same thread as the longer chain and is
/// written as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Thread {
    /// The chain, parent first.
    pub messages: Vec<u32>,
    /// Branches below the chain's last message.
    pub children: Vec<Thread>,
}

impl Thread {
    /// A thread of one chain.
    pub fn chain(messages: Vec<u32>) -> Self {
        Self {
            messages,
            children: Vec::new(),
        }
    }

    /// Every message number in the thread, depth first.
    pub fn all_messages(&self) -> Vec<u32> {
        let mut v = Vec::new();
        let mut stack = vec![self];
        while let Some(t) = stack.pop() {
            v.extend_from_slice(&t.messages);
            stack.extend(t.children.iter().rev());
        }
        v
    }

    /// The same thread with every one-child link folded into its parent's chain (the form
    /// the wire grammar can express, and the one a decoder returns).
    pub fn normalized(mut self) -> Self {
        while self.children.len() == 1 {
            let Some(only) = self.children.pop() else {
                break;
            };
            self.messages.extend(only.messages);
            self.children = only.children;
        }
        self.children = self.children.into_iter().map(Thread::normalized).collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_folds_single_children() {
        let t = Thread {
            messages: vec![1],
            children: vec![Thread {
                messages: vec![2],
                children: vec![Thread::chain(vec![3]), Thread::chain(vec![4])],
            }],
        };
        let n = t.clone().normalized();
        assert_eq!(n.messages, vec![1, 2]);
        assert_eq!(n.children.len(), 2);
        assert_eq!(t.all_messages(), vec![1, 2, 3, 4]);
    }
}
