//! A convenience layer for callers who prefer blocking calls: implement [`Store`],
//! [`Submitter`] and [`Notifier`], and let a [`Driver`] answer the server's requests.

use std::time::Instant;

use bytes::Bytes;

use pimap_types::Mailbox;

use super::change::MailboxChange;
use super::output::{ConnId, Notification, Output};
use super::request::{Reply, Request, Submission, SubmitError};
use super::server::{Server, ServerError};

/// The IMAP message store, answering requests synchronously.
pub trait Store {
    /// Perform an authentication or store request ([`Request::Authenticate`],
    /// [`Request::Store`]).
    fn handle(&mut self, request: &Request) -> Reply;

    /// Changes since the last call, as (user, mailbox, change), in order. The driver feeds
    /// them to [`Server::mailbox_changed`] before completing the request that caused them.
    fn take_changes(&mut self) -> Vec<(Bytes, Mailbox, MailboxChange)>;
}

/// The submission path of XDELIVER (SMTP or otherwise).
pub trait Submitter {
    /// Submit a message. [`SubmitError::Refused`] answers NO with the reason,
    /// [`SubmitError::Unavailable`] `NO [UNAVAILABLE]`.
    fn submit(&mut self, submission: &Submission) -> Result<(), SubmitError>;

    /// Can this submitter submit at all? When not, the driver withdraws `XDELIVER` from the
    /// server's capabilities (default: yes).
    fn is_available(&self) -> bool {
        true
    }
}

/// The out-of-band notifier (SMS gateway, UDP, SIP, ...).
pub trait Notifier {
    /// Send a notification (best effort).
    fn notify(&mut self, notification: &Notification);
}

/// A submitter that refuses everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSubmission;

impl Submitter for NoSubmission {
    fn submit(&mut self, _: &Submission) -> Result<(), SubmitError> {
        Err(SubmitError::Unavailable(
            "no submission path configured".into(),
        ))
    }

    fn is_available(&self) -> bool {
        false
    }
}

/// A notifier that keeps notifications in memory (the last `capacity`).
#[derive(Debug, Default)]
pub struct CollectingNotifier {
    /// Notifications received, oldest first.
    pub sent: std::collections::VecDeque<Notification>,
    /// How many to keep (0 = 1024).
    pub capacity: usize,
}

impl Notifier for CollectingNotifier {
    fn notify(&mut self, n: &Notification) {
        let cap = if self.capacity == 0 {
            1024
        } else {
            self.capacity
        };
        if self.sent.len() >= cap {
            self.sent.pop_front();
        }
        self.sent.push_back(n.clone());
    }
}

/// What the transport must do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Write bytes to a connection.
    Transmit(ConnId, Bytes),
    /// Close a connection.
    Close(ConnId),
    /// Run the server side of a TLS handshake on the connection, then call
    /// [`Server::secured`] (see [`Output::StartTls`]).
    StartTls(ConnId),
}

/// Runs a [`Server`] against blocking [`Store`], [`Submitter`] and [`Notifier`]
/// implementations; only socket I/O is left to the caller.
#[derive(Debug)]
pub struct Driver<S, U, N> {
    /// The server.
    pub server: Server,
    /// The store.
    pub store: S,
    /// The submitter.
    pub submitter: U,
    /// The notifier.
    pub notifier: N,
    /// Replies of the wrong kind the store gave (the client was answered
    /// `NO [SERVERBUG]`), oldest first, at most 64 kept: a store bug to report.
    pub store_errors: std::collections::VecDeque<ServerError>,
}

impl<S: Store, U: Submitter, N: Notifier> Driver<S, U, N> {
    /// A driver. If `submitter` is not [available](Submitter::is_available), `XDELIVER` is
    /// withdrawn from the server's capabilities.
    pub fn new(mut server: Server, store: S, submitter: U, notifier: N) -> Self {
        if !submitter.is_available() {
            server.withdraw_capability("XDELIVER");
        }
        Self {
            server,
            store,
            submitter,
            notifier,
            store_errors: std::collections::VecDeque::new(),
        }
    }

    /// Accept a connection; returns its id and the greeting to send.
    pub fn accept(&mut self, now: Instant) -> Result<(ConnId, Vec<Action>), ServerError> {
        let id = self.server.accept(now)?;
        Ok((id, self.run(now)))
    }

    /// Bytes from a connection; returns what to send and close.
    #[must_use = "the actions must be carried out (transmit, close, STARTTLS)"]
    pub fn input(
        &mut self,
        conn: ConnId,
        bytes: &[u8],
        now: Instant,
    ) -> Result<Vec<Action>, ServerError> {
        self.server.handle_input(conn, bytes, now)?;
        Ok(self.run(now))
    }

    /// The peer closed a connection.
    #[must_use = "the actions must be carried out (transmit, close, STARTTLS)"]
    pub fn closed(&mut self, conn: ConnId, now: Instant) -> Vec<Action> {
        self.server.handle_close(conn, now);
        self.run(now)
    }

    /// Feed changes the store made on its own (deliveries) to the server.
    #[must_use = "the actions must be carried out (transmit, close, STARTTLS)"]
    pub fn sync_store(&mut self, now: Instant) -> Vec<Action> {
        self.feed_changes(now);
        self.run(now)
    }

    /// The transport wrote `octets` of a connection's output (with
    /// [`ServerConfig::output_budget`](super::ServerConfig::output_budget)): work paused by
    /// backpressure may go on.
    #[must_use = "the actions must be carried out (transmit, close, STARTTLS)"]
    pub fn transmitted(&mut self, conn: ConnId, octets: usize, now: Instant) -> Vec<Action> {
        self.server.transmitted(conn, octets, now);
        self.run(now)
    }

    /// Run timers.
    #[must_use = "the actions must be carried out (transmit, close, STARTTLS)"]
    pub fn timeout(&mut self, now: Instant) -> Vec<Action> {
        self.server.handle_timeout(now);
        self.run(now)
    }

    fn feed_changes(&mut self, now: Instant) {
        for (user, mailbox, change) in self.store.take_changes() {
            self.server.mailbox_changed(&user, &mailbox, change, now);
        }
    }

    /// Drain the server's outputs, answering requests, until only transport actions remain.
    #[must_use = "the actions must be carried out (transmit, close, STARTTLS)"]
    pub fn run(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Transmit { conn, data } => actions.push(Action::Transmit(conn, data)),
                Output::Close { conn } => actions.push(Action::Close(conn)),
                Output::StartTls { conn } => actions.push(Action::StartTls(conn)),
                Output::Notify(n) => self.notifier.notify(&n),
                Output::Request { id, request, .. } => {
                    let reply = match &request {
                        Request::Submit(s) => match self.submitter.submit(s) {
                            Ok(()) => Reply::Submitted,
                            Err(e) => e.reply(),
                        },
                        other => self.store.handle(other),
                    };
                    self.feed_changes(now);
                    // The id came from this server and is completed once.
                    if let Err(e) = self.server.complete(id, reply, now) {
                        if self.store_errors.len() >= 64 {
                            self.store_errors.pop_front();
                        }
                        self.store_errors.push_back(e);
                    }
                }
            }
        }
        actions
    }
}
