//! Shared by the example servers (`server.rs`, `http_server.rs`): demo users and messages,
//! command-line arguments, logging submitter and notifier, and the inject port protocol
//! (`INJECT <user> <mailbox> <octets>\r\n<message>` answered `OK <uid>` / `NO <reason>`).
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pimap::server::blocking::{Notifier, Submitter};
use pimap::server::memory::MemoryStore;
use pimap::server::SubmitError;
use pimap::server::{Notification, SearchClock, Submission};
use pimap::types::Flag;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Largest message the inject port accepts.
pub const MAX_INJECT: usize = 32 * 1024 * 1024;
/// Longest INJECT command line.
pub const MAX_INJECT_LINE: usize = 1024;

/// Sample message 1 (plain text). The interop tests look for its subject.
pub const SAMPLE_1: &str = "From: Demo Server <postmaster@example.org>\r\n\
To: {user}@example.org\r\n\
Subject: Welcome to the pimap demo server\r\n\
Date: Mon, 01 Jan 2024 09:00:00 +0000\r\n\
Message-ID: <welcome-{user}@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
Hello {user},\r\n\
\r\n\
this message lives in the in-memory store of the pimap example server.\r\n";

/// Sample message 2 (multipart/mixed with an attachment).
pub const SAMPLE_2: &str = "From: Bob Example <bob@example.org>\r\n\
To: {user}@example.org\r\n\
Subject: Quarterly report (with attachment)\r\n\
Date: Tue, 02 Jan 2024 10:30:00 +0100\r\n\
Message-ID: <report-{user}@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_pimap_demo_boundary\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
\r\n\
--=_pimap_demo_boundary\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 7bit\r\n\
\r\n\
Please find the report attached.\r\n\
\r\n\
--=_pimap_demo_boundary\r\n\
Content-Type: application/octet-stream; name=\"report.bin\"\r\n\
Content-Disposition: attachment; filename=\"report.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
cGltYXAgZGVtbyBhdHRhY2htZW50Cg==\r\n\
\r\n\
--=_pimap_demo_boundary--\r\n";

/// Logs XDELIVER submissions and accepts them without sending anything (a demo).
pub struct LogSubmitter;

impl Submitter for LogSubmitter {
    fn submit(&mut self, s: &Submission) -> Result<(), SubmitError> {
        eprintln!(
            "submit: user {} kind {:?} save_to {:?}: {} octets (demo: not sent)",
            String::from_utf8_lossy(&s.user),
            s.kind,
            s.save_to,
            s.message.len()
        );
        Ok(())
    }
}

/// Logs out-of-band notifications.
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&mut self, n: &Notification) {
        eprintln!(
            "notify: user {} device {} channel {:?} address {:?}: {} octets",
            String::from_utf8_lossy(&n.user),
            String::from_utf8_lossy(&n.device),
            n.channel,
            String::from_utf8_lossy(&n.address),
            n.payload.len()
        );
    }
}

/// Command-line arguments of the example servers.
pub struct Args {
    pub port: u16,
    pub inject_port: Option<u16>,
    pub users: Vec<(String, String)>,
    pub max_seconds: Option<u64>,
    /// `--per-user N`: connections and device sessions per account (load tests with one
    /// account and thousands of devices; the library's defaults otherwise).
    pub per_user: Option<usize>,
    /// `--tls-cert PEM --tls-key PEM`: the certificate chain and key for TLS.
    pub tls: Option<(String, String)>,
    /// `--implicit-tls`: TLS from the first byte instead of STARTTLS (server example).
    pub implicit_tls: bool,
}

fn print_usage(program: &str) -> ! {
    eprintln!(
        "usage: {program} --port PORT [--inject-port PORT] [--user NAME:PASSWORD ...] \
         [--max-seconds N] [--per-user N] [--tls-cert PEM --tls-key PEM [--implicit-tls]]"
    );
    std::process::exit(2)
}

/// Parse `--port`, `--inject-port`, `--user NAME:PASSWORD` (repeatable; default alice and
/// bob), `--max-seconds` and `--per-user`.
pub fn parse_args(program: &str, default_port: u16) -> Args {
    let mut args = Args {
        port: default_port,
        inject_port: None,
        users: Vec::new(),
        max_seconds: None,
        per_user: None,
        tls: None,
        implicit_tls: false,
    };
    let (mut cert, mut key) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| print_usage(program));
        match a.as_str() {
            "--port" => args.port = value().parse().unwrap_or_else(|_| print_usage(program)),
            "--inject-port" => {
                args.inject_port = Some(value().parse().unwrap_or_else(|_| print_usage(program)))
            }
            "--max-seconds" => {
                args.max_seconds = Some(value().parse().unwrap_or_else(|_| print_usage(program)))
            }
            "--per-user" => {
                args.per_user = Some(value().parse().unwrap_or_else(|_| print_usage(program)))
            }
            "--user" => {
                let v = value();
                let Some((u, p)) = v.split_once(':') else {
                    print_usage(program)
                };
                if u.is_empty() {
                    print_usage(program)
                }
                args.users.push((u.to_string(), p.to_string()));
            }
            "--tls-cert" => cert = Some(value()),
            "--tls-key" => key = Some(value()),
            "--implicit-tls" => args.implicit_tls = true,
            "-h" | "--help" => print_usage(program),
            _ => {
                eprintln!("unknown argument {a:?}");
                print_usage(program)
            }
        }
    }
    match (cert, key) {
        (Some(c), Some(k)) => args.tls = Some((c, k)),
        (None, None) => {}
        _ => print_usage(program),
    }
    if args.users.is_empty() {
        args.users = vec![
            ("alice".into(), "alicepw".into()),
            ("bob".into(), "bobpw".into()),
        ];
    }
    args
}

/// The rustls server configuration of `--tls-cert` / `--tls-key`, if given.
pub fn tls_config(
    args: &Args,
) -> std::io::Result<Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>> {
    let Some((cert, key)) = &args.tls else {
        return Ok(None);
    };
    let config = pimap_tokio::tls::server_config(&std::fs::read(cert)?, &std::fs::read(key)?)
        .map_err(std::io::Error::other)?;
    Ok(Some(config))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The in-memory store with the demo users, each with INBOX (two sample messages) and Sent.
pub fn demo_store(users: &[(String, String)]) -> MemoryStore {
    let mut store = MemoryStore::new();
    store.set_clock(SearchClock::from_unix(unix_now()));
    for (user, password) in users {
        store.add_user(user, password);
        // INBOX may exist already; either way it is there afterwards.
        store.create_mailbox(user, "INBOX");
        store.create_mailbox(user, "Sent");
        for (sample, flags) in [(SAMPLE_1, vec![Flag::Seen]), (SAMPLE_2, Vec::new())] {
            let msg = sample.replace("{user}", user);
            if store
                .inject(user, "INBOX", msg.as_bytes(), flags, None)
                .is_none()
            {
                eprintln!("warning: could not add a sample message for {user}");
            }
        }
    }
    // Nobody is connected yet: the changes of the setup concern no session.
    let _ = store.take_changes();
    store
}

/// The demo service: the in-memory store, logged submissions and notifications.
pub type DemoService = pimap_tokio::Service<MemoryStore, LogSubmitter, LogNotifier>;
/// Its handle: deliveries and the clock go through it.
pub type DemoHandle = pimap_tokio::Handle<MemoryStore, LogSubmitter, LogNotifier>;

/// Bind the main port and the inject port (if asked for) on 127.0.0.1 and print their
/// addresses (`listening on ...`, `inject on ...`) for the tests that start the examples.
pub async fn bind(args: &Args) -> std::io::Result<(TcpListener, Option<TcpListener>)> {
    use std::io::Write as _;
    let main = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let inject = match args.inject_port {
        Some(p) => Some(TcpListener::bind(("127.0.0.1", p)).await?),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", main.local_addr()?)?;
    if let Some(l) = &inject {
        writeln!(out, "inject on {}", l.local_addr()?)?;
    }
    out.flush()?;
    Ok((main, inject))
}

/// A service over the demo store with the users of `args`, connections logged.
pub fn demo_service(
    args: &Args,
    config: pimap::server::ServerConfig,
    mut options: pimap_tokio::ServeOptions,
) -> std::io::Result<DemoService> {
    let mut server = pimap::server::Server::new(config);
    server.set_unix_time(unix_now());
    options.log_connections = true;
    let names: Vec<&str> = args.users.iter().map(|(u, _)| u.as_str()).collect();
    eprintln!("users: {}", names.join(", "));
    let store = demo_store(&args.users);
    pimap_tokio::Service::new(server, store, LogSubmitter, LogNotifier, options)
        .map_err(std::io::Error::other)
}

/// Serve `listeners` (and the inject port) until `--max-seconds`, if given.
pub async fn run(
    args: &Args,
    service: DemoService,
    inject: Option<TcpListener>,
    listeners: pimap_tokio::Listeners,
) -> std::io::Result<()> {
    let handle = service.handle();
    follow_wall_clock(handle.clone());
    if let Some(l) = inject {
        tokio::spawn(inject_listener(l, handle));
    }
    let serve = service.serve_listeners(listeners);
    match args.max_seconds {
        Some(n) => match tokio::time::timeout(Duration::from_secs(n), serve).await {
            Ok(r) => r,
            Err(_) => {
                eprintln!("--max-seconds {n} reached; exiting");
                Ok(())
            }
        },
        None => serve.await,
    }
}

/// Keep SEARCH's notion of "today" on the wall clock.
pub fn follow_wall_clock(handle: DemoHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = SearchClock::from_unix(unix_now());
            let _ = handle.with_store(move |s| s.set_clock(now)).await;
        }
    });
}

/// Add a message to the store through the service, so the change reaches the sessions
/// like any other; the UID, or `None` when the user or mailbox does not exist.
async fn inject(handle: &DemoHandle, user: &str, mailbox: &str, message: Vec<u8>) -> Option<u32> {
    let (user, mailbox) = (user.to_string(), mailbox.to_string());
    handle
        .with_store(move |s| s.inject(&user, &mailbox, &message, Vec::new(), None))
        .await
        .ok()
        .flatten()
}

/// Serve the inject port: one task per connection.
pub async fn inject_listener(listener: TcpListener, target: DemoHandle) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let target = target.clone();
                tokio::spawn(async move {
                    if let Err(e) = inject_connection(stream, target).await {
                        eprintln!("inject {peer}: {e}");
                    }
                });
            }
            Err(e) => {
                eprintln!("inject accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// `INJECT <user> <mailbox> <octets>\r\n<message>` -> `OK <uid>` / `NO <reason>`, repeatedly.
pub async fn inject_connection(stream: TcpStream, target: DemoHandle) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut rd)
            .take(MAX_INJECT_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            wr.write_all(b"NO line too long\r\n").await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let words: Vec<&str> = text.split_whitespace().collect();
        let (user, mailbox, size) = match words.as_slice() {
            [cmd, user, mailbox, size] if cmd.eq_ignore_ascii_case("INJECT") => {
                match size.parse::<usize>() {
                    Ok(s) if s <= MAX_INJECT => (user.to_string(), mailbox.to_string(), s),
                    _ => {
                        wr.write_all(b"NO bad octet count\r\n").await?;
                        return Ok(());
                    }
                }
            }
            _ => {
                wr.write_all(b"NO expected INJECT <user> <mailbox> <octet-count>\r\n")
                    .await?;
                return Ok(());
            }
        };
        let mut message = vec![0u8; size];
        rd.read_exact(&mut message).await?;

        let reply = inject(&target, &user, &mailbox, message).await;
        match reply {
            Some(uid) => {
                eprintln!("inject: {size} octets to {user}/{mailbox}, uid {uid}");
                wr.write_all(format!("OK {uid}\r\n").as_bytes()).await?;
            }
            None => {
                eprintln!("inject: {user}/{mailbox} refused");
                wr.write_all(b"NO no such user or mailbox\r\n").await?;
            }
        }
    }
}
