//! Secrets never appear in `Debug` output: passwords in queued bytes, session ids, cookies.

use std::time::Instant;

use pimap::client::{Client, ClientConfig};
use pimap::server::{Output, Reply, Request, SeededRandom, Server, ServerConfig};

const PASSWORD: &str = "s3cr3t-pa55word";

#[test]
fn client_debug_and_transmit_debug_hide_the_password() {
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default());
    c.handle_input(b"* OK [CAPABILITY IMAP4rev1] hi\r\n", now);
    c.login("joe#phone", PASSWORD).unwrap();
    let client = format!("{c:?}");
    assert!(!client.contains(PASSWORD), "{client}");
    let mut wire = Vec::new();
    while let Some(o) = c.poll_output() {
        let shown = format!("{o:?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        if let pimap::client::Output::Transmit(b) = o {
            wire.extend_from_slice(&b);
        }
    }
    // The password really was sent (the check above is not vacuous).
    assert!(String::from_utf8_lossy(&wire).contains(PASSWORD));
}

#[test]
fn server_outputs_hide_passwords_and_session_ids() {
    let now = Instant::now();
    let mut s = Server::with_parts(
        ServerConfig::default(),
        Box::new(SeededRandom::new(5)),
        Box::new(pimap::server::MemoryPersistence::new()),
    );
    let conn = s.accept(now).unwrap();
    s.handle_input(
        conn,
        format!("a1 LOGIN joe#phone {PASSWORD}\r\n").as_bytes(),
        now,
    )
    .unwrap();
    let mut wire = Vec::new();
    while let Some(o) = s.poll_output() {
        let shown = format!("{o:?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        match o {
            Output::Request {
                id,
                request: Request::Authenticate { .. },
                ..
            } => {
                s.complete(id, Reply::Ok, now).unwrap();
            }
            Output::Transmit { data, .. } => wire.extend_from_slice(&data),
            _ => {}
        }
    }
    let wire = String::from_utf8(wire).unwrap();
    let sid = wire
        .lines()
        .find_map(|l| l.strip_prefix("* SESSIONID "))
        .expect("a session id was sent");
    assert!(!format!("{s:?}").contains(sid));
}

#[test]
fn http_response_debug_hides_the_cookie() {
    use pimap::http::{HttpConfig, HttpEvent, HttpSessions, PostResult};
    use pimap::server::blocking::{CollectingNotifier, Driver, NoSubmission};
    use pimap::server::memory::MemoryStore;
    let now = Instant::now();
    let mut store = MemoryStore::new();
    store.add_user("joe", PASSWORD);
    let server = Server::new(ServerConfig::default());
    let mut driver = Driver::new(server, store, NoSubmission, CollectingNotifier::default());
    let mut http = HttpSessions::new(HttpConfig::default());
    let body = format!("a1 LOGIN joe#dev1 {PASSWORD}\r\n");
    let PostResult::Accepted { .. } = http.post(&mut driver.server, None, body.as_bytes(), now)
    else {
        panic!("accepted")
    };
    for action in driver.run(now) {
        assert!(http.handle_action(action).is_none());
    }
    let ev = http.poll_event().expect("a response");
    let HttpEvent::Response { response, .. } = &ev else {
        panic!("a response")
    };
    let cookie = response
        .set_cookie
        .clone()
        .expect("the first response sets a cookie");
    let value = cookie
        .split(';')
        .next()
        .and_then(|c| c.strip_prefix("JSESSIONID="))
        .expect("a session cookie")
        .to_string();
    let shown = format!("{ev:?}");
    assert!(!shown.contains(&value), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}
