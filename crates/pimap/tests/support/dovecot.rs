//! Test harness: a private, real Dovecot IMAP server on 127.0.0.1 for integration tests.
//!
//! Include it from a test file (it is not a test target of its own) with
//!
//! ```ignore
//! #[path = "support/dovecot.rs"]
//! mod dovecot;
//!
//! #[test]
//! fn talks_to_dovecot() {
//!     let server = dovecot::Dovecot::start(); // own port + own state dir
//!     let stream = server.connect(); // std TcpStream with 10 s read/write timeouts
//!     // ... LOGIN server.user / server.password, SELECT INBOX, IDLE ...
//!     let uid = server.inject("INBOX", b"Subject: hi\r\n\r\nbody\r\n"); // -> "* n EXISTS"
//!     assert!(uid > 0);
//!     drop(stream);
//! } // Drop stops this Dovecot and deletes its state dir
//! ```
//!
//! Each [`Dovecot::start`] runs `tests/interop/dovecot-up.sh` with its own state dir
//! (`/tmp/pimap-dc-<pid>-<n>`: config, Maildirs, logs, pid file) and a free loopback port, so
//! tests in one binary and several test binaries can run in parallel. If the Dovecot binaries
//! are missing, `tests/interop/setup.sh` installs them first (Debian packages, as root).
//! Users: alice/alicepw (the default [`Dovecot::user`]), bob/bobpw, carol/carolpw.
//! Push: inotify wakes IDLE at once and `mailbox_idle_check_interval = 1 secs` is the
//! fallback; an appended message reaches an IDLE client as `* n EXISTS` within about a second.
//! Everything is bounded: socket timeouts, start/stop/inject deadlines; failures panic with
//! the tail of Dovecot's log. An instance left behind by a killed test process is stopped and
//! purged by the next `start` in any test process.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The users (name, password) every instance is configured with.
pub const USERS: [(&str, &str); 3] = [("alice", "alicepw"), ("bob", "bobpw"), ("carol", "carolpw")];

/// Read/write timeout of sockets opened by the harness (and by [`Dovecot::connect`]).
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// State dirs live here (short, world-traversable: Dovecot's unprivileged processes must reach
/// them and unix socket paths must stay under 108 bytes), named `pimap-dc-<pid>-<n>`.
const STATE_ROOT: &str = "/tmp";
const STATE_PREFIX: &str = "pimap-dc-";
const SETUP_TIMEOUT: Duration = Duration::from_secs(900);
const UP_TIMEOUT: Duration = Duration::from_secs(120);
const DOWN_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

static INSTANCE: AtomicUsize = AtomicUsize::new(0);
static REAP_STALE: Once = Once::new();

/// Optional features of a started instance (all off by default).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// APPEND the 24-message test corpus (`tests/interop/gen-test-messages.py`) to alice's
    /// INBOX after start (needs python3; installed by `dovecot-up.sh` if missing).
    pub seed: bool,
    /// Load `imap_zlib`: advertise COMPRESS=DEFLATE (RFC 4978).
    pub compress: bool,
    /// Write Dovecot rawlogs (exact post-login bytes) under [`Dovecot::rawlog_dir`].
    pub rawlog: bool,
    /// `mail_debug`/`auth_debug` into the log.
    pub debug: bool,
    /// Also listen for IMAP over implicit TLS (self-signed cert, [`Dovecot::tls_cert_path`]).
    pub imaps: bool,
    /// Extra Dovecot config text, `!include`d at the end of the generated config.
    pub extra_conf: Option<String>,
}

/// A running private Dovecot. Stopped (and its state dir deleted) on drop.
pub struct Dovecot {
    /// IMAP port on 127.0.0.1 (plaintext LOGIN allowed, STARTTLS offered).
    pub port: u16,
    /// IMAPS port on 127.0.0.1 when [`Options::imaps`] was set.
    pub imaps_port: Option<u16>,
    /// Default user ("alice").
    pub user: String,
    /// Password of [`Dovecot::user`] ("alicepw").
    pub password: String,
    state_dir: PathBuf,
}

impl Dovecot {
    /// Start an instance with default [`Options`]; panics with a clear message on failure.
    pub fn start() -> Dovecot {
        Self::start_with(Options::default())
    }

    /// Start an instance with the given options; panics with a clear message on failure.
    pub fn start_with(opts: Options) -> Dovecot {
        REAP_STALE.call_once(reap_stale_instances);
        ensure_installed();
        let mut last_err = String::new();
        for attempt in 1..=START_ATTEMPTS {
            match try_start(&opts) {
                Ok(d) => return d,
                Err(e) => {
                    last_err = e;
                    // A lost race for the port we picked: try again with another one.
                    if !last_err.contains("Address already in use") || attempt == START_ATTEMPTS {
                        break;
                    }
                }
            }
        }
        panic!("Dovecot harness: could not start Dovecot: {last_err}");
    }

    /// The IMAP address, 127.0.0.1:port.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }

    /// The IMAPS address when started with [`Options::imaps`].
    pub fn imaps_addr(&self) -> Option<SocketAddr> {
        self.imaps_port
            .map(|p| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)))
    }

    /// A new TCP connection to the IMAP port, with [`IO_TIMEOUT`] read/write timeouts and
    /// TCP_NODELAY. Nothing is read: the greeting is still waiting.
    pub fn connect(&self) -> TcpStream {
        connect_bounded(self.addr()).unwrap_or_else(|e| {
            panic!(
                "Dovecot harness: connect {}: {e}\n{}",
                self.addr(),
                self.log_tail(30)
            )
        })
    }

    /// This instance's state dir (config, Maildirs, logs, pid file).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The generated `dovecot.conf`.
    /// Stop the running Dovecot (`doveadm stop`), wait until its port refuses connections,
    /// and start it again with the same configuration, port and mail (a backend restart).
    /// Panics with the log if it does not come back within 10 s.
    #[allow(dead_code)]
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// Stop the server (the mail stays); [`Dovecot::start_again`] brings it back on the same
    /// port. Meanwhile [`Dovecot::deliver`] still works (dovecot-lda needs no server).
    ///
    /// Like a real restart, every client connection is cut: the master's `doveadm stop` alone
    /// was seen to leave the IMAP session processes serving their connections, so those
    /// (as `doveadm who` lists them) are terminated too.
    #[allow(dead_code)]
    pub fn stop(&self) {
        let sessions: Vec<u32> = self.who().into_iter().map(|(_, _, pid)| pid).collect();
        self.stop_master();
        for pid in &sessions {
            let _ = Command::new("kill")
                .arg(pid.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && sessions
                .iter()
                .any(|p| Path::new(&format!("/proc/{p}")).exists())
        {
            sleep(Duration::from_millis(50));
        }
    }

    fn stop_master(&self) {
        let conf = self.conf_path();
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&conf)
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok()
        {
            sleep(Duration::from_millis(100));
        }
    }

    /// Put `message` into `user`'s INBOX as a Maildir MTA would (a file in `Maildir/new`),
    /// without any Dovecot process: works while the server is stopped.
    #[allow(dead_code)]
    pub fn drop_into_maildir(&self, user: &str, message: &[u8]) {
        let dir = self.state_dir.join("mail").join(user).join("Maildir");
        let name = format!(
            "{}.M{}P{}.pimap",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_micros())
                .unwrap_or(0),
            std::process::id()
        );
        let tmp = dir.join("tmp").join(&name);
        fs::write(&tmp, to_lf(message)).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
        fs::rename(&tmp, dir.join("new").join(&name))
            .unwrap_or_else(|e| panic!("Maildir delivery: {e}"));
    }

    /// Start the server again after [`Dovecot::stop`], on the same port.
    #[allow(dead_code)]
    pub fn start_again(&self) {
        let conf = self.conf_path();
        let started = Command::new("dovecot")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            started.is_ok_and(|s| s.success()),
            "dovecot did not restart\n{}",
            self.log_tail(20)
        );
        let mut last = String::new();
        for _ in 0..100 {
            match read_greeting(self.addr()) {
                Ok(()) => return,
                Err(e) => last = e,
            }
            sleep(Duration::from_millis(100));
        }
        panic!("no greeting after restart: {last}\n{}", self.log_tail(20));
    }

    pub fn conf_path(&self) -> PathBuf {
        self.state_dir.join("conf/dovecot.conf")
    }

    /// The self-signed certificate (CN=localhost, SAN 127.0.0.1) used for STARTTLS/IMAPS.
    pub fn tls_cert_path(&self) -> PathBuf {
        self.state_dir.join("tls/cert.pem")
    }

    /// Where rawlogs of `user` go when started with [`Options::rawlog`].
    pub fn rawlog_dir(&self, user: &str) -> PathBuf {
        self.state_dir.join("rawlog").join(user)
    }

    /// IMAP connections `user` has open now, as `doveadm who -1` lists them (one line per
    /// connection).
    pub fn imap_connections(&self, user: &str) -> usize {
        self.who()
            .iter()
            .filter(|(u, proto, _)| u == user && proto == "imap")
            .count()
    }

    /// `doveadm who -1`: (user, protocol, pid) per connection; empty when Dovecot does not
    /// answer (stopped).
    fn who(&self) -> Vec<(String, String, u32)> {
        let Ok(out) = Command::new("doveadm")
            .arg("-c")
            .arg(self.conf_path())
            .args(["who", "-1"])
            .stdin(Stdio::null())
            .output()
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let (user, proto, pid) = (w.next()?, w.next()?, w.next()?.parse().ok()?);
                Some((user.to_string(), proto.to_string(), pid))
            })
            .collect()
    }

    /// The whole Dovecot log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.state_dir.join("log/dovecot.log")).unwrap_or_default()
    }

    /// The last `n` lines of the Dovecot log (for failure messages).
    pub fn log_tail(&self, n: usize) -> String {
        tail_of(&self.state_dir.join("log/dovecot.log"), n)
    }

    /// Deliver `message` to `mailbox` of the default user from another IMAP connection
    /// (LOGIN + APPEND with a synchronizing literal + LOGOUT). Bare LF line ends are turned
    /// into CRLF. Clients IDLEing on that mailbox get `* n EXISTS`. Returns the new UID
    /// (from APPENDUID). `mailbox` must be ASCII (it is sent as a quoted string).
    pub fn inject(&self, mailbox: &str, message: &[u8]) -> u32 {
        self.inject_as(&self.user, &self.password, mailbox, message)
    }

    /// [`Dovecot::inject`] as another user, e.g. `("bob", "bobpw")`.
    pub fn inject_as(&self, user: &str, password: &str, mailbox: &str, message: &[u8]) -> u32 {
        imap_append(self.addr(), user, password, mailbox, &to_crlf(message)).unwrap_or_else(|e| {
            panic!(
                "Dovecot harness: inject into {user}/{mailbox} failed: {e}\n{}",
                self.log_tail(30)
            )
        })
    }

    /// Deliver `message` to `user`'s `mailbox` without IMAP, the way an MTA would: runs
    /// `/usr/lib/dovecot/dovecot-lda -c CONF -d user -m mailbox` (the mailbox is created if
    /// missing). Clients IDLEing on that mailbox get `* n EXISTS`.
    pub fn deliver(&self, user: &str, mailbox: &str, message: &[u8]) {
        // dovecot-lda reads a Unix-style message (LF line ends), like an MTA would pipe it.
        let lf = to_lf(message);
        let conf = self.conf_path();
        let mut child = Command::new("/usr/lib/dovecot/dovecot-lda")
            .arg("-c")
            .arg(&conf)
            .args(["-d", user, "-m", mailbox, "-f", "injector@pimap.test"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("Dovecot harness: cannot run dovecot-lda: {e}"));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&lf)
            .unwrap_or_else(|e| panic!("Dovecot harness: writing to dovecot-lda: {e}"));
        let (ok, out) = wait_bounded(child, Duration::from_secs(30));
        if !ok {
            panic!(
                "Dovecot harness: dovecot-lda to {user}/{mailbox} failed: {out}\n{}",
                self.log_tail(30)
            );
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- Dovecot harness: last lines of {}/log/dovecot.log ---\n{}",
                self.state_dir.display(),
                self.log_tail(40)
            );
        }
        stop_and_purge(&self.state_dir);
    }
}

// ------------------------------------------------------------------------------------------
// start / stop

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn ensure_installed() {
    let needed = [
        "/usr/sbin/dovecot",
        "/usr/bin/doveadm",
        "/usr/bin/doveconf",
        "/usr/lib/dovecot/imap",
        "/usr/lib/dovecot/dovecot-lda",
        "/usr/share/dovecot/dh.pem",
        "/usr/bin/openssl",
    ];
    if needed.iter().all(|p| Path::new(p).exists()) {
        return;
    }
    let setup = interop_dir().join("setup.sh");
    let child = Command::new("bash")
        .arg(&setup)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("Dovecot harness: cannot run {}: {e}", setup.display()));
    let (ok, out) = wait_bounded(child, SETUP_TIMEOUT);
    if !ok {
        panic!(
            "Dovecot harness: Dovecot is not installed and {} failed \
             (run it by hand as root, or apt-get install dovecot-imapd dovecot-lmtpd openssl):\n{out}",
            setup.display()
        );
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("bind: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn try_start(opts: &Options) -> Result<Dovecot, String> {
    let n = INSTANCE.fetch_add(1, Ordering::SeqCst);
    let state_dir = Path::new(STATE_ROOT).join(format!("{STATE_PREFIX}{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&state_dir);
    fs::create_dir_all(state_dir.join("log"))
        .map_err(|e| format!("create {}: {e}", state_dir.display()))?;
    let port = free_port()?;
    let imaps_port = if opts.imaps {
        let mut p = free_port()?;
        while p == port {
            p = free_port()?;
        }
        Some(p)
    } else {
        None
    };

    let mut cmd = Command::new("bash");
    cmd.arg(interop_dir().join("dovecot-up.sh"));
    if opts.seed {
        cmd.arg("--seed");
    }
    cmd.arg(&state_dir)
        .env("PIMAP_IMAP_PORT", port.to_string())
        .env("PIMAP_IMAPS_PORT", imaps_port.unwrap_or(0).to_string())
        .env("PIMAP_LMTP_PORT", "0")
        .env("PIMAP_LISTEN", "127.0.0.1")
        .env("PIMAP_MAIL_USER", "nobody")
        .env("PIMAP_RAWLOG", if opts.rawlog { "1" } else { "0" })
        .env("PIMAP_DEBUG", if opts.debug { "1" } else { "0" })
        .env("PIMAP_COMPRESS", if opts.compress { "1" } else { "0" })
        .env_remove("PIMAP_EXTRA_CONF")
        .env_remove("PIMAP_DOVECOT_STATE");
    if let Some(extra) = &opts.extra_conf {
        let path = state_dir.join("extra.conf");
        fs::write(&path, extra).map_err(|e| format!("write {}: {e}", path.display()))?;
        cmd.env("PIMAP_EXTRA_CONF", &path);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run dovecot-up.sh: {e}"))?;
    let (ok, out) = wait_bounded(child, UP_TIMEOUT);

    let d = Dovecot {
        port,
        imaps_port,
        user: USERS[0].0.to_string(),
        password: USERS[0].1.to_string(),
        state_dir,
    };
    if !ok {
        let log = d.log_tail(20);
        drop(d); // stop whatever may have started, purge
        return Err(format!(
            "dovecot-up.sh failed:\n{out}\n--- dovecot.log ---\n{log}"
        ));
    }
    // dovecot-up.sh waited for the greeting already; check it once more from here, bounded.
    let mut last = String::new();
    for _ in 0..100 {
        match read_greeting(d.addr()) {
            Ok(()) => return Ok(d),
            Err(e) => last = e,
        }
        sleep(Duration::from_millis(100));
    }
    let log = d.log_tail(20);
    drop(d);
    Err(format!(
        "no IMAP greeting on 127.0.0.1:{port} within 10 s: {last}\n--- dovecot.log ---\n{log}"
    ))
}

fn read_greeting(addr: SocketAddr) -> Result<(), String> {
    let s = connect_bounded(addr).map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let line = read_line(&mut r)?;
    if line.starts_with("* OK") {
        Ok(())
    } else {
        Err(format!("unexpected greeting {line:?}"))
    }
}

fn stop_and_purge(state_dir: &Path) {
    let spawned = Command::new("bash")
        .arg(interop_dir().join("dovecot-down.sh"))
        .arg("--purge")
        .arg(state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    match spawned {
        Ok(child) => {
            let (ok, out) = wait_bounded(child, DOWN_TIMEOUT);
            if !ok {
                eprintln!(
                    "Dovecot harness: dovecot-down.sh {} failed: {out}",
                    state_dir.display()
                );
            }
        }
        Err(e) => eprintln!("Dovecot harness: cannot run dovecot-down.sh: {e}"),
    }
}

/// Stop and purge instances whose owning test process (the pid in the dir name) is gone,
/// e.g. after a test binary was killed before its `Drop` ran.
fn reap_stale_instances() {
    let Ok(entries) = fs::read_dir(STATE_ROOT) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(STATE_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            stop_and_purge(&e.path());
        }
    }
}

/// Wait for `child` at most `limit` (killing it after that); returns (success, output).
fn wait_bounded(mut child: Child, limit: Duration) -> (bool, String) {
    // Drain the pipes in threads so a chatty child cannot block on a full pipe.
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let mut text = String::new();
    for h in [out, err].into_iter().flatten() {
        text.push_str(&h.join().unwrap_or_default());
    }
    match status {
        Some(st) if st.success() => (true, text),
        Some(st) => (false, format!("{st}\n{text}")),
        None => (false, format!("timed out after {limit:?} (killed)\n{text}")),
    }
}

fn drain<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn tail_of(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ------------------------------------------------------------------------------------------
// minimal IMAP over std TcpStream (only for injection and readiness checks)

fn connect_bounded(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// One CRLF-terminated line (without the CRLF), bounded by the socket timeout and 64 KiB.
fn read_line(r: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(64 * 1024)
        .read_until(b'\n', &mut buf)
        .map_err(|e| format!("read: {e}"))?;
    if !buf.ends_with(b"\n") {
        return Err(format!(
            "connection closed or line too long after {:?}",
            String::from_utf8_lossy(&buf)
        ));
    }
    let s = String::from_utf8_lossy(&buf);
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// Read lines until one starts with `prefix`; returns it. At most 1000 lines.
fn read_until_prefix(r: &mut BufReader<TcpStream>, prefix: &str) -> Result<String, String> {
    for _ in 0..1000 {
        let line = read_line(r)?;
        if line.starts_with(prefix) {
            return Ok(line);
        }
    }
    Err(format!(
        "no line starting with {prefix:?} within 1000 lines"
    ))
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn imap_append(
    addr: SocketAddr,
    user: &str,
    password: &str,
    mailbox: &str,
    message: &[u8],
) -> Result<u32, String> {
    let mut w = connect_bounded(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    let mut r = BufReader::new(w.try_clone().map_err(|e| e.to_string())?);
    let greeting = read_line(&mut r)?;
    if !greeting.starts_with("* OK") {
        return Err(format!("greeting {greeting:?}"));
    }
    let send =
        |w: &mut TcpStream, bytes: &[u8]| w.write_all(bytes).map_err(|e| format!("write: {e}"));

    send(
        &mut w,
        format!("i1 LOGIN {} {}\r\n", quoted(user), quoted(password)).as_bytes(),
    )?;
    let line = read_until_prefix(&mut r, "i1 ")?;
    if !line.starts_with("i1 OK") {
        return Err(format!("LOGIN: {line}"));
    }

    send(
        &mut w,
        format!("i2 APPEND {} {{{}}}\r\n", quoted(mailbox), message.len()).as_bytes(),
    )?;
    let line = read_line(&mut r)?;
    if !line.starts_with('+') {
        return Err(format!("APPEND literal not accepted: {line}"));
    }
    send(&mut w, message)?;
    send(&mut w, b"\r\n")?;
    let line = read_until_prefix(&mut r, "i2 ")?;
    if !line.starts_with("i2 OK") {
        return Err(format!("APPEND: {line}"));
    }
    let uid = line
        .split_once("[APPENDUID ")
        .and_then(|(_, rest)| rest.split([' ', ']']).nth(1))
        .and_then(|u| u.parse::<u32>().ok())
        .ok_or_else(|| format!("no APPENDUID in {line:?}"))?;

    send(&mut w, b"i3 LOGOUT\r\n")?;
    let _ = read_until_prefix(&mut r, "i3 ");
    Ok(uid)
}

fn to_crlf(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + msg.len() / 32);
    let mut prev = 0u8;
    for &b in msg {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn to_lf(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    for (i, &b) in msg.iter().enumerate() {
        if b == b'\r' && msg.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}
