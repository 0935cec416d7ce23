//! State shared by every task: the sans-IO server, device writers, per-user workers and
//! the cache of what the server was told about each mailbox.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, Mutex};

use crate::config::Config;
use crate::smtp::submit;
use crate::worker::user_worker;
use pimap::client::MailboxEvent;
use pimap::server::{
    ConnId, MailboxChange, MailboxSnapshot, MessageProps, MessageSnapshot, Notification, Output,
    Reply, Request, RequestId, Server, StoreOp,
};
use pimap::types::{Flag, Mailbox};
use pimap_tokio::{Host, Writers};

/// Work for a user's command worker.
pub(crate) enum Job {
    Auth { id: RequestId, password: String },
    Store { id: RequestId, op: StoreOp },
}

/// What the server has been told about one mailbox: UID -> (flags, props).
#[derive(Default)]
pub(crate) struct MailboxCache {
    pub(crate) msgs: BTreeMap<u32, (Vec<Flag>, Arc<MessageProps>)>,
    /// A complete snapshot of the mailbox has been taken (SELECT / EXAMINE on either
    /// connection). Before that, `msgs` holds only what changes named; afterwards a new
    /// snapshot is compared with it and the difference reported, never silently absorbed.
    pub(crate) complete: bool,
    /// The UIDVALIDITY of that snapshot (0 = none taken).
    pub(crate) uid_validity: u32,
}

impl MailboxCache {
    /// Hold exactly `snap` from now on (complete, of its UIDVALIDITY).
    pub(crate) fn reset_to(&mut self, snap: &MailboxSnapshot) {
        self.msgs = snap
            .messages
            .iter()
            .map(|m| (m.uid, (m.flags.clone(), m.props.clone())))
            .collect();
        self.complete = true;
        self.uid_validity = snap.uid_validity;
    }
}

pub(crate) struct Shared {
    pub(crate) server: Server,
    /// The device connections' write queues (the connection tasks are pimap-tokio's).
    pub(crate) writers: Writers,
    /// This state itself, for the tasks that requests start.
    pub(crate) me: Weak<Mutex<Shared>>,
    pub(crate) workers: HashMap<Bytes, mpsc::UnboundedSender<Job>>,
    pub(crate) cache: HashMap<(Bytes, Bytes), MailboxCache>,
    /// Per user: event batches the watch connection has seen (INBOX events, folders the
    /// poll found changed; see [`Shared::watch_saw_events`]).
    pub(crate) watch_events: HashMap<Bytes, u64>,
    pub(crate) udp: Option<(std::net::UdpSocket, SocketAddr)>,
    pub(crate) cfg: Arc<Config>,
}

pub(crate) type State = Arc<Mutex<Shared>>;

pub(crate) fn cache_key(user: &[u8], mailbox: &Mailbox) -> (Bytes, Bytes) {
    let name = if mailbox.is_inbox() {
        Bytes::from_static(b"INBOX")
    } else {
        Bytes::copy_from_slice(mailbox.as_bytes())
    };
    (Bytes::copy_from_slice(user), name)
}

impl Shared {
    /// Drain the server's outputs: bytes to the device connections, requests to the workers.
    pub(crate) fn pump(&mut self, state: &State, now: Instant) {
        while let Some(o) = self.server.poll_output() {
            let Some(o) = self.writers.route(&mut self.server, o, now) else {
                continue;
            };
            match o {
                Output::Notify(n) => self.notify(&n),
                Output::Request { id, request, .. } => self.route(state, id, request, now),
                _ => {}
            }
        }
    }

    pub(crate) fn notify(&mut self, n: &Notification) {
        crate::metrics::NOTIFICATIONS.inc();
        match &self.udp {
            Some((sock, to)) => {
                if let Err(e) = sock.send_to(&n.payload, to) {
                    eprintln!("notify: udp to {to}: {e}");
                }
            }
            None => eprintln!(
                "notify: user {} device {} channel {:?} address {:?}: {} octets",
                String::from_utf8_lossy(&n.user),
                String::from_utf8_lossy(&n.device),
                n.channel,
                String::from_utf8_lossy(&n.address),
                n.payload.len()
            ),
        }
    }

    pub(crate) fn worker(&mut self, state: &State, user: &Bytes) -> mpsc::UnboundedSender<Job> {
        if let Some(tx) = self.workers.get(user) {
            if !tx.is_closed() {
                return tx.clone();
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.workers.insert(user.clone(), tx.clone());
        tokio::spawn(user_worker(
            state.clone(),
            self.cfg.clone(),
            user.clone(),
            rx,
        ));
        tx
    }

    pub(crate) fn route(&mut self, state: &State, id: RequestId, request: Request, now: Instant) {
        let (user, job) = match request {
            Request::Authenticate {
                user,
                domain,
                password,
                ..
            } => {
                // The backend account is the full identity (`user@domain` when the device
                // logged in with a domain): the same key the sessions and store requests use.
                let account = pimap::types::LoginName::account_of(&user, domain.as_deref());
                // One spelling per account: the worker answers `Authenticated` with it, so
                // the sessions and store requests use it too.
                let account = if self.cfg.fold_user_case {
                    Bytes::from(account.to_ascii_lowercase())
                } else {
                    account
                };
                let pw = String::from_utf8_lossy(password.expose()).into_owned();
                (account, Job::Auth { id, password: pw })
            }
            Request::Store { user, op } => (user, Job::Store { id, op }),
            Request::Submit(sub) => {
                let smtp = self.cfg.smtp;
                let state = state.clone();
                tokio::spawn(async move {
                    let reply = match smtp {
                        Some(addr) => match submit(addr, &sub).await {
                            Ok(()) => Reply::Submitted,
                            Err(e) => {
                                eprintln!("submit: {e}");
                                Reply::no(e)
                            }
                        },
                        None => Reply::no("no SMTP relay configured (--smtp)"),
                    };
                    finish(&state, &sub.user, Vec::new(), id, reply).await;
                });
                return;
            }
            _ => {
                let _ = self
                    .server
                    .complete(id, Reply::no("not supported by the gateway"), now);
                return;
            }
        };
        let tx = self.worker(state, &user);
        if let Err(mpsc::error::SendError(job)) = tx.send(job) {
            let id = match job {
                Job::Auth { id, .. } | Job::Store { id, .. } => id,
            };
            let _ = self
                .server
                .complete(id, Reply::no("backend worker gone"), now);
        }
    }

    /// Feed changes to the server, dropping those it has already been told (the watch and
    /// the command connection see the same changes), and keeping the cache current.
    pub(crate) fn report(
        &mut self,
        user: &[u8],
        changes: Vec<(Mailbox, MailboxChange)>,
        now: Instant,
    ) {
        for (mailbox, change) in changes {
            let key = cache_key(user, &mailbox);
            let cache = self.cache.entry(key.clone()).or_default();
            let pass = match &change {
                MailboxChange::New { uid, flags, props } => {
                    if cache.msgs.contains_key(uid) {
                        false
                    } else {
                        cache.msgs.insert(*uid, (flags.clone(), props.clone()));
                        true
                    }
                }
                MailboxChange::Flags { uid, flags, .. } => match cache.msgs.get_mut(uid) {
                    Some((old, _)) if same_flags(old, flags) => false,
                    Some((old, _)) => {
                        *old = flags.clone();
                        true
                    }
                    None => false,
                },
                MailboxChange::Expunge { uid, .. } => cache.msgs.remove(uid).is_some(),
                MailboxChange::Deleted => {
                    self.cache.remove(&key);
                    true
                }
                MailboxChange::Renamed { to } => {
                    if let Some(c) = self.cache.remove(&key) {
                        self.cache.insert(cache_key(user, to), c);
                    }
                    true
                }
                _ => true,
            };
            if pass {
                self.server.mailbox_changed(user, &mailbox, change, now);
            }
        }
    }

    /// Take a complete snapshot of `mailbox` into the cache. The first one only seeds it
    /// (the server learns initial state from SELECT replies); every later one reports what
    /// differs from what the server was told (messages that arrived, left or changed flags
    /// without either connection seeing the event), so that no change is absorbed silently.
    pub(crate) fn sync_snapshot(
        &mut self,
        state: &State,
        user: &[u8],
        mailbox: &Mailbox,
        snap: &MailboxSnapshot,
        now: Instant,
    ) {
        let c = self.cache.entry(cache_key(user, mailbox)).or_default();
        if c.complete && c.uid_validity != 0 && c.uid_validity != snap.uid_validity {
            // Another mailbox under the same name: nothing carries over.
            c.reset_to(snap);
            crate::metrics::RESYNC_REPORTS.inc();
            self.server.mailbox_changed(
                user,
                mailbox,
                MailboxChange::UidValidity(snap.uid_validity),
                now,
            );
            self.pump(state, now);
            return;
        }
        if !c.complete {
            c.reset_to(snap);
            return;
        }
        c.uid_validity = snap.uid_validity;
        let mut changes = Vec::new();
        let fresh: BTreeMap<u32, &MessageSnapshot> =
            snap.messages.iter().map(|m| (m.uid, m)).collect();
        for (uid, (_, props)) in &c.msgs {
            if !fresh.contains_key(uid) {
                changes.push((
                    mailbox.clone(),
                    MailboxChange::Expunge {
                        uid: *uid,
                        props: props.clone(),
                    },
                ));
            }
        }
        for (uid, m) in fresh {
            let change = match c.msgs.get(&uid) {
                None => MailboxChange::New {
                    uid,
                    flags: m.flags.clone(),
                    props: m.props.clone(),
                },
                Some((flags, _)) if !same_flags(flags, &m.flags) => MailboxChange::Flags {
                    uid,
                    flags: m.flags.clone(),
                    props: m.props.clone(),
                },
                Some(_) => continue,
            };
            changes.push((mailbox.clone(), change));
        }
        if !changes.is_empty() {
            self.report(user, changes, now);
            self.pump(state, now);
        }
    }

    /// The watch connection saw events for `user`: a command connection that has not
    /// synchronised since must do so before it answers.
    pub(crate) fn watch_saw_events(&mut self, user: &[u8]) {
        *self
            .watch_events
            .entry(Bytes::copy_from_slice(user))
            .or_default() += 1;
    }

    /// How many event batches the watch connection has seen for `user`'s INBOX.
    pub(crate) fn watch_events(&self, user: &[u8]) -> u64 {
        self.watch_events.get(user).copied().unwrap_or(0)
    }

    pub(crate) fn props_of(&self, user: &[u8], mailbox: &Mailbox, uid: u32) -> Arc<MessageProps> {
        self.cache
            .get(&cache_key(user, mailbox))
            .and_then(|c| c.msgs.get(&uid))
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| Arc::new(MessageProps::new(0, None)))
    }
}

impl Host for Shared {
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    fn writers(&mut self) -> &mut Writers {
        &mut self.writers
    }

    fn pump(&mut self, now: Instant) {
        if let Some(state) = self.me.upgrade() {
            Shared::pump(self, &state, now);
        }
    }

    fn accepted(&mut self, _conn: ConnId, _peer: SocketAddr) {
        crate::metrics::DEVICE_CONNECTIONS.inc();
    }
}

pub(crate) fn same_flags(a: &[Flag], b: &[Flag]) -> bool {
    let strip = |v: &[Flag]| {
        let mut v: Vec<String> = v
            .iter()
            .filter(|f| !matches!(f, Flag::Recent))
            .map(|f| format!("{f:?}"))
            .collect();
        v.sort();
        v
    };
    strip(a) == strip(b)
}

/// Report changes, complete a request and pump, under the lock.
pub(crate) async fn finish(
    state: &State,
    user: &[u8],
    changes: Vec<(Mailbox, MailboxChange)>,
    id: RequestId,
    reply: Reply,
) {
    let mut st = state.lock().await;
    let now = Instant::now();
    st.report(user, changes, now);
    if let Err(e) = st.server.complete(id, reply, now) {
        eprintln!("complete: {e}");
    }
    st.pump(state, now);
}

/// Report changes that no request caused (watch connection).
pub(crate) async fn report(state: &State, user: &[u8], changes: Vec<(Mailbox, MailboxChange)>) {
    if changes.is_empty() {
        return;
    }
    let mut st = state.lock().await;
    let now = Instant::now();
    st.report(user, changes, now);
    st.pump(state, now);
}

pub(crate) type Changes = Vec<(Mailbox, MailboxChange)>;

/// Translate the mailbox events of the last command into changes of `mailbox`.
pub(crate) async fn events_to_changes(
    state: &State,
    user: &Bytes,
    mailbox: &Mailbox,
    events: Vec<MailboxEvent>,
) -> Changes {
    let st = state.lock().await;
    let mut out = Vec::new();
    for e in events {
        match e {
            MailboxEvent::Expunged { uid: Some(uid), .. } => out.push((
                mailbox.clone(),
                MailboxChange::Expunge {
                    uid,
                    props: st.props_of(user, mailbox, uid),
                },
            )),
            MailboxEvent::Vanished { uids, .. } => {
                for uid in uids {
                    out.push((
                        mailbox.clone(),
                        MailboxChange::Expunge {
                            uid,
                            props: st.props_of(user, mailbox, uid),
                        },
                    ));
                }
            }
            MailboxEvent::FlagsChanged {
                uid: Some(uid),
                flags,
                ..
            } => out.push((
                mailbox.clone(),
                MailboxChange::Flags {
                    uid,
                    flags: crate::backend::without_recent(&flags),
                    props: st.props_of(user, mailbox, uid),
                },
            )),
            _ => {}
        }
    }
    out
}
