//! The delivery ledger of a device session: what was written to the device's connection and
//! not yet known to be applied, so that a connection that dies with data in flight loses
//! nothing silently (the `XRESUME` extension, [`ResumeCursor`]).
//!
//! Each attachment of the session to a connection is an *epoch*. A client that opted in
//! (`XRESUME` before login) reports at the next login the position of the last response it
//! applied; the server then undoes, on its own view of the device's state, the deliveries
//! after that position and queues them again, so they are delivered once more, renumbered
//! against the state the device really has. Any other client that dropped the connection
//! after events were written to it is owed `* RESYNC` (the drafts' rule).

use std::collections::VecDeque;

use bytes::Bytes;

use pimap_types::ResumeCursor;

use super::session::{FolderEvent, QueuedEvent};

/// The effect a delivered message event had on the device's view of the selected folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Flags only: the view's membership did not change.
    None,
    /// The UID was appended to the view (`* n EXISTS` or a new-format FETCH).
    Added(u32),
    /// The UID was removed from the view (`* n EXPUNGE`).
    Removed(u32),
}

/// One delivered response that changed the device's state.
#[derive(Debug, Clone)]
pub(crate) enum Delivered {
    /// A message event of the selected folder.
    Message {
        key: Bytes,
        ev: QueuedEvent,
        effect: Effect,
    },
    /// A folder event (`* LIST`).
    Folder(FolderEvent),
    /// An event was written, on an attachment that keeps no entries (the client did not
    /// opt in): only the conservative rule needs to know.
    Written,
    /// A restatement the client can do without (`* n RECENT`, `* FLAGS` naming a new
    /// keyword): not replayed, and its loss needs no RESYNC.
    Announcement,
    /// `* RESYNC`: the device rebuilds its state; not replayable.
    Resync,
    /// A SELECT / EXAMINE response replaced the view; not replayable. A client that never saw
    /// it knows (it has no tagged OK), so it does not count for the conservative rule.
    Selected,
}

#[derive(Debug)]
struct Entry {
    /// Offset just after the response, in the epoch's stream (`u64::MAX` while inside an
    /// XZIP capture that has not ended).
    end: u64,
    /// Inside an XZIP response that started at this offset: a position strictly inside the
    /// XZIP output cannot be honoured.
    zip_start: Option<u64>,
    what: Delivered,
}

/// What a new attachment owes the device.
#[derive(Debug)]
pub(crate) enum Resolution {
    /// Replay these deliveries (oldest first): undo them on the view and queue them again.
    Replay(Vec<Delivered>),
    /// The device's state is unknown: owe `* RESYNC`.
    Resync,
}

/// The delivery ledger of one device session.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    epoch: u64,
    /// The current attachment announced `XRESUME epoch`: entries are kept.
    exact: bool,
    entries: VecDeque<Entry>,
    /// Positions at or below this were forgotten (trimmed or confirmed): a cursor below it
    /// cannot be honoured.
    floor: ResumeCursor,
    /// Something was written on the current attachment that the device may not have read.
    unconfirmed: bool,
    /// Octets written on the current attachment (known when its connection closed, or
    /// updated by the server as it writes).
    written: u64,
}

impl Ledger {
    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Does the current attachment keep entries (the client opted in)?
    pub fn keeps_entries(&self) -> bool {
        self.exact
    }

    /// Deliveries kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Record a delivery that ended at `end`. At most `max` entries are kept; older ones are
    /// forgotten (a position before them then means RESYNC).
    pub fn record(&mut self, end: u64, zip_start: Option<u64>, what: Delivered, max: usize) {
        if matches!(what, Delivered::Announcement) {
            return;
        }
        if !matches!(what, Delivered::Selected) {
            self.unconfirmed = true;
        }
        if !self.exact {
            return;
        }
        if end != u64::MAX {
            self.written = self.written.max(end);
        }
        self.entries.push_back(Entry {
            end,
            zip_start,
            what,
        });
        while self.entries.len() > max.max(1) {
            if let Some(e) = self.entries.pop_front() {
                self.forget_through(e.end);
            }
        }
    }

    /// An XZIP capture ended at `end`: its deliveries end there.
    pub fn zip_ended(&mut self, end: u64) {
        self.written = self.written.max(end);
        for e in self.entries.iter_mut().rev() {
            if e.end != u64::MAX {
                break;
            }
            e.end = end;
        }
    }

    /// The connection of the current attachment closed (or was replaced) having written
    /// `written` octets after the `XRESUME` line.
    pub fn detached(&mut self, written: u64) {
        self.written = self.written.max(written);
    }

    /// The device acknowledged a position of the current epoch: forget what precedes it.
    pub fn acknowledge(&mut self, at: ResumeCursor) {
        if !self.exact || at.epoch != self.epoch || at.offset > self.written {
            return;
        }
        while self.entries.front().is_some_and(|e| e.end <= at.offset) {
            self.entries.pop_front();
        }
        if self.entries.is_empty() {
            self.unconfirmed = false;
        }
        self.floor = self.floor.max(at);
    }

    fn forget_through(&mut self, end: u64) {
        let end = if end == u64::MAX { self.written } else { end };
        self.floor = self.floor.max(ResumeCursor {
            epoch: self.epoch,
            offset: end,
        });
    }

    /// A new attachment: decide what the device is owed, given the position it reported
    /// (`None`: it did not use the extension), and start epoch `epoch() + 1`. `exact` tells
    /// whether the new attachment announces `XRESUME`.
    pub fn attach(&mut self, reported: Option<ResumeCursor>, exact: bool) -> Resolution {
        let resolution = match reported {
            Some(at) if self.exact => self.resolve(at),
            _ if self.unconfirmed => Resolution::Resync,
            _ => Resolution::Replay(Vec::new()),
        };
        let confirmed = match (&resolution, reported) {
            (Resolution::Replay(_), Some(at)) if self.exact => at,
            _ => ResumeCursor {
                epoch: self.epoch + 1,
                offset: 0,
            },
        };
        self.entries.clear();
        self.epoch += 1;
        self.exact = exact;
        self.unconfirmed = false;
        self.written = 0;
        self.floor = confirmed;
        resolution
    }

    fn resolve(&mut self, at: ResumeCursor) -> Resolution {
        let end = ResumeCursor {
            epoch: self.epoch,
            offset: self.written,
        };
        if at < self.floor || at > end {
            return Resolution::Resync;
        }
        let mut replay = Vec::new();
        for e in &self.entries {
            let inside_zip = at.epoch == self.epoch
                && e.zip_start
                    .is_some_and(|s| s < at.offset && at.offset < e.end);
            if inside_zip {
                return Resolution::Resync;
            }
            let after = at.epoch < self.epoch || e.end > at.offset;
            if !after {
                continue;
            }
            match &e.what {
                Delivered::Resync | Delivered::Selected | Delivered::Written => {
                    return Resolution::Resync
                }
                Delivered::Announcement => {}
                what => replay.push(what.clone()),
            }
        }
        Resolution::Replay(replay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(uid: u32) -> Delivered {
        Delivered::Message {
            key: Bytes::from_static(b"INBOX"),
            ev: QueuedEvent::Flags {
                uid,
                flags: Vec::new(),
            },
            effect: Effect::None,
        }
    }

    fn at(epoch: u64, offset: u64) -> Option<ResumeCursor> {
        Some(ResumeCursor { epoch, offset })
    }

    fn replayed(r: Resolution) -> Vec<u32> {
        match r {
            Resolution::Replay(v) => v
                .iter()
                .map(|d| match d {
                    Delivered::Message {
                        ev: QueuedEvent::Flags { uid, .. },
                        ..
                    } => *uid,
                    _ => 0,
                })
                .collect(),
            Resolution::Resync => panic!("resync"),
        }
    }

    #[test]
    fn exact_position_replays_only_what_follows() {
        let mut l = Ledger::default();
        assert!(matches!(l.attach(None, true), Resolution::Replay(v) if v.is_empty()));
        l.record(10, None, flags(1), 100);
        l.record(20, None, flags(2), 100);
        l.record(30, None, flags(3), 100);
        l.detached(35);
        assert_eq!(replayed(l.attach(at(1, 20), true)), vec![3]);
        // The device never saw epoch 2's line: everything of epoch 2 is replayed again.
        l.record(12, None, flags(3), 100);
        l.detached(12);
        assert_eq!(replayed(l.attach(at(1, 20), true)), vec![3]);
    }

    #[test]
    fn positions_that_cannot_be_honoured_mean_resync() {
        let mut l = Ledger::default();
        let _ = l.attach(None, true);
        l.record(10, None, flags(1), 100);
        l.detached(10);
        // Beyond what was written.
        assert!(matches!(l.attach(at(1, 11), true), Resolution::Resync));
        // Older than the floor (the resync of epoch 2 was never seen).
        assert!(matches!(l.attach(at(1, 10), true), Resolution::Resync));
        // Trimmed entries: a position before them.
        l.record(10, None, flags(1), 2);
        l.record(20, None, flags(2), 2);
        l.record(30, None, flags(3), 2);
        l.detached(30);
        assert!(matches!(l.attach(at(3, 5), true), Resolution::Resync));
        // Inside an XZIP response.
        l.record(u64::MAX, Some(5), flags(1), 10);
        l.zip_ended(50);
        assert!(matches!(l.attach(at(4, 20), true), Resolution::Resync));
        // A SELECT the device may not have seen.
        l.record(10, None, Delivered::Selected, 10);
        assert!(matches!(l.attach(at(5, 0), true), Resolution::Resync));
    }

    #[test]
    fn without_the_extension_any_written_event_means_resync() {
        let mut l = Ledger::default();
        let _ = l.attach(None, false);
        l.record(10, None, Delivered::Selected, 10);
        assert!(matches!(l.attach(None, false), Resolution::Replay(v) if v.is_empty()));
        l.record(10, None, flags(1), 10);
        assert!(matches!(l.attach(None, false), Resolution::Resync));
        assert!(matches!(l.attach(None, false), Resolution::Replay(v) if v.is_empty()));
    }

    #[test]
    fn acknowledgements_trim() {
        let mut l = Ledger::default();
        let _ = l.attach(None, true);
        l.record(10, None, flags(1), 100);
        l.record(20, None, flags(2), 100);
        l.acknowledge(ResumeCursor {
            epoch: 1,
            offset: 10,
        });
        assert_eq!(l.len(), 1);
        l.detached(20);
        assert!(matches!(l.attach(at(1, 5), true), Resolution::Resync));
    }
}
