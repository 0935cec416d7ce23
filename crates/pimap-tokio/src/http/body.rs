//! Request bodies within limits, and the streaming response body of persistent mode.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use tokio::sync::mpsc;

/// Request body octets being received across all requests of one listener.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    used: AtomicUsize,
    limit: usize,
}

impl BodyBudget {
    pub(crate) fn new(limit: usize) -> Self {
        BodyBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }
}

/// A share of a [`BodyBudget`], given back when dropped.
struct Reservation {
    budget: Arc<BodyBudget>,
    held: usize,
}

impl Reservation {
    /// Take `n` more octets, or `false` when the budget is spent.
    fn grow(&mut self, n: usize) -> bool {
        let prev = self.budget.used.fetch_add(n, Ordering::SeqCst);
        self.held += n;
        prev + n <= self.budget.limit
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.held, Ordering::SeqCst);
    }
}

/// Why a request body was not read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyRefused {
    /// Longer than the request may be (413).
    TooLarge,
    /// The listener's budget of body octets in flight is spent (503).
    Busy,
    /// The body's framing broke or the client went away (400).
    Broken,
}

/// Read a request body of at most `max` octets within `budget`.
pub(crate) async fn read_body(
    mut body: Incoming,
    max: usize,
    budget: &Arc<BodyBudget>,
) -> Result<Bytes, BodyRefused> {
    let mut reservation = Reservation {
        budget: budget.clone(),
        held: 0,
    };
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyRefused::Broken)?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err(BodyRefused::TooLarge);
            }
            if !reservation.grow(data.len()) {
                return Err(BodyRefused::Busy);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// A response body fed from a queue: each message is one data frame, which hyper sends as
/// one chunk of the chunked transfer coding. It ends when the queue's sender is dropped.
pub(crate) struct StreamBody {
    pub(crate) rx: mpsc::Receiver<Bytes>,
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|m| m.map(|data| Ok(Frame::data(data))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_give_their_octets_back_and_refuse_beyond_the_budget() {
        let budget = Arc::new(BodyBudget::new(10));
        let mut a = Reservation {
            budget: budget.clone(),
            held: 0,
        };
        assert!(a.grow(6));
        let mut b = Reservation {
            budget: budget.clone(),
            held: 0,
        };
        assert!(!b.grow(5), "6 + 5 octets are over a budget of 10");
        drop(b);
        assert_eq!(budget.used.load(Ordering::SeqCst), 6);
        drop(a);
        assert_eq!(budget.used.load(Ordering::SeqCst), 0);
    }
}
