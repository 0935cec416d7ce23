//! STARTTLS and LOGINDISABLED in the sans-IO server: what is offered when, plaintext login
//! refused, pipelined plaintext after STARTTLS discarded (CVE-2011-0411), and the switch
//! handed to the caller as an action.

#[path = "support/server_harness.rs"]
mod harness;

use harness::*;
use pimap::server::ServerConfig;

fn harness(starttls: bool, login_requires_tls: bool) -> Harness<ScriptStore> {
    let mut store = ScriptStore::default();
    store.add_folder("alice", "INBOX", 1);
    let mut config = ServerConfig::default();
    config.starttls = starttls;
    config.login_requires_tls = login_requires_tls;
    Harness::new(config, store)
}

fn greeting(h: &mut Harness<ScriptStore>) -> (pimap::server::ConnId, String) {
    let (c, a) = h.d.accept(h.now).expect("accept");
    h.absorb_for_test(a);
    let g = h.take(c);
    (c, g)
}

#[test]
fn not_offered_by_default() {
    let mut h = harness(false, false);
    let (c, g) = greeting(&mut h);
    assert!(!g.contains("STARTTLS"), "{g}");
    assert!(!g.contains("LOGINDISABLED"), "{g}");
    let r = h.send(c, "a STARTTLS\r\n");
    assert!(r.starts_with("a BAD"), "{r}");
    assert!(h.starttls.is_empty());
    let r = h.send(c, "b LOGIN alice pw\r\n");
    assert!(r.contains("b OK"), "{r}");
}

#[test]
fn login_disabled_until_tls_and_pipelined_plaintext_discarded() {
    let mut h = harness(true, true);
    let (c, g) = greeting(&mut h);
    assert!(g.contains("STARTTLS") && g.contains("LOGINDISABLED"), "{g}");

    let r = h.send(c, "a LOGIN alice pw\r\n");
    assert!(r.starts_with("a NO [PRIVACYREQUIRED]"), "{r}");
    let r = h.send(c, "b AUTHENTICATE PLAIN AGFsaWNlAHB3\r\n");
    assert!(r.starts_with("b NO [PRIVACYREQUIRED]"), "{r}");

    // A command pipelined after STARTTLS in the same plaintext segment is never executed.
    let r = h.send(c, "c STARTTLS\r\nd LOGIN alice pw\r\n");
    assert_eq!(r, "c OK Begin TLS negotiation now\r\n");
    assert_eq!(h.starttls, vec![c]);
    // Until the caller reports the handshake, input is ignored.
    let r = h.send(c, "e NOOP\r\n");
    assert_eq!(r, "");

    h.d.server.secured(c).expect("known connection");
    let r = h.send(c, "f CAPABILITY\r\n");
    assert!(r.contains("f OK"), "{r}");
    assert!(
        !r.contains("STARTTLS") && !r.contains("LOGINDISABLED"),
        "{r}"
    );
    let r = h.send(c, "g STARTTLS\r\n");
    assert!(r.starts_with("g BAD"), "{r}");
    let r = h.send(c, "h LOGIN alice pw\r\n");
    assert!(r.contains("h OK"), "{r}");
    let r = h.send(c, "i STARTTLS\r\n");
    assert!(r.starts_with("i BAD"), "{r}");
}

#[test]
fn implicit_tls_connections_are_secure_from_the_start() {
    let mut h = harness(true, true);
    let c = h.d.server.accept_secure(h.now, None).expect("accept");
    h.sync();
    let g = h.take(c);
    assert!(g.starts_with("* OK [CAPABILITY"), "{g}");
    assert!(
        !g.contains("STARTTLS") && !g.contains("LOGINDISABLED"),
        "{g}"
    );
    let r = h.send(c, "a LOGIN alice pw\r\n");
    assert!(r.contains("a OK"), "{r}");
}

#[test]
fn starttls_after_login_is_refused() {
    let mut h = harness(true, false);
    let (c, _) = greeting(&mut h);
    let r = h.send(c, "a LOGIN alice pw\r\n");
    assert!(r.contains("a OK"), "{r}");
    let r = h.send(c, "b STARTTLS\r\n");
    assert!(r.starts_with("b BAD"), "{r}");
    assert!(h.starttls.is_empty());
}
