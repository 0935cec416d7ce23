//! Interop of the example server (`examples/server.rs`) with real clients: Python's imaplib
//! (`tests/interop/imaplib_server.py`) and curl's IMAP support.
//!
//! The test builds the example with the cargo that runs it, starts it on free ports with a
//! bounded lifetime, and kills it at the end (also when an assertion fails). A client that
//! is not installed skips its part with a message; `tests/interop/setup.sh` installs curl.

#[path = "support/example_process.rs"]
mod example_process;
#[path = "support/peers.rs"]
mod peers;
use example_process::{build_example, show, start};

use std::process::{Command, Output};

const SUBJECT_1: &str = "Welcome to the pimap demo server";

fn curl(url: &str) -> Output {
    Command::new("curl")
        .args(["-s", "-S", "--max-time", "10", "--url", url])
        .args(["--user", "alice:alicepw"])
        .output()
        .expect("run curl")
}

#[test]
fn python_imaplib_and_curl_against_example_server() {
    let imaplib = peers::available(
        "python_imaplib_and_curl_against_example_server (imaplib part)",
        &[peers::PYTHON3],
    );
    let curl_part = peers::available(
        "python_imaplib_and_curl_against_example_server (curl part)",
        &[peers::CURL],
    );
    if !imaplib && !curl_part {
        return;
    }
    let bin = build_example("server");
    let server = start("server", &bin);
    let (port, inject_port) = (server.port, server.inject_port);
    eprintln!("example server on port {port}, inject port {inject_port}");

    if imaplib {
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
    }

    if curl_part {
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
    }
}

/// Python's zlib drives COMPRESS=DEFLATE (RFC 4978) against the example server.
#[test]
fn python_zlib_compress_against_example_server() {
    if !peers::available(
        "python_zlib_compress_against_example_server",
        &[peers::PYTHON3],
    ) {
        return;
    }
    let bin = build_example("server");
    let server = start("server", &bin);
    let (port, inject_port) = (server.port, server.inject_port);
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
