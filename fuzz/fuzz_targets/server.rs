//! Arbitrary client bytes, cut into chunks, never panic the server state machine, and what
//! it sends stays decodable and well-ordered.
//!
//! Input: three control bytes, then the client's bytes.
//! * byte 0: chunking. Bits 0-3 pick a size (0: everything at once, 15: one line per chunk,
//!   else 1, 2, 3, 5, 7, 11, 16, 32, 64, 128, 256, 512, 1024, 4096 bytes); bit 4: sizes vary
//!   (1..=size, from the PRNG); bit 5: small server limits (queues, pipelining, macros);
//!   bit 6: draft -01 dialect; bit 7: requests may stay unanswered across chunks.
//! * byte 1: bits 0-2: how often something happens between chunks (n in 8): a new message,
//!   a flag change or an expunge in INBOX, a folder event, time passing, a disconnect and
//!   reconnect; bits 3-7 seed the PRNG with byte 2.
//!
//! Requests are answered by a tiny scripted store (INBOX with 3 messages, Sent with 1,
//! Trash empty) that reports the changes commands cause before completing them, and
//! sometimes refuses with NO. Invariants: the server's bytes decode with the crate's own
//! response decoder; nothing is sent or requested on a connection after its Close; every
//! emitted request completes; sessions never outnumber successful logins; after a long
//! silence every connection is logged out and every session has expired.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server_fuzz::run(data));

#[path = "../shared/server_fuzz.rs"]
mod server_fuzz;
