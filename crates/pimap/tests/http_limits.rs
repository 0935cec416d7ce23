//! The HTTP binding under hostile load: anonymous POST floods cannot lock users out, and a
//! cookie session whose pending output overflows leaves the device owed RESYNC, not silence.

use std::time::{Duration, Instant};

use pimap::http::{HttpConfig, HttpEvent, HttpResponse, HttpSessions, PostResult};
use pimap::server::blocking::{CollectingNotifier, Driver, NoSubmission};
use pimap::server::memory::MemoryStore;
use pimap::server::{Server, ServerConfig};

type D = Driver<MemoryStore, NoSubmission, CollectingNotifier>;

fn setup() -> (D, HttpSessions) {
    let mut store = MemoryStore::new();
    store.add_user("joe", "pw");
    let server = Server::new(ServerConfig::default());
    let driver = Driver::new(server, store, NoSubmission, CollectingNotifier::default());
    (driver, HttpSessions::new(HttpConfig::default()))
}

/// POST and run until its response.
fn post(
    d: &mut D,
    http: &mut HttpSessions,
    cookie: Option<&str>,
    body: &str,
    now: Instant,
) -> Option<HttpResponse> {
    match http.post(&mut d.server, cookie, body.as_bytes(), now) {
        PostResult::Accepted { .. } => {}
        PostResult::Rejected { response, .. } => return Some(response),
    }
    for a in d.run(now) {
        let _ = http.handle_action(a);
    }
    while let Some(ev) = http.poll_event() {
        if let HttpEvent::Response { response, .. } = ev {
            return Some(response);
        }
    }
    None
}

#[test]
fn anonymous_post_flood_does_not_lock_out_a_login() {
    let (mut d, mut http) = setup();
    let now = Instant::now();
    for _ in 0..2000 {
        let _ = post(&mut d, &mut http, None, "a1 CAPABILITY\r\n", now);
    }
    let (all, anonymous) = http.session_counts();
    assert!(
        anonymous <= 100 && all <= 100,
        "{all} sessions, {anonymous} anonymous"
    );
    let r = post(&mut d, &mut http, None, "a1 LOGIN joe#phone pw\r\n", now).expect("answered");
    assert_eq!(r.status, 200, "a real login is served");
    assert!(String::from_utf8_lossy(&r.body).contains("a1 OK"));
    // Anonymous sessions expire quickly; the logged-in one stays.
    let later = now + Duration::from_secs(120);
    http.handle_timeout(&mut d.server, later);
    assert_eq!(http.session_counts(), (1, 0));
}

#[test]
fn pending_output_overflow_means_resync_for_the_device() {
    let (mut d, mut http) = setup();
    let now = Instant::now();
    let r = post(&mut d, &mut http, None, "a1 LOGIN joe#phone pw\r\na2 XFILTER INBOX N ALL\r\na3 XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS ENVELOPE)\r\na4 SELECT INBOX\r\n", now).unwrap();
    let cookie = r.set_cookie.clone().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    // IDLE, then 30 pushes of about 60 KB each: more than the 1 MiB kept between POSTs.
    let r = post(&mut d, &mut http, Some(&cookie), "a5 IDLE\r\n", now);
    assert!(r.is_some());
    let big = format!("Subject: {}\r\n\r\nbody\r\n", "s".repeat(60_000));
    for _ in 0..30 {
        d.store
            .inject("joe", "INBOX", big.as_bytes(), Vec::new(), None)
            .unwrap();
        for a in d.sync_store(now) {
            let _ = http.handle_action(a);
        }
    }
    http.handle_timeout(&mut d.server, now);
    for a in d.run(now) {
        let _ = http.handle_action(a);
    }
    // The device comes back by its id (the cookie is gone): it must be told RESYNC.
    let r = post(&mut d, &mut http, None, "b1 LOGIN joe#phone pw\r\n", now).unwrap();
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("* SESSION SELECTED"), "{body}");
    assert!(
        body.contains("* RESYNC"),
        "events were lost with the cookie session: {body}"
    );
}
