//! A demo P-IMAP server over HTTP (spec §8.1): the sans-IO [`Server`] and the sans-IO
//! HTTP binding [`HttpSessions`] behind hyper 1.x, with the in-memory store.
//!
//! ```text
//! cargo run --example http_server -- --port 8080 [--inject-port 8081]
//!                                     [--user alice:alicepw ...] [--max-seconds N]
//!                                     [--tls-cert PEM --tls-key PEM]
//! ```
//!
//! * With `--tls-cert` / `--tls-key` it serves HTTPS (rustls), as the drafts require of the
//!   HTTP binding.
//!
//! * Listens on 127.0.0.1 only. Port 0 picks a free port; the bound addresses are printed to
//!   stdout as `listening on 127.0.0.1:<port>` and `inject on 127.0.0.1:<port>`.
//! * Users `alice:alicepw` and `bob:bobpw` unless `--user` is given (repeatable); each has an
//!   INBOX with two sample messages and an empty `Sent` folder.
//! * The inject port delivers mail as in `examples/server.rs`:
//!   `INJECT <user> <mailbox> <octet-count>\r\n<octets>` → `OK <uid>\r\n` / `NO <reason>\r\n`.
//! * `--max-seconds N` exits after N seconds.
//!
//! Routes: `POST` on any path (`/pimap` is the drafts' example; the path is not normative).
//! Other methods get 405. A `Content-Type` other than `application/vnd.pimap` /
//! `application/vnd.lemonade` gets 415 (a missing one is accepted).
//!
//! * **Non-persistent mode** (in-response connectivity, spec §8.1.5): the body's commands go
//!   to [`HttpSessions::post`]; the response (`text/plain`, draft -08 statuses) holds every
//!   response to them plus queued events, with `Set-Cookie: JSESSIONID=…; path=/pimap` on
//!   the first one of a session. It is gzipped when `Accept-Encoding` allows it.
//! * **Persistent mode** (in-band connectivity, spec §8.1.6): a POST with
//!   `Transfer-Encoding: chunked` *and* `X-PIMAP-Persistent: 1` (the drafts' only other
//!   marker, `Connection: keep-alive`, is sent by every HTTP/1.1 client, so an explicit
//!   header is required). Request body frames are fed to the server as they arrive (hyper
//!   decodes the chunked coding; IMAP lines may span chunks), and the response is a chunked
//!   body that stays open for pushes: one chunk per IMAP response line (literals included in
//!   their line). The stream ends when the request body ends or the server closes (LOGOUT).
//!
//! Design: as in `examples/server.rs`, one [`Driver`] (answering the server's requests from
//! the store) behind a `tokio::sync::Mutex`, here together with the [`HttpSessions`]. After
//! every input the driver's actions go through [`HttpSessions::handle_action`] and the
//! resulting [`HttpEvent`]s are dispatched while the lock is held: a finished POST's
//! response to the oneshot its handler waits on, persistent output to the stream's channel.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_TYPE, COOKIE, TRANSFER_ENCODING};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Mutex};

use pimap::http::{
    accepts_gzip, content_type_ok, encode_body, ExchangeId, HttpConfig, HttpEvent, HttpResponse,
    HttpSessions, PostResult, PERSISTENT_HEADER,
};
use pimap::server::blocking::Driver;
use pimap::server::memory::MemoryStore;
use pimap::server::{ConnId, SearchClock, Server, ServerConfig};

#[path = "shared/demo_setup.rs"]
mod demo_setup;
use demo_setup::*;

/// Responses queued for one persistent stream before it counts as stuck and is closed.
const STREAM_QUEUE: usize = 1024;
/// Largest non-persistent request body of a logged-in cookie session.
const MAX_BODY: usize = 16 << 20;
/// Largest request body without a logged-in session (a LOGIN and a few commands).
const ANON_MAX_BODY: usize = 64 << 10;
/// Request body octets being received across all requests at once; beyond it a request is
/// refused with 503, so unfinished bodies cannot pin unbounded memory.
const GLOBAL_BODY_BUDGET: usize = 64 << 20;

/// Octets of request bodies in flight, across requests.
static BODY_BYTES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A share of [`GLOBAL_BODY_BUDGET`], given back when dropped.
struct BodyReservation(usize);

impl BodyReservation {
    /// Take `n` more octets, or `false` when the global budget is spent.
    fn grow(&mut self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        let prev = BODY_BYTES.fetch_add(n, Ordering::SeqCst);
        self.0 += n;
        prev + n <= GLOBAL_BODY_BUDGET
    }
}

impl Drop for BodyReservation {
    fn drop(&mut self) {
        BODY_BYTES.fetch_sub(self.0, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Read a request body up to `max` octets within the global budget.
async fn read_body(mut body: Incoming, max: usize) -> Result<Bytes, StatusCode> {
    let mut reservation = BodyReservation(0);
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            if !reservation.grow(data.len()) {
                return Err(StatusCode::SERVICE_UNAVAILABLE);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}
/// How long a POST waits for the server's responses.
const POST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything behind the lock.
struct Shared {
    driver: Driver<MemoryStore, LogSubmitter, LogNotifier>,
    http: HttpSessions,
    /// POST handlers waiting for their response.
    waiters: HashMap<ExchangeId, oneshot::Sender<HttpResponse>>,
    /// Output channels of persistent streams.
    streams: HashMap<ConnId, mpsc::Sender<Bytes>>,
}

impl Shared {
    /// Drive the server (the driver answers its requests), route its transport actions
    /// through the HTTP layer and dispatch the resulting events.
    fn pump(&mut self, now: Instant) {
        // Bounded: each round only repeats after closing a stuck stream.
        for _ in 0..16 {
            for action in self.driver.run(now) {
                if let Some(a) = self.http.handle_action(action) {
                    // Every connection of this server belongs to the HTTP layer.
                    eprintln!("unrouted action {a:?}");
                }
            }
            let mut stuck = Vec::new();
            while let Some(ev) = self.http.poll_event() {
                match ev {
                    HttpEvent::Response { exchange, response } => {
                        if let Some(tx) = self.waiters.remove(&exchange) {
                            // The handler may have timed out; then nobody listens.
                            let _ = tx.send(response);
                        }
                    }
                    HttpEvent::StreamData { stream, messages } => {
                        let Some(tx) = self.streams.get(&stream) else {
                            continue;
                        };
                        // One message = one IMAP response line = one chunk.
                        if messages.into_iter().any(|m| tx.try_send(m).is_err()) {
                            eprintln!("stream {}: output queue full or closed", stream.0);
                            self.streams.remove(&stream);
                            stuck.push(stream);
                        }
                    }
                    HttpEvent::StreamEnd { stream } => {
                        // Dropping the sender ends the chunked response after what is queued.
                        self.streams.remove(&stream);
                    }
                }
            }
            if stuck.is_empty() {
                return;
            }
            for s in stuck {
                self.http.close_stream(&mut self.driver.server, s, now);
            }
        }
    }
}

type State = Arc<Mutex<Shared>>;
type ResBody = BoxBody<Bytes, Infallible>;

/// A response body fed from a channel: each message is one data frame, which hyper sends as
/// one chunk of the chunked transfer coding.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|m| m.map(|data| Ok(Frame::data(data))))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = parse_args("http_server", 8080);
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let inject = match args.inject_port {
        Some(p) => Some(TcpListener::bind(("127.0.0.1", p)).await?),
        None => None,
    };

    let mut server = Server::new(ServerConfig::default());
    server.set_unix_time(unix_now());
    let driver = Driver::new(server, demo_store(&args.users), LogSubmitter, LogNotifier);
    let state: State = Arc::new(Mutex::new(Shared {
        driver,
        http: HttpSessions::new(HttpConfig::default()),
        waiters: HashMap::new(),
        streams: HashMap::new(),
    }));

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", listener.local_addr()?)?;
        if let Some(l) = &inject {
            writeln!(out, "inject on {}", l.local_addr()?)?;
        }
        out.flush()?;
    }

    tokio::spawn(timers(state.clone()));
    if let Some(l) = inject {
        tokio::spawn(inject_listener(l, StoreInjector(state.clone())));
    }
    let tls = tls_config(&args)?.map(tokio_rustls::TlsAcceptor::from);
    let serve = http_listener(listener, state, tls);
    match args.max_seconds {
        Some(n) => {
            if tokio::time::timeout(Duration::from_secs(n), serve)
                .await
                .is_err()
            {
                eprintln!("--max-seconds {n} reached; exiting");
            }
        }
        None => serve.await,
    }
    Ok(())
}

/// Keep the clocks current and run the server's and the HTTP layer's timers.
async fn timers(state: State) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let unix = unix_now();
        let mut st = state.lock().await;
        let st = &mut *st;
        st.driver.server.set_unix_time(unix);
        st.driver.store.set_clock(SearchClock::from_unix(unix));
        if st.driver.server.poll_timeout().is_some_and(|t| t <= now) {
            st.driver.server.handle_timeout(now);
        }
        if st.http.poll_timeout().is_some_and(|t| t <= now) {
            st.http.handle_timeout(&mut st.driver.server, now);
        }
        st.pump(now);
    }
}

/// Accept HTTP (or, with `--tls-cert`, HTTPS) connections and serve each with hyper.
async fn http_listener(
    listener: TcpListener,
    state: State,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let state = state.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    let r = match tls {
                        None => {
                            builder
                                .timer(TokioTimer::new())
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Some(acceptor) => {
                            let handshake = tokio::time::timeout(
                                Duration::from_secs(30),
                                acceptor.accept(stream),
                            );
                            match handshake.await {
                                Ok(Ok(tls)) => {
                                    builder
                                        .timer(TokioTimer::new())
                                        .serve_connection(TokioIo::new(tls), service)
                                        .await
                                }
                                Ok(Err(e)) => return eprintln!("https {peer}: handshake: {e}"),
                                Err(_) => return eprintln!("https {peer}: handshake timed out"),
                            }
                        }
                    };
                    if let Err(e) = r {
                        eprintln!("http {peer}: {e}");
                    }
                });
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn full(status: StatusCode, body: &'static str) -> Response<ResBody> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn header(req: &Request<Incoming>, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn handle(req: Request<Incoming>, state: State) -> Result<Response<ResBody>, Infallible> {
    if req.method() != Method::POST {
        let mut r = full(StatusCode::METHOD_NOT_ALLOWED, "POST only\r\n");
        r.headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(r);
    }
    if header(&req, CONTENT_TYPE).is_some_and(|ct| !content_type_ok(ct)) {
        return Ok(full(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/vnd.pimap or application/vnd.lemonade\r\n",
        ));
    }
    let chunked = req
        .headers()
        .get_all(TRANSFER_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("chunked"));
    let persistent = header(&req, PERSISTENT_HEADER).is_some_and(|v| v.trim() == "1");
    if chunked && persistent {
        Ok(persistent_stream(req, state).await)
    } else {
        Ok(one_exchange(req, state).await)
    }
}

/// Non-persistent mode: one POST, one response.
async fn one_exchange(req: Request<Incoming>, state: State) -> Response<ResBody> {
    let cookie = {
        let parts: Vec<&str> = req
            .headers()
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    let gzip = header(&req, ACCEPT_ENCODING).is_some_and(accepts_gzip);
    let max = if state.lock().await.http.is_authenticated(cookie.as_deref()) {
        MAX_BODY
    } else {
        ANON_MAX_BODY
    };
    let body = match read_body(req.into_body(), max).await {
        Ok(b) => b,
        Err(StatusCode::SERVICE_UNAVAILABLE) => {
            eprintln!("request body: global body budget spent");
            return full(StatusCode::SERVICE_UNAVAILABLE, "server busy\r\n");
        }
        Err(status) => {
            eprintln!("request body refused: {status}");
            return full(status, "request body refused\r\n");
        }
    };
    let (exchange, rx) = {
        let mut st = state.lock().await;
        let st = &mut *st;
        let now = Instant::now();
        match st
            .http
            .post(&mut st.driver.server, cookie.as_deref(), &body, now)
        {
            PostResult::Accepted { exchange, .. } => {
                let (tx, rx) = oneshot::channel();
                st.waiters.insert(exchange, tx);
                st.pump(now);
                (exchange, rx)
            }
            PostResult::Rejected { error, response } => {
                eprintln!("POST refused: {error}");
                return build(response, gzip);
            }
        }
    };
    match tokio::time::timeout(POST_TIMEOUT, rx).await {
        Ok(Ok(response)) => build(response, gzip),
        _ => {
            state.lock().await.waiters.remove(&exchange);
            full(
                StatusCode::GATEWAY_TIMEOUT,
                "no response from the server\r\n",
            )
        }
    }
}

/// An [`HttpResponse`] as a hyper response, gzipped when the client accepts it.
fn build(response: HttpResponse, gzip: bool) -> Response<ResBody> {
    let (body, coding) = encode_body(&response.body, gzip);
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    // hyper cannot send 100 as a final status (draft -12 only; this server uses -08).
    *r.status_mut() = StatusCode::from_u16(response.status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::OK);
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    h.insert(
        hyper::header::VARY,
        HeaderValue::from_static("Accept-Encoding"),
    );
    if let Some(c) = coding {
        h.insert(hyper::header::CONTENT_ENCODING, HeaderValue::from_static(c));
    }
    if let Some(c) = response
        .set_cookie
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        h.insert(hyper::header::SET_COOKIE, c);
    }
    r
}

/// Persistent mode: feed the request body as it arrives, stream the server's output back.
async fn persistent_stream(req: Request<Incoming>, state: State) -> Response<ResBody> {
    let (tx, rx) = mpsc::channel(STREAM_QUEUE);
    let stream = {
        let mut st = state.lock().await;
        let st = &mut *st;
        let now = Instant::now();
        match st.http.open_stream(&mut st.driver.server, now) {
            Ok(s) => {
                st.streams.insert(s, tx);
                st.pump(now);
                s
            }
            Err(e) => {
                eprintln!("persistent stream refused: {e}");
                return full(StatusCode::SERVICE_UNAVAILABLE, "too many sessions\r\n");
            }
        }
    };
    eprintln!("stream {}: opened", stream.0);
    let mut body = req.into_body();
    tokio::spawn(async move {
        let why = loop {
            match body.frame().await {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers
                    };
                    let mut st = state.lock().await;
                    let st = &mut *st;
                    let now = Instant::now();
                    if let Err(e) = st
                        .http
                        .stream_input(&mut st.driver.server, stream, &data, now)
                    {
                        break format!("{e}");
                    }
                    st.pump(now);
                }
                Some(Err(e)) => break format!("request body: {e}"),
                None => break "request body ended".to_string(),
            }
        };
        let mut st = state.lock().await;
        let st = &mut *st;
        let now = Instant::now();
        st.streams.remove(&stream);
        st.http.close_stream(&mut st.driver.server, stream, now);
        st.pump(now);
        eprintln!("stream {}: {why}", stream.0);
    });
    let mut r = Response::new(ChannelBody { rx }.boxed());
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("private"),
    );
    r
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
        // Feed the store's change to the server, then route what it produced.
        let actions = st.driver.sync_store(now);
        for a in actions {
            if let Some(a) = st.http.handle_action(a) {
                eprintln!("unrouted action {a:?}");
            }
        }
        st.pump(now);
        uid
    }
}
