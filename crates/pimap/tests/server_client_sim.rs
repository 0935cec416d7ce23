//! Deterministic client <-> server simulation in virtual time: the crate's
//! own `Client` against the crate's `Server` over a scripted store, driven by thousands of
//! random sequences of commands, disconnects, reconnects and mailbox changes.
//!
//! Checked during each run: a change produces in-band output for an idling device exactly
//! when the device's filters select it for push (view ∩ notification ∩ event filter), and an
//! out-of-band notification for a disconnected device exactly then too; no connected,
//! non-idling device receives unsolicited output.
//! Checked after each run: every device's view of INBOX (UIDs and flags) equals the store's
//! INBOX filtered by that device's view filter, after at most a state-comparison resync that
//! the server asked for with RESYNC.
//!
//! The network is modelled as it is: what the server writes is in flight until the device
//! reads it, devices stall (stop reading) at random, and at a disconnect a random suffix of
//! the bytes in flight is lost (cut anywhere, also inside a line), as is a random suffix of
//! the bytes the client was sending. Half of the devices resume with `XRESUME` positions,
//! the others without (the server must then owe RESYNC). An event lost without RESYNC, or
//! applied twice, shows as a view that differs from the store (or as an inconsistency the
//! client reports, which fails the run).

#[path = "support/server_harness.rs"]
mod harness;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use harness::*;
use pimap::client::{Client, ClientConfig, Event, LoginOutcome, MailboxView, Output};
use pimap::server::blocking::{Action, CollectingNotifier, Driver};
use pimap::server::{ConnId, MemoryPersistence, SeededRandom, Server, ServerConfig};
use pimap::types::{FetchAttr, FetchItems, Flag, SequenceSet};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum EventKind {
    All,
    New,
    None,
}

struct Device {
    id: String,
    /// View filter: only subjects containing "keep" (else ALL).
    view_keep: bool,
    /// Notification filter ALL (else NONE).
    notify: bool,
    events: EventKind,
    client: Option<Client>,
    conn: Option<ConnId>,
    cached: Option<MailboxView>,
    /// The XRESUME position carried across connections (with `cached`).
    cursor: Option<pimap::types::ResumeCursor>,
    /// Uses XRESUME (else the server's conservative rule applies).
    resumes_exactly: bool,
    /// Server bytes written and not yet read by the device.
    inflight: Vec<u8>,
    idle: bool,
    resync_seen: bool,
    notifications: usize,
}

#[derive(Default, Debug)]
struct Stats {
    lossy_disconnects: usize,
    /// Resumptions of XRESUME devices, and how many of them came with RESYNC.
    xresume_resumes: usize,
    xresume_resyncs: usize,
    bytes_lost: usize,
    stalls: usize,
    changes: usize,
    inband_pushes: usize,
    oob: usize,
    resumes: usize,
    resync: usize,
    resync_pushed: usize,
    checked_messages: usize,
}

struct Sim {
    in_sync: bool,
    stats: Stats,
    d: Driver<ScriptStore, RecordingSubmitter, CollectingNotifier>,
    now: Instant,
    devs: Vec<Device>,
    by_conn: HashMap<ConnId, usize>,
}

fn fetch_all() -> (SequenceSet, FetchItems) {
    (
        SequenceSet::all(),
        FetchItems::List(vec![FetchAttr::Uid, FetchAttr::Flags]),
    )
}

impl Sim {
    fn new(seed: u64, ndev: usize, rng: &mut Rng) -> Self {
        let mut store = ScriptStore::default();
        store.add_folder("joe", "INBOX", 0);
        let mut config = ServerConfig::default();
        config.max_queued_events = 12;
        let server = Server::with_parts(
            config,
            Box::new(SeededRandom::new(seed)),
            Box::new(MemoryPersistence::new()),
        );
        let mut sim = Sim {
            in_sync: false,
            stats: Stats::default(),
            d: Driver::new(
                server,
                store,
                RecordingSubmitter::default(),
                CollectingNotifier::default(),
            ),
            now: Instant::now(),
            devs: Vec::new(),
            by_conn: HashMap::new(),
        };
        for i in 0..5 {
            let subject = if i % 2 == 0 { "keep me" } else { "drop me" };
            sim.d.store.deliver("joe", "INBOX", subject);
        }
        let _ = sim.d.store.take_changes_for_test();
        for i in 0..ndev {
            sim.devs.push(Device {
                id: format!("dev{i}"),
                view_keep: rng.below(2) == 0,
                notify: rng.below(3) != 0,
                events: match rng.below(3) {
                    0 => EventKind::All,
                    1 => EventKind::New,
                    _ => EventKind::None,
                },
                client: None,
                conn: None,
                cached: None,
                cursor: None,
                resumes_exactly: rng.below(2) == 0,
                inflight: Vec::new(),
                idle: false,
                resync_seen: false,
                notifications: 0,
            });
        }
        sim
    }

    fn absorb(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Transmit(c, bytes) => {
                    if let Some(&i) = self.by_conn.get(&c) {
                        if std::env::var("PIMAP_SIM_WIRE").is_ok() {
                            eprint!("S{i}: {}", String::from_utf8_lossy(&bytes));
                        }
                        // In flight until the device reads.
                        self.devs[i].inflight.extend_from_slice(&bytes);
                    }
                }
                Action::Close(c) => {
                    // The server closed after writing: those bytes arrive (FIN after data).
                    if let Some(i) = self.by_conn.remove(&c) {
                        self.read_inflight(i, usize::MAX);
                        self.disconnected(i);
                    }
                }
                // STARTTLS is not offered in the simulation.
                other => panic!("unexpected action {other:?}"),
            }
        }
    }

    /// The device reads up to `n` bytes of what is in flight.
    fn read_inflight(&mut self, i: usize, n: usize) {
        let dev = &mut self.devs[i];
        let n = n.min(dev.inflight.len());
        let bytes: Vec<u8> = dev.inflight.drain(..n).collect();
        if let Some(cl) = dev.client.as_mut() {
            if !bytes.is_empty() {
                cl.handle_input(&bytes, self.now);
            }
        }
    }

    fn disconnected(&mut self, i: usize) {
        let dev = &mut self.devs[i];
        if let Some(cl) = dev.client.take() {
            // A view the client built (or restored and updated) replaces the cached one; a
            // connection that never got as far keeps the old cache.
            if let Some(v) = cl.mailbox() {
                dev.cached = Some(v.clone());
            }
            if let Some(c) = cl.resume_cursor() {
                dev.cursor = Some(c);
            }
        }
        dev.inflight.clear();
        dev.conn = None;
        dev.idle = false;
    }

    /// The connection dies with data in flight both ways: a random prefix of what the client
    /// was sending (a command it just issued) reaches the server, a random prefix of what the
    /// server wrote reaches the client, the rest is lost.
    fn lossy_disconnect(&mut self, i: usize, rng: &mut Rng) {
        let Some(c) = self.devs[i].conn else {
            return;
        };
        self.stats.lossy_disconnects += 1;
        if rng.below(2) == 0 {
            let idle = self.devs[i].idle;
            let mut out = Vec::new();
            if let Some(cl) = self.devs[i].client.as_mut() {
                if idle {
                    let _ = cl.done();
                } else {
                    let _ = cl.noop();
                }
                while let Some(o) = cl.poll_output() {
                    if let Output::Transmit(b) = o {
                        out.extend_from_slice(&b);
                    }
                }
            }
            let keep = rng.below(out.len() as u64 + 1) as usize;
            self.stats.bytes_lost += out.len() - keep;
            if keep > 0 {
                let a = self.d.input(c, &out[..keep], self.now).expect("input");
                self.absorb(a);
            }
        }
        let len = self.devs[i].inflight.len();
        let keep = rng.below(len as u64 + 1) as usize;
        self.stats.bytes_lost += len - keep;
        self.read_inflight(i, keep);
        // What the device made of the bytes that did arrive (a RESYNC it read stays owed).
        let mut events = Vec::new();
        if let Some(cl) = self.devs[i].client.as_mut() {
            while let Some(o) = cl.poll_output() {
                if let Output::Event(e) = o {
                    events.push(e);
                }
            }
        }
        self.note_events(i, &events);
        let a = self.d.closed(c, self.now);
        self.by_conn.remove(&c);
        self.devs[i].inflight.clear();
        self.absorb(a);
        self.disconnected(i);
    }

    /// Move bytes both ways until nothing moves; returns the events the device's client saw.
    fn pump(&mut self, i: usize) -> Vec<Event> {
        let mut events = Vec::new();
        for _ in 0..100 {
            self.read_inflight(i, usize::MAX);
            let (Some(conn), Some(cl)) = (self.devs[i].conn, self.devs[i].client.as_mut()) else {
                return events;
            };
            let mut out = Vec::new();
            while let Some(o) = cl.poll_output() {
                match o {
                    Output::Transmit(b) => out.extend_from_slice(&b),
                    Output::Event(e) => events.push(e),
                    _ => {}
                }
            }
            if out.is_empty() {
                return events;
            }
            if std::env::var("PIMAP_SIM_WIRE").is_ok() {
                eprint!("C{i}: {}", String::from_utf8_lossy(&out));
            }
            let a = self.d.input(conn, &out, self.now).expect("input");
            self.absorb(a);
        }
        panic!("pump did not settle");
    }

    fn notes(&mut self) {
        for n in self.d.notifier.sent.drain(..) {
            if let Some(d) = self
                .devs
                .iter_mut()
                .find(|d| d.id.as_bytes() == &n.device[..])
            {
                d.notifications += 1;
            }
        }
    }

    fn note_events(&mut self, i: usize, events: &[Event]) {
        for e in events {
            match e {
                Event::LoggedIn(LoginOutcome::ResyncRequired { .. })
                    if self.devs[i].resumes_exactly =>
                {
                    self.stats.xresume_resumes += 1;
                    self.stats.xresume_resyncs += 1;
                    self.stats.resync += 1;
                    self.devs[i].resync_seen = true
                }
                Event::ResyncRequired | Event::LoggedIn(LoginOutcome::ResyncRequired { .. }) => {
                    self.stats.resync += 1;
                    self.devs[i].resync_seen = true
                }
                Event::LoggedIn(LoginOutcome::ResumedSelected { .. }) => {
                    self.stats.resumes += 1;
                    if self.devs[i].resumes_exactly {
                        self.stats.xresume_resumes += 1;
                    }
                }
                // After RESYNC the client's view is known to be stale until it resyncs.
                Event::ViewInconsistent(why) if !self.devs[i].resync_seen => {
                    panic!("device {i}: view inconsistent: {why}")
                }
                _ => {}
            }
        }
    }

    fn run_cmd(&mut self, i: usize, f: impl FnOnce(&mut Client)) {
        let mut f = Some(f);
        self.run_cmd_dyn(i, &mut |c| {
            if let Some(f) = f.take() {
                f(c)
            }
        });
    }

    fn run_cmd_dyn(&mut self, i: usize, f: &mut dyn FnMut(&mut Client)) {
        if let Some(cl) = self.devs[i].client.as_mut() {
            f(cl);
        }
        let ev = self.pump(i);
        self.note_events(i, &ev);
        self.devs[i].idle = self.idling(i);
        // A real client answers RESYNC with a state-comparison sync right away (leaving
        // IDLE for it, and idling again afterwards).
        if self.devs[i].resync_seen && !self.in_sync && self.devs[i].conn.is_some() {
            let was_idle = self.devs[i].idle;
            if was_idle {
                self.devs[i].idle = false;
                self.in_sync = true;
                self.run_cmd_dyn(i, &mut |c| {
                    c.done().expect("done");
                });
                self.in_sync = false;
            }
            self.full_sync(i);
            if was_idle && self.devs[i].conn.is_some() {
                self.run_cmd_dyn(i, &mut |c| {
                    c.idle().expect("idle");
                });
            }
        }
    }

    fn idling(&self, i: usize) -> bool {
        self.devs[i].client.as_ref().is_some_and(|c| c.is_idling())
    }

    fn connect(&mut self, i: usize) {
        let (conn, a) = self.d.accept(self.now).expect("accept");
        self.by_conn.insert(conn, i);
        let mut config = ClientConfig::default();
        config.resume_positions = self.devs[i].resumes_exactly;
        let mut cl = Client::new(config);
        if let Some(v) = self.devs[i].cached.clone() {
            cl.restore_view(v);
        }
        if let Some(c) = self.devs[i].cursor {
            cl.restore_cursor(c);
        }
        self.devs[i].client = Some(cl);
        self.devs[i].conn = Some(conn);
        self.absorb(a);
        // The greeting (with XRESUME among the capabilities) before LOGIN.
        self.read_inflight(i, usize::MAX);
        let user = format!("joe#{}", self.devs[i].id);
        if let Some(c) = self.devs[i].client.as_mut() {
            c.login(&user, "pw").expect("login");
        }
        let ev = self.pump(i);
        let fresh = ev
            .iter()
            .any(|e| matches!(e, Event::LoggedIn(LoginOutcome::Fresh)));
        self.note_events(i, &ev);
        if fresh {
            self.devs[i].resync_seen = false;
            // First login (or lost session): set filters and preferences, then full sync.
            let d = &self.devs[i];
            let mut lines: Vec<String> = Vec::new();
            if d.view_keep {
                lines.push("XFILTER INBOX V SUBJECT \"keep\"".into());
            }
            lines.push(format!(
                "XFILTER INBOX N {}",
                if d.notify { "ALL" } else { "NONE" }
            ));
            lines.push(format!(
                "XSETPIMAPPREF PIMAP_EVENT_FILTER {}",
                match d.events {
                    EventKind::All => "ALL",
                    EventKind::New => "NEW",
                    EventKind::None => "NONE",
                }
            ));
            lines.push("XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS)".into());
            lines.push("XSETPIMAPPREF PIMAP_OUTBAND_CHANNEL SMS".into());
            lines.push("XSETPIMAPPREF PIMAP_OUTBAND_ADDRESS 5551234".into());
            for l in lines {
                let mut dec = pimap::codec::CommandDecoder::default();
                dec.feed(format!("x {l}\r\n").as_bytes());
                let Ok(Some(pimap::types::ClientMessage::Command(cmd))) = dec.next() else {
                    panic!("bad setup line {l}");
                };
                self.run_cmd(i, |c| {
                    c.enqueue(cmd.body).expect("enqueue");
                });
            }
            self.full_sync(i);
        } else if self.devs[i].resync_seen {
            self.full_sync(i);
        }
    }

    fn full_sync(&mut self, i: usize) {
        if self.devs[i].conn.is_none() {
            return;
        }
        self.in_sync = true;
        self.run_cmd_dyn(i, &mut |c| {
            c.select("INBOX").expect("select");
        });
        self.run_cmd_dyn(i, &mut |c| {
            let (set, items) = fetch_all();
            c.fetch(true, set, items).expect("fetch");
        });
        self.in_sync = false;
        self.devs[i].resync_seen = false;
    }

    /// Expected: does this change get pushed to device `i`?
    fn pushed(&self, i: usize, subject_keep: bool, is_new: bool) -> bool {
        let d = &self.devs[i];
        let in_view = !d.view_keep || subject_keep;
        let kind = match d.events {
            EventKind::All => true,
            EventKind::New => is_new,
            EventKind::None => false,
        };
        in_view && d.notify && kind
    }

    /// Apply a store change and check push behaviour for every device.
    fn change(&mut self, rng: &mut Rng) {
        let msgs: Vec<(u32, bool)> = self
            .d
            .store
            .messages("joe", "INBOX")
            .into_iter()
            .map(|m| {
                (
                    m.uid,
                    m.props
                        .header(b"Subject")
                        .is_some_and(|s| s.starts_with(b"keep")),
                )
            })
            .collect();
        let (keep, is_new) = match rng.below(4) {
            0 | 1 => {
                let keep = rng.below(2) == 0;
                self.d
                    .store
                    .deliver("joe", "INBOX", if keep { "keep it" } else { "drop it" });
                (keep, true)
            }
            2 if !msgs.is_empty() => {
                let (uid, keep) = msgs[rng.below(msgs.len() as u64) as usize];
                let flags = if rng.below(2) == 0 {
                    vec![Flag::Seen]
                } else {
                    vec![Flag::Flagged, Flag::Seen]
                };
                self.d.store.set_flags("joe", "INBOX", uid, flags);
                if std::env::var("PIMAP_SIM_TRACE").is_ok() {
                    eprintln!("flags uid {uid} keep {keep}");
                }
                (keep, false)
            }
            _ if !msgs.is_empty() => {
                let (uid, keep) = msgs[rng.below(msgs.len() as u64) as usize];
                self.d.store.expunge_uid("joe", "INBOX", uid);
                if std::env::var("PIMAP_SIM_TRACE").is_ok() {
                    eprintln!("expunge uid {uid} keep {keep}");
                }
                (keep, false)
            }
            _ => return,
        };
        if self.d.store.changes.is_empty() {
            return;
        }
        self.stats.changes += 1;
        let before: Vec<usize> = self.devs.iter().map(|d| d.notifications).collect();
        // Capture raw server output per connection for this change.
        let actions = self.d.sync_store(self.now);
        let mut got: HashMap<usize, Vec<u8>> = HashMap::new();
        for a in &actions {
            if let Action::Transmit(c, b) = a {
                if let Some(&i) = self.by_conn.get(c) {
                    got.entry(i).or_default().extend_from_slice(b);
                }
            }
        }
        self.absorb(actions);
        self.notes();
        #[allow(clippy::needless_range_loop)] // `i` also indexes self.devs mutably
        for i in 0..self.devs.len() {
            // A device that stops reading (coverage lost): the push stays in flight.
            let stalled = self.devs[i].conn.is_some() && rng.below(3) == 0;
            let resync = if stalled {
                self.stats.stalls += 1;
                got.get(&i)
                    .is_some_and(|b| b.windows(10).any(|w| w == b"* RESYNC\r\n"))
            } else {
                let ev = self.pump(i);
                let resync = ev.iter().any(|e| matches!(e, Event::ResyncRequired));
                self.note_events(i, &ev);
                resync
            };
            if resync {
                // The change overflowed a queue: RESYNC was pushed instead of the event.
                self.stats.resync_pushed += 1;
                if !stalled {
                    let idle = self.devs[i].idle;
                    self.run_cmd(i, |_| {});
                    assert_eq!(self.devs[i].idle, idle);
                }
                continue;
            }
            let expect = self.pushed(i, keep, is_new);
            let d = &self.devs[i];
            let inband = got.get(&i).is_some_and(|b| !b.is_empty());
            self.stats.inband_pushes += usize::from(inband);
            if d.conn.is_none() {
                self.stats.oob += d.notifications - before[i];
            }
            if d.conn.is_some() && inband != (expect && d.idle) {
                let v: Vec<Option<u32>> = d
                    .client
                    .as_ref()
                    .and_then(|c| c.mailbox())
                    .map(|m| m.messages().iter().map(|x| x.uid).collect())
                    .unwrap_or_default();
                eprintln!(
                    "client view {v:?}; store {:?}",
                    self.d
                        .store
                        .messages("joe", "INBOX")
                        .iter()
                        .map(|m| m.uid)
                        .collect::<Vec<_>>()
                );
            }
            if d.conn.is_some() {
                // A device that was owed RESYNC gets it pushed with the next pushed event.
                assert_eq!(
                    inband,
                    expect && d.idle,
                    "device {i} ({}, idle {}): in-band output {inband} for change keep={keep} new={is_new}",
                    d.id,
                    d.idle
                );
            } else {
                let delta = d.notifications - before[i];
                assert_eq!(
                    delta,
                    usize::from(expect),
                    "device {i}: out-of-band notifications for keep={keep} new={is_new}"
                );
            }
        }
    }

    fn step(&mut self, rng: &mut Rng) {
        let i = rng.below(self.devs.len() as u64) as usize;
        let op = rng.below(10);
        if std::env::var("PIMAP_SIM_TRACE").is_ok() {
            eprintln!(
                "step dev{i} op {op} conn {:?} idle {} resync {}",
                self.devs[i].conn, self.devs[i].idle, self.devs[i].resync_seen
            );
        }
        match op {
            0..=3 => self.change(rng),
            4 => {
                if self.devs[i].conn.is_none() {
                    self.connect(i);
                } else {
                    self.lossy_disconnect(i, rng);
                }
            }
            5 | 6 => {
                if self.devs[i].conn.is_some() && !self.devs[i].idle {
                    self.run_cmd(i, |c| {
                        c.idle().expect("idle");
                    });
                    self.devs[i].idle = self.idling(i);
                }
            }
            7 => {
                if self.devs[i].idle {
                    self.run_cmd(i, |c| {
                        c.done().expect("done");
                    });
                    self.devs[i].idle = false;
                }
            }
            8 => {
                if self.devs[i].conn.is_some() && !self.devs[i].idle {
                    self.run_cmd(i, |c| {
                        c.noop().expect("noop");
                    });
                }
            }
            _ => {
                self.now += Duration::from_secs(60);
                let a = self.d.timeout(self.now);
                self.absorb(a);
            }
        }
    }

    /// Bring every device up to date and compare with the store.
    fn check(&mut self, run: u64) {
        for i in 0..self.devs.len() {
            if self.devs[i].conn.is_none() {
                self.connect(i);
            }
            if self.devs[i].idle {
                self.run_cmd(i, |c| {
                    c.done().expect("done");
                });
                self.devs[i].idle = false;
            }
            self.run_cmd(i, |c| {
                c.noop().expect("noop");
            });
            if self.devs[i].resync_seen {
                self.full_sync(i);
            }
            assert!(
                !self.devs[i].resync_seen,
                "run {run}: device {i} still owes a resync"
            );
            let want: Vec<(u32, Vec<Flag>)> = self
                .d
                .store
                .messages("joe", "INBOX")
                .into_iter()
                .filter(|m| {
                    !self.devs[i].view_keep
                        || m.props
                            .header(b"Subject")
                            .is_some_and(|s| s.starts_with(b"keep"))
                })
                .map(|m| (m.uid, sorted(m.flags)))
                .collect();
            let view = self.devs[i]
                .client
                .as_ref()
                .and_then(|c| c.mailbox())
                .unwrap_or_else(|| panic!("run {run}: device {i} has no view"));
            let have: Vec<(u32, Vec<Flag>)> = view
                .messages()
                .iter()
                .map(|m| {
                    (
                        m.uid.unwrap_or_else(|| {
                            panic!("run {run}: device {i}: message without UID")
                        }),
                        sorted(m.flags.clone().unwrap_or_default()),
                    )
                })
                .collect();
            self.stats.checked_messages += have.len();
            assert_eq!(
                have, want,
                "run {run}: device {i} ({}) view differs",
                self.devs[i].id
            );
        }
    }
}

fn sorted(mut f: Vec<Flag>) -> Vec<Flag> {
    f.sort_by_key(|x| format!("{x:?}"));
    f
}

#[test]
fn random_sessions_keep_every_device_consistent() {
    let runs: u64 = std::env::var("PIMAP_SIM_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut resyncs = 0usize;
    let mut total = Stats::default();
    // `PIMAP_SIM_FROM=n` starts at run n (to replay a failing run with PIMAP_SIM_TRACE).
    let from: u64 = std::env::var("PIMAP_SIM_FROM")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for run in from..runs.max(from) {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (run + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let ndev = 1 + rng.below(3) as usize;
        let mut sim = Sim::new(run, ndev, &mut rng);
        for i in 0..ndev {
            sim.connect(i);
        }
        let steps = 10 + rng.below(60);
        for _ in 0..steps {
            sim.step(&mut rng);
        }
        resyncs += sim.devs.iter().filter(|d| d.resync_seen).count();
        sim.check(run);
        total.changes += sim.stats.changes;
        total.inband_pushes += sim.stats.inband_pushes;
        total.oob += sim.stats.oob;
        total.resumes += sim.stats.resumes;
        total.resync += sim.stats.resync;
        total.checked_messages += sim.stats.checked_messages;
        total.lossy_disconnects += sim.stats.lossy_disconnects;
        total.xresume_resumes += sim.stats.xresume_resumes;
        total.xresume_resyncs += sim.stats.xresume_resyncs;
        total.bytes_lost += sim.stats.bytes_lost;
        total.stalls += sim.stats.stalls;
    }
    eprintln!("{runs} runs; devices owed a resync at the end of a run: {resyncs}; {total:?}");
    // The runs must exercise what they claim to check.
    assert!(total.changes > runs as usize * 5, "{total:?}");
    assert!(
        total.inband_pushes > 0 && total.oob > 0 && total.resumes > 0,
        "{total:?}"
    );
    assert!(
        total.resync > 0,
        "queue overflow must be exercised: {total:?}"
    );
    assert!(
        total.lossy_disconnects > runs as usize && total.bytes_lost > 0 && total.stalls > 0,
        "data in flight must be lost at disconnects: {total:?}"
    );
}

#[allow(dead_code)]
fn _unused(_: Bytes) {}
