//! Folders other than INBOX, watched by polling on the watch connection: every
//! `--poll-folders-secs` the watcher leaves IDLE, lists the user's folders and asks STATUS
//! (MESSAGES, UIDNEXT, UIDVALIDITY). A folder whose numbers moved is EXAMINEd and compared with
//! what the server was told; the difference becomes changes for every device (new mail in
//! a folder a device's filters cover is pushed like INBOX mail). INBOX is then EXAMINEd
//! again and compared the same way, so nothing that happened there meanwhile is missed.
//!
//! This is the fallback the gateway always uses; NOTIFY (RFC 5465) would make it
//! event-driven where the backend offers it.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use crate::backend::Backend;
use crate::shared::{cache_key, State};
use pimap::server::{MailboxChange, MailboxSnapshot};
use pimap::types::{CommandBody, Data, Flag, IString, Mailbox, StatusAttr};

/// What STATUS said of a folder last time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct FolderMark {
    messages: u64,
    uid_next: u64,
    uid_validity: u64,
    modseq: u64,
}

/// The marks of one user's folders; the first round only records them.
#[derive(Default)]
pub(crate) struct FolderMarks {
    marks: HashMap<Mailbox, FolderMark>,
    primed: bool,
}

/// Most folders looked at in one round (a user with more gets the first ones, in LIST
/// order; the limit bounds the round's time and memory).
const MAX_FOLDERS: usize = 1000;

/// One polling round. Leaves INBOX selected (read-only) on `b`. `Err` = connection failure.
///
/// `op_lock` (the user's store operations hold it) is taken only while changed folders are
/// snapshotted and compared, so that a snapshot is never older than a change an operation
/// reported meanwhile; LIST and STATUS run without it and do not hold up device commands.
pub(crate) async fn poll_folders(
    state: &State,
    user: &Bytes,
    b: &mut Backend,
    marks: &mut FolderMarks,
    op_lock: &tokio::sync::Mutex<()>,
) -> Result<(), String> {
    let c = b
        .run(CommandBody::List {
            selection: Vec::new(),
            reference: Mailbox::new(Bytes::new()).map_err(|e| e.to_string())?,
            patterns: vec![IString::new(Bytes::from_static(b"*")).map_err(|e| e.to_string())?],
            return_opts: Vec::new(),
        })
        .await?;
    let folders: Vec<Mailbox> = c
        .data
        .iter()
        .filter_map(|d| match d {
            Data::List(e) if !e.mailbox.is_inbox() && selectable(&e.attributes) => {
                Some(e.mailbox.clone())
            }
            _ => None,
        })
        .take(MAX_FOLDERS)
        .collect();
    // Not HIGHESTMODSEQ: asking for it enables CONDSTORE on the watch connection (RFC 7162
    // section 3.1), after which Dovecot's IDLE on INBOX was seen to report nothing more. So
    // a flag change alone in another folder is not noticed by the poll (only arrivals and
    // removals); it is when the folder is next selected.
    let items = vec![
        StatusAttr::Messages,
        StatusAttr::UidNext,
        StatusAttr::UidValidity,
    ];
    let mut changed: Vec<(Mailbox, Option<FolderMark>)> = Vec::new();
    let mut seen: HashMap<Mailbox, FolderMark> = HashMap::with_capacity(folders.len());
    for f in folders {
        let c = b
            .run(CommandBody::Status {
                mailbox: f.clone(),
                items: items.clone(),
            })
            .await?;
        let Some(mark) = mark_of(&c.data) else {
            continue;
        };
        let before = marks.marks.get(&f).copied();
        if marks.primed && before != Some(mark) {
            changed.push((f.clone(), before));
        }
        seen.insert(f, mark);
    }
    marks.marks = seen;
    marks.primed = true;
    if changed.is_empty() {
        // Dovecot holds back INBOX's news while STATUS runs on other folders, and the next
        // IDLE did not bring it either (a message delivered during the round was never
        // announced); NOOP collects it.
        b.run(CommandBody::Noop).await?;
        return Ok(());
    }
    let _serial = op_lock.lock().await;
    for (f, before) in changed {
        match b.select(&f, true).await? {
            Ok(snap) => report_folder(state, user, &f, &snap, before).await,
            Err(r) => eprintln!("folder poll: EXAMINE refused: {r:?}"),
        }
    }
    // Back to INBOX; what happened there while the connection was elsewhere is reported
    // from the difference.
    let inbox = Mailbox::inbox();
    match b.select(&inbox, true).await? {
        Ok(snap) => {
            let mut st = state.lock().await;
            st.sync_snapshot(state, user, &inbox, &snap, Instant::now());
            st.watch_saw_events(user);
            Ok(())
        }
        Err(r) => Err(format!("EXAMINE INBOX refused after a folder poll: {r:?}")),
    }
}

fn selectable(attributes: &[Flag]) -> bool {
    !attributes.iter().any(|a| match a {
        Flag::Extension(x) => {
            let n = x.as_bytes();
            n.eq_ignore_ascii_case(b"Noselect") || n.eq_ignore_ascii_case(b"NonExistent")
        }
        _ => false,
    })
}

fn mark_of(data: &[Data]) -> Option<FolderMark> {
    data.iter().find_map(|d| match d {
        Data::Status { items, .. } => {
            let mut m = FolderMark::default();
            for (k, v) in items {
                match k {
                    StatusAttr::Messages => m.messages = *v,
                    StatusAttr::UidNext => m.uid_next = *v,
                    StatusAttr::UidValidity => m.uid_validity = *v,
                    StatusAttr::HighestModSeq => m.modseq = *v,
                    _ => {}
                }
            }
            Some(m)
        }
        _ => None,
    })
}

/// Report what a fresh snapshot of `f` shows against what the server was told: the whole
/// difference when the cache holds a complete earlier snapshot, otherwise the messages
/// at or above the UIDNEXT of the previous round (new mail), after which the cache holds
/// the snapshot.
async fn report_folder(
    state: &State,
    user: &Bytes,
    f: &Mailbox,
    snap: &MailboxSnapshot,
    before: Option<FolderMark>,
) {
    let mut st = state.lock().await;
    let now = Instant::now();
    // The command connection must not act on an older view of this folder than devices
    // are told of (see store_op::ensure_selected).
    st.watch_saw_events(user);
    // A complete cache means sessions may hold a view of the folder: the difference is
    // reported, or UIDVALIDITY if the folder is another one now (sync_snapshot decides).
    let complete = st
        .cache
        .get(&cache_key(user, f))
        .is_some_and(|c| c.complete);
    if complete {
        st.sync_snapshot(state, user, f, snap, now);
        return;
    }
    // Nobody holds a view: new mail is what lies at or above the last UIDNEXT (everything,
    // when the folder is new or another one under the same name).
    let from = match before {
        Some(m) if m.uid_validity == u64::from(snap.uid_validity) => m.uid_next,
        _ => 0,
    };
    let fresh = snap
        .messages
        .iter()
        .filter(|m| u64::from(m.uid) >= from)
        .map(|m| {
            (
                f.clone(),
                MailboxChange::New {
                    uid: m.uid,
                    flags: m.flags.clone(),
                    props: m.props.clone(),
                },
            )
        })
        .collect();
    st.report(user, fresh, now);
    // Now the cache is the snapshot (later rounds compare with it).
    st.sync_snapshot(state, user, f, snap, now);
    st.pump(state, now);
}
