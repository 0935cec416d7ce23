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
//! The example binaries are built with the cargo running this test. Every server listens on
//! 127.0.0.1 only, every external program runs with a deadline (killed after it), and every
//! server is stopped at the end of its cell. mbsync and fetchmail come from
//! `tests/interop/setup.sh` (run here if they are missing; needs root and apt).

#[path = "support/dovecot.rs"]
mod dovecot;

use std::cell::OnceCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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
        (
            "pimap client (examples/client.rs)",
            "examples/server",
            pimap_client_vs_example,
        ),
        (
            "pimap client (examples/client.rs)",
            "Dovecot",
            pimap_client_vs_dovecot,
        ),
    ]
}

#[test]
fn interop_matrix() {
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
        "--example",
        "server",
        "--example",
        "client",
        "--example",
        "gateway",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .expect("run cargo build --example server/client/gateway");
    assert!(status.success(), "cargo build of the examples failed");
    let bin = |name: &str| {
        let p = profile_dir
            .join("examples")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        assert!(p.exists(), "example binary not found at {}", p.display());
        p
    };
    [bin("server"), bin("client"), bin("gateway")]
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
// cells

/// mbsync pulls the example server's INBOX into a Maildir: 2 messages.
fn mbsync_vs_example(env: &Env) -> CellResult {
    ensure_tool("/usr/bin/mbsync")?;
    let server = ExampleServer::start(&env.server_bin)?;
    let dir = env.dir("mbsync");
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
        port = server.port,
        maildir = maildir.display(),
        inbox = inbox.display(),
    );
    std::fs::write(&rc, text).map_err(|e| e.to_string())?;
    let out = run_bounded(
        Command::new("mbsync").arg("-c").arg(&rc).args(["-a", "-V"]),
        RUN_LIMIT,
    )?;
    let count = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(inbox.join(sub)).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .count();
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

/// fetchmail retrieves both sample messages (keep, fetchall), written with --bsmtp.
fn fetchmail_vs_example(env: &Env) -> CellResult {
    ensure_tool("/usr/bin/fetchmail")?;
    let server = ExampleServer::start(&env.server_bin)?;
    let dir = env.dir("fetchmail");
    let rc = dir.join("fetchmailrc");
    let bsmtp = dir.join("out.bsmtp");
    // `sslproto ''` turns off opportunistic STARTTLS (the server offers none anyway);
    // `no sslcertck` is irrelevant without TLS but keeps 6.4's checks quiet.
    let text = format!(
        "set no syslog\n\
         poll 127.0.0.1 with protocol IMAP port {port} timeout 20\n\
         \x20 user \"alice\" there with password \"alicepw\" is \"root\" here\n\
         \x20 options keep fetchall sslproto '' no sslcertck\n",
        port = server.port
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
    let missing: Vec<&str> = SAMPLE_SUBJECTS
        .iter()
        .copied()
        .filter(|s| !written.contains(&format!("Subject: {s}")))
        .collect();
    if !out.ok || !missing.is_empty() {
        return Err(with_log(&server)(format!(
            "fetchmail: exit {}, subjects missing from the bsmtp output: {missing:?}\n{}",
            out.status,
            out.show()
        )));
    }
    // "This is fetchmail release 6.4.37+GSS+...": keep "fetchmail 6.4.37".
    let version = version_of("fetchmail", &["--version"]);
    let version = version
        .split_once("release ")
        .map(|(_, v)| format!("fetchmail {}", v.split('+').next().unwrap_or(v)))
        .unwrap_or(version);
    Ok(format!("{version} — 2 messages retrieved (bsmtp)"))
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

    // `idle INBOX --seconds 8`; a message is injected once the client idles.
    let mut child = Command::new(&env.client_bin)
        .args(["--host", "127.0.0.1", "--port", &server.port.to_string()])
        .args(["--user", user, "--password", pw, "--timeout", "10"])
        .args(["idle", "INBOX", "--seconds", "8"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start the client: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().map(drain);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let wait_line = |lines: &mut Vec<String>, want: &str, limit: Duration| -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(want);
                    lines.push(l);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    };
    let idling = wait_line(&mut lines, "idling on INBOX", Duration::from_secs(15));
    let subject = "Pushed by the interop matrix";
    let mut injected_at = Instant::now();
    let injected = if idling {
        sleep(Duration::from_secs(1));
        injected_at = Instant::now();
        let msg = format!(
            "From: Carol <carol@example.org>\r\nTo: alice@example.org\r\n\
             Subject: {subject}\r\nMessage-ID: <matrix@example.org>\r\n\r\nhello\r\n"
        );
        Some(server.inject("alice", "INBOX", msg.as_bytes()))
    } else {
        None
    };
    let pushed = idling && wait_line(&mut lines, subject, Duration::from_secs(6));
    let push_delay = injected_at.elapsed();
    let status = wait_child(&mut child, Instant::now() + RUN_LIMIT);
    // The rest of the output (the end of IDLE, LOGOUT).
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        lines.push(l);
    }
    let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    let output = format!(
        "{}\n--- stderr ---\n{err}\nexit: {status:?}",
        lines.join("\n")
    );
    match injected {
        None => return Err(log(format!("the client never reported IDLE:\n{output}"))),
        Some(Err(e)) => return Err(log(format!("inject failed: {e}\n{output}"))),
        Some(Ok(_)) => {}
    }
    let exists = lines.iter().any(|l| l.starts_with("event: new message(s)"));
    if !pushed || !exists || !status.is_some_and(|s| s.success()) {
        return Err(log(format!(
            "idle: the pushed message was not reported during IDLE (EXISTS seen: {exists})\n\
             {output}"
        )));
    }
    Ok(format!(
        "{login}; list shows INBOX; pushed message shown {:.1} s after injection",
        push_delay.as_secs_f32().min(6.0)
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
