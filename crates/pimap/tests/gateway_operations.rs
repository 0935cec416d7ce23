//! Operating `apps/pimap-gateway` (no backend needed: nobody logs in successfully):
//! it stops cleanly on SIGTERM (connected devices get `* BYE [UNAVAILABLE]`, new connections
//! are refused, exit 0 within the grace period), and `--metrics-port` serves Prometheus text
//! metrics that follow what happened.

#[path = "support/gateway_process.rs"]
mod gateway_process;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_says_bye_to_devices_and_exits_zero() {
    // A backend address nobody listens on (the gateway only connects at a login).
    let unused = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let backend_port = unused.local_addr().unwrap().port();
    drop(unused);
    let mut gw = gateway_process::start(backend_port, &["--max-seconds", "60"], Stdio::null());
    let mut devices = Vec::new();
    for _ in 0..3 {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, gw.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s);
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        r.get_mut().write_all(b"a1 NOOP\r\n").unwrap();
        let mut ok = String::new();
        r.read_line(&mut ok).unwrap();
        assert!(ok.starts_with("a1 OK"), "{ok}");
        devices.push(r);
    }
    let pid = gw.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    for r in &mut devices {
        let mut bye = String::new();
        r.read_line(&mut bye).unwrap();
        assert!(
            bye.starts_with("* BYE [UNAVAILABLE]"),
            "device got {bye:?} on shutdown"
        );
        let mut rest = String::new();
        assert_eq!(
            r.read_line(&mut rest).unwrap(),
            0,
            "closed after the BYE: {rest:?}"
        );
    }
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = gw.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no exit 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, gw.port)).is_err(),
        "no new connections after shutdown"
    );
}

fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// `GET path` on the metrics port: (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::Read;
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((&all, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

fn value(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing in\n{body}"))
}

#[test]
fn metrics_follow_connections_and_backend_failures() {
    let unused = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let backend_port = unused.local_addr().unwrap().port();
    drop(unused);
    let metrics = free_port();
    let port_arg = metrics.to_string();
    let gw = gateway_process::start(
        backend_port,
        &["--max-seconds", "60", "--metrics-port", &port_arg],
        Stdio::null(),
    );
    let (status, body) = http_get(metrics, "/metrics");
    assert_eq!(status, "HTTP/1.0 200 OK");
    assert_eq!(value(&body, "pimap_gateway_device_connections"), 0);
    assert!(
        body.contains("# TYPE pimap_gateway_backend_failures_total counter"),
        "{body}"
    );
    let mut devices = Vec::new();
    for _ in 0..2 {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, gw.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
        let mut r = BufReader::new(s);
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        devices.push(r);
    }
    // A login the backend cannot serve (nobody listens there).
    let d = &mut devices[0];
    d.get_mut().write_all(b"a1 LOGIN alice pw\r\n").unwrap();
    let mut answer = String::new();
    while !answer.starts_with("a1 ") {
        answer.clear();
        assert!(d.read_line(&mut answer).unwrap() > 0, "closed");
    }
    assert!(answer.starts_with("a1 NO"), "{answer}");
    let (_, body) = http_get(metrics, "/metrics");
    assert_eq!(
        value(&body, "pimap_gateway_device_connections"),
        2,
        "{body}"
    );
    assert_eq!(value(&body, "pimap_gateway_device_connections_total"), 2);
    assert!(
        value(&body, "pimap_gateway_backend_failures_total") >= 1,
        "{body}"
    );
    assert_eq!(value(&body, "pimap_gateway_backend_logins_total"), 0);
    drop(devices);
    let (status, _) = http_get(metrics, "/other");
    assert_eq!(status, "HTTP/1.0 404 Not Found");
}
