//! Hard limits against hostile input, each asserting its bound (the server's own counters)
//! and that another connection is served meanwhile.

#[path = "support/server_harness.rs"]
mod harness;

use std::time::Duration;

use harness::*;
use pimap::server::blocking::Action;
use pimap::server::memory::MemoryStore;
use pimap::server::{ServerConfig, ServerError};

fn setup(config: ServerConfig) -> Harness<ScriptStore> {
    let mut store = ScriptStore::default();
    store.add_folder("joe", "INBOX", 3);
    store.add_folder("ann", "INBOX", 1);
    Harness::new(config, store)
}

/// A second user's connection still gets answered.
fn other_user_is_served(h: &mut Harness<ScriptStore>) {
    let c = h.connect();
    let r = h.send(c, "z1 LOGIN ann pw\r\nz2 NOOP\r\n");
    assert!(
        r.ends_with("z2 OK completed\r\n"),
        "other user not served: {r}"
    );
}

#[test]
fn macro_reaching_itself_through_xzip_is_refused_at_define() {
    let mut h = setup(ServerConfig::default());
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let r = h.send(c, "a2 XMACRO DEFINE m (\"XZIP t XMACRO RUN m\")\r\n");
    assert!(r.starts_with("a2 NO "), "{r}");
    let r = h.send(c, "a3 XMACRO RUN m\r\n");
    assert!(r.starts_with("a3 NO "), "no such macro: {r}");
    other_user_is_served(&mut h);
}

/// A profile stored by an older version (or written by hand) may hold a macro that DEFINE
/// would refuse today: the RUN itself must not recurse.
struct StoredRecursiveMacro;

impl pimap::server::Persistence for StoredRecursiveMacro {
    fn load(&mut self, _user: &[u8], _device: &[u8]) -> Option<pimap::server::DeviceProfile> {
        let mut p = pimap::server::DeviceProfile::default();
        let t = pimap::types::IString::try_from("XZIP t XMACRO RUN m").ok()?;
        p.macros.insert(bytes::Bytes::from_static(b"M"), vec![t]);
        Some(p)
    }
    fn save(&mut self, _user: &[u8], _device: &[u8], _profile: &pimap::server::DeviceProfile) {}
}

#[test]
fn stored_macro_reaching_itself_through_xzip_stops_at_depth_one() {
    let mut h = setup(ServerConfig::default());
    let server = pimap::server::Server::with_parts(
        ServerConfig::default(),
        Box::new(pimap::server::SeededRandom::new(1)),
        Box::new(StoredRecursiveMacro),
    );
    let store = std::mem::take(&mut h.d.store);
    h.d = pimap::server::blocking::Driver::new(
        server,
        store,
        RecordingSubmitter::default(),
        pimap::server::blocking::CollectingNotifier::default(),
    );
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    let out = h.send_raw(c, b"a3 XMACRO RUN m\r\n");
    assert!(out.len() < 4096, "bounded output: {} bytes", out.len());
    // The inner XZIP's output is compressed: inflate it and find the refused nested RUN.
    let at = out
        .windows(2)
        .position(|w| w == b"~{")
        .expect("an XZIP response");
    let close = out[at..]
        .iter()
        .position(|b| *b == b'}')
        .expect("literal length")
        + at;
    let n: usize = std::str::from_utf8(&out[at + 2..close])
        .unwrap()
        .parse()
        .unwrap();
    let data = &out[close + 3..close + 3 + n];
    let inner = pimap::compress::inflate_all(data, pimap::compress::Limits::default()).unwrap();
    let inner = String::from_utf8_lossy(&inner);
    assert!(
        inner.contains("t NO XMACRO RUN cannot be nested"),
        "{inner}"
    );
    let r = String::from_utf8_lossy(&out[close + 3 + n..]);
    assert!(r.contains("a3 OK"), "the outer run completes: {r}");
    let r = h.send(c, "a4 NOOP\r\n");
    assert!(r.ends_with("a4 OK completed\r\n"), "{r}");
    other_user_is_served(&mut h);
}

#[test]
fn xzip_cannot_nest() {
    let mut h = setup(ServerConfig::default());
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#P1 pw\r\n");
    h.send(c, "a2 XMACRO DEFINE z (\"XZIP u NOOP\")\r\n");
    let r = h.send(c, "a3 XZIP t XMACRO RUN z\r\n");
    assert!(r.contains("a3 OK XZIP completed"), "{r}");
    let r = h.send(c, "a4 NOOP\r\n");
    assert!(r.ends_with("a4 OK completed\r\n"), "{r}");
}

#[test]
fn literals_before_login_are_small() {
    let mut h = setup(ServerConfig::default());
    let c = h.connect();
    let r = h.send(c, "a1 LOGIN {60000000}\r\n");
    assert!(
        r.starts_with("a1 BAD"),
        "no continuation for a 60 MB pre-auth literal: {r}"
    );
    // A non-synchronizing one is skipped by count, never buffered.
    let chunk = vec![b'x'; 64 * 1024];
    h.send(c, "a2 LOGIN {60000000+}\r\n");
    for _ in 0..16 {
        h.send_raw(c, &chunk);
    }
    assert!(
        h.d.server.buffered_input() < 16 * 1024,
        "buffered {}",
        h.d.server.buffered_input()
    );
    other_user_is_served(&mut h);
    // After login, the normal limits apply.
    let c = h.connect();
    h.send(c, "b1 LOGIN joe pw\r\n");
    let r = h.send(c, "b2 APPEND INBOX {20000}\r\n");
    assert!(r.starts_with("+ "), "{r}");
}

#[test]
fn buffered_input_has_a_global_budget() {
    let mut config = ServerConfig::default();
    config.max_buffered_input = 1 << 20;
    let mut h = setup(config);
    let part = vec![b'x'; 600 * 1024];
    let a = h.connect();
    h.send(a, "a1 LOGIN joe pw\r\na2 APPEND INBOX {5000000+}\r\n");
    h.send_raw(a, &part);
    assert!(h.d.server.buffered_input() >= 600 * 1024);
    let b = h.connect();
    h.send(b, "b1 LOGIN joe pw\r\nb2 APPEND INBOX {5000000+}\r\n");
    let r = String::from_utf8_lossy(&h.send_raw(b, &part)).into_owned();
    assert!(r.contains("* BYE [LIMIT]"), "{r}");
    assert!(h.closed.contains(&b));
    assert!(h.d.server.buffered_input() <= 1 << 20);
    other_user_is_served(&mut h);
}

#[test]
fn login_timeout_is_not_reset_by_dribbling() {
    let mut config = ServerConfig::default();
    config.login_timeout = Duration::from_secs(20);
    let mut h = setup(config);
    let c = h.connect();
    let start = h.now;
    for _ in 0..10 {
        if h.closed.contains(&c) {
            break;
        }
        h.now += Duration::from_secs(5);
        h.send(c, "a");
        let a = h.d.timeout(h.now);
        h.absorb_for_test(a);
    }
    assert!(h.closed.contains(&c), "dribbling kept the connection alive");
    assert!(h.now - start <= Duration::from_secs(30), "closed late");
    let r = h.take(c);
    assert!(r.contains("* BYE"), "{r}");
    assert!(h.closed.contains(&c));
    other_user_is_served(&mut h);
}

#[test]
fn unauthenticated_connections_and_addresses_are_capped() {
    let mut config = ServerConfig::default();
    config.max_unauthenticated = 3;
    config.max_connections_per_address = 2;
    let mut h = setup(config);
    let ip: std::net::IpAddr = "192.0.2.7".parse().unwrap();
    let now = h.now;
    let x = h.d.server.accept_from(now, ip).unwrap();
    h.d.server.accept_from(now, ip).unwrap();
    assert!(matches!(
        h.d.server.accept_from(now, ip),
        Err(ServerError::TooManyFromAddress(_))
    ));
    h.d.server.accept(now).unwrap();
    assert!(matches!(
        h.d.server.accept(now),
        Err(ServerError::TooManyUnauthenticated(3))
    ));
    let _ = h.d.run(now);
    // Logging in frees a pre-authentication slot.
    let a = h.d.input(x, b"a1 LOGIN ann pw\r\n", now).unwrap();
    assert!(a
        .iter()
        .any(|a| matches!(a, Action::Transmit(_, b) if b.ends_with(b"a1 OK LOGIN completed\r\n"))));
    let c = h.connect();
    let r = h.send(c, "b1 LOGIN joe pw\r\nb2 NOOP\r\n");
    assert!(r.ends_with("b2 OK completed\r\n"), "{r}");
}

#[test]
fn device_sessions_and_connections_per_account_are_capped() {
    let mut config = ServerConfig::default();
    config.max_device_sessions_per_user = 3;
    config.max_connections_per_user = 4;
    let mut h = setup(config);
    // Three devices, detached one after the other.
    for d in 0..3 {
        let c = h.connect();
        h.send(c, &format!("a1 LOGIN joe#D{d} pw\r\n"));
        h.now += Duration::from_secs(1);
        h.close(c);
    }
    // A fourth replaces the longest-detached one.
    let c = h.connect();
    let r = h.send(c, "a1 LOGIN joe#D3 pw\r\n");
    assert!(r.ends_with("a1 OK LOGIN completed\r\n"), "{r}");
    assert!(!h.d.server.has_session(b"joe", b"D0"));
    assert!(h.d.server.has_session(b"joe", b"D1"));
    // With every device connected, a new one is refused.
    let mut conns = vec![c];
    for d in 1..3 {
        let c = h.connect();
        h.send(c, &format!("b1 LOGIN joe#D{d} pw\r\n"));
        conns.push(c);
    }
    let c = h.connect();
    let r = h.send(c, "c1 LOGIN joe#D9 pw\r\n");
    assert!(r.starts_with("c1 NO [LIMIT]"), "{r}");
    // Connections of the account: 3 connected + 1 plain = 4, then no more.
    let r = h.send(c, "c2 LOGIN joe pw\r\n");
    assert!(r.ends_with("c2 OK LOGIN completed\r\n"), "{r}");
    let c = h.connect();
    let r = h.send(c, "d1 LOGIN joe pw\r\n");
    assert!(r.starts_with("d1 NO [LIMIT]"), "{r}");
    other_user_is_served(&mut h);
    assert!(h.d.server.session_count() <= 3 + 1 + 1);
}

#[test]
fn output_backpressure_stops_execution_until_written() {
    let mut store = MemoryStore::new();
    store.add_user("joe", "pw");
    store.add_user("ann", "pw");
    let body = "x".repeat(200 * 1024);
    let msg = format!("Subject: big\r\n\r\n{body}\r\n");
    store
        .inject("joe", "INBOX", msg.as_bytes(), Vec::new(), None)
        .unwrap();
    let mut config = ServerConfig::default();
    config.output_budget = Some(256 * 1024);
    let (mut h, c) = joe_selects_inbox(config, store);
    // 200 pipelined FETCH BODY[] of a 200 KB message from a client that never reads.
    let mut pipeline = String::new();
    for i in 0..200 {
        pipeline.push_str(&format!("f{i} FETCH 1 BODY.PEEK[]\r\n"));
    }
    let out = h.send_raw(c, pipeline.as_bytes());
    let unsent = h.d.server.unsent(c).unwrap();
    assert!(
        unsent <= 256 * 1024 + 210 * 1024,
        "unsent output bounded by the budget plus one response: {unsent}"
    );
    assert!(out.len() < 500 * 1024);
    // Another user is served meanwhile.
    other_user_is_served_memory(&mut h);
    // Writing the output lets the rest run, a budget at a time.
    let mut done = 0;
    for _ in 0..1000 {
        let n = h.d.server.unsent(c).unwrap() as usize;
        let a = h.d.transmitted(c, n, h.now);
        for a in a {
            if let Action::Transmit(_, b) = a {
                done += b
                    .windows(12)
                    .filter(|w| w.starts_with(b" OK FETCH co"))
                    .count();
            }
        }
        if h.d.server.unsent(c) == Some(0) {
            break;
        }
    }
    let first = String::from_utf8_lossy(&out)
        .matches(" OK FETCH co")
        .count();
    assert_eq!(
        first + done,
        200,
        "every FETCH completes once output drains"
    );
}

/// A store that remembers the largest FETCH reply it built (octets of message data).
struct Measured<S> {
    inner: S,
    fetch_requests: usize,
    largest_reply: usize,
}

impl<S: pimap::server::blocking::Store> pimap::server::blocking::Store for Measured<S> {
    fn handle(&mut self, request: &pimap::server::Request) -> pimap::server::Reply {
        let reply = self.inner.handle(request);
        if let pimap::server::Reply::Fetched(rows) = &reply {
            self.fetch_requests += 1;
            let octets: usize = rows
                .iter()
                .flat_map(|(_, items)| items.iter())
                .map(|i| match i {
                    pimap::types::FetchItem::BodySection { data, .. } => {
                        data.as_ref().map_or(0, |d| d.len())
                    }
                    _ => 0,
                })
                .sum();
            self.largest_reply = self.largest_reply.max(octets);
        }
        reply
    }

    fn take_changes(
        &mut self,
    ) -> Vec<(
        bytes::Bytes,
        pimap::types::Mailbox,
        pimap::server::MailboxChange,
    )> {
        self.inner.take_changes()
    }
}

#[test]
fn one_fetch_of_many_large_partials_is_produced_in_chunks() {
    // The shape of the hostile input (200 distinct 2 MB partials of a 2 MB message: 400 MB
    // if built at once), scaled down to keep the test quick.
    const SIZE: usize = 1_000_000;
    const PARTIALS: usize = 100;
    const BUDGET: usize = 256 << 10;
    let msg = format!("Subject: big\r\n\r\n{}\r\n", "y".repeat(SIZE - 18));
    let (mut h, c) = joe_selects_a_large_message(msg.as_bytes(), BUDGET);
    let items: Vec<String> = (0..PARTIALS)
        .map(|i| format!("BODY.PEEK[]<{i}.{SIZE}>"))
        .collect();
    let out = h.send_raw(
        c,
        format!("f1 FETCH 1 (UID {})\r\n", items.join(" ")).as_bytes(),
    );
    let mut wire = out.len();
    let mut partials = count(&out, b"BODY[]<");
    let mut completed = count(&out, b"f1 OK FETCH");
    let mut worst_unsent = h.d.server.unsent(c).unwrap();
    // Another user is served while the FETCH waits for its output to be read.
    other_user_is_served_memory(&mut h);
    for _ in 0..1000 {
        let n = h.d.server.unsent(c).unwrap() as usize;
        for a in h.d.transmitted(c, n, h.now) {
            if let Action::Transmit(_, b) = a {
                wire += b.len();
                partials += count(&b, b"BODY[]<");
                completed += count(&b, b"f1 OK FETCH");
            }
        }
        worst_unsent = worst_unsent.max(h.d.server.unsent(c).unwrap());
        if completed > 0 {
            break;
        }
    }
    assert_eq!(completed, 1, "the FETCH completes once its output is read");
    assert_eq!(partials, PARTIALS, "every partial is answered");
    assert!(
        wire > PARTIALS * (SIZE - PARTIALS),
        "all the data was sent: {wire}"
    );
    let store = &h.d.store;
    assert!(
        store.largest_reply <= 2 * SIZE,
        "one store reply holds at most one item over the chunk: {}",
        store.largest_reply
    );
    assert!(store.fetch_requests >= PARTIALS, "{}", store.fetch_requests);
    assert!(
        worst_unsent <= (BUDGET + 2 * SIZE + 4096) as u64,
        "unsent output bounded by the budget plus one chunk: {worst_unsent}"
    );
}

#[test]
fn a_whole_large_message_is_streamed_from_the_store_in_chunks() {
    // One BODY[] of a message eleven times the chunk: announced with its size, its octets
    // asked for one chunk at a time as the output drains, never held whole.
    const SIZE: usize = 2_800_000;
    const BUDGET: usize = 256 << 10;
    let msg: Vec<u8> = format!("Subject: big\r\n\r\n{}\r\n", "0123456789".repeat(SIZE / 10))
        .into_bytes()[..SIZE - 2]
        .iter()
        .copied()
        .chain(*b"\r\n")
        .collect();
    let (mut h, c) = joe_selects_a_large_message(&msg, BUDGET);
    let mut wire = h.send_raw(c, b"f1 FETCH 1 (UID BODY[])\r\n");
    let mut worst_unsent = h.d.server.unsent(c).unwrap();
    // Another user is served while the FETCH waits for its output to be read.
    other_user_is_served_memory(&mut h);
    for _ in 0..1000 {
        if count(&wire, b"f1 OK FETCH") > 0 {
            break;
        }
        let n = h.d.server.unsent(c).unwrap() as usize;
        for a in h.d.transmitted(c, n, h.now) {
            if let Action::Transmit(_, b) = a {
                wire.extend_from_slice(&b);
            }
        }
        worst_unsent = worst_unsent.max(h.d.server.unsent(c).unwrap());
    }
    // The responses, decoded: the message whole in one BODY[], \Seen set, then OK.
    let mut d = pimap::codec::ResponseDecoder::default();
    d.feed(&wire);
    let mut body = None;
    let mut seen = false;
    let mut tagged = None;
    while let Some(r) = d.next().expect("well-formed responses") {
        match r {
            pimap::types::Response::Data(pimap::types::Data::Fetch { seq: 1, items }) => {
                for i in items {
                    match i {
                        pimap::types::FetchItem::BodySection { data, .. } => {
                            body = data.map(|d| d.to_bytes())
                        }
                        pimap::types::FetchItem::Flags(f) => {
                            seen |= f.contains(&pimap::types::Flag::Seen)
                        }
                        _ => {}
                    }
                }
            }
            pimap::types::Response::Status(s) if s.tag.is_some() => tagged = Some(s.status),
            _ => {}
        }
    }
    assert_eq!(tagged, Some(pimap::types::Status::Ok));
    assert!(body.as_deref() == Some(&msg[..]), "BODY[] is the message");
    assert!(seen, "BODY[] set \\Seen and said so");
    let store = &h.d.store;
    assert!(
        store.largest_reply <= BUDGET,
        "each store reply holds one chunk: {}",
        store.largest_reply
    );
    assert!(
        store.fetch_requests >= SIZE / BUDGET,
        "{}",
        store.fetch_requests
    );
    assert!(
        worst_unsent <= (2 * BUDGET + 4096) as u64,
        "unsent output bounded by the budget plus one chunk: {worst_unsent}"
    );
}

/// joe (and ann) with `msg` in joe's INBOX, output budget and FETCH chunk `budget`, the
/// store's FETCH replies measured; joe has INBOX selected.
fn joe_selects_a_large_message(
    msg: &[u8],
    budget: usize,
) -> (Harness<Measured<MemoryStore>>, pimap::server::ConnId) {
    let mut store = MemoryStore::new();
    store.add_user("joe", "pw");
    store.add_user("ann", "pw");
    store.inject("joe", "INBOX", msg, Vec::new(), None).unwrap();
    let mut config = ServerConfig::default();
    config.output_budget = Some(budget);
    config.fetch_chunk = budget;
    let store = Measured {
        inner: store,
        fetch_requests: 0,
        largest_reply: 0,
    };
    joe_selects_inbox(config, store)
}

/// joe logged in with INBOX selected, on a connection whose output so far counts as read.
fn joe_selects_inbox<S: pimap::server::blocking::Store>(
    config: ServerConfig,
    store: S,
) -> (Harness<S>, pimap::server::ConnId) {
    let mut h = Harness::new(config, store);
    let c = h.connect();
    h.d.server.transmitted(c, usize::MAX, h.now);
    h.send(c, "a1 LOGIN joe pw\r\na2 SELECT INBOX\r\n");
    h.d.server.transmitted(c, usize::MAX, h.now);
    let _ = h.d.run(h.now);
    (h, c)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn other_user_is_served_memory<S: pimap::server::blocking::Store>(h: &mut Harness<S>) {
    let o = h.connect();
    h.d.server.transmitted(o, usize::MAX, h.now);
    let r = h.send(o, "z1 LOGIN ann pw\r\nz2 NOOP\r\n");
    assert!(r.ends_with("z2 OK completed\r\n"), "{r}");
}
