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
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};

use pimap::server::blocking::{Action, Driver};
use pimap::server::memory::MemoryStore;
use pimap::server::{ConnId, SearchClock, Server, ServerConfig};

#[path = "shared/demo_setup.rs"]
mod demo_setup;
use demo_setup::*;

/// Chunks queued for one connection before it counts as stuck and is dropped.
const WRITE_QUEUE: usize = 1024;

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

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = parse_args("server", 1143);

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
        tokio::spawn(inject_listener(l, StoreInjector(state.clone())));
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

/// The inject port adds to the in-memory store and lets the server push the change.
#[derive(Clone)]
struct StoreInjector(State);

impl Injector for StoreInjector {
    async fn inject(&self, user: &str, mailbox: &str, message: &[u8]) -> Option<u32> {
        let mut st = self.0.lock().await;
        let now = Instant::now();
        let uid = st
            .driver
            .store
            .inject(user, mailbox, message, Vec::new(), None);
        let actions = st.driver.sync_store(now);
        st.dispatch(actions, now);
        uid
    }
}
