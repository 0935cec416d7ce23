//! LIST / LSUB (RFC 3501 §6.3.8, §6.3.9): mailbox name patterns and the entries they give.

use std::collections::BTreeSet;

use bytes::Bytes;

use pimap_types::{Atom, Flag, ListEntry, Mailbox};

/// The hierarchy delimiter of the memory store.
pub(crate) const DELIMITER: u8 = b'/';

/// `INBOX` as the first hierarchy level of a name is case-insensitive: write it upper case.
pub(crate) fn canonical(name: &[u8]) -> Bytes {
    match name.get(..5) {
        Some(head)
            if head.eq_ignore_ascii_case(b"INBOX")
                && matches!(name.get(5), None | Some(&DELIMITER)) =>
        {
            let mut v = b"INBOX".to_vec();
            v.extend_from_slice(name.get(5..).unwrap_or_default());
            Bytes::from(v)
        }
        _ => Bytes::copy_from_slice(name),
    }
}

/// Does `name` match `pattern`? `*` matches any run of characters, `%` any run without the
/// hierarchy delimiter; other characters match themselves (ASCII case-insensitively when
/// `fold_case`).
///
/// Runs in O(|pattern| × |name|) time and O(|name|) space after collapsing repeated
/// wildcards; a pattern with more literal characters than the name fails at once.
pub(crate) fn matches(pattern: &[u8], name: &[u8], fold_case: bool) -> bool {
    // Collapse runs of wildcards: `**`, `*%` and `%*` are `*`; `%%` is `%`.
    let mut pat: Vec<u8> = Vec::with_capacity(pattern.len());
    for &c in pattern {
        match (pat.last().copied(), c) {
            (Some(b'*'), b'*' | b'%') => {}
            (Some(b'%'), b'*') => {
                pat.pop();
                pat.push(b'*');
            }
            (Some(b'%'), b'%') => {}
            _ => pat.push(c),
        }
    }
    let literals = pat.iter().filter(|&&c| c != b'*' && c != b'%').count();
    if literals > name.len() {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if fold_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // row[j]: the pattern so far matches name[..j].
    let mut row = vec![false; name.len() + 1];
    if let Some(first) = row.first_mut() {
        *first = true;
    }
    let mut next = vec![false; name.len() + 1];
    for &c in &pat {
        match c {
            b'*' => {
                let mut any = false;
                for (n, r) in next.iter_mut().zip(&row) {
                    any |= *r;
                    *n = any;
                }
            }
            b'%' => {
                let mut run = false;
                for (j, (n, r)) in next.iter_mut().zip(&row).enumerate() {
                    let crosses = j > 0 && name.get(j - 1) == Some(&DELIMITER);
                    run = *r || (run && !crosses);
                    *n = run;
                }
            }
            lit => {
                for (j, n) in next.iter_mut().enumerate() {
                    *n = j > 0
                        && row.get(j - 1).copied().unwrap_or(false)
                        && name.get(j - 1).is_some_and(|&b| eq(lit, b));
                }
            }
        }
        std::mem::swap(&mut row, &mut next);
    }
    row.last().copied().unwrap_or(false)
}

fn attribute(name: &'static str) -> Option<Flag> {
    Atom::from_static(name).ok().map(Flag::Extension)
}

/// The proper ancestors of a name (`a/b/c` -> `a`, `a/b`).
fn ancestors_of(name: &[u8]) -> Vec<Bytes> {
    name.iter()
        .enumerate()
        .filter(|(i, c)| **c == DELIMITER && *i > 0)
        .map(|(i, _)| Bytes::copy_from_slice(name.get(..i).unwrap_or_default()))
        .collect()
}

/// One existing mailbox, as LIST sees it.
pub(crate) struct Listed<'a> {
    /// Canonical name.
    pub name: &'a Mailbox,
    /// Subscribed.
    pub subscribed: bool,
}

/// The entries of `LIST`/`LSUB reference pattern` over `mailboxes` (sorted by name).
///
/// An empty pattern gives the hierarchy delimiter entry, `(\Noselect) "/" ""`. LIST also
/// gives the missing parents of existing mailboxes (as `\Noselect`); every entry carries
/// `\HasChildren` or `\HasNoChildren` (RFC 3348). LSUB gives the `subscriptions` (a
/// subscribed name whose mailbox is gone as `\Noselect`), and, as RFC 3501 6.3.9 requires,
/// an unsubscribed parent of a subscribed name as `\Noselect` when the pattern's `%` stops
/// at the parent's level.
pub(crate) fn list(
    mailboxes: &[Listed<'_>],
    subscriptions: &BTreeSet<Bytes>,
    reference: &[u8],
    pattern: &[u8],
    subscribed_only: bool,
) -> Vec<ListEntry> {
    if pattern.is_empty() {
        let Ok(root) = Mailbox::new(Bytes::new()) else {
            return Vec::new();
        };
        return vec![ListEntry {
            attributes: attribute("Noselect").into_iter().collect(),
            delimiter: Some(DELIMITER),
            mailbox: root,
            extended: None,
        }];
    }
    let mut full = reference.to_vec();
    full.extend_from_slice(pattern);
    let full = canonical(&full);

    // Every name that has an existing mailbox below it.
    let mut parents: Vec<Bytes> = Vec::new();
    for m in mailboxes {
        let n = m.name.as_bytes();
        for (i, &c) in n.iter().enumerate() {
            if c == DELIMITER && i > 0 {
                parents.push(Bytes::copy_from_slice(n.get(..i).unwrap_or_default()));
            }
        }
    }
    let parents: BTreeSet<Bytes> = parents.into_iter().collect();

    // Candidates: (name, exists, subscribed).
    let existing: BTreeSet<&[u8]> = mailboxes.iter().map(|m| m.name.as_bytes()).collect();
    let mut names: Vec<(Bytes, bool, bool)> = if subscribed_only {
        let mut v: Vec<(Bytes, bool, bool)> = subscriptions
            .iter()
            .map(|n| (n.clone(), existing.contains(n.as_ref()), true))
            .collect();
        // Parents the pattern reaches while their subscribed children lie below it.
        let mut reached: BTreeSet<Bytes> = BTreeSet::new();
        for sub in subscriptions {
            if matches(&full, sub, sub.as_ref() == b"INBOX") {
                continue;
            }
            for p in ancestors_of(sub) {
                if !subscriptions.contains(&p) && matches(&full, &p, p.as_ref() == b"INBOX") {
                    reached.insert(p);
                }
            }
        }
        v.extend(reached.into_iter().map(|p| (p, false, true)));
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    } else {
        mailboxes
            .iter()
            .map(|m| (m.name.to_bytes(), true, m.subscribed))
            .collect()
    };
    if !subscribed_only {
        names.extend(
            parents
                .iter()
                .filter(|p| !existing.contains(p.as_ref()))
                .map(|p| (p.clone(), false, false)),
        );
        names.sort_by(|a, b| a.0.cmp(&b.0));
    }

    let mut out = Vec::new();
    for (name, exists, subscribed) in names {
        if subscribed_only && !subscribed {
            continue;
        }
        let fold = name.as_ref() == b"INBOX";
        if !matches(&full, &name, fold) {
            continue;
        }
        let Ok(mailbox) = Mailbox::new(name.clone()) else {
            continue;
        };
        let mut attributes = Vec::new();
        if !exists {
            attributes.extend(attribute("Noselect"));
        }
        attributes.extend(attribute(if parents.contains(&name) {
            "HasChildren"
        } else {
            "HasNoChildren"
        }));
        out.push(ListEntry {
            attributes,
            delimiter: Some(DELIMITER),
            mailbox,
            extended: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches(b"*", b"a/b/c", false));
        assert!(matches(b"%", b"abc", false));
        assert!(!matches(b"%", b"a/b", false));
        assert!(matches(b"a/%", b"a/b", false));
        assert!(!matches(b"a/%", b"a/b/c", false));
        assert!(matches(b"a/*", b"a/b/c", false));
        assert!(matches(b"*c", b"a/b/c", false));
        assert!(matches(b"a%c", b"abbc", false));
        assert!(!matches(b"a%c", b"ab/c", false));
        assert!(matches(b"%/%", b"x/y", false));
        assert!(!matches(b"abc", b"ab", false));
        assert!(matches(b"inbox", b"INBOX", true));
        assert!(!matches(b"inbox", b"INBOX", false));
        assert!(matches(b"**%%*x", b"a/b/x", false));
        assert!(matches(b"", b"", false));
        assert!(!matches(b"", b"a", false));
    }

    #[test]
    fn canonical_inbox() {
        assert_eq!(&canonical(b"inbox")[..], b"INBOX");
        assert_eq!(&canonical(b"Inbox/Sub")[..], b"INBOX/Sub");
        assert_eq!(&canonical(b"inboxes")[..], b"inboxes");
    }

    fn mb(s: &str) -> Mailbox {
        Mailbox::try_from(s).unwrap()
    }

    fn names(entries: &[ListEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| e.mailbox.to_str_lossy().into_owned())
            .collect()
    }

    #[test]
    fn list_and_lsub() {
        let boxes = [mb("Archive/2024"), mb("INBOX"), mb("Sent"), mb("Sent/Old")];
        let listed: Vec<Listed<'_>> = boxes
            .iter()
            .map(|n| Listed {
                name: n,
                subscribed: n.as_bytes() != b"Sent/Old",
            })
            .collect();
        let subs: BTreeSet<Bytes> = listed
            .iter()
            .filter(|l| l.subscribed)
            .map(|l| l.name.to_bytes())
            .collect();
        assert_eq!(
            names(&list(&listed, &subs, b"", b"*", false)),
            ["Archive", "Archive/2024", "INBOX", "Sent", "Sent/Old"]
        );
        let top = list(&listed, &subs, b"", b"%", false);
        assert_eq!(names(&top), ["Archive", "INBOX", "Sent"]);
        assert!(top[0]
            .attributes
            .contains(&Flag::Extension(Atom::try_from("Noselect").unwrap())));
        assert!(top[2]
            .attributes
            .contains(&Flag::Extension(Atom::try_from("HasChildren").unwrap())));
        assert_eq!(
            names(&list(&listed, &subs, b"Sent/", b"%", false)),
            ["Sent/Old"]
        );
        assert_eq!(
            names(&list(&listed, &subs, b"", b"inbox", false)),
            ["INBOX"]
        );
        assert_eq!(
            names(&list(&listed, &subs, b"", b"*", true)),
            ["Archive/2024", "INBOX", "Sent"]
        );
        let root = list(&listed, &subs, b"", b"", false);
        assert_eq!(names(&root), [""]);
        assert_eq!(root[0].delimiter, Some(b'/'));
    }

    #[test]
    fn lsub_gives_gone_names_and_the_noselect_parent_percent_stops_at() {
        let boxes = [mb("INBOX"), mb("foo/bar")];
        let listed: Vec<Listed<'_>> = boxes
            .iter()
            .map(|n| Listed {
                name: n,
                subscribed: true,
            })
            .collect();
        let subs: BTreeSet<Bytes> = ["INBOX", "foo/bar", "gone"]
            .iter()
            .map(|s| Bytes::from(s.as_bytes().to_vec()))
            .collect();
        let noselect = Flag::Extension(Atom::try_from("Noselect").unwrap());
        // RFC 3501 6.3.9: `foo/bar` subscribed, `foo` not: LSUB "" % gives foo \Noselect.
        let top = list(&listed, &subs, b"", b"%", true);
        assert_eq!(names(&top), ["INBOX", "foo", "gone"]);
        assert!(top[1].attributes.contains(&noselect));
        assert!(top[2].attributes.contains(&noselect), "gone: no mailbox");
        assert!(!top[0].attributes.contains(&noselect));
        // `*` reaches the subscribed name itself; the parent is not given.
        assert_eq!(
            names(&list(&listed, &subs, b"", b"*", true)),
            ["INBOX", "foo/bar", "gone"]
        );
    }
}
