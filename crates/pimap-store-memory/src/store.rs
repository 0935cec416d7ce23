//! [`MemoryStore`]: users, mailboxes and messages in memory, answering [`Request`]s.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use pimap_server::filter::{evaluate, MessageFacts, SearchClock};
use pimap_server::MailboxChange;
use pimap_server::MessageProps;
use pimap_server::{MailboxSnapshot, MessageSnapshot, Reply, Request, StoreOp};
use pimap_types::{
    Code, Date, DateTime, FetchAttr, FetchItem, Flag, Mailbox, Partial, SectionText, StatusAttr,
    StoreKind,
};

use super::list::{self, Listed, DELIMITER};
use super::mime::{self, Parsed};

/// Largest message APPEND and [`MemoryStore::inject`] accept: 64 MiB.
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;
/// Most mailboxes one user may have.
pub const MAX_MAILBOXES: usize = 10_000;
/// Most messages one mailbox may hold.
pub const MAX_MESSAGES: usize = 1_000_000;
/// Most changes kept for [`MemoryStore::take_changes`]; see there for what happens beyond.
pub const MAX_PENDING_CHANGES: usize = 1_000_000;
/// Longest mailbox name, in octets.
pub const MAX_MAILBOX_NAME: usize = 255;
/// Most distinct flags one message may carry.
pub const MAX_FLAGS: usize = 128;

/// UIDVALIDITY of the first mailbox a store creates; each further mailbox gets the next
/// number, so that a store built by the same calls always has the same values.
pub const FIRST_UID_VALIDITY: u32 = 1;

const SECS_PER_DAY: i64 = 86_400;

/// One message.
#[derive(Clone)]
struct Stored {
    uid: u32,
    flags: Vec<Flag>,
    internal_date: Option<DateTime>,
    raw: Bytes,
    props: Arc<MessageProps>,
}

/// One mailbox.
struct MailboxData {
    name: Mailbox,
    uid_validity: u32,
    uid_next: u32,
    /// The first UID still `\Recent`: no read-write SELECT has claimed it.
    recent_from: u32,
    /// Ascending by UID.
    messages: Vec<Stored>,
}

impl MailboxData {
    fn new(name: Mailbox, uid_validity: u32) -> Self {
        Self {
            name,
            uid_validity,
            uid_next: 1,
            recent_from: 1,
            messages: Vec::new(),
        }
    }

    fn find(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// Can `n` more messages be added (count and UID space)?
    fn has_room(&self, n: usize) -> bool {
        self.messages.len().saturating_add(n) <= MAX_MESSAGES
            && u64::from(self.uid_next).saturating_add(n as u64) <= u64::from(u32::MAX)
    }

    /// Add a message with the next UID (the caller checked [`has_room`](Self::has_room)).
    fn push(&mut self, mut m: Stored) -> u32 {
        let uid = self.uid_next;
        self.uid_next = self.uid_next.saturating_add(1);
        m.uid = uid;
        self.messages.push(m);
        uid
    }
}

/// One user.
struct User {
    password: Bytes,
    /// By canonical name (`INBOX` upper case).
    mailboxes: BTreeMap<Bytes, MailboxData>,
    /// Subscribed names (canonical), apart from the mailboxes: a name stays subscribed
    /// when its mailbox is deleted (RFC 3501 6.3.6) and CREATE subscribes nothing.
    subscriptions: BTreeSet<Bytes>,
}

/// The pending changes, bounded.
struct ChangeLog {
    queue: VecDeque<(Bytes, Mailbox, MailboxChange)>,
    limit: usize,
    /// Mailboxes that lost changes to the bound, in order of the first loss.
    lost: Vec<(Bytes, Mailbox)>,
    lost_set: HashSet<(Bytes, Mailbox)>,
}

impl ChangeLog {
    fn new() -> Self {
        Self {
            queue: VecDeque::new(),
            limit: MAX_PENDING_CHANGES,
            lost: Vec::new(),
            lost_set: HashSet::new(),
        }
    }

    fn push(&mut self, user: &Bytes, mailbox: &Mailbox, change: MailboxChange) {
        while self.queue.len() >= self.limit.max(1) {
            let Some((u, m, _)) = self.queue.pop_front() else {
                break;
            };
            if self.lost_set.insert((u.clone(), m.clone())) {
                self.lost.push((u, m));
            }
        }
        self.queue
            .push_back((user.clone(), mailbox.clone(), change));
    }

    /// A mailbox that lost changes was renamed: its resync marker follows it.
    fn rename_lost(&mut self, user: &Bytes, from: &Mailbox, to: &Mailbox) {
        let key = (user.clone(), from.clone());
        if self.lost_set.remove(&key) {
            let new = (user.clone(), to.clone());
            if self.lost_set.insert(new.clone()) {
                for entry in &mut self.lost {
                    if *entry == key {
                        *entry = new.clone();
                    }
                }
            } else {
                self.lost.retain(|e| *e != key);
            }
        }
    }
}

/// An in-memory message store: the embedded default for examples, tests and the demo
/// server.
///
/// It answers every [`Request`] through [`handle`](Self::handle) and records every change
/// it makes; see the [module documentation](super) for the semantics and limits.
pub struct MemoryStore {
    users: BTreeMap<Bytes, User>,
    next_uid_validity: u32,
    clock: SearchClock,
    changes: ChangeLog,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the passwords.
        f.debug_struct("MemoryStore")
            .field(
                "users",
                &self
                    .users
                    .iter()
                    .map(|(name, u)| (String::from_utf8_lossy(name), u.mailboxes.len()))
                    .collect::<Vec<_>>(),
            )
            .field("next_uid_validity", &self.next_uid_validity)
            .field("clock", &self.clock)
            .field("pending_changes", &self.changes.queue.len())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

fn no_mailbox() -> Reply {
    Reply::no("no such mailbox")
}

/// Constant-time comparison (the lengths may leak).
fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A flag's identity: system flags by name, keywords ASCII case-insensitively.
fn flag_key(f: &Flag) -> Vec<u8> {
    let system = |s: &str| s.as_bytes().to_vec();
    match f {
        Flag::Answered => system("\\answered"),
        Flag::Flagged => system("\\flagged"),
        Flag::Deleted => system("\\deleted"),
        Flag::Seen => system("\\seen"),
        Flag::Draft => system("\\draft"),
        Flag::Recent => system("\\recent"),
        Flag::Forwarded => system("\\forwarded"),
        Flag::Wildcard => system("\\*"),
        Flag::Extension(a) => {
            let mut v = b"\\".to_vec();
            v.extend(a.as_bytes().to_ascii_lowercase());
            v
        }
        Flag::Keyword(a) => a.as_bytes().to_ascii_lowercase(),
    }
}

/// Storable flags: without `\Recent` (session state) and `\*`, duplicates removed.
fn sanitize(flags: &[Flag]) -> Result<Vec<Flag>, Reply> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in flags {
        if matches!(f, Flag::Recent | Flag::Wildcard) {
            continue;
        }
        if seen.insert(flag_key(f)) {
            out.push(f.clone());
            if out.len() > MAX_FLAGS {
                return Err(Reply::no("too many flags"));
            }
        }
    }
    Ok(out)
}

fn same_flags(a: &[Flag], b: &[Flag]) -> bool {
    let keys = |v: &[Flag]| {
        let mut k: Vec<Vec<u8>> = v.iter().map(flag_key).collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    keys(a) == keys(b)
}

fn has_flag(flags: &[Flag], f: &Flag) -> bool {
    match f {
        Flag::Keyword(_) | Flag::Extension(_) => {
            let k = flag_key(f);
            flags.iter().any(|g| flag_key(g) == k)
        }
        // System flags are always parsed to their own variant.
        _ => flags.contains(f),
    }
}

/// The flags after a STORE.
fn stored_flags(current: &[Flag], kind: StoreKind, flags: &[Flag]) -> Vec<Flag> {
    match kind {
        StoreKind::Replace => flags.to_vec(),
        StoreKind::Add => {
            let mut v = current.to_vec();
            for f in flags {
                if !has_flag(&v, f) {
                    v.push(f.clone());
                }
            }
            v
        }
        StoreKind::Remove => current
            .iter()
            .filter(|f| !has_flag(flags, f))
            .cloned()
            .collect(),
    }
}

fn sorted(uids: &[u32]) -> Vec<u32> {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// The date and time `secs` after the epoch, in a zone `zone` minutes east of UTC.
fn datetime_at(secs: i64, zone: i16) -> Option<DateTime> {
    let local = secs.checked_add(i64::from(zone).checked_mul(60)?)?;
    let date = Date::from_days_since_epoch(local.div_euclid(SECS_PER_DAY)).ok()?;
    let rem = local.rem_euclid(SECS_PER_DAY);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    DateTime::new(
        date,
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(s).ok()?,
        zone,
    )
    .ok()
}

/// A mailbox name given as text, canonical (`INBOX` upper case), or `None` if invalid.
fn key_of_str(name: &str) -> Option<Bytes> {
    Mailbox::try_from(name)
        .ok()
        .map(|m| list::canonical(m.as_bytes()))
}

fn key_of(m: &Mailbox) -> Bytes {
    list::canonical(m.as_bytes())
}

/// A name CREATE or RENAME may make: the canonical name without trailing delimiters, or a
/// refusal.
fn new_name(m: &Mailbox) -> Result<Bytes, Reply> {
    let key = key_of(m);
    let mut end = key.len();
    while end > 0 && key.get(end - 1) == Some(&DELIMITER) {
        end -= 1;
    }
    let key = key.slice(..end);
    if key.is_empty() {
        return Err(Reply::no("invalid mailbox name"));
    }
    if key.len() > MAX_MAILBOX_NAME {
        return Err(Reply::no("mailbox name too long"));
    }
    if key.iter().any(|&c| c == b'*' || c == b'%' || c == 0)
        || key.first() == Some(&DELIMITER)
        || key.windows(2).any(|w| w == [DELIMITER, DELIMITER])
    {
        return Err(Reply::no("invalid mailbox name"));
    }
    Ok(key)
}

/// The proper ancestors of a name (`a`, `a/b` for `a/b/c`).
fn ancestors(key: &Bytes) -> Vec<Bytes> {
    key.iter()
        .enumerate()
        .filter(|&(i, &c)| c == DELIMITER && i > 0)
        .map(|(i, _)| key.slice(..i))
        .collect()
}

fn mailbox_of(key: &Bytes) -> Option<Mailbox> {
    Mailbox::new(key.clone()).ok()
}

fn next_validity(counter: &mut u32) -> u32 {
    let v = *counter;
    *counter = counter.checked_add(1).unwrap_or(FIRST_UID_VALIDITY).max(1);
    v
}

fn apply_partial(b: Bytes, p: Option<&Partial>) -> Bytes {
    match p {
        None => b,
        Some(p) => {
            let start = (p.origin as usize).min(b.len());
            let end = start.saturating_add(p.count as usize).min(b.len());
            b.slice(start..end)
        }
    }
}

impl MemoryStore {
    /// An empty store (no users). Its clock is at the epoch until
    /// [`set_clock`](Self::set_clock) is called.
    pub fn new() -> Self {
        Self {
            users: BTreeMap::new(),
            next_uid_validity: FIRST_UID_VALIDITY,
            clock: SearchClock::from_unix(0),
            changes: ChangeLog::new(),
        }
    }

    /// Add a user with a password and an empty, subscribed `INBOX` (recording
    /// [`MailboxChange::Created`]). For an existing user, only the password changes.
    pub fn add_user(&mut self, user: &str, password: &str) {
        let name = Bytes::copy_from_slice(user.as_bytes());
        let password = Bytes::copy_from_slice(password.as_bytes());
        if let Some(u) = self.users.get_mut(&name) {
            u.password = password;
            return;
        }
        let inbox = Mailbox::inbox();
        let mut mailboxes = BTreeMap::new();
        let validity = next_validity(&mut self.next_uid_validity);
        mailboxes.insert(inbox.to_bytes(), MailboxData::new(inbox.clone(), validity));
        self.users.insert(
            name.clone(),
            User {
                password,
                mailboxes,
                subscriptions: [inbox.to_bytes()].into_iter().collect(),
            },
        );
        self.changes.push(&name, &inbox, MailboxChange::Created);
    }

    /// Create a mailbox for `user` (and its missing parents), as CREATE does. `false` if the
    /// user is unknown, the name is invalid or taken, or the user has
    /// [`MAX_MAILBOXES`] mailboxes.
    pub fn create_mailbox(&mut self, user: &str, name: &str) -> bool {
        let Ok(mailbox) = Mailbox::try_from(name) else {
            return false;
        };
        let user = Bytes::copy_from_slice(user.as_bytes());
        matches!(
            self.store_op(&user, &StoreOp::Create { mailbox }),
            Reply::Ok
        )
    }

    /// Deliver a message to a user's mailbox, as a mail delivery agent would: returns its
    /// UID and records [`MailboxChange::New`]. The internal date defaults to the store's
    /// clock. `None` if the user or mailbox is unknown, the message is larger than
    /// [`MAX_MESSAGE_SIZE`], the flags are more than [`MAX_FLAGS`] or the mailbox is full.
    pub fn inject(
        &mut self,
        user: &str,
        mailbox: &str,
        message: &[u8],
        flags: Vec<Flag>,
        internal_date: Option<DateTime>,
    ) -> Option<u32> {
        let key = key_of_str(mailbox)?;
        let user = Bytes::copy_from_slice(user.as_bytes());
        let raw = Bytes::copy_from_slice(message);
        self.append(&user, &key, raw, &flags, internal_date)
            .ok()
            .map(|(_, uid)| uid)
    }

    /// Set the clock used for SEARCH date keys and for the internal date of messages
    /// appended or injected without one.
    pub fn set_clock(&mut self, clock: SearchClock) {
        self.clock = clock;
    }

    /// Answer a request: [`Request::Authenticate`] and every [`StoreOp`];
    /// [`Request::Submit`] is refused (`NO no submission path`): the memory store delivers
    /// nothing.
    pub fn handle(&mut self, request: &Request) -> Reply {
        match request {
            // Accounts are named by their full identity: `user@domain` for a login with a
            // domain (lower case), so accounts that differ only in domain stay apart. Acting
            // as another identity is not supported.
            Request::Authenticate {
                user,
                domain,
                password,
                authorize_as,
            } => {
                let account = pimap_types::LoginName::account_of(user, domain.as_deref());
                match self.users.get(&account) {
                    Some(u)
                        if authorize_as.is_none() && secure_eq(&u.password, password.expose()) =>
                    {
                        Reply::Ok
                    }
                    _ => Reply::no("authentication failed"),
                }
            }
            Request::Store { user, op } => self.store_op(user, op),
            Request::Submit(_) => Reply::no("no submission path"),
            // A request kind added to the server after this store was written.
            _ => Reply::no("not supported by the in-memory store"),
        }
    }

    /// Drain the changes recorded since the last call, oldest first.
    ///
    /// At most [`MAX_PENDING_CHANGES`] are kept: the caller must drain them (a server does
    /// after every request and delivery). Beyond the bound the oldest are dropped, never
    /// silently: for each mailbox that lost changes, the drained list ends with
    /// [`MailboxChange::UidValidity`] with its current UIDVALIDITY (the server then makes
    /// every device resynchronise it), or [`MailboxChange::Deleted`] if it no longer
    /// exists.
    pub fn take_changes(&mut self) -> Vec<(Bytes, Mailbox, MailboxChange)> {
        let mut out: Vec<_> = self.changes.queue.drain(..).collect();
        self.changes.lost_set.clear();
        let lost = std::mem::take(&mut self.changes.lost);
        if lost.is_empty() {
            return out;
        }
        // Mailboxes whose last drained change already says they were deleted.
        let mut deleted = HashSet::new();
        for (user, mailbox, change) in &out {
            let key = (user.clone(), mailbox.clone());
            if matches!(change, MailboxChange::Deleted) {
                deleted.insert(key);
            } else {
                deleted.remove(&key);
            }
        }
        for (user, mailbox) in lost {
            let current = self
                .users
                .get(&user)
                .and_then(|u| u.mailboxes.get(&key_of(&mailbox)))
                .map(|m| m.uid_validity);
            let change = match current {
                Some(v) => MailboxChange::UidValidity(v),
                None if deleted.contains(&(user.clone(), mailbox.clone())) => continue,
                None => MailboxChange::Deleted,
            };
            out.push((user, mailbox, change));
        }
        out
    }

    /// The messages of a mailbox, ascending by UID (for tests and inspection).
    pub fn messages(&self, user: &str, mailbox: &str) -> Option<Vec<MessageSnapshot>> {
        let key = key_of_str(mailbox)?;
        let mb = self.users.get(user.as_bytes())?.mailboxes.get(&key)?;
        Some(mb.messages.iter().map(snapshot).collect())
    }

    /// The immutable properties of a message, parsed with mail-parser: size, internal date,
    /// every top-level header field in order (name as written, value unfolded and trimmed;
    /// `Subject`, `From`, `To`, `Cc`, `Bcc`, `Reply-To` and `Sender` values holding RFC 2047
    /// encoded words are given decoded, other values raw), the decoded text of the text
    /// parts (HTML converted to text, encapsulated messages included), `ENVELOPE` and
    /// `BODYSTRUCTURE`. Never panics, whatever the octets.
    pub fn props_of(message: &[u8], internal_date: Option<DateTime>) -> MessageProps {
        mime::props_of(message, internal_date)
    }

    /// The clock's current time as an internal date.
    fn now(&self) -> Option<DateTime> {
        datetime_at(self.clock.now_unix, self.clock.zone_minutes)
            .or_else(|| datetime_at(self.clock.now_unix, 0))
    }

    /// APPEND / inject: returns (UIDVALIDITY, UID).
    fn append(
        &mut self,
        user: &Bytes,
        key: &Bytes,
        raw: Bytes,
        flags: &[Flag],
        date: Option<DateTime>,
    ) -> Result<(u32, u32), Reply> {
        if raw.len() > MAX_MESSAGE_SIZE {
            return Err(Reply::no("message too large"));
        }
        let flags = sanitize(flags)?;
        let date = date.or_else(|| self.now());
        let Self { users, changes, .. } = self;
        let u = users
            .get_mut(user)
            .ok_or_else(|| Reply::no("no such user"))?;
        let mb = u.mailboxes.get_mut(key).ok_or_else(|| Reply::No {
            code: Some(Code::TryCreate),
            text: "no such mailbox".into(),
        })?;
        if !mb.has_room(1) {
            return Err(Reply::no("mailbox full"));
        }
        let props = Arc::new(mime::props_of_kept(&raw, date));
        let uid = mb.push(Stored {
            uid: 0,
            flags: flags.clone(),
            internal_date: date,
            raw,
            props: Arc::clone(&props),
        });
        changes.push(user, &mb.name, MailboxChange::New { uid, flags, props });
        Ok((mb.uid_validity, uid))
    }

    fn store_op(&mut self, user: &Bytes, op: &StoreOp) -> Reply {
        if !self.users.contains_key(user) {
            return Reply::no("no such user");
        }
        match op {
            StoreOp::Append {
                mailbox,
                flags,
                date,
                message,
            } => {
                return match self.append(user, &key_of(mailbox), message.clone(), flags, *date) {
                    Ok((uid_validity, uid)) => Reply::Appended { uid_validity, uid },
                    Err(r) => r,
                }
            }
            StoreOp::Create { mailbox } => return self.create(user, mailbox),
            StoreOp::Rename { from, to } => return self.rename(user, from, to),
            _ => {}
        }
        let Self {
            users,
            changes,
            clock,
            ..
        } = self;
        let Some(u) = users.get_mut(user) else {
            return Reply::no("no such user");
        };
        match op {
            StoreOp::Select { mailbox, read_only } => {
                match u.mailboxes.get_mut(&key_of(mailbox)) {
                    Some(mb) => {
                        let snap = select(mb, *read_only);
                        if !*read_only {
                            // This selection has the recent messages; the next has none.
                            mb.recent_from = mb.uid_next;
                        }
                        Reply::Selected(snap)
                    }
                    None => no_mailbox(),
                }
            }
            StoreOp::Delete { mailbox } => {
                let key = key_of(mailbox);
                if key.as_ref() == b"INBOX" {
                    return Reply::no("INBOX cannot be deleted");
                }
                match u.mailboxes.remove(&key) {
                    Some(mb) => {
                        changes.push(user, &mb.name, MailboxChange::Deleted);
                        Reply::Ok
                    }
                    None => no_mailbox(),
                }
            }
            StoreOp::Subscribe { mailbox, subscribe } => {
                let key = key_of(mailbox);
                if *subscribe {
                    if !u.mailboxes.contains_key(&key) {
                        return no_mailbox();
                    }
                    if u.subscriptions.len() >= MAX_MAILBOXES && !u.subscriptions.contains(&key) {
                        return Reply::no("too many subscriptions");
                    }
                    u.subscriptions.insert(key);
                    Reply::Ok
                } else if u.subscriptions.remove(&key) {
                    // Also when the mailbox is gone: the name may be unsubscribed.
                    Reply::Ok
                } else {
                    Reply::no("not subscribed")
                }
            }
            StoreOp::List {
                reference,
                pattern,
                subscribed_only,
            } => {
                let listed: Vec<Listed<'_>> = u
                    .mailboxes
                    .values()
                    .map(|m| Listed {
                        name: &m.name,
                        subscribed: u.subscriptions.contains(&key_of(&m.name)),
                    })
                    .collect();
                Reply::List(list::list(
                    &listed,
                    &u.subscriptions,
                    reference.as_bytes(),
                    pattern.as_bytes(),
                    *subscribed_only,
                ))
            }
            StoreOp::Status { mailbox, items } => match u.mailboxes.get(&key_of(mailbox)) {
                Some(mb) => Reply::Status(status(mb, items)),
                None => no_mailbox(),
            },
            StoreOp::Fetch {
                mailbox,
                uids,
                items,
            } => match u.mailboxes.get_mut(&key_of(mailbox)) {
                Some(mb) => Reply::Fetched(fetch(changes, user, mb, uids, items)),
                None => no_mailbox(),
            },
            StoreOp::Search {
                criteria, mailbox, ..
            } => match u.mailboxes.get(&key_of(mailbox)) {
                Some(mb) => Reply::Searched(search(mb, criteria, clock)),
                None => no_mailbox(),
            },
            StoreOp::StoreFlags {
                mailbox,
                uids,
                kind,
                flags,
            } => match u.mailboxes.get_mut(&key_of(mailbox)) {
                Some(mb) => store_flags(changes, user, mb, uids, *kind, flags),
                None => no_mailbox(),
            },
            StoreOp::Copy {
                mailbox,
                uids,
                to,
                remove,
            } => copy(
                changes,
                user,
                u,
                &key_of(mailbox),
                &key_of(to),
                uids,
                *remove,
            ),
            StoreOp::Expunge { mailbox, uids } => match u.mailboxes.get_mut(&key_of(mailbox)) {
                Some(mb) => {
                    expunge(changes, user, mb, uids.as_deref());
                    Reply::Ok
                }
                None => no_mailbox(),
            },
            // Handled above.
            StoreOp::Append { .. } | StoreOp::Create { .. } | StoreOp::Rename { .. } => {
                Reply::no("internal error")
            }
            // An operation added to the server after this store was written.
            _ => Reply::no("not supported by the in-memory store"),
        }
    }

    fn create(&mut self, user: &Bytes, mailbox: &Mailbox) -> Reply {
        let key = match new_name(mailbox) {
            Ok(k) => k,
            Err(r) => return r,
        };
        let Self {
            users,
            changes,
            next_uid_validity,
            ..
        } = self;
        let Some(u) = users.get_mut(user) else {
            return Reply::no("no such user");
        };
        if u.mailboxes.contains_key(&key) {
            return Reply::no("mailbox exists");
        }
        let mut new: Vec<Bytes> = ancestors(&key)
            .into_iter()
            .filter(|a| !u.mailboxes.contains_key(a))
            .collect();
        new.push(key);
        if u.mailboxes.len().saturating_add(new.len()) > MAX_MAILBOXES {
            return Reply::no("too many mailboxes");
        }
        for k in new {
            let Some(name) = mailbox_of(&k) else {
                return Reply::no("invalid mailbox name");
            };
            let validity = next_validity(next_uid_validity);
            changes.push(user, &name, MailboxChange::Created);
            u.mailboxes.insert(k, MailboxData::new(name, validity));
        }
        Reply::Ok
    }

    fn rename(&mut self, user: &Bytes, from: &Mailbox, to: &Mailbox) -> Reply {
        let from_key = key_of(from);
        let to_key = match new_name(to) {
            Ok(k) => k,
            Err(r) => return r,
        };
        let Self {
            users,
            changes,
            next_uid_validity,
            ..
        } = self;
        let Some(u) = users.get_mut(user) else {
            return Reply::no("no such user");
        };
        if !u.mailboxes.contains_key(&from_key) {
            return no_mailbox();
        }
        if u.mailboxes.contains_key(&to_key) {
            return Reply::no("mailbox exists");
        }
        let is_inbox = from_key.as_ref() == b"INBOX";
        let mut prefix = from_key.to_vec();
        prefix.push(DELIMITER);
        if to_key.starts_with(&prefix) {
            return Reply::no("cannot rename a mailbox into itself");
        }
        // RFC 3501: renaming INBOX moves its messages and leaves its inferiors alone.
        let mut moves: Vec<(Bytes, Bytes)> = vec![(from_key.clone(), to_key.clone())];
        if !is_inbox {
            for k in u.mailboxes.keys() {
                if let Some(rest) = k.strip_prefix(prefix.as_slice()) {
                    let mut new = to_key.to_vec();
                    new.push(DELIMITER);
                    new.extend_from_slice(rest);
                    moves.push((k.clone(), Bytes::from(new)));
                }
            }
        }
        if moves
            .iter()
            .any(|(_, new)| new.len() > MAX_MAILBOX_NAME || u.mailboxes.contains_key(new))
        {
            return Reply::no("mailbox name taken or too long");
        }
        let parents: Vec<Bytes> = ancestors(&to_key)
            .into_iter()
            .filter(|a| !u.mailboxes.contains_key(a) || moves.iter().any(|(old, _)| old == a))
            .collect();
        let extra = parents.len() + usize::from(is_inbox);
        if u.mailboxes.len().saturating_add(extra) > MAX_MAILBOXES {
            return Reply::no("too many mailboxes");
        }
        let mut taken = Vec::new();
        for (old, new) in &moves {
            let (Some(mut mb), Some(new_name)) = (u.mailboxes.remove(old), mailbox_of(new)) else {
                continue;
            };
            let old_name = std::mem::replace(&mut mb.name, new_name.clone());
            changes.push(
                user,
                &old_name,
                MailboxChange::Renamed {
                    to: new_name.clone(),
                },
            );
            changes.rename_lost(user, &old_name, &new_name);
            if !is_inbox && u.subscriptions.remove(old) {
                u.subscriptions.insert(new.clone());
            }
            taken.push((new.clone(), mb));
        }
        for (k, mb) in taken {
            u.mailboxes.insert(k, mb);
        }
        for p in parents {
            if u.mailboxes.contains_key(&p) {
                continue;
            }
            if let Some(name) = mailbox_of(&p) {
                let validity = next_validity(next_uid_validity);
                changes.push(user, &name, MailboxChange::Created);
                u.mailboxes.insert(p, MailboxData::new(name, validity));
            }
        }
        if is_inbox {
            let inbox = Mailbox::inbox();
            let validity = next_validity(next_uid_validity);
            changes.push(user, &inbox, MailboxChange::Created);
            u.mailboxes
                .insert(inbox.to_bytes(), MailboxData::new(inbox, validity));
        }
        Reply::Ok
    }
}

fn snapshot(m: &Stored) -> MessageSnapshot {
    MessageSnapshot {
        uid: m.uid,
        flags: m.flags.clone(),
        props: Arc::clone(&m.props),
    }
}

const SYSTEM_FLAGS: [Flag; 5] = [
    Flag::Answered,
    Flag::Flagged,
    Flag::Deleted,
    Flag::Seen,
    Flag::Draft,
];

fn select(mb: &MailboxData, read_only: bool) -> MailboxSnapshot {
    let mut flags = SYSTEM_FLAGS.to_vec();
    // Keywords in use, so that clients know them.
    let mut known: HashSet<Vec<u8>> = flags.iter().map(flag_key).collect();
    for m in &mb.messages {
        for f in &m.flags {
            if known.insert(flag_key(f)) {
                flags.push(f.clone());
            }
        }
    }
    let mut permanent_flags = SYSTEM_FLAGS.to_vec();
    permanent_flags.push(Flag::Wildcard);
    MailboxSnapshot {
        uid_validity: mb.uid_validity,
        uid_next: mb.uid_next,
        flags,
        permanent_flags,
        read_only,
        messages: mb.messages.iter().map(snapshot).collect(),
        first_recent: Some(mb.recent_from),
    }
}

fn status(mb: &MailboxData, items: &[StatusAttr]) -> Vec<(StatusAttr, u64)> {
    let mut out = Vec::new();
    for item in items {
        let value = match item {
            StatusAttr::Messages => mb.messages.len() as u64,
            StatusAttr::Recent => mb
                .messages
                .iter()
                .filter(|m| m.uid >= mb.recent_from)
                .count() as u64,
            StatusAttr::UidNext => u64::from(mb.uid_next),
            StatusAttr::UidValidity => u64::from(mb.uid_validity),
            StatusAttr::Unseen => mb
                .messages
                .iter()
                .filter(|m| !has_flag(&m.flags, &Flag::Seen))
                .count() as u64,
            StatusAttr::Size => mb.messages.iter().map(|m| m.raw.len() as u64).sum(),
            StatusAttr::HighestModSeq | StatusAttr::MonoIncUid | StatusAttr::Other(_) => continue,
        };
        out.push((item.clone(), value));
    }
    out
}

/// Expand macros met inside an attribute list.
fn expand(items: &[FetchAttr]) -> Vec<FetchAttr> {
    let mut out = Vec::with_capacity(items.len());
    for a in items {
        match a {
            FetchAttr::Macro(m) => out.extend(m.expand()),
            other => out.push(other.clone()),
        }
    }
    out
}

fn fetch(
    changes: &mut ChangeLog,
    user: &Bytes,
    mb: &mut MailboxData,
    uids: &[u32],
    items: &[FetchAttr],
) -> Vec<(u32, Vec<FetchItem>)> {
    let items = expand(items);
    let sets_seen = items.iter().any(|a| {
        matches!(
            a,
            FetchAttr::BodySection { peek: false, .. }
                | FetchAttr::Binary { peek: false, .. }
                | FetchAttr::Rfc822
                | FetchAttr::Rfc822Text
        )
    });
    let mut out = Vec::new();
    for uid in sorted(uids) {
        let Some(i) = mb.find(uid) else {
            continue;
        };
        let Some(m) = mb.messages.get_mut(i) else {
            continue;
        };
        if sets_seen && !has_flag(&m.flags, &Flag::Seen) {
            m.flags.push(Flag::Seen);
            changes.push(
                user,
                &mb.name,
                MailboxChange::Flags {
                    uid,
                    flags: m.flags.clone(),
                    props: Arc::clone(&m.props),
                },
            );
        }
        out.push((uid, fetch_items(m, &items)));
    }
    out
}

/// The FETCH items of one message, in request order. `MODSEQ`, `XZIP`, `XZIP.SIZE`,
/// conversions (`BODY[n.XCONVERT ...]`) and `BINARY` with a text selector are left out.
fn fetch_items(m: &Stored, items: &[FetchAttr]) -> Vec<FetchItem> {
    let mut parsed: Option<Parsed<'_>> = None;
    let mut out = Vec::with_capacity(items.len());
    for a in items {
        let item = match a {
            FetchAttr::Flags => FetchItem::Flags(m.flags.clone()),
            // Not kept by this store (and not advertised by the server).
            FetchAttr::Preview { .. } | FetchAttr::SaveDate => continue,
            FetchAttr::InternalDate => match m.internal_date {
                Some(d) => FetchItem::InternalDate(d),
                None => continue,
            },
            FetchAttr::Rfc822Size => FetchItem::Rfc822Size(m.props.size),
            FetchAttr::Uid => FetchItem::Uid(m.uid),
            FetchAttr::Envelope => FetchItem::Envelope(match &m.props.envelope {
                Some(e) => e.clone(),
                None => Box::new(mime::message_envelope(
                    parsed.get_or_insert_with(|| Parsed::new(&m.raw)),
                )),
            }),
            FetchAttr::BodyStructure | FetchAttr::Body => {
                let full = match &m.props.body_structure {
                    Some(b) => b.clone(),
                    None => Box::new(mime::body_structure(
                        parsed.get_or_insert_with(|| Parsed::new(&m.raw)),
                        true,
                    )),
                };
                if matches!(a, FetchAttr::Body) {
                    FetchItem::Body(Box::new(mime::strip_extension(&full)))
                } else {
                    FetchItem::BodyStructure(full)
                }
            }
            FetchAttr::Rfc822 => FetchItem::Rfc822(mime::data_nstring(m.raw.clone())),
            FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
                let section = pimap_types::Section {
                    part: Vec::new(),
                    text: Some(if matches!(a, FetchAttr::Rfc822Header) {
                        SectionText::Header
                    } else {
                        SectionText::Text
                    }),
                };
                let p = parsed.get_or_insert_with(|| Parsed::new(&m.raw));
                let data = mime::section(p, &section)
                    .map(|d| d.into_bytes(&m.raw))
                    .unwrap_or_default();
                if matches!(a, FetchAttr::Rfc822Header) {
                    FetchItem::Rfc822Header(mime::data_nstring(data))
                } else {
                    FetchItem::Rfc822Text(mime::data_nstring(data))
                }
            }
            FetchAttr::BodySection {
                section, partial, ..
            } => {
                if matches!(section.text, Some(SectionText::Convert(_))) {
                    continue;
                }
                let data = if section.part.is_empty() && section.text.is_none() {
                    // The whole message: no need to parse it.
                    m.raw.clone()
                } else {
                    let p = parsed.get_or_insert_with(|| Parsed::new(&m.raw));
                    mime::section(p, section)
                        .map(|d| d.into_bytes(&m.raw))
                        .unwrap_or_default()
                };
                FetchItem::BodySection {
                    section: section.clone(),
                    origin: partial.map(|p| p.origin),
                    data: mime::data_nstring(apply_partial(data, partial.as_ref())),
                }
            }
            FetchAttr::Binary {
                section, partial, ..
            } => {
                if section.text.is_some() {
                    continue;
                }
                let data = if section.part.is_empty() {
                    Some(m.raw.clone())
                } else {
                    let p = parsed.get_or_insert_with(|| Parsed::new(&m.raw));
                    mime::binary(p, &section.part).map(|d| d.into_bytes(&m.raw))
                };
                FetchItem::Binary {
                    section: section.clone(),
                    origin: partial.map(|p| p.origin),
                    data: data.map(|d| apply_partial(d, partial.as_ref())),
                }
            }
            FetchAttr::BinarySize { section } => {
                if section.text.is_some() {
                    continue;
                }
                let p = parsed.get_or_insert_with(|| Parsed::new(&m.raw));
                let size = mime::binary(p, &section.part).map_or(0, |d| match d {
                    mime::Data::Range(a, b) => b.saturating_sub(a),
                    mime::Data::Owned(v) => v.len(),
                });
                FetchItem::BinarySize {
                    section: section.clone(),
                    size: u32::try_from(size).unwrap_or(u32::MAX),
                }
            }
            FetchAttr::ModSeq
            | FetchAttr::XZip { .. }
            | FetchAttr::XZipSize { .. }
            | FetchAttr::Macro(_) => continue,
        };
        out.push(item);
    }
    out
}

fn search(mb: &MailboxData, criteria: &[pimap_types::SearchKey], clock: &SearchClock) -> Vec<u32> {
    let max_uid = mb.messages.last().map_or(0, |m| m.uid);
    let max_seq = u32::try_from(mb.messages.len()).unwrap_or(u32::MAX);
    mb.messages
        .iter()
        .enumerate()
        .filter(|(i, m)| {
            let facts = MessageFacts {
                props: &m.props,
                flags: Some(&m.flags),
                uid: m.uid,
                seq: u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX),
                max_uid,
                max_seq,
            };
            evaluate(criteria, &facts, clock)
        })
        .map(|(_, m)| m.uid)
        .collect()
}

fn store_flags(
    changes: &mut ChangeLog,
    user: &Bytes,
    mb: &mut MailboxData,
    uids: &[u32],
    kind: StoreKind,
    flags: &[Flag],
) -> Reply {
    let flags = match sanitize(flags) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut updates = Vec::new();
    for uid in sorted(uids) {
        let Some(i) = mb.find(uid) else {
            continue;
        };
        let Some(m) = mb.messages.get(i) else {
            continue;
        };
        let new = stored_flags(&m.flags, kind, &flags);
        if new.len() > MAX_FLAGS {
            return Reply::no("too many flags");
        }
        if !same_flags(&m.flags, &new) {
            updates.push((i, new));
        }
    }
    for (i, new) in updates {
        if let Some(m) = mb.messages.get_mut(i) {
            m.flags = new;
            changes.push(
                user,
                &mb.name,
                MailboxChange::Flags {
                    uid: m.uid,
                    flags: m.flags.clone(),
                    props: Arc::clone(&m.props),
                },
            );
        }
    }
    Reply::Ok
}

fn copy(
    changes: &mut ChangeLog,
    user: &Bytes,
    u: &mut User,
    from: &Bytes,
    to: &Bytes,
    uids: &[u32],
    remove: bool,
) -> Reply {
    let Some(src) = u.mailboxes.get(from) else {
        return no_mailbox();
    };
    let picked: Vec<Stored> = sorted(uids)
        .into_iter()
        .filter_map(|uid| src.find(uid).and_then(|i| src.messages.get(i)).cloned())
        .collect();
    let Some(dst) = u.mailboxes.get_mut(to) else {
        return Reply::No {
            code: Some(Code::TryCreate),
            text: "no such mailbox".into(),
        };
    };
    if !dst.has_room(picked.len()) {
        return Reply::no("mailbox full");
    }
    let uid_validity = dst.uid_validity;
    let mut source = Vec::with_capacity(picked.len());
    let mut destination = Vec::with_capacity(picked.len());
    for m in picked {
        source.push(m.uid);
        let (flags, props) = (m.flags.clone(), Arc::clone(&m.props));
        let uid = dst.push(m);
        destination.push(uid);
        changes.push(user, &dst.name, MailboxChange::New { uid, flags, props });
    }
    if remove {
        if let Some(src) = u.mailboxes.get_mut(from) {
            // `source` is ascending, as the messages are.
            let mut gone = Vec::new();
            src.messages.retain(|m| {
                let moved = source.binary_search(&m.uid).is_ok();
                if moved {
                    gone.push((m.uid, Arc::clone(&m.props)));
                }
                !moved
            });
            for (uid, props) in gone {
                changes.push(user, &src.name, MailboxChange::Expunge { uid, props });
            }
        }
    }
    Reply::Copied {
        uid_validity,
        source,
        destination,
    }
}

fn expunge(changes: &mut ChangeLog, user: &Bytes, mb: &mut MailboxData, uids: Option<&[u32]>) {
    let only = uids.map(sorted);
    let mut gone = Vec::new();
    mb.messages.retain(|m| {
        let hit = has_flag(&m.flags, &Flag::Deleted)
            && only
                .as_ref()
                .is_none_or(|o| o.binary_search(&m.uid).is_ok());
        if hit {
            gone.push((m.uid, Arc::clone(&m.props)));
        }
        !hit
    });
    for (uid, props) in gone {
        changes.push(user, &mb.name, MailboxChange::Expunge { uid, props });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::tests::MIXED;
    use pimap_types::{BodyStructure, IString, Partial, SearchKey, Secret, Section, SequenceSet};
    use proptest::prelude::*;

    const USER: &str = "alice";

    fn mb(s: &str) -> Mailbox {
        Mailbox::try_from(s).unwrap()
    }

    fn op(store: &mut MemoryStore, op: StoreOp) -> Reply {
        store.handle(&Request::Store {
            user: Bytes::from_static(USER.as_bytes()),
            op,
        })
    }

    fn store_with(messages: &[&[u8]]) -> (MemoryStore, Vec<u32>) {
        let mut store = MemoryStore::new();
        store.add_user(USER, "pw");
        let uids = messages
            .iter()
            .map(|m| store.inject(USER, "INBOX", m, vec![], None).unwrap())
            .collect();
        store.take_changes();
        (store, uids)
    }

    fn fetch(
        store: &mut MemoryStore,
        mailbox: &str,
        uids: &[u32],
        items: Vec<FetchAttr>,
    ) -> Vec<(u32, Vec<FetchItem>)> {
        match op(
            store,
            StoreOp::Fetch {
                mailbox: mb(mailbox),
                uids: uids.to_vec(),
                items,
            },
        ) {
            Reply::Fetched(v) => v,
            other => panic!("{other:?}"),
        }
    }

    fn body(
        part: &[u32],
        text: Option<SectionText>,
        peek: bool,
        partial: Option<Partial>,
    ) -> FetchAttr {
        FetchAttr::BodySection {
            peek,
            section: Section {
                part: part.to_vec(),
                text,
            },
            partial,
        }
    }

    fn data_of(item: &FetchItem) -> Vec<u8> {
        match item {
            FetchItem::BodySection { data, .. } => data.as_ref().unwrap().as_bytes().to_vec(),
            other => panic!("{other:?}"),
        }
    }

    fn kinds(changes: &[(Bytes, Mailbox, MailboxChange)]) -> Vec<(String, String)> {
        changes
            .iter()
            .map(|(_, m, c)| {
                let kind = match c {
                    MailboxChange::New { uid, .. } => format!("new {uid}"),
                    MailboxChange::Flags { uid, flags, .. } => format!("flags {uid} {flags:?}"),
                    MailboxChange::Expunge { uid, .. } => format!("expunge {uid}"),
                    MailboxChange::Created => "created".into(),
                    MailboxChange::Deleted => "deleted".into(),
                    MailboxChange::Renamed { to } => format!("renamed {}", to.to_str_lossy()),
                    MailboxChange::UidValidity(v) => format!("uidvalidity {v}"),
                    other => format!("{other:?}"),
                };
                (m.to_str_lossy().into_owned(), kind)
            })
            .collect()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn users_inbox_and_authentication() {
        let mut store = MemoryStore::new();
        store.add_user(USER, "hunter2");
        let auth = |user: &'static str, pw: &'static str| Request::Authenticate {
            user: Bytes::from_static(user.as_bytes()),
            domain: None,
            password: Secret::new(Bytes::from_static(pw.as_bytes())),
            authorize_as: None,
        };
        assert_eq!(store.handle(&auth(USER, "hunter2")), Reply::Ok);
        assert_eq!(
            store.handle(&auth(USER, "hunter3")),
            Reply::no("authentication failed")
        );
        assert_eq!(
            store.handle(&auth("bob", "hunter2")),
            Reply::no("authentication failed")
        );
        assert!(!format!("{store:?}").contains("hunter2"));
        assert_eq!(kinds(&store.take_changes()), pairs(&[("INBOX", "created")]));
        let Reply::Selected(snap) = op(
            &mut store,
            StoreOp::Select {
                mailbox: mb("inbox"),
                read_only: false,
            },
        ) else {
            panic!()
        };
        assert_eq!(snap.uid_validity, FIRST_UID_VALIDITY);
        assert_eq!(snap.uid_next, 1);
        assert_eq!(snap.flags.len(), 5);
        assert!(snap.permanent_flags.contains(&Flag::Wildcard));
        assert_eq!(
            op(
                &mut store,
                StoreOp::Select {
                    mailbox: mb("Nope"),
                    read_only: true
                }
            ),
            Reply::No {
                code: None,
                text: "no such mailbox".into()
            }
        );
        let submit = Request::Submit(pimap_server::Submission {
            user: Bytes::from_static(b"alice"),
            kind: pimap_types::DeliverKind::New,
            save_to: None,
            envelope: None,
            message: Bytes::from_static(b"x"),
        });
        assert_eq!(store.handle(&submit), Reply::no("no submission path"));
    }

    #[test]
    fn fetch_items_in_request_order() {
        let (mut store, uids) = store_with(&[MIXED]);
        let uid = uids[0];
        let items = vec![
            FetchAttr::Uid,
            FetchAttr::Flags,
            FetchAttr::Rfc822Size,
            FetchAttr::Envelope,
            FetchAttr::Body,
            FetchAttr::BodyStructure,
            body(&[1], None, true, None),
            body(&[2], Some(SectionText::Mime), true, None),
            body(&[1], Some(SectionText::Mime), true, None),
            body(
                &[],
                Some(SectionText::HeaderFields {
                    not: false,
                    fields: vec![IString::try_from("SUBJECT").unwrap()],
                }),
                true,
                None,
            ),
            body(
                &[],
                None,
                true,
                Some(Partial {
                    origin: 0,
                    count: 10,
                }),
            ),
            body(&[], Some(SectionText::Text), true, None),
            body(&[9], None, true, None),
            FetchAttr::BinarySize {
                section: Section {
                    part: vec![2],
                    text: None,
                },
            },
            FetchAttr::ModSeq,
            FetchAttr::Rfc822Header,
        ];
        let fetched = fetch(&mut store, "INBOX", &[uid, 99], items);
        let [(u, items)] = fetched.as_slice() else {
            panic!("{fetched:?}")
        };
        assert_eq!(*u, uid);
        assert_eq!(items.len(), 15, "MODSEQ is left out");
        assert_eq!(items[0], FetchItem::Uid(uid));
        assert_eq!(items[1], FetchItem::Flags(vec![]));
        assert_eq!(items[2], FetchItem::Rfc822Size(MIXED.len() as u32));
        let FetchItem::Envelope(e) = &items[3] else {
            panic!()
        };
        assert_eq!(e.subject.as_ref().unwrap().as_bytes(), b"Test message");
        assert!(
            matches!(&items[4], FetchItem::Body(b) if matches!(**b, BodyStructure::Multi { extension: None, .. }))
        );
        assert!(
            matches!(&items[5], FetchItem::BodyStructure(b) if matches!(**b, BodyStructure::Multi { extension: Some(_), .. }))
        );
        assert_eq!(data_of(&items[6]), b"Hello Bob,\r\nsee attached.");
        assert!(data_of(&items[7]).starts_with(b"Content-Type: application/octet-stream"));
        assert_eq!(
            data_of(&items[8]),
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        );
        assert_eq!(data_of(&items[9]), b"Subject: Test message\r\n\r\n");
        let FetchItem::BodySection { origin, data, .. } = &items[10] else {
            panic!()
        };
        assert_eq!(*origin, Some(0));
        assert_eq!(data.as_ref().unwrap().as_bytes(), &MIXED[..10]);
        assert!(data_of(&items[11]).starts_with(b"This is a preamble."));
        assert_eq!(
            data_of(&items[12]),
            b"",
            "a missing part is an empty string"
        );
        assert_eq!(
            items[13],
            FetchItem::BinarySize {
                section: Section {
                    part: vec![2],
                    text: None
                },
                size: 10
            }
        );
        assert!(
            matches!(&items[14], FetchItem::Rfc822Header(Some(h)) if h.as_bytes().ends_with(b"\r\n\r\n"))
        );
        // Only PEEK: nothing changed.
        assert!(store.take_changes().is_empty());

        // A partial past the end is empty; the origin is echoed.
        let fetched = fetch(
            &mut store,
            "INBOX",
            &[uid],
            vec![
                body(
                    &[1],
                    None,
                    true,
                    Some(Partial {
                        origin: 6,
                        count: 3,
                    }),
                ),
                body(
                    &[1],
                    None,
                    true,
                    Some(Partial {
                        origin: 1000,
                        count: 3,
                    }),
                ),
            ],
        );
        assert_eq!(data_of(&fetched[0].1[0]), b"Bob");
        let FetchItem::BodySection { origin, data, .. } = &fetched[0].1[1] else {
            panic!()
        };
        assert_eq!(
            (*origin, data.as_ref().unwrap().as_bytes()),
            (Some(1000), &b""[..])
        );
    }

    #[test]
    fn fetch_without_peek_sets_seen() {
        let (mut store, uids) = store_with(&[MIXED, MIXED]);
        fetch(
            &mut store,
            "INBOX",
            &uids,
            vec![FetchAttr::Flags, body(&[1], None, true, None)],
        );
        assert!(store.take_changes().is_empty());

        let fetched = fetch(
            &mut store,
            "INBOX",
            &[uids[0]],
            vec![FetchAttr::Flags, body(&[1], None, false, None)],
        );
        assert_eq!(
            fetched[0].1[0],
            FetchItem::Flags(vec![Flag::Seen]),
            "FLAGS shows the new \\Seen"
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("INBOX", "flags 1 [Seen]")])
        );
        // Already seen: no change.
        fetch(&mut store, "INBOX", &[uids[0]], vec![FetchAttr::Rfc822]);
        assert!(store.take_changes().is_empty());
        // RFC822.TEXT and BINARY also set it.
        fetch(&mut store, "INBOX", &[uids[1]], vec![FetchAttr::Rfc822Text]);
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("INBOX", "flags 2 [Seen]")])
        );
        let msgs = store.messages(USER, "INBOX").unwrap();
        assert!(msgs.iter().all(|m| m.flags == vec![Flag::Seen]));

        let (mut store, uids) = store_with(&[MIXED]);
        let fetched = fetch(
            &mut store,
            "INBOX",
            &uids,
            vec![FetchAttr::Binary {
                peek: false,
                section: Section {
                    part: vec![2],
                    text: None,
                },
                partial: Some(Partial {
                    origin: 2,
                    count: 3,
                }),
            }],
        );
        assert_eq!(
            fetched[0].1[0],
            FetchItem::Binary {
                section: Section {
                    part: vec![2],
                    text: None
                },
                origin: Some(2),
                data: Some(Bytes::from_static(&[2, 3, 4]))
            }
        );
        assert_eq!(store.take_changes().len(), 1);
    }

    #[test]
    fn store_copy_move_expunge() {
        let (mut store, uids) = store_with(&[
            b"Subject: 1\r\n\r\n",
            b"Subject: 2\r\n\r\n",
            b"Subject: 3\r\n\r\n",
        ]);
        assert_eq!(uids, [1, 2, 3]);
        let flag = |store: &mut MemoryStore, uids: &[u32], kind, flags: Vec<Flag>| {
            op(
                store,
                StoreOp::StoreFlags {
                    mailbox: mb("INBOX"),
                    uids: uids.to_vec(),
                    kind,
                    flags,
                },
            )
        };
        assert_eq!(
            flag(&mut store, &[1, 2], StoreKind::Add, vec![Flag::Flagged]),
            Reply::Ok
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[
                ("INBOX", "flags 1 [Flagged]"),
                ("INBOX", "flags 2 [Flagged]")
            ])
        );
        // No real change, nothing recorded (case-insensitive keywords too).
        assert_eq!(
            flag(
                &mut store,
                &[1],
                StoreKind::Add,
                vec![Flag::Flagged, Flag::Recent]
            ),
            Reply::Ok
        );
        assert_eq!(
            flag(&mut store, &[3], StoreKind::Remove, vec![Flag::Seen]),
            Reply::Ok
        );
        assert!(store.take_changes().is_empty());
        let kw = |s: &str| Flag::Keyword(pimap_types::Atom::try_from(s).unwrap());
        flag(&mut store, &[3], StoreKind::Replace, vec![kw("$Work")]);
        flag(&mut store, &[3], StoreKind::Add, vec![kw("$WORK")]);
        assert_eq!(kinds(&store.take_changes()).len(), 1);
        flag(&mut store, &[3], StoreKind::Replace, vec![]);
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("INBOX", "flags 3 []")])
        );

        // COPY to a missing mailbox: TRYCREATE.
        let copy = |store: &mut MemoryStore, uids: &[u32], to: &str, remove: bool| {
            op(
                store,
                StoreOp::Copy {
                    mailbox: mb("INBOX"),
                    uids: uids.to_vec(),
                    to: mb(to),
                    remove,
                },
            )
        };
        assert_eq!(
            copy(&mut store, &[1], "Archive", false),
            Reply::No {
                code: Some(Code::TryCreate),
                text: "no such mailbox".into()
            }
        );
        assert!(store.create_mailbox(USER, "Archive"));
        let Reply::Selected(archive) = op(
            &mut store,
            StoreOp::Select {
                mailbox: mb("Archive"),
                read_only: false,
            },
        ) else {
            panic!()
        };
        store.take_changes();
        assert_eq!(
            copy(&mut store, &[2, 1, 7], "Archive", false),
            Reply::Copied {
                uid_validity: archive.uid_validity,
                source: vec![1, 2],
                destination: vec![1, 2]
            }
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("Archive", "new 1"), ("Archive", "new 2")])
        );
        let copied = store.messages(USER, "Archive").unwrap();
        assert_eq!(copied[0].flags, vec![Flag::Flagged]);

        // MOVE: new in the target, expunge in the source.
        assert_eq!(
            copy(&mut store, &[3], "Archive", true),
            Reply::Copied {
                uid_validity: archive.uid_validity,
                source: vec![3],
                destination: vec![3]
            }
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("Archive", "new 3"), ("INBOX", "expunge 3")])
        );
        assert_eq!(store.messages(USER, "INBOX").unwrap().len(), 2);

        // EXPUNGE removes only \Deleted messages; UID EXPUNGE only the listed ones.
        flag(&mut store, &[1, 2], StoreKind::Add, vec![Flag::Deleted]);
        store.take_changes();
        assert_eq!(
            op(
                &mut store,
                StoreOp::Expunge {
                    mailbox: mb("INBOX"),
                    uids: Some(vec![2])
                }
            ),
            Reply::Ok
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("INBOX", "expunge 2")])
        );
        assert_eq!(
            op(
                &mut store,
                StoreOp::Expunge {
                    mailbox: mb("INBOX"),
                    uids: None
                }
            ),
            Reply::Ok
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("INBOX", "expunge 1")])
        );
        assert!(store.messages(USER, "INBOX").unwrap().is_empty());
        // UIDs are never reused.
        assert_eq!(
            store.inject(USER, "INBOX", b"Subject: 4\r\n\r\n", vec![], None),
            Some(4)
        );
    }

    #[test]
    fn append_and_status() {
        let (mut store, _) = store_with(&[]);
        store.set_clock(SearchClock::from_unix(1_700_000_000));
        let append = |store: &mut MemoryStore, mailbox: &str, message: &'static [u8]| {
            op(
                store,
                StoreOp::Append {
                    mailbox: mb(mailbox),
                    flags: vec![Flag::Seen, Flag::Recent],
                    date: None,
                    message: Bytes::from_static(message),
                },
            )
        };
        assert_eq!(
            append(&mut store, "Drafts", b"Subject: x\r\n\r\n"),
            Reply::No {
                code: Some(Code::TryCreate),
                text: "no such mailbox".into()
            }
        );
        assert_eq!(
            append(&mut store, "inbox", b"Subject: x\r\n\r\nbody\r\n"),
            Reply::Appended {
                uid_validity: FIRST_UID_VALIDITY,
                uid: 1
            }
        );
        assert_eq!(
            append(&mut store, "INBOX", b"Subject: y\r\n\r\n"),
            Reply::Appended {
                uid_validity: FIRST_UID_VALIDITY,
                uid: 2
            }
        );
        let changes = store.take_changes();
        assert_eq!(
            kinds(&changes),
            pairs(&[("INBOX", "new 1 "), ("INBOX", "new 2 ")])
                .into_iter()
                .map(|(a, b)| (a, b.trim().to_string()))
                .collect::<Vec<_>>()
        );
        let MailboxChange::New { flags, props, .. } = &changes[0].2 else {
            panic!()
        };
        assert_eq!(flags, &vec![Flag::Seen], "\\Recent is not stored");
        let date = props.internal_date.unwrap();
        assert_eq!(
            (date.date().year(), date.date().month(), date.date().day()),
            (2023, 11, 14)
        );
        assert_eq!(date.time(), (22, 13, 20));

        flag_unseen(&mut store);
        let Reply::Status(items) = op(
            &mut store,
            StoreOp::Status {
                mailbox: mb("INBOX"),
                items: vec![
                    StatusAttr::Messages,
                    StatusAttr::Recent,
                    StatusAttr::UidNext,
                    StatusAttr::UidValidity,
                    StatusAttr::Unseen,
                    StatusAttr::Size,
                    StatusAttr::HighestModSeq,
                ],
            },
        ) else {
            panic!()
        };
        assert_eq!(
            items,
            vec![
                (StatusAttr::Messages, 2),
                // No SELECT has taken them yet.
                (StatusAttr::Recent, 2),
                (StatusAttr::UidNext, 3),
                (StatusAttr::UidValidity, u64::from(FIRST_UID_VALIDITY)),
                (StatusAttr::Unseen, 1),
                (
                    StatusAttr::Size,
                    (b"Subject: x\r\n\r\nbody\r\n".len() + b"Subject: y\r\n\r\n".len()) as u64
                ),
            ]
        );

        // Too large.
        let big = Bytes::from(vec![b'a'; MAX_MESSAGE_SIZE + 1]);
        assert!(matches!(
            op(
                &mut store,
                StoreOp::Append {
                    mailbox: mb("INBOX"),
                    flags: vec![],
                    date: None,
                    message: big
                }
            ),
            Reply::No { code: None, .. }
        ));
        assert_eq!(store.inject(USER, "Nope", b"x", vec![], None), None);
        assert_eq!(store.inject("nobody", "INBOX", b"x", vec![], None), None);
    }

    fn flag_unseen(store: &mut MemoryStore) {
        op(
            store,
            StoreOp::StoreFlags {
                mailbox: mb("INBOX"),
                uids: vec![2],
                kind: StoreKind::Remove,
                flags: vec![Flag::Seen],
            },
        );
        store.take_changes();
    }

    #[test]
    fn mailboxes_and_list() {
        let (mut store, _) = store_with(&[]);
        assert!(store.create_mailbox(USER, "Work/Projects/2024"));
        assert!(store.create_mailbox(USER, "Sent/"));
        assert!(!store.create_mailbox(USER, "Sent"), "exists");
        assert!(!store.create_mailbox(USER, "inbox"), "INBOX exists");
        assert!(!store.create_mailbox(USER, "a*b"));
        assert!(!store.create_mailbox(USER, "a//b"));
        assert!(!store.create_mailbox(USER, ""));
        assert!(!store.create_mailbox(USER, &"x".repeat(MAX_MAILBOX_NAME + 1)));
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[
                ("Work", "created"),
                ("Work/Projects", "created"),
                ("Work/Projects/2024", "created"),
                ("Sent", "created")
            ])
        );
        let list =
            |store: &mut MemoryStore, reference: &str, pattern: &str, lsub: bool| -> Vec<String> {
                match op(
                    store,
                    StoreOp::List {
                        reference: mb(reference),
                        pattern: IString::try_from(pattern).unwrap(),
                        subscribed_only: lsub,
                    },
                ) {
                    Reply::List(v) => v
                        .iter()
                        .map(|e| e.mailbox.to_str_lossy().into_owned())
                        .collect(),
                    other => panic!("{other:?}"),
                }
            };
        assert_eq!(
            list(&mut store, "", "*", false),
            [
                "INBOX",
                "Sent",
                "Work",
                "Work/Projects",
                "Work/Projects/2024"
            ]
        );
        assert_eq!(list(&mut store, "", "%", false), ["INBOX", "Sent", "Work"]);
        assert_eq!(list(&mut store, "Work/", "%", false), ["Work/Projects"]);
        assert_eq!(
            list(&mut store, "", "Work/*", false),
            ["Work/Projects", "Work/Projects/2024"]
        );
        assert_eq!(
            list(&mut store, "", "*/2024", false),
            ["Work/Projects/2024"]
        );
        assert_eq!(list(&mut store, "", "In%", false), ["INBOX"]);
        assert_eq!(list(&mut store, "", "", false), [""]);
        // CREATE subscribes nothing; only INBOX is subscribed from the start.
        assert_eq!(list(&mut store, "", "*", true), ["INBOX"]);
        let subscribe = |store: &mut MemoryStore, name: &str, on: bool| {
            op(
                store,
                StoreOp::Subscribe {
                    mailbox: mb(name),
                    subscribe: on,
                },
            )
        };
        assert_eq!(subscribe(&mut store, "Work/Projects", true), Reply::Ok);
        assert_eq!(
            subscribe(&mut store, "Sent", false),
            Reply::no("not subscribed")
        );
        assert_eq!(list(&mut store, "", "*", true), ["INBOX", "Work/Projects"]);
        // `%` stops at Work: it is given (\Noselect) for its subscribed child.
        assert_eq!(list(&mut store, "", "%", true), ["INBOX", "Work"]);
        assert_eq!(
            op(
                &mut store,
                StoreOp::Subscribe {
                    mailbox: mb("Nope"),
                    subscribe: true
                }
            ),
            Reply::no("no such mailbox")
        );

        // DELETE: never INBOX; inferiors stay (and LIST shows the parent as \Noselect).
        assert!(matches!(
            op(
                &mut store,
                StoreOp::Delete {
                    mailbox: mb("INBOX")
                }
            ),
            Reply::No { .. }
        ));
        assert_eq!(
            op(
                &mut store,
                StoreOp::Delete {
                    mailbox: mb("Work")
                }
            ),
            Reply::Ok
        );
        assert!(matches!(
            op(
                &mut store,
                StoreOp::Delete {
                    mailbox: mb("Work")
                }
            ),
            Reply::No { .. }
        ));
        let Reply::List(entries) = op(
            &mut store,
            StoreOp::List {
                reference: mb(""),
                pattern: IString::try_from("%").unwrap(),
                subscribed_only: false,
            },
        ) else {
            panic!()
        };
        let work = entries
            .iter()
            .find(|e| e.mailbox.as_bytes() == b"Work")
            .unwrap();
        assert!(work
            .attributes
            .contains(&Flag::parse(b"\\Noselect").unwrap()));
        assert_eq!(kinds(&store.take_changes()), pairs(&[("Work", "deleted")]));

        // RENAME moves inferiors along and creates missing parents.
        assert_eq!(
            op(
                &mut store,
                StoreOp::Rename {
                    from: mb("Work/Projects"),
                    to: mb("Old/Projects")
                }
            ),
            Reply::Ok
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[
                ("Work/Projects", "renamed Old/Projects"),
                ("Work/Projects/2024", "renamed Old/Projects/2024"),
                ("Old", "created")
            ])
        );
        assert_eq!(
            list(&mut store, "", "*", false),
            ["INBOX", "Old", "Old/Projects", "Old/Projects/2024", "Sent"]
        );
        assert!(matches!(
            op(
                &mut store,
                StoreOp::Rename {
                    from: mb("Old"),
                    to: mb("Sent")
                }
            ),
            Reply::No { .. }
        ));
        assert!(matches!(
            op(
                &mut store,
                StoreOp::Rename {
                    from: mb("Old"),
                    to: mb("Old/x")
                }
            ),
            Reply::No { .. }
        ));
        assert!(matches!(
            op(
                &mut store,
                StoreOp::Rename {
                    from: mb("Nope"),
                    to: mb("x")
                }
            ),
            Reply::No { .. }
        ));

        // RENAME INBOX: its messages move, an empty INBOX remains.
        store.inject(USER, "INBOX", b"Subject: a\r\n\r\n", vec![], None);
        store.take_changes();
        assert_eq!(
            op(
                &mut store,
                StoreOp::Rename {
                    from: mb("INBOX"),
                    to: mb("Saved")
                }
            ),
            Reply::Ok
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[("INBOX", "renamed Saved"), ("INBOX", "created")])
        );
        assert_eq!(store.messages(USER, "Saved").unwrap().len(), 1);
        assert!(store.messages(USER, "INBOX").unwrap().is_empty());
    }

    #[test]
    fn uid_validity_is_deterministic() {
        let build = || {
            let mut s = MemoryStore::new();
            s.add_user("a", "1");
            s.add_user("b", "2");
            s.create_mailbox("b", "X");
            let sel = |s: &mut MemoryStore, user: &'static str, name: &str| match s.handle(
                &Request::Store {
                    user: Bytes::from_static(user.as_bytes()),
                    op: StoreOp::Select {
                        mailbox: mb(name),
                        read_only: true,
                    },
                },
            ) {
                Reply::Selected(snap) => snap.uid_validity,
                other => panic!("{other:?}"),
            };
            (
                sel(&mut s, "a", "INBOX"),
                sel(&mut s, "b", "INBOX"),
                sel(&mut s, "b", "X"),
            )
        };
        assert_eq!(
            build(),
            (
                FIRST_UID_VALIDITY,
                FIRST_UID_VALIDITY + 1,
                FIRST_UID_VALIDITY + 2
            )
        );
        assert_eq!(build(), build());
    }

    #[test]
    fn search_with_flags_and_from() {
        let (mut store, uids) = store_with(&[
            b"From: Alice <alice@example.com>\r\nSubject: one\r\n\r\nhello\r\n",
            b"From: Bob <bob@example.org>\r\nSubject: two\r\n\r\nhello\r\n",
            b"From: alice@example.com\r\nSubject: three\r\n\r\nbye\r\n",
        ]);
        op(
            &mut store,
            StoreOp::StoreFlags {
                mailbox: mb("INBOX"),
                uids: vec![uids[2]],
                kind: StoreKind::Add,
                flags: vec![Flag::Seen],
            },
        );
        let search = |store: &mut MemoryStore, criteria: Vec<SearchKey>| match op(
            store,
            StoreOp::Search {
                mailbox: mb("INBOX"),
                charset: None,
                criteria,
            },
        ) {
            Reply::Searched(v) => v,
            other => panic!("{other:?}"),
        };
        let s = |v: &str| IString::try_from(v).unwrap();
        assert_eq!(search(&mut store, vec![SearchKey::All]), [1, 2, 3]);
        assert_eq!(
            search(&mut store, vec![SearchKey::From(s("ALICE"))]),
            [1, 3]
        );
        assert_eq!(
            search(
                &mut store,
                vec![SearchKey::From(s("alice")), SearchKey::Unseen]
            ),
            [1]
        );
        assert_eq!(search(&mut store, vec![SearchKey::Seen]), [3]);
        assert_eq!(
            search(&mut store, vec![SearchKey::Body(s("hello"))]),
            [1, 2]
        );
        assert_eq!(
            search(
                &mut store,
                vec![SearchKey::SequenceSet(SequenceSet::single(2).unwrap())]
            ),
            [2]
        );
        assert_eq!(
            search(&mut store, vec![SearchKey::Uid(SequenceSet::all())]),
            [1, 2, 3]
        );
        assert_eq!(
            search(
                &mut store,
                vec![SearchKey::Not(Box::new(SearchKey::Subject(s("t"))))]
            ),
            [1]
        );
        assert!(matches!(
            op(
                &mut store,
                StoreOp::Search {
                    mailbox: mb("Nope"),
                    charset: None,
                    criteria: vec![]
                }
            ),
            Reply::No { .. }
        ));
    }

    #[test]
    fn change_overflow_forces_resync() {
        let (mut store, _) = store_with(&[]);
        store.create_mailbox(USER, "Other");
        store.take_changes();
        store.changes.limit = 3;
        for i in 0..4 {
            store.inject(
                USER,
                "INBOX",
                format!("Subject: {i}\r\n\r\n").as_bytes(),
                vec![],
                None,
            );
        }
        store.inject(USER, "Other", b"Subject: o\r\n\r\n", vec![], None);
        let Reply::Selected(inbox) = op(
            &mut store,
            StoreOp::Select {
                mailbox: mb("INBOX"),
                read_only: true,
            },
        ) else {
            panic!()
        };
        let changes = store.take_changes();
        assert_eq!(
            kinds(&changes),
            pairs(&[
                ("INBOX", "new 3"),
                ("INBOX", "new 4"),
                ("Other", "new 1"),
                ("INBOX", &format!("uidvalidity {}", inbox.uid_validity))
            ])
        );
        assert!(store.take_changes().is_empty());

        // A mailbox that lost changes and is gone is reported deleted; one renamed
        // follows its new name.
        store.create_mailbox(USER, "Gone");
        store.create_mailbox(USER, "Moving");
        for i in 0..3 {
            store.inject(
                USER,
                "INBOX",
                format!("Subject: {i}\r\n\r\n").as_bytes(),
                vec![],
                None,
            );
        }
        op(
            &mut store,
            StoreOp::Delete {
                mailbox: mb("Gone"),
            },
        );
        op(
            &mut store,
            StoreOp::Rename {
                from: mb("Moving"),
                to: mb("Moved"),
            },
        );
        assert_eq!(
            kinds(&store.take_changes()),
            pairs(&[
                ("INBOX", "new 7"),
                ("Gone", "deleted"),
                ("Moving", "renamed Moved"),
                ("Moved", "uidvalidity 4"),
                ("INBOX", "uidvalidity 1"),
            ])
        );
        // Deleted while its changes were lost, and the deletion lost too: reported.
        store.create_mailbox(USER, "Brief");
        op(
            &mut store,
            StoreOp::Delete {
                mailbox: mb("Brief"),
            },
        );
        for i in 0..3 {
            store.inject(
                USER,
                "INBOX",
                format!("Subject: {i}\r\n\r\n").as_bytes(),
                vec![],
                None,
            );
        }
        let changes = kinds(&store.take_changes());
        assert_eq!(
            changes.last(),
            Some(&("Brief".to_string(), "deleted".to_string())),
            "{changes:?}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn garbage_messages_never_panic(raw in prop::collection::vec(any::<u8>(), 0..600), part in prop::collection::vec(0u32..4, 0..3)) {
            let mut store = MemoryStore::new();
            store.add_user(USER, "pw");
            let uid = store.inject(USER, "INBOX", &raw, vec![], None).unwrap();
            let section = Section { part: part.clone(), text: None };
            let mut items = vec![
                FetchAttr::Flags, FetchAttr::InternalDate, FetchAttr::Rfc822Size, FetchAttr::Envelope,
                FetchAttr::Body, FetchAttr::BodyStructure, FetchAttr::Rfc822, FetchAttr::Rfc822Header,
                FetchAttr::Rfc822Text, FetchAttr::Uid,
                FetchAttr::Binary { peek: true, section: section.clone(), partial: Some(Partial { origin: 1, count: 5 }) },
                FetchAttr::BinarySize { section: section.clone() },
            ];
            for text in [None, Some(SectionText::Header), Some(SectionText::Text), Some(SectionText::Mime)] {
                items.push(body(&part, text, false, Some(Partial { origin: 3, count: 7 })));
            }
            let fetched = fetch(&mut store, "INBOX", &[uid], items);
            prop_assert_eq!(fetched.len(), 1);
            let search = op(&mut store, StoreOp::Search { mailbox: mb("INBOX"), charset: None, criteria: vec![SearchKey::Text(IString::try_from("a").unwrap())] });
            prop_assert!(matches!(search, Reply::Searched(_)));
        }
    }

    #[test]
    fn a_deleted_mailbox_stays_subscribed_until_unsubscribed() {
        let (mut store, _) = store_with(&[]);
        assert!(store.create_mailbox(USER, "Lists"));
        let sub = |on: bool| StoreOp::Subscribe {
            mailbox: mb("Lists"),
            subscribe: on,
        };
        let lsub = || StoreOp::List {
            reference: mb(""),
            pattern: IString::try_from("*").unwrap(),
            subscribed_only: true,
        };
        assert_eq!(op(&mut store, sub(true)), Reply::Ok);
        assert_eq!(
            op(
                &mut store,
                StoreOp::Delete {
                    mailbox: mb("Lists")
                }
            ),
            Reply::Ok
        );
        // RFC 3501 6.3.6: the name is not removed from the subscriptions unilaterally.
        let Reply::List(v) = op(&mut store, lsub()) else {
            panic!()
        };
        let gone = v
            .iter()
            .find(|e| e.mailbox.as_bytes() == b"Lists")
            .expect("listed");
        assert!(gone
            .attributes
            .iter()
            .any(|a| matches!(a, Flag::Extension(x) if x.as_bytes() == b"Noselect")));
        assert_eq!(
            op(&mut store, sub(false)),
            Reply::Ok,
            "unsubscribing a gone name"
        );
        let Reply::List(v) = op(&mut store, lsub()) else {
            panic!()
        };
        assert!(v.iter().all(|e| e.mailbox.as_bytes() != b"Lists"));
    }
}
