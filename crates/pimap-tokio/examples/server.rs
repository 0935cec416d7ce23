//! A demo P-IMAP / IMAP4rev1 server: [`pimap_tokio::Service`] over the in-memory store.
//!
//! ```text
//! cargo run -p pimap-tokio --example server -- --port 1143 [--inject-port 1144]
//!     [--user alice:alicepw ...] [--max-seconds N] [--per-user N]
//!     [--tls-cert PEM --tls-key PEM [--implicit-tls]]
//! ```
//!
//! * Listens on 127.0.0.1 only. Port 0 picks a free port; the bound addresses are printed to
//!   stdout as `listening on 127.0.0.1:<port>` and `inject on 127.0.0.1:<port>`.
//! * Users: `alice:alicepw` and `bob:bobpw` unless `--user` is given (repeatable). Each has
//!   an INBOX with two sample messages (one multipart) and an empty `Sent` folder.
//! * The inject port (optional) delivers new mail, line based:
//!   `INJECT <user> <mailbox> <octet-count>\r\n` then that many octets of RFC 5322 message;
//!   the answer is `OK <uid>\r\n` or `NO <reason>\r\n`. IDLE sessions see `* n EXISTS`.
//! * XDELIVER submissions and out-of-band notifications are only logged to stderr.
//! * `--max-seconds N` exits after N seconds (bounded runs in tests and CI).
//! * `--tls-cert` / `--tls-key` (PEM): STARTTLS is offered and LOGIN refused before it
//!   (`LOGINDISABLED`); with `--implicit-tls` every connection is TLS from the first byte.
//!
//! Everything else (connection tasks, store work off the state machine, ordered changes,
//! backpressure, TCP_NODELAY / TCP_QUICKACK) is the runtime crate's `Service`.

use std::io::Write as _;
use std::time::Duration;

use pimap_server::{SearchClock, Server, ServerConfig};
use pimap_store_memory::MemoryStore;
use pimap_tokio::{Handle, ServeOptions, Service};
use tokio::net::TcpListener;

#[path = "shared/demo_setup.rs"]
mod demo_setup;
use demo_setup::*;

/// Unsent output per connection before the server stops executing its commands.
const OUTPUT_BUDGET: usize = 1 << 20;

type DemoHandle = Handle<MemoryStore, LogSubmitter, LogNotifier>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = parse_args("server", 1143);
    let imap = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let inject = match args.inject_port {
        Some(p) => Some(TcpListener::bind(("127.0.0.1", p)).await?),
        None => None,
    };

    let mut config = ServerConfig::default();
    config.output_budget = Some(OUTPUT_BUDGET);
    if let Some(n) = args.per_user {
        config.max_connections_per_user = n;
        config.max_device_sessions_per_user = n;
    }
    let tls = tls_config(&args)?;
    config.starttls = tls.is_some() && !args.implicit_tls;
    config.login_requires_tls = tls.is_some();
    let mut server = Server::new(config);
    server.set_unix_time(unix_now());
    let mut options = ServeOptions::default();
    options.log_connections = true;
    options.implicit_tls = args.implicit_tls && tls.is_some();
    options.tls = tls;
    let service = Service::new(
        server,
        demo_store(&args.users),
        LogSubmitter,
        LogNotifier,
        options,
    )
    .map_err(std::io::Error::other)?;
    let handle = service.handle();

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", imap.local_addr()?)?;
        if let Some(l) = &inject {
            writeln!(out, "inject on {}", l.local_addr()?)?;
        }
        out.flush()?;
    }
    let names: Vec<&str> = args.users.iter().map(|(u, _)| u.as_str()).collect();
    eprintln!("users: {}", names.join(", "));

    // SEARCH's notion of "today" follows the wall clock.
    let clock = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = SearchClock::from_unix(unix_now());
            let _ = clock.with_store(move |s| s.set_clock(now)).await;
        }
    });
    if let Some(l) = inject {
        tokio::spawn(inject_listener(l, StoreInjector(handle.clone())));
    }
    let serve = service.serve(imap);
    match args.max_seconds {
        Some(n) => match tokio::time::timeout(Duration::from_secs(n), serve).await {
            Ok(r) => r?,
            Err(_) => eprintln!("--max-seconds {n} reached; exiting"),
        },
        None => serve.await?,
    }
    Ok(())
}

/// The inject port adds to the in-memory store through the service, so the change is pushed
/// like any other.
#[derive(Clone)]
struct StoreInjector(DemoHandle);

impl Injector for StoreInjector {
    async fn inject(&self, user: &str, mailbox: &str, message: &[u8]) -> Option<u32> {
        let (user, mailbox, message) = (user.to_string(), mailbox.to_string(), message.to_vec());
        self.0
            .with_store(move |s| s.inject(&user, &mailbox, &message, Vec::new(), None))
            .await
            .ok()
            .flatten()
    }
}
