//! Memory of a large APPEND: the message is held once, not copied on its way from the
//! socket to the store (its own test binary, for the counting allocator).

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

#[test]
fn a_large_append_is_held_once() {
    const SIZE: usize = 20 << 20;
    let mut store = MemoryStore::new();
    store.add_user("joe", "pw");
    let mut h = Harness::new(ServerConfig::default(), store);
    let c = h.connect();
    h.send(c, "a1 LOGIN joe pw\r\n");
    let body: Vec<u8> = b"Subject: big\r\n\r\n"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'z', SIZE - 18))
        .chain(*b"\r\n")
        .collect();
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
