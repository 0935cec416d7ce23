//! Server benchmarks:
//! * memory per idle device session (10 000 detached sessions with INBOX selected), printed
//!   before the timed benchmarks (a counting global allocator in this bench binary only);
//! * fan-out: one new message for a user with 10 000 device sessions (each with the named
//!   notification filter `URG` on INBOX, INBOX selected, half of them in IDLE), classified
//!   and pushed (`Throughput::Elements(10 000)`: session deliveries per second);
//! * resume: a device session with 10 000 queued INBOX events logs in again on a new
//!   connection, up to the tagged OK (`Throughput::Elements(10 000)`: replayed events per
//!   second).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use pimap::server::{
    ConnId, MailboxChange, MailboxSnapshot, MemoryPersistence, MessageProps, MessageSnapshot,
    Output, Reply, Request, SeededRandom, Server, ServerConfig, StoreOp,
};
use pimap::types::{Flag, Mailbox};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SESSIONS: usize = 10_000;
const QUEUED: usize = 10_000;

fn new_server() -> Server {
    // One account with 10 000 devices: far beyond the per-account defaults (64).
    let mut config = ServerConfig::default();
    config.max_device_sessions_per_user = 1_000_000;
    config.max_connections_per_user = 1_000_000;
    config.max_unauthenticated = 1_000_000;
    Server::with_parts(
        config,
        Box::new(SeededRandom::new(1)),
        Box::new(MemoryPersistence::new()),
    )
}

fn inbox() -> Mailbox {
    Mailbox::inbox()
}

/// INBOX with `n` messages (UIDs 1..=n).
fn snapshot(n: u32) -> MailboxSnapshot {
    let props = Arc::new(MessageProps::new(1000, None).with_header("Subject", "hello"));
    MailboxSnapshot {
        uid_validity: 7,
        uid_next: n + 1,
        flags: vec![Flag::Seen, Flag::Flagged, Flag::Deleted],
        permanent_flags: vec![Flag::Seen, Flag::Flagged, Flag::Deleted],
        read_only: false,
        messages: (1..=n)
            .map(|uid| MessageSnapshot {
                uid,
                flags: Vec::new(),
                props: props.clone(),
            })
            .collect(),
        first_recent: None,
    }
}

/// The store of these benchmarks: every login succeeds, SELECT returns `snap`.
fn answer(request: &Request, snap: &MailboxSnapshot) -> Reply {
    match request {
        Request::Store {
            op: StoreOp::Select { .. },
            ..
        } => Reply::Selected(snap.clone()),
        _ => Reply::Ok,
    }
}

/// Drain every output, answering requests; returns the bytes transmitted (to any connection).
fn drain(s: &mut Server, now: Instant, snap: &MailboxSnapshot) -> usize {
    let mut bytes = 0;
    while let Some(o) = s.poll_output() {
        match o {
            Output::Transmit { data, .. } => bytes += data.len(),
            Output::Request { id, request, .. } => {
                let reply = answer(&request, snap);
                s.complete(id, reply, now).expect("complete");
            }
            _ => {}
        }
    }
    bytes
}

/// Send one line on a connection and drain everything that follows; returns the bytes
/// transmitted.
fn send(s: &mut Server, c: ConnId, line: &str, now: Instant, snap: &MailboxSnapshot) -> usize {
    s.handle_input(c, line.as_bytes(), now).expect("input");
    drain(s, now, snap)
}

/// A connection logged in as `login` with INBOX selected (`snap`).
fn device_session(s: &mut Server, login: &str, now: Instant, snap: &MailboxSnapshot) -> ConnId {
    let c = s.accept(now).expect("accept");
    drain(s, now, snap);
    send(s, c, &format!("a1 LOGIN {login} pw\r\n"), now, snap);
    send(s, c, "a2 SELECT INBOX\r\n", now, snap);
    c
}

// ---- memory per idle device session ---------------------------------------------------------

fn memory_per_session() {
    let now = Instant::now();
    let empty = snapshot(0);
    let before = LIVE.load(Ordering::Relaxed);
    let mut s = new_server();
    let with_server = LIVE.load(Ordering::Relaxed);
    for i in 0..SESSIONS {
        let c = device_session(&mut s, &format!("alice#dev{i}"), now, &empty);
        s.handle_close(c, now);
        drain(&mut s, now, &empty);
    }
    assert_eq!(s.session_count(), SESSIONS);
    assert_eq!(s.connection_count(), 0);
    let after = LIVE.load(Ordering::Relaxed);
    let per = (after - with_server) as f64 / SESSIONS as f64;
    println!(
        "memory per idle device session: {per:.0} bytes ({SESSIONS} detached sessions with INBOX \
         selected (empty), {} bytes live in total, empty server {} bytes)",
        after - with_server,
        with_server - before
    );
    drop(s);
}

// ---- fan-out --------------------------------------------------------------------------------

struct FanOut {
    s: Server,
    now: Instant,
    busy: Vec<ConnId>,
    empty: MailboxSnapshot,
    uid: u32,
}

fn fan_out_setup() -> FanOut {
    let now = Instant::now();
    let empty = snapshot(0);
    let mut s = new_server();
    let mut busy = Vec::new();
    for i in 0..SESSIONS {
        let c = s.accept(now).expect("accept");
        drain(&mut s, now, &empty);
        send(
            &mut s,
            c,
            &format!("a1 LOGIN alice#dev{i} pw\r\n"),
            now,
            &empty,
        );
        send(
            &mut s,
            c,
            "a2 XFILTER SET URG \"urgent\" (SUBJECT \"urgent\")\r\n",
            now,
            &empty,
        );
        send(
            &mut s,
            c,
            "a3 XSETPIMAPPREF PIMAP_XFILTER (INBOX N URG)\r\n",
            now,
            &empty,
        );
        send(&mut s, c, "a4 SELECT INBOX\r\n", now, &empty);
        if i % 2 == 0 {
            send(&mut s, c, "a5 IDLE\r\n", now, &empty);
        } else {
            busy.push(c);
        }
    }
    assert_eq!(s.session_count(), SESSIONS);
    FanOut {
        s,
        now,
        busy,
        empty,
        uid: 0,
    }
}

impl FanOut {
    /// One new urgent message: classified for every session, pushed to the idle half.
    /// Returns the number of pushes (Transmit outputs).
    fn deliver(&mut self) -> usize {
        self.uid += 1;
        let props = Arc::new(
            MessageProps::new(2048, None)
                .with_header("Subject", format!("urgent message {}", self.uid))
                .with_header("From", "boss@example.com"),
        );
        let change = MailboxChange::New {
            uid: self.uid,
            flags: Vec::new(),
            props,
        };
        self.s.mailbox_changed(b"alice", &inbox(), change, self.now);
        let mut pushes = 0;
        while let Some(o) = self.s.poll_output() {
            if let Output::Transmit { data, .. } = o {
                black_box(data);
                pushes += 1;
            }
        }
        pushes
    }

    /// The sessions not in IDLE pick up their queued events (NOOP), so queues stay short.
    fn catch_up(&mut self) {
        for &c in &self.busy {
            send(&mut self.s, c, "n NOOP\r\n", self.now, &self.empty);
        }
    }
}

// ---- resume ---------------------------------------------------------------------------------

/// A server holding the detached session alice#dev with QUEUED events in INBOX: 8/10 flag
/// changes, 1/10 new messages, 1/10 expunges.
fn resume_setup() -> Server {
    let now = Instant::now();
    let snap = snapshot(QUEUED as u32);
    let mut s = new_server();
    let c = device_session(&mut s, "alice#dev", now, &snap);
    s.handle_close(c, now);
    drain(&mut s, now, &snap);
    let props = Arc::new(MessageProps::new(1000, None).with_header("Subject", "hello"));
    let mut next_uid = QUEUED as u32 + 1;
    for i in 0..QUEUED as u32 {
        let change = match i % 10 {
            0 => {
                next_uid += 1;
                MailboxChange::New {
                    uid: next_uid - 1,
                    flags: Vec::new(),
                    props: props.clone(),
                }
            }
            1 => MailboxChange::Expunge {
                uid: i + 1,
                props: props.clone(),
            },
            _ => MailboxChange::Flags {
                uid: i + 1,
                flags: vec![Flag::Seen],
                props: props.clone(),
            },
        };
        s.mailbox_changed(b"alice", &inbox(), change, now);
    }
    drain(&mut s, now, &snap);
    assert_eq!(s.queued_events(b"alice", b"dev", &inbox()), Some(QUEUED));
    s
}

/// Reconnect and log in; returns everything transmitted on the new connection.
fn resume(s: &mut Server) -> Vec<u8> {
    let now = Instant::now();
    let c = s.accept(now).expect("accept");
    s.handle_input(c, b"a LOGIN alice#dev pw\r\n", now)
        .expect("input");
    let mut out = Vec::new();
    while let Some(o) = s.poll_output() {
        match o {
            Output::Transmit { data, .. } => out.extend_from_slice(&data),
            Output::Request { id, .. } => s.complete(id, Reply::Ok, now).expect("complete"),
            _ => {}
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    memory_per_session();

    // Check what the timed routines do, once.
    let mut f = fan_out_setup();
    assert_eq!(f.deliver(), SESSIONS / 2, "one push per idling session");
    f.catch_up();
    let mut s = resume_setup();
    let out = resume(&mut s);
    let lines = out.split(|&b| b == b'\n').count();
    assert!(
        out.ends_with(b"a OK LOGIN completed\r\n"),
        "{}",
        String::from_utf8_lossy(&out[out.len().saturating_sub(200)..])
    );
    assert!(lines > QUEUED, "{lines} lines on resume");
    eprintln!(
        "resume: {} bytes, {lines} lines transmitted for {QUEUED} queued events",
        out.len()
    );
    drop(s);

    let mut g = c.benchmark_group("server");
    g.throughput(Throughput::Elements(SESSIONS as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat);
    g.bench_function("fan_out_10k_sessions", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for i in 0..iters {
                if i % 64 == 63 {
                    f.catch_up(); // not timed
                }
                let t = Instant::now();
                black_box(f.deliver());
                total += t.elapsed();
            }
            total
        })
    });
    drop(f);
    g.bench_function("resume_10k_queued_events", |b| {
        b.iter_batched(
            resume_setup,
            |mut s| {
                let out = resume(&mut s);
                black_box(out.len());
                s // dropped outside the timing
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
