//! Operational metrics in the Prometheus text format, served on 127.0.0.1 (`--metrics-port`):
//! counters kept as process-wide atomics where things happen, gauges read from the server
//! state when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::shared::State;

/// A monotonically increasing count.
pub(crate) struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Device connections accepted.
pub(crate) static DEVICE_CONNECTIONS: Counter = Counter::new();
/// Backend logins that succeeded (command and watch connections).
pub(crate) static BACKEND_LOGINS: Counter = Counter::new();
/// Backend logins refused for the credentials.
pub(crate) static BACKEND_REFUSED: Counter = Counter::new();
/// Backend connections or logins that failed for another reason (retried).
pub(crate) static BACKEND_FAILED: Counter = Counter::new();
/// Watch connections re-established after they were lost.
pub(crate) static WATCH_RECONNECTS: Counter = Counter::new();
/// Mailboxes reported with a new UIDVALIDITY (every device of the user owes RESYNC).
pub(crate) static RESYNC_REPORTS: Counter = Counter::new();
/// Out-of-band notifications sent.
pub(crate) static NOTIFICATIONS: Counter = Counter::new();
/// XDELIVER submissions handed to SMTP, and those that failed.
pub(crate) static SUBMISSIONS: Counter = Counter::new();
pub(crate) static SUBMISSION_FAILURES: Counter = Counter::new();

/// Scrapes served at once; more wait.
const MAX_SCRAPES: usize = 8;
/// Longest a scrape may take to send its request and read the answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// The metrics page.
pub(crate) async fn render(state: &State, started: Instant) -> String {
    let (conns, sessions, users, buffered) = {
        let st = state.lock().await;
        (
            st.server.connection_count(),
            st.server.session_count(),
            st.workers.len(),
            st.server.buffered_input(),
        )
    };
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    let gauges = [
        (
            "pimap_gateway_device_connections",
            "Device connections open.",
            conns as u64,
        ),
        (
            "pimap_gateway_device_sessions",
            "Device and plain sessions kept (connected or detached).",
            sessions as u64,
        ),
        (
            "pimap_gateway_active_users",
            "Users with a command worker (and backend connections).",
            users as u64,
        ),
        (
            "pimap_gateway_buffered_input_bytes",
            "Device input buffered undecoded, all connections.",
            buffered as u64,
        ),
        (
            "pimap_gateway_uptime_seconds",
            "Seconds since start.",
            started.elapsed().as_secs(),
        ),
    ];
    for (name, help, v) in gauges {
        metric(name, "gauge", help, v);
    }
    let counters = [
        (
            "pimap_gateway_device_connections_total",
            "Device connections accepted.",
            &DEVICE_CONNECTIONS,
        ),
        (
            "pimap_gateway_backend_logins_total",
            "Backend logins that succeeded.",
            &BACKEND_LOGINS,
        ),
        (
            "pimap_gateway_backend_logins_refused_total",
            "Backend logins refused for the credentials.",
            &BACKEND_REFUSED,
        ),
        (
            "pimap_gateway_backend_failures_total",
            "Backend connections or logins that failed otherwise (retried).",
            &BACKEND_FAILED,
        ),
        (
            "pimap_gateway_watch_reconnects_total",
            "Watch connections re-established after a loss.",
            &WATCH_RECONNECTS,
        ),
        (
            "pimap_gateway_resync_reports_total",
            "Mailboxes reported with a new UIDVALIDITY (devices owe RESYNC).",
            &RESYNC_REPORTS,
        ),
        (
            "pimap_gateway_notifications_total",
            "Out-of-band notifications sent.",
            &NOTIFICATIONS,
        ),
        (
            "pimap_gateway_submissions_total",
            "XDELIVER submissions handed to SMTP.",
            &SUBMISSIONS,
        ),
        (
            "pimap_gateway_submission_failures_total",
            "XDELIVER submissions that failed.",
            &SUBMISSION_FAILURES,
        ),
    ];
    for (name, help, c) in counters {
        metric(name, "counter", help, c.get());
    }
    out
}

/// Serve `GET /metrics` (HTTP/1.0, one request per connection) on `listener`.
pub(crate) async fn serve(listener: TcpListener, state: State, started: Instant) {
    let slots = Arc::new(Semaphore::new(MAX_SCRAPES));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ =
                        tokio::time::timeout(SCRAPE_TIMEOUT, scrape(stream, &state, started)).await;
                    drop(permit);
                });
            }
            Err(e) => {
                eprintln!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn scrape(mut stream: TcpStream, state: &State, started: Instant) -> std::io::Result<()> {
    // The request line is all that matters; at most 4 KiB of the request is read.
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let line = buf[..len].split(|b| *b == b'\n').next().unwrap_or_default();
    let (status, body) =
        if line.starts_with(b"GET /metrics ") || line.starts_with(b"GET /metrics\r") {
            ("200 OK", render(state, started).await)
        } else {
            ("404 Not Found", "try GET /metrics\n".to_string())
        };
    let head = format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
