//! Full identities: accounts that differ only in their domain never share a device session,
//! a store request or a change; AUTHENTICATE's authorization identity is not ignored.

#[path = "support/server_harness.rs"]
mod harness;

use harness::*;
use pimap::server::ServerConfig;

fn two_domains() -> Harness<ScriptStore> {
    let mut store = ScriptStore::default();
    // The store names accounts by their full identity, `user@domain`.
    store.add_folder("joe@foo.com", "INBOX", 2);
    store.add_folder("joe@bar.com", "INBOX", 1);
    Harness::new(ServerConfig::default(), store)
}

fn sid(r: &str) -> String {
    r.lines()
        .find_map(|l| l.strip_prefix("* SESSIONID "))
        .unwrap_or_else(|| panic!("no SESSIONID in {r}"))
        .to_string()
}

#[test]
fn same_user_and_device_in_two_domains_share_nothing() {
    let mut h = two_domains();
    let c = h.connect();
    let r = h.send(c, "a1 LOGIN joe#phone@foo.com pw\r\n");
    let foo_sid = sid(&r);
    let r = h.send(c, "a2 SELECT INBOX\r\n");
    assert!(r.contains("* 2 EXISTS\r\n"), "foo's INBOX: {r}");
    h.send(c, "a3 LOGOUT\r\n");
    // foo's device session is gone after LOGOUT; log in again and leave it detached with an
    // event queued.
    let c = h.connect();
    h.send(c, "b1 LOGIN joe#phone@foo.com pw\r\n");
    h.send(c, "b2 SELECT INBOX\r\n");
    h.close(c);
    h.d.store.deliver("joe@foo.com", "INBOX", "for foo only");
    h.sync();

    // joe@bar.com with the same user and device id: a fresh session of its own.
    let c = h.connect();
    let r = h.send(c, "c1 LOGIN joe#phone@bar.com pw\r\n");
    assert!(
        !r.contains("* SESSION "),
        "bar must not resume foo's session: {r}"
    );
    assert!(!r.contains("EXISTS"), "bar must not see foo's event: {r}");
    assert_ne!(sid(&r), foo_sid);
    let r = h.send(c, "c2 SELECT INBOX\r\n");
    assert!(r.contains("* 1 EXISTS\r\n"), "bar's own INBOX: {r}");
    h.send(c, "c3 LOGOUT\r\n");

    // foo's session is still there with its event.
    let c = h.connect();
    let r = h.send(c, "d1 LOGIN joe#phone@foo.com pw\r\n");
    assert!(r.contains("* SESSION SELECTED"), "{r}");
    assert!(r.contains("* 3 EXISTS"), "foo's queued event: {r}");
    assert!(h.d.server.has_session(b"joe@foo.com", b"phone"));
    assert!(!h.d.server.has_session(b"joe@bar.com", b"phone"));
}

#[test]
fn domain_is_normalised_to_lower_case() {
    let mut h = two_domains();
    let c = h.connect();
    h.send(c, "a1 LOGIN joe#phone@FOO.com pw\r\n");
    h.send(c, "a2 SELECT INBOX\r\n");
    h.close(c);
    let c = h.connect();
    let r = h.send(c, "b1 LOGIN joe#phone@foo.COM pw\r\n");
    assert!(r.contains("* SESSION SELECTED"), "one account: {r}");
}

#[test]
fn authorization_identity_is_refused_unless_the_caller_decides() {
    let mut h = two_domains();
    let c = h.connect();
    // authzid joe@bar.com, authcid joe@foo.com: refused, never silently logged in as foo.
    let r = h.send(
        c,
        "a1 AUTHENTICATE PLAIN am9lQGJhci5jb20Aam9lQGZvby5jb20AcHc=\r\n",
    );
    assert!(r.starts_with("a1 NO [AUTHORIZATIONFAILED]"), "{r}");
    let r = h.send(c, "a2 SELECT INBOX\r\n");
    assert!(r.starts_with("a2 BAD"), "not logged in: {r}");
    // The same identity twice, or an empty authzid: an ordinary login.
    let r = h.send(
        c,
        "a3 AUTHENTICATE PLAIN am9lQGZvby5jb20Aam9lQGZvby5jb20AcHc=\r\n",
    );
    assert!(r.ends_with("a3 OK LOGIN completed\r\n"), "{r}");
    let c = h.connect();
    let r = h.send(c, "b1 AUTHENTICATE PLAIN AGpvZUBmb28uY29tAHB3\r\n");
    assert!(r.ends_with("b1 OK LOGIN completed\r\n"), "{r}");
    let r = h.send(c, "b2 SELECT INBOX\r\n");
    assert!(r.contains("* 2 EXISTS"), "foo's INBOX: {r}");
}

#[test]
fn authorization_identity_reaches_the_caller_when_allowed() {
    use pimap::server::{Output, Reply, Request, SeededRandom, Server};
    let mut config = ServerConfig::default();
    config.allow_authorization_identity = true;
    let now = std::time::Instant::now();
    let mut server = Server::with_parts(
        config,
        Box::new(SeededRandom::new(7)),
        Box::new(pimap::server::MemoryPersistence::new()),
    );
    let c = server.accept(now).unwrap();
    server
        .handle_input(
            c,
            b"a1 AUTHENTICATE PLAIN am9lQGJhci5jb20Aam9lQGZvby5jb20AcHc=\r\n",
            now,
        )
        .unwrap();
    let mut seen = None;
    let mut wire = Vec::new();
    while let Some(o) = server.poll_output() {
        match o {
            Output::Request {
                id,
                request:
                    Request::Authenticate {
                        user, authorize_as, ..
                    },
                ..
            } => {
                seen = Some((user.clone(), authorize_as.clone()));
                // The caller decides: here it refuses.
                server
                    .complete(id, Reply::no("not permitted"), now)
                    .unwrap();
            }
            Output::Transmit { data, .. } => wire.extend_from_slice(&data),
            _ => {}
        }
    }
    let (user, authz) = seen.expect("authentication request");
    assert_eq!(&user[..], b"joe@foo.com");
    assert_eq!(authz.as_deref(), Some(&b"joe@bar.com"[..]));
    assert!(String::from_utf8_lossy(&wire).contains("a1 NO"));
}
