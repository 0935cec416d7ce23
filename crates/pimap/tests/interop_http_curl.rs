//! Interop of the HTTP binding example (`examples/http_server.rs`, `pimap_tokio::http`)
//! with the real `curl` binary.
//!
//! The test builds the example with the cargo that runs it, starts it on free ports of
//! 127.0.0.1 with a bounded lifetime, and kills it at the end (also when an assertion
//! fails). Without curl the test is skipped with a message (`tests/interop/setup.sh`
//! installs it). Every read is bounded (10 s).
//!
//! * a. Non-persistent batch with a cookie jar: LOGIN (device session), SELECT, FETCH.
//! * b. A message injected through the example's inject port is polled by the next POST
//!   (`* 3 EXISTS` with `b1 OK`); a gzip response (`--compressed`) decodes; GET is 405.
//! * c. Persistent mode: one long-lived chunked POST, driven by Python's `http.client`
//!   (stdlib): commands sent one chunk per line (one line split across two chunks), IDLE
//!   sees a pushed `* 4 EXISTS` for a message injected meanwhile, DONE ends it, and the
//!   last chunk of the request ends the response stream. The device activates a
//!   notification filter first (`XSETPIMAPPREF PIMAP_XFILTER (INBOX N ALL)`): without
//!   one, a device session's new mail is polled, not pushed (spec §1.2).
//!
//! Why not curl for (c): `--data-binary @-` and `-T -` read stdin blocking, so nothing is
//! received before stdin closes. `-T .` (non-blocking stdin) puts the right bytes on the
//! wire in both directions, but curl 7.88 only hands received data to stdout when its paused
//! stdin read resumes, so an IDLE push shows up late or not at all (racy: it passed in
//! some runs and stalled over 10 s in others), which a test cannot rely on.

#[path = "support/example_process.rs"]
mod example_process;
#[path = "support/peers.rs"]
mod peers;
use example_process::{build_example, collect, show, start, start_with, ChildGuard};

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The persistent-mode client (Python's http.client; arguments: HTTP port, inject port).
const PERSISTENT_CLIENT: &str = r#"
import http.client, socket, sys, time

port, inject_port = int(sys.argv[1]), int(sys.argv[2])
seen = b""

def fail(msg):
    print("FAIL: %s\ntranscript so far:\n%s" % (msg, seen.decode("latin-1")), flush=True)
    sys.exit(1)

conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.putrequest("POST", "/pimap")
conn.putheader("Content-Type", "application/vnd.pimap")
conn.putheader("Transfer-Encoding", "chunked")
conn.putheader("X-PIMAP-Persistent", "1")
conn.putheader("Pragma", "no-cache")
conn.endheaders()

def chunk(data):
    conn.send(b"%x\r\n" % len(data) + data + b"\r\n")

chunk(b"c1 LOGIN alice#dev2 alicepw\r\n")
chunk(b"c1a XSETPIMAPPREF PIMAP_XFILTER (INBOX N ALL)\r\n")
chunk(b"c2 SEL")  # a line split across chunks (E-49)
chunk(b"ECT INBOX\r\n")
chunk(b"c3 IDLE\r\n")

resp = conn.getresponse()
if resp.status != 200:
    fail("status %d" % resp.status)
if not (resp.getheader("Content-Type") or "").startswith("text/plain"):
    fail("content type %r" % resp.getheader("Content-Type"))
if not resp.chunked:
    fail("response is not chunked")

def wait_for(pred, what):
    global seen
    deadline = time.time() + 10
    while not pred(seen):
        if time.time() > deadline:
            fail("timed out waiting for " + what)
        try:
            data = resp.read1(4096)
        except socket.timeout:
            fail("read timed out waiting for " + what)
        if not data:
            fail("stream ended waiting for " + what)
        seen += data

wait_for(lambda t: b"c2 OK " in t and b"\r\n+ " in t, "the IDLE continuation")
for needle in (b"c1 OK ", b"c1a OK ", b"* 3 EXISTS\r\n"):
    if needle not in seen:
        fail("missing %r" % needle)
idle_at = len(seen)

msg = (b"From: Sender <sender@example.org>\r\nTo: alice@example.org\r\n"
       b"Subject: pushed-over-http\r\n\r\nHello.\r\n")
inj = socket.create_connection(("127.0.0.1", inject_port), timeout=10)
inj.sendall(b"INJECT alice INBOX %d\r\n" % len(msg) + msg)
answer = inj.recv(100)
inj.close()
if not answer.startswith(b"OK 4"):
    fail("inject answered %r" % answer)

wait_for(lambda t: b"* 4 EXISTS\r\n" in t[idle_at:], "the pushed * 4 EXISTS")
if b"c3 OK" in seen:
    fail("IDLE ended before DONE")

chunk(b"DONE\r\n")
wait_for(lambda t: b"c3 OK " in t, "c3 OK")
conn.send(b"0\r\n\r\n")  # the last chunk: the request body, and so the stream, ends
deadline = time.time() + 10
while True:
    if time.time() > deadline:
        fail("the response did not end after the request body ended")
    data = resp.read1(4096)
    if not data:
        break
    seen += data
print(seen.decode("latin-1"))
print("persistent mode passed", flush=True)
"#;

/// Bound of every wait for output.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Deliver a message through the example's inject port; returns its UID.
fn inject(port: u16, subject: &str) -> u32 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the inject port");
    s.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    let msg = format!(
        "From: Sender <sender@example.org>\r\nTo: alice@example.org\r\n\
         Subject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n\r\nHello.\r\n"
    );
    s.write_all(format!("INJECT alice INBOX {}\r\n{msg}", msg.len()).as_bytes())
        .expect("write INJECT");
    let mut line = String::new();
    BufReader::new(s)
        .read_line(&mut line)
        .expect("read the INJECT answer");
    line.trim()
        .strip_prefix("OK ")
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("INJECT failed: {line:?}"))
}

/// A POST with curl (non-persistent mode), sharing the cookie jar.
fn post(url: &str, jar: &Path, body: &str, extra: &[&str]) -> Output {
    Command::new("curl")
        .args(["-s", "-S", "--max-time", "10"])
        .arg("-c")
        .arg(jar)
        .arg("-b")
        .arg(jar)
        .args(["-H", "Content-Type: application/vnd.pimap"])
        .args(extra)
        .args(["--data-binary", body])
        .arg(url)
        .output()
        .expect("run curl")
}

#[test]
fn curl_against_http_example_server() {
    if !peers::available("curl_against_http_example_server", &[peers::CURL]) {
        return;
    }
    let bin = build_example("http_server");
    let server = start("http_server", &bin);
    let (port, inject_port) = (server.port, server.inject_port);
    let url = format!("http://127.0.0.1:{port}/pimap");
    let dir = std::env::temp_dir().join(format!("pimap-http-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let jar = dir.join("jar");
    let _ = std::fs::remove_file(&jar);

    // a. A batch: LOGIN with a device id, SELECT, FETCH; the cookie goes to the jar.
    let out = post(
        &url,
        &jar,
        "a1 LOGIN alice#dev1 alicepw\r\na2 SELECT INBOX\r\na3 FETCH 1:* (UID FLAGS)\r\n",
        &[],
    );
    let report = show("curl batch", &out);
    eprintln!("{report}");
    assert!(out.status.success(), "{report}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("* SESSIONID "), "{report}");
    assert!(text.contains("* 2 EXISTS\r\n"), "{report}");
    assert!(
        // The first SELECT of the demo mailbox takes its messages as \Recent.
        text.contains("* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))\r\n"),
        "{report}"
    );
    assert!(
        text.contains("* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n"),
        "{report}"
    );
    for ok in ["a1 OK ", "a2 OK ", "a3 OK "] {
        assert!(text.contains(ok), "{ok} missing: {report}");
    }
    assert!(
        !text.contains("CAPABILITY IMAP4rev1"),
        "greeting not swallowed: {report}"
    );
    let jar_text = std::fs::read_to_string(&jar).expect("read the cookie jar");
    let cookie = jar_text
        .lines()
        .find(|l| l.contains("JSESSIONID"))
        .unwrap_or_else(|| panic!("no JSESSIONID in the jar:\n{jar_text}"));
    assert!(cookie.contains("/pimap"), "{cookie}");

    // b. New mail is polled by the next command of the same session.
    let uid = inject(inject_port, "polled-over-http");
    assert_eq!(uid, 3);
    let out = post(&url, &jar, "b1 NOOP\r\n", &[]);
    let report = show("curl NOOP", &out);
    eprintln!("{report}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(text.contains("* 3 EXISTS\r\n"), "{report}");
    assert!(text.contains("b1 OK "), "{report}");
    assert!(
        !text.contains("SESSIONID"),
        "same session expected: {report}"
    );

    // gzip content coding, decoded by curl.
    let headers = dir.join("headers");
    let out = post(
        &url,
        &jar,
        "b2 FETCH 3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n",
        &["--compressed", "-D", &headers.to_string_lossy()],
    );
    let report = show("curl gzip", &out);
    eprintln!("{report}");
    let text = String::from_utf8_lossy(&out.stdout);
    let head = std::fs::read_to_string(&headers).unwrap_or_default();
    assert!(out.status.success(), "{report}");
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "not gzipped:\n{head}"
    );
    assert!(text.contains("Subject: polled-over-http"), "{report}");
    assert!(text.contains("b2 OK "), "{report}");

    // GET is refused.
    let out = Command::new("curl")
        .args([
            "-s",
            "-S",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(&url)
        .output()
        .expect("run curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "405",
        "{}",
        show("GET", &out)
    );

    // c. Persistent mode: one long-lived chunked POST, IDLE, a push, DONE (Python's
    // http.client, see the module documentation for why not curl).
    if !peers::available(
        "curl_against_http_example_server (persistent part)",
        &[peers::PYTHON3],
    ) {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(PERSISTENT_CLIENT)
        .arg(port.to_string())
        .arg(inject_port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let stdout = collect(child.stdout.take().expect("stdout"));
    let stderr = collect(child.stderr.take().expect("stderr"));
    let mut client = ChildGuard {
        name: "python3 http.client (persistent)",
        child,
        stderr: stderr.clone(),
    };
    // The script bounds each read by 10 s; the whole run by this deadline.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = client.child.try_wait().expect("try_wait") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the persistent client did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(100));
    let out =
        String::from_utf8_lossy(&stdout.lock().map(|b| b.clone()).unwrap_or_default()).into_owned();
    let err =
        String::from_utf8_lossy(&stderr.lock().map(|b| b.clone()).unwrap_or_default()).into_owned();
    eprintln!("persistent client: {status}\n--- stdout ---\n{out}\n--- stderr ---\n{err}");
    assert!(status.success(), "persistent client failed:\n{out}\n{err}");
    assert!(out.contains("persistent mode passed"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CA and a certificate for `localhost` made now (rcgen), written as PEM files.
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: OpenSSL takes a leaf whose issuer equals its subject as self-signed.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pimap test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &rcgen::Issuer::new(ca_params, ca_key))
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    (ca_pem, cert_pem, key_pem)
}

/// The HTTP binding over HTTPS: curl verifies the certificate against the CA, logs in as a
/// device and selects INBOX; without the CA curl refuses the server.
#[test]
fn curl_over_https_against_http_example_server() {
    if !peers::available(
        "curl_over_https_against_http_example_server",
        &[peers::CURL],
    ) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pimap-https-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ca, cert, key) = test_pki(&dir);
    let bin = build_example("http_server");
    let (cert_s, key_s) = (cert.display().to_string(), key.display().to_string());
    let server = start_with(
        "http_server",
        &bin,
        &["--tls-cert", &cert_s, "--tls-key", &key_s],
    );
    let url = format!("https://localhost:{}/pimap", server.port);
    let jar = dir.join("jar");
    let ca_s = ca.display().to_string();
    let out = post(
        &url,
        &jar,
        "a1 LOGIN alice#tls alicepw\r\na2 SELECT INBOX\r\n",
        &["--cacert", &ca_s],
    );
    let report = show("curl https batch", &out);
    eprintln!("{report}");
    assert!(out.status.success(), "{report}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("a1 OK ") && text.contains("a2 OK "),
        "{report}"
    );
    assert!(text.contains("* 2 EXISTS\r\n"), "{report}");

    // Without the CA, curl must refuse the certificate.
    let out = post(&url, &dir.join("jar2"), "b1 NOOP\r\n", &[]);
    assert!(!out.status.success(), "{}", show("curl without CA", &out));
    // Plain HTTP to the TLS port gets no P-IMAP answer.
    let plain = format!("http://127.0.0.1:{}/pimap", server.port);
    let out = post(&plain, &dir.join("jar3"), "c1 NOOP\r\n", &[]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("c1 OK"),
        "{}",
        show("plain http to https port", &out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
