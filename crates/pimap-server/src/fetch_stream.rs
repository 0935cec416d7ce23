//! The pieces of a streamed FETCH item (see [`fetch_plan`](super::fetch_plan)): the first
//! announces the literal with the message's size, each writes its octets as the store
//! returned them (uncopied), the last closes the response.

use std::time::Instant;

use bytes::Bytes;

use pimap_codec::encode::{fetch_literal_head, StreamedItem, FETCH_LITERAL_END};
use pimap_types::{FetchAttr, FetchItem, Section};

use super::fetch_plan::{Chunk, FetchJob, Piece};
use super::output::ConnId;
use super::server::{Server, Work};

impl Server {
    /// The store answered one piece of a streamed item of message `uid`.
    pub(crate) fn fetch_piece(
        &mut self,
        conn: ConnId,
        mut job: Box<FetchJob>,
        uid: u32,
        piece: Piece,
        rows: Vec<(u32, Vec<FetchItem>)>,
        now: Instant,
    ) {
        let seq = self.selected_view_of(conn).and_then(|v| v.seq_of(uid));
        let mut others = Vec::new();
        let mut data: Option<Bytes> = None;
        for (u, items) in rows {
            if u != uid {
                continue;
            }
            for item in items {
                match item {
                    FetchItem::BodySection { data: d, .. } => {
                        data = Some(d.map(|s| s.to_bytes()).unwrap_or_default());
                    }
                    FetchItem::Uid(_) => {}
                    other => others.push(other),
                }
            }
        }
        let fits = data.as_ref().is_some_and(|d| d.len() == piece.expected());
        match (piece.offset, seq, data) {
            (0, Some(seq), Some(d)) if fits => {
                if let Some(v) = self.selected_view_of(conn) {
                    for i in &mut others {
                        if let FetchItem::Flags(f) = i {
                            *f = v.shown_flags(uid, std::mem::take(f));
                        }
                    }
                }
                if job.with_uid {
                    others.insert(0, FetchItem::Uid(uid));
                }
                let default = Section::default();
                let streamed = match job.items.get(piece.item) {
                    Some(FetchAttr::Rfc822) => StreamedItem::Rfc822,
                    _ => StreamedItem::Body(&default),
                };
                let head = fetch_literal_head(
                    self.config.dialect,
                    seq,
                    &others,
                    streamed,
                    u64::from(piece.size),
                );
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.open_literal(head);
                    c.push_segment(d);
                }
            }
            (0, _, _) => {
                // Nothing of it is written: the message is gone (no row), or its octets do
                // not match the size announced for it. Ask for the item whole instead (or
                // for nothing, if the message is gone).
                job.chunks.retain(|c| {
                    !(c.uids == [uid] && c.piece.is_some_and(|p| p.item == piece.item))
                });
                if seq.is_some() {
                    job.chunks.push_front(Chunk {
                        uids: vec![uid],
                        items: Some(vec![piece.item]),
                        piece: None,
                    });
                }
            }
            (_, _, Some(d)) if fits => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.push_segment(d);
                }
            }
            _ => {
                // The literal was announced and cannot be completed: the only honest
                // ending is to close the connection (the client fetches again).
                return self.close_conn(conn, now);
            }
        }
        if piece.is_last() {
            if let Some(c) = self.conns.get_mut(&conn) {
                if c.literal_open {
                    c.close_literal(Bytes::from_static(FETCH_LITERAL_END));
                }
            }
        }
        self.mark_dirty(conn);
        if job.chunks.is_empty() {
            self.deliver(conn, !job.uid);
            self.ok(conn, job.tag, None, "FETCH completed");
        } else if let Some(c) = self.conns.get_mut(&conn) {
            // The next piece waits, like a command, until the output is below the
            // connection's budget.
            c.work.push_front(Work::FetchMore(job));
        }
    }
}
