//! The interop matrix: real IMAP clients against servers, one cell per (client, server).
//!
//! One `#[test]` runs every cell in order, prints a table `| client | server | result |` to
//! stderr (with the details of failed cells below it) and fails if any cell failed. A cell is
//! a plain function returning `Ok(summary)` or `Err(details)`; a panic inside a cell counts
//! as a failure of that cell only. To add a row, write a `fn(&Env) -> CellResult` and append
//! `(client, server, fn)` to [`cells`].
//!
//! Cells:
//!
//! * mbsync (isync) against `examples/server`: pulls INBOX into a temporary Maildir
//!   (LOGIN over plaintext, `AuthMechs LOGIN`, `SSLType None`); both sample messages arrive.
//! * fetchmail against `examples/server`: `keep fetchall`, no TLS, messages written with
//!   `--bsmtp`; both sample subjects are in the output.
//! * `examples/client.rs` against `examples/server`: `list` shows INBOX; with the device's
//!   notification filter set (`XFILTER INBOX N ALL`, P-IMAP pushes only matching events to a
//!   device session), `idle INBOX --seconds 8` prints the message injected meanwhile.
//! * `examples/client.rs` against a private real Dovecot (`tests/support/dovecot.rs`): `list`
//!   and `fetch INBOX 1:* (UID FLAGS)` after injecting a message.
//!
//! Gateway rows: `examples/gateway` in front of a private Dovecot (alice's INBOX seeded with
//! two messages) and an SMTP sink (`tests/interop/smtp_sink.py`), started once by the first
//! of these rows and shared by them:
//!
//! * mbsync and fetchmail as above, against the gateway: the seeded messages arrive.
//! * curl: `imap://` LIST shows INBOX; `INBOX;UID=1` is the first seeded message.
//! * Python imaplib (an inline script, stdlib only, 10 s timeouts): login, LIST, SELECT,
//!   FETCH, STORE, SEARCH, APPEND, IDLE with `* n EXISTS` pushed after a message is injected
//!   into Dovecot, LOGOUT.
//! * `examples/client.rs`: `XFILTER INBOX N ALL` as alice#phone, then `idle INBOX` prints a
//!   message injected into Dovecot meanwhile.
//! * XDELIVER: `examples/client.rs deliver --saveto Sent --to bob@example.com` (after
//!   `CREATE Sent`): the sink receives the message byte-exact, the client prints APPENDUID.
//!
//! The example binaries are built with the cargo running this test. Every server listens on
//! 127.0.0.1 only, every external program runs with a deadline (killed after it), and every
//! server is stopped at the end of its cell. mbsync and fetchmail come from
//! `tests/interop/setup.sh` (run here if they are missing; needs root and apt), as do curl,
//! Dovecot and aiosmtpd.

#[path = "support/dovecot.rs"]
mod dovecot;
#[path = "support/peers.rs"]
mod peers;

use std::cell::OnceCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Subjects of the example server's two INBOX sample messages.
const SAMPLE_SUBJECTS: [&str; 2] = [
    "Welcome to the pimap demo server",
    "Quarterly report (with attachment)",
];
/// Deadline of one external program run.
const RUN_LIMIT: Duration = Duration::from_secs(30);
/// Lifetime of an example server (it exits on its own after this).
const SERVER_MAX_SECONDS: &str = "120";

type CellResult = Result<String, String>;
type CellFn = fn(&Env) -> CellResult;

/// The rows of the matrix: (client, server, cell).
fn cells() -> Vec<(&'static str, &'static str, CellFn)> {
    vec![
        ("mbsync", "examples/server", mbsync_vs_example as CellFn),
        ("fetchmail", "examples/server", fetchmail_vs_example),
        ("Python imaplib", "examples/server", imaplib_vs_example),
        ("curl", "examples/server", curl_vs_example),
        (
            "pimap-cli (apps/pimap-cli)",
            "examples/server",
            pimap_client_vs_example,
        ),
        (
            "pimap-cli (apps/pimap-cli)",
            "Dovecot",
            pimap_client_vs_dovecot,
        ),
        // The gateway rows share one rig (Dovecot + SMTP sink + gateway, [`Env::rig`]); the
        // readers come first, the writers after them.
        ("mbsync", "gateway → Dovecot", mbsync_vs_gateway),
        ("fetchmail", "gateway → Dovecot", fetchmail_vs_gateway),
        ("curl", "gateway → Dovecot", curl_vs_gateway),
        ("Python imaplib", "gateway → Dovecot", imaplib_vs_gateway),
        (
            "pimap-cli (apps/pimap-cli)",
            "gateway → Dovecot",
            pimap_client_vs_gateway,
        ),
        ("XDELIVER", "gateway → SMTP sink", xdeliver_vs_gateway),
    ]
}

#[test]
fn interop_matrix() {
    if !peers::available(
        "interop_matrix",
        &[
            peers::DOVECOT,
            peers::MBSYNC,
            peers::FETCHMAIL,
            peers::CURL,
            peers::AIOSMTPD,
        ],
    ) {
        return;
    }
    let env = Env::new();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (client, server, cell) in cells() {
        eprintln!("interop matrix: running {client} against {server} ...");
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cell(&env)))
            .unwrap_or_else(|p| {
                Err(format!(
                    "panicked: {}",
                    p.downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| p.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)")
                ))
            });
        let secs = started.elapsed().as_secs_f32();
        match outcome {
            Ok(summary) => rows.push((client, server, format!("ok ({secs:.1} s): {summary}"))),
            Err(details) => {
                let first = details.lines().next().unwrap_or("").to_string();
                rows.push((client, server, format!("FAIL ({secs:.1} s): {first}")));
                failures.push(format!("---- {client} | {server} ----\n{details}"));
            }
        }
    }
    let mut table = String::from("\n| client | server | result |\n|---|---|---|\n");
    for (client, server, result) in &rows {
        table.push_str(&format!("| {client} | {server} | {result} |\n"));
    }
    eprintln!("{table}");
    for f in &failures {
        eprintln!("{f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} of {} interop cells failed (see the table above)",
        failures.len(),
        rows.len()
    );
}

// ------------------------------------------------------------------------------------------
// environment: built examples, a scratch directory

/// What every cell may use: the example binaries and a scratch directory.
struct Env {
    server_bin: PathBuf,
    client_bin: PathBuf,
    gateway_bin: PathBuf,
    scratch: PathBuf,
    /// Dovecot + SMTP sink + gateway for the gateway rows, started by the first of them.
    rig: OnceCell<Result<GatewayRig, String>>,
}

impl Env {
    fn new() -> Self {
        let [server_bin, client_bin, gateway_bin] = build_examples();
        let scratch = std::env::temp_dir().join(format!("pimap-matrix-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(&scratch).expect("create the scratch directory");
        Env {
            server_bin,
            client_bin,
            gateway_bin,
            scratch,
            rig: OnceCell::new(),
        }
    }

    /// A fresh, empty directory for one cell.
    fn dir(&self, name: &str) -> PathBuf {
        let d = self.scratch.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create a cell directory");
        d
    }

    /// Run `examples/client` with `args` against 127.0.0.1:`port`; returns its stdout (and
    /// stderr) or why it failed.
    fn pimap_client(&self, port: u16, user: &str, password: &str, args: &[&str]) -> CellResult {
        let mut cmd = Command::new(&self.client_bin);
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--user", user, "--password", password, "--timeout", "10"])
            .args(args);
        let out = run_bounded(&mut cmd, RUN_LIMIT)?;
        if out.ok {
            Ok(out.stdout)
        } else {
            Err(format!("client {args:?}: {}", out.show()))
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

fn build_examples() -> [PathBuf; 3] {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in target/<profile>/deps")
        .to_path_buf();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--quiet",
        "--workspace",
        "--example",
        "server",
        "--bin",
        "pimap-cli",
        "--bin",
        "pimap-gateway",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .expect("run cargo build of the server example, pimap-cli and pimap-gateway");
    assert!(status.success(), "cargo build of the examples failed");
    let bin = |dir: &Path, name: &str| {
        let p = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        assert!(p.exists(), "binary not found at {}", p.display());
        p
    };
    [
        bin(&profile_dir.join("examples"), "server"),
        bin(&profile_dir, "pimap-cli"),
        bin(&profile_dir, "pimap-gateway"),
    ]
}

/// Make sure `program` (an absolute path) exists, running `tests/interop/setup.sh` once if
/// not.
fn ensure_tool(program: &str) -> Result<(), String> {
    if Path::new(program).exists() {
        return Ok(());
    }
    let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/setup.sh");
    let out = run_bounded(Command::new("bash").arg(&setup), Duration::from_secs(900))?;
    if !out.ok || !Path::new(program).exists() {
        return Err(format!(
            "{program} is not installed and {} did not install it (run it as root): {}",
            setup.display(),
            out.show()
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// bounded runs of external programs

struct RunOutput {
    ok: bool,
    status: String,
    stdout: String,
    stderr: String,
}

impl RunOutput {
    fn show(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status,
            tail(&self.stdout, 80),
            tail(&self.stderr, 80)
        )
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn drain<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Wait for `child` at most until `deadline`, killing it after that.
fn wait_child(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Run `cmd` (stdin closed) for at most `limit`; killed after that.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<RunOutput, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let status = wait_child(&mut child, Instant::now() + limit);
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(RunOutput {
        ok: status.is_some_and(|s| s.success()),
        status: match status {
            Some(s) => s.to_string(),
            None => format!("timed out after {limit:?} (killed)"),
        },
        stdout,
        stderr,
    })
}

// ------------------------------------------------------------------------------------------
// the example server

/// A running `examples/server` on free loopback ports; killed on drop.
struct ExampleServer {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    port: u16,
    inject_port: u16,
}

impl ExampleServer {
    fn start(bin: &Path) -> Result<Self, String> {
        let mut child = Command::new(bin)
            .args(["--port", "0", "--inject-port", "0"])
            .args(["--max-seconds", SERVER_MAX_SECONDS])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut server = ExampleServer {
            child,
            stderr: log.clone(),
            port: 0,
            inject_port: 0,
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
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.port == 0 || server.inject_port == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).map_err(|_| {
                format!(
                    "the example server did not print its ports within 30 s\n{}",
                    server.log()
                )
            })?;
            if let Some(p) = port_of(&line, "listening on 127.0.0.1:") {
                server.port = p;
            }
            if let Some(p) = port_of(&line, "inject on 127.0.0.1:") {
                server.inject_port = p;
            }
        }
        Ok(server)
    }

    /// The server's stderr so far (its connection log).
    fn log(&self) -> String {
        let bytes = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        format!(
            "--- example server stderr ---\n{}",
            tail(&String::from_utf8_lossy(&bytes), 40)
        )
    }

    /// Deliver `message` to `user`'s `mailbox` through the inject port; returns the UID.
    fn inject(&self, user: &str, mailbox: &str, message: &[u8]) -> Result<u32, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.inject_port))
            .map_err(|e| format!("connect to the inject port: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .and_then(|()| s.set_write_timeout(Some(Duration::from_secs(10))))
            .map_err(|e| e.to_string())?;
        s.write_all(format!("INJECT {user} {mailbox} {}\r\n", message.len()).as_bytes())
            .and_then(|()| s.write_all(message))
            .map_err(|e| format!("inject: {e}"))?;
        let mut line = String::new();
        BufReader::new(s)
            .read_line(&mut line)
            .map_err(|e| format!("inject answer: {e}"))?;
        line.trim()
            .strip_prefix("OK ")
            .and_then(|u| u.parse().ok())
            .ok_or_else(|| format!("inject answered {line:?}"))
    }
}

impl Drop for ExampleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Turn a cell's error into one with the server's log appended.
fn with_log(server: &ExampleServer) -> impl Fn(String) -> String + '_ {
    move |e| format!("{e}\n{}", server.log())
}

// ------------------------------------------------------------------------------------------
// child processes with a line channel

/// A child process (stdin closed) whose stdout lines arrive on a channel and whose stderr is
/// collected; killed on drop.
struct LoggedChild {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl LoggedChild {
    fn spawn(cmd: &mut Command) -> Result<Self, String> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut l) = sink.lock() {
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
        Ok(LoggedChild {
            child,
            lines: rx,
            stderr: log,
        })
    }

    /// Wait at most `limit` for a stdout line containing `want` (false when stdout ends
    /// first); every line read is appended to `seen`.
    fn wait_line(&self, seen: &mut Vec<String>, want: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(want);
                    seen.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Wait for the exit at most `limit` (killed after that), then collect the rest of
    /// stdout into `seen`. None: it had to be killed.
    fn finish(
        &mut self,
        seen: &mut Vec<String>,
        limit: Duration,
    ) -> Option<std::process::ExitStatus> {
        let status = wait_child(&mut self.child, Instant::now() + limit);
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(300)) {
            seen.push(l);
        }
        status
    }

    /// The last `n` lines of stderr so far.
    fn stderr_tail(&self, n: usize) -> String {
        let bytes = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        tail(&String::from_utf8_lossy(&bytes), n)
    }
}

impl Drop for LoggedChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------------
// the gateway rig: a private Dovecot, an SMTP sink and examples/gateway in front of both

/// Subjects of the two messages seeded into alice's INBOX on the rig's Dovecot (UIDs 1, 2).
const GW_SUBJECTS: [&str; 2] = [
    "Seeded for the gateway rows",
    "Second seeded message (gateway rows)",
];
/// Lifetime of the rig's gateway (it exits on its own after this).
const GATEWAY_MAX_SECONDS: &str = "300";

/// What the gateway rows share, started by the first of them ([`Env::rig`]) and stopped
/// with the [`Env`]: the gateway first, then the sink, then Dovecot (field order).
struct GatewayRig {
    gateway: LoggedChild,
    /// The gateway's P-IMAP port on 127.0.0.1.
    port: u16,
    sink: LoggedChild,
    /// Where the SMTP sink writes `NNNNNN.eml` / `NNNNNN.json`.
    sink_dir: PathBuf,
    dovecot: dovecot::Dovecot,
}

impl GatewayRig {
    fn start(env: &Env) -> Result<Self, String> {
        if !has_aiosmtpd() {
            let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/setup.sh");
            run_bounded(Command::new("bash").arg(&setup), Duration::from_secs(900))?;
            if !has_aiosmtpd() {
                return Err(format!(
                    "python3 cannot import aiosmtpd and {} did not install it (run it as root)",
                    setup.display()
                ));
            }
        }
        let sink_dir = env.dir("smtp-sink");
        let sink_port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("pick a port for the SMTP sink: {e}"))?
            .port();
        let sink = LoggedChild::spawn(
            Command::new("python3")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/smtp_sink.py"))
                .arg("--dir")
                .arg(&sink_dir)
                .args(["--host", "127.0.0.1", "--port", &sink_port.to_string()]),
        )?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !smtp_greets(sink_port) {
            if Instant::now() >= deadline {
                return Err(format!(
                    "the SMTP sink did not greet on port {sink_port} within 15 s\n{}",
                    sink.stderr_tail(20)
                ));
            }
            sleep(Duration::from_millis(100));
        }

        let dovecot = dovecot::Dovecot::start();
        for (i, subject) in GW_SUBJECTS.iter().enumerate() {
            dovecot.inject(
                "INBOX",
                format!(
                    "From: Seeder <seed@example.org>\r\nTo: alice@example.org\r\n\
                     Subject: {subject}\r\nMessage-ID: <seed-{i}@example.org>\r\n\r\n\
                     seeded message {i}\r\n"
                )
                .as_bytes(),
            );
        }

        let gateway = LoggedChild::spawn(
            Command::new(&env.gateway_bin)
                .args(["--listen-port", "0"])
                .args(["--backend", &format!("127.0.0.1:{}", dovecot.port)])
                .args(["--smtp", &format!("127.0.0.1:{sink_port}")])
                .args(["--notify", "log", "--max-seconds", GATEWAY_MAX_SECONDS]),
        )?;
        let mut seen = Vec::new();
        let prefix = "listening on 127.0.0.1:";
        let port = if gateway.wait_line(&mut seen, prefix, Duration::from_secs(30)) {
            seen.last()
                .and_then(|l| l.strip_prefix(prefix))
                .and_then(|p| p.trim().parse().ok())
        } else {
            None
        };
        let Some(port) = port else {
            return Err(format!(
                "the gateway did not print `{prefix}<port>` within 30 s: {seen:?}\n{}",
                gateway.stderr_tail(40)
            ));
        };
        Ok(GatewayRig {
            gateway,
            port,
            sink,
            sink_dir,
            dovecot,
        })
    }

    /// `e` with the tails of the gateway's stderr and Dovecot's log appended.
    fn with_log(&self, e: String) -> String {
        format!(
            "{e}\n--- gateway stderr ---\n{}\n--- dovecot.log ---\n{}\n--- SMTP sink stderr ---\n{}",
            self.gateway.stderr_tail(40),
            self.dovecot.log_tail(20),
            self.sink.stderr_tail(10)
        )
    }

    /// Append `message` to alice's INBOX on Dovecot (not through the gateway).
    fn inject(&self, message: &[u8]) -> Result<(), String> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.dovecot.inject("INBOX", message)
        }))
        .map(drop)
        .map_err(|_| "injecting into Dovecot failed (see the panic above)".to_string())
    }
}

impl Env {
    /// The gateway rig, started on first use; a failed start fails every gateway row.
    fn rig(&self) -> Result<&GatewayRig, String> {
        self.rig
            .get_or_init(|| GatewayRig::start(self))
            .as_ref()
            .map_err(|e| format!("gateway rig: {e}"))
    }
}

fn has_aiosmtpd() -> bool {
    Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Does an SMTP server on 127.0.0.1:`port` send a 220 greeting (within 2 s)?
fn smtp_greets(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok_and(|s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut l = String::new();
        BufReader::new(s).read_line(&mut l).is_ok() && l.starts_with("220")
    })
}

/// The subjects of `subjects` that no `Subject:` line of `text` carries.
fn missing_subjects<'a>(text: &str, subjects: &[&'a str]) -> Vec<&'a str> {
    subjects
        .iter()
        .copied()
        .filter(|s| !text.contains(&format!("Subject: {s}")))
        .collect()
}

// ------------------------------------------------------------------------------------------
// shared client runs

/// mbsync pulls INBOX of alice/alicepw on 127.0.0.1:`port` into a fresh Maildir (directory
/// `cell`); returns mbsync's run and the pulled messages.
fn mbsync_pull(env: &Env, cell: &str, port: u16) -> Result<(RunOutput, Vec<String>), String> {
    ensure_tool("/usr/bin/mbsync")?;
    let dir = env.dir(cell);
    let maildir = dir.join("mail");
    std::fs::create_dir_all(&maildir).map_err(|e| e.to_string())?;
    let inbox = maildir.join("INBOX");
    let rc = dir.join("mbsyncrc");
    let text = format!(
        "IMAPAccount pimap\n\
         Host 127.0.0.1\n\
         Port {port}\n\
         User alice\n\
         Pass alicepw\n\
         AuthMechs LOGIN\n\
         SSLType None\n\
         Timeout 20\n\
         \n\
         IMAPStore pimap-remote\n\
         Account pimap\n\
         \n\
         MaildirStore pimap-local\n\
         Path {maildir}/\n\
         Inbox {inbox}\n\
         \n\
         Channel pimap-inbox\n\
         Far :pimap-remote:\n\
         Near :pimap-local:\n\
         Patterns INBOX\n\
         Create Near\n\
         Sync Pull\n\
         SyncState *\n",
        maildir = maildir.display(),
        inbox = inbox.display(),
    );
    std::fs::write(&rc, text).map_err(|e| e.to_string())?;
    let out = run_bounded(
        Command::new("mbsync").arg("-c").arg(&rc).args(["-a", "-V"]),
        RUN_LIMIT,
    )?;
    let messages = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(inbox.join(sub)).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()).into_owned())
        .collect();
    Ok((out, messages))
}

/// fetchmail retrieves INBOX of alice/alicepw on 127.0.0.1:`port` (keep, fetchall, no TLS,
/// written with --bsmtp into directory `cell`); returns its run and the bsmtp output.
fn fetchmail_fetch(env: &Env, cell: &str, port: u16) -> Result<(RunOutput, String), String> {
    ensure_tool("/usr/bin/fetchmail")?;
    let dir = env.dir(cell);
    let rc = dir.join("fetchmailrc");
    let bsmtp = dir.join("out.bsmtp");
    // `sslproto ''` turns off opportunistic STARTTLS (the server offers none anyway);
    // `no sslcertck` is irrelevant without TLS but keeps 6.4's checks quiet.
    let text = format!(
        "set no syslog\n\
         poll 127.0.0.1 with protocol IMAP port {port} timeout 20\n\
         \x20 user \"alice\" there with password \"alicepw\" is \"root\" here\n\
         \x20 options keep fetchall sslproto '' no sslcertck\n"
    );
    std::fs::write(&rc, text).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // fetchmail refuses a run control file readable by others.
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
    }
    let out = run_bounded(
        Command::new("fetchmail")
            .arg("-f")
            .arg(&rc)
            .args(["-v", "--nosyslog", "--nodetach"])
            .arg("--bsmtp")
            .arg(&bsmtp)
            // .fetchids, the pid/lock file: in the cell's directory, not $HOME.
            .env("FETCHMAILHOME", &dir),
        RUN_LIMIT,
    )?;
    let written = std::fs::read_to_string(&bsmtp).unwrap_or_default();
    Ok((out, written))
}

/// "fetchmail 6.4.37" (from "This is fetchmail release 6.4.37+GSS+...").
fn fetchmail_version() -> String {
    let version = version_of("fetchmail", &["--version"]);
    version
        .split_once("release ")
        .map(|(_, v)| format!("fetchmail {}", v.split('+').next().unwrap_or(v)))
        .unwrap_or(version)
}

/// `examples/client ... idle INBOX --seconds 8` against 127.0.0.1:`port`; once it idles,
/// `inject` delivers a message with a known subject, which the client must print while
/// idling. Returns the delay from the injection to the printed event.
fn idle_push(
    env: &Env,
    port: u16,
    user: &str,
    pw: &str,
    inject: &dyn Fn(&[u8]) -> Result<(), String>,
) -> Result<Duration, String> {
    let mut client = LoggedChild::spawn(
        Command::new(&env.client_bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--user", user, "--password", pw, "--timeout", "10"])
            // The trace (stderr) is shown only when the cell fails.
            .args(["--trace", "idle", "INBOX", "--seconds", "8"]),
    )?;
    let mut lines = Vec::new();
    let idling = client.wait_line(&mut lines, "idling on INBOX", Duration::from_secs(15));
    let subject = "Pushed by the interop matrix";
    let mut injected_at = Instant::now();
    let injected = if idling {
        sleep(Duration::from_secs(1));
        injected_at = Instant::now();
        let msg = format!(
            "From: Carol <carol@example.org>\r\nTo: alice@example.org\r\n\
             Subject: {subject}\r\nMessage-ID: <matrix-{}@example.org>\r\n\r\nhello\r\n",
            std::process::id()
        );
        Some(inject(msg.as_bytes()))
    } else {
        None
    };
    let pushed = idling && client.wait_line(&mut lines, subject, Duration::from_secs(6));
    let push_delay = injected_at.elapsed();
    let status = client.finish(&mut lines, RUN_LIMIT);
    let output = format!(
        "{}\n--- stderr ---\n{}\nexit: {status:?}",
        lines.join("\n"),
        client.stderr_tail(40)
    );
    match injected {
        None => return Err(format!("the client never reported IDLE:\n{output}")),
        Some(Err(e)) => return Err(format!("inject failed: {e}\n{output}")),
        Some(Ok(())) => {}
    }
    let exists = lines.iter().any(|l| l.starts_with("event: new message(s)"));
    if exists && !pushed {
        return Err(format!(
            "idle: `* n EXISTS` was pushed, but the client's `FETCH n (UID FLAGS ENVELOPE)` of \
             the new message returned no data (see the C:/S: trace below)\n{output}"
        ));
    }
    if !pushed || !exists || !status.is_some_and(|s| s.success()) {
        return Err(format!(
            "idle: the pushed message was not reported during IDLE (EXISTS seen: {exists})\n\
             {output}"
        ));
    }
    Ok(push_delay)
}

// ------------------------------------------------------------------------------------------
// cells: examples/server

/// mbsync pulls the example server's INBOX into a Maildir: 2 messages.
fn mbsync_vs_example(env: &Env) -> CellResult {
    ensure_tool("/usr/bin/mbsync")?;
    let server = ExampleServer::start(&env.server_bin)?;
    let (out, messages) = mbsync_pull(env, "mbsync", server.port)?;
    let count = messages.len();
    if !out.ok || count != 2 {
        return Err(with_log(&server)(format!(
            "mbsync: {count} messages in the Maildir (want 2); exit {}\n{}",
            out.status,
            out.show()
        )));
    }
    Ok(format!(
        "{} — 2 messages pulled into a Maildir",
        version_of("mbsync", &["--version"])
    ))
}

/// Python's imaplib: the full session of `tests/interop/imaplib_server.py` (login, list,
/// select, fetch, store, search, append, copy, expunge, IDLE push after an injected message,
/// logout).
fn imaplib_vs_example(env: &Env) -> CellResult {
    let server = ExampleServer::start(&env.server_bin)?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/imaplib_server.py"
    );
    let out = run_bounded(
        Command::new("python3")
            .arg(script)
            .arg(server.port.to_string())
            .arg(server.inject_port.to_string()),
        Duration::from_secs(30),
    )?;
    if !out.ok || !out.stdout.contains("all imaplib steps passed") {
        return Err(with_log(&server)(format!(
            "imaplib_server.py: exit {}\n{}",
            out.status,
            out.show()
        )));
    }
    let steps = out.stdout.lines().filter(|l| l.starts_with("PASS")).count();
    Ok(format!(
        "{} — {steps} steps passed, IDLE push included",
        version_of("python3", &["--version"])
    ))
}

/// curl's `imap://` support: LIST and FETCH of UID 1.
fn curl_vs_example(env: &Env) -> CellResult {
    let server = ExampleServer::start(&env.server_bin)?;
    let list = run_bounded(
        Command::new("curl").args([
            "-s",
            "--max-time",
            "10",
            "--user",
            "alice:alicepw",
            &format!("imap://127.0.0.1:{}/", server.port),
        ]),
        Duration::from_secs(30),
    )?;
    if !list.ok || !list.stdout.contains("INBOX") {
        return Err(with_log(&server)(format!("curl LIST\n{}", list.show())));
    }
    let fetch = run_bounded(
        Command::new("curl").args([
            "-s",
            "--max-time",
            "10",
            "--user",
            "alice:alicepw",
            &format!("imap://127.0.0.1:{}/INBOX;UID=1", server.port),
        ]),
        Duration::from_secs(30),
    )?;
    if !fetch.ok || !fetch.stdout.contains("Subject:") {
        return Err(with_log(&server)(format!("curl FETCH\n{}", fetch.show())));
    }
    let version = version_of("curl", &["--version"]);
    let short: Vec<&str> = version.split_whitespace().take(2).collect();
    Ok(format!(
        "{} — LIST shows INBOX; UID 1 fetched ({} octets)",
        short.join(" "),
        fetch.stdout.len()
    ))
}

/// fetchmail retrieves both sample messages (keep, fetchall), written with --bsmtp.
fn fetchmail_vs_example(env: &Env) -> CellResult {
    ensure_tool("/usr/bin/fetchmail")?;
    let server = ExampleServer::start(&env.server_bin)?;
    let (out, written) = fetchmail_fetch(env, "fetchmail", server.port)?;
    let missing = missing_subjects(&written, &SAMPLE_SUBJECTS);
    if !out.ok || !missing.is_empty() {
        return Err(with_log(&server)(format!(
            "fetchmail: exit {}, subjects missing from the bsmtp output: {missing:?}\n{}",
            out.status,
            out.show()
        )));
    }
    Ok(format!(
        "{} — 2 messages retrieved (bsmtp)",
        fetchmail_version()
    ))
}

/// examples/client against examples/server: `list`, then a push during `idle`.
fn pimap_client_vs_example(env: &Env) -> CellResult {
    let server = ExampleServer::start(&env.server_bin)?;
    let log = with_log(&server);
    let (user, pw) = ("alice#phone", "alicepw");

    let list = env
        .pimap_client(server.port, user, pw, &["list"])
        .map_err(&log)?;
    let login = list
        .lines()
        .find(|l| l.starts_with("login: "))
        .unwrap_or("(no login line)")
        .to_string();
    if !list
        .lines()
        .any(|l| l.starts_with("* LIST") && l.ends_with(" INBOX"))
        || !login.starts_with("login: fresh")
        || !list.contains("SESSIONID: present")
    {
        return Err(log(format!(
            "list: no fresh P-IMAP login, SESSIONID or INBOX in\n{list}"
        )));
    }

    // P-IMAP pushes to a device session only the events its notification filter matches
    // (spec §1.2); without one, new mail would wait for the next command (the final DONE).
    let filter = env
        .pimap_client(server.port, user, pw, &["raw", "XFILTER INBOX N ALL"])
        .map_err(&log)?;
    if !filter.contains("OK XFILTER") {
        return Err(log(format!("XFILTER INBOX N ALL failed:\n{filter}")));
    }

    let inject = |m: &[u8]| server.inject("alice", "INBOX", m).map(drop);
    let delay = idle_push(env, server.port, user, pw, &inject).map_err(&log)?;
    Ok(format!(
        "{login}; list shows INBOX; pushed message shown {:.1} s after injection",
        delay.as_secs_f32().min(6.0)
    ))
}

// ------------------------------------------------------------------------------------------
// cells: examples/gateway in front of Dovecot

/// mbsync pulls INBOX through the gateway: the seeded messages come from Dovecot.
fn mbsync_vs_gateway(env: &Env) -> CellResult {
    ensure_tool("/usr/bin/mbsync")?;
    let rig = env.rig()?;
    let (out, messages) = mbsync_pull(env, "mbsync-gateway", rig.port)?;
    let missing = missing_subjects(&messages.join("\n"), &GW_SUBJECTS);
    if !out.ok || messages.len() < 2 || !missing.is_empty() {
        return Err(rig.with_log(format!(
            "mbsync: {} messages in the Maildir, seeded subjects missing: {missing:?}; exit {}\n{}",
            messages.len(),
            out.status,
            out.show()
        )));
    }
    Ok(format!(
        "{} — {} messages pulled from Dovecot into a Maildir",
        version_of("mbsync", &["--version"]),
        messages.len()
    ))
}

/// fetchmail retrieves the seeded messages through the gateway.
fn fetchmail_vs_gateway(env: &Env) -> CellResult {
    ensure_tool("/usr/bin/fetchmail")?;
    let rig = env.rig()?;
    let (out, written) = fetchmail_fetch(env, "fetchmail-gateway", rig.port)?;
    let missing = missing_subjects(&written, &GW_SUBJECTS);
    if !out.ok || !missing.is_empty() {
        return Err(rig.with_log(format!(
            "fetchmail: exit {}, seeded subjects missing from the bsmtp output: {missing:?}\n{}",
            out.status,
            out.show()
        )));
    }
    Ok(format!(
        "{} — seeded messages retrieved from Dovecot (bsmtp)",
        fetchmail_version()
    ))
}

/// curl: `imap://` LIST and `INBOX;UID=1` (the first seeded message) through the gateway.
fn curl_vs_gateway(env: &Env) -> CellResult {
    ensure_tool("/usr/bin/curl")?;
    let rig = env.rig()?;
    let curl = |path: &str| {
        run_bounded(
            Command::new("curl")
                .args(["-s", "-S", "--max-time", "10", "--user", "alice:alicepw"])
                .arg("--url")
                .arg(format!("imap://127.0.0.1:{}/{path}", rig.port)),
            RUN_LIMIT,
        )
    };
    let list = curl("")?;
    if !list.ok
        || !list
            .stdout
            .lines()
            .any(|l| l.starts_with("* LIST") && l.trim_end().ends_with("INBOX"))
    {
        return Err(rig.with_log(format!("curl LIST: no INBOX\n{}", list.show())));
    }
    let fetch = curl("INBOX;UID=1")?;
    if !fetch.ok
        || !fetch
            .stdout
            .contains(&format!("Subject: {}", GW_SUBJECTS[0]))
    {
        return Err(rig.with_log(format!(
            "curl FETCH UID 1: not the first seeded message\n{}",
            fetch.show()
        )));
    }
    let version = version_of("curl", &["--version"]);
    let version = version.split(' ').take(2).collect::<Vec<_>>().join(" ");
    Ok(format!(
        "{version} — LIST shows INBOX; UID 1 fetched ({} octets)",
        fetch.stdout.len()
    ))
}

/// Python's imaplib through the gateway (argv: port, subject of message 1). Prints `PASS
/// <step>` lines and `IDLING` once IDLE is accepted (the test then injects a message into
/// Dovecot); `FAIL <step>: <why>` and exit 1 on the first failure.
const IMAPLIB_SCRIPT: &str = r#"
import imaplib, re, socket, sys, time, traceback
HOST, T = "127.0.0.1", 10.0
socket.setdefaulttimeout(T)
port, subject = int(sys.argv[1]), sys.argv[2].encode()
APPENDED = (b"From: Carol <carol@example.org>\r\nTo: alice@example.org\r\n"
            b"Subject: appended by imaplib via the gateway\r\n"
            b"Message-ID: <imaplib-gateway@example.org>\r\n\r\nAppended.\r\n")
STEP = ["connect"]

class Failure(Exception):
    pass

def need(cond, why):
    if not cond:
        raise Failure(why)

def flat(data):
    out = []
    for d in data:
        if isinstance(d, tuple):
            out.extend(x for x in d if isinstance(x, bytes))
        elif d is not None:
            out.append(d)
    return b"\n".join(out)

def passed(what):
    print("PASS " + what, flush=True)

def run():
    M = imaplib.IMAP4(HOST, port, timeout=T)
    need("IDLE" in M.capabilities, "no IDLE in %r" % (M.capabilities,))
    passed("connect")
    STEP[0] = "login"
    typ, d = M.login("alice", "alicepw")
    need(typ == "OK", "LOGIN: %s %r" % (typ, d))
    passed("login")
    STEP[0] = "list"
    typ, d = M.list()
    need(typ == "OK" and re.search(rb'(?m) "?INBOX"?$', flat(d)), "LIST: %s %r" % (typ, d))
    passed("list")
    STEP[0] = "select"
    typ, d = M.select("INBOX")
    need(typ == "OK", "SELECT: %s %r" % (typ, d))
    n = int(d[0])
    need(n >= 2, "SELECT INBOX: %d messages" % n)
    passed("select (%d messages)" % n)
    STEP[0] = "fetch"
    typ, d = M.fetch("1:*", "(UID FLAGS ENVELOPE)")
    text = flat(d)
    need(typ == "OK" and text.count(b"ENVELOPE") == n, "FETCH 1:*: %s %r" % (typ, d))
    need(subject in text, "subject of message 1 missing: %r" % text)
    typ, d = M.fetch("1", "(BODY.PEEK[])")
    lits = [x[1] for x in d if isinstance(x, tuple)]
    need(typ == "OK" and len(lits) == 1 and b"Subject: " + subject in lits[0],
         "FETCH 1 BODY.PEEK[]: %s %r" % (typ, d))
    passed("fetch (%d envelopes, message 1 %d octets)" % (n, len(lits[0])))
    STEP[0] = "store"
    typ, d = M.store("2", "+FLAGS", "(\\Flagged)")
    need(typ == "OK" and b"\\Flagged" in flat(d), "STORE: %s %r" % (typ, d))
    passed("store +FLAGS (\\Flagged)")
    STEP[0] = "search"
    typ, d = M.search(None, "FLAGGED")
    need(typ == "OK" and b"2" in flat(d).split(), "SEARCH FLAGGED: %s %r" % (typ, d))
    passed("search flagged (%s)" % flat(d).decode())
    STEP[0] = "append"
    typ, d = M.append("INBOX", None, None, APPENDED)
    need(typ == "OK", "APPEND: %s %r" % (typ, d))
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", flat(d))
    passed("append (%s)" % ("APPENDUID %s %s" % (m.group(1).decode(), m.group(2).decode())
                            if m else "no APPENDUID"))
    STEP[0] = "idle"
    M.send(b"a9 IDLE\r\n")
    line = M.readline()
    while line.startswith(b"* "):
        line = M.readline()
    need(line.startswith(b"+"), "IDLE continuation: %r" % line)
    print("IDLING", flush=True)
    # The appended message is n+1 (its EXISTS may arrive now); the injected one is n+2.
    seen, exists, deadline = [], 0, time.monotonic() + T
    while exists < n + 2 and time.monotonic() < deadline:
        line = M.readline()
        need(line, "connection closed during IDLE; seen %r" % seen)
        seen.append(line)
        m = re.match(rb"\* (\d+) EXISTS\r\n$", line)
        if m:
            exists = int(m.group(1))
    need(exists >= n + 2, "no * %d EXISTS during IDLE; seen %r" % (n + 2, seen))
    passed("idle (* %d EXISTS pushed)" % exists)
    STEP[0] = "done"
    M.send(b"DONE\r\n")
    while True:
        line = M.readline()
        need(line, "connection closed after DONE")
        if line.startswith(b"a9 "):
            need(line.startswith(b"a9 OK"), "IDLE completed with %r" % line)
            break
    passed("done")
    STEP[0] = "logout"
    typ, d = M.logout()
    need(typ == "BYE", "LOGOUT: %s %r" % (typ, d))
    passed("logout")

try:
    run()
except Failure as e:
    print("FAIL %s: %s" % (STEP[0], e), flush=True)
    sys.exit(1)
except Exception as e:
    traceback.print_exc()
    print("FAIL %s: %s: %s" % (STEP[0], type(e).__name__, e), flush=True)
    sys.exit(1)
print("all imaplib steps passed", flush=True)
"#;

/// Python imaplib through the gateway: login, LIST, SELECT, FETCH, STORE, SEARCH, APPEND,
/// IDLE with `* n EXISTS` pushed after an injection into Dovecot, LOGOUT.
fn imaplib_vs_gateway(env: &Env) -> CellResult {
    let rig = env.rig()?;
    let mut py = LoggedChild::spawn(
        Command::new("python3")
            .arg("-c")
            .arg(IMAPLIB_SCRIPT)
            .arg(rig.port.to_string())
            .arg(GW_SUBJECTS[0]),
    )?;
    let mut seen = Vec::new();
    let injected = if py.wait_line(&mut seen, "IDLING", RUN_LIMIT) {
        sleep(Duration::from_millis(300));
        Some(rig.inject(
            b"From: Dave <dave@example.org>\r\nTo: alice@example.org\r\n\
              Subject: injected while imaplib idles\r\n\r\nNew mail.\r\n",
        ))
    } else {
        None
    };
    let status = py.finish(&mut seen, RUN_LIMIT);
    let output = format!(
        "{}\n--- stderr ---\n{}\nexit: {status:?}",
        seen.join("\n"),
        py.stderr_tail(40)
    );
    if let Some(Err(e)) = injected {
        return Err(rig.with_log(format!("{e}\n{output}")));
    }
    if !status.is_some_and(|s| s.success()) || !seen.iter().any(|l| l == "all imaplib steps passed")
    {
        let fail = seen
            .iter()
            .find(|l| l.starts_with("FAIL "))
            .map_or("imaplib script failed", String::as_str);
        return Err(rig.with_log(format!("{fail}\n{output}")));
    }
    let idle = seen
        .iter()
        .find_map(|l| l.strip_prefix("PASS idle "))
        .unwrap_or("");
    Ok(format!(
        "{} — login, LIST, SELECT, FETCH, STORE, SEARCH, APPEND, IDLE {idle}, LOGOUT",
        version_of("python3", &["--version"])
    ))
}

/// examples/client through the gateway: XFILTER as alice#phone, then a push during `idle`
/// of a message injected into Dovecot.
fn pimap_client_vs_gateway(env: &Env) -> CellResult {
    let rig = env.rig()?;
    let (user, pw) = ("alice#phone", "alicepw");
    let filter = env
        .pimap_client(rig.port, user, pw, &["raw", "XFILTER INBOX N ALL"])
        .map_err(|e| rig.with_log(e))?;
    if !filter.contains("OK XFILTER") {
        return Err(rig.with_log(format!("XFILTER INBOX N ALL failed:\n{filter}")));
    }
    let login = filter
        .lines()
        .find(|l| l.starts_with("login: "))
        .unwrap_or("(no login line)")
        .to_string();
    let delay = idle_push(env, rig.port, user, pw, &|m| rig.inject(m)).map_err(|e| {
        let cause = if e.contains("returned no data") {
            "GATEWAY BUG: the gateway answers the FETCH of a message it has just pushed with \
             no data. It runs `UID FETCH <uid>` on its backend command connection, which has \
             not been told of the new message yet, and Dovecot answers a UID FETCH of an \
             unannounced UID with only `* n EXISTS` (no FETCH data); the gateway must sync \
             that connection (e.g. NOOP) or retry before answering.\n"
        } else {
            ""
        };
        rig.with_log(format!("{cause}{e}"))
    })?;
    Ok(format!(
        "{login}; XFILTER INBOX N ALL; message injected into Dovecot shown {:.1} s later",
        delay.as_secs_f32().min(6.0)
    ))
}

/// `examples/client ... deliver --saveto Sent --to bob@example.com` through the gateway: the
/// SMTP sink receives the message byte-exact, the copy lands in Sent (APPENDUID).
fn xdeliver_vs_gateway(env: &Env) -> CellResult {
    let rig = env.rig()?;
    let (user, pw) = ("alice#mail", "alicepw");
    // Sent may exist already (autocreate); either way it exists afterwards.
    let create = env.pimap_client(rig.port, user, pw, &["raw", "CREATE Sent"]);
    let dir = env.dir("xdeliver");
    let file = dir.join("message.eml");
    let msg: &[u8] = b"From: alice@localhost\r\nTo: Bob <bob@example.com>\r\n\
        Subject: XDELIVER from the interop matrix\r\n\
        Message-ID: <xdeliver-matrix@localhost>\r\n\r\n\
        line one\r\n.leading dot\r\n..two dots\r\n.\r\nlast\r\n";
    std::fs::write(&file, msg).map_err(|e| e.to_string())?;
    let file_arg = file.to_string_lossy().into_owned();
    let out = env
        .pimap_client(
            rig.port,
            user,
            pw,
            &[
                "deliver",
                &file_arg,
                "--saveto",
                "Sent",
                "--to",
                "bob@example.com",
            ],
        )
        .map_err(|e| rig.with_log(format!("{e}\nCREATE Sent: {create:?}")))?;
    let Some(appenduid) = out
        .lines()
        .find(|l| l.starts_with("APPENDUID: UIDVALIDITY"))
    else {
        return Err(rig.with_log(format!(
            "deliver: no APPENDUID printed\n{out}\nCREATE Sent: {create:?}"
        )));
    };
    let eml = rig.sink_dir.join("000001.eml");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !eml.exists() && Instant::now() < deadline {
        sleep(Duration::from_millis(100));
    }
    let got = std::fs::read(&eml)
        .map_err(|e| rig.with_log(format!("nothing arrived at the SMTP sink ({e})\n{out}")))?;
    let meta = std::fs::read_to_string(rig.sink_dir.join("000001.json")).unwrap_or_default();
    if got != msg || !meta.contains("bob@example.com") {
        return Err(rig.with_log(format!(
            "the SMTP sink got\n{}\n(want\n{})\nenvelope {meta}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(msg)
        )));
    }
    Ok(format!(
        "{appenduid}; the sink got the {} octets byte-exact, RCPT bob@example.com",
        got.len()
    ))
}

/// examples/client against a private Dovecot: `list` and `fetch INBOX 1:* (UID FLAGS)`.
fn pimap_client_vs_dovecot(env: &Env) -> CellResult {
    let d = dovecot::Dovecot::start();
    let log = |e: String| format!("{e}\n--- dovecot.log ---\n{}", d.log_tail(30));
    let uid = d.inject(
        "INBOX",
        b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: matrix\r\n\r\nhi\r\n",
    );
    let (user, pw) = (d.user.clone(), d.password.clone());

    let list = env
        .pimap_client(d.port, &user, &pw, &["list"])
        .map_err(log)?;
    if !list
        .lines()
        .any(|l| l.starts_with("* LIST") && l.ends_with(" INBOX"))
    {
        return Err(log(format!("list: no INBOX in\n{list}")));
    }
    let fetch = env
        .pimap_client(
            d.port,
            &user,
            &pw,
            &["fetch", "INBOX", "1:*", "(UID FLAGS)"],
        )
        .map_err(log)?;
    let line = fetch.lines().find(|l| l.starts_with("* 1 FETCH ("));
    let ok = line.is_some_and(|l| l.contains(&format!("UID {uid}")) && l.contains("FLAGS ("))
        && fetch.lines().any(|l| {
            !l.starts_with('*') && l.contains(" OK ") && l.to_ascii_lowercase().contains("fetch")
        });
    if !ok {
        return Err(log(format!(
            "fetch: no `* 1 FETCH (UID {uid} FLAGS ...)` and tagged OK in\n{fetch}"
        )));
    }
    Ok(format!(
        "Dovecot {}; list shows INBOX; {}",
        version_of("/usr/sbin/dovecot", &["--version"]),
        line.unwrap_or_default()
    ))
}

/// First line of `program args` (a version string), or "?".
fn version_of(program: &str, args: &[&str]) -> String {
    run_bounded(Command::new(program).args(args), Duration::from_secs(10))
        .ok()
        .and_then(|o| {
            o.stdout
                .lines()
                .chain(o.stderr.lines())
                .find(|l| !l.trim().is_empty() && !l.contains("WARNING"))
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}
