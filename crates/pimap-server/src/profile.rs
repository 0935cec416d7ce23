//! Per-device state that outlives sessions: preferences, filters and macros (spec §1.2,
//! §3.6, §3.7), and the trait that persists it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use pimap_types::{Channel, EventFilter, FilterType, IString, Mailbox, NewFormat, OutbandFormat};

use super::filter::Filter;

static ALL_FILTER: std::sync::LazyLock<Filter> = std::sync::LazyLock::new(Filter::all);

/// The preferences of one device (XSETPIMAPPREF).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prefs {
    /// PIMAP_OUTBAND_ADDRESS.
    pub outband_address: Option<IString>,
    /// PIMAP_OUTBAND_CHANNEL (`NONE` disables out-of-band notification).
    pub outband_channel: Channel,
    /// PIMAP_INBAND_NEW_FORMAT.
    pub inband_new_format: NewFormat,
    /// PIMAP_OUTBAND_NEW_FORMAT (-00/-01).
    pub outband_new_format: NewFormat,
    /// PIMAP_INBAND_PUSH.
    pub inband_push: bool,
    /// PIMAP_OUTBAND_FORMAT.
    pub outband_format: OutbandFormat,
    /// PIMAP_EVENT_FILTER.
    pub event_filter: EventFilter,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            outband_address: None,
            outband_channel: Channel::None,
            inband_new_format: NewFormat::None,
            outband_new_format: NewFormat::None,
            inband_push: false,
            outband_format: OutbandFormat::Emn,
            event_filter: EventFilter::All,
        }
    }
}

/// Which filter is active in one slot: inline criteria (XFILTER generation 1) or a named
/// filter (generation 3, activated with PIMAP_XFILTER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterRef {
    /// Criteria set directly.
    Inline(Filter),
    /// A named filter of [`DeviceProfile::named_filters`] (or `ALL`).
    Named(Bytes),
}

/// The view and notification filter of one folder (or of all folders).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderFilters {
    /// View filter (default: ALL).
    pub view: Option<FilterRef>,
    /// Notification filter (default: NONE).
    pub notification: Option<FilterRef>,
}

/// A named filter (XFILTER SET).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFilter {
    /// Description.
    pub description: IString,
    /// Criteria.
    pub filter: Filter,
}

/// Everything the server keeps per (user, device) across sessions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DeviceProfile {
    /// Preferences.
    pub prefs: Prefs,
    /// Named filters by upper-case name.
    pub named_filters: BTreeMap<Bytes, NamedFilter>,
    /// Filters that apply to every folder (`ALL`).
    pub all_folders: FolderFilters,
    /// Per-folder filters, by normalised folder name (INBOX upper-cased); they override
    /// `all_folders` slot by slot.
    pub folders: BTreeMap<Bytes, FolderFilters>,
    /// XMACRO definitions by upper-case name: the command templates.
    pub macros: BTreeMap<Bytes, Vec<IString>>,
}

/// Limits on a profile (documented, configurable in [`ServerConfig`](super::ServerConfig)).
pub(crate) const MAX_NAMED_FILTERS: usize = 256;
pub(crate) const MAX_FOLDER_FILTERS: usize = 1024;

/// The normalised key of a mailbox (INBOX is case-insensitive).
pub(crate) fn folder_key(m: &Mailbox) -> Bytes {
    if m.is_inbox() {
        Bytes::from_static(b"INBOX")
    } else {
        m.to_bytes()
    }
}

impl DeviceProfile {
    fn slot(&self, folder: &Bytes, ty: FilterType) -> Option<&FilterRef> {
        fn pick(f: &FolderFilters, ty: FilterType) -> Option<&FilterRef> {
            match ty {
                FilterType::Notification => f.notification.as_ref(),
                _ => f.view.as_ref(),
            }
        }
        self.folders
            .get(folder)
            .and_then(|f| pick(f, ty))
            .or_else(|| pick(&self.all_folders, ty))
    }

    fn resolve<'a>(&'a self, r: Option<&'a FilterRef>) -> Option<&'a Filter> {
        match r? {
            FilterRef::Inline(f) => Some(f),
            FilterRef::Named(n) => self.named_filters.get(n).map(|nf| &nf.filter),
        }
    }

    /// The effective view filter of a folder (`None` = ALL).
    pub fn view_filter(&self, folder: &Bytes) -> Option<&Filter> {
        match self.slot(folder, FilterType::View) {
            Some(FilterRef::Named(n)) if n.eq_ignore_ascii_case(b"ALL") => None,
            r => self.resolve(r),
        }
    }

    /// The effective notification filter of a folder (`None` = NONE: nothing pushed).
    pub fn notification_filter(&self, folder: &Bytes) -> Option<&Filter> {
        match self.slot(folder, FilterType::Notification) {
            Some(FilterRef::Named(n)) if n.eq_ignore_ascii_case(b"ALL") => Some(&*ALL_FILTER),
            r => self.resolve(r),
        }
    }

    /// Set a slot (`folder` `None` = all folders).
    pub(crate) fn set_filter(&mut self, folder: Option<Bytes>, ty: FilterType, r: FilterRef) {
        let slot = match folder {
            None => &mut self.all_folders,
            Some(k) => self.folders.entry(k).or_default(),
        };
        if matches!(ty, FilterType::View | FilterType::Both) {
            slot.view = Some(r.clone());
        }
        if matches!(ty, FilterType::Notification | FilterType::Both) {
            slot.notification = Some(r);
        }
    }
}

/// Where device profiles live between sessions. The server calls `load` when a device logs
/// in and `save` after every change of preferences, filters or macros. Implementations
/// should be fast (an in-process cache in front of a database, for example): the calls are
/// synchronous.
pub trait Persistence: Send {
    /// The stored profile of a device, if any.
    fn load(&mut self, user: &[u8], device: &[u8]) -> Option<DeviceProfile>;
    /// Store a device's profile.
    fn save(&mut self, user: &[u8], device: &[u8], profile: &DeviceProfile);

    /// [`load`](Self::load) for the server's own use: an implementation that keeps
    /// profiles in memory can hand out the profile it holds instead of a copy (the default
    /// wraps `load`).
    fn load_shared(&mut self, user: &[u8], device: &[u8]) -> Option<Arc<DeviceProfile>> {
        self.load(user, device).map(Arc::new)
    }

    /// [`save`](Self::save) of the profile the session holds: an in-memory implementation
    /// can keep the same allocation rather than a copy (the default calls `save`).
    fn save_shared(&mut self, user: &[u8], device: &[u8], profile: &Arc<DeviceProfile>) {
        self.save(user, device, profile);
    }
}

/// Profiles kept in memory (the default), at most [`MemoryPersistence::DEFAULT_PER_USER`]
/// per account: saving the profile of one more device drops the account's least recently
/// used one (a device gone for good), so no account can grow the table without bound.
/// A connected device's profile is shared with its session, not copied.
#[derive(Debug)]
pub struct MemoryPersistence {
    profiles: HashMap<(Bytes, Bytes), (Arc<DeviceProfile>, u64)>,
    /// Devices with a profile, per account.
    devices: HashMap<Bytes, Vec<Bytes>>,
    per_user: usize,
    tick: u64,
}

impl Default for MemoryPersistence {
    fn default() -> Self {
        Self::with_limit(Self::DEFAULT_PER_USER)
    }
}

impl MemoryPersistence {
    /// Profiles kept per account by default.
    pub const DEFAULT_PER_USER: usize = 64;

    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store keeping at most `per_user` profiles per account (at least 1).
    pub fn with_limit(per_user: usize) -> Self {
        Self {
            profiles: HashMap::new(),
            devices: HashMap::new(),
            per_user: per_user.max(1),
            tick: 0,
        }
    }

    /// Number of stored profiles.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// No profile stored.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    fn touch(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

impl MemoryPersistence {
    fn get(&mut self, user: &[u8], device: &[u8]) -> Option<Arc<DeviceProfile>> {
        let t = self.touch();
        let key = (Bytes::copy_from_slice(user), Bytes::copy_from_slice(device));
        self.profiles.get_mut(&key).map(|(p, used)| {
            *used = t;
            Arc::clone(p)
        })
    }

    fn put(&mut self, user: &[u8], device: &[u8], profile: Arc<DeviceProfile>) {
        let t = self.touch();
        let key = (Bytes::copy_from_slice(user), Bytes::copy_from_slice(device));
        if let Some(slot) = self.profiles.get_mut(&key) {
            *slot = (profile, t);
            return;
        }
        let list = self.devices.entry(key.0.clone()).or_default();
        if list.len() >= self.per_user {
            // Drop the least recently used profile of this account.
            let oldest = list
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| {
                    self.profiles
                        .get(&(key.0.clone(), (*d).clone()))
                        .map_or(0, |(_, used)| *used)
                })
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                let gone = list.swap_remove(i);
                self.profiles.remove(&(key.0.clone(), gone));
            }
        }
        list.push(key.1.clone());
        self.profiles.insert(key, (profile, t));
    }
}

impl Persistence for MemoryPersistence {
    fn load(&mut self, user: &[u8], device: &[u8]) -> Option<DeviceProfile> {
        self.get(user, device).map(|p| (*p).clone())
    }

    fn save(&mut self, user: &[u8], device: &[u8], profile: &DeviceProfile) {
        self.put(user, device, Arc::new(profile.clone()));
    }

    fn load_shared(&mut self, user: &[u8], device: &[u8]) -> Option<Arc<DeviceProfile>> {
        self.get(user, device)
    }

    fn save_shared(&mut self, user: &[u8], device: &[u8], profile: &Arc<DeviceProfile>) {
        self.put(user, device, Arc::clone(profile));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_per_account_are_capped_least_recently_used_first() {
        let mut m = MemoryPersistence::with_limit(2);
        let p = DeviceProfile::default();
        m.save(b"joe", b"a", &p);
        m.save(b"joe", b"b", &p);
        assert!(m.load(b"joe", b"a").is_some()); // `a` is now more recent than `b`
        m.save(b"joe", b"c", &p);
        assert_eq!(m.len(), 2);
        assert!(
            m.load(b"joe", b"b").is_none(),
            "least recently used dropped"
        );
        assert!(m.load(b"joe", b"a").is_some() && m.load(b"joe", b"c").is_some());
        // Other accounts are not affected.
        m.save(b"ann", b"a", &p);
        assert_eq!(m.len(), 3);
    }
}
