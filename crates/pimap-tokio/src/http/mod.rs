//! The P-IMAP HTTP binding (drafts -08 section 8.1) served with hyper (feature `http`).
//!
//! [`Listeners::http`](crate::Listeners::http) adds an HTTP/1.1 listener (HTTPS when
//! [`HttpOptions::tls`] is set, as the drafts require of the binding) to a
//! [`Service`](crate::Service); its sessions are connections of the same
//! [`Server`](pimap_server::Server) as the IMAP listener's, so a device can log in over
//! either and resume over the other. The protocol work is `pimap_http::HttpSessions`; this
//! module is the glue: requests, bodies, responses, timeouts and limits.
//!
//! Routes: `POST` on any path (`/pimap` is the drafts' example; the path is not
//! normative). Other methods get 405 with `Allow: POST`. A `Content-Type` other than
//! `application/vnd.pimap` / `application/vnd.lemonade` gets 415 (a missing one is
//! accepted).
//!
//! * **Non-persistent mode** (in-response connectivity): the body's commands go to
//!   `HttpSessions::post`; the response (`text/plain`, the configured draft's statuses)
//!   holds every response to them plus queued events, with `Set-Cookie: JSESSIONID=…` on
//!   the first one of a session. It is gzipped when `Accept-Encoding` allows it.
//! * **Persistent mode** (in-band connectivity): a POST with `Transfer-Encoding: chunked`
//!   *and* `X-PIMAP-Persistent: 1` (the drafts' only other marker, `Connection:
//!   keep-alive`, is sent by every HTTP/1.1 client, so an explicit header is required).
//!   Request body frames are fed to the server as they arrive (IMAP lines may span
//!   chunks); the response is a chunked body that stays open for pushes, one chunk per
//!   IMAP response (literals included). It ends when the request body ends, the server
//!   closes (LOGOUT) or the service shuts down.
//!
//! Limits (each in [`HttpOptions`] or `HttpConfig`): request bodies of sessions not logged
//! in ([`HttpOptions::anonymous_max_body`], 64 KiB) and of logged-in ones
//! (`HttpConfig::max_body`, 16 MiB) get 413 beyond them; body octets being received across
//! all requests ([`HttpOptions::body_budget`], 64 MiB) get 503 beyond it, so unfinished
//! bodies cannot pin unbounded memory; a POST waits [`HttpOptions::post_timeout`] for its
//! responses (then 504); a persistent stream whose client does not read more than
//! [`HttpOptions::stream_queue`] responses is closed; a TLS handshake has
//! `ServeOptions::handshake_timeout`; request headers must arrive within
//! [`HttpOptions::header_timeout`]. Sessions, anonymous sessions and idle expiry are
//! `HttpConfig`'s.

mod body;
mod exchange;
mod layer;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::rustls;

use pimap_server::blocking::{Notifier, Store, Submitter};

pub use pimap_http::HttpConfig;

pub(crate) use layer::HttpLayer;

use crate::service::State;
use crate::transport::Transport;
use crate::ServeOptions;

/// How the HTTP binding is served. Build with [`HttpOptions::default`] and set fields.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Sessions, drafts, cookie path, expiry and the logged-in body limit.
    pub config: HttpConfig,
    /// Serve HTTPS with this configuration (default none: plain HTTP).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest request body of a request without a logged-in session (default 64 KiB: a
    /// LOGIN and a few commands).
    pub anonymous_max_body: usize,
    /// Request body octets being received across all requests at once (default 64 MiB);
    /// a request that would pass it gets 503.
    pub body_budget: usize,
    /// How long a non-persistent POST waits for the server's responses (default 30 s).
    pub post_timeout: Duration,
    /// Responses queued for one persistent stream before it counts as stuck and is closed
    /// (default 1024).
    pub stream_queue: usize,
    /// How long a client may take to send a request's headers (default 30 s).
    pub header_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            config: HttpConfig::default(),
            tls: None,
            anonymous_max_body: 64 << 10,
            body_budget: 64 << 20,
            post_timeout: Duration::from_secs(30),
            stream_queue: 1024,
            header_timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("config", &self.config)
            .field("tls", &self.tls.is_some())
            .field("anonymous_max_body", &self.anonymous_max_body)
            .field("body_budget", &self.body_budget)
            .field("post_timeout", &self.post_timeout)
            .field("stream_queue", &self.stream_queue)
            .field("header_timeout", &self.header_timeout)
            .finish()
    }
}

/// Serve the HTTP binding of the service whose state is `state` on `listener` until `stop`
/// turns true (persistent streams end, requests in progress finish, within
/// `ServeOptions::shutdown_grace`).
pub(crate) async fn serve_http<S, U, N>(
    listener: tokio::net::TcpListener,
    state: State<S, U, N>,
    options: HttpOptions,
    serve: &ServeOptions,
    stop: watch::Receiver<bool>,
) where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    state.lock().await.http = Some(HttpLayer::new(options.config.clone(), options.stream_queue));
    let ctx = HttpContext {
        state,
        budget: Arc::new(body::BodyBudget::new(options.body_budget)),
        options: Arc::new(options),
        handshake_timeout: serve.handshake_timeout,
        log: serve.log_connections,
    };
    let stops = stop.clone();
    crate::host::accept_loop(listener, stop, serve.shutdown_grace, move |tcp, peer| {
        ctx.clone().connection(tcp, peer, stops.clone())
    })
    .await;
}

/// What every HTTP connection task shares.
pub(crate) struct HttpContext<S, U, N> {
    state: State<S, U, N>,
    options: Arc<HttpOptions>,
    budget: Arc<body::BodyBudget>,
    handshake_timeout: Duration,
    log: bool,
}

impl<S, U, N> Clone for HttpContext<S, U, N> {
    fn clone(&self) -> Self {
        HttpContext {
            state: self.state.clone(),
            options: self.options.clone(),
            budget: self.budget.clone(),
            handshake_timeout: self.handshake_timeout,
            log: self.log,
        }
    }
}

impl<S, U, N> HttpContext<S, U, N>
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    /// Serve one HTTP connection until it ends or the service shuts down (then hyper
    /// finishes the request in progress and closes).
    pub(crate) async fn connection(
        self,
        tcp: TcpStream,
        peer: std::net::SocketAddr,
        mut stop: watch::Receiver<bool>,
    ) {
        let _ = tcp.set_nodelay(true);
        let mut transport = Transport::Plain(tcp);
        if let Some(tls) = self.options.tls.clone() {
            match tokio::time::timeout(self.handshake_timeout, Box::pin(transport.accept_tls(tls)))
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return eprintln!("pimap-tokio: https {peer}: handshake: {e}"),
                Err(_) => return eprintln!("pimap-tokio: https {peer}: handshake timed out"),
            }
        }
        let log = self.log;
        let stop_rx = stop.clone();
        let ctx = self.clone();
        let service = hyper::service::service_fn(move |req| {
            let ctx = ctx.clone();
            let stop = stop_rx.clone();
            async move { Ok::<_, std::convert::Infallible>(ctx.handle(req, stop).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.options.header_timeout);
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(transport), service);
        tokio::pin!(conn);
        let r = tokio::select! {
            r = conn.as_mut() => r,
            _ = crate::host::stopped(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = r {
            if log {
                eprintln!("pimap-tokio: http {peer}: {e}");
            }
        }
    }
}
