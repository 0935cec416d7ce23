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

use pimap_server::ServerConfig;
use pimap_tokio::{Listeners, ServeOptions};

#[path = "shared/demo_setup.rs"]
mod demo_setup;
use demo_setup::*;

/// Unsent output per connection before the server stops executing its commands.
const OUTPUT_BUDGET: usize = 1 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = parse_args("server", 1143);
    let (imap, inject) = bind(&args).await?;
    let mut config = ServerConfig::default();
    config.output_budget = Some(OUTPUT_BUDGET);
    if let Some(n) = args.per_user {
        config.max_connections_per_user = n;
        config.max_device_sessions_per_user = n;
    }
    let tls = tls_config(&args)?;
    config.starttls = tls.is_some() && !args.implicit_tls;
    config.login_requires_tls = tls.is_some();
    let mut options = ServeOptions::default();
    options.implicit_tls = args.implicit_tls && tls.is_some();
    options.tls = tls;
    let service = demo_service(&args, config, options)?;
    run(&args, service, inject, Listeners::new().imap(imap)).await
}
