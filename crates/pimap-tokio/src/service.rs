//! Serving a [`Server`] over TCP (and TLS) with tokio.
//!
//! The sans-IO server sits behind one async mutex. A task per connection reads its
//! transport and feeds the server; the server's outputs are drained while the lock is held:
//! bytes go to the writer of the connection they name (a bounded channel), requests (store
//! operations, submissions) run **off the state machine**, on tokio's blocking pool against
//! the store behind its own lock. Their replies, with the changes the store recorded, come
//! back through one ordered channel (sent while the store lock is held, so changes reach
//! the server in the order the store made them) and are applied by a single task: changes
//! first, then the completion, as [`Server::mailbox_changed`] requires.
//!
//! Backpressure: each connection task reports what it wrote ([`Server::transmitted`]);
//! with [`ServerConfig::output_budget`](pimap_server::ServerConfig) set, a peer that stops
//! reading stops its own commands and pushes, not the process.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Mutex};
use tokio_rustls::rustls;

use pimap_server::blocking::{Notifier, Store, Submitter};
use pimap_server::{MailboxChange, Output, Reply, Request, RequestId, Server};
use pimap_types::Mailbox;

use crate::host::{Host, Writers};

/// How a [`Service`] runs its connections.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// The TLS configuration for STARTTLS (when the server's
    /// [`ServerConfig::starttls`](pimap_server::ServerConfig) is on) and for implicit TLS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Every accepted connection starts with a TLS handshake (port 993 style); needs `tls`.
    pub implicit_tls: bool,
    /// How long a TLS handshake may take (default 30 s).
    pub handshake_timeout: Duration,
    /// Chunks queued for one connection's writer (default 4096). With an output budget this
    /// is a last resort: a connection whose queue is full is closed.
    pub write_queue: usize,
    /// Read size per socket read (default 16 KiB).
    pub read_chunk: usize,
    /// Apply the server's per-address connection limit to loopback peers too (default
    /// false: a loopback peer is usually a local proxy or a test).
    pub limit_loopback: bool,
    /// How often the clocks are refreshed and due timers checked (default 1 s; timers fire
    /// at most this late).
    pub tick: Duration,
    /// Log each connection's accept and end to stderr (`conn N: ...`; default false).
    pub log_connections: bool,
    /// After [`Handle::shutdown`], how long connections may take to write what is queued
    /// for them before they are dropped (default 10 s; a peer that never reads would
    /// otherwise hold shutdown forever).
    pub shutdown_grace: Duration,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("tls", &self.tls.is_some())
            .field("implicit_tls", &self.implicit_tls)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("write_queue", &self.write_queue)
            .field("read_chunk", &self.read_chunk)
            .field("limit_loopback", &self.limit_loopback)
            .field("tick", &self.tick)
            .field("log_connections", &self.log_connections)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish()
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            tls: None,
            implicit_tls: false,
            handshake_timeout: Duration::from_secs(30),
            write_queue: 4096,
            read_chunk: 16 * 1024,
            limit_loopback: false,
            tick: Duration::from_secs(1),
            log_connections: false,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why a [`Service`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// STARTTLS is offered (or implicit TLS asked for) but no TLS configuration was given.
    #[error("STARTTLS or implicit TLS needs ServeOptions::tls")]
    NoTlsConfig,
}

/// A store or submission reply, with the store changes to feed before it.
struct Done {
    id: Option<RequestId>,
    reply: Reply,
    changes: Vec<(Bytes, Mailbox, MailboxChange)>,
}

struct Parts<S, U, N> {
    store: Arc<std::sync::Mutex<S>>,
    submitter: Arc<std::sync::Mutex<U>>,
    notifier: Arc<std::sync::Mutex<N>>,
    done: mpsc::UnboundedSender<Done>,
}

impl<S, U, N> Clone for Parts<S, U, N> {
    fn clone(&self) -> Self {
        Parts {
            store: self.store.clone(),
            submitter: self.submitter.clone(),
            notifier: self.notifier.clone(),
            done: self.done.clone(),
        }
    }
}

/// Everything behind the lock: the server and the writers of the open connections.
pub(crate) struct Shared<S, U, N> {
    pub(crate) server: Server,
    writers: Writers,
    parts: Parts<S, U, N>,
    /// The HTTP binding's sessions and waiting handlers, when an HTTP listener is served.
    #[cfg(feature = "http")]
    pub(crate) http: Option<crate::http::HttpLayer>,
}

pub(crate) type State<S, U, N> = Arc<Mutex<Shared<S, U, N>>>;

impl<S, U, N> Shared<S, U, N>
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    /// Drain the server's outputs: bytes to writers (or to the HTTP layer for its
    /// connections), requests and notifications to the blocking pool.
    pub(crate) fn pump(&mut self, now: Instant) {
        loop {
            self.drain_outputs(now);
            #[cfg(feature = "http")]
            if let Some(http) = self.http.as_mut() {
                // Closing a stuck stream makes more output; each round closes at least one
                // stream, so this ends.
                if http.dispatch(&mut self.server, now) {
                    continue;
                }
            }
            return;
        }
    }

    fn drain_outputs(&mut self, now: Instant) {
        while let Some(o) = self.server.poll_output() {
            #[cfg(feature = "http")]
            let o = match self.http.as_mut() {
                Some(http) => match http.sessions.handle_output(o) {
                    Some(o) => o,
                    None => continue,
                },
                None => o,
            };
            let Some(o) = self.writers.route(&mut self.server, o, now) else {
                continue;
            };
            match o {
                Output::Notify(n) => {
                    let notifier = self.parts.notifier.clone();
                    tokio::task::spawn_blocking(move || {
                        if let Ok(mut nt) = notifier.lock() {
                            nt.notify(&n);
                        }
                    });
                }
                Output::Request { id, request, .. } => {
                    let parts = self.parts.clone();
                    tokio::task::spawn_blocking(move || perform(&parts, id, &request));
                }
                _ => {}
            }
        }
    }
}

impl<S, U, N> Host for Shared<S, U, N>
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    fn writers(&mut self) -> &mut Writers {
        &mut self.writers
    }

    fn pump(&mut self, now: Instant) {
        Shared::pump(self, now);
    }
}

/// Run one request on the blocking pool. The reply and the changes are sent while the store
/// lock is held, so they reach the server in the store's order.
fn perform<S: Store, U: Submitter, N>(parts: &Parts<S, U, N>, id: RequestId, request: &Request) {
    if let Request::Submit(s) = request {
        let reply = match parts.submitter.lock() {
            Ok(mut u) => match u.submit(s) {
                Ok(()) => Reply::Submitted,
                Err(e) => e.reply(),
            },
            Err(_) => Reply::no("submission path unavailable"),
        };
        let _ = parts.done.send(Done {
            id: Some(id),
            reply,
            changes: Vec::new(),
        });
        return;
    }
    let Ok(mut st) = parts.store.lock() else {
        let _ = parts.done.send(Done {
            id: Some(id),
            reply: Reply::no("store unavailable"),
            changes: Vec::new(),
        });
        return;
    };
    let reply = st.handle(request);
    let changes = st.take_changes();
    let _ = parts.done.send(Done {
        id: Some(id),
        reply,
        changes,
    });
}

/// A [`Server`] with its store, submission path and notifier, ready to serve listeners.
pub struct Service<S, U, N> {
    state: State<S, U, N>,
    parts: Parts<S, U, N>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    options: ServeOptions,
    shutdown: watch::Sender<bool>,
}

impl<S, U, N> std::fmt::Debug for Service<S, U, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A handle on a running [`Service`]: store work from outside (deliveries), shutdown.
pub struct Handle<S, U, N> {
    state: State<S, U, N>,
    parts: Parts<S, U, N>,
    shutdown: watch::Sender<bool>,
}

impl<S, U, N> Clone for Handle<S, U, N> {
    fn clone(&self) -> Self {
        Handle {
            state: self.state.clone(),
            parts: self.parts.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<S, U, N> std::fmt::Debug for Handle<S, U, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle").finish_non_exhaustive()
    }
}

impl<S, U, N> Handle<S, U, N>
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    /// Run `f` against the store on the blocking pool (a delivery, an administrative
    /// change); the changes it records reach the server in order, pushed to devices as
    /// any other change.
    pub async fn with_store<R, F>(&self, f: F) -> io::Result<R>
    where
        F: FnOnce(&mut S) -> R + Send + 'static,
        R: Send + 'static,
    {
        let parts = self.parts.clone();
        tokio::task::spawn_blocking(move || {
            let mut st = parts
                .store
                .lock()
                .map_err(|_| io::Error::other("store lock poisoned"))?;
            let r = f(&mut st);
            let changes = st.take_changes();
            let _ = parts.done.send(Done {
                id: None,
                reply: Reply::Ok,
                changes,
            });
            Ok(r)
        })
        .await
        .map_err(io::Error::other)?
    }

    /// Run `f` against the server under its lock (statistics, configuration of profiles).
    pub async fn with_server<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R {
        let mut st = self.state.lock().await;
        let r = f(&mut st.server);
        st.pump(Instant::now());
        r
    }

    /// Stop accepting, and close every connection after what is queued for it (the device
    /// sessions stay in the server for resumption).
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl<S, U, N> Service<S, U, N>
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    /// A service over `server`. Fails if the server offers STARTTLS (or `options` ask for
    /// implicit TLS) without a TLS configuration. `XDELIVER` is withdrawn when the submitter
    /// is not [available](Submitter::is_available).
    pub fn new(
        mut server: Server,
        store: S,
        submitter: U,
        notifier: N,
        options: ServeOptions,
    ) -> Result<Self, ServeError> {
        if (server.config().starttls || options.implicit_tls) && options.tls.is_none() {
            return Err(ServeError::NoTlsConfig);
        }
        if !submitter.is_available() {
            server.withdraw_capability("XDELIVER");
        }
        let (done, done_rx) = mpsc::unbounded_channel();
        let parts = Parts {
            store: Arc::new(std::sync::Mutex::new(store)),
            submitter: Arc::new(std::sync::Mutex::new(submitter)),
            notifier: Arc::new(std::sync::Mutex::new(notifier)),
            done,
        };
        let state = Arc::new(Mutex::new(Shared {
            server,
            writers: Writers::new(options.write_queue),
            parts: parts.clone(),
            #[cfg(feature = "http")]
            http: None,
        }));
        let (shutdown, _) = watch::channel(false);
        Ok(Service {
            state,
            parts,
            done_rx,
            options,
            shutdown,
        })
    }

    /// A handle for store work from outside and shutdown.
    pub fn handle(&self) -> Handle<S, U, N> {
        Handle {
            state: self.state.clone(),
            parts: self.parts.clone(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// Accept IMAP connections on `listener` until [`Handle::shutdown`]; returns when
    /// every connection task has ended.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        self.serve_listeners(Listeners::new().imap(listener)).await
    }

    /// Serve every listener of `listeners` (IMAP and, with feature `http`, the HTTP
    /// binding) from this one server until [`Handle::shutdown`]; returns when every
    /// connection task has ended.
    pub async fn serve_listeners(self, listeners: Listeners) -> io::Result<()> {
        let Service {
            state,
            parts: _,
            done_rx,
            options,
            shutdown,
        } = self;
        let completer = tokio::spawn(completer(state.clone(), done_rx));
        let timers = tokio::spawn(timers(state.clone(), options.tick));
        let imap = async {
            if let Some(l) = listeners.imap {
                crate::host::serve_imap(l, state.clone(), options.clone(), shutdown.subscribe())
                    .await;
            }
        };
        #[cfg(feature = "http")]
        let http = async {
            if let Some((l, http_options)) = listeners.http {
                crate::http::serve_http(
                    l,
                    state.clone(),
                    http_options,
                    &options,
                    shutdown.subscribe(),
                )
                .await;
            }
        };
        #[cfg(not(feature = "http"))]
        let http = async {};
        tokio::join!(imap, http);
        completer.abort();
        timers.abort();
        Ok(())
    }
}

/// The listeners one [`Service`] serves: IMAP (plain, STARTTLS or implicit TLS as the
/// [`ServeOptions`] say) and, with feature `http`, the P-IMAP HTTP binding.
#[derive(Debug, Default)]
#[must_use]
pub struct Listeners {
    imap: Option<TcpListener>,
    #[cfg(feature = "http")]
    http: Option<(TcpListener, crate::http::HttpOptions)>,
}

impl Listeners {
    /// No listeners yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serve IMAP on `listener`.
    pub fn imap(mut self, listener: TcpListener) -> Self {
        self.imap = Some(listener);
        self
    }

    /// Serve the HTTP binding (HTTP/1.1, HTTPS when `options` carry a TLS configuration)
    /// on `listener`; see [`crate::http`].
    #[cfg(feature = "http")]
    pub fn http(mut self, listener: TcpListener, options: crate::http::HttpOptions) -> Self {
        self.http = Some((listener, options));
        self
    }
}

/// Apply replies in order: the changes first, then the completion.
async fn completer<S, U, N>(state: State<S, U, N>, mut rx: mpsc::UnboundedReceiver<Done>)
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    while let Some(d) = rx.recv().await {
        let mut st = state.lock().await;
        let now = Instant::now();
        for (user, mailbox, change) in d.changes {
            st.server.mailbox_changed(&user, &mailbox, change, now);
        }
        if let Some(id) = d.id {
            // The id came from this server and is completed once.
            if let Err(e @ pimap_server::ServerError::UnexpectedReply { .. }) =
                st.server.complete(id, d.reply, now)
            {
                // A store bug: the client got NO [SERVERBUG].
                eprintln!("pimap-tokio: {e}");
            }
        }
        st.pump(now);
    }
}

/// Keep the server's clock current and run its timers when they are due.
async fn timers<S, U, N>(state: State<S, U, N>, tick: Duration)
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    let mut interval = tokio::time::interval(tick);
    loop {
        interval.tick().await;
        let now = Instant::now();
        let mut st = state.lock().await;
        let st = &mut *st;
        st.server.set_unix_time(unix_now());
        let mut due = false;
        if st.server.poll_timeout().is_some_and(|t| t <= now) {
            st.server.handle_timeout(now);
            due = true;
        }
        #[cfg(feature = "http")]
        if let Some(http) = st.http.as_mut() {
            if http.sessions.poll_timeout().is_some_and(|t| t <= now) {
                http.sessions.handle_timeout(&mut st.server, now);
                due = true;
            }
        }
        if due {
            st.pump(now);
        }
    }
}
