//! `apps/pimap-gateway` as a child process on 127.0.0.1: built once with cargo, started with
//! `--listen-port 0`, its port read from the first line it prints, killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running gateway.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Build the gateway binary (of this test's profile) and return its path.
pub fn gateway_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--workspace", "--bin", "pimap-gateway"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build --bin pimap-gateway");
    assert!(status.success(), "cargo build --bin pimap-gateway failed");
    // target/<profile>/deps/<test binary> -> target/<profile>/pimap-gateway
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = profile_dir.join(format!("pimap-gateway{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

/// Start a gateway in front of `127.0.0.1:backend_port` with further `args`; its stderr
/// goes to `stderr`. Panics if it does not print its port within 20 s.
pub fn start(backend_port: u16, args: &[&str], stderr: Stdio) -> Gateway {
    let mut child = Command::new(gateway_binary())
        .args([
            "--listen-port",
            "0",
            "--backend",
            &format!("127.0.0.1:{backend_port}"),
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn gateway");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(l)) = lines.next() {
            let _ = tx.send(l);
        }
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("gateway did not print its port");
    let port = line
        .strip_prefix("listening on 127.0.0.1:")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Gateway { child, port }
}
