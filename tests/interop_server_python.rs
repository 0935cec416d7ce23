//! Interop of the example server (`examples/server.rs`) with real clients: Python's imaplib
//! (`tests/interop/imaplib_server.py`) and curl's IMAP support.
//!
//! The test builds the example with the cargo that runs it, starts it on free ports with a
//! bounded lifetime, and kills it at the end (also when an assertion fails). A client that
//! is not installed skips its part with a message; `tests/interop/setup.sh` installs curl.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

const SUBJECT_1: &str = "Welcome to the pimap demo server";

/// The running example server; killed on drop. On a panic its stderr is printed.
struct ServerGuard {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // Give the reader thread a moment to collect the last lines.
            std::thread::sleep(Duration::from_millis(100));
            let log = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
            eprintln!(
                "---- example server stderr ----\n{}",
                String::from_utf8_lossy(&log)
            );
        }
    }
}

/// `target/<profile>/examples/server`, next to this test's `deps` directory.
fn example_path() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in target/<profile>/deps");
    profile_dir
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX))
}

fn build_example() -> PathBuf {
    let path = example_path();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--example", "server"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let release = path
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|n| n == "release");
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build --example server");
    assert!(status.success(), "cargo build --example server failed");
    assert!(
        path.exists(),
        "example binary not found at {}",
        path.display()
    );
    path
}

/// Start the server on free ports; returns the guard and the (IMAP, inject) ports.
fn start_server(bin: &Path) -> (ServerGuard, u16, u16) {
    let mut child = Command::new(bin)
        .args(["--port", "0", "--inject-port", "0", "--max-seconds", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example server");
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let guard = ServerGuard {
        child,
        stderr: log.clone(),
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut l) = log.lock() {
                l.extend_from_slice(&buf[..n]);
            }
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let port_of =
        |line: &str, prefix: &str| -> Option<u16> { line.strip_prefix(prefix)?.parse().ok() };
    let (mut imap, mut inject) = (None, None);
    while imap.is_none() || inject.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server did not print its ports within 30 s");
        imap = imap.or_else(|| port_of(&line, "listening on 127.0.0.1:"));
        inject = inject.or_else(|| port_of(&line, "inject on 127.0.0.1:"));
    }
    (guard, imap.unwrap_or(0), inject.unwrap_or(0))
}

/// Is `program` runnable (`program --version` succeeds)?
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn curl(url: &str) -> Output {
    Command::new("curl")
        .args(["-s", "-S", "--max-time", "10", "--url", url])
        .args(["--user", "alice:alicepw"])
        .output()
        .expect("run curl")
}

#[test]
fn python_imaplib_and_curl_against_example_server() {
    let bin = build_example();
    let (_server, port, inject_port) = start_server(&bin);
    eprintln!("example server on port {port}, inject port {inject_port}");

    if have("python3") {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/imaplib_server.py"
        );
        let out = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(inject_port.to_string())
            .output()
            .expect("run python3");
        let report = show("imaplib_server.py", &out);
        eprintln!("{report}");
        assert!(out.status.success(), "{report}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("all imaplib steps passed"),
            "{report}"
        );
    } else {
        eprintln!("SKIP imaplib part: python3 not found");
    }

    if have("curl") {
        let out = curl(&format!("imap://127.0.0.1:{port}/"));
        let report = show("curl LIST", &out);
        eprintln!("{report}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{report}");
        assert!(text.contains("INBOX"), "{report}");
        assert!(text.contains("Sent"), "{report}");

        let out = curl(&format!("imap://127.0.0.1:{port}/INBOX;UID=1"));
        let report = show("curl FETCH UID 1", &out);
        eprintln!("{report}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{report}");
        assert!(text.contains(SUBJECT_1), "{report}");
    } else {
        eprintln!("SKIP curl part: curl not found (tests/interop/setup.sh installs it)");
    }
}

/// Python's zlib drives COMPRESS=DEFLATE (RFC 4978) against the example server.
#[test]
fn python_zlib_compress_against_example_server() {
    if !have("python3") {
        eprintln!("SKIP: python3 not found");
        return;
    }
    let bin = build_example();
    let (_server, port, inject_port) = start_server(&bin);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/compress_client.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(inject_port.to_string())
        .output()
        .expect("run python3");
    let report = show("compress_client.py", &out);
    eprintln!("{report}");
    assert!(out.status.success(), "{report}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("all compress steps passed"),
        "{report}"
    );
}
