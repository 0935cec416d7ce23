//! A client connection: the sans-IO [`Client`] over a tokio transport.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

use pimap_client::{
    Client, ClientConfig, ClientError, CommandHandle, Completion, Event, GreetingKind,
    LoginOutcome, Output,
};
use pimap_types::CommandBody;

use crate::transport::Transport;

/// How the connection is protected.
#[derive(Clone)]
#[non_exhaustive]
pub enum Security {
    /// Plaintext (loopback tests, a local proxy).
    Plain,
    /// TLS from the first byte (port 993 style).
    Tls {
        /// The client configuration (see [`tls::client_config`](crate::tls::client_config)).
        config: Arc<rustls::ClientConfig>,
        /// The name the server's certificate must carry.
        server_name: ServerName<'static>,
    },
    /// Plaintext greeting, then STARTTLS before anything else (refused if the server does
    /// not offer it: never a silent downgrade).
    StartTls {
        /// The client configuration.
        config: Arc<rustls::ClientConfig>,
        /// The name the server's certificate must carry.
        server_name: ServerName<'static>,
    },
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Plain => f.write_str("Plain"),
            Security::Tls { server_name, .. } => f
                .debug_struct("Tls")
                .field("server_name", server_name)
                .finish(),
            Security::StartTls { server_name, .. } => f
                .debug_struct("StartTls")
                .field("server_name", server_name)
                .finish(),
        }
    }
}

/// Why a connection operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The transport failed (connect, TLS handshake, read, write).
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server greeted with BYE.
    #[error("the server refused the connection (BYE greeting)")]
    Refused,
    /// STARTTLS was asked for and the server does not offer it, or refused it.
    #[error("the server does not offer STARTTLS")]
    StartTlsUnavailable,
    /// The client state machine refused the command.
    #[error("client: {0}")]
    Client(#[from] ClientError),
    /// LOGIN or AUTHENTICATE was answered NO or BAD.
    #[error("login refused")]
    LoginRefused(Box<Completion>),
    /// [`Connection::reconnect`] before any login.
    #[error("no credentials to reconnect with")]
    NoCredentials,
}

/// A P-IMAP / IMAP client connection driven by tokio.
///
/// Events the caller has not asked for (pushes in IDLE, capability changes) queue up and are
/// returned by [`Connection::next_event`]; [`Connection::run`] returns the completion of
/// its own command and queues the other events met on the way.
pub struct Connection {
    client: Client,
    transport: Transport,
    /// Events met while waiting for something else, for `next_event`.
    events: VecDeque<Event>,
    /// Events the client produced and `next_raw` has not returned yet.
    fresh: VecDeque<Event>,
    buf: Vec<u8>,
    addr: SocketAddr,
    security: Security,
    config: ClientConfig,
    credentials: Option<(String, pimap_types::Secret<String>)>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .field("security", &self.security)
            .field("tls", &self.transport.is_tls())
            .field("queued_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connect, protect the transport as `security` says, and wait for the greeting.
    pub async fn connect(
        addr: SocketAddr,
        security: Security,
        config: ClientConfig,
    ) -> Result<Self, ConnectionError> {
        let tcp = TcpStream::connect(addr).await?;
        let _ = tcp.set_nodelay(true);
        let mut c = Connection {
            client: Client::new(config.clone()),
            transport: Transport::Plain(tcp),
            events: VecDeque::new(),
            fresh: VecDeque::new(),
            buf: Vec::new(),
            addr,
            security: security.clone(),
            config,
            credentials: None,
        };
        if let Security::Tls {
            config,
            server_name,
        } = &security
        {
            c.transport
                .connect_tls(config.clone(), server_name.clone())
                .await?;
        }
        if let Event::Greeting {
            kind: GreetingKind::Bye,
            ..
        } = c.wait_for(|e| matches!(e, Event::Greeting { .. })).await?
        {
            return Err(ConnectionError::Refused);
        }
        if let Security::StartTls {
            config,
            server_name,
        } = &security
        {
            if !c.client.capabilities().has("STARTTLS") {
                return Err(ConnectionError::StartTlsUnavailable);
            }
            let done = c.run(CommandBody::StartTls).await?;
            if !done.is_ok() {
                return Err(ConnectionError::StartTlsUnavailable);
            }
            c.transport
                .connect_tls(config.clone(), server_name.clone())
                .await?;
            // Capabilities learned over plaintext are forgotten (RFC 3501 6.2.1).
            c.run(CommandBody::Capability).await?;
        }
        Ok(c)
    }

    /// The client state machine (capabilities, selected view, session id, ...).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client state machine, to queue commands it has helpers for; drive them with
    /// [`Connection::wait`].
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Is the transport protected by TLS?
    pub fn is_tls(&self) -> bool {
        self.transport.is_tls()
    }

    /// Log in (as a device with `user#device`) and return the outcome: plain, fresh,
    /// resumed (with the queued events applied) or RESYNC required. The credentials are
    /// kept (in memory, redacted in `Debug`) for [`Connection::reconnect`].
    pub async fn login(
        &mut self,
        user: &str,
        password: &str,
    ) -> Result<LoginOutcome, ConnectionError> {
        let h = self.client.login(user, password)?;
        self.credentials = Some((
            user.to_string(),
            pimap_types::Secret::new(password.to_string()),
        ));
        self.finish_login(h).await
    }

    async fn finish_login(&mut self, h: CommandHandle) -> Result<LoginOutcome, ConnectionError> {
        let mut outcome = None;
        let done = loop {
            match self.next_raw().await? {
                Event::LoggedIn(o) => outcome = Some(o),
                Event::Completed(c) if c.handle == h => break c,
                other => self.events.push_back(other),
            }
        };
        match outcome {
            Some(o) if done.is_ok() => Ok(o),
            _ => Err(ConnectionError::LoginRefused(Box::new(done))),
        }
    }

    /// Send a command and wait for its completion; other events met meanwhile are kept for
    /// [`Connection::next_event`].
    pub async fn run(&mut self, body: CommandBody) -> Result<Completion, ConnectionError> {
        let h = self.client.enqueue(body)?;
        self.wait(h).await
    }

    /// Wait for the completion of a command queued on [`Connection::client_mut`].
    pub async fn wait(&mut self, h: CommandHandle) -> Result<Completion, ConnectionError> {
        loop {
            match self.next_raw().await? {
                Event::Completed(c) if c.handle == h => return Ok(c),
                other => self.events.push_back(other),
            }
        }
    }

    /// Enter IDLE and wait until the server confirms it; pushes then arrive through
    /// [`Connection::next_event`]. The client refreshes IDLE by its own timer.
    pub async fn idle(&mut self) -> Result<CommandHandle, ConnectionError> {
        let h = self.client.idle()?;
        loop {
            match self.next_raw().await? {
                Event::IdleStarted(x) if x == h => return Ok(h),
                Event::Completed(c) if c.handle == h => {
                    return Err(ConnectionError::LoginRefused(Box::new(c)))
                }
                other => self.events.push_back(other),
            }
        }
    }

    /// Leave IDLE and wait for its completion.
    pub async fn done(&mut self, idle: CommandHandle) -> Result<Completion, ConnectionError> {
        self.client.done()?;
        self.wait(idle).await
    }

    /// The next event: queued ones first, then whatever the server sends (timers run
    /// meanwhile). Cancel-safe: dropping the future loses no event.
    pub async fn next_event(&mut self) -> Result<Event, ConnectionError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(e);
        }
        self.next_raw().await
    }

    /// Drop this transport and connect again with the same security, restoring the
    /// client's resume position and selected view, and log in with the same credentials:
    /// the device session resumes (queued events applied) or the outcome says RESYNC.
    pub async fn reconnect(&mut self) -> Result<LoginOutcome, ConnectionError> {
        let (user, password) = self
            .credentials
            .clone()
            .ok_or(ConnectionError::NoCredentials)?;
        let cursor = self.client.resume_cursor();
        let view = self.client.mailbox().cloned();
        let mut fresh =
            Connection::connect(self.addr, self.security.clone(), self.config.clone()).await?;
        if let Some(c) = cursor {
            fresh.client.restore_cursor(c);
        }
        if let Some(v) = view {
            fresh.client.restore_view(v);
        }
        let _ = self.transport.shutdown().await;
        *self = fresh;
        self.login(&user, password.expose()).await
    }

    /// Write what the client has queued, then read until an event comes (or a timer fires
    /// one). Parked events (`events`) are not consulted.
    async fn next_raw(&mut self) -> Result<Event, ConnectionError> {
        loop {
            let mut out = Vec::new();
            while let Some(o) = self.client.poll_output() {
                match o {
                    Output::Transmit(b) => out.extend_from_slice(&b),
                    Output::Event(e) => self.fresh.push_back(e),
                    _ => {}
                }
            }
            if !out.is_empty() {
                self.transport.write_all(&out).await?;
                // TLS holds written records until flushed.
                self.transport.flush().await?;
            }
            if let Some(e) = self.fresh.pop_front() {
                return Ok(e);
            }
            let deadline = self.client.poll_timeout();
            let read = self.transport.read_some(&mut self.buf, 16 * 1024);
            let n = match deadline {
                Some(t) => {
                    tokio::select! {
                        r = read => Some(r?),
                        _ = tokio::time::sleep_until(tokio::time::Instant::from_std(t)) => None,
                    }
                }
                None => Some(read.await?),
            };
            match n {
                Some(0) => return Err(ConnectionError::Closed),
                Some(n) => {
                    self.client.handle_input(&self.buf[..n], Instant::now());
                    self.buf = Vec::new();
                }
                None => self.client.handle_timeout(Instant::now()),
            }
        }
    }

    /// Wait for the first event that satisfies `want`, queueing the others.
    async fn wait_for(&mut self, want: impl Fn(&Event) -> bool) -> Result<Event, ConnectionError> {
        loop {
            let e = self.next_raw().await?;
            if want(&e) {
                return Ok(e);
            }
            self.events.push_back(e);
        }
    }
}
