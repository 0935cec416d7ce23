//! # pimap-tokio: tokio + rustls drivers for the sans-IO pimap state machines
//!
//! The `pimap` crates do no I/O: they turn bytes into events and requests and back. This
//! crate supplies the loop every embedder would otherwise write: sockets, TLS, timers,
//! write routing and backpressure.
//!
//! * [`Connection`] (feature `client`): a P-IMAP / IMAP client connection over plain TCP,
//!   implicit TLS or STARTTLS, with `run(command).await -> Completion`, a stream of events
//!   ([`Connection::next_event`]), the client's timers inside, and
//!   [`Connection::reconnect`] that logs in again and resumes the device session.
//! * [`Service`] (feature `server`): serves a [`pimap_server::Server`] over a TCP listener:
//!   one task per connection, STARTTLS and implicit TLS, store, submission and notification
//!   work on tokio's blocking pool (one user's expensive SEARCH never stalls another's
//!   NOOP), store changes applied in the store's order before the reply that caused them,
//!   per-connection output budgets, graceful shutdown.
//! * [`http`] (feature `http`): the P-IMAP HTTP binding (non-persistent and persistent
//!   modes, HTTPS) served by the same [`Service`] beside IMAP, through [`Listeners`].
//! * [`tls`]: rustls configurations from PEM.
//!
//! ```no_run
//! # #[cfg(feature = "server")]
//! # async fn serve() -> std::io::Result<()> {
//! use pimap_server::blocking::{CollectingNotifier, NoSubmission};
//! use pimap_server::{Server, ServerConfig};
//! use pimap_store_memory::MemoryStore;
//! use pimap_tokio::{ServeOptions, Service};
//!
//! let mut store = MemoryStore::new();
//! store.add_user("alice", "alicepw");
//! let server = Server::new(ServerConfig::default());
//! let notifier = CollectingNotifier::default();
//! let service = Service::new(server, store, NoSubmission, notifier, ServeOptions::default())
//!     .expect("consistent options");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:1143").await?;
//! service.serve(listener).await
//! # }
//! ```
//!
//! References such as "spec §3.3" and "E-11" (an erratum) are to the P-IMAP protocol
//! digest that ships with this crate as `docs/PIMAP.md` (drafts -00 to -12, errata,
//! corrected grammar, labelled vectors).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "client")]
mod connection;
#[cfg(feature = "server")]
mod host;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "server")]
mod outbox;
#[cfg(feature = "server")]
mod service;
mod transport;

pub mod tls;

#[cfg(feature = "client")]
pub use connection::{Connection, ConnectionError, Security};
#[cfg(feature = "server")]
pub use host::{serve_imap, Host, Writers};
#[cfg(feature = "server")]
pub use service::{Handle, Listeners, ServeError, ServeOptions, Service};
pub use tls::TlsError;
/// The rustls crate these types are built on (to name `rustls::ServerConfig` and the like).
pub use tokio_rustls::rustls;
pub use transport::Transport;
