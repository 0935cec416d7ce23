//! One store request of the sans-IO server performed on the command connection, UID based:
//! the mapping from [`StoreOp`] to backend commands and from their responses to replies and
//! changes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::backend::{
    no_of, props_from_message, set_values, uid_of, uid_set, without_recent, Backend,
};
use crate::shared::{cache_key, events_to_changes, Changes, State};
use pimap::client::Completion;
use pimap::server::{MailboxChange, MailboxSnapshot, MessageProps, Reply, StoreOp};
use pimap::types::{
    Code, CommandBody, Data, FetchAttr, FetchItem, FetchItems, Literal8, Mailbox, SequenceSet,
};

/// Make `mailbox` the selected one on the command connection, with a view at least as
/// recent as anything pushed to devices: when the watch connection has seen events (in
/// INBOX, or in any folder by polling) since this connection last synchronised, a NOOP
/// brings it up to date first (Dovecot and
/// every RFC 3501 server report pending changes on NOOP). Without it, the first command
/// after a push ran against a view that did not have the pushed message yet: SEARCH missed
/// it, STORE and COPY answered OK and did nothing.
pub(crate) async fn ensure_selected(
    state: &State,
    user: &Bytes,
    b: &mut Backend,
    mailbox: &Mailbox,
) -> Result<Option<Reply>, String> {
    // (Counted for every folder: INBOX events and changes the folder poll found.)
    let seen = state.lock().await.watch_events(user);
    if b.selected
        .as_ref()
        .is_some_and(|(m, ro)| m == mailbox && !ro)
    {
        if let Some(no) = catch_up(b, seen).await? {
            return Ok(Some(no));
        }
        b.learn_uids().await?;
        return Ok(None);
    }
    select_into_cache(state, user, b, mailbox, false, seen)
        .await
        .map(|r| r.err())
}

/// NOOP when the watch connection has seen events (`seen`) since this connection last
/// synchronised. The events stay in `b.events`; the operation reports them with its own.
async fn catch_up(b: &mut Backend, seen: u64) -> Result<Option<Reply>, String> {
    if seen > b.synced {
        let c = b.run(CommandBody::Noop).await?;
        if !c.is_ok() {
            return Ok(Some(no_of(&c)));
        }
        b.synced = seen;
    }
    Ok(None)
}

/// SELECT / EXAMINE on the command connection and take the snapshot into the cache.
async fn select_into_cache(
    state: &State,
    user: &Bytes,
    b: &mut Backend,
    mailbox: &Mailbox,
    read_only: bool,
    seen: u64,
) -> Result<Result<MailboxSnapshot, Reply>, String> {
    let r = b.select(mailbox, read_only).await?;
    if let Ok(snap) = &r {
        b.synced = seen;
        let mut st = state.lock().await;
        st.sync_snapshot(state, user, mailbox, snap, Instant::now());
    }
    Ok(r)
}

/// Perform one store operation on the command connection. `Err` = connection failure.
pub(crate) async fn store_op(
    state: &State,
    user: &Bytes,
    b: &mut Backend,
    op: &StoreOp,
) -> Result<(Changes, Reply), String> {
    let none = Vec::new();
    macro_rules! select_or_no {
        ($mailbox:expr) => {
            if let Some(no) = ensure_selected(state, user, b, $mailbox).await? {
                return Ok((none, no));
            }
        };
    }
    match op {
        StoreOp::Select { mailbox, read_only } => {
            let seen = state.lock().await.watch_events(user);
            match select_into_cache(state, user, b, mailbox, *read_only, seen).await? {
                Ok(snap) => Ok((none, Reply::Selected(snap))),
                Err(r) => Ok((none, r)),
            }
        }
        StoreOp::Fetch {
            mailbox,
            uids,
            items,
        } => {
            select_or_no!(mailbox);
            let Some(set) = uid_set(uids) else {
                return Ok((none, Reply::Fetched(Vec::new())));
            };
            let want_flags = items.iter().any(|a| matches!(a, FetchAttr::Flags));
            let want_uid = items.iter().any(|a| matches!(a, FetchAttr::Uid));
            let mut rows: BTreeMap<u32, Vec<FetchItem>> = BTreeMap::new();
            // A message the watch connection reported may still be unknown to this command
            // connection: Dovecot then answers UID FETCH with only `* n EXISTS`. Fetch again
            // once in that case (the EXISTS has updated this connection).
            for attempt in 0..2 {
                let c = b
                    .run(CommandBody::Fetch {
                        uid: true,
                        set: set.clone(),
                        items: FetchItems::List(items.clone()),
                        modifiers: Vec::new(),
                    })
                    .await?;
                if !c.is_ok() {
                    return Ok((none, no_of(&c)));
                }
                for d in &c.data {
                    let Data::Fetch { items, .. } = d else {
                        continue;
                    };
                    let Some(uid) = uid_of(items) else { continue };
                    if !uids.contains(&uid) || rows.contains_key(&uid) {
                        continue;
                    }
                    let row = rows.entry(uid).or_default();
                    for i in items {
                        match i {
                            FetchItem::Uid(_) if !want_uid => {}
                            FetchItem::Flags(_) if !want_flags => {}
                            FetchItem::Flags(f) => row.push(FetchItem::Flags(without_recent(f))),
                            other => row.push(other.clone()),
                        }
                    }
                }
                let grew = c.data.iter().any(|d| matches!(d, Data::Exists(_)));
                if attempt == 1 || rows.len() >= uids.len() || !grew {
                    break;
                }
            }
            let changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            Ok((changes, Reply::Fetched(rows.into_iter().collect())))
        }
        StoreOp::Search {
            mailbox,
            charset,
            criteria,
        } => {
            select_or_no!(mailbox);
            let c = b
                .run(CommandBody::Search {
                    uid: true,
                    return_opts: None,
                    charset: charset.clone(),
                    criteria: criteria.clone(),
                })
                .await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let mut ids: Vec<u32> = c
                .data
                .iter()
                .filter_map(|d| match d {
                    Data::Search { ids, .. } => Some(ids.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            ids.sort_unstable();
            ids.dedup();
            Ok((none, Reply::Searched(ids)))
        }
        StoreOp::StoreFlags {
            mailbox,
            uids,
            kind,
            flags,
        } => {
            select_or_no!(mailbox);
            let Some(set) = uid_set(uids) else {
                return Ok((none, Reply::Ok));
            };
            let c = b
                .run(CommandBody::Store {
                    uid: true,
                    set,
                    unchanged_since: None,
                    kind: *kind,
                    silent: false,
                    flags: flags.clone(),
                })
                .await?;
            let changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            Ok((changes, if c.is_ok() { Reply::Ok } else { no_of(&c) }))
        }
        StoreOp::Expunge { mailbox, uids } => {
            select_or_no!(mailbox);
            // Learn the UIDs of messages that arrived since SELECT, so every EXPUNGE maps.
            let _ = b
                .run(CommandBody::Fetch {
                    uid: true,
                    set: SequenceSet::all(),
                    items: FetchItems::List(vec![FetchAttr::Uid]),
                    modifiers: Vec::new(),
                })
                .await?;
            let body = match uids {
                Some(u) => match uid_set(u) {
                    Some(set) => CommandBody::UidExpunge(set),
                    None => return Ok((none, Reply::Ok)),
                },
                None => CommandBody::Expunge,
            };
            let c = b.run(body).await?;
            let changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            Ok((changes, if c.is_ok() { Reply::Ok } else { no_of(&c) }))
        }
        StoreOp::Copy {
            mailbox,
            uids,
            to,
            remove,
        } => {
            select_or_no!(mailbox);
            let Some(set) = uid_set(uids) else {
                return Ok((none, Reply::no("no messages")));
            };
            let native_move = b.client.capabilities().has("MOVE");
            let body = if *remove && native_move {
                CommandBody::Move {
                    uid: true,
                    set: set.clone(),
                    mailbox: to.clone(),
                }
            } else {
                CommandBody::Copy {
                    uid: true,
                    set: set.clone(),
                    mailbox: to.clone(),
                }
            };
            let c = b.run(body).await?;
            if c.is_ok() && *remove && !native_move {
                // RFC 6851 section 3.3: without MOVE, COPY then UID STORE \Deleted and UID
                // EXPUNGE of exactly those messages (UIDPLUS), so nothing else is expunged.
                if !b.client.capabilities().has("UIDPLUS") {
                    return Ok((
                        none,
                        Reply::no("the backend offers neither MOVE nor UIDPLUS"),
                    ));
                }
                let stored = b
                    .run(CommandBody::Store {
                        uid: true,
                        set: set.clone(),
                        unchanged_since: None,
                        kind: pimap::types::StoreKind::Add,
                        silent: true,
                        flags: vec![pimap::types::Flag::Deleted],
                    })
                    .await?;
                if stored.is_ok() {
                    b.run(CommandBody::UidExpunge(set)).await?;
                }
            }
            let mut changes = events_to_changes(state, user, mailbox, b.take_events()).await;
            if !c.is_ok() {
                return Ok((changes, no_of(&c)));
            }
            // COPY carries COPYUID in the tagged OK; MOVE in an untagged OK before it.
            let copyuid = std::iter::once(&c.status.code)
                .flatten()
                .chain(c.codes.iter())
                .find_map(|code| match code {
                    Code::CopyUid {
                        uid_validity,
                        source,
                        destination,
                    } => Some((*uid_validity, source.clone(), destination.clone())),
                    _ => None,
                });
            let Some((uid_validity, source, destination)) = copyuid else {
                let reply = Reply::Copied {
                    uid_validity: 0,
                    source: Vec::new(),
                    destination: Vec::new(),
                };
                return Ok((changes, reply));
            };
            let (source, destination) = (set_values(&source), set_values(&destination));
            {
                let st = state.lock().await;
                for (s, d) in source.iter().zip(&destination) {
                    let entry = st
                        .cache
                        .get(&cache_key(user, mailbox))
                        .and_then(|c| c.msgs.get(s))
                        .cloned();
                    let (flags, props) =
                        entry.unwrap_or_else(|| (Vec::new(), Arc::new(MessageProps::new(0, None))));
                    changes.push((
                        to.clone(),
                        MailboxChange::New {
                            uid: *d,
                            flags,
                            props,
                        },
                    ));
                }
            }
            Ok((
                changes,
                Reply::Copied {
                    uid_validity,
                    source,
                    destination,
                },
            ))
        }
        StoreOp::Append {
            mailbox,
            flags,
            date,
            message,
        } => {
            let literal = match Literal8::text(message.clone()) {
                Ok(l) => l,
                Err(_) => Literal8::binary(message.clone()),
            };
            let c = b
                .run(CommandBody::Append {
                    mailbox: mailbox.clone(),
                    flags: flags.clone(),
                    date: *date,
                    message: literal,
                })
                .await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let Some(Code::AppendUid { uid_validity, uids }) = c.status.code.clone() else {
                return Ok((none, Reply::no("backend sent no APPENDUID")));
            };
            let uid = set_values(&uids).first().copied().unwrap_or(0);
            let mut props = props_from_message(message);
            props.internal_date = *date;
            let changes = vec![(
                mailbox.clone(),
                MailboxChange::New {
                    uid,
                    flags: flags.clone(),
                    props: Arc::new(props),
                },
            )];
            Ok((changes, Reply::Appended { uid_validity, uid }))
        }
        StoreOp::List {
            reference,
            pattern,
            subscribed_only,
        } => {
            let body = if *subscribed_only {
                CommandBody::Lsub {
                    reference: reference.clone(),
                    pattern: pattern.clone(),
                }
            } else {
                CommandBody::List {
                    selection: Vec::new(),
                    reference: reference.clone(),
                    patterns: vec![pattern.clone()],
                    return_opts: Vec::new(),
                }
            };
            let c = b.run(body).await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let entries = c
                .data
                .iter()
                .filter_map(|d| match d {
                    Data::List(e) | Data::Lsub(e) => Some(e.clone()),
                    _ => None,
                })
                .collect();
            Ok((none, Reply::List(entries)))
        }
        StoreOp::Status { mailbox, items } => {
            // STATUS of the mailbox selected here answers from this connection's view
            // (Dovecot does), which must be current: a NOOP first, always. The watcher may
            // not have seen a delivery yet (Dovecot tells IDLE about 0.5 s later), so its
            // event count cannot say whether the view is stale; the differential run
            // (seed 1796319067652174249) caught a STATUS two deliveries behind.
            if b.selected.as_ref().is_some_and(|(m, _)| m == mailbox) {
                let seen = state.lock().await.watch_events(user);
                let c = b.run(CommandBody::Noop).await?;
                if !c.is_ok() {
                    return Ok((none, no_of(&c)));
                }
                b.synced = b.synced.max(seen);
            }
            let c = b
                .run(CommandBody::Status {
                    mailbox: mailbox.clone(),
                    items: items.clone(),
                })
                .await?;
            if !c.is_ok() {
                return Ok((none, no_of(&c)));
            }
            let mut values = c
                .data
                .iter()
                .find_map(|d| match d {
                    Data::Status { items, .. } => Some(items.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            // The backend's RECENT counts for its connection, not for any device (see
            // backend::without_recent): RECENT 0, as SELECT says.
            for (k, v) in &mut values {
                if *k == pimap::types::StatusAttr::Recent {
                    *v = 0;
                }
            }
            Ok((none, Reply::Status(values)))
        }
        StoreOp::Create { mailbox } => {
            let c = b
                .run(CommandBody::Create {
                    mailbox: mailbox.clone(),
                })
                .await?;
            Ok(folder_reply(&c, mailbox, MailboxChange::Created))
        }
        StoreOp::Delete { mailbox } => {
            if b.selected.as_ref().is_some_and(|(m, _)| m == mailbox) {
                let _ = b.run(CommandBody::Unselect).await?;
                b.selected = None;
            }
            let c = b
                .run(CommandBody::Delete {
                    mailbox: mailbox.clone(),
                })
                .await?;
            Ok(folder_reply(&c, mailbox, MailboxChange::Deleted))
        }
        StoreOp::Rename { from, to } => {
            let c = b
                .run(CommandBody::Rename {
                    from: from.clone(),
                    to: to.clone(),
                })
                .await?;
            if b.selected.as_ref().is_some_and(|(m, _)| m == from) {
                b.selected = None;
            }
            Ok(folder_reply(
                &c,
                from,
                MailboxChange::Renamed { to: to.clone() },
            ))
        }
        StoreOp::Subscribe { mailbox, subscribe } => {
            let body = if *subscribe {
                CommandBody::Subscribe {
                    mailbox: mailbox.clone(),
                }
            } else {
                CommandBody::Unsubscribe {
                    mailbox: mailbox.clone(),
                }
            };
            let c = b.run(body).await?;
            Ok((none, if c.is_ok() { Reply::Ok } else { no_of(&c) }))
        }
        _ => Ok((none, Reply::no("not supported by the gateway"))),
    }
}

pub(crate) fn folder_reply(
    c: &Completion,
    mailbox: &Mailbox,
    change: MailboxChange,
) -> (Changes, Reply) {
    if c.is_ok() {
        (vec![(mailbox.clone(), change)], Reply::Ok)
    } else {
        (Vec::new(), no_of(c))
    }
}
