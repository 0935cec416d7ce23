//! The gateway's device connections over TLS, driven by a real TLS client (Python's ssl and
//! imaplib) in front of a real Dovecot: STARTTLS (LOGIN refused before it) and implicit TLS,
//! each with LOGIN, SELECT, FETCH and an IDLE push of a message delivered meanwhile. The
//! certificates are made at test time (rcgen). Everything on 127.0.0.1; every wait is
//! bounded.

#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/gateway_process.rs"]
mod gateway_process;
#[path = "support/peers.rs"]
mod peers;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A CA and a certificate for `localhost` signed by it, as PEM: (ca, cert, key).
fn pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pimap gateway test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// The device: checks the TLS mode, logs in, reads the old message, idles until the new one
/// is pushed (printing `idling` when the test should deliver it), and logs out.
const PY: &str = r#"
import imaplib, ssl, sys
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
if mode == "implicit":
    m = imaplib.IMAP4_SSL("localhost", port, ssl_context=ctx, timeout=15)
elif mode == "plain":
    m = imaplib.IMAP4("localhost", port, timeout=15)
else:
    m = imaplib.IMAP4("localhost", port, timeout=15)
    assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities, m.capabilities
    try:
        m.login("alice", "alicepw")
        raise SystemExit("LOGIN accepted before STARTTLS")
    except imaplib.IMAP4.error as e:
        print("plaintext login refused:", e)
    m.starttls(ssl_context=ctx)
    assert "LOGINDISABLED" not in m.capabilities, m.capabilities
typ, _ = m.login("alice", "alicepw")
assert typ == "OK"
typ, data = m.select("INBOX")
assert typ == "OK", data
typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert typ == "OK" and b"before tls" in data[0][1], data
tag = m._new_tag()
m.send(tag + b" IDLE\r\n")
while not m.readline().startswith(b"+"):
    pass
print("idling", flush=True)
while True:
    line = m.readline()
    assert line, "connection closed in IDLE"
    if line.rstrip().endswith(b"EXISTS") and not line.startswith(b"* 1 "):
        break
m.send(b"DONE\r\n")
while not m.readline().startswith(tag + b" OK"):
    pass
version = m.sock.version() if hasattr(m.sock, "version") else "plaintext"
print("pushed over", version, "ok", flush=True)
m.logout()
"#;

#[test]
fn devices_over_starttls_and_implicit_tls() {
    if !peers::available(
        "devices_over_starttls_and_implicit_tls",
        &[peers::DOVECOT, peers::PYTHON3],
    ) {
        return;
    }
    let dc = dovecot::Dovecot::start();
    dc.inject(
        "INBOX",
        b"From: a@example.com\r\nSubject: before tls\r\n\r\nold\r\n",
    );
    let (ca, cert, key) = pki();
    let dir = std::env::temp_dir().join(format!("pimap-gw-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_path, cert_path, key_path) = (dir.join("ca.pem"), dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&ca_path, ca).unwrap();
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let (cert_arg, key_arg) = (
        cert_path.to_str().unwrap().to_string(),
        key_path.to_str().unwrap().to_string(),
    );
    for (n, mode) in ["starttls", "implicit"].into_iter().enumerate() {
        let mut args = vec![
            "--max-seconds",
            "120",
            "--tls-cert",
            &cert_arg,
            "--tls-key",
            &key_arg,
        ];
        if mode == "implicit" {
            args.push("--implicit-tls");
        }
        let gw = gateway_process::start(dc.port, &args, Stdio::inherit());
        let (ok, seen, err) = run_device(&gw, &dc, mode, &ca_path, n);
        assert!(ok, "{mode}: python said {seen:?}\n{err}");
        assert!(
            seen.iter().any(|l| l.starts_with("pushed over TLS")),
            "{seen:?}"
        );
        if mode == "starttls" {
            assert!(
                seen.iter()
                    .any(|l| l.starts_with("plaintext login refused")),
                "{seen:?}"
            );
        }
        drop(gw);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Wait for a child at most `limit`, killing it after that.
fn wait_bounded(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Run the Python device against a gateway: (it succeeded with a push, its lines, stderr).
fn run_device(
    gw: &gateway_process::Gateway,
    dc: &dovecot::Dovecot,
    mode: &str,
    ca_path: &std::path::Path,
    n: usize,
) -> (bool, Vec<String>, String) {
    let mut py = Command::new("python3")
        .args(["-c", PY, &gw.port.to_string(), mode])
        .arg(ca_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let (tx, rx) = mpsc::channel();
    let stdout = py.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut delivered = false;
    let mut pushed = false;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if line == "idling" && !delivered {
            let subject = format!("pushed over tls {n}");
            dc.inject(
                "INBOX",
                format!("From: b@example.com\r\nSubject: {subject}\r\n\r\nnew\r\n").as_bytes(),
            );
            delivered = true;
        }
        pushed |= line.starts_with("pushed over");
        seen.push(line);
        if pushed {
            break;
        }
    }
    let status = wait_bounded(&mut py, Duration::from_secs(20));
    let mut err = String::new();
    if let Some(mut e) = py.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    (status.is_some_and(|s| s.success()) && pushed, seen, err)
}

/// The gateway's backend connections over TLS (implicit on Dovecot's IMAPS port, and
/// STARTTLS on its IMAP port), verified against the test CA: a plaintext device gets its
/// push through them. With a CA that did not sign Dovecot's certificate, LOGIN fails.
#[test]
fn backend_over_implicit_tls_and_starttls() {
    if !peers::available(
        "backend_over_implicit_tls_and_starttls",
        &[peers::DOVECOT, peers::PYTHON3],
    ) {
        return;
    }
    let (ca, cert, key) = pki();
    let (other_ca, _, _) = pki();
    let dir = std::env::temp_dir().join(format!("pimap-gw-btls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths = ["ca.pem", "other.pem", "c.pem", "k.pem"].map(|f| dir.join(f));
    for (p, text) in paths.iter().zip([&ca, &other_ca, &cert, &key]) {
        std::fs::write(p, text).unwrap();
    }
    let [ca_path, other_path, cert_path, key_path] = &paths;
    let dc = dovecot::Dovecot::start_with(dovecot::Options {
        imaps: true,
        extra_conf: Some(format!(
            "ssl_cert = <{}\nssl_key = <{}\n",
            cert_path.display(),
            key_path.display()
        )),
        ..Default::default()
    });
    dc.inject(
        "INBOX",
        b"From: a@example.com\r\nSubject: before tls\r\n\r\nold\r\n",
    );
    let imaps = dc.imaps_port.expect("imaps port");
    let ca_arg = ca_path.to_str().unwrap();
    for (n, (mode, port)) in [("implicit", imaps), ("starttls", dc.port)]
        .into_iter()
        .enumerate()
    {
        let args = [
            "--max-seconds",
            "120",
            "--backend-tls",
            mode,
            "--backend-ca",
            ca_arg,
        ];
        let gw = gateway_process::start(port, &args, Stdio::inherit());
        let (ok, seen, err) = run_device(&gw, &dc, "plain", ca_path, 10 + n);
        assert!(ok, "backend {mode}: python said {seen:?}\n{err}");
    }
    // The wrong roots: the handshake fails, so does the device's LOGIN (in STARTTLS mode
    // this also shows the upgrade is not skipped: plaintext LOGIN would work on that port).
    for (n, (mode, port)) in [("implicit", imaps), ("starttls", dc.port)]
        .into_iter()
        .enumerate()
    {
        let args = [
            "--max-seconds",
            "60",
            "--backend-tls",
            mode,
            "--backend-ca",
            other_path.to_str().unwrap(),
        ];
        let gw = gateway_process::start(port, &args, Stdio::inherit());
        let (ok, seen, err) = run_device(&gw, &dc, "plain", ca_path, 20 + n);
        assert!(
            !ok,
            "backend {mode}: LOGIN through an unverified backend must fail: {seen:?}"
        );
        assert!(err.contains("login") || err.contains("LOGIN"), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
