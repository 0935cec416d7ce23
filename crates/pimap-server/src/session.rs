//! Device sessions: the P-IMAP session object of spec §6.1 (selected folder, per-folder event
//! queues, RESYNC debt), which outlives connections.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use pimap_types::{Data, EventFilter, FetchAttr, FetchItem, Flag, ListEntry, Mailbox, NewFormat};

use super::change::MailboxChange;
use super::filter::SearchClock;
use super::ledger::{Delivered, Effect, Ledger};
use super::output::ConnId;
use super::profile::{folder_key, DeviceProfile};
use super::props::MessageProps;

/// A message event waiting to be delivered, in UID terms (sequence numbers are computed at
/// delivery against what the client has seen, so queued streams renumber exactly as a
/// continuously connected client would see them, spec §6.6).
#[derive(Debug, Clone)]
pub(crate) enum QueuedEvent {
    New {
        uid: u32,
        flags: Vec<Flag>,
        props: Arc<MessageProps>,
    },
    Flags {
        uid: u32,
        flags: Vec<Flag>,
    },
    Expunge {
        uid: u32,
    },
}

/// A folder event (always pushed).
#[derive(Debug, Clone)]
pub(crate) enum FolderEvent {
    Created(Mailbox),
    Deleted(Mailbox),
    Renamed { to: Mailbox },
}

/// The selected mailbox as the client has seen it: UIDs in sequence-number order.
#[derive(Debug, Clone)]
pub(crate) struct SelectedView {
    pub mailbox: Mailbox,
    pub key: Bytes,
    pub read_only: bool,
    /// UIDs in sequence-number order (change them through the methods below, which keep
    /// `sizes` alongside).
    pub uids: Vec<u32>,
    /// RFC822.SIZE of each message, parallel to `uids` ([`UNKNOWN_SIZE`] when not known):
    /// FETCH is planned in chunks by it.
    pub sizes: Vec<u32>,
    /// UIDNEXT of the snapshot the view was built from: a queued arrival below it that the
    /// snapshot does not hold was expunged (or filtered) before the snapshot.
    pub snapshot_uid_next: u32,
    /// The flags last announced with `* FLAGS`: a keyword outside them is announced anew
    /// before the event that brings it (RFC 3501 7.2.6).
    pub flags: Vec<Flag>,
    /// The store keeps `\Recent` ([`MailboxSnapshot::first_recent`](super::MailboxSnapshot)).
    pub tracks_recent: bool,
    /// The UIDs that are `\Recent` in this session, ascending.
    pub recent: Vec<u32>,
}

impl SelectedView {
    /// Keywords in `flags` not yet announced: added, and `* FLAGS` with the new list.
    fn announce_keywords(&mut self, flags: &[Flag]) -> Option<Data> {
        let mut grew = false;
        for f in flags {
            if matches!(f, Flag::Keyword(_)) && !self.flags.contains(f) {
                self.flags.push(f.clone());
                grew = true;
            }
        }
        grew.then(|| Data::Flags(self.flags.clone()))
    }
}

impl SelectedView {
    /// The sequence number of a UID.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids
            .binary_search(&uid)
            .ok()
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// The number of messages.
    pub fn exists(&self) -> u32 {
        u32::try_from(self.uids.len()).unwrap_or(u32::MAX)
    }

    /// The size of a message of the view, if known.
    pub fn size_of(&self, uid: u32) -> Option<u32> {
        let i = self.uids.binary_search(&uid).ok()?;
        self.sizes.get(i).copied().filter(|s| *s != UNKNOWN_SIZE)
    }

    /// Insert a UID (and its size) in UID order; nothing if it is already there.
    pub fn insert(&mut self, uid: u32, size: u32) {
        if let Err(i) = self.uids.binary_search(&uid) {
            self.uids.insert(i, uid);
            self.sizes.insert(i.min(self.sizes.len()), size);
        }
    }

    /// Is `uid` `\Recent` in this session?
    pub fn is_recent(&self, uid: u32) -> bool {
        self.recent.binary_search(&uid).is_ok()
    }

    /// `flags` as this session shows them: with `\Recent` for its recent messages.
    pub fn shown_flags(&self, uid: u32, mut flags: Vec<Flag>) -> Vec<Flag> {
        if self.is_recent(uid) && !flags.contains(&Flag::Recent) {
            flags.push(Flag::Recent);
        }
        flags
    }

    /// This session's claim of a message that arrived while it had the mailbox selected.
    pub fn claim_recent(&mut self, uid: u32) {
        if let Err(i) = self.recent.binary_search(&uid) {
            self.recent.insert(i, uid);
        }
    }

    /// The number of recent messages in the view (`* n RECENT`).
    pub fn recent_count(&self) -> u32 {
        let n = self
            .recent
            .iter()
            .filter(|u| self.uids.binary_search(u).is_ok())
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Remove the message at index `i` (0-based).
    pub fn remove_at(&mut self, i: usize) {
        if let Some(uid) = self.uids.get(i).copied() {
            if let Ok(r) = self.recent.binary_search(&uid) {
                self.recent.remove(r);
            }
        }
        if i < self.uids.len() {
            self.uids.remove(i);
        }
        if i < self.sizes.len() {
            self.sizes.remove(i);
        }
    }
}

/// A message size the view does not know (a message put back by a replay).
pub(crate) const UNKNOWN_SIZE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct FolderQueue {
    pub events: VecDeque<QueuedEvent>,
    /// Events of this (then unselected) folder were dropped: RESYNC is due when it is
    /// selected.
    pub overflowed: bool,
    /// Index just after the last pushed event (events before it are due in band now).
    pub pushed_upto: usize,
}

/// How far behind a held EXPUNGE [`FolderQueue::take_ready`] looks for flag updates.
const FLAGS_PAST_EXPUNGE_WINDOW: usize = 256;

impl FolderQueue {
    /// The events that may be sent now, in order, taken out of the queue.
    ///
    /// With `no_expunge` (during FETCH, STORE and SEARCH, RFC 3501 7.4.1) the first EXPUNGE
    /// and what follows it wait, except flag updates of messages the client still sees: they
    /// are sent at once, as Dovecot does, so that a STORE's own untagged FETCH is not held
    /// behind another session's expunge. Such an update is taken only from before the
    /// first new message (whose EXISTS must come first) and only within
    /// [`FLAGS_PAST_EXPUNGE_WINDOW`] events, which bounds the work.
    fn take_ready(&mut self, no_expunge: bool, sel: &SelectedView) -> Vec<QueuedEvent> {
        let mut ready = Vec::new();
        while let Some(ev) = self.events.front() {
            if no_expunge && matches!(ev, QueuedEvent::Expunge { .. }) {
                break;
            }
            let Some(ev) = self.events.pop_front() else {
                break;
            };
            self.pushed_upto = self.pushed_upto.saturating_sub(1);
            ready.push(ev);
        }
        if !no_expunge {
            return ready;
        }
        let mut expunged: Vec<u32> = Vec::new();
        let mut i = 0;
        let mut looked = 0;
        while looked < FLAGS_PAST_EXPUNGE_WINDOW {
            looked += 1;
            let take = match self.events.get(i) {
                None | Some(QueuedEvent::New { .. }) => break,
                Some(QueuedEvent::Expunge { uid }) => {
                    expunged.push(*uid);
                    false
                }
                Some(QueuedEvent::Flags { uid, .. }) => {
                    !expunged.contains(uid) && sel.uids.binary_search(uid).is_ok()
                }
            };
            if !take {
                i += 1;
                continue;
            }
            if let Some(ev) = self.events.remove(i) {
                if i < self.pushed_upto {
                    self.pushed_upto -= 1;
                }
                ready.push(ev);
            }
        }
        ready
    }
}

/// How an event was classified (spec §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not in the mobile repository: not an event.
    Ignored,
    /// Delivered on the next response.
    Polled,
    /// Pushed in band (IDLE / INBAND_PUSH) or out of band.
    Pushed,
}

/// One device session (or the per-connection session of a plain IMAP login).
#[derive(Debug)]
pub(crate) struct Session {
    pub user: Bytes,
    /// `None` for a plain IMAP session (no device id): no filters, not persisted, every
    /// change is pushed while idling as in ordinary IMAP.
    pub device: Option<Bytes>,
    pub domain: Option<Bytes>,
    pub sid: String,
    /// Shared with the persistence when it keeps profiles in memory; changed through
    /// `Arc::make_mut` (copy on write).
    pub profile: Arc<DeviceProfile>,
    pub selected: Option<SelectedView>,
    pub queues: HashMap<Bytes, FolderQueue>,
    pub folder_events: VecDeque<FolderEvent>,
    pub owes_resync: bool,
    pub conn: Option<ConnId>,
    pub last_active: Instant,
    pub notify_seq: u64,
    /// What was written to the device and may not have been applied.
    pub ledger: Ledger,
    /// A `STORE ... .SILENT` in progress (folder key, UIDs ascending): its own flag changes
    /// are not reported back to this session (RFC 3501 §6.4.6).
    pub silent_store: Option<(Bytes, Vec<u32>)>,
    /// XDELIVER outcomes the device has not been told (its connection was gone).
    pub xdeliver_outcomes: VecDeque<(pimap_types::Tag, super::xdeliver::Outcome)>,
}

impl Session {
    pub fn new(
        user: Bytes,
        device: Option<Bytes>,
        domain: Option<Bytes>,
        sid: String,
        profile: Arc<DeviceProfile>,
        now: Instant,
    ) -> Self {
        Self {
            user,
            device,
            domain,
            sid,
            profile,
            selected: None,
            queues: HashMap::new(),
            folder_events: VecDeque::new(),
            owes_resync: false,
            conn: None,
            last_active: now,
            notify_seq: 0,
            ledger: Ledger::default(),
            silent_store: None,
            xdeliver_outcomes: VecDeque::new(),
        }
    }

    pub fn is_device(&self) -> bool {
        self.device.is_some()
    }

    /// Classify a message change for this device (spec §1.2).
    pub fn classify(&self, key: &Bytes, change: &MailboxChange, clock: &SearchClock) -> Class {
        let props = match change {
            MailboxChange::New { props, .. }
            | MailboxChange::Flags { props, .. }
            | MailboxChange::Expunge { props, .. } => props,
            _ => return Class::Pushed,
        };
        if !self.is_device() {
            return Class::Pushed;
        }
        if let Some(view) = self.profile.view_filter(key) {
            if !view.matches(props, clock) {
                return Class::Ignored;
            }
        }
        let kind_ok = match self.profile.prefs.event_filter {
            EventFilter::All => true,
            EventFilter::None => false,
            EventFilter::New => matches!(change, MailboxChange::New { .. }),
        };
        let notify_ok = self
            .profile
            .notification_filter(key)
            .is_some_and(|f| f.matches(props, clock));
        if kind_ok && notify_ok {
            Class::Pushed
        } else {
            Class::Polled
        }
    }

    /// Queue a message event; on overflow drop the folder's queue and owe RESYNC.
    ///
    /// A plain IMAP session has no RESYNC to fall back on: its selected folder may hold
    /// `max` events more than it has messages, since one command's own effects (an
    /// EXPUNGE, STORE or COPY over the whole mailbox) are at most one event per message. A
    /// device session keeps the plain limit (RESYNC is its protocol's answer).
    pub fn enqueue(&mut self, key: Bytes, ev: QueuedEvent, pushed: bool, max: usize) {
        let in_view = self
            .selected
            .as_ref()
            .filter(|s| s.key == key)
            .map(|s| s.uids.len());
        let selected = in_view.is_some();
        let extra = if self.device.is_none() {
            in_view.unwrap_or(0)
        } else {
            0
        };
        let max = max.saturating_add(extra);
        let q = self.queues.entry(key).or_default();
        if q.overflowed {
            // RESYNC is already owed for this folder: later events would be numbered against
            // a state the client must rebuild anyway.
            return;
        }
        if q.events.len() >= max {
            q.events.clear();
            q.pushed_upto = 0;
            q.overflowed = true;
            if selected {
                self.owes_resync = true;
            }
            return;
        }
        q.events.push_back(ev);
        if pushed {
            q.pushed_upto = q.events.len();
        }
    }

    /// Queue a folder event; on overflow owe RESYNC.
    pub fn enqueue_folder(&mut self, ev: FolderEvent, max: usize) {
        if self.folder_events.len() >= max {
            self.folder_events.clear();
            self.owes_resync = true;
            return;
        }
        self.folder_events.push_back(ev);
    }

    /// Events of the selected folder waiting, and whether any of them was pushed.
    pub fn selected_pending(&self) -> (usize, bool) {
        let Some(sel) = &self.selected else {
            return (0, false);
        };
        match self.queues.get(&sel.key) {
            Some(q) => (q.events.len(), q.pushed_upto > 0),
            None => (0, false),
        }
    }

    /// Is anything due in band (pushed events of the selected folder, folder events,
    /// RESYNC)?
    pub fn push_due(&self) -> bool {
        self.owes_resync || !self.folder_events.is_empty() || self.selected_pending().1
    }

    /// Render pending events as untagged responses, in order: folder events, events of the
    /// selected folder (stopping before the first EXPUNGE when `no_expunge`, as RFC 3501
    /// requires during FETCH, STORE and SEARCH), then `* RESYNC` if owed.
    ///
    /// Each response comes with what it delivered, for the [`Ledger`](super::ledger::Ledger).
    pub fn drain_events(&mut self, no_expunge: bool, out: &mut Vec<(Data, Delivered)>) {
        while let Some(ev) = self.folder_events.pop_front() {
            let data = match &ev {
                FolderEvent::Created(m) | FolderEvent::Renamed { to: m } => {
                    list_entry(m.clone(), false)
                }
                FolderEvent::Deleted(m) => list_entry(m.clone(), true),
            };
            out.push((data, Delivered::Folder(ev)));
        }
        let is_plain = self.device.is_none();
        if let Some(sel) = self.selected.as_mut() {
            if let Some(q) = self.queues.get_mut(&sel.key) {
                let new_format = &self.profile.prefs.inband_new_format;
                // Events are kept for replay only when the device opted in (XRESUME).
                let keep = self.ledger.keeps_entries();
                let mut resync = std::mem::take(&mut q.overflowed);
                let mut added = false;
                for ev in q.take_ready(no_expunge, sel) {
                    if let QueuedEvent::New { flags, .. } | QueuedEvent::Flags { flags, .. } = &ev {
                        if let Some(d) = sel.announce_keywords(flags) {
                            out.push((d, Delivered::Announcement));
                        }
                    }
                    if keep {
                        if let Some((data, effect)) =
                            render(sel, ev.clone(), new_format, &mut resync)
                        {
                            added |= matches!(effect, Effect::Added(_));
                            let key = sel.key.clone();
                            out.push((data, Delivered::Message { key, ev, effect }));
                        }
                    } else if let Some((data, effect)) = render(sel, ev, new_format, &mut resync) {
                        added |= matches!(effect, Effect::Added(_));
                        out.push((data, Delivered::Written));
                    }
                }
                // RFC 3501 7.3.2: RECENT goes with a change of the mailbox's size. Not in a
                // device's pushes: they stay one response per event (the drafts' forms), and
                // the device has \Recent from SELECT and FETCH FLAGS.
                if added && sel.tracks_recent && is_plain {
                    out.push((Data::Recent(sel.recent_count()), Delivered::Announcement));
                }
                if resync {
                    self.owes_resync = true;
                }
            }
        }
        if self.owes_resync {
            self.owes_resync = false;
            out.push((Data::Resync, Delivered::Resync));
        }
    }

    /// Undo deliveries the device did not apply (newest last in `replay`) on the view, and
    /// queue them again in front of what is waiting, so they are delivered once more.
    pub fn replay(&mut self, replay: Vec<Delivered>) {
        for d in replay.into_iter().rev() {
            match d {
                Delivered::Message { key, ev, effect } => {
                    if let Some(sel) = self.selected.as_mut().filter(|s| s.key == key) {
                        match effect {
                            Effect::None => {}
                            Effect::Added(uid) => {
                                if let Ok(i) = sel.uids.binary_search(&uid) {
                                    sel.remove_at(i);
                                }
                            }
                            Effect::Removed(uid) => sel.insert(uid, UNKNOWN_SIZE),
                        }
                    }
                    let q = self.queues.entry(key).or_default();
                    q.events.push_front(ev);
                    q.pushed_upto = q.pushed_upto.saturating_add(1).min(q.events.len());
                }
                Delivered::Folder(ev) => self.folder_events.push_front(ev),
                Delivered::Announcement => {}
                Delivered::Resync | Delivered::Selected | Delivered::Written => {
                    self.owes_resync = true
                }
            }
        }
    }

    /// Forget queued events of a folder (after SELECT rebuilt the view, events already in the
    /// snapshot are applied idempotently by `drain_events`, so nothing is dropped here).
    pub fn folder_queue_len(&self, key: &Bytes) -> usize {
        self.queues.get(key).map_or(0, |q| q.events.len())
    }

    /// Select a folder with a fresh view.
    pub fn select(&mut self, view: SelectedView) {
        self.selected = Some(view);
    }

    /// Apply a folder event to the session's own state (queues follow renames).
    pub fn folder_changed(&mut self, mailbox: &Mailbox, change: &MailboxChange) {
        let key = folder_key(mailbox);
        match change {
            MailboxChange::Deleted | MailboxChange::UidValidity(_) => {
                self.queues.remove(&key);
                if self.selected.as_ref().is_some_and(|s| s.key == key) {
                    self.selected = None;
                    self.owes_resync = true;
                }
            }
            MailboxChange::Renamed { to } => {
                let new_key = folder_key(to);
                if let Some(q) = self.queues.remove(&key) {
                    self.queues.insert(new_key.clone(), q);
                }
                if let Some(sel) = self.selected.as_mut().filter(|s| s.key == key) {
                    sel.key = new_key;
                    sel.mailbox = to.clone();
                }
            }
            _ => {}
        }
    }
}

fn list_entry(m: Mailbox, deleted: bool) -> Data {
    let attributes = if deleted {
        pimap_types::Atom::new(&b"NonExistent"[..])
            .map(|a| vec![Flag::Extension(a)])
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Data::List(ListEntry {
        attributes,
        delimiter: Some(b'/'),
        mailbox: m,
        extended: None,
    })
}

/// Render one queued event against the view (idempotently: a New for a UID already shown
/// becomes a FLAGS update, an EXPUNGE or FLAGS for an unknown UID is skipped).
fn render(
    sel: &mut SelectedView,
    ev: QueuedEvent,
    new_format: &NewFormat,
    resync: &mut bool,
) -> Option<(Data, Effect)> {
    match ev {
        QueuedEvent::New { uid, flags, props } => match sel.uids.binary_search(&uid) {
            Ok(i) => Some((
                flags_fetch(i, uid, sel.shown_flags(uid, flags)),
                Effect::None,
            )),
            Err(_) if uid < sel.snapshot_uid_next => None,
            Err(i) if i == sel.uids.len() => {
                sel.insert(uid, props.size);
                let seq = sel.exists();
                let flags = sel.shown_flags(uid, flags);
                let data = match new_format_items(new_format, uid, &flags, &props) {
                    Some(items) => Data::Fetch { seq, items },
                    None => Data::Exists(seq),
                };
                Some((data, Effect::Added(uid)))
            }
            Err(_) => {
                *resync = true;
                None
            }
        },
        QueuedEvent::Flags { uid, flags } => {
            let i = sel.uids.binary_search(&uid).ok()?;
            Some((
                flags_fetch(i, uid, sel.shown_flags(uid, flags)),
                Effect::None,
            ))
        }
        QueuedEvent::Expunge { uid } => {
            let i = sel.uids.binary_search(&uid).ok()?;
            sel.remove_at(i);
            let data = Data::Expunge(u32::try_from(i + 1).unwrap_or(u32::MAX));
            Some((data, Effect::Removed(uid)))
        }
    }
}

fn flags_fetch(index: usize, uid: u32, flags: Vec<Flag>) -> Data {
    Data::Fetch {
        seq: u32::try_from(index + 1).unwrap_or(u32::MAX),
        items: vec![FetchItem::Uid(uid), FetchItem::Flags(flags)],
    }
}

/// PIMAP_INBAND_NEW_FORMAT items answered from the message properties, or `None` (send
/// EXISTS) when the preference is NONE or an item needs the message body.
pub(crate) fn new_format_items(
    fmt: &NewFormat,
    uid: u32,
    flags: &[Flag],
    props: &MessageProps,
) -> Option<Vec<FetchItem>> {
    let NewFormat::Fetch(items) = fmt else {
        return None;
    };
    let attrs = items.attributes();
    let mut out = Vec::with_capacity(attrs.len() + 1);
    for a in attrs {
        let item = match a {
            FetchAttr::Uid => FetchItem::Uid(uid),
            FetchAttr::Flags => FetchItem::Flags(flags.to_vec()),
            FetchAttr::Rfc822Size => FetchItem::Rfc822Size(props.size),
            FetchAttr::InternalDate => FetchItem::InternalDate(props.internal_date?),
            FetchAttr::Envelope => FetchItem::Envelope(props.envelope.clone()?),
            FetchAttr::BodyStructure => FetchItem::BodyStructure(props.body_structure.clone()?),
            FetchAttr::Body => FetchItem::Body(props.body_structure.clone()?),
            _ => return None,
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Some(out)
}
