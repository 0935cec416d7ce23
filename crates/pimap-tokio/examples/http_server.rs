//! A demo P-IMAP server over HTTP (drafts -08 section 8.1): [`pimap_tokio::Service`] with
//! the HTTP binding ([`pimap_tokio::http`]) over the in-memory store.
//!
//! ```text
//! cargo run -p pimap-tokio --features http --example http_server -- --port 8080
//!     [--inject-port 8081] [--user alice:alicepw ...] [--max-seconds N]
//!     [--tls-cert PEM --tls-key PEM]
//! ```
//!
//! * Listens on 127.0.0.1 only. Port 0 picks a free port; the bound addresses are printed to
//!   stdout as `listening on 127.0.0.1:<port>` and `inject on 127.0.0.1:<port>`.
//! * With `--tls-cert` / `--tls-key` it serves HTTPS (rustls).
//! * Users `alice:alicepw` and `bob:bobpw` unless `--user` is given (repeatable); each has an
//!   INBOX with two sample messages and an empty `Sent` folder.
//! * The inject port delivers mail as in `examples/server.rs`:
//!   `INJECT <user> <mailbox> <octet-count>\r\n<octets>` → `OK <uid>\r\n` / `NO <reason>\r\n`.
//! * `--max-seconds N` exits after N seconds.
//!
//! POST IMAP commands to any path (`/pimap` in the drafts). Non-persistent mode answers
//! each POST with the responses to its commands plus queued events (a cookie keeps the
//! session); a chunked POST with `X-PIMAP-Persistent: 1` is a persistent stream that stays
//! open for pushes. The routes, modes and limits are documented in [`pimap_tokio::http`].

use pimap_server::ServerConfig;
use pimap_tokio::http::HttpOptions;
use pimap_tokio::{Listeners, ServeOptions};

#[path = "shared/demo_setup.rs"]
mod demo_setup;
use demo_setup::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = parse_args("http_server", 8080);
    let (listener, inject) = bind(&args).await?;
    let service = demo_service(&args, ServerConfig::default(), ServeOptions::default())?;
    let mut http = HttpOptions::default();
    http.tls = tls_config(&args)?;
    run(
        &args,
        service,
        inject,
        Listeners::new().http(listener, http),
    )
    .await
}
