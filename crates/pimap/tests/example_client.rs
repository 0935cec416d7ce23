//! The runtime crate's `client` example (a device over `pimap_tokio::Connection`) against
//! its `server` example: it logs in as a device, idles, and prints the message injected
//! meanwhile as it is pushed. Both run as child processes on 127.0.0.1, bounded in time.

#[path = "support/example_process.rs"]
mod example_process;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use example_process::{build_example, start};

#[test]
fn client_example_gets_a_push_from_the_server_example() {
    let server_bin = build_example("server");
    let client_bin = build_example("client");
    let server = start("server", &server_bin);
    let mut client = Command::new(&client_bin)
        .args(["--addr", &format!("127.0.0.1:{}", server.port)])
        .args([
            "--user",
            "alice#phone",
            "--password",
            "alicepw",
            "--max-seconds",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the client example");
    let (tx, rx) = mpsc::channel();
    let stdout = client.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut pushed = false;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        if line == "idling" {
            let msg = b"From: a@example.com\r\nSubject: for the example\r\n\r\nhi\r\n";
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, server.inject_port)).unwrap();
            write!(s, "INJECT alice INBOX {}\r\n", msg.len()).unwrap();
            s.write_all(msg).unwrap();
            let mut ok = String::new();
            BufReader::new(s).read_line(&mut ok).unwrap();
            assert!(ok.starts_with("OK 3"), "inject: {ok}");
        }
        // The demo INBOX holds two messages: the third one is the pushed one.
        pushed |= line == "event: Exists { count: 3 }";
        seen.push(line);
        if pushed {
            break;
        }
    }
    let _ = client.kill();
    let _ = client.wait();
    assert!(pushed, "client printed {seen:?}");
    assert_eq!(
        seen.first().map(String::as_str),
        Some("login: Fresh"),
        "{seen:?}"
    );
}
