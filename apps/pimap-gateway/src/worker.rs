//! The per-user command worker: store requests run on one backend connection, UID based.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::backend::{Backend, LoginError};
use crate::config::Config;
use crate::shared::{finish, Job, State};
use crate::store_op::store_op;
use crate::watcher::watcher;
use crate::{BACKOFF_MAX, BACKOFF_MIN};
use pimap::server::Reply;

pub(crate) async fn user_worker(
    state: State,
    cfg: Arc<Config>,
    user: Bytes,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let name = String::from_utf8_lossy(&user).into_owned();
    let mut conn: Option<Backend> = None;
    let mut password: Option<String> = None;
    // Set while a watcher runs for this user; the watcher clears it when it stops for good
    // (credentials refused), so that the next successful login starts a new one.
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Held by a store operation and by the watcher's folder poll, so that a poll's snapshot
    // is never older than a change an operation reported meanwhile.
    let op_lock = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        let job = match tokio::time::timeout(cfg.backend_idle, rx.recv()).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(_) => {
                // Idle: log the command connection out; the next request reconnects.
                if let Some(b) = conn.take() {
                    eprintln!("{name}: command connection idle; logging out");
                    b.logout().await;
                }
                // With no watcher and no session left, the worker goes too. Under the
                // lock, so no request can be routed to it in between.
                if !watching.load(std::sync::atomic::Ordering::SeqCst) {
                    let mut st = state.lock().await;
                    if rx.is_empty() && !st.server.has_sessions_of(&user) {
                        st.workers.remove(&user);
                        st.watch_events.remove(&user);
                        st.cache.retain(|(u, _), _| u != &user);
                        eprintln!("{name}: no session left; worker stops");
                        return;
                    }
                }
                continue;
            }
        };
        match job {
            Job::Auth { id, password: pw } => {
                let reply = match Backend::connect(&cfg, &name, &pw).await {
                    Ok(b) => {
                        conn = Some(b);
                        password = Some(pw.clone());
                        Reply::Authenticated {
                            account: user.clone(),
                        }
                    }
                    Err(LoginError::Refused(t)) => Reply::no(format!("backend refused: {t}")),
                    Err(LoginError::Unavailable(t)) => {
                        eprintln!("{name}: backend cannot log in now: {t}");
                        Reply::no("backend unavailable")
                    }
                    Err(LoginError::Io(t)) => {
                        eprintln!("{name}: backend: {t}");
                        Reply::no("backend unavailable")
                    }
                };
                let accepted = matches!(reply, Reply::Authenticated { .. });
                finish(&state, &user, Vec::new(), id, reply).await;
                // After `finish`, so the session exists: a watcher that found no session
                // and stopped (under the state lock) is either seen stopped here and
                // started again, or saw this session and kept running.
                if accepted && !watching.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    tokio::spawn(watcher(
                        state.clone(),
                        cfg.clone(),
                        user.clone(),
                        pw,
                        watching.clone(),
                        op_lock.clone(),
                    ));
                }
            }
            Job::Store { id, op } => {
                let Some(pw) = password.clone() else {
                    finish(&state, &user, Vec::new(), id, Reply::no("not logged in")).await;
                    continue;
                };
                // Up to two tries: a dropped connection is re-established once per request.
                let mut outcome = None;
                for attempt in 0..2 {
                    if conn.is_none() {
                        conn = reconnect(&cfg, &name, &pw).await;
                    }
                    let Some(b) = conn.as_mut() else { break };
                    let _serial = op_lock.lock().await;
                    match store_op(&state, &user, b, &op).await {
                        Ok(r) => {
                            outcome = Some(r);
                            break;
                        }
                        Err(e) => {
                            eprintln!("{name}: command connection failed (try {attempt}): {e}");
                            conn = None;
                        }
                    }
                }
                let (changes, reply) =
                    outcome.unwrap_or_else(|| (Vec::new(), Reply::no("backend unavailable")));
                finish(&state, &user, changes, id, reply).await;
            }
        }
    }
}

/// Reconnect with bounded backoff (a few tries, then give up for this request).
pub(crate) async fn reconnect(cfg: &Config, user: &str, pw: &str) -> Option<Backend> {
    let mut delay = BACKOFF_MIN;
    for _ in 0..6 {
        match Backend::connect(cfg, user, pw).await {
            Ok(b) => return Some(b),
            Err(LoginError::Refused(t)) => {
                eprintln!("{user}: backend refused the login again: {t}");
                return None;
            }
            Err(LoginError::Unavailable(t) | LoginError::Io(t)) => {
                eprintln!("{user}: reconnect: {t}")
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(BACKOFF_MAX);
    }
    None
}
