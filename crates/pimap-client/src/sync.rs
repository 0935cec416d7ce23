//! State-comparison sync: what a client must do to make its local copy of a folder match the
//! server.
//!
//! After `* RESYNC`, after a fresh P-IMAP session (no `* SESSION` on login), or after a view
//! filter change, the client cannot trust its event-based state (spec §6.3). It then SELECTs
//! each folder, lists it with [`listing_command`] (`UID FETCH 1:* (UID FLAGS)`), collects the
//! answer into a [`ServerListing`], and compares it with its [`LocalFolder`] using [`plan`].
//! The resulting [`SyncPlan`] says which messages to download, which to drop and whose flags
//! to update.
//!
//! ```
//! use std::collections::BTreeMap;
//! use pimap_client::{plan, LocalFolder, ServerListing};
//! use pimap_types::{Data, FetchItem, Flag};
//!
//! let local = LocalFolder {
//!     uid_validity: 7,
//!     messages: BTreeMap::from([(1, vec![]), (2, vec![Flag::Seen]), (3, vec![])]),
//! };
//! // The server's answer to `UID FETCH 1:* (UID FLAGS)`:
//! let answer = [
//!     Data::Fetch { seq: 1, items: vec![FetchItem::Uid(1), FetchItem::Flags(vec![Flag::Seen])] },
//!     Data::Fetch { seq: 2, items: vec![FetchItem::Uid(2), FetchItem::Flags(vec![Flag::Seen])] },
//!     Data::Fetch { seq: 3, items: vec![FetchItem::Uid(4), FetchItem::Flags(vec![])] },
//!     Data::Fetch { seq: 4, items: vec![FetchItem::Uid(5), FetchItem::Flags(vec![])] },
//! ];
//! let server = ServerListing::from_fetch_data(7, &answer);
//!
//! let plan = plan(&local, &server);
//! assert!(!plan.full_reload);
//! assert_eq!(plan.fetch_new, vec![4, 5]);
//! assert_eq!(plan.remove, vec![3]);
//! assert_eq!(plan.update_flags, vec![(1, vec![Flag::Seen])]);
//! // `UID FETCH 4:5 (...)` downloads the new messages.
//! assert_eq!(plan.fetch_new_set(), Some(pimap_types::SequenceSet::range(4, 5)?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use pimap_types::{
    CommandBody, Data, FetchAttr, FetchItem, FetchItems, Flag, SeqNo, SeqRange, SequenceSet,
};

/// The client's local copy of one folder: its UIDVALIDITY and every message it holds, by UID,
/// with the flags it believes the message has.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LocalFolder {
    /// The UIDVALIDITY the local UIDs belong to.
    pub uid_validity: u32,
    /// UID to flags.
    pub messages: BTreeMap<u32, Vec<Flag>>,
}

/// The server's state of one folder, as listed by `UID FETCH 1:* (UID FLAGS)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ServerListing {
    /// The folder's UIDVALIDITY (from the `[UIDVALIDITY n]` code of SELECT).
    pub uid_validity: u32,
    /// UID to flags. `None` when no FETCH response for that UID carried FLAGS: the flags are
    /// unknown, so [`plan`] does not compare them (and does not update the local ones).
    pub messages: BTreeMap<u32, Option<Vec<Flag>>>,
}

impl ServerListing {
    /// Collect the listing from the untagged responses to [`listing_command`].
    ///
    /// Every `* n FETCH` with a (non-zero) UID item contributes; other responses, and FETCH
    /// responses without a UID, are skipped. FLAGS may be absent: the message is then listed
    /// with unknown flags (`None`). Several responses for one UID merge: the last FLAGS
    /// seen wins, and a response without FLAGS does not forget flags seen before.
    pub fn from_fetch_data<'a>(
        uid_validity: u32,
        data: impl IntoIterator<Item = &'a Data>,
    ) -> Self {
        let mut messages: BTreeMap<u32, Option<Vec<Flag>>> = BTreeMap::new();
        for d in data {
            let Data::Fetch { items, .. } = d else {
                continue;
            };
            let mut uid = None;
            let mut flags = None;
            for item in items {
                match item {
                    FetchItem::Uid(u) if *u != 0 => uid = Some(*u),
                    FetchItem::Flags(f) => flags = Some(f),
                    _ => {}
                }
            }
            let Some(uid) = uid else {
                continue;
            };
            let entry = messages.entry(uid).or_default();
            if let Some(f) = flags {
                *entry = Some(f.clone());
            }
        }
        Self {
            uid_validity,
            messages,
        }
    }
}

/// What to do to make a [`LocalFolder`] match a [`ServerListing`]; made by [`plan`].
///
/// Apply it in this order: if [`full_reload`](SyncPlan::full_reload), drop every local message
/// and adopt the server's UIDVALIDITY; drop the [`remove`](SyncPlan::remove) UIDs; replace the
/// flags of the [`update_flags`](SyncPlan::update_flags) UIDs; download the
/// [`fetch_new`](SyncPlan::fetch_new) UIDs (see [`SyncPlan::fetch_new_set`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct SyncPlan {
    /// UIDVALIDITY changed: every local message is void (all of them are in `remove`, and
    /// every server message is in `fetch_new`).
    pub full_reload: bool,
    /// UIDs on the server that the client lacks, ascending.
    pub fetch_new: Vec<u32>,
    /// UIDs on both sides whose flags differ, ascending, with the server's flags (without
    /// `\Recent`, duplicates removed, in the server's order).
    pub update_flags: Vec<(u32, Vec<Flag>)>,
    /// Local UIDs the server no longer has, ascending.
    pub remove: Vec<u32>,
}

impl SyncPlan {
    /// Nothing to do: the local folder already matches the server.
    pub fn is_empty(&self) -> bool {
        !self.full_reload
            && self.fetch_new.is_empty()
            && self.update_flags.is_empty()
            && self.remove.is_empty()
    }

    /// The UIDs to download as a compact sequence set (`1,2,3,7` becomes `1:3,7`), for a
    /// `UID FETCH`; `None` if there are none. UID 0 (invalid) is left out.
    pub fn fetch_new_set(&self) -> Option<SequenceSet> {
        uid_set(&self.fetch_new)
    }
}

/// Compare the local folder with the server listing.
///
/// * Different UIDVALIDITY: `full_reload`, `remove` = every local UID, `fetch_new` = every
///   server UID.
/// * Otherwise: `fetch_new` = server UIDs not held locally, `remove` = local UIDs not on the
///   server, `update_flags` = UIDs on both whose flags differ as *sets*: order and duplicates
///   do not matter, `\Recent` is ignored (it is session state, not message state), and flag
///   names compare case-insensitively (RFC 3501 §9: atoms are case-insensitive), so
///   `$Label1` equals `$label1`. Messages whose server flags are unknown are not compared.
///
/// Every vector is sorted ascending. Linear in the size of both sides (plus a logarithmic
/// factor for the map lookups).
pub fn plan(local: &LocalFolder, server: &ServerListing) -> SyncPlan {
    if local.uid_validity != server.uid_validity {
        return SyncPlan {
            full_reload: true,
            fetch_new: server.messages.keys().copied().collect(),
            update_flags: Vec::new(),
            remove: local.messages.keys().copied().collect(),
        };
    }
    let mut fetch_new = Vec::new();
    let mut update_flags = Vec::new();
    for (&uid, server_flags) in &server.messages {
        match (local.messages.get(&uid), server_flags) {
            (None, _) => fetch_new.push(uid),
            (Some(local_flags), Some(server_flags)) => {
                if flag_set(local_flags) != flag_set(server_flags) {
                    update_flags.push((uid, normalised(server_flags)));
                }
            }
            (Some(_), None) => {}
        }
    }
    let remove = local
        .messages
        .keys()
        .copied()
        .filter(|uid| !server.messages.contains_key(uid))
        .collect();
    SyncPlan {
        full_reload: false,
        fetch_new,
        update_flags,
        remove,
    }
}

/// The listing command of a state-comparison sync: `UID FETCH 1:* (UID FLAGS)`.
pub fn listing_command() -> CommandBody {
    CommandBody::Fetch {
        uid: true,
        set: SequenceSet::all(),
        items: FetchItems::List(vec![FetchAttr::Uid, FetchAttr::Flags]),
        modifiers: Vec::new(),
    }
}

/// A comparison key for a flag: its wire name in lower case, or `None` for `\Recent`.
fn flag_key(flag: &Flag) -> Option<Vec<u8>> {
    let system = |name: &str| Some(name.as_bytes().to_vec());
    match flag {
        Flag::Recent => None,
        Flag::Answered => system("\\answered"),
        Flag::Flagged => system("\\flagged"),
        Flag::Deleted => system("\\deleted"),
        Flag::Seen => system("\\seen"),
        Flag::Draft => system("\\draft"),
        Flag::Forwarded => system("\\forwarded"),
        Flag::Wildcard => system("\\*"),
        Flag::Extension(atom) => {
            let mut key = Vec::with_capacity(atom.as_bytes().len() + 1);
            key.push(b'\\');
            key.extend(atom.as_bytes().iter().map(u8::to_ascii_lowercase));
            Some(key)
        }
        Flag::Keyword(atom) => Some(atom.as_bytes().to_ascii_lowercase()),
    }
}

/// The flags as a set of comparison keys (order, case, duplicates and `\Recent` ignored).
fn flag_set(flags: &[Flag]) -> BTreeSet<Vec<u8>> {
    flags.iter().filter_map(flag_key).collect()
}

/// The flags without `\Recent` and without duplicates (by comparison key), in order.
fn normalised(flags: &[Flag]) -> Vec<Flag> {
    let mut seen = BTreeSet::new();
    flags
        .iter()
        .filter(|f| flag_key(f).is_some_and(|k| seen.insert(k)))
        .cloned()
        .collect()
}

/// Compress UIDs into ranges of consecutive numbers (any order and duplicates accepted).
fn uid_set(uids: &[u32]) -> Option<SequenceSet> {
    let mut sorted: Vec<NonZeroU32> = uids.iter().filter_map(|&u| NonZeroU32::new(u)).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(NonZeroU32, NonZeroU32)> = Vec::new();
    for uid in sorted {
        match runs.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(uid) => *hi = uid,
            _ => runs.push((uid, uid)),
        }
    }
    let ranges = runs
        .into_iter()
        .map(|(lo, hi)| {
            if lo == hi {
                SeqRange::Single(SeqNo::Value(lo))
            } else {
                SeqRange::Range(SeqNo::Value(lo), SeqNo::Value(hi))
            }
        })
        .collect();
    SequenceSet::new(ranges).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimap_types::Atom;
    use proptest::prelude::*;

    fn kw(s: &str) -> Flag {
        Flag::Keyword(Atom::try_from(s).unwrap())
    }

    fn local(uid_validity: u32, msgs: &[(u32, Vec<Flag>)]) -> LocalFolder {
        LocalFolder {
            uid_validity,
            messages: msgs.iter().cloned().collect(),
        }
    }

    fn server(uid_validity: u32, msgs: &[(u32, Vec<Flag>)]) -> ServerListing {
        ServerListing {
            uid_validity,
            messages: msgs.iter().map(|(u, f)| (*u, Some(f.clone()))).collect(),
        }
    }

    fn nz(n: u32) -> SeqNo {
        SeqNo::Value(NonZeroU32::new(n).unwrap())
    }

    #[test]
    fn identical_is_empty() {
        let msgs = [(1, vec![Flag::Seen]), (2, vec![]), (9, vec![kw("$Work")])];
        let p = plan(&local(5, &msgs), &server(5, &msgs));
        assert!(p.is_empty());
        assert_eq!(p, SyncPlan::default());
        assert_eq!(p.fetch_new_set(), None);
        assert!(plan(&LocalFolder::default(), &ServerListing::default()).is_empty());
    }

    #[test]
    fn new_removed_and_changed() {
        let l = local(
            5,
            &[
                (1, vec![Flag::Seen]),
                (2, vec![]),
                (3, vec![Flag::Flagged]),
                (4, vec![]),
            ],
        );
        let s = server(
            5,
            &[
                (1, vec![Flag::Seen]),
                (3, vec![Flag::Seen, Flag::Recent]),
                (4, vec![Flag::Recent]),
                (6, vec![]),
                (7, vec![Flag::Deleted]),
            ],
        );
        let p = plan(&l, &s);
        assert!(!p.full_reload);
        assert!(!p.is_empty());
        assert_eq!(p.fetch_new, vec![6, 7]);
        assert_eq!(p.remove, vec![2]);
        assert_eq!(p.update_flags, vec![(3, vec![Flag::Seen])]);
        assert_eq!(p.fetch_new_set(), SequenceSet::range(6, 7).ok());
    }

    #[test]
    fn uid_validity_change_reloads_everything() {
        let l = local(5, &[(1, vec![]), (2, vec![])]);
        let s = server(6, &[(1, vec![]), (3, vec![Flag::Seen])]);
        let p = plan(&l, &s);
        assert!(p.full_reload);
        assert!(!p.is_empty());
        assert_eq!(p.remove, vec![1, 2]);
        assert_eq!(p.fetch_new, vec![1, 3]);
        assert!(p.update_flags.is_empty());
        // Even with both sides empty a reload is pending (adopt the new UIDVALIDITY).
        assert!(!plan(&local(1, &[]), &server(2, &[])).is_empty());
    }

    #[test]
    fn flags_compare_as_case_insensitive_sets() {
        let l = local(
            1,
            &[
                (1, vec![Flag::Seen, kw("$Label1"), Flag::Answered]),
                (2, vec![kw("NonJunk")]),
                (3, vec![Flag::Extension(Atom::try_from("Seen").unwrap())]),
                (4, vec![Flag::Seen, Flag::Seen]),
                (5, vec![kw("$Label1")]),
            ],
        );
        let s = server(
            1,
            &[
                (
                    1,
                    vec![Flag::Answered, kw("$LABEL1"), Flag::Seen, Flag::Recent],
                ),
                (2, vec![kw("nonjunk")]),
                (3, vec![Flag::Seen]),
                (4, vec![Flag::Seen]),
                (5, vec![kw("$Label2"), kw("$label2"), Flag::Recent]),
            ],
        );
        let p = plan(&l, &s);
        assert_eq!(p.update_flags, vec![(5, vec![kw("$Label2")])]);
        assert!(p.fetch_new.is_empty() && p.remove.is_empty());
    }

    #[test]
    fn unknown_server_flags_are_not_compared() {
        let l = local(1, &[(1, vec![Flag::Seen])]);
        let s = ServerListing {
            uid_validity: 1,
            messages: BTreeMap::from([(1, None), (2, None)]),
        };
        let p = plan(&l, &s);
        assert!(p.update_flags.is_empty());
        assert_eq!(p.fetch_new, vec![2]);
    }

    #[test]
    fn listing_from_fetch_data() {
        let data = [
            Data::Fetch {
                seq: 1,
                items: vec![FetchItem::Flags(vec![Flag::Seen]), FetchItem::Uid(10)],
            },
            // No UID: skipped.
            Data::Fetch {
                seq: 2,
                items: vec![FetchItem::Flags(vec![])],
            },
            Data::Exists(3),
            // No FLAGS: unknown.
            Data::Fetch {
                seq: 3,
                items: vec![FetchItem::Uid(30)],
            },
            // A later response without FLAGS keeps the flags seen before.
            Data::Fetch {
                seq: 1,
                items: vec![FetchItem::Uid(10), FetchItem::Rfc822Size(5)],
            },
            // UID 0 is invalid: skipped.
            Data::Fetch {
                seq: 4,
                items: vec![FetchItem::Uid(0), FetchItem::Flags(vec![])],
            },
        ];
        let s = ServerListing::from_fetch_data(9, &data);
        assert_eq!(s.uid_validity, 9);
        assert_eq!(
            s.messages,
            BTreeMap::from([(10, Some(vec![Flag::Seen])), (30, None)])
        );
    }

    #[test]
    fn range_compression() {
        let p = SyncPlan {
            fetch_new: vec![7, 3, 1, 2, 2, 0, 9, 10, u32::MAX, u32::MAX - 1],
            ..SyncPlan::default()
        };
        assert_eq!(
            p.fetch_new_set(),
            SequenceSet::new(vec![
                SeqRange::Range(nz(1), nz(3)),
                SeqRange::Single(nz(7)),
                SeqRange::Range(nz(9), nz(10)),
                SeqRange::Range(nz(u32::MAX - 1), nz(u32::MAX)),
            ])
            .ok()
        );
        assert_eq!(uid_set(&[5]), SequenceSet::single(5).ok());
        assert_eq!(uid_set(&[0]), None);
        assert_eq!(uid_set(&[]), None);
    }

    #[test]
    fn listing_command_is_uid_fetch_all_uid_flags() {
        assert_eq!(
            listing_command(),
            CommandBody::Fetch {
                uid: true,
                set: SequenceSet::all(),
                items: FetchItems::List(vec![FetchAttr::Uid, FetchAttr::Flags]),
                modifiers: vec![],
            }
        );
    }

    fn flag() -> impl Strategy<Value = Flag> {
        prop_oneof![
            Just(Flag::Seen),
            Just(Flag::Answered),
            Just(Flag::Flagged),
            Just(Flag::Deleted),
            Just(Flag::Draft),
            Just(Flag::Recent),
            Just(Flag::Forwarded),
            proptest::sample::select(vec!["$Label1", "$label1", "NonJunk", "$Junk"]).prop_map(kw),
            proptest::sample::select(vec!["Foo", "FOO"])
                .prop_map(|s| Flag::Extension(Atom::try_from(s).unwrap())),
        ]
    }

    fn flags() -> impl Strategy<Value = Vec<Flag>> {
        proptest::collection::vec(flag(), 0..4)
    }

    fn local_folder() -> impl Strategy<Value = LocalFolder> {
        (
            1..3u32,
            proptest::collection::btree_map(1..40u32, flags(), 0..25),
        )
            .prop_map(|(uid_validity, messages)| LocalFolder {
                uid_validity,
                messages,
            })
    }

    fn server_listing() -> impl Strategy<Value = ServerListing> {
        (
            1..3u32,
            proptest::collection::btree_map(
                1..40u32,
                proptest::option::weighted(0.9, flags()),
                0..25,
            ),
        )
            .prop_map(|(uid_validity, messages)| ServerListing {
                uid_validity,
                messages,
            })
    }

    fn ascending_unique(v: &[u32]) -> bool {
        v.windows(2).all(|w| w.first() < w.get(1))
    }

    proptest! {
        /// Applying the plan to the local folder yields exactly the server listing (flags as
        /// sets, where the server's are known), and the plan is minimal.
        #[test]
        fn applying_the_plan_reaches_the_server_state(l in local_folder(), s in server_listing()) {
            let p = plan(&l, &s);
            prop_assert!(ascending_unique(&p.fetch_new));
            prop_assert!(ascending_unique(&p.remove));
            let updated: Vec<u32> = p.update_flags.iter().map(|(u, _)| *u).collect();
            prop_assert!(ascending_unique(&updated));
            prop_assert_eq!(
                p.fetch_new_set().map(|set| set.iter(0).collect::<Vec<_>>()).unwrap_or_default(),
                p.fetch_new.clone()
            );

            let mut state = l.clone();
            if p.full_reload {
                state.uid_validity = s.uid_validity;
            }
            for uid in &p.remove {
                prop_assert!(state.messages.remove(uid).is_some());
            }
            if p.full_reload {
                prop_assert!(state.messages.is_empty());
            }
            for (uid, f) in &p.update_flags {
                prop_assert!(!f.contains(&Flag::Recent));
                prop_assert!(state.messages.insert(*uid, f.clone()).is_some());
            }
            for uid in &p.fetch_new {
                let f = s.messages.get(uid).cloned().flatten().unwrap_or_default();
                prop_assert!(state.messages.insert(*uid, f).is_none());
            }

            prop_assert_eq!(state.uid_validity, s.uid_validity);
            prop_assert_eq!(
                state.messages.keys().collect::<Vec<_>>(),
                s.messages.keys().collect::<Vec<_>>()
            );
            for (uid, server_flags) in &s.messages {
                if let (Some(sf), Some(lf)) = (server_flags, state.messages.get(uid)) {
                    prop_assert_eq!(flag_set(lf), flag_set(sf), "uid {}", uid);
                }
            }
            // Minimal: nothing to do the second time.
            let again = ServerListing {
                uid_validity: s.uid_validity,
                messages: s.messages.clone(),
            };
            prop_assert!(plan(&state, &again).is_empty());
            // Flags are only updated where they really differ.
            if !p.full_reload {
                for (uid, _) in &p.update_flags {
                    let before = l.messages.get(uid).map(|f| flag_set(f));
                    let after = s.messages.get(uid).cloned().flatten().map(|f| flag_set(&f));
                    prop_assert_ne!(before, after);
                }
            }
        }

        /// Range compression round-trips any UID list.
        #[test]
        fn uid_set_round_trips(uids in proptest::collection::vec(0..200u32, 0..60)) {
            let mut expected: Vec<u32> = uids.iter().copied().filter(|&u| u != 0).collect();
            expected.sort_unstable();
            expected.dedup();
            let got = uid_set(&uids).map(|s| s.iter(0).collect::<Vec<_>>()).unwrap_or_default();
            prop_assert_eq!(got, expected);
        }
    }
}
