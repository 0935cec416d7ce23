//! The store seam is typed: a reply of the wrong kind (a store bug) is not silently turned
//! into a success. The client gets `NO [SERVERBUG]`, the connection goes on, and
//! `Server::complete` returns `ServerError::UnexpectedReply` (the driver keeps it).

#[path = "support/server_harness.rs"]
mod harness;

use bytes::Bytes;
use harness::*;
use pimap::server::blocking::Store;
use pimap::server::{MailboxChange, Reply, Request, ServerConfig, ServerError, StoreOp};
use pimap::types::{FetchItem, Mailbox};

/// Answers SELECT with `Ok` instead of `Selected`; everything else as the script store.
#[derive(Default)]
struct BuggyStore(ScriptStore);

impl Store for BuggyStore {
    fn handle(&mut self, request: &Request) -> Reply {
        if let Request::Store {
            op: StoreOp::Select { .. },
            ..
        } = request
        {
            return Reply::Ok;
        }
        self.0.handle(request)
    }

    fn take_changes(&mut self) -> Vec<(Bytes, Mailbox, MailboxChange)> {
        self.0.take_changes()
    }
}

#[test]
fn wrong_reply_kind_is_a_typed_error_and_a_serverbug_no() {
    let mut store = BuggyStore::default();
    store.0.add_folder("alice", "INBOX", 2);
    let mut h = Harness::new(ServerConfig::default(), store);
    let c = h.connect();
    let r = h.send(c, "a LOGIN alice pw\r\n");
    assert!(r.contains("a OK"), "{r}");
    let r = h.send(c, "b SELECT INBOX\r\n");
    assert!(r.starts_with("b NO [SERVERBUG]"), "{r}");
    assert!(!r.contains("EXISTS"), "{r}");
    assert_eq!(h.d.store_errors.len(), 1);
    match h.d.store_errors.front() {
        Some(ServerError::UnexpectedReply { expected, got, .. }) => {
            assert_eq!((*expected, *got), ("Selected", "Ok"));
        }
        other => panic!("{other:?}"),
    }
    // The session goes on.
    let r = h.send(c, "c NOOP\r\n");
    assert!(r.contains("c OK"), "{r}");
    let r = h.send(c, "d LIST \"\" *\r\n");
    assert!(r.contains("d OK"), "{r}");
    assert_eq!(h.d.store_errors.len(), 1);
}

/// Returns every FETCH row without its `UID` item (a store that relies on the server to
/// number rows, as the contract of `StoreOp::Fetch` allows).
#[derive(Default)]
struct UidlessStore(ScriptStore);

impl Store for UidlessStore {
    fn handle(&mut self, request: &Request) -> Reply {
        match self.0.handle(request) {
            Reply::Fetched(rows) => Reply::Fetched(
                rows.into_iter()
                    .map(|(u, items)| {
                        let items = items
                            .into_iter()
                            .filter(|i| !matches!(i, FetchItem::Uid(_)))
                            .collect();
                        (u, items)
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    fn take_changes(&mut self) -> Vec<(Bytes, Mailbox, MailboxChange)> {
        self.0.take_changes()
    }
}

#[test]
fn fetch_asking_for_uid_always_gets_it() {
    let mut store = UidlessStore::default();
    store.0.add_folder("alice", "INBOX", 3);
    let mut h = Harness::new(ServerConfig::default(), store);
    let c = h.connect();
    assert!(h.send(c, "a LOGIN alice pw\r\n").contains("a OK"));
    assert!(h.send(c, "b SELECT INBOX\r\n").contains("b OK"));
    // A sequence-number FETCH that names UID (what most clients send) carries it.
    let r = h.send(c, "c FETCH 1 (UID)\r\n");
    assert!(r.contains("* 1 FETCH (UID 1)"), "{r}");
    let r = h.send(c, "d FETCH 2:3 (FLAGS UID)\r\n");
    assert!(
        r.contains("* 2 FETCH (UID 2 FLAGS ()") || r.contains("* 2 FETCH (FLAGS () UID 2)"),
        "{r}"
    );
    assert!(r.contains("UID 3"), "{r}");
    // Without UID asked for, a sequence-number FETCH has none.
    let r = h.send(c, "e FETCH 1 (FLAGS)\r\n");
    assert!(r.contains("* 1 FETCH (FLAGS ())"), "{r}");
    // UID FETCH always has it.
    let r = h.send(c, "f UID FETCH 2 (FLAGS)\r\n");
    assert!(r.contains("UID 2"), "{r}");
}
