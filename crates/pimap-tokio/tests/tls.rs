//! TLS end to end: a certificate made at test time (rcgen), the runtime's `Service` with
//! implicit TLS and with STARTTLS (LOGINDISABLED before it), reached by this crate's
//! `Connection` (login as a device, IDLE, a push) and by a real TLS client, Python's
//! `imaplib` over `ssl` (IMAP4_SSL and STARTTLS, verifying the certificate against the CA).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use pimap_client::{ClientConfig, Event, LoginOutcome, MailboxEvent};
use pimap_server::blocking::{CollectingNotifier, NoSubmission};
use pimap_server::{Server, ServerConfig};
use pimap_store_memory::MemoryStore;
use pimap_tokio::{tls, Connection, Handle, Security, ServeOptions, Service};
use pimap_types::{CommandBody, Mailbox};
use tokio_rustls::rustls::pki_types::ServerName;

type Svc = Handle<MemoryStore, NoSubmission, CollectingNotifier>;

struct Pki {
    ca_pem: String,
    server: Arc<tokio_rustls::rustls::ServerConfig>,
    client: Arc<tokio_rustls::rustls::ClientConfig>,
}

/// A CA and a server certificate for `localhost` / 127.0.0.1 signed by it.
fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pimap test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let server = tls::server_config(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
        .expect("server config");
    let client = tls::client_config(ca.pem().as_bytes()).expect("client config");
    Pki {
        ca_pem: ca.pem(),
        server,
        client,
    }
}

async fn start(pki: &Pki, implicit: bool) -> (SocketAddr, Svc) {
    let mut store = MemoryStore::new();
    store.add_user("alice", "alicepw");
    let mut config = ServerConfig::default();
    config.starttls = !implicit;
    config.login_requires_tls = true;
    let mut options = ServeOptions::default();
    options.tls = Some(pki.server.clone());
    options.implicit_tls = implicit;
    let service = Service::new(
        Server::new(config),
        store,
        NoSubmission,
        CollectingNotifier::default(),
        options,
    )
    .expect("options");
    let handle = service.handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(service.serve(listener));
    (addr, handle)
}

fn name() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

async fn deliver(h: &Svc, subject: &str) {
    let msg = format!("From: bob@example.org\r\nSubject: {subject}\r\n\r\nhello\r\n");
    h.with_store(move |s| {
        s.inject("alice", "INBOX", msg.as_bytes(), Vec::new(), None)
            .expect("delivered")
    })
    .await
    .expect("store");
}

/// A command body from its wire form.
fn command(text: &str) -> CommandBody {
    let mut d = pimap_codec::CommandDecoder::default();
    d.feed(format!("x {text}\r\n").as_bytes());
    match d.next() {
        Ok(Some(pimap_types::ClientMessage::Command(c))) => c.body,
        other => panic!("{text}: {other:?}"),
    }
}

/// Log in as a device, select INBOX, IDLE, and see a delivery pushed.
async fn device_session(mut c: Connection, h: &Svc) {
    assert!(c.is_tls());
    let outcome = c.login("alice#phone", "alicepw").await.expect("login");
    assert!(matches!(outcome, LoginOutcome::Fresh), "{outcome:?}");
    // A device is notified of what its notification filter selects: everything in INBOX.
    let f = c
        .run(command("XFILTER INBOX N ALL"))
        .await
        .expect("xfilter");
    assert!(f.is_ok(), "{f:?}");
    let sel = c
        .run(CommandBody::Select {
            mailbox: Mailbox::inbox(),
            params: Vec::new(),
        })
        .await
        .expect("select");
    assert!(sel.is_ok(), "{sel:?}");
    let idle = c.idle().await.expect("idle");
    deliver(h, "pushed over TLS").await;
    let pushed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match c.next_event().await.expect("event") {
                // (SELECT's own `* 0 EXISTS` was parked as an event too.)
                Event::Mailbox(MailboxEvent::Exists { count }) if count > 0 => return count,
                _ => continue,
            }
        }
    })
    .await
    .expect("a push within 10 s");
    assert_eq!(pushed, 1);
    let done = c.done(idle).await.expect("done");
    assert!(done.is_ok());
}

#[tokio::test]
async fn implicit_tls_connection_logs_in_and_gets_a_push() {
    let pki = pki();
    let (addr, h) = start(&pki, true).await;
    let c = Connection::connect(
        addr,
        Security::Tls {
            config: pki.client.clone(),
            server_name: name(),
        },
        ClientConfig::default(),
    )
    .await
    .expect("connect");
    assert!(!c.client().capabilities().has("LOGINDISABLED"));
    device_session(c, &h).await;
}

#[tokio::test]
async fn starttls_connection_logs_in_and_gets_a_push() {
    let pki = pki();
    let (addr, h) = start(&pki, false).await;
    // Over plaintext, login is refused.
    let mut plain = Connection::connect(addr, Security::Plain, ClientConfig::default())
        .await
        .expect("connect");
    assert!(plain.client().capabilities().has("STARTTLS"));
    assert!(plain.client().capabilities().has("LOGINDISABLED"));
    assert!(plain.login("alice", "alicepw").await.is_err());

    let c = Connection::connect(
        addr,
        Security::StartTls {
            config: pki.client.clone(),
            server_name: name(),
        },
        ClientConfig::default(),
    )
    .await
    .expect("connect with STARTTLS");
    assert!(!c.client().capabilities().has("STARTTLS"));
    assert!(!c.client().capabilities().has("LOGINDISABLED"));
    device_session(c, &h).await;
}

#[tokio::test]
async fn a_client_that_distrusts_the_certificate_fails_the_handshake() {
    let pki = pki();
    let other = self::pki();
    let (addr, _h) = start(&pki, true).await;
    let r = Connection::connect(
        addr,
        Security::Tls {
            config: other.client.clone(),
            server_name: name(),
        },
        ClientConfig::default(),
    )
    .await;
    assert!(r.is_err(), "handshake must fail against an unknown CA");
}

const PY: &str = r#"
import imaplib, ssl, sys
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if mode == "implicit":
    m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ctx, timeout=10)
else:
    m = imaplib.IMAP4("localhost", port, timeout=10)
    assert "LOGINDISABLED" in m.capabilities, m.capabilities
    m.starttls(ssl_context=ctx)
    assert "LOGINDISABLED" not in m.capabilities, m.capabilities
typ, _ = m.login("alice", "alicepw")
assert typ == "OK"
typ, data = m.select("INBOX")
assert typ == "OK", data
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert typ == "OK" and b"for python" in data[0][1], data
print("python", mode, m.sock.version(), "ok")
m.logout()
"#;

fn python_present() -> bool {
    Command::new("python3")
        .args(["-c", "import ssl, imaplib"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_ssl_imaplib_over_implicit_tls_and_starttls() {
    if !python_present() {
        assert!(
            std::env::var("PIMAP_INTEROP").map_or(true, |v| v != "1"),
            "PIMAP_INTEROP=1 but python3 with ssl is missing"
        );
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIP python_ssl_imaplib_over_implicit_tls_and_starttls: python3 not available"
        );
        return;
    }
    let pki = pki();
    let dir = std::env::temp_dir().join(format!("pimap-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    for implicit in [true, false] {
        let (addr, h) = start(&pki, implicit).await;
        deliver(&h, "for python").await;
        let mode = if implicit { "implicit" } else { "starttls" };
        let ca = ca.clone();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("python3")
                .args(["-c", PY, &addr.port().to_string(), mode])
                .arg(&ca)
                .output()
                .expect("run python3")
        })
        .await
        .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "python {mode}: {text}");
        assert!(text.contains(&format!("python {mode} TLS")), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Shutdown ends `serve` even when a peer never reads what it is sent (its write blocks):
/// after the grace period the connection is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_by_a_peer_that_never_reads() {
    let mut store = MemoryStore::new();
    store.add_user("alice", "alicepw");
    // A large message, fetched over and over by a client that never reads.
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(4 << 20));
    store
        .inject("alice", "INBOX", big.as_bytes(), Vec::new(), None)
        .expect("delivered");
    let mut options = ServeOptions::default();
    options.shutdown_grace = Duration::from_millis(500);
    let service = Service::new(
        Server::new(ServerConfig::default()),
        store,
        NoSubmission,
        CollectingNotifier::default(),
        options,
    )
    .expect("options");
    let handle = service.handle();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(service.serve(listener));

    use tokio::io::AsyncWriteExt;
    let mut peer = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut cmds = String::from("a LOGIN alice alicepw\r\nb SELECT INBOX\r\n");
    for i in 0..20 {
        cmds.push_str(&format!("f{i} FETCH 1 BODY[]\r\n"));
    }
    peer.write_all(cmds.as_bytes()).await.unwrap();
    // Let the server fill the socket buffers; the peer reads nothing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.shutdown();
    let ended = tokio::time::timeout(Duration::from_secs(10), serving).await;
    assert!(ended.is_ok(), "serve did not return after shutdown");
    drop(peer);
}
