//! A connection task's queue of what to write, filled under the service lock and drained by
//! the task. Unlike a tokio channel, which keeps a block of 32 slots (about 1.3 KB) for
//! every connection even while idle, an empty outbox holds no allocation.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

/// A bounded single-consumer queue with a close flag.
#[derive(Debug)]
pub(crate) struct Outbox<T> {
    state: Mutex<State<T>>,
    ready: Notify,
    cap: usize,
}

#[derive(Debug)]
struct State<T> {
    queue: VecDeque<T>,
    closed: bool,
}

impl<T> Outbox<T> {
    /// An empty outbox holding at most `cap` items (at least 1).
    pub(crate) fn new(cap: usize) -> Self {
        Outbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
            }),
            ready: Notify::new(),
            cap: cap.max(1),
        }
    }

    /// Queue an item; `false` when the outbox is full (the peer does not read) or closed.
    pub(crate) fn push(&self, item: T) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return false;
        };
        if s.closed || s.queue.len() >= self.cap {
            return false;
        }
        s.queue.push_back(item);
        drop(s);
        self.ready.notify_one();
        true
    }

    /// No more items will be pushed; the consumer drains what is queued and then gets
    /// `None`.
    pub(crate) fn close(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.closed = true;
        }
        self.ready.notify_one();
    }

    /// The next item without waiting (`None` when empty).
    pub(crate) fn try_pop(&self) -> Option<T> {
        let mut s = self.state.lock().ok()?;
        let item = s.queue.pop_front();
        if s.queue.is_empty() && s.queue.capacity() > 0 {
            // Idle connections keep no buffer.
            s.queue = VecDeque::new();
        }
        item
    }

    /// The next item, waiting for one; `None` once closed and drained. Cancel-safe: an
    /// item is only taken when the future completes.
    pub(crate) async fn pop(&self) -> Option<T> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before the queue is checked, so a push in between wakes it.
            notified.as_mut().enable();
            if let Some(item) = self.try_pop() {
                return Some(item);
            }
            if self.state.lock().map_or(true, |s| s.closed) {
                return None;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn items_arrive_in_order_then_none_after_close() {
        let o = Arc::new(Outbox::new(4));
        let consumer = {
            let o = o.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(i) = o.pop().await {
                    got.push(i);
                }
                got
            })
        };
        for i in 0..3 {
            assert!(o.push(i));
            tokio::task::yield_now().await;
        }
        o.close();
        assert!(!o.push(9), "closed");
        assert_eq!(consumer.await.unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn bounded_and_empty_holds_nothing() {
        let o = Outbox::new(2);
        assert!(o.push(1) && o.push(2));
        assert!(!o.push(3), "full");
        assert_eq!(o.try_pop(), Some(1));
        assert_eq!(o.try_pop(), Some(2));
        assert_eq!(o.state.lock().unwrap().queue.capacity(), 0);
    }
}
