//! Run an example binary from a test: build it with the cargo running the test, start it on
//! free ports with a bounded lifetime, read the ports it prints, kill it on drop (printing
//! its stderr when the test panicked).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// A child process killed on drop; on a panic its stderr is printed.
pub struct ChildGuard {
    /// Name used in the stderr dump.
    pub name: &'static str,
    /// The process.
    pub child: Child,
    /// Its stderr, collected by [`collect`].
    pub stderr: Arc<Mutex<Vec<u8>>>,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // Give the reader thread a moment to collect the last lines.
            std::thread::sleep(Duration::from_millis(100));
            let log = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
            eprintln!(
                "---- {} stderr ----\n{}",
                self.name,
                String::from_utf8_lossy(&log)
            );
        }
    }
}

/// Collect a pipe into a shared buffer from a thread.
pub fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let out = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if let Ok(mut b) = out.lock() {
                b.extend_from_slice(&chunk[..n]);
            }
        }
    });
    buf
}

/// A running example; killed on drop.
pub struct ExampleProcess {
    _guard: ChildGuard,
    /// The port after `listening on 127.0.0.1:`.
    pub port: u16,
    /// The port after `inject on 127.0.0.1:`.
    pub inject_port: u16,
}

/// `target/<profile>/examples/<name>`, next to this test's `deps` directory.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in target/<profile>/deps");
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Build the example (same profile as the test) and return its path.
pub fn build_example(name: &str) -> PathBuf {
    let path = example_path(name);
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--workspace");
    let release = path
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .is_some_and(|n| n == "release");
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build --example");
    assert!(status.success(), "cargo build --example {name} failed");
    assert!(
        path.exists(),
        "example binary not found at {}",
        path.display()
    );
    path
}

/// Start `bin` with `--port 0 --inject-port 0 --max-seconds 120` and wait (30 s at most)
/// for both ports to be printed.
pub fn start(name: &'static str, bin: &Path) -> ExampleProcess {
    start_with(name, bin, &[])
}

/// [`start`] with more arguments.
pub fn start_with(name: &'static str, bin: &Path, extra: &[&str]) -> ExampleProcess {
    let mut child = Command::new(bin)
        .args(["--port", "0", "--inject-port", "0", "--max-seconds", "120"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = collect(child.stderr.take().expect("stderr"));
    let mut p = ExampleProcess {
        _guard: ChildGuard {
            name,
            child,
            stderr,
        },
        port: 0,
        inject_port: 0,
    };
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
    while p.port == 0 || p.inject_port == 0 {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the example did not print its ports within 30 s");
        if let Some(n) = port_of(&line, "listening on 127.0.0.1:") {
            p.port = n;
        }
        if let Some(n) = port_of(&line, "inject on 127.0.0.1:") {
            p.inject_port = n;
        }
    }
    p
}

/// Is `program` runnable (`program --version` succeeds)?
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A process's status and output, for assertion messages.
pub fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
