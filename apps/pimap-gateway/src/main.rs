//! A P-IMAP gateway: the sans-IO [`Server`] in front of a real IMAP server, reached with this
//! crate's own sans-IO [`Client`] (the dispatcher of the seed flows).
//!
//! ```text
//! cargo run -p pimap-gateway -- --listen-port 0 --backend 127.0.0.1:143 \
//!     [--smtp 127.0.0.1:25] [--notify log|udp:127.0.0.1:PORT] [--max-seconds N] \
//!     [--tls-cert PEM --tls-key PEM [--implicit-tls]]
//! ```
//!
//! * Listens on 127.0.0.1 only and prints `listening on 127.0.0.1:<port>`.
//! * `--tls-cert` / `--tls-key` (PEM): devices get STARTTLS and LOGIN is refused before it
//!   (`LOGINDISABLED`); with `--implicit-tls` every device connection is TLS from the first
//!   byte (port 993 style).
//! * SIGTERM / SIGINT (and `--max-seconds`): no new connections, every device connection
//!   gets `* BYE [UNAVAILABLE]` and is closed once written (at most 5 s), then exit 0.
//! * `--metrics-port PORT`: Prometheus text metrics at `http://127.0.0.1:PORT/metrics`
//!   (connections, sessions, active users, backend logins and failures, watch reconnects,
//!   RESYNC reports, notifications, submissions; see metrics.rs).
//! * `--backend-tls implicit|starttls --backend-ca PEM [--backend-tls-name NAME]`: backend
//!   connections over TLS, verified against those roots; no plaintext fallback.
//! * LOGIN / AUTHENTICATE: a backend LOGIN with the same user and password decides.
//! * Per user: one *command* backend connection (the user's store requests run on it one at a
//!   time, UID based) and one *watch* connection in IDLE on INBOX whose EXISTS / EXPUNGE /
//!   FETCH FLAGS become [`MailboxChange`]s for every device session of the user. The other
//!   folders are polled on the watch connection (`--poll-folders-secs`, see folder_poll.rs).
//! * User names are folded to lower case (`--keep-user-case` keeps them); idle command
//!   connections are logged out (`--backend-idle-secs`); a user's watcher and worker stop when
//!   the user has no session left.
//! * Store operations: SELECT/EXAMINE, FETCH, SEARCH, STORE, EXPUNGE, COPY/MOVE, APPEND, LIST,
//!   LSUB, STATUS, CREATE, DELETE, RENAME, (UN)SUBSCRIBE.
//! * XDELIVER: SMTP to `--smtp` (EHLO, MAIL, RCPT per recipient, DATA, QUIT); SAVETO is then
//!   appended by the server through the store.
//! * Out-of-band notifications: logged to stderr, or sent as UDP datagrams (payload only).
//! * A dropped backend connection is re-established with bounded backoff; when the watch
//!   connection had to be re-established, a fresh snapshot of INBOX is compared with what the
//!   server was told and the difference reported as exact changes (the other folders the same
//!   way at the next poll). Only when that cannot be done (UIDVALIDITY changed, or no complete
//!   earlier snapshot) does INBOX report `UidValidity`, so that every device owes `* RESYNC`.
//!
//! Changes are deduplicated against a per-(user, mailbox) cache of what the server was told,
//! because a change made on the command connection is seen again on the watch connection.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex};

use pimap::server::{Server, ServerConfig};
use pimap_tokio::{ServeOptions, Writers};

mod backend;
mod config;
mod folder_poll;
mod metrics;
mod shared;
mod smtp;
mod store_op;
mod watcher;
mod worker;

use config::{parse_args, unix_now, NotifyCfg};
use shared::{Shared, State};

/// Chunks queued for one device connection before it counts as stuck and is dropped.
pub(crate) const WRITE_QUEUE: usize = 1024;
/// Longest wait for one backend / SMTP reply.
pub(crate) const BACKEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Reconnect backoff: first delay and ceiling.
pub(crate) const BACKOFF_MIN: Duration = Duration::from_millis(200);
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a shutdown waits for device connections to take their BYE.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Longest TLS handshake of a device connection (implicit TLS or STARTTLS).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------------------------------
// device connections

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let cfg = Arc::new(parse_args());
    let listener = TcpListener::bind(("127.0.0.1", cfg.listen_port)).await?;
    // Bound before the listening line is printed, so it is up when that line is read.
    let metrics = match cfg.metrics_port {
        Some(port) => {
            let l = TcpListener::bind(("127.0.0.1", port)).await?;
            eprintln!("metrics on http://{}/metrics", l.local_addr()?);
            Some(l)
        }
        None => None,
    };
    let mut config = ServerConfig::default();
    // Backpressure: connection tasks report what they wrote (`transmitted`).
    config.output_budget = Some(1 << 20);
    // MOVE (in the default capabilities) is passed through: natively, or as COPY + STORE
    // + UID EXPUNGE where the backend lacks it (see store_op).
    // TLS toward devices: STARTTLS (LOGIN refused before it), or implicit TLS.
    let tls = match &cfg.tls {
        Some((cert, key)) => {
            let tls = pimap_tokio::tls::server_config(&std::fs::read(cert)?, &std::fs::read(key)?)
                .map_err(std::io::Error::other)?;
            if !cfg.implicit_tls {
                config.starttls = true;
                config.login_requires_tls = true;
            }
            Some(tls)
        }
        None => None,
    };
    let mut server = Server::new(config);
    server.set_unix_time(unix_now());
    let udp = match cfg.notify {
        NotifyCfg::Udp(to) => Some((std::net::UdpSocket::bind(("127.0.0.1", 0))?, to)),
        NotifyCfg::Log => None,
    };
    let state: State = Arc::new_cyclic(|me| {
        Mutex::new(Shared {
            server,
            writers: Writers::new(WRITE_QUEUE),
            me: me.clone(),
            workers: HashMap::new(),
            cache: HashMap::new(),
            watch_events: HashMap::new(),
            udp,
            cfg: cfg.clone(),
        })
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        out.flush()?;
    }
    eprintln!(
        "backend {} smtp {:?} notify {:?}",
        cfg.backend, cfg.smtp, cfg.notify
    );
    tokio::spawn(timers(state.clone()));
    if let Some(metrics) = metrics {
        tokio::spawn(metrics::serve(metrics, state.clone(), Instant::now()));
    }
    // The device connections are pimap-tokio's connection loop over this state.
    let mut options = ServeOptions::default();
    options.implicit_tls = cfg.implicit_tls && tls.is_some();
    options.tls = tls;
    options.handshake_timeout = HANDSHAKE_TIMEOUT;
    options.shutdown_grace = SHUTDOWN_GRACE;
    options.write_queue = WRITE_QUEUE;
    options.log_connections = true;
    let (stop, stopped) = watch::channel(false);
    let serving = tokio::spawn(pimap_tokio::serve_imap(
        listener,
        state.clone(),
        options,
        stopped,
    ));
    let deadline = async {
        match cfg.max_seconds {
            Some(n) => tokio::time::sleep(Duration::from_secs(n)).await,
            None => std::future::pending().await,
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = deadline => eprintln!("--max-seconds reached; shutting down"),
        _ = term.recv() => eprintln!("SIGTERM; shutting down"),
        _ = tokio::signal::ctrl_c() => eprintln!("SIGINT; shutting down"),
    }
    shutdown(&state).await;
    let _ = stop.send(true);
    let _ = serving.await;
    Ok(())
}

/// Stop serving: every device connection gets `* BYE [UNAVAILABLE]` and a close; the
/// connection loop then writes what is queued and ends (at most [`SHUTDOWN_GRACE`] for peers
/// that do not read), and the listener is dropped.
async fn shutdown(state: &State) {
    let mut st = state.lock().await;
    let now = Instant::now();
    st.server.shutdown_connections(now);
    st.pump(state, now);
}

async fn timers(state: State) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut st = state.lock().await;
        st.server.set_unix_time(unix_now());
        if st.server.poll_timeout().is_some_and(|t| t <= now) {
            st.server.handle_timeout(now);
            st.pump(&state, now);
        }
    }
}
