//! A demo P-IMAP / IMAP4rev1 server over TCP: the sans-IO [`Server`] driven by tokio, with
//! the in-memory store.
//!
//! ```text
//! cargo run --example server -- --port 1143 [--inject-port 1144] [--user alice:alicepw ...]
//!                                [--max-seconds N]
//! ```
//!
//! * Listens on 127.0.0.1 only. Port 0 picks a free port; the bound addresses are printed to
//!   stdout as `listening on 127.0.0.1:<port>` and `inject on 127.0.0.1:<port>`.
//! * Users: `alice:alicepw` and `bob:bobpw` unless `--user` is given (repeatable). Each has
//!   an INBOX with two sample messages (one multipart) and an empty `Sent` folder.
//! * The inject port (optional) delivers new mail, line based:
//!   `INJECT <user> <mailbox> <octet-count>\r\n` then that many octets of RFC 5322 message;
//!   the answer is `OK <uid>\r\n` or `NO <reason>\r\n`. IDLE sessions see `* n EXISTS`.
//! * XDELIVER submissions are only logged to stderr (and accepted): nothing is sent.
//!   Out-of-band notifications are logged to stderr as well.
//! * `--max-seconds N` exits after N seconds (bounded runs in tests and CI).
//!
//! Design: one [`Driver`] behind a `tokio::sync::Mutex`, shared by every task. A connection
//! task reads its socket, feeds the driver, and the returned [`Action`]s are dispatched to
//! the writers of the connections they name (a map from [`ConnId`] to a bounded channel)
//! while the lock is still held, so output order across connections follows the driver's.
//! A connection whose channel is full (a peer that stopped reading) is dropped.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};

use pimap::server::blocking::{Action, Driver, Notifier, Submitter};
use pimap::server::memory::MemoryStore;
use pimap::server::{ConnId, Notification, SearchClock, Server, ServerConfig, Submission};
use pimap::types::Flag;

/// Chunks queued for one connection before it counts as stuck and is dropped.
const WRITE_QUEUE: usize = 1024;
/// Largest message the inject port accepts.
const MAX_INJECT: usize = 32 * 1024 * 1024;
/// Longest INJECT command line.
const MAX_INJECT_LINE: usize = 1024;

/// Sample message 1 (plain text). The interop tests look for its subject.
const SAMPLE_1: &str = "From: Demo Server <postmaster@example.org>\r\n\
To: {user}@example.org\r\n\
Subject: Welcome to the pimap demo server\r\n\
Date: Mon, 01 Jan 2024 09:00:00 +0000\r\n\
Message-ID: <welcome-{user}@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Hello {user},\r\n\
\r\n\
this message lives in the in-memory store of the pimap example server.\r\n";

/// Sample message 2 (multipart/mixed with an attachment).
const SAMPLE_2: &str = "From: Bob Example <bob@example.org>\r\n\
To: {user}@example.org\r\n\
Subject: Quarterly report (with attachment)\r\n\
Date: Tue, 02 Jan 2024 10:30:00 +0100\r\n\
Message-ID: <report-{user}@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_pimap_demo_boundary\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
\r\n\
--=_pimap_demo_boundary\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
Please find the report attached.\r\n\
\r\n\
--=_pimap_demo_boundary\r\n\
Content-Type: application/octet-stream; name=\"report.bin\"\r\n\
Content-Disposition: attachment; filename=\"report.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
cGltYXAgZGVtbyBhdHRhY2htZW50Cg==\r\n\
\r\n\
--=_pimap_demo_boundary--\r\n";

/// Logs XDELIVER submissions and accepts them without sending anything (a demo).
struct LogSubmitter;

impl Submitter for LogSubmitter {
    fn submit(&mut self, s: &Submission) -> Result<(), String> {
        eprintln!(
            "submit: user {} kind {:?} save_to {:?}: {} octets (demo: not sent)",
            String::from_utf8_lossy(&s.user),
            s.kind,
            s.save_to,
            s.message.len()
        );
        Ok(())
    }
}

/// Logs out-of-band notifications.
struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&mut self, n: &Notification) {
        eprintln!(
            "notify: user {} device {} channel {:?} address {:?}: {} octets",
            String::from_utf8_lossy(&n.user),
            String::from_utf8_lossy(&n.device),
            n.channel,
            String::from_utf8_lossy(&n.address),
            n.payload.len()
        );
    }
}

/// What a connection's task is told to do.
enum Out {
    Data(Bytes),
    Close,
}

/// Everything behind the lock: the driver and the writers of the open connections.
struct Shared {
    driver: Driver<MemoryStore, LogSubmitter, LogNotifier>,
    writers: HashMap<ConnId, mpsc::Sender<Out>>,
}

impl Shared {
    /// Hand actions to the connections they name. A connection that cannot take more
    /// output (its peer does not read) is closed in the server and dropped.
    fn dispatch(&mut self, actions: Vec<Action>, now: Instant) {
        let mut queue = actions;
        while !queue.is_empty() {
            let mut more = Vec::new();
            for a in queue {
                match a {
                    Action::Transmit(conn, data) => {
                        let Some(tx) = self.writers.get(&conn) else {
                            continue;
                        };
                        if tx.try_send(Out::Data(data)).is_err() {
                            eprintln!("conn {}: output queue full or closed; dropping", conn.0);
                            self.writers.remove(&conn);
                            more.extend(self.driver.closed(conn, now));
                        }
                    }
                    Action::Close(conn) => {
                        if let Some(tx) = self.writers.remove(&conn) {
                            // If the queue is full the task ends when the sender drops.
                            let _ = tx.try_send(Out::Close);
                        }
                    }
                }
            }
            queue = more;
        }
    }
}

type State = Arc<Mutex<Shared>>;

struct Args {
    port: u16,
    inject_port: Option<u16>,
    users: Vec<(String, String)>,
    max_seconds: Option<u64>,
}

fn usage() -> ! {
    eprintln!(
        "usage: server --port PORT [--inject-port PORT] [--user NAME:PASSWORD ...] \
         [--max-seconds N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        port: 1143,
        inject_port: None,
        users: Vec::new(),
        max_seconds: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--port" => args.port = value().parse().unwrap_or_else(|_| usage()),
            "--inject-port" => args.inject_port = Some(value().parse().unwrap_or_else(|_| usage())),
            "--max-seconds" => args.max_seconds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--user" => {
                let v = value();
                let Some((u, p)) = v.split_once(':') else {
                    usage()
                };
                if u.is_empty() {
                    usage()
                }
                args.users.push((u.to_string(), p.to_string()));
            }
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument {a:?}");
                usage()
            }
        }
    }
    if args.users.is_empty() {
        args.users = vec![
            ("alice".into(), "alicepw".into()),
            ("bob".into(), "bobpw".into()),
        ];
    }
    args
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn demo_store(users: &[(String, String)]) -> MemoryStore {
    let mut store = MemoryStore::new();
    store.set_clock(SearchClock::from_unix(unix_now()));
    for (user, password) in users {
        store.add_user(user, password);
        // INBOX may exist already; either way it is there afterwards.
        store.create_mailbox(user, "INBOX");
        store.create_mailbox(user, "Sent");
        for (sample, flags) in [(SAMPLE_1, vec![Flag::Seen]), (SAMPLE_2, Vec::new())] {
            let msg = sample.replace("{user}", user);
            if store
                .inject(user, "INBOX", msg.as_bytes(), flags, None)
                .is_none()
            {
                eprintln!("warning: could not add a sample message for {user}");
            }
        }
    }
    // Nobody is connected yet: the changes of the setup concern no session.
    let _ = store.take_changes();
    store
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = parse_args();

    let imap = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let inject = match args.inject_port {
        Some(p) => Some(TcpListener::bind(("127.0.0.1", p)).await?),
        None => None,
    };

    let mut server = Server::new(ServerConfig::default());
    server.set_unix_time(unix_now());
    let driver = Driver::new(server, demo_store(&args.users), LogSubmitter, LogNotifier);
    let state: State = Arc::new(Mutex::new(Shared {
        driver,
        writers: HashMap::new(),
    }));

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", imap.local_addr()?)?;
        if let Some(l) = &inject {
            writeln!(out, "inject on {}", l.local_addr()?)?;
        }
        out.flush()?;
    }
    let names: Vec<&str> = args.users.iter().map(|(u, _)| u.as_str()).collect();
    eprintln!("users: {}", names.join(", "));

    tokio::spawn(timers(state.clone()));
    if let Some(l) = inject {
        tokio::spawn(inject_listener(l, state.clone()));
    }
    let accept = imap_listener(imap, state);
    match args.max_seconds {
        Some(n) => {
            if tokio::time::timeout(Duration::from_secs(n), accept)
                .await
                .is_err()
            {
                eprintln!("--max-seconds {n} reached; exiting");
            }
        }
        None => accept.await,
    }
    Ok(())
}

/// Keep the server's clocks current and run its timers when they are due.
async fn timers(state: State) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let unix = unix_now();
        let mut st = state.lock().await;
        st.driver.server.set_unix_time(unix);
        st.driver.store.set_clock(SearchClock::from_unix(unix));
        if st.driver.server.poll_timeout().is_some_and(|t| t <= now) {
            let actions = st.driver.timeout(now);
            st.dispatch(actions, now);
        }
    }
}

async fn imap_listener(listener: TcpListener, state: State) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(connection(stream, peer, state.clone()));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One IMAP connection: socket input goes to the driver, the channel's output to the socket.
async fn connection(mut stream: TcpStream, peer: std::net::SocketAddr, state: State) {
    let (tx, mut rx) = mpsc::channel(WRITE_QUEUE);
    let conn = {
        let mut st = state.lock().await;
        let now = Instant::now();
        match st.driver.accept(now) {
            Ok((conn, actions)) => {
                st.writers.insert(conn, tx);
                st.dispatch(actions, now);
                conn
            }
            Err(e) => {
                eprintln!("refusing {peer}: {e}");
                let _ = stream.write_all(b"* BYE too many connections\r\n").await;
                return;
            }
        }
    };
    eprintln!("conn {}: accepted from {peer}", conn.0);

    let mut buf = vec![0u8; 16 * 1024];
    let why = loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Data(data)) => {
                    if let Err(e) = stream.write_all(&data).await {
                        break format!("write failed: {e}");
                    }
                }
                Some(Out::Close) => break "closed by server".to_string(),
                None => break "dropped by server".to_string(),
            },
            n = stream.read(&mut buf) => {
                let n = match n {
                    Ok(0) => break "closed by peer".to_string(),
                    Ok(n) => n,
                    Err(e) => break format!("read failed: {e}"),
                };
                let mut st = state.lock().await;
                let now = Instant::now();
                match st.driver.input(conn, &buf[..n], now) {
                    Ok(actions) => st.dispatch(actions, now),
                    Err(e) => break format!("server: {e}"),
                }
            }
        }
    };
    // Write what the server queued before closing (e.g. BYE and the tagged LOGOUT OK).
    rx.close();
    while let Some(Out::Data(data)) = rx.recv().await {
        if stream.write_all(&data).await.is_err() {
            break;
        }
    }
    let _ = stream.shutdown().await;
    {
        let mut st = state.lock().await;
        let now = Instant::now();
        // The server may have closed it already; then this is a no-op.
        if st.writers.remove(&conn).is_some() {
            let actions = st.driver.closed(conn, now);
            st.dispatch(actions, now);
        }
    }
    eprintln!("conn {}: {why}", conn.0);
}

async fn inject_listener(listener: TcpListener, state: State) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = inject_connection(stream, state).await {
                        eprintln!("inject {peer}: {e}");
                    }
                });
            }
            Err(e) => {
                eprintln!("inject accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// `INJECT <user> <mailbox> <octets>\r\n<message>` -> `OK <uid>` / `NO <reason>`, repeatedly.
async fn inject_connection(stream: TcpStream, state: State) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut rd)
            .take(MAX_INJECT_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            wr.write_all(b"NO line too long\r\n").await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let words: Vec<&str> = text.split_whitespace().collect();
        let (user, mailbox, size) = match words.as_slice() {
            [cmd, user, mailbox, size] if cmd.eq_ignore_ascii_case("INJECT") => {
                match size.parse::<usize>() {
                    Ok(s) if s <= MAX_INJECT => (user.to_string(), mailbox.to_string(), s),
                    _ => {
                        wr.write_all(b"NO bad octet count\r\n").await?;
                        return Ok(());
                    }
                }
            }
            _ => {
                wr.write_all(b"NO expected INJECT <user> <mailbox> <octet-count>\r\n")
                    .await?;
                return Ok(());
            }
        };
        let mut message = vec![0u8; size];
        rd.read_exact(&mut message).await?;

        let reply = {
            let mut st = state.lock().await;
            let now = Instant::now();
            let uid = st
                .driver
                .store
                .inject(&user, &mailbox, &message, Vec::new(), None);
            let actions = st.driver.sync_store(now);
            st.dispatch(actions, now);
            uid
        };
        match reply {
            Some(uid) => {
                eprintln!("inject: {size} octets to {user}/{mailbox}, uid {uid}");
                wr.write_all(format!("OK {uid}\r\n").as_bytes()).await?;
            }
            None => {
                eprintln!("inject: {user}/{mailbox} refused");
                wr.write_all(b"NO no such user or mailbox\r\n").await?;
            }
        }
    }
}
