//! `apps/pimap-gateway` stops cleanly on SIGTERM: connected devices get
//! `* BYE [UNAVAILABLE]`, new connections are refused, and the process exits 0 within the
//! grace period. (No backend is needed: nobody logs in.)

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
