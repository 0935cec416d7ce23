//! The client's view of the selected mailbox, kept exact by applying the server's untagged
//! data in the order it arrives.
//!
//! IMAP numbers messages twice: by *sequence number* (1..=count, renumbered after every
//! expunge) and by *UID* (stable while UIDVALIDITY holds, ascending with the sequence number).
//! Events name messages by sequence number (`* 3 EXPUNGE`, `* 4 FETCH (FLAGS (\Seen))`) or,
//! with QRESYNC, by UID (`* VANISHED 17:20`). A [`MailboxView`] keeps the mapping between
//! the two so that every event can be translated into "which message changed".
//!
//! The view is sans-IO: feed it every untagged [`Data`] with [`MailboxView::apply`] and every
//! response code with [`MailboxView::apply_code`]; it returns [`MailboxEvent`]s describing what
//! changed. A protocol violation (an EXISTS that shrinks the mailbox, an EXPUNGE of a message
//! that does not exist, ...) is reported as a [`ViewError`] and leaves the view unchanged.
//!
//! ```
//! use pimap_client::{MailboxEvent, MailboxView};
//! use pimap_types::{Data, FetchItem, Flag, Mailbox};
//!
//! let mut view = MailboxView::new(Mailbox::inbox());
//! view.apply(&Data::Exists(3), false)?;
//! view.apply(&Data::Fetch { seq: 2, items: vec![FetchItem::Uid(20)] }, false)?;
//! view.apply(&Data::Fetch { seq: 3, items: vec![FetchItem::Uid(30)] }, false)?;
//!
//! // `* 2 EXPUNGE`: the message with UID 20 goes, UID 30 becomes sequence number 2.
//! let events = view.apply(&Data::Expunge(2), false)?;
//! assert_eq!(events, vec![MailboxEvent::Expunged { seq: 2, uid: Some(20) }]);
//! assert_eq!(view.exists(), 2);
//! assert_eq!(view.seq_of_uid(30), Some(2));
//!
//! // `* 2 FETCH (FLAGS (\Seen))` now refers to UID 30.
//! let events = view.apply(
//!     &Data::Fetch { seq: 2, items: vec![FetchItem::Flags(vec![Flag::Seen])] },
//!     false,
//! )?;
//! assert_eq!(
//!     events.first(),
//!     Some(&MailboxEvent::FlagsChanged { seq: 2, uid: Some(30), flags: vec![Flag::Seen] })
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Ordering;

use pimap_types::{Code, Data, FetchItem, Flag, Mailbox, SeqNo, SeqRange, SequenceSet};

/// The largest number of messages a [`MailboxView`] holds.
///
/// An `EXISTS` (or a FETCH for a sequence number, which implies one) beyond this limit is
/// rejected with [`ViewError::TooLarge`], so that a hostile or broken server cannot make the
/// client allocate without bound. At the limit a view uses about 500 MB.
pub const MAX_MESSAGES: u32 = 10_000_000;

/// What the client knows about one message of the selected mailbox.
///
/// Every field is `None` until the server has reported it (a message announced by `EXISTS`
/// is at first entirely unknown).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MessageEntry {
    /// The message's UID, once a FETCH response has carried it.
    pub uid: Option<u32>,
    /// The message's flags as last reported by a FETCH response.
    pub flags: Option<Vec<Flag>>,
    /// CONDSTORE mod-sequence as last reported by a FETCH response.
    pub modseq: Option<u64>,
}

/// A change to the selected mailbox, produced by [`MailboxView::apply`] and
/// [`MailboxView::apply_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxEvent {
    /// The mailbox now holds `count` messages (`* n EXISTS`, or implied by a FETCH beyond
    /// the known count, erratum E-72).
    Exists {
        /// The new number of messages.
        count: u32,
    },
    /// `* n RECENT`.
    Recent {
        /// The number of messages with `\Recent`.
        count: u32,
    },
    /// `* n EXPUNGE`: the message is gone and every later message moved down by one.
    Expunged {
        /// Sequence number the message had.
        seq: u32,
        /// Its UID, if the view knew it.
        uid: Option<u32>,
    },
    /// QRESYNC `* VANISHED`: these messages are gone (the later ones were renumbered).
    Vanished {
        /// UIDs of the messages actually removed from the view, ascending.
        uids: Vec<u32>,
        /// The response carried `(EARLIER)`.
        earlier: bool,
    },
    /// A FETCH response carried FLAGS.
    FlagsChanged {
        /// Sequence number of the message.
        seq: u32,
        /// Its UID, if known (after applying the same FETCH response).
        uid: Option<u32>,
        /// The message's complete new flag list.
        flags: Vec<Flag>,
    },
    /// A FETCH response arrived (always emitted, after any [`MailboxEvent::FlagsChanged`]),
    /// carrying all its items, so that callers also see ENVELOPE, BODY[...] and the like.
    Fetched {
        /// Sequence number of the message.
        seq: u32,
        /// Its UID, if known (after applying the same FETCH response).
        uid: Option<u32>,
        /// Every item of the response, in order.
        items: Vec<FetchItem>,
    },
    /// `[UIDVALIDITY n]` differs from the value known before: every UID, flag and
    /// mod-sequence the client holds for this mailbox is void. The caller must do a full
    /// resynchronisation (a state-comparison sync: `UID FETCH 1:* (UID FLAGS)` and the
    /// sync planner).
    UidValidityChanged {
        /// The previous UIDVALIDITY.
        old: u32,
        /// The new UIDVALIDITY.
        new: u32,
    },
}

/// A server response that contradicts the view (a protocol violation, or a view that missed
/// some responses). The view is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// `* n EXPUNGE` with `n` = 0 or larger than the number of messages.
    #[error("EXPUNGE of message {seq}, but the mailbox holds {count} messages")]
    ExpungeOutOfRange {
        /// The sequence number expunged.
        seq: u32,
        /// The number of messages in the view.
        count: u32,
    },
    /// `* n EXISTS` with `n` smaller than the current count (messages only leave a mailbox
    /// through EXPUNGE or VANISHED).
    #[error("EXISTS shrank the mailbox from {from} to {to} messages")]
    ExistsShrank {
        /// The count before.
        from: u32,
        /// The count announced.
        to: u32,
    },
    /// A FETCH response for sequence number 0.
    #[error("FETCH response for sequence number 0")]
    SequenceZero,
    /// The mailbox would hold more than [`MAX_MESSAGES`] messages.
    #[error("mailbox of {count} messages exceeds the limit of {max}")]
    TooLarge {
        /// The count announced (or implied by a FETCH).
        count: u32,
        /// The limit, [`MAX_MESSAGES`].
        max: u32,
    },
    /// A FETCH response gave a message a UID different from the one it already had (UIDs
    /// never change while UIDVALIDITY holds).
    #[error("message {seq} had UID {old}, FETCH reports UID {new}")]
    UidChanged {
        /// Sequence number of the message.
        seq: u32,
        /// The UID known before.
        old: u32,
        /// The UID reported.
        new: u32,
    },
}

/// The client's exact view of the selected mailbox.
///
/// Create one per SELECT/EXAMINE (or per P-IMAP `* FOLDER` announcement) and feed it every
/// untagged response in order. The view trusts the server on what RFC 3501 guarantees and
/// cannot be checked cheaply: UIDs are unique and ascend with the sequence number. If a
/// server breaks that, [`MailboxView::seq_of_uid`] may miss messages, but nothing panics.
///
/// Memory is bounded by [`MAX_MESSAGES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxView {
    name: Mailbox,
    uid_validity: Option<u32>,
    uid_next: Option<u32>,
    highest_modseq: Option<u64>,
    permanent_flags: Option<Vec<Flag>>,
    recent: u32,
    /// Index = sequence number - 1.
    messages: Vec<MessageEntry>,
}

impl MailboxView {
    /// An empty view of mailbox `name` (no messages, nothing known).
    pub fn new(name: Mailbox) -> Self {
        Self {
            name,
            uid_validity: None,
            uid_next: None,
            highest_modseq: None,
            permanent_flags: None,
            recent: 0,
            messages: Vec::new(),
        }
    }

    /// The mailbox this view describes.
    pub fn name(&self) -> &Mailbox {
        &self.name
    }

    /// UIDVALIDITY, once reported by `[UIDVALIDITY n]`.
    pub fn uid_validity(&self) -> Option<u32> {
        self.uid_validity
    }

    /// UIDNEXT, as last reported by `[UIDNEXT n]`.
    pub fn uid_next(&self) -> Option<u32> {
        self.uid_next
    }

    /// CONDSTORE HIGHESTMODSEQ, as last reported by `[HIGHESTMODSEQ n]` (`None` before,
    /// or after `[NOMODSEQ]`). MODSEQ values of FETCH responses do not change it: per
    /// RFC 7162 §3.2.10 a client may only advance it once a command has completed.
    pub fn highest_modseq(&self) -> Option<u64> {
        self.highest_modseq
    }

    /// The last `* n RECENT` count.
    pub fn recent(&self) -> u32 {
        self.recent
    }

    /// `PERMANENTFLAGS` as the server announced them at SELECT, if it did.
    pub fn permanent_flags(&self) -> Option<&[Flag]> {
        self.permanent_flags.as_deref()
    }

    /// The number of messages in the mailbox (the last EXISTS, minus expunges since).
    pub fn exists(&self) -> u32 {
        // The length never exceeds MAX_MESSAGES, so this never saturates.
        u32::try_from(self.messages.len()).unwrap_or(u32::MAX)
    }

    /// Every message, in sequence-number order (index 0 is sequence number 1).
    pub fn messages(&self) -> &[MessageEntry] {
        &self.messages
    }

    /// The message with sequence number `seq` (1-based), if it exists.
    pub fn message(&self, seq: u32) -> Option<&MessageEntry> {
        let index = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.messages.get(index)
    }

    /// The UID of message `seq`, if the message exists and its UID is known.
    pub fn uid_of(&self, seq: u32) -> Option<u32> {
        self.message(seq).and_then(|m| m.uid)
    }

    /// The sequence number of the message with UID `uid`, if the view holds it with that
    /// UID known.
    ///
    /// Binary search over the known UIDs, skipping messages whose UID is unknown: O(log n)
    /// when UIDs are mostly known, never worse than O(n log n).
    pub fn seq_of_uid(&self, uid: u32) -> Option<u32> {
        let known = |i: usize| self.messages.get(i).and_then(|m| m.uid).map(|u| (i, u));
        let (mut lo, mut hi) = (0usize, self.messages.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (i, u) = (mid..hi)
                .find_map(known)
                .or_else(|| (lo..mid).rev().find_map(known))?;
            match u.cmp(&uid) {
                Ordering::Equal => return u32::try_from(i + 1).ok(),
                Ordering::Less => lo = i + 1,
                Ordering::Greater => hi = i,
            }
        }
        None
    }

    /// Apply one untagged data response and return what changed.
    ///
    /// * `* n EXISTS`: grows the view with unknown messages; a smaller `n` is
    ///   [`ViewError::ExistsShrank`], one above [`MAX_MESSAGES`] is [`ViewError::TooLarge`].
    ///   Always emits [`MailboxEvent::Exists`] (also for an unchanged count).
    /// * `* n RECENT`: records the count, emits [`MailboxEvent::Recent`].
    /// * `* n EXPUNGE`: removes message `n` and renumbers the later ones; `n` = 0 or beyond
    ///   the count is [`ViewError::ExpungeOutOfRange`]. The RECENT count is left as it was.
    /// * `* n FETCH (...)`: a FETCH beyond the count is an implicit EXISTS (erratum E-72): the
    ///   view grows to `n` and emits [`MailboxEvent::Exists`] first. Then UID, FLAGS and
    ///   MODSEQ items are recorded (`UID 0` is ignored; a UID different from a known one is
    ///   [`ViewError::UidChanged`]), [`MailboxEvent::FlagsChanged`] is emitted if FLAGS was
    ///   present, and [`MailboxEvent::Fetched`] always.
    /// * `* VANISHED [(EARLIER)] uids`: only when `qresync` is true (QRESYNC enabled),
    ///   otherwise ignored. Removes every message whose known UID is in the set and emits
    ///   [`MailboxEvent::Vanished`] with the UIDs removed, if there were any. A `VANISHED
    ///   (EARLIER)` usually names messages the view never held (they left the mailbox while
    ///   the client was away): a client with a persistent cache applies it to the cache from
    ///   the [`Data`] itself.
    /// * Anything else: no change, no event.
    ///
    /// On error the view is unchanged.
    pub fn apply(&mut self, data: &Data, qresync: bool) -> Result<Vec<MailboxEvent>, ViewError> {
        match data {
            Data::Exists(n) => self.apply_exists(*n),
            Data::Recent(n) => {
                self.recent = *n;
                Ok(vec![MailboxEvent::Recent { count: *n }])
            }
            Data::Expunge(seq) => self.apply_expunge(*seq),
            Data::Fetch { seq, items } => self.apply_fetch(*seq, items),
            Data::Vanished { earlier, uids } if qresync => Ok(self.apply_vanished(*earlier, uids)),
            _ => Ok(Vec::new()),
        }
    }

    /// Apply a response code (from a tagged or untagged status response) and return what
    /// changed.
    ///
    /// * `[UIDVALIDITY n]`: recorded. If a different value was known, every message becomes
    ///   unknown again (the count stays: it does not depend on UIDVALIDITY), UIDNEXT and
    ///   HIGHESTMODSEQ are forgotten, and [`MailboxEvent::UidValidityChanged`] is emitted:
    ///   the caller must do a full resynchronisation.
    /// * `[UIDNEXT n]`, `[HIGHESTMODSEQ n]`: recorded; `[NOMODSEQ]` forgets HIGHESTMODSEQ.
    /// * Anything else: no change, no event.
    pub fn apply_code(&mut self, code: &Code) -> Vec<MailboxEvent> {
        match code {
            Code::UidValidity(new) => {
                let new = *new;
                let old = self.uid_validity.replace(new);
                match old {
                    Some(old) if old != new => {
                        for m in &mut self.messages {
                            *m = MessageEntry::default();
                        }
                        self.uid_next = None;
                        self.highest_modseq = None;
                        vec![MailboxEvent::UidValidityChanged { old, new }]
                    }
                    _ => Vec::new(),
                }
            }
            Code::UidNext(n) => {
                self.uid_next = Some(*n);
                Vec::new()
            }
            Code::HighestModSeq(n) => {
                self.highest_modseq = Some(*n);
                Vec::new()
            }
            Code::NoModSeq => {
                self.highest_modseq = None;
                Vec::new()
            }
            Code::PermanentFlags(f) => {
                self.permanent_flags = Some(f.clone());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Check that the view may hold `count` messages.
    fn check_size(count: u32) -> Result<usize, ViewError> {
        if count > MAX_MESSAGES {
            return Err(ViewError::TooLarge {
                count,
                max: MAX_MESSAGES,
            });
        }
        usize::try_from(count).map_err(|_| ViewError::TooLarge {
            count,
            max: MAX_MESSAGES,
        })
    }

    fn apply_exists(&mut self, count: u32) -> Result<Vec<MailboxEvent>, ViewError> {
        let from = self.exists();
        if count < from {
            return Err(ViewError::ExistsShrank { from, to: count });
        }
        let len = Self::check_size(count)?;
        self.messages.resize_with(len, MessageEntry::default);
        Ok(vec![MailboxEvent::Exists { count }])
    }

    fn apply_expunge(&mut self, seq: u32) -> Result<Vec<MailboxEvent>, ViewError> {
        let count = self.exists();
        let out_of_range = ViewError::ExpungeOutOfRange { seq, count };
        let index = usize::try_from(seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .filter(|&i| i < self.messages.len())
            .ok_or(out_of_range)?;
        let entry = self.messages.remove(index);
        Ok(vec![MailboxEvent::Expunged {
            seq,
            uid: entry.uid,
        }])
    }

    fn apply_fetch(
        &mut self,
        seq: u32,
        items: &[FetchItem],
    ) -> Result<Vec<MailboxEvent>, ViewError> {
        // Validate everything before changing anything.
        let index = usize::try_from(seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .ok_or(ViewError::SequenceZero)?;
        let grows = seq > self.exists();
        if grows {
            Self::check_size(seq)?;
        }
        let mut uid = self.uid_of(seq);
        for item in items {
            if let FetchItem::Uid(new) = *item {
                match uid {
                    _ if new == 0 => {}
                    Some(old) if old != new => {
                        return Err(ViewError::UidChanged { seq, old, new });
                    }
                    _ => uid = Some(new),
                }
            }
        }

        let mut events = Vec::with_capacity(3);
        if grows {
            self.messages.resize_with(index + 1, MessageEntry::default);
            events.push(MailboxEvent::Exists { count: seq });
        }
        let Some(entry) = self.messages.get_mut(index) else {
            // Unreachable: the view was grown to hold `seq` messages above.
            return Ok(events);
        };
        entry.uid = uid;
        let mut new_flags = None;
        for item in items {
            match item {
                FetchItem::Flags(flags) => new_flags = Some(flags),
                FetchItem::ModSeq(m) => entry.modseq = Some(*m),
                _ => {}
            }
        }
        if let Some(flags) = new_flags {
            entry.flags = Some(flags.clone());
            events.push(MailboxEvent::FlagsChanged {
                seq,
                uid,
                flags: flags.clone(),
            });
        }
        events.push(MailboxEvent::Fetched {
            seq,
            uid,
            items: items.to_vec(),
        });
        Ok(events)
    }

    fn apply_vanished(&mut self, earlier: bool, set: &SequenceSet) -> Vec<MailboxEvent> {
        // `*` in a UID set is the largest UID in use; the view's largest known UID stands in.
        let largest = self
            .messages
            .iter()
            .filter_map(|m| m.uid)
            .max()
            .unwrap_or(0);
        let ranges = merged_ranges(set, largest);
        if ranges.is_empty() {
            return Vec::new();
        }
        let mut removed = Vec::new();
        self.messages.retain(|m| match m.uid {
            Some(uid) if ranges_contain(&ranges, uid) => {
                removed.push(uid);
                false
            }
            _ => true,
        });
        if removed.is_empty() {
            return Vec::new();
        }
        removed.sort_unstable();
        vec![MailboxEvent::Vanished {
            uids: removed,
            earlier,
        }]
    }
}

/// The set as sorted, disjoint, non-adjacent inclusive ranges, `*` standing for `largest`.
/// Linear in the size of the set's text, whatever the numbers it spans.
fn merged_ranges(set: &SequenceSet, largest: u32) -> Vec<(u32, u32)> {
    let SequenceSet::Ranges(ranges) = set else {
        return Vec::new();
    };
    let value = |s: SeqNo| match s {
        SeqNo::Value(v) => v.get(),
        SeqNo::Largest => largest,
    };
    let mut spans: Vec<(u32, u32)> = ranges
        .iter()
        .map(|r| match *r {
            SeqRange::Single(s) => (value(s), value(s)),
            SeqRange::Range(a, b) => (value(a).min(value(b)), value(a).max(value(b))),
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
    for (lo, hi) in spans {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

/// Is `n` in one of the sorted, disjoint `ranges`?
fn ranges_contain(ranges: &[(u32, u32)], n: u32) -> bool {
    let after = ranges.partition_point(|&(lo, _)| lo <= n);
    after
        .checked_sub(1)
        .and_then(|i| ranges.get(i))
        .is_some_and(|&(lo, hi)| lo <= n && n <= hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::num::NonZeroU32;

    fn view() -> MailboxView {
        MailboxView::new(Mailbox::inbox())
    }

    fn fetch(seq: u32, items: Vec<FetchItem>) -> Data {
        Data::Fetch { seq, items }
    }

    /// A view of `uids.len()` messages with the given UIDs.
    fn view_with(uids: &[u32]) -> MailboxView {
        let mut v = view();
        v.apply(&Data::Exists(uids.len() as u32), false).unwrap();
        for (i, &uid) in uids.iter().enumerate() {
            v.apply(&fetch(i as u32 + 1, vec![FetchItem::Uid(uid)]), false)
                .unwrap();
        }
        v
    }

    fn uids(v: &MailboxView) -> Vec<Option<u32>> {
        v.messages().iter().map(|m| m.uid).collect()
    }

    #[test]
    fn expunge_renumbers() {
        let mut v = view_with(&[10, 20, 30, 40, 50]);
        let ev = v.apply(&Data::Expunge(2), false).unwrap();
        assert_eq!(
            ev,
            vec![MailboxEvent::Expunged {
                seq: 2,
                uid: Some(20)
            }]
        );
        assert_eq!(v.exists(), 4);
        assert_eq!(uids(&v), vec![Some(10), Some(30), Some(40), Some(50)]);
        // FETCH 2 now refers to the former message 3 (UID 30).
        let ev = v
            .apply(&fetch(2, vec![FetchItem::Flags(vec![Flag::Seen])]), false)
            .unwrap();
        assert_eq!(
            ev,
            vec![
                MailboxEvent::FlagsChanged {
                    seq: 2,
                    uid: Some(30),
                    flags: vec![Flag::Seen]
                },
                MailboxEvent::Fetched {
                    seq: 2,
                    uid: Some(30),
                    items: vec![FetchItem::Flags(vec![Flag::Seen])]
                },
            ]
        );
        assert_eq!(
            v.message(2).and_then(|m| m.flags.clone()),
            Some(vec![Flag::Seen])
        );
        assert_eq!(v.seq_of_uid(30), Some(2));
        assert_eq!(v.seq_of_uid(20), None);
        assert_eq!(v.seq_of_uid(50), Some(4));
    }

    #[test]
    fn fetch_beyond_count_is_implicit_exists() {
        let mut v = view_with(&[1, 2]);
        let items = vec![FetchItem::Uid(9), FetchItem::ModSeq(77)];
        let ev = v.apply(&fetch(5, items.clone()), false).unwrap();
        assert_eq!(
            ev,
            vec![
                MailboxEvent::Exists { count: 5 },
                MailboxEvent::Fetched {
                    seq: 5,
                    uid: Some(9),
                    items
                },
            ]
        );
        assert_eq!(v.exists(), 5);
        assert_eq!(uids(&v), vec![Some(1), Some(2), None, None, Some(9)]);
        assert_eq!(v.message(5).and_then(|m| m.modseq), Some(77));
        assert_eq!(v.seq_of_uid(9), Some(5));
        assert_eq!(v.seq_of_uid(2), Some(2));
        assert_eq!(v.seq_of_uid(5), None);
    }

    #[test]
    fn exists_grows_and_never_shrinks() {
        let mut v = view();
        assert_eq!(
            v.apply(&Data::Exists(3), false),
            Ok(vec![MailboxEvent::Exists { count: 3 }])
        );
        assert_eq!(
            v.apply(&Data::Exists(3), false),
            Ok(vec![MailboxEvent::Exists { count: 3 }])
        );
        assert_eq!(
            v.apply(&Data::Exists(2), false),
            Err(ViewError::ExistsShrank { from: 3, to: 2 })
        );
        assert_eq!(
            v.apply(&Data::Exists(MAX_MESSAGES + 1), false),
            Err(ViewError::TooLarge {
                count: MAX_MESSAGES + 1,
                max: MAX_MESSAGES
            })
        );
        assert_eq!(
            v.apply(&fetch(u32::MAX, vec![FetchItem::Uid(1)]), false),
            Err(ViewError::TooLarge {
                count: u32::MAX,
                max: MAX_MESSAGES
            })
        );
        assert_eq!(v.exists(), 3);
        assert_eq!(
            v.apply(&Data::Recent(1), false),
            Ok(vec![MailboxEvent::Recent { count: 1 }])
        );
        assert_eq!(v.recent(), 1);
    }

    #[test]
    fn expunge_out_of_range_errors() {
        let mut v = view_with(&[1, 2, 3]);
        let before = v.clone();
        assert_eq!(
            v.apply(&Data::Expunge(4), false),
            Err(ViewError::ExpungeOutOfRange { seq: 4, count: 3 })
        );
        assert_eq!(
            v.apply(&Data::Expunge(0), false),
            Err(ViewError::ExpungeOutOfRange { seq: 0, count: 3 })
        );
        assert_eq!(
            view().apply(&Data::Expunge(1), false),
            Err(ViewError::ExpungeOutOfRange { seq: 1, count: 0 })
        );
        assert_eq!(v, before);
    }

    #[test]
    fn fetch_errors_leave_view_unchanged() {
        let mut v = view_with(&[1, 2, 3]);
        let before = v.clone();
        assert_eq!(
            v.apply(&fetch(0, vec![FetchItem::Uid(1)]), false),
            Err(ViewError::SequenceZero)
        );
        assert_eq!(
            v.apply(
                &fetch(2, vec![FetchItem::Flags(vec![]), FetchItem::Uid(7)]),
                false
            ),
            Err(ViewError::UidChanged {
                seq: 2,
                old: 2,
                new: 7
            })
        );
        // Two different UIDs in one response for a message beyond the count.
        assert_eq!(
            v.apply(&fetch(9, vec![FetchItem::Uid(7), FetchItem::Uid(8)]), false),
            Err(ViewError::UidChanged {
                seq: 9,
                old: 7,
                new: 8
            })
        );
        assert_eq!(v, before);
        // The same UID again, or UID 0, is fine.
        assert!(v
            .apply(&fetch(2, vec![FetchItem::Uid(2), FetchItem::Uid(0)]), false)
            .is_ok());
        assert_eq!(v, before);
    }

    #[test]
    fn vanished_removes_by_uid() {
        let mut v = view_with(&[3, 5, 7, 9, 11]);
        let set = SequenceSet::new(vec![
            SeqRange::Range(
                SeqNo::Value(NonZeroU32::new(4).unwrap()),
                SeqNo::Value(NonZeroU32::new(8).unwrap()),
            ),
            SeqRange::Single(SeqNo::Value(NonZeroU32::new(100).unwrap())),
        ])
        .unwrap();
        let data = Data::Vanished {
            earlier: false,
            uids: set,
        };
        // Without QRESYNC, VANISHED is not applied.
        assert_eq!(v.apply(&data, false), Ok(vec![]));
        assert_eq!(v.exists(), 5);
        assert_eq!(
            v.apply(&data, true),
            Ok(vec![MailboxEvent::Vanished {
                uids: vec![5, 7],
                earlier: false
            }])
        );
        assert_eq!(uids(&v), vec![Some(3), Some(9), Some(11)]);
        assert_eq!(v.seq_of_uid(9), Some(2));
        // Nothing of ours: no event.
        let data = Data::Vanished {
            earlier: true,
            uids: SequenceSet::range(20, 4_000_000_000).unwrap(),
        };
        assert_eq!(v.apply(&data, true), Ok(vec![]));
        // `10:*`: up to the largest UID in use.
        let data = Data::Vanished {
            earlier: true,
            uids: SequenceSet::new(vec![SeqRange::Range(
                SeqNo::Value(NonZeroU32::new(10).unwrap()),
                SeqNo::Largest,
            )])
            .unwrap(),
        };
        assert_eq!(
            v.apply(&data, true),
            Ok(vec![MailboxEvent::Vanished {
                uids: vec![11],
                earlier: true
            }])
        );
        assert_eq!(uids(&v), vec![Some(3), Some(9)]);
    }

    #[test]
    fn uid_validity_change_clears() {
        let mut v = view_with(&[1, 2, 3]);
        v.apply(&fetch(1, vec![FetchItem::Flags(vec![Flag::Seen])]), false)
            .unwrap();
        assert_eq!(v.apply_code(&Code::UidValidity(42)), vec![]);
        assert_eq!(v.apply_code(&Code::UidNext(4)), vec![]);
        assert_eq!(v.apply_code(&Code::HighestModSeq(100)), vec![]);
        assert_eq!(v.apply_code(&Code::UidValidity(42)), vec![]);
        assert_eq!(
            (v.uid_validity(), v.uid_next(), v.highest_modseq()),
            (Some(42), Some(4), Some(100))
        );
        assert_eq!(v.seq_of_uid(2), Some(2));
        assert_eq!(
            v.apply_code(&Code::UidValidity(43)),
            vec![MailboxEvent::UidValidityChanged { old: 42, new: 43 }]
        );
        assert_eq!(v.uid_validity(), Some(43));
        assert_eq!((v.uid_next(), v.highest_modseq()), (None, None));
        assert_eq!(v.exists(), 3);
        assert!(v.messages().iter().all(|m| *m == MessageEntry::default()));
        assert_eq!(v.seq_of_uid(2), None);
        assert_eq!(v.uid_of(2), None);
        v.apply_code(&Code::HighestModSeq(5));
        v.apply_code(&Code::NoModSeq);
        assert_eq!(v.highest_modseq(), None);
        assert_eq!(v.apply_code(&Code::Alert), vec![]);
    }

    #[test]
    fn other_data_is_ignored() {
        let mut v = view_with(&[1]);
        let before = v.clone();
        assert_eq!(v.apply(&Data::Flags(vec![Flag::Seen]), true), Ok(vec![]));
        assert_eq!(v.apply(&Data::Resync, true), Ok(vec![]));
        assert_eq!(v, before);
        assert_eq!(v.name(), &Mailbox::inbox());
    }

    #[test]
    fn lookups_out_of_range() {
        let v = view_with(&[5, 6]);
        assert_eq!(v.message(0), None);
        assert_eq!(v.message(3), None);
        assert_eq!(v.uid_of(0), None);
        assert_eq!(v.uid_of(u32::MAX), None);
        assert_eq!(v.seq_of_uid(0), None);
        assert_eq!(v.seq_of_uid(u32::MAX), None);
        assert_eq!(view().seq_of_uid(1), None);
    }

    #[test]
    fn seq_of_uid_skips_unknown_entries() {
        let mut v = view();
        v.apply(&Data::Exists(40), false).unwrap();
        let known = [(1, 2), (7, 30), (8, 31), (20, 90), (39, 200)];
        for (seq, uid) in known {
            v.apply(&fetch(seq, vec![FetchItem::Uid(uid)]), false)
                .unwrap();
        }
        for (seq, uid) in known {
            assert_eq!(v.seq_of_uid(uid), Some(seq), "uid {uid}");
        }
        for uid in [1, 3, 29, 32, 89, 91, 199, 201] {
            assert_eq!(v.seq_of_uid(uid), None, "uid {uid}");
        }
    }

    /// One step of the server in the model-based test.
    #[derive(Debug, Clone)]
    enum Op {
        /// New messages, announced by EXISTS.
        Append(u8),
        /// New messages, announced only by a FETCH of the last one (E-72).
        AppendByFetch(u8),
        /// `* n EXPUNGE` of message `index % count`.
        Expunge(u16),
        /// `* n FETCH (UID u FLAGS (...))`.
        FetchUid(u16),
        /// Toggle `\Seen` on the server and report it by `* n FETCH (FLAGS (...))`.
        ToggleSeen(u16),
        /// QRESYNC: `* n FETCH (UID u)` for a run of messages, then `* VANISHED` of the run.
        Vanish(u16, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1..5u8).prop_map(Op::Append),
            (1..4u8).prop_map(Op::AppendByFetch),
            any::<u16>().prop_map(Op::Expunge),
            any::<u16>().prop_map(Op::FetchUid),
            any::<u16>().prop_map(Op::ToggleSeen),
            (any::<u16>(), 1..4u8).prop_map(|(i, n)| Op::Vanish(i, n)),
        ]
    }

    fn flags(seen: bool) -> Vec<Flag> {
        if seen {
            vec![Flag::Seen]
        } else {
            vec![]
        }
    }

    proptest! {
        /// The view tracks a reference model of the server mailbox (UID and `\Seen` per
        /// message) and of what the client has been told (the UIDs it has seen).
        #[test]
        fn view_matches_reference_model(ops in proptest::collection::vec(op(), 0..60)) {
            let mut server: Vec<(u32, bool)> = Vec::new();
            let mut known: Vec<Option<u32>> = Vec::new();
            let mut next_uid = 1u32;
            let mut v = view();
            for op in ops {
                match op {
                    Op::Append(k) => {
                        for _ in 0..k {
                            server.push((next_uid, false));
                            next_uid += 1;
                            known.push(None);
                        }
                        let ev = v.apply(&Data::Exists(server.len() as u32), false).unwrap();
                        prop_assert_eq!(ev, vec![MailboxEvent::Exists { count: server.len() as u32 }]);
                    }
                    Op::AppendByFetch(k) => {
                        for _ in 0..k {
                            server.push((next_uid, false));
                            next_uid += 1;
                            known.push(None);
                        }
                        let uid = next_uid - 1;
                        if let Some(last) = known.last_mut() {
                            *last = Some(uid);
                        }
                        let seq = server.len() as u32;
                        let ev = v.apply(&fetch(seq, vec![FetchItem::Uid(uid)]), false).unwrap();
                        let expected = MailboxEvent::Exists { count: seq };
                        prop_assert_eq!(ev.first(), Some(&expected));
                    }
                    Op::Expunge(i) if !server.is_empty() => {
                        let index = usize::from(i) % server.len();
                        server.remove(index);
                        let uid = known.remove(index);
                        let ev = v.apply(&Data::Expunge(index as u32 + 1), false).unwrap();
                        prop_assert_eq!(ev, vec![MailboxEvent::Expunged { seq: index as u32 + 1, uid }]);
                    }
                    Op::FetchUid(i) if !server.is_empty() => {
                        let index = usize::from(i) % server.len();
                        let (uid, seen) = server[index];
                        known[index] = Some(uid);
                        let items = vec![FetchItem::Uid(uid), FetchItem::Flags(flags(seen))];
                        v.apply(&fetch(index as u32 + 1, items), false).unwrap();
                    }
                    Op::ToggleSeen(i) if !server.is_empty() => {
                        let index = usize::from(i) % server.len();
                        server[index].1 = !server[index].1;
                        let seq = index as u32 + 1;
                        let items = vec![FetchItem::Flags(flags(server[index].1))];
                        let ev = v.apply(&fetch(seq, items), false).unwrap();
                        let expected = MailboxEvent::FlagsChanged {
                            seq,
                            uid: known[index],
                            flags: flags(server[index].1),
                        };
                        prop_assert_eq!(ev.first(), Some(&expected));
                    }
                    Op::Vanish(i, n) if !server.is_empty() => {
                        let start = usize::from(i) % server.len();
                        let end = (start + usize::from(n)).min(server.len());
                        for index in start..end {
                            let uid = server[index].0;
                            known[index] = Some(uid);
                            v.apply(&fetch(index as u32 + 1, vec![FetchItem::Uid(uid)]), true).unwrap();
                        }
                        let gone: Vec<u32> = server.drain(start..end).map(|(u, _)| u).collect();
                        known.drain(start..end);
                        let ranges = gone
                            .iter()
                            .map(|&u| SeqRange::Single(SeqNo::Value(NonZeroU32::new(u).unwrap())))
                            .collect();
                        let data = Data::Vanished { earlier: false, uids: SequenceSet::new(ranges).unwrap() };
                        let ev = v.apply(&data, true).unwrap();
                        prop_assert_eq!(ev, vec![MailboxEvent::Vanished { uids: gone, earlier: false }]);
                    }
                    _ => {}
                }
                prop_assert_eq!(v.exists() as usize, server.len());
                prop_assert_eq!(uids(&v), known.clone());
                for (index, (entry, &(uid, seen))) in v.messages().iter().zip(&server).enumerate() {
                    if let Some(u) = entry.uid {
                        prop_assert_eq!(u, uid);
                        prop_assert_eq!(v.seq_of_uid(uid), Some(index as u32 + 1));
                    } else {
                        prop_assert_eq!(v.seq_of_uid(uid), None);
                    }
                    if let Some(f) = &entry.flags {
                        prop_assert_eq!(f, &flags(seen));
                    }
                }
            }
        }

        /// Arbitrary (often invalid) responses never panic, and a rejected one leaves the
        /// view unchanged.
        #[test]
        fn arbitrary_data_never_panics(
            steps in proptest::collection::vec((0..6u8, 0..12u32, 0..12u32, any::<bool>()), 0..80)
        ) {
            let mut v = view();
            for (kind, a, b, q) in steps {
                let data = match kind {
                    0 => Data::Exists(a),
                    1 => Data::Expunge(a),
                    2 => fetch(a, vec![FetchItem::Uid(b)]),
                    3 => fetch(a, vec![FetchItem::Flags(vec![Flag::Seen]), FetchItem::ModSeq(u64::from(b))]),
                    4 => Data::Vanished { earlier: q, uids: SequenceSet::range(a.max(1), b.max(1)).unwrap() },
                    _ => Data::Recent(a),
                };
                let before = v.clone();
                if v.apply(&data, q).is_err() {
                    prop_assert_eq!(&v, &before);
                }
                if kind == 5 {
                    v.apply_code(&Code::UidValidity(b));
                }
                prop_assert!(v.exists() <= MAX_MESSAGES);
                for seq in 0..=v.exists() + 1 {
                    if let Some(uid) = v.uid_of(seq) {
                        // Lookups never panic; with a non-monotonic server they may miss.
                        let _ = v.seq_of_uid(uid);
                    }
                }
            }
        }
    }
}
