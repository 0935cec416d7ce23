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
//! Design: the sans-IO [`Server`] behind a `tokio::sync::Mutex`, shared by every task. A
//! connection task reads its socket and feeds the server; the server's outputs are drained
//! while the lock is held: bytes go to the writer of the connection they name (a bounded
//! channel), requests (store operations, submissions) run **off the state machine**, on
//! tokio's blocking pool against the store behind its own lock, so one user's expensive
//! SEARCH never stalls another user's NOOP. Their replies, with the changes the store
//! recorded, come back through one ordered channel (sent while the store lock is held, so
//! changes reach the server in the order the store made them) and are applied by a single
//! task: changes first, then the completion, as [`Server::mailbox_changed`] requires.
//!
//! Backpressure: the server runs with a 1 MiB output budget per connection; each
//! connection task reports what it wrote ([`Server::transmitted`]), so a peer that stops
//! reading stops its own commands and pushes (its queued events overflow into RESYNC), not
//! the process. Sockets have `TCP_NODELAY` so responses are not held by Nagle's algorithm,
//! and `TCP_QUICKACK` after each read so a client's own Nagle does not wait for our ACK.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Mutex};

use pimap::server::blocking::{Notifier, Submitter};
use pimap::server::memory::MemoryStore;
use pimap::server::{
    ConnId, MailboxChange, Output, Reply, Request, RequestId, SearchClock, Server, ServerConfig,
};
use pimap::types::Mailbox;

#[path = "shared/demo_setup.rs"]
mod demo_setup;
use demo_setup::*;

/// Chunks queued for one connection; with the output budget this is a last resort only.
const WRITE_QUEUE: usize = 4096;
/// Unsent output per connection before the server stops executing its commands.
const OUTPUT_BUDGET: usize = 1 << 20;

/// What a connection's task is told to do.
enum Out {
    Data(Bytes),
    Close,
}

/// A store or submission reply, with the store changes to feed before it.
struct Done {
    id: Option<RequestId>,
    reply: Reply,
    changes: Vec<(Bytes, Mailbox, MailboxChange)>,
}

type Store = Arc<std::sync::Mutex<MemoryStore>>;

/// Everything behind the lock: the server and the writers of the open connections.
struct Shared {
    server: Server,
    writers: HashMap<ConnId, mpsc::Sender<Out>>,
    store: Store,
    done: mpsc::UnboundedSender<Done>,
}

impl Shared {
    /// Drain the server's outputs: bytes to writers, requests to the blocking pool. A
    /// connection whose queue is full anyway (it should not be, with the budget) is closed.
    fn pump(&mut self, now: Instant) {
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Transmit { conn, data } => {
                    let Some(tx) = self.writers.get(&conn) else {
                        continue;
                    };
                    if tx.try_send(Out::Data(data)).is_err() {
                        eprintln!("conn {}: output queue full or closed; dropping", conn.0);
                        self.writers.remove(&conn);
                        self.server.handle_close(conn, now);
                    }
                }
                Output::Close { conn } => {
                    if let Some(tx) = self.writers.remove(&conn) {
                        // If the queue is full the task ends when the sender drops.
                        let _ = tx.try_send(Out::Close);
                    }
                }
                Output::Notify(n) => LogNotifier.notify(&n),
                Output::Request { id, request, .. } => {
                    let store = self.store.clone();
                    let done = self.done.clone();
                    tokio::task::spawn_blocking(move || perform(&store, &done, id, &request));
                }
                _ => {}
            }
        }
    }
}

/// Run one request on the blocking pool. The reply and the changes are sent while the store
/// lock is held, so they reach the server in the store's order.
fn perform(store: &Store, done: &mpsc::UnboundedSender<Done>, id: RequestId, request: &Request) {
    let reply = match request {
        Request::Submit(s) => match LogSubmitter.submit(s) {
            Ok(()) => Reply::Submitted,
            Err(why) => Reply::no(why),
        },
        other => {
            let Ok(mut st) = store.lock() else {
                return;
            };
            let reply = st.handle(other);
            let changes = st.take_changes();
            let _ = done.send(Done {
                id: Some(id),
                reply,
                changes,
            });
            return;
        }
    };
    let _ = done.send(Done {
        id: Some(id),
        reply,
        changes: Vec::new(),
    });
}

/// Apply replies in order: the changes first, then the completion.
async fn completer(state: State, mut rx: mpsc::UnboundedReceiver<Done>) {
    while let Some(d) = rx.recv().await {
        let mut st = state.lock().await;
        let now = Instant::now();
        for (user, mailbox, change) in d.changes {
            st.server.mailbox_changed(&user, &mailbox, change, now);
        }
        if let Some(id) = d.id {
            // The id came from this server and is completed once.
            let _ = st.server.complete(id, d.reply, now);
        }
        st.pump(now);
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

    let mut config = ServerConfig::default();
    config.output_budget = Some(OUTPUT_BUDGET);
    if let Some(n) = args.per_user {
        config.max_connections_per_user = n;
        config.max_device_sessions_per_user = n;
    }
    let mut server = Server::new(config);
    server.set_unix_time(unix_now());
    let store: Store = Arc::new(std::sync::Mutex::new(demo_store(&args.users)));
    let (done, done_rx) = mpsc::unbounded_channel();
    let state: State = Arc::new(Mutex::new(Shared {
        server,
        writers: HashMap::new(),
        store: store.clone(),
        done: done.clone(),
    }));
    tokio::spawn(completer(state.clone(), done_rx));

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
        tokio::spawn(inject_listener(l, StoreInjector { store, done }));
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
        st.server.set_unix_time(unix);
        if let Ok(mut store) = st.store.lock() {
            store.set_clock(SearchClock::from_unix(unix));
        }
        if st.server.poll_timeout().is_some_and(|t| t <= now) {
            st.server.handle_timeout(now);
            st.pump(now);
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
    // Answer at once: a client that writes a command and its CRLF in two segments must not
    // wait for Nagle against its delayed ACK.
    let _ = stream.set_nodelay(true);
    let (tx, mut rx) = mpsc::channel(WRITE_QUEUE);
    let conn = {
        let mut st = state.lock().await;
        let now = Instant::now();
        // The per-address cap applies to remote peers; loopback is a local proxy or test.
        let accepted = if peer.ip().is_loopback() {
            st.server.accept(now)
        } else {
            st.server.accept_from(now, peer.ip())
        };
        match accepted {
            Ok(conn) => {
                st.writers.insert(conn, tx);
                st.pump(now);
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

    // No read buffer is kept while the connection idles (thousands of idle devices): one is
    // taken when the socket is readable and given back after the read.
    let mut buf: Vec<u8> = Vec::new();
    let why = loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Data(data)) => {
                    if let Err(e) = stream.write_all(&data).await {
                        break format!("write failed: {e}");
                    }
                    let mut st = state.lock().await;
                    let now = Instant::now();
                    st.server.transmitted(conn, data.len(), now);
                    st.pump(now);
                }
                Some(Out::Close) => break "closed by server".to_string(),
                None => break "dropped by server".to_string(),
            },
            r = stream.readable() => {
                if let Err(e) = r {
                    break format!("read failed: {e}");
                }
                buf.resize(16 * 1024, 0);
                let n = match stream.try_read(&mut buf) {
                    Ok(0) => break "closed by peer".to_string(),
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        buf = Vec::new();
                        continue;
                    }
                    Err(e) => break format!("read failed: {e}"),
                };
                quick_ack(&stream);
                let mut st = state.lock().await;
                let now = Instant::now();
                let fed = st.server.handle_input(conn, &buf[..n], now);
                buf = Vec::new();
                match fed {
                    Ok(()) => st.pump(now),
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
            st.server.handle_close(conn, now);
            st.pump(now);
        }
    }
    eprintln!("conn {}: {why}", conn.0);
}

/// ACK what was read at once (Linux keeps quick-ACK mode only briefly, so after every read):
/// a command whose last bytes wait behind the client's Nagle is then answered without the
/// 40 ms delayed-ACK stall. `TCP_NODELAY` alone does not help: the wait is on the client.
fn quick_ack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

/// The inject port adds to the in-memory store and lets the server push the change (the
/// changes go through the same ordered channel as request replies).
#[derive(Clone)]
struct StoreInjector {
    store: Store,
    done: mpsc::UnboundedSender<Done>,
}

impl Injector for StoreInjector {
    async fn inject(&self, user: &str, mailbox: &str, message: &[u8]) -> Option<u32> {
        let store = self.store.clone();
        let done = self.done.clone();
        let (user, mailbox, message) = (user.to_string(), mailbox.to_string(), message.to_vec());
        tokio::task::spawn_blocking(move || {
            let mut st = store.lock().ok()?;
            let uid = st.inject(&user, &mailbox, &message, Vec::new(), None);
            let changes = st.take_changes();
            let _ = done.send(Done {
                id: None,
                reply: Reply::Ok,
                changes,
            });
            uid
        })
        .await
        .ok()
        .flatten()
    }
}
