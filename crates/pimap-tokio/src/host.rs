//! The connection loop, for whoever owns a [`Server`]: a [`Service`](crate::Service) does,
//! and so can an application with its own request handling (a gateway whose store is
//! another IMAP server). The owner implements [`Host`] and keeps a [`Writers`];
//! [`serve_imap`] accepts on a listener and runs one task per connection: TLS (implicit or
//! after STARTTLS), reads fed to [`Server::handle_input`], writes reported with
//! [`Server::transmitted`] for backpressure, the close reported once, and shutdown with a
//! grace period for peers that do not read.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Mutex};

use pimap_server::{ConnId, Output, Server};

use crate::outbox::Outbox;
use crate::transport::Transport;
use crate::ServeOptions;

/// What a connection's task is told to do.
pub(crate) enum Out {
    Data(Bytes),
    StartTls,
    Close,
}

/// The owner of a [`Server`] whose connections [`serve_imap`] runs. Every method is called
/// with the owner's lock held; none may block.
pub trait Host: Send + 'static {
    /// The server.
    fn server(&mut self) -> &mut Server;
    /// The writers of the connections being served.
    fn writers(&mut self) -> &mut Writers;
    /// Drain the server's outputs: route transport outputs with [`Writers::route`] and act
    /// on the rest (requests, notifications).
    fn pump(&mut self, now: Instant);
    /// A connection was accepted (for metrics and logs; default: nothing).
    fn accepted(&mut self, conn: ConnId, peer: SocketAddr) {
        let _ = (conn, peer);
    }
}

/// The write queues of the connections being served, by connection.
#[derive(Default)]
pub struct Writers {
    queues: HashMap<ConnId, Arc<Outbox<Out>>>,
    /// Chunks one connection may have queued (at least 1).
    cap: usize,
}

impl std::fmt::Debug for Writers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writers")
            .field("connections", &self.queues.len())
            .field("cap", &self.cap)
            .finish()
    }
}

impl Writers {
    /// No connections yet; each connection's queue holds at most `cap` chunks (with an
    /// output budget in the server this is a last resort: a connection whose queue is full
    /// is closed).
    pub fn new(cap: usize) -> Self {
        Writers {
            queues: HashMap::new(),
            cap: cap.max(1),
        }
    }

    /// Connections being served.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// No connection is being served.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Route one server output: bytes, STARTTLS and close of a served connection go to its
    /// task (`None`); everything else (requests, notifications, outputs of connections not
    /// served here) is returned.
    pub fn route(&mut self, server: &mut Server, output: Output, now: Instant) -> Option<Output> {
        match output {
            Output::Transmit { conn, data } => self.send(server, conn, Out::Data(data), now),
            Output::StartTls { conn } => self.send(server, conn, Out::StartTls, now),
            Output::Close { conn } => match self.queues.remove(&conn) {
                Some(q) => {
                    // If the queue is full the task ends at the close anyway.
                    let _ = q.push(Out::Close);
                    q.close();
                    None
                }
                None => Some(Output::Close { conn }),
            },
            other => Some(other),
        }
    }

    fn send(
        &mut self,
        server: &mut Server,
        conn: ConnId,
        out: Out,
        now: Instant,
    ) -> Option<Output> {
        let Some(q) = self.queues.get(&conn) else {
            return Some(match out {
                Out::Data(data) => Output::Transmit { conn, data },
                Out::StartTls => Output::StartTls { conn },
                Out::Close => Output::Close { conn },
            });
        };
        if !q.push(out) {
            eprintln!("pimap-tokio: conn {}: write queue full; closing", conn.0);
            if let Some(q) = self.queues.remove(&conn) {
                q.close();
            }
            server.handle_close(conn, now);
        }
        None
    }

    fn open(&mut self, conn: ConnId) -> Arc<Outbox<Out>> {
        let q = Arc::new(Outbox::new(self.cap));
        self.queues.insert(conn, q.clone());
        q
    }
}

/// Resolves once `stop` is true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // (The guard `wait_for` returns must not live across an await: it is not Send.)
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Accept connections on `listener` and serve each with `serve` until `stop` turns true;
/// then wait up to `grace` for the connection tasks to end and abort the rest.
pub(crate) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    tasks.spawn(serve(tcp, peer));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("pimap-tokio: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stopped(&mut stop) => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    // Connections end after writing what is queued; one whose peer never reads would block
    // its write forever, so after the grace period the rest are aborted.
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// Serve IMAP connections of `host` accepted on `listener` until `stop` turns true (every
/// connection then writes what is queued for it and closes, within
/// [`ServeOptions::shutdown_grace`]). Returns when every connection task has ended.
///
/// A [`Service`](crate::Service) calls this for its IMAP listener; an application that
/// owns its [`Server`] (and handles its requests itself) calls it with its own [`Host`].
pub async fn serve_imap<H: Host>(
    listener: TcpListener,
    host: Arc<Mutex<H>>,
    options: ServeOptions,
    stop: watch::Receiver<bool>,
) {
    let grace = options.shutdown_grace;
    let stops = stop.clone();
    accept_loop(listener, stop, grace, move |tcp, peer| {
        connection(tcp, peer, host.clone(), options.clone(), stops.clone())
    })
    .await;
}

async fn write_flush(transport: &mut Transport, data: &[u8]) -> io::Result<()> {
    transport.write_all(data).await?;
    transport.flush().await
}

/// One connection: transport input to the server, the queue's output to the transport.
async fn connection<H: Host>(
    tcp: TcpStream,
    peer: SocketAddr,
    host: Arc<Mutex<H>>,
    options: ServeOptions,
    mut stop: watch::Receiver<bool>,
) {
    // Answer at once: a client that writes a command and its CRLF in two segments must not
    // wait for Nagle against its delayed ACK.
    let _ = tcp.set_nodelay(true);
    let mut transport = Transport::Plain(tcp);
    if options.implicit_tls {
        let Some(tls) = options.tls.clone() else {
            return;
        };
        // Boxed: the handshake's state would otherwise be part of every idle connection's task.
        match tokio::time::timeout(
            options.handshake_timeout,
            Box::pin(transport.accept_tls(tls)),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return eprintln!("pimap-tokio: TLS handshake with {peer}: {e}"),
            Err(_) => return eprintln!("pimap-tokio: TLS handshake with {peer} timed out"),
        }
    }
    let (conn, rx) = {
        let mut guard = host.lock().await;
        let h = &mut *guard;
        let now = Instant::now();
        let addr = (options.limit_loopback || !peer.ip().is_loopback()).then_some(peer.ip());
        let accepted = match (transport.is_tls(), addr) {
            (true, addr) => h.server().accept_secure(now, addr),
            (false, Some(a)) => h.server().accept_from(now, a),
            (false, None) => h.server().accept(now),
        };
        match accepted {
            Ok(conn) => {
                let rx = h.writers().open(conn);
                h.accepted(conn, peer);
                h.pump(now);
                if options.log_connections {
                    eprintln!("conn {}: accepted from {peer}", conn.0);
                }
                (conn, rx)
            }
            Err(e) => {
                drop(guard);
                eprintln!("pimap-tokio: refusing {peer}: {e}");
                let _ = transport.write_all(b"* BYE too many connections\r\n").await;
                return;
            }
        }
    };

    let mut buf: Vec<u8> = Vec::new();
    let why = loop {
        tokio::select! {
            // What the server queued goes first: after STARTTLS's OK the handshake must
            // start before the client's ClientHello is read as IMAP input (with a random
            // choice between the two ready branches it was, in about half of the runs).
            biased;
            out = rx.pop() => match out {
                Some(Out::Data(data)) => {
                    // (TLS holds written records until flushed.)
                    if let Err(e) = write_flush(&mut transport, &data).await {
                        break format!("write failed: {e}");
                    }
                    let mut h = host.lock().await;
                    let now = Instant::now();
                    h.server().transmitted(conn, data.len(), now);
                    h.pump(now);
                }
                Some(Out::StartTls) => {
                    let Some(tls) = options.tls.clone() else {
                        break "STARTTLS without a TLS configuration".to_string();
                    };
                    let hs = tokio::time::timeout(options.handshake_timeout, Box::pin(transport.accept_tls(tls))).await;
                    match hs {
                        Ok(Ok(())) => {
                            let mut h = host.lock().await;
                            let _ = h.server().secured(conn);
                            h.pump(Instant::now());
                        }
                        Ok(Err(e)) => break format!("STARTTLS handshake failed: {e}"),
                        Err(_) => break "STARTTLS handshake timed out".to_string(),
                    }
                }
                Some(Out::Close) => break "closed by server".to_string(),
                None => break "dropped by server".to_string(),
            },
            r = transport.read_some(&mut buf, options.read_chunk) => {
                let n = match r {
                    Ok(0) => break "closed by peer".to_string(),
                    Ok(n) => n,
                    Err(e) => break format!("read failed: {e}"),
                };
                transport.quick_ack();
                let mut h = host.lock().await;
                let now = Instant::now();
                let fed = h.server().handle_input(conn, &buf[..n], now);
                buf = Vec::new();
                match fed {
                    Ok(()) => h.pump(now),
                    Err(e) => break format!("server: {e}"),
                }
            }
            _ = stopped(&mut stop) => break "shutdown".to_string(),
        }
    };
    // Write what the server queued before closing (e.g. BYE and the tagged LOGOUT OK).
    rx.close();
    while let Some(Out::Data(data)) = rx.try_pop() {
        if write_flush(&mut transport, &data).await.is_err() {
            break;
        }
    }
    let _ = transport.shutdown().await;
    {
        let mut h = host.lock().await;
        let now = Instant::now();
        // The server may have closed it already; then this is a no-op.
        if h.writers().queues.remove(&conn).is_some() {
            h.server().handle_close(conn, now);
            h.pump(now);
        }
    }
    if options.log_connections {
        eprintln!("conn {}: {why}", conn.0);
    }
}
