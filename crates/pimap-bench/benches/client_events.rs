//! Event application: 100k pushed `* n FETCH (FLAGS ...)`, `* n EXISTS` and `* n EXPUNGE`
//! responses through `Client::handle_input` to typed events, fed whole and in 4 KiB pieces.
//! Prints allocations per event (a counting global allocator in this bench binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use pimap::client::{Client, ClientConfig, Event, Output};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const EVENTS: usize = 100_000;

/// Setup (greeting, LOGIN, SELECT of 1000 messages) and the pushed events, separately.
fn input() -> (Vec<u8>, Vec<u8>) {
    let setup = b"* OK [CAPABILITY IMAP4rev1 IDLE] hi\r\nA0001 OK LOGIN\r\n* 1000 EXISTS\r\n* OK [UIDVALIDITY 5] v\r\nA0002 OK SELECT\r\n".to_vec();
    let mut s = Vec::with_capacity(EVENTS * 40);
    let mut exists = 1000u64;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..EVENTS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 10 {
            0 => {
                exists += 1;
                s.extend_from_slice(format!("* {exists} EXISTS\r\n").as_bytes());
            }
            1 => {
                let seq = 1 + (x >> 8) % exists;
                exists -= 1;
                s.extend_from_slice(format!("* {seq} EXPUNGE\r\n").as_bytes());
            }
            _ => {
                let seq = 1 + (x >> 8) % exists;
                let flags = [
                    "\\Seen",
                    "\\Seen \\Flagged",
                    "",
                    "\\Answered \\Seen",
                    "$Forwarded",
                ];
                let f = flags[((x >> 20) % 5) as usize];
                s.extend_from_slice(format!("* {seq} FETCH (FLAGS ({f}))\r\n").as_bytes());
            }
        }
    }
    (setup, s)
}

fn ready(setup: &[u8]) -> Client {
    let mut c = Client::new(ClientConfig::default());
    c.login("joe", "pw").unwrap();
    c.select("INBOX").unwrap();
    c.handle_input(setup, Instant::now());
    while c.poll_output().is_some() {}
    c
}

fn apply(c: &mut Client, events: &[u8], chunk: usize) -> usize {
    let now = Instant::now();
    let mut n = 0;
    for piece in events.chunks(chunk) {
        c.handle_input(piece, now);
        while let Some(o) = c.poll_output() {
            if matches!(o, Output::Event(Event::Mailbox(_))) {
                n += 1;
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let (setup, events) = input();
    // Allocations per event, measured once outside criterion.
    let mut cl = ready(&setup);
    let before = ALLOCS.load(Ordering::Relaxed);
    let n = apply(&mut cl, &events, events.len());
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    eprintln!(
        "client events: {} bytes, {EVENTS} pushed responses, {n} mailbox events, {:.2} allocations per pushed response",
        events.len(),
        allocs as f64 / EVENTS as f64
    );
    assert!(n >= EVENTS);
    let mut g = c.benchmark_group("client_events");
    g.throughput(Throughput::Elements(EVENTS as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat);
    for (id, chunk) in [("whole", usize::MAX), ("chunked_4k", 4096)] {
        g.bench_function(id, |b| {
            b.iter_batched(
                || ready(&setup),
                |mut cl| black_box(apply(&mut cl, &events, chunk.min(events.len()))),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
