//! The watch connection: IDLE on INBOX, its events become changes for every device.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use crate::backend::{describe_cmd, described, Backend, LoginError};
use crate::config::Config;
use crate::folder_poll::{poll_folders, FolderMarks};
use crate::shared::events_to_changes;
use crate::shared::{cache_key, report, State};
use crate::{BACKOFF_MAX, BACKOFF_MIN};
use pimap::client::{Event, MailboxEvent};
use pimap::server::MailboxChange;
use pimap::types::{Mailbox, SeqNo, SeqRange, SequenceSet};

pub(crate) async fn watcher(
    state: State,
    cfg: Arc<Config>,
    user: Bytes,
    password: String,
    running: Arc<std::sync::atomic::AtomicBool>,
    op_lock: Arc<tokio::sync::Mutex<()>>,
) {
    let name = String::from_utf8_lossy(&user).into_owned();
    let inbox = Mailbox::inbox();
    // The first snapshot seeds the cache without RESYNC only if it is taken on the first
    // attempt; after any failure, events may have been missed and devices are told so.
    let mut first = true;
    let mut uid_validity: Option<u32> = None;
    let mut delay = BACKOFF_MIN;
    // Kept across reconnects: the first poll after one compares with what was seen before.
    let mut marks = FolderMarks::default();
    loop {
        let mut b = match Backend::connect(&cfg, &name, &password).await {
            Ok(b) => b,
            Err(LoginError::Refused(t)) => {
                // The credentials no longer work (password changed): nothing watches this
                // user any more, so every device that relied on the watch is owed RESYNC,
                // and the next successful login starts a new watcher.
                eprintln!("{name}: watch login refused ({t}); watcher stops, devices owe RESYNC");
                running.store(false, std::sync::atomic::Ordering::SeqCst);
                // (Also when no snapshot was ever taken: devices may have selected INBOX
                // through the command connection.)
                let v = uid_validity.unwrap_or(0);
                let mut st = state.lock().await;
                let now = Instant::now();
                st.cache.remove(&cache_key(&user, &inbox));
                st.server
                    .mailbox_changed(&user, &inbox, MailboxChange::UidValidity(v), now);
                crate::metrics::RESYNC_REPORTS.inc();
                st.pump(&state, now);
                return;
            }
            Err(LoginError::Unavailable(t) | LoginError::Io(t)) => {
                eprintln!("{name}: watch connect: {t}; retrying in {delay:?}");
                first = false;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        delay = BACKOFF_MIN;
        match b.select(&inbox, true).await {
            Ok(Ok(snap)) => {
                uid_validity = Some(snap.uid_validity);
                let mut st = state.lock().await;
                let now = Instant::now();
                // What the server was told of INBOX, complete and of this UIDVALIDITY: the
                // difference from the fresh snapshot is exactly what devices missed.
                let known = st
                    .cache
                    .get(&cache_key(&user, &inbox))
                    .is_some_and(|c| c.complete && c.uid_validity == snap.uid_validity);
                if first || known {
                    // The first snapshot seeds the cache (or reports what changed since the
                    // command connection took one); after a reconnect, the catch-up.
                    if !first {
                        crate::metrics::WATCH_RECONNECTS.inc();
                        eprintln!(
                            "{name}: watch connection re-established; INBOX caught up from \
                             a fresh snapshot (no RESYNC)"
                        );
                    }
                    st.sync_snapshot(&state, &user, &inbox, &snap, now);
                    // What the snapshot reported may be news to the command connection too:
                    // its next operation catches up first (as after a folder round).
                    st.watch_saw_events(&user);
                } else {
                    eprintln!(
                        "{name}: watch connection re-established; reporting UIDVALIDITY {} \
                         for INBOX (no complete earlier state to compare with)",
                        snap.uid_validity
                    );
                    crate::metrics::WATCH_RECONNECTS.inc();
                    crate::metrics::RESYNC_REPORTS.inc();
                    st.cache
                        .entry(cache_key(&user, &inbox))
                        .or_default()
                        .reset_to(&snap);
                    st.server.mailbox_changed(
                        &user,
                        &inbox,
                        MailboxChange::UidValidity(snap.uid_validity),
                        now,
                    );
                    st.pump(&state, now);
                }
            }
            Ok(Err(r)) => {
                eprintln!("{name}: watch EXAMINE INBOX refused: {r:?}; retrying");
                first = false;
                tokio::time::sleep(BACKOFF_MAX).await;
                continue;
            }
            Err(e) => {
                eprintln!("{name}: watch EXAMINE INBOX: {e}");
                first = false;
                tokio::time::sleep(delay).await;
                continue;
            }
        }
        first = false;
        match watch_loop(&state, &user, &mut b, &cfg, &running, &op_lock, &mut marks).await {
            Ok(()) => {
                eprintln!("{name}: no session left; watcher stops");
                b.logout().await;
                return;
            }
            Err(e) => eprintln!("{name}: watch connection lost: {e}"),
        }
        tokio::time::sleep(delay).await;
    }
}

/// IDLE, collect events, leave IDLE, report, repeat. Returns `Err` on connection failure,
/// `Ok` when an IDLE refresh finds that the user has no session left (`running` is then
/// cleared under the state lock, so a login that creates a session meanwhile either is
/// seen here or sees the watcher stopped and starts a new one).
///
/// Events that arrive while the watcher is out of IDLE (with the tagged OK of DONE, or in
/// the middle of describing new messages) are kept and handled before IDLE is entered
/// again: a message delivered in that window is announced once, with that response, and
/// never again, so dropping such an event loses the message's push for good.
pub(crate) async fn watch_loop(
    state: &State,
    user: &Bytes,
    b: &mut Backend,
    cfg: &Config,
    running: &std::sync::atomic::AtomicBool,
    op_lock: &tokio::sync::Mutex<()>,
    marks: &mut FolderMarks,
) -> Result<(), String> {
    let inbox = Mailbox::inbox();
    let mut next_poll = Instant::now();
    loop {
        if b.events.is_empty()
            && cfg
                .poll_folders
                .is_some_and(|_| Instant::now() >= next_poll)
        {
            poll_folders(state, user, b, marks, op_lock).await?;
            next_poll = Instant::now() + cfg.poll_folders.unwrap_or(cfg.idle_refresh);
        }
        if b.events.is_empty() {
            let wait = match cfg.poll_folders {
                Some(_) => next_poll
                    .saturating_duration_since(Instant::now())
                    .min(cfg.idle_refresh),
                None => cfg.idle_refresh,
            };
            idle_until_events(b, wait.max(Duration::from_millis(100))).await?;
            if b.events.is_empty() {
                let st = state.lock().await;
                if !st.server.has_sessions_of(user) {
                    running.store(false, std::sync::atomic::Ordering::SeqCst);
                    return Ok(());
                }
                continue;
            }
        }
        let events = b.take_events();
        state.lock().await.watch_saw_events(user);
        let new = events
            .iter()
            .any(|e| matches!(e, MailboxEvent::Exists { .. }));
        let mut changes = events_to_changes(state, user, &inbox, events).await;
        if new {
            let last = {
                let st = state.lock().await;
                st.cache
                    .get(&cache_key(user, &inbox))
                    .and_then(|c| c.msgs.keys().next_back().copied())
                    .unwrap_or(0)
            };
            // (A backend whose last UID is u32::MAX has nothing newer to describe.)
            if let Some(n) = last.checked_add(1).and_then(std::num::NonZeroU32::new) {
                let set =
                    SequenceSet::Ranges(vec![SeqRange::Range(SeqNo::Value(n), SeqNo::Largest)]);
                let c = b.run(describe_cmd(set)).await?;
                let described = described(&c.data);
                // What the describe itself produced is handled here; anything else that
                // came with it (an EXISTS for a message delivered meanwhile, an EXPUNGE,
                // another session's flag change) waits for the next round.
                let pending: Vec<MailboxEvent> = b
                    .take_events()
                    .into_iter()
                    .filter(|e| match e {
                        MailboxEvent::Fetched { .. } => false,
                        MailboxEvent::FlagsChanged { uid: Some(u), .. } => {
                            !described.iter().any(|(d, _, _)| d == u)
                        }
                        _ => true,
                    })
                    .collect();
                b.events = pending;
                for (uid, flags, props) in described {
                    if uid > last {
                        changes.push((inbox.clone(), MailboxChange::New { uid, flags, props }));
                    }
                }
            }
        }
        report(state, user, changes).await;
    }
}

/// Enter IDLE, wait for mailbox events (or `refresh`), leave IDLE. The events stay in
/// `b.events`; more that arrive before the DONE is answered are kept too.
pub(crate) async fn idle_until_events(b: &mut Backend, refresh: Duration) -> Result<(), String> {
    let h = b.client.idle().map_err(|e| e.to_string())?;
    b.until(|e| matches!(e, Event::IdleStarted(x) if *x == h))
        .await?;
    let deadline = tokio::time::Instant::now() + refresh;
    loop {
        if !b.events.is_empty() {
            // Leave at once: the push waits for nothing (a burst that follows comes with
            // the answer to DONE or in the next round).
            break;
        }
        let n = tokio::select! {
            r = b.stream.read(&mut b.buf) => r.map_err(|e| format!("backend read: {e}"))?,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        if n == 0 {
            return Err("backend closed the connection".into());
        }
        b.client.handle_input(&b.buf[..n], Instant::now());
        b.drain(&|_| false).await?;
    }
    b.client.done().map_err(|e| e.to_string())?;
    b.wait(h).await?;
    Ok(())
}
