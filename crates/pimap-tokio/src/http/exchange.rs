//! One HTTP request: routing, the non-persistent exchange and the persistent stream.

use std::convert::Infallible;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT_ENCODING, ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, COOKIE,
    SET_COOKIE, TRANSFER_ENCODING, VARY,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::watch;

use pimap_http::{
    accepts_gzip, content_type_ok, encode_body, HttpResponse, PostResult, PERSISTENT_HEADER,
};
use pimap_server::blocking::{Notifier, Store, Submitter};

use super::body::{read_body, BodyRefused, StreamBody};
use super::HttpContext;

type ResBody = BoxBody<Bytes, Infallible>;

fn plain(status: StatusCode, body: &'static str) -> Response<ResBody> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn header(req: &Request<Incoming>, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// An [`HttpResponse`] as a hyper response, gzipped when the client accepts it.
fn build(response: HttpResponse, gzip: bool) -> Response<ResBody> {
    let (body, coding) = encode_body(&response.body, gzip);
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    // hyper cannot send 100 as a final status (draft -12 only).
    *r.status_mut() = StatusCode::from_u16(response.status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(StatusCode::OK);
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(c) = coding {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(c));
    }
    if let Some(c) = response
        .set_cookie
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        h.insert(SET_COOKIE, c);
    }
    r
}

impl<S, U, N> HttpContext<S, U, N>
where
    S: Store + Send + 'static,
    U: Submitter + Send + 'static,
    N: Notifier + Send + 'static,
{
    /// Route one request.
    pub(super) async fn handle(
        self,
        req: Request<Incoming>,
        stop: watch::Receiver<bool>,
    ) -> Response<ResBody> {
        if req.method() != Method::POST {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "POST only\r\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return r;
        }
        if header(&req, CONTENT_TYPE).is_some_and(|ct| !content_type_ok(ct)) {
            return plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/vnd.pimap or application/vnd.lemonade\r\n",
            );
        }
        let chunked = req
            .headers()
            .get_all(TRANSFER_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("chunked"));
        let persistent = header(&req, PERSISTENT_HEADER).is_some_and(|v| v.trim() == "1");
        if chunked && persistent {
            self.persistent_stream(req, stop).await
        } else {
            self.one_exchange(req).await
        }
    }

    /// Non-persistent mode: one POST, one response.
    async fn one_exchange(self, req: Request<Incoming>) -> Response<ResBody> {
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
        let max = {
            let st = self.state.lock().await;
            match &st.http {
                Some(h) if h.sessions.is_authenticated(cookie.as_deref()) => {
                    h.sessions.config().max_body
                }
                _ => self.options.anonymous_max_body,
            }
        };
        let body = match read_body(req.into_body(), max, &self.budget).await {
            Ok(b) => b,
            Err(BodyRefused::Busy) => {
                eprintln!("pimap-tokio: http: request body budget spent");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "server busy\r\n");
            }
            Err(BodyRefused::TooLarge) => {
                return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\r\n")
            }
            Err(BodyRefused::Broken) => {
                return plain(StatusCode::BAD_REQUEST, "request body broken\r\n")
            }
        };
        let (exchange, rx) = {
            let mut st = self.state.lock().await;
            let st = &mut *st;
            let Some(http) = st.http.as_mut() else {
                return plain(StatusCode::SERVICE_UNAVAILABLE, "not serving HTTP\r\n");
            };
            let now = Instant::now();
            match http
                .sessions
                .post(&mut st.server, cookie.as_deref(), &body, now)
            {
                PostResult::Accepted { exchange, .. } => {
                    let rx = http.wait(exchange);
                    st.pump(now);
                    (exchange, rx)
                }
                PostResult::Rejected { error, response } => {
                    if self.log {
                        eprintln!("pimap-tokio: http POST refused: {error}");
                    }
                    return build(response, gzip);
                }
            }
        };
        match tokio::time::timeout(self.options.post_timeout, rx).await {
            Ok(Ok(response)) => build(response, gzip),
            _ => {
                if let Some(h) = self.state.lock().await.http.as_mut() {
                    h.forget(exchange);
                }
                plain(
                    StatusCode::GATEWAY_TIMEOUT,
                    "no response from the server\r\n",
                )
            }
        }
    }

    /// Persistent mode: feed the request body as it arrives, stream the server's output back.
    async fn persistent_stream(
        self,
        req: Request<Incoming>,
        mut stop: watch::Receiver<bool>,
    ) -> Response<ResBody> {
        let (stream, rx) = {
            let mut st = self.state.lock().await;
            let st = &mut *st;
            let Some(http) = st.http.as_mut() else {
                return plain(StatusCode::SERVICE_UNAVAILABLE, "not serving HTTP\r\n");
            };
            let now = Instant::now();
            match http.sessions.open_stream(&mut st.server, now) {
                Ok(s) => {
                    let rx = http.stream_queue(s);
                    st.pump(now);
                    (s, rx)
                }
                Err(e) => {
                    eprintln!("pimap-tokio: http persistent stream refused: {e}");
                    return plain(StatusCode::SERVICE_UNAVAILABLE, "too many sessions\r\n");
                }
            }
        };
        if self.log {
            eprintln!("http stream {}: opened", stream.0);
        }
        let mut body = req.into_body();
        let state = self.state.clone();
        let log = self.log;
        tokio::spawn(async move {
            let why = loop {
                let frame = tokio::select! {
                    f = body.frame() => f,
                    _ = crate::host::stopped(&mut stop) => break "shutdown".to_string(),
                };
                match frame {
                    Some(Ok(frame)) => {
                        let Ok(data) = frame.into_data() else {
                            continue; // trailers
                        };
                        let mut st = state.lock().await;
                        let st = &mut *st;
                        let Some(http) = st.http.as_mut() else {
                            break "not serving HTTP".to_string();
                        };
                        let now = Instant::now();
                        if let Err(e) =
                            http.sessions
                                .stream_input(&mut st.server, stream, &data, now)
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
            if let Some(http) = st.http.as_mut() {
                http.end_stream(&mut st.server, stream, now);
            }
            st.pump(now);
            if log {
                eprintln!("http stream {}: {why}", stream.0);
            }
        });
        let mut r = Response::new(StreamBody { rx }.boxed());
        let h = r.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        r
    }
}
