//! A chaos / load program: many P-IMAP devices over real TCP against `examples/server`, mail
//! injected while a share of the devices lose coverage (stop reading) and reset their
//! connections with pushed data in flight; then every device's view is checked against the
//! store.
//!
//! ```text
//! cargo build --release --example server --example chaos
//! target/release/examples/chaos [--devices 1000] [--rounds 3] [--mail 2] [--reset 0.3]
//!     [--stall-ms 300] [--seed 1] [--max-seconds 300] [--no-resume] [--ignore-resync]
//!     [--server PATH] [--force]
//! ```
//!
//! (`--mail-per-round`, `--reset-fraction` and `--server-bin` are accepted for `--mail`,
//! `--reset` and `--server`.)
//!
//! * Starts `examples/server` (next to this binary unless `--server`) on 127.0.0.1 with one
//!   account per 50 devices (`c0`, `c1`, ...), so the server's per-account caps hold.
//! * Each device (`c<k>#d<i>`, the crate's [`Client`]) logs in, sets `XFILTER INBOX N ALL` and
//!   `PIMAP_INBAND_NEW_FORMAT (UID FLAGS)`, selects INBOX, fetches UID and FLAGS, and idles.
//! * Each round: `--mail` messages per account are injected; the devices' pushes are timed
//!   (injection to the client's event). Then a random `--reset` share of the devices stops
//!   reading for `--stall-ms` while `--mail` more messages per account are injected, and
//!   resets its connection (`SO_LINGER` 0: RST, unread data discarded). It reconnects with
//!   its kept view and XRESUME position (`--no-resume`: without XRESUME, so the server's
//!   conservative rule applies) and resynchronises when told RESYNC (`--ignore-resync`: it
//!   does not, to show that the check catches what a device misses).
//! * At the end every device's UIDs are compared with the store (a plain login per account).
//!   Lost: a device missing messages. Duplicated: a device holding a UID twice, more than the
//!   store, or whose client reported an inconsistency (an event applied twice shows so).
//!
//! It prints devices, deliveries expected and seen, lost, duplicated, RESYNCs, push latency
//! p50/p99 and the server's RSS per idle device connection, and exits non-zero when anything
//! was lost or duplicated (or a device failed). Everything is bounded by `--max-seconds`;
//! loopback only. Each device needs one descriptor here and one in the server: the soft
//! open-file limit (`ulimit -n`, inherited by the server) is checked and reported when too
//! low for `--devices` (the run is refused then, unless `--force`).

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

use pimap::client::{Client, ClientConfig, Event, LoginOutcome, MailboxEvent, MailboxView, Output};
use pimap::codec::CommandDecoder;
use pimap::types::{ClientMessage, FetchAttr, FetchItems, ResumeCursor, SequenceSet};

const DEVICES_PER_ACCOUNT: usize = 50;
const STEP: Duration = Duration::from_secs(20);

#[derive(Clone)]
struct Opts {
    devices: usize,
    rounds: usize,
    mail: usize,
    reset: f64,
    stall: Duration,
    seed: u64,
    max_seconds: u64,
    resume: bool,
    ignore_resync: bool,
    force: bool,
    server: Option<String>,
}

fn opts() -> Opts {
    let mut o = Opts {
        devices: 1000,
        rounds: 3,
        mail: 2,
        reset: 0.3,
        stall: Duration::from_millis(300),
        seed: 1,
        max_seconds: 300,
        resume: true,
        ignore_resync: false,
        force: false,
        server: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--devices" => o.devices = v().parse().unwrap_or_else(|_| usage()),
            "--rounds" => o.rounds = v().parse().unwrap_or_else(|_| usage()),
            "--mail" | "--mail-per-round" => o.mail = v().parse().unwrap_or_else(|_| usage()),
            "--reset" | "--reset-fraction" => o.reset = v().parse().unwrap_or_else(|_| usage()),
            "--stall-ms" => {
                o.stall = Duration::from_millis(v().parse().unwrap_or_else(|_| usage()))
            }
            "--seed" => o.seed = v().parse().unwrap_or_else(|_| usage()),
            "--max-seconds" => o.max_seconds = v().parse().unwrap_or_else(|_| usage()),
            "--no-resume" => o.resume = false,
            "--ignore-resync" => o.ignore_resync = true,
            "--force" => o.force = true,
            "--server" | "--server-bin" => o.server = Some(v()),
            _ => usage(),
        }
    }
    o
}

fn usage() -> ! {
    eprintln!(
        "usage: chaos [--devices N] [--rounds R] [--mail M] [--reset F] [--stall-ms S] \
         [--seed X] [--max-seconds T] [--no-resume] [--ignore-resync] [--force] [--server PATH]"
    );
    std::process::exit(2)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

/// The server child, killed on drop.
struct ServerProcess {
    child: Child,
    port: u16,
    inject: u16,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    fn start(o: &Opts, accounts: usize) -> std::io::Result<Self> {
        let path = match &o.server {
            Some(p) => std::path::PathBuf::from(p),
            None => std::env::current_exe()?.with_file_name("server"),
        };
        let mut cmd = Command::new(path);
        cmd.args(["--port", "0", "--inject-port", "0", "--max-seconds"])
            .arg((o.max_seconds + 10).to_string());
        for k in 0..accounts {
            cmd.arg("--user").arg(format!("c{k}:pw"));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        // From here on the guard kills the child on every path.
        let mut s = ServerProcess {
            child,
            port: 0,
            inject: 0,
        };
        // The ports are read on a thread, so a server that prints nothing cannot hang us.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + STEP;
        let mut port = None;
        let mut inject = None;
        while port.is_none() || inject.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(l) = rx.recv_timeout(left) else { break };
            let p = l.rsplit(':').next().and_then(|p| p.parse().ok());
            if l.starts_with("listening on") {
                port = p;
            } else if l.starts_with("inject on") {
                inject = p;
            }
        }
        match (port, inject) {
            (Some(p), Some(i)) => {
                s.port = p;
                s.inject = i;
                Ok(s)
            }
            _ => Err(std::io::Error::other("the server printed no ports")),
        }
    }

    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

/// One TCP connection driven through the sans-IO client.
struct Link {
    stream: TcpStream,
    client: Client,
    events: Vec<Event>,
}

type R<T> = Result<T, String>;

impl Link {
    async fn open(
        port: u16,
        view: Option<MailboxView>,
        cursor: Option<ResumeCursor>,
        resume: bool,
    ) -> R<Self> {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(("127.0.0.1", port)))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut config = ClientConfig::default();
        config.resume_positions = resume;
        let mut client = Client::new(config);
        if let Some(v) = view {
            client.restore_view(v);
        }
        if let Some(c) = cursor {
            client.restore_cursor(c);
        }
        let mut l = Link {
            stream,
            client,
            events: Vec::new(),
        };
        l.until(|e| matches!(e, Event::Capabilities(_))).await?;
        Ok(l)
    }

    /// Write what the client queued; keep its events.
    async fn flush(&mut self) -> R<()> {
        while let Some(o) = self.client.poll_output() {
            match o {
                Output::Transmit(b) => self
                    .stream
                    .write_all(&b)
                    .await
                    .map_err(|e| format!("write: {e}"))?,
                Output::Event(e) => self.events.push(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Read once (bounded) and apply.
    async fn read(&mut self) -> R<()> {
        let mut buf = [0u8; 8192];
        let n = tokio::time::timeout(STEP, self.stream.read(&mut buf))
            .await
            .map_err(|_| "read timed out".to_string())?;
        self.apply(&buf, n).await
    }

    /// Apply the outcome of one read (`read` is cancel-safe; this part is not, so it runs
    /// outside `select!`).
    async fn apply(&mut self, buf: &[u8], n: std::io::Result<usize>) -> R<()> {
        let n = n.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed by server".into());
        }
        self.client.handle_input(&buf[..n], Instant::now());
        self.flush().await
    }

    /// The client's timer (IDLE refresh) is due.
    async fn tick(&mut self) -> R<()> {
        self.client.handle_timeout(Instant::now());
        self.flush().await
    }

    /// Run until an event matches; returns it (events stay in `events` too).
    async fn until(&mut self, mut pred: impl FnMut(&Event) -> bool) -> R<Event> {
        let mut seen = 0;
        loop {
            self.flush().await?;
            if let Some(e) = self.events[seen..].iter().find(|e| pred(e)) {
                return Ok(e.clone());
            }
            seen = self.events.len();
            self.read().await?;
        }
    }

    async fn command(&mut self, line: &str) -> R<()> {
        let mut dec = CommandDecoder::default();
        dec.feed(format!("x {line}\r\n").as_bytes());
        let Ok(Some(ClientMessage::Command(cmd))) = dec.next() else {
            return Err(format!("bad command {line}"));
        };
        let h = self.client.enqueue(cmd.body).map_err(|e| e.to_string())?;
        self.completed(h).await
    }

    async fn completed(&mut self, h: pimap::client::CommandHandle) -> R<()> {
        match self
            .until(|e| matches!(e, Event::Completed(c) if c.handle == h))
            .await?
        {
            Event::Completed(c) if c.is_ok() => Ok(()),
            Event::Completed(c) => Err(format!("{} failed", c.command)),
            _ => Err("unexpected".into()),
        }
    }

    /// The state-comparison sync: SELECT and UID FETCH 1:* (UID FLAGS).
    async fn full_sync(&mut self) -> R<()> {
        let h = self.client.select("INBOX").map_err(|e| e.to_string())?;
        self.completed(h).await?;
        let items = FetchItems::List(vec![FetchAttr::Uid, FetchAttr::Flags]);
        let h = self
            .client
            .fetch(true, SequenceSet::all(), items)
            .map_err(|e| e.to_string())?;
        self.completed(h).await
    }

    async fn idle(&mut self) -> R<()> {
        self.client.idle().map_err(|e| e.to_string())?;
        self.until(|e| matches!(e, Event::IdleStarted(_)))
            .await
            .map(drop)
    }

    async fn done(&mut self) -> R<()> {
        if self.client.is_idling() {
            self.client.done().map_err(|e| e.to_string())?;
            self.until(|e| matches!(e, Event::Completed(c) if c.command == "IDLE"))
                .await?;
        }
        Ok(())
    }

    fn uids(&self) -> Vec<u32> {
        self.client
            .mailbox()
            .map(|m| m.messages().iter().filter_map(|x| x.uid).collect())
            .unwrap_or_default()
    }

    /// Entries of the view, with or without a known UID.
    fn entries(&self) -> usize {
        self.client.mailbox().map_or(0, |m| m.messages().len())
    }
}

/// Why a device's loop woke up.
enum Wake {
    Readable(std::io::Result<()>),
    Cmd(Option<Cmd>),
    Timer,
}

/// Sleep until `due`, or forever.
async fn at(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// What the controller tells a device.
enum Cmd {
    /// Stop reading for this long, then reset the connection and come back.
    Reset(Duration),
    /// Settle and report the final view.
    Finish(oneshot::Sender<Report>),
}

#[derive(Debug, Default)]
struct Report {
    uids: Vec<u32>,
    /// Entries of the final view (an EXISTS applied twice shows here, without a UID).
    entries: usize,
    resyncs: usize,
    ignored_resyncs: usize,
    inconsistent: usize,
    resets: usize,
    retries: usize,
    dropped: usize,
    error: Option<String>,
}

/// Injection times per (account, UID), and push latencies seen.
#[derive(Default)]
struct Timing {
    injected: HashMap<(usize, u32), Instant>,
    latencies: Vec<Duration>,
}

struct Device {
    account: usize,
    name: String,
    port: u16,
    o: Opts,
    timing: Arc<Mutex<Timing>>,
    view: Option<MailboxView>,
    cursor: Option<ResumeCursor>,
    report: Report,
    pushed_seen: BTreeSet<u32>,
}

impl Device {
    /// [`attach_once`](Self::attach_once), retried with backoff as phones do (the server
    /// refuses connections beyond its caps during a reconnect storm).
    async fn attach(&mut self) -> R<Link> {
        let mut wait = Duration::from_millis(50);
        let mut last = String::new();
        for _ in 0..12 {
            match self.attach_once().await {
                Ok(l) => return Ok(l),
                Err(e) => last = e,
            }
            self.report.retries += 1;
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        Err(format!("gave up reconnecting: {last}"))
    }

    /// Log in (fresh or resumed) and get to IDLE with a view that is in sync.
    async fn attach_once(&mut self) -> R<Link> {
        let mut l = Link::open(self.port, self.view.clone(), self.cursor, self.o.resume).await?;
        l.client
            .login(&self.name, "pw")
            .map_err(|e| e.to_string())?;
        let outcome = match l.until(|e| matches!(e, Event::LoggedIn(_))).await? {
            Event::LoggedIn(o) => o,
            _ => return Err("no login".into()),
        };
        match outcome {
            LoginOutcome::Fresh => {
                l.command("XFILTER INBOX N ALL").await?;
                l.command("XSETPIMAPPREF PIMAP_INBAND_NEW_FORMAT (UID FLAGS)")
                    .await?;
                l.full_sync().await?;
            }
            LoginOutcome::ResyncRequired { .. } => {
                self.report.resyncs += 1;
                if self.o.ignore_resync {
                    self.report.ignored_resyncs += 1;
                } else {
                    l.full_sync().await?;
                }
            }
            LoginOutcome::ResumedSelected { .. } => {}
            _ => l.full_sync().await?,
        }
        // Events replayed at login are not live pushes: not timed. The sync itself may be
        // told RESYNC (a queue that overflowed meanwhile): handled like one at login.
        if self.note(&mut l, false) {
            self.resync(&mut l).await?;
        }
        l.idle().await?;
        Ok(l)
    }

    /// Told RESYNC: the state-comparison sync (unless `--ignore-resync`), repeated while the
    /// server keeps saying RESYNC (bounded). Leaves IDLE if it was active; the caller idles
    /// again.
    async fn resync(&mut self, l: &mut Link) -> R<()> {
        for _ in 0..4 {
            self.report.resyncs += 1;
            if self.o.ignore_resync {
                self.report.ignored_resyncs += 1;
                return Ok(());
            }
            l.done().await?;
            l.full_sync().await?;
            if !self.note(l, false) {
                return Ok(());
            }
        }
        Err("RESYNC after every sync".into())
    }

    /// Look at the events since the last call: pushes (latency), RESYNC, inconsistencies.
    fn note(&mut self, l: &mut Link, live: bool) -> bool {
        let mut resync = false;
        for e in std::mem::take(&mut l.events) {
            match e {
                Event::Mailbox(MailboxEvent::Fetched { uid: Some(u), .. })
                    if self.pushed_seen.insert(u) && live =>
                {
                    if let Ok(mut t) = self.timing.lock() {
                        if let Some(at) = t.injected.get(&(self.account, u)).copied() {
                            t.latencies.push(at.elapsed());
                        }
                    }
                }
                Event::ResyncRequired => resync = true,
                Event::ViewInconsistent(_) => self.report.inconsistent += 1,
                _ => {}
            }
        }
        resync
    }

    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Cmd>,
        ready: oneshot::Sender<R<()>>,
        gate: Arc<Semaphore>,
    ) {
        let first = {
            let _permit = gate.acquire().await;
            self.attach().await
        };
        let mut link = match first {
            Ok(l) => {
                let _ = ready.send(Ok(()));
                l
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        loop {
            // Only cancel-safe waits inside `select!`; the work happens after it. No read
            // timeout here: an idle device may hear nothing for a long time (the run as a
            // whole is bounded by --max-seconds).
            let due = link.client.poll_timeout();
            let wake = tokio::select! {
                r = link.stream.readable() => Wake::Readable(r),
                cmd = rx.recv() => Wake::Cmd(cmd),
                () = at(due) => Wake::Timer,
            };
            let step = match wake {
                Wake::Readable(Err(e)) => Err(format!("read: {e}")),
                Wake::Readable(Ok(())) => {
                    let mut buf = vec![0u8; 16 * 1024];
                    match link.stream.try_read(&mut buf) {
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                        r => link.apply(&buf, r).await,
                    }
                }
                Wake::Timer => link.tick().await,
                Wake::Cmd(Some(Cmd::Reset(stall))) => {
                    // Coverage lost: nothing is read; pushes pile up unread.
                    tokio::time::sleep(stall).await;
                    self.report.resets += 1;
                    match self.reconnect(link).await {
                        Ok(l) => link = l,
                        Err(e) => {
                            self.report.error = Some(e);
                            break;
                        }
                    }
                    Ok(())
                }
                Wake::Cmd(Some(Cmd::Finish(tx))) => {
                    let r = async {
                        link.done().await?;
                        link.command("NOOP").await?;
                        if self.note(&mut link, false) {
                            self.resync(&mut link).await?;
                        }
                        Ok::<(), String>(())
                    }
                    .await;
                    if let Err(e) = r {
                        self.report.error.get_or_insert(e);
                    }
                    self.note(&mut link, false);
                    self.report.uids = link.uids();
                    self.report.entries = link.entries();
                    let _ = tx.send(std::mem::take(&mut self.report));
                    return;
                }
                Wake::Cmd(None) => break,
            };
            if step.is_err() {
                // The server dropped us (or the socket failed): come back like after a reset.
                self.report.dropped += 1;
                match self.reconnect(link).await {
                    Ok(l) => link = l,
                    Err(e) => {
                        self.report.error = Some(e);
                        break;
                    }
                }
                continue;
            }
            if self.note(&mut link, true) {
                let r = async {
                    self.resync(&mut link).await?;
                    if !link.client.is_idling() {
                        link.idle().await?;
                    }
                    Ok::<(), String>(())
                }
                .await;
                if let Err(e) = r {
                    self.report.error = Some(e);
                    break;
                }
            }
        }
        // Failed: keep the report until asked.
        while let Some(cmd) = rx.recv().await {
            if let Cmd::Finish(tx) = cmd {
                let _ = tx.send(std::mem::take(&mut self.report));
                return;
            }
        }
    }

    /// Reset the connection (RST, unread data discarded) and attach again with the kept view
    /// and position.
    async fn reconnect(&mut self, link: Link) -> R<Link> {
        if let Some(v) = link.client.mailbox() {
            self.view = Some(v.clone());
        }
        if let Some(c) = link.client.resume_cursor() {
            self.cursor = Some(c);
        }
        // Linger 0: close sends RST at once (no blocking) and discards unread data.
        let _ = socket2::SockRef::from(&link.stream).set_linger(Some(Duration::ZERO));
        drop(link);
        self.attach().await
    }
}

/// Inject one message per call over a kept inject connection; returns its UID.
async fn inject(conn: &mut tokio::io::BufReader<TcpStream>, account: usize, n: usize) -> R<u32> {
    use tokio::io::AsyncBufReadExt;
    let msg = format!("From: chaos@example.com\r\nSubject: chaos {n}\r\n\r\nbody {n}\r\n");
    let head = format!("INJECT c{account} INBOX {}\r\n", msg.len());
    let mut req = head.into_bytes();
    req.extend_from_slice(msg.as_bytes());
    // One write: the command line and the message in one segment.
    conn.get_mut()
        .write_all(&req)
        .await
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    tokio::time::timeout(STEP, conn.read_line(&mut line))
        .await
        .map_err(|_| "inject timed out".to_string())?
        .map_err(|e| e.to_string())?;
    line.trim()
        .strip_prefix("OK ")
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| format!("inject refused: {line}"))
}

/// `per_account` messages for every account, their injection times recorded.
async fn inject_round(
    inj: &mut tokio::io::BufReader<TcpStream>,
    accounts: usize,
    per_account: usize,
    n: &mut usize,
    timing: &Mutex<Timing>,
) -> R<()> {
    for a in 0..accounts {
        for _ in 0..per_account {
            *n += 1;
            let at = Instant::now();
            let uid = inject(inj, a, *n).await?;
            if let Ok(mut t) = timing.lock() {
                t.injected.insert((a, uid), at);
            }
        }
    }
    Ok(())
}

/// The store's truth: a plain login per account.
async fn truth(port: u16, account: usize) -> R<Vec<u32>> {
    let mut l = Link::open(port, None, None, false).await?;
    l.client
        .login(&format!("c{account}"), "pw")
        .map_err(|e| e.to_string())?;
    l.until(|e| matches!(e, Event::LoggedIn(_))).await?;
    l.full_sync().await?;
    Ok(l.uids())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// The soft and hard open-file limits (`/proc/self/limits`; the server child inherits them).
fn open_file_limits() -> Option<(String, String)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let rest = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    let mut f = rest.split_whitespace();
    Some((f.next()?.to_string(), f.next()?.to_string()))
}

/// Refuse to start when `ulimit -n` is too low for the devices (one descriptor per device here
/// and one in the server, plus a margin): the server's accept loop and our connects would fail
/// with EMFILE and the devices would retry until --max-seconds. `--force` runs anyway.
/// Raising the limit would need `setrlimit` (unsafe, or a new dependency): the shell's
/// `ulimit -n` has to do it.
fn check_open_files(devices: usize, force: bool) -> R<()> {
    let need = devices + 256;
    match open_file_limits() {
        Some((soft, hard)) => match soft.parse::<usize>() {
            Ok(n) if n < need => {
                let why = format!(
                    "open-file limit {n} (hard {hard}) is below the {need} descriptors {devices} \
                     devices need in each process (here and in the server); raise it with \
                     `ulimit -n {need}`, or run anyway with --force"
                );
                if !force {
                    return Err(why);
                }
                eprintln!("warning: {why}");
            }
            _ => eprintln!("open-file limit {soft} (hard {hard}), {need} needed per process"),
        },
        None => eprintln!("open-file limit unknown (no /proc/self/limits)"),
    }
    Ok(())
}

async fn run(o: Opts) -> R<bool> {
    check_open_files(o.devices, o.force)?;
    let accounts = o.devices.div_ceil(DEVICES_PER_ACCOUNT).max(1);
    let server = ServerProcess::start(&o, accounts).map_err(|e| format!("server: {e}"))?;
    let rss_before = server.rss_kib();
    let timing = Arc::new(Mutex::new(Timing::default()));
    let gate = Arc::new(Semaphore::new(64));
    let mut controls = Vec::new();
    let mut readies = Vec::new();
    for i in 0..o.devices {
        let account = i / DEVICES_PER_ACCOUNT;
        let dev = Device {
            account,
            name: format!("c{account}#d{i}"),
            port: server.port,
            o: o.clone(),
            timing: timing.clone(),
            view: None,
            cursor: None,
            report: Report::default(),
            pushed_seen: BTreeSet::new(),
        };
        let (tx, rx) = mpsc::channel(4);
        let (rtx, rrx) = oneshot::channel();
        tokio::spawn(dev.run(rx, rtx, gate.clone()));
        controls.push(tx);
        readies.push(rrx);
    }
    let mut failed = 0;
    for r in readies {
        match r.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                if failed < 5 {
                    eprintln!("device setup failed: {e}");
                }
            }
            Err(_) => failed += 1,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = server.rss_kib();
    let inject_stream = TcpStream::connect(("127.0.0.1", server.inject))
        .await
        .map_err(|e| format!("inject: {e}"))?;
    let _ = inject_stream.set_nodelay(true);
    let mut inj = tokio::io::BufReader::new(inject_stream);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ o.seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut n = 0;
    let mut resets = 0;
    for _round in 0..o.rounds {
        inject_round(&mut inj, accounts, o.mail, &mut n, &timing).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        for c in &controls {
            if rng.unit() < o.reset {
                resets += 1;
                let _ = c.try_send(Cmd::Reset(o.stall));
            }
        }
        // Mail while they do not read: it sits in flight when they reset.
        inject_round(&mut inj, accounts, o.mail, &mut n, &timing).await?;
        tokio::time::sleep(o.stall + Duration::from_millis(1500)).await;
    }
    let mut reports = Vec::new();
    for c in &controls {
        let (tx, rx) = oneshot::channel();
        let _ = c.send(Cmd::Finish(tx)).await;
        reports.push(rx);
    }
    let mut truths = Vec::new();
    for a in 0..accounts {
        truths.push(truth(server.port, a).await?);
    }
    let (mut expected, mut seen, mut lost, mut lost_devices, mut dup, mut resyncs, mut errors) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let mut ignored = 0;
    let mut device_resets = 0;
    let mut retries = 0;
    let mut dropped = 0;
    for (i, rx) in reports.into_iter().enumerate() {
        let account = i / DEVICES_PER_ACCOUNT;
        let truth = &truths[account];
        let Ok(r) = tokio::time::timeout(STEP, rx)
            .await
            .map_err(|_| ())
            .and_then(|r| r.map_err(|_| ()))
        else {
            errors += 1;
            continue;
        };
        if let Some(e) = &r.error {
            errors += 1;
            if errors < 5 {
                eprintln!("device {i}: {e}");
            }
        }
        resyncs += r.resyncs;
        ignored += r.ignored_resyncs;
        device_resets += r.resets;
        retries += r.retries;
        dropped += r.dropped;
        expected += truth.len();
        let have: BTreeSet<u32> = r.uids.iter().copied().collect();
        let missing = truth.iter().filter(|u| !have.contains(u)).count();
        seen += truth.len() - missing;
        if missing > 0 {
            lost += missing;
            lost_devices += 1;
        }
        if have.len() != r.uids.len()
            || have.iter().any(|u| !truth.contains(u))
            || r.entries > truth.len()
            || r.inconsistent > 0
        {
            dup += 1;
        }
    }
    let mut lat = timing
        .lock()
        .map(|t| t.latencies.clone())
        .unwrap_or_default();
    lat.sort();
    let per_conn = match (rss_before, rss_idle) {
        (Some(b), Some(a)) if o.devices > 0 => {
            format!("{:.1} KiB", (a.saturating_sub(b)) as f64 / o.devices as f64)
        }
        _ => "n/a".into(),
    };
    println!("devices {} (setup failed {failed}), accounts {accounts}, messages injected {n}, resets {resets} ({device_resets} done)", o.devices);
    println!("deliveries expected {expected}, seen {seen}, lost {lost} (on {lost_devices} devices), duplicated/inconsistent devices {dup}");
    println!("RESYNCs {resyncs} (ignored {ignored}), device errors {errors}, connections dropped by the server {dropped}, login retries {retries}, XRESUME {}", if o.resume { "on" } else { "off" });
    println!(
        "push latency p50 {:.2} ms, p99 {:.2} ms ({} pushes timed)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.len()
    );
    println!("server RSS per idle device connection {per_conn}");
    let ok = lost == 0 && dup == 0 && errors == 0 && failed == 0;
    println!("{}", if ok { "RESULT ok" } else { "RESULT FAILED" });
    if o.ignore_resync {
        if ignored == 0 {
            println!(
                "--ignore-resync: no device was told RESYNC, so nothing was ignored and this run \
                 proves nothing about the check (try --no-resume)"
            );
        } else if ok {
            println!("--ignore-resync: {ignored} RESYNCs ignored yet nothing missed: the check did not catch it");
        } else {
            println!("--ignore-resync: {ignored} RESYNCs ignored and the check failed, as it must (expected failure)");
        }
    }
    Ok(ok)
}

fn main() {
    let o = opts();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            std::process::exit(2);
        }
    };
    let limit = Duration::from_secs(o.max_seconds);
    let result = rt.block_on(async { tokio::time::timeout(limit, run(o)).await });
    match result {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => std::process::exit(1),
        Ok(Err(e)) => {
            eprintln!("chaos: {e}");
            std::process::exit(2);
        }
        Err(_) => {
            eprintln!("chaos: --max-seconds reached");
            std::process::exit(3);
        }
    }
}
