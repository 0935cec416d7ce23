//! Memory of large messages: an APPEND is held once, not copied on its way from the socket
//! to the store, and a FETCH of a whole large message hands the store's bytes to the caller
//! without copying them into the write buffer (its own test binary, for the counting
//! allocator; the tests take turns, as the counters are global).

#[path = "support/server_harness.rs"]
mod harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use harness::Harness;
use pimap::server::memory::MemoryStore;
use pimap::server::ServerConfig;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator unchanged; only counts live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        grew(l.size());
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        grew(l.size());
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // Old and new block both exist while realloc copies.
        grew(n);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// A message of exactly `size` octets.
fn big_message(size: usize) -> Vec<u8> {
    b"Subject: big\r\n\r\n"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'z', size - 18))
        .chain(*b"\r\n")
        .collect()
}

/// One test at a time: the counters see every thread's allocations.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_large_append_is_held_once() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    const SIZE: usize = 20 << 20;
    let mut store = MemoryStore::new();
    store.add_user("joe", "pw");
    let mut h = Harness::new(ServerConfig::default(), store);
    let c = h.connect();
    h.send(c, "a1 LOGIN joe pw\r\n");
    let body = big_message(SIZE);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let cont = h.send(c, &format!("a2 APPEND INBOX {{{SIZE}}}\r\n"));
    assert!(cont.starts_with('+'), "{cont}");
    // The client's bytes arrive in 64 KiB reads, as from a socket.
    let mut done = String::new();
    for piece in body.chunks(64 << 10) {
        done.push_str(&String::from_utf8_lossy(&h.send_raw(c, piece)));
    }
    done.push_str(&h.send(c, "\r\n"));
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let kept = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    assert!(done.contains("a2 OK [APPENDUID"), "{done}");
    drop(body);
    eprintln!(
        "APPEND of {SIZE} octets: peak {peak} octets above the start ({:.2}x), {kept} kept ({:.2}x)",
        peak as f64 / SIZE as f64,
        kept as f64 / SIZE as f64
    );
    // Held once, from the socket's bytes to the store (parser bookkeeping aside).
    assert!(
        peak < SIZE + SIZE / 4,
        "peak {peak} for a {SIZE}-octet APPEND"
    );
    assert!(kept < SIZE + SIZE / 8, "kept {kept}");
}

#[test]
fn a_large_fetch_shares_the_stored_message() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    const SIZE: usize = 20 << 20;
    let mut store = MemoryStore::new();
    store.add_user("joe", "pw");
    let body = big_message(SIZE);
    store
        .inject("joe", "INBOX", &body, Vec::new(), None)
        .expect("delivered");
    let _ = store.take_changes();
    let mut h = Harness::new(ServerConfig::default(), store);
    let c = h.connect();
    h.send(c, "a1 LOGIN joe pw\r\n");
    h.send(c, "a2 SELECT INBOX\r\n");

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let actions =
        h.d.input(c, b"a3 FETCH 1 BODY.PEEK[]\r\n", h.now)
            .expect("input");
    let peak = PEAK.load(Ordering::Relaxed) - before;

    // What the caller is to transmit, in order, is the whole response.
    let mut wire: Vec<&[u8]> = Vec::new();
    for a in &actions {
        if let pimap::server::blocking::Action::Transmit(conn, data) = a {
            assert_eq!(*conn, c);
            wire.push(data);
        }
    }
    let head = format!("* 1 FETCH (BODY[] {{{SIZE}}}\r\n");
    let total: usize = wire.iter().map(|d| d.len()).sum();
    let tail = b")\r\na3 OK FETCH completed\r\n";
    assert_eq!(total, head.len() + SIZE + tail.len(), "one response, whole");
    let mut expected = head.as_bytes().iter().chain(&body).chain(tail.iter());
    for piece in &wire {
        for &b in piece.iter() {
            assert_eq!(
                Some(&b),
                expected.next(),
                "the transmitted bytes are the response"
            );
        }
    }
    eprintln!(
        "FETCH BODY[] of {SIZE} octets: peak {peak} octets above the start ({:.3}x), {} transmissions",
        peak as f64 / SIZE as f64,
        wire.len()
    );
    // The literal is the store's own bytes: no copy of the message is made.
    assert!(peak < SIZE / 16, "peak {peak} for a {SIZE}-octet FETCH");
}
