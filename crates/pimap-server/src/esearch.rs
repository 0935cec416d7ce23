//! ESEARCH (RFC 4731) answers.

use pimap_types::{ESearch, ESearchItem, IString, SearchReturnOpt, Tag};

use crate::commands::set_of;

/// The `* ESEARCH` answer to a SEARCH with `RETURN (opts)` whose matches are `ids`
/// (ascending, no duplicates). An empty option list means `ALL` (RFC 4731 3.1). `MIN`, `MAX`
/// and `ALL` are left out when nothing matched; `COUNT` is always given when asked for.
pub(crate) fn answer(tag: &Tag, uid: bool, opts: &[SearchReturnOpt], ids: &[u32]) -> ESearch {
    let wants =
        |o: SearchReturnOpt| opts.is_empty() && o == SearchReturnOpt::All || opts.contains(&o);
    let mut items = Vec::new();
    if let (Some(&min), true) = (ids.first(), wants(SearchReturnOpt::Min)) {
        items.push(ESearchItem::Min(min));
    }
    if let (Some(&max), true) = (ids.last(), wants(SearchReturnOpt::Max)) {
        items.push(ESearchItem::Max(max));
    }
    if wants(SearchReturnOpt::All) {
        if let Some(set) = set_of(ids) {
            items.push(ESearchItem::All(set));
        }
    }
    if wants(SearchReturnOpt::Count) {
        items.push(ESearchItem::Count(
            u32::try_from(ids.len()).unwrap_or(u32::MAX),
        ));
    }
    ESearch {
        tag: IString::new(tag.to_bytes()).ok(),
        uid,
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag() -> Tag {
        Tag::try_from("a1").unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn empty_options_mean_all_and_nothing_matched_gives_only_count() {
        let all = answer(&tag(), true, &[], &[2, 3, 4, 9]);
        assert_eq!(all.items.len(), 1);
        assert_eq!(all.all().map(|s| s.to_string()), Some("2:4,9".to_string()));
        let none = answer(
            &tag(),
            false,
            &[SearchReturnOpt::Min, SearchReturnOpt::Count],
            &[],
        );
        assert_eq!(none.items, vec![ESearchItem::Count(0)]);
        let mm = answer(
            &tag(),
            false,
            &[SearchReturnOpt::Max, SearchReturnOpt::Min],
            &[5, 7],
        );
        assert_eq!(mm.items, vec![ESearchItem::Min(5), ESearchItem::Max(7)]);
    }
}
