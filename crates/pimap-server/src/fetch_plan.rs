//! A FETCH cut into store requests of bounded size.
//!
//! One FETCH can ask for far more data than it is reasonable to hold at once (`FETCH 1:*
//! BODY[]` of a large mailbox, or 200 distinct 2 MB partials of one message). The server
//! therefore asks the store for it in chunks: consecutive messages whose estimated data fits
//! [`ServerConfig::fetch_chunk`](super::ServerConfig::fetch_chunk), and a message whose body
//! items alone exceed it split across several requests by item (each answered as its own
//! `* n FETCH`, which IMAP allows). The next chunk is requested only after the previous one
//! was written and the connection's output is below its budget, so the memory one FETCH
//! holds is about one chunk plus the output budget. A whole-message item larger than the
//! chunk (`BODY[]`, `BODY.PEEK[]` or `RFC822` of a large message) is *streamed*: its
//! response is announced with the message's size and the literal's octets are requested
//! as partials of one chunk each ([`Piece`]), written as they come; the message's other
//! items are answered first, in their own `* n FETCH`. (Should the store's octets not
//! match the announced size, the item is asked for whole if nothing was written yet, and
//! the connection is closed otherwise: a literal cannot be taken back.)
//!
//! Estimates come from the view's `RFC822.SIZE` of each message
//! ([`MessageProps::size`](super::MessageProps::size)): a body item costs at most the message
//! size, or its `<partial>` count if smaller; other items are counted as
//! [`PER_MESSAGE`] octets per message.

use std::collections::VecDeque;

use pimap_types::{FetchAttr, Mailbox, Tag};

/// -12 XZIP / XZIP.SIZE attributes to rebuild from BINARY data (spec §3.9.4), and the parts
/// whose BINARY the client asked for itself.
pub(crate) type XZipRequest = (Vec<FetchAttr>, Vec<Vec<u32>>);

/// A FETCH in progress: what its replies need, and the chunks not yet requested.
#[derive(Debug)]
pub(crate) struct FetchJob {
    pub tag: Tag,
    /// UID FETCH.
    pub uid: bool,
    /// `UID` is among the items (always for UID FETCH): every row carries it, whether or
    /// not the store returned it.
    pub with_uid: bool,
    pub xzip: XZipRequest,
    pub mailbox: Mailbox,
    /// The attributes for the store (macros expanded, XZIP as BINARY).
    pub items: Vec<FetchAttr>,
    /// Requested next, in order; the one being answered has been taken off.
    pub chunks: VecDeque<Chunk>,
    /// The piece of a streamed item being requested (its message's UID).
    pub piece: Option<(u32, Piece)>,
}

impl FetchJob {
    /// The attributes of one chunk.
    pub fn items_of(&self, chunk: &Chunk) -> Vec<FetchAttr> {
        if let Some(p) = chunk.piece {
            return self
                .items
                .get(p.item)
                .and_then(|a| piece_attr(a, p))
                .into_iter()
                .collect();
        }
        match &chunk.items {
            None => self.items.clone(),
            Some(idx) => idx
                .iter()
                .filter_map(|i| self.items.get(*i).cloned())
                .collect(),
        }
    }
}

/// Octets counted for each message of a chunk besides its body items (UID, FLAGS, ENVELOPE
/// and the like), so that a FETCH of many messages is cut by count as well.
pub(crate) const PER_MESSAGE: u64 = 256;

/// One store request of a FETCH: these messages, with all the command's items or with the
/// items at these indices, or one piece of a streamed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub uids: Vec<u32>,
    /// `None`: every item of the command.
    pub items: Option<Vec<usize>>,
    /// A piece of the streamed item `items[0]` of the one message.
    pub piece: Option<Piece>,
}

/// Octets `offset .. offset + count` of a streamed whole-message item of `size` octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    /// Index of the item among the command's attributes.
    pub item: usize,
    pub offset: u32,
    pub count: u32,
    /// The literal's announced size (the message's `RFC822.SIZE`).
    pub size: u32,
}

impl Piece {
    /// The octets the store must return for this piece.
    pub fn expected(&self) -> usize {
        self.count.min(self.size.saturating_sub(self.offset)) as usize
    }

    /// The literal ends with this piece.
    pub fn is_last(&self) -> bool {
        u64::from(self.offset) + u64::from(self.count) >= u64::from(self.size)
    }
}

/// Items streamed when larger than a chunk: the whole message, whose size the view knows.
fn streamable(a: &FetchAttr) -> bool {
    match a {
        FetchAttr::BodySection {
            section, partial, ..
        } => section.part.is_empty() && section.text.is_none() && partial.is_none(),
        FetchAttr::Rfc822 => true,
        _ => false,
    }
}

/// The store request for one piece of a streamed item: the same octets as a partial
/// (`BODY[]<offset.count>`); only the first piece may set `\Seen`.
fn piece_attr(a: &FetchAttr, p: Piece) -> Option<FetchAttr> {
    let peek = match a {
        FetchAttr::BodySection { peek, .. } => *peek,
        FetchAttr::Rfc822 => false,
        _ => return None,
    };
    Some(FetchAttr::BodySection {
        peek: peek || p.offset > 0,
        section: pimap_types::Section::default(),
        partial: Some(pimap_types::Partial {
            origin: p.offset,
            count: p.count,
        }),
    })
}

/// The octets a body item can produce for a message of `size` octets (0 for items that carry
/// no message data).
fn item_cost(a: &FetchAttr, size: u64) -> u64 {
    match a {
        FetchAttr::BodySection { partial, .. } | FetchAttr::Binary { partial, .. } => {
            partial.map_or(size, |p| size.min(u64::from(p.count)))
        }
        FetchAttr::Rfc822 | FetchAttr::Rfc822Text | FetchAttr::Rfc822Header => size,
        _ => 0,
    }
}

/// Cut a FETCH of `msgs` (UID and size if known, ascending) into chunks of about `budget`
/// octets. With `splittable` false (XZIP conversions need all of a message's items in one
/// reply) messages are never split by item.
pub(crate) fn plan(
    msgs: &[(u32, Option<u32>)],
    items: &[FetchAttr],
    budget: u64,
    splittable: bool,
) -> VecDeque<Chunk> {
    let budget = budget.max(1);
    let mut out = VecDeque::new();
    let mut current: Vec<u32> = Vec::new();
    let mut used = 0u64;
    for &(uid, known) in msgs {
        // An unknown size is taken as the whole budget: such a message goes alone.
        let size = known.map_or(budget, u64::from);
        let costs: Vec<u64> = items.iter().map(|a| item_cost(a, size)).collect();
        let streamed: Vec<usize> = match known {
            Some(size) if splittable && u64::from(size) > budget => (0..items.len())
                .filter(|&i| streamable(&items[i]))
                .collect(),
            _ => Vec::new(),
        };
        if let (false, Some(size)) = (streamed.is_empty(), known) {
            close_chunk(&mut current, &mut used, &mut out);
            let rest: Vec<u64> = costs
                .iter()
                .enumerate()
                .map(|(i, c)| if streamed.contains(&i) { u64::MAX } else { *c })
                .collect();
            if rest.iter().any(|c| *c != u64::MAX) {
                split_items(uid, &rest, budget, &mut out);
            }
            let count = u32::try_from(budget).unwrap_or(u32::MAX);
            for item in streamed {
                let mut offset = 0u32;
                while offset < size {
                    out.push_back(Chunk {
                        uids: vec![uid],
                        items: Some(vec![item]),
                        piece: Some(Piece {
                            item,
                            offset,
                            count,
                            size,
                        }),
                    });
                    offset = offset.saturating_add(count);
                }
            }
            continue;
        }
        let cost = PER_MESSAGE + costs.iter().sum::<u64>();
        if cost > budget && splittable && costs.iter().filter(|c| **c > 0).count() > 1 {
            close_chunk(&mut current, &mut used, &mut out);
            split_items(uid, &costs, budget, &mut out);
            continue;
        }
        if used.saturating_add(cost) > budget {
            close_chunk(&mut current, &mut used, &mut out);
        }
        current.push(uid);
        used = used.saturating_add(cost);
    }
    close_chunk(&mut current, &mut used, &mut out);
    out
}

/// The messages gathered so far become a chunk (if any).
fn close_chunk(current: &mut Vec<u32>, used: &mut u64, out: &mut VecDeque<Chunk>) {
    if !current.is_empty() {
        out.push_back(Chunk {
            uids: std::mem::take(current),
            items: None,
            piece: None,
        });
    }
    *used = 0;
}

/// One message whose items exceed the budget: the items without data go with the first
/// group, body items are grouped greedily. Items costed `u64::MAX` are left out (they are
/// streamed).
fn split_items(uid: u32, costs: &[u64], budget: u64, out: &mut VecDeque<Chunk>) {
    let mut group: Vec<usize> = costs
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == 0)
        .map(|(i, _)| i)
        .collect();
    let mut used = PER_MESSAGE;
    let mut has_body = false;
    let body = costs
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0 && **c != u64::MAX);
    for (i, &c) in body {
        if has_body && used.saturating_add(c) > budget {
            out.push_back(Chunk {
                uids: vec![uid],
                items: Some(std::mem::take(&mut group)),
                piece: None,
            });
            used = PER_MESSAGE;
        }
        group.push(i);
        has_body = true;
        used = used.saturating_add(c);
    }
    if !group.is_empty() {
        out.push_back(Chunk {
            uids: vec![uid],
            items: Some(group),
            piece: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimap_types::{Partial, Section};

    fn body(count: Option<u32>) -> FetchAttr {
        FetchAttr::BodySection {
            peek: true,
            section: Section::default(),
            partial: count.map(|count| Partial { origin: 0, count }),
        }
    }

    #[test]
    fn small_messages_share_a_chunk() {
        let msgs: Vec<_> = (1..=10).map(|u| (u, Some(100))).collect();
        let p = plan(&msgs, &[FetchAttr::Flags, body(None)], 1 << 20, true);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].uids.len(), 10);
        assert_eq!(p[0].items, None);
    }

    #[test]
    fn large_messages_are_cut_by_size() {
        let msgs: Vec<_> = (1..=10).map(|u| (u, Some(400_000))).collect();
        let p = plan(&msgs, &[body(None)], 1 << 20, true);
        // 2 per chunk: 2 x 400 KB fits 1 MiB, 3 does not.
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|c| c.uids.len() == 2 && c.items.is_none()));
        let all: Vec<u32> = p.iter().flat_map(|c| c.uids.clone()).collect();
        assert_eq!(all, (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn flags_only_fetch_is_cut_by_count() {
        let msgs: Vec<_> = (1..=10_000).map(|u| (u, Some(5_000_000))).collect();
        let p = plan(&msgs, &[FetchAttr::Uid, FetchAttr::Flags], 1 << 20, true);
        let per = (1u64 << 20) / PER_MESSAGE;
        assert_eq!(p.len() as u64, 10_000u64.div_ceil(per));
    }

    #[test]
    fn many_partials_of_one_message_are_split_by_item() {
        let mut items = vec![FetchAttr::Uid, FetchAttr::Flags];
        items.extend((0..200).map(|_| body(Some(2_000_000))));
        let p = plan(&[(7, Some(2_000_000))], &items, 1 << 20, true);
        // Each 2 MB partial exceeds the 1 MiB chunk: one item per request.
        assert_eq!(p.len(), 200);
        assert_eq!(p[0].items.as_deref(), Some(&[0, 1, 2][..]));
        assert_eq!(p[199].items.as_deref(), Some(&[201][..]));
        let mut seen: Vec<usize> = p.iter().flat_map(|c| c.items.clone().unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..202).collect::<Vec<_>>());
    }

    #[test]
    fn not_splittable_keeps_items_together() {
        let items: Vec<_> = (0..4).map(|_| body(None)).collect();
        let p = plan(
            &[(1, Some(2_000_000)), (2, Some(10))],
            &items,
            1 << 20,
            false,
        );
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|c| c.items.is_none()));
    }

    #[test]
    fn unknown_sizes_go_alone() {
        let p = plan(&[(1, None), (2, None)], &[body(None)], 1 << 20, true);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn a_whole_large_message_is_streamed_in_pieces_after_its_other_items() {
        let items = vec![FetchAttr::Flags, body(None), FetchAttr::Rfc822Size];
        let size = 5 * (1 << 20) + 7;
        let p = plan(&[(3, Some(1)), (9, Some(size))], &items, 1 << 20, true);
        assert_eq!(p[0].uids, [3], "the small message before goes alone");
        assert_eq!(
            p[1].items.as_deref(),
            Some(&[0, 2][..]),
            "the other items first"
        );
        let pieces: Vec<Piece> = p.iter().skip(2).map(|c| c.piece.unwrap()).collect();
        assert_eq!(pieces.len(), 6);
        assert!(pieces.iter().all(|x| x.item == 1 && x.size == size));
        assert_eq!(pieces[5].offset, 5 << 20);
        assert_eq!(pieces[5].expected(), 7);
        assert!(pieces[5].is_last() && !pieces[4].is_last());
        // A partial, or a message within the chunk, is not streamed.
        let p = plan(&[(9, Some(size))], &[body(Some(10))], 1 << 20, true);
        assert!(p.iter().all(|c| c.piece.is_none()));
        let p = plan(&[(9, Some(1000))], &[body(None)], 1 << 20, true);
        assert!(p.iter().all(|c| c.piece.is_none()));
    }
}
