//! The HTTP binding served by the runtime's `Service` (feature `http`), over raw HTTP/1.1
//! on loopback: routing (405, 415), body limits (413 before login, 503 when the listener's
//! budget of body octets in flight is spent, and the budget given back when a stalled
//! request goes away), a cookie session that sees store changes, one server behind both
//! listeners (a STORE over HTTP is pushed to an IMAP session in IDLE), and shutdown ending
//! a persistent stream.
#![cfg(feature = "http")]

use std::net::SocketAddr;
use std::time::Duration;

use pimap_server::blocking::{CollectingNotifier, NoSubmission};
use pimap_server::{Server, ServerConfig};
use pimap_store_memory::MemoryStore;
use pimap_tokio::http::HttpOptions;
use pimap_tokio::{Handle, Listeners, ServeOptions, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type Svc = Handle<MemoryStore, NoSubmission, CollectingNotifier>;

/// Every wait of this file is bounded by it.
const WAIT: Duration = Duration::from_secs(10);

struct Running {
    imap: SocketAddr,
    http: SocketAddr,
    handle: Svc,
    served: JoinHandle<std::io::Result<()>>,
}

async fn start(http: HttpOptions) -> Running {
    let mut store = MemoryStore::new();
    store.add_user("alice", "alicepw");
    store.inject(
        "alice",
        "INBOX",
        b"Subject: one\r\n\r\nfirst\r\n",
        Vec::new(),
        None,
    );
    let _ = store.take_changes();
    let mut options = ServeOptions::default();
    options.shutdown_grace = Duration::from_secs(2);
    let service = Service::new(
        Server::new(ServerConfig::default()),
        store,
        NoSubmission,
        CollectingNotifier::default(),
        options,
    )
    .expect("options");
    let handle = service.handle();
    let imap = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (imap_addr, http_addr) = (imap.local_addr().unwrap(), http_l.local_addr().unwrap());
    let served =
        tokio::spawn(service.serve_listeners(Listeners::new().imap(imap).http(http_l, http)));
    Running {
        imap: imap_addr,
        http: http_addr,
        handle,
        served,
    }
}

/// A parsed response: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Read one response with a `Content-Length` body from `s`.
async fn read_reply(s: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk))
            .await
            .expect("response head in time")
            .expect("read");
        assert!(n > 0, "connection closed before the response head: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .expect("content-length");
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk))
            .await
            .expect("body in time")
            .expect("read");
        assert!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Reply {
        status,
        headers,
        body,
    }
}

/// One request on a new connection.
async fn request(addr: SocketAddr, method: &str, extra: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} /pimap HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    read_reply(&mut s).await
}

/// A POST of IMAP commands with the session cookie, if any.
async fn post(addr: SocketAddr, cookie: Option<&str>, body: &str) -> Reply {
    let extra = match cookie {
        Some(c) => format!("Content-Type: application/vnd.pimap\r\nCookie: {c}\r\n"),
        None => "Content-Type: application/vnd.pimap\r\n".to_string(),
    };
    request(addr, "POST", &extra, body.as_bytes()).await
}

/// `JSESSIONID=...` from a response's Set-Cookie.
fn cookie_of(r: &Reply) -> String {
    r.header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("Set-Cookie on the first response")
        .to_string()
}

#[tokio::test]
async fn routing_and_body_limits() {
    let mut http = HttpOptions::default();
    http.anonymous_max_body = 1024;
    http.body_budget = 3500;
    let run = start(http).await;

    let r = request(run.http, "GET", "", b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = request(
        run.http,
        "POST",
        "Content-Type: text/html\r\n",
        b"a NOOP\r\n",
    )
    .await;
    assert_eq!(r.status, 415);

    // Over the anonymous limit: 413.
    let big = format!("a NOOP\r\n{}", "b NOOP\r\n".repeat(200));
    let r = post(run.http, None, &big).await;
    assert_eq!(r.status, 413, "{}", r.text());

    // Three stalled uploads hold 3,000 octets of the 3,500-octet budget: another request
    // of 999 octets gets 503; once the stalled ones go away the budget is back.
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut h = TcpStream::connect(run.http).await.unwrap();
        h.write_all(
            b"POST /pimap HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.pimap\r\n\
              Content-Length: 1024\r\n\r\n",
        )
        .await
        .unwrap();
        h.write_all(&[b'x'; 1000]).await.unwrap();
        holders.push(h);
    }
    // Let the server read what the holders sent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let filler = format!("a NOOP\r\n{}", " ".repeat(990));
    let r = post(run.http, None, &filler).await;
    assert_eq!(r.status, 503, "{}", r.text());
    drop(holders);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = post(run.http, None, "a NOOP\r\n").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("a OK"), "{}", r.text());

    run.handle.shutdown();
    let done = tokio::time::timeout(WAIT, run.served).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "service ended: {done:?}");
}

/// Read from an IMAP connection until `needle` has been seen.
async fn imap_until(s: &mut TcpStream, seen: &mut Vec<u8>, needle: &str) {
    while !String::from_utf8_lossy(seen).contains(needle) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {needle:?} in time; got {:?}",
                    String::from_utf8_lossy(seen)
                )
            })
            .expect("read");
        assert!(n > 0, "IMAP connection closed waiting for {needle:?}");
        seen.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn one_server_behind_http_and_imap() {
    let run = start(HttpOptions::default()).await;

    // A cookie session over HTTP.
    let r = post(run.http, None, "a LOGIN alice alicepw\r\n").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("a OK"), "{}", r.text());
    let cookie = cookie_of(&r);
    let r = post(run.http, Some(&cookie), "b SELECT INBOX\r\n").await;
    assert!(r.text().contains("* 1 EXISTS"), "{}", r.text());

    // A store change made through the handle is queued for the session.
    run.handle
        .with_store(|s| {
            s.inject(
                "alice",
                "INBOX",
                b"Subject: two\r\n\r\nsecond\r\n",
                Vec::new(),
                None,
            )
        })
        .await
        .unwrap()
        .expect("delivered");
    let r = post(run.http, Some(&cookie), "c NOOP\r\n").await;
    assert!(r.text().contains("* 2 EXISTS"), "{}", r.text());

    // The same user over IMAP, in IDLE, sees the HTTP session's STORE.
    let mut imap = TcpStream::connect(run.imap).await.unwrap();
    let mut seen = Vec::new();
    imap.write_all(b"i1 LOGIN alice alicepw\r\ni2 SELECT INBOX\r\ni3 IDLE\r\n")
        .await
        .unwrap();
    imap_until(&mut imap, &mut seen, "+ idling").await;
    let r = post(run.http, Some(&cookie), "d STORE 1 +FLAGS (\\Flagged)\r\n").await;
    assert!(r.text().contains("d OK"), "{}", r.text());
    let idle_from = seen.len();
    imap_until(&mut imap, &mut seen, "\\Flagged)").await;
    let pushed = String::from_utf8_lossy(&seen[idle_from..]).into_owned();
    assert!(pushed.starts_with("* 1 FETCH ("), "{pushed}");

    run.handle.shutdown();
    let done = tokio::time::timeout(WAIT, run.served).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "service ended: {done:?}");
}

#[tokio::test]
async fn shutdown_ends_a_persistent_stream() {
    let run = start(HttpOptions::default()).await;
    let mut s = TcpStream::connect(run.http).await.unwrap();
    s.write_all(
        b"POST /pimap HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.pimap\r\n\
          Transfer-Encoding: chunked\r\nX-PIMAP-Persistent: 1\r\n\r\n\
          17\r\na LOGIN alice alicepw\r\n\r\n",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    imap_until(&mut s, &mut seen, "a OK").await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{text}"
    );

    run.handle.shutdown();
    // The response ends: the last chunk, then the connection closes.
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream stayed open after shutdown");
    assert!(
        seen.ends_with(b"0\r\n\r\n"),
        "no last chunk: {:?}",
        String::from_utf8_lossy(&seen)
    );
    let done = tokio::time::timeout(WAIT, run.served).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "service ended: {done:?}");
}
