//! The store seam is typed: a reply of the wrong kind (a store bug) is not silently turned
//! into a success. The client gets `NO [SERVERBUG]`, the connection goes on, and
//! `Server::complete` returns `ServerError::UnexpectedReply` (the driver keeps it).

#[path = "support/server_harness.rs"]
mod harness;

use bytes::Bytes;
use harness::*;
use pimap::server::blocking::Store;
use pimap::server::{MailboxChange, Reply, Request, ServerConfig, ServerError, StoreOp};
use pimap::types::Mailbox;

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
