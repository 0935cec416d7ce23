//! The HTTP binding's part of the service's shared state: the sessions and who waits for
//! their output.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use pimap_http::{ExchangeId, HttpConfig, HttpEvent, HttpResponse, HttpSessions};
use pimap_server::{ConnId, Server};

/// Behind the service lock, next to the server.
pub(crate) struct HttpLayer {
    /// The sans-IO HTTP sessions over the server's connections.
    pub(crate) sessions: HttpSessions,
    /// POST handlers waiting for their response.
    waiters: HashMap<ExchangeId, oneshot::Sender<HttpResponse>>,
    /// Output queues of persistent streams.
    streams: HashMap<ConnId, mpsc::Sender<Bytes>>,
    /// Capacity of a new stream's queue.
    stream_queue: usize,
}

impl HttpLayer {
    pub(crate) fn new(config: HttpConfig, stream_queue: usize) -> Self {
        HttpLayer {
            sessions: HttpSessions::new(config),
            waiters: HashMap::new(),
            streams: HashMap::new(),
            stream_queue: stream_queue.max(1),
        }
    }

    /// Wait for the response to `exchange`.
    pub(crate) fn wait(&mut self, exchange: ExchangeId) -> oneshot::Receiver<HttpResponse> {
        let (tx, rx) = oneshot::channel();
        self.waiters.insert(exchange, tx);
        rx
    }

    /// The handler of `exchange` gave up.
    pub(crate) fn forget(&mut self, exchange: ExchangeId) {
        self.waiters.remove(&exchange);
    }

    /// A queue for the output of the new persistent stream `stream`.
    pub(crate) fn stream_queue(&mut self, stream: ConnId) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(self.stream_queue);
        self.streams.insert(stream, tx);
        rx
    }

    /// The request side of `stream` ended: close it in the server.
    pub(crate) fn end_stream(&mut self, server: &mut Server, stream: ConnId, now: Instant) {
        self.streams.remove(&stream);
        self.sessions.close_stream(server, stream, now);
    }

    /// Hand the sessions' events to whoever waits for them. Streams whose client does not
    /// read are closed; returns whether any was (the server then has output to drain).
    pub(crate) fn dispatch(&mut self, server: &mut Server, now: Instant) -> bool {
        let mut stuck = Vec::new();
        while let Some(ev) = self.sessions.poll_event() {
            match ev {
                HttpEvent::Response { exchange, response } => {
                    if let Some(tx) = self.waiters.remove(&exchange) {
                        // The handler may have timed out; then nobody listens.
                        let _ = tx.send(response);
                    }
                }
                HttpEvent::StreamData { stream, messages } => {
                    let Some(tx) = self.streams.get(&stream) else {
                        continue;
                    };
                    // One message = one IMAP response = one chunk.
                    if messages.into_iter().any(|m| tx.try_send(m).is_err()) {
                        eprintln!(
                            "pimap-tokio: http stream {}: output queue full or closed",
                            stream.0
                        );
                        self.streams.remove(&stream);
                        stuck.push(stream);
                    }
                }
                HttpEvent::StreamEnd { stream } => {
                    // Dropping the sender ends the chunked response after what is queued.
                    self.streams.remove(&stream);
                }
            }
        }
        for &s in &stuck {
            self.sessions.close_stream(server, s, now);
        }
        !stuck.is_empty()
    }
}
