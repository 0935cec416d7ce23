//! Decoding throughput of `pimap`'s streaming decoders, with `imap-codec` 2.0.0-alpha.10 as
//! the reference.
//!
//! # Inputs
//!
//! All three inputs are generated when the bench starts, by a xorshift PRNG with a fixed seed,
//! so every run decodes the same bytes. Every message is valid IMAP4rev1: before timing, each
//! decoder decodes each input once and the message count is checked against the generator's.
//!
//! * `push` (server → client): 100 000 lines `* n FETCH (UID u FLAGS (...))`, with n running
//!   from 1 to 100 000, u increasing and a random (possibly empty) subset of
//!   `\Seen \Answered \Flagged \Deleted \Draft $Forwarded`. This is the traffic of a push session.
//! * `mixed` (server → client): about 2 000 responses: status responses with codes
//!   (UIDVALIDITY, UIDNEXT, PERMANENTFLAGS, READ-WRITE, ...), EXISTS/RECENT/EXPUNGE, FLAGS,
//!   LIST, SEARCH, STATUS, CAPABILITY, continuation requests, short FETCHes, full FETCHes with
//!   ENVELOPE (several addresses, NIL, escaped quotes), BODYSTRUCTURE (text/plain with params,
//!   multipart/mixed with 2 to 4 parts, including a message/rfc822 part with nested envelope
//!   and body, and extension data such as `("attachment" ("filename" "a.pdf"))`), INTERNALDATE
//!   and RFC822.SIZE, and FETCHes of `BODY[]`, `BODY[TEXT]` or
//!   `BODY[HEADER.FIELDS (FROM SUBJECT)]` literals with log-uniform sizes from 200 B to 200 KB
//!   (printable ASCII in CRLF lines). It is a few MB.
//! * `commands` (client → server): about 20 000 tagged commands: FETCH and UID FETCH with
//!   sequence sets and item lists, STORE and UID STORE, SEARCH and UID SEARCH with
//!   OR/NOT/dates/strings/CHARSET, SELECT/EXAMINE/LIST/LSUB/STATUS/CREATE/..., and about 2% APPEND
//!   with a synchronizing literal of 200 B to 50 KB (log-uniform).
//!
//! # Functions
//!
//! Each input is one criterion group (`push`, `mixed`, `commands`) with four functions:
//!
//! * `pimap/whole`: the whole input is fed to a fresh `ResponseDecoder` / `CommandDecoder` at
//!   once, then `next()` is called until `Ok(None)`.
//! * `pimap/chunked_4k`: the input is fed in 4096-byte pieces, as a socket would hand it over,
//!   and after each piece `next()` is drained until `Ok(None)`.
//! * `imap-codec/whole`: `ResponseCodec` / `CommandCodec` `decode` in a loop on the remaining
//!   slice.
//! * `imap-codec/chunked_4k`: the 4096-byte pieces go through imap-codec's `Fragmentizer` (the
//!   way imap-next reads a socket): each complete message is decoded with `decode_message`.
//!
//! Every decoded message is passed to `black_box`.
//!
//! # Running
//!
//! ```text
//! cargo bench --bench codec                 # everything, under about 3 minutes
//! cargo bench --bench codec -- mixed        # one group
//! cargo bench --bench codec -- 'pimap/'     # only pimap's functions
//! ```
//!
//! Criterion reports bytes/s (`thrpt`; each group's throughput is its input length). At the
//! start of each group, the bench prints the input length in bytes and the number of messages
//! (on stderr). For messages per second, divide the message count by the reported time per
//! iteration (`time`): messages/s = count / time. For example, 100 000 messages in 25 ms is
//! 4 M messages/s.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use imap_codec::decode::{CommandDecodeError, Decoder, ResponseDecodeError};
use imap_codec::fragmentizer::{DecodeMessageError, Fragmentizer};
use imap_codec::{CommandCodec, ResponseCodec};
use pimap::codec::{CommandDecoder, ResponseDecoder};

/// Size of the pieces in the `chunked_4k` functions.
const CHUNK: usize = 4096;
/// Message size limit given to imap-codec's `Fragmentizer` (pimap's default limit per message).
const MAX_MESSAGE: u32 = 100 << 20;

// ------------------------------------------------------------------------------------------------
// Deterministic input generation
// ------------------------------------------------------------------------------------------------

/// xorshift64 PRNG.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// Log-uniform in `lo..=hi`.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo.ln() + u * (hi.ln() - lo.ln())).exp() as usize).clamp(lo as usize, hi as usize)
    }
    /// Picks an index by weight.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut r = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        unreachable!()
    }
}

/// A generated stream and the number of messages in it.
struct Input {
    bytes: Vec<u8>,
    messages: usize,
}

const FLAGS: [&str; 6] = [
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$Forwarded",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A random subset of [`FLAGS`], space separated (possibly empty).
fn flag_list(rng: &mut Rng, out: &mut String) {
    let mask = rng.below(64);
    let mut first = true;
    for (i, f) in FLAGS.iter().enumerate() {
        if mask & (1 << i) != 0 {
            if !first {
                out.push(' ');
            }
            out.push_str(f);
            first = false;
        }
    }
}

/// Appends exactly `n` bytes of printable ASCII in CRLF-terminated lines.
fn payload(rng: &mut Rng, n: usize, out: &mut Vec<u8>) {
    let end = out.len() + n;
    let mut col = 0;
    let mut line = rng.range(20, 76) as usize;
    while out.len() < end {
        if col >= line && end - out.len() >= 2 {
            out.extend_from_slice(b"\r\n");
            col = 0;
            line = rng.range(20, 76) as usize;
        } else {
            out.push(b' ' + rng.below(95) as u8);
            col += 1;
        }
    }
}

/// Input 1: `* n FETCH (UID u FLAGS (...))` push notifications.
fn gen_push() -> Input {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut s = String::with_capacity(5 << 20);
    let mut uid = 1000u64;
    for n in 1..=100_000u64 {
        uid += rng.range(1, 3);
        s.push_str(&format!("* {n} FETCH (UID {uid} FLAGS ("));
        flag_list(&mut rng, &mut s);
        s.push_str("))\r\n");
    }
    Input {
        bytes: s.into_bytes(),
        messages: 100_000,
    }
}

const NAMES: [&str; 8] = [
    "Alice Example",
    "Bob Smith",
    "Carol \\\"CJ\\\" Jones",
    "Dave O'Brien",
    "Erin Lee",
    "Mallory",
    "Terry Gray",
    "Postmaster",
];
const MAILBOXES: [&str; 8] = [
    "alice",
    "bob",
    "carol.jones",
    "dave",
    "erin",
    "mallory",
    "gray",
    "postmaster",
];
const HOSTS: [&str; 5] = [
    "example.com",
    "cac.washington.edu",
    "mail.example.org",
    "lists.example.net",
    "host.test",
];
const SUBJECTS: [&str; 8] = [
    "IMAP4rev1 WG mtg summary and minutes",
    "Re: \\\"Q3\\\" numbers",
    "Fwd: invoice 2023-0042",
    "lunch?",
    "[dev] build failure on main (#4821)",
    "",
    "Meeting moved to 3pm",
    "Your order has shipped",
];

fn address(rng: &mut Rng, s: &mut String) {
    let m = rng.below(MAILBOXES.len() as u64) as usize;
    s.push('(');
    if rng.chance(20) {
        s.push_str("NIL");
    } else {
        s.push_str(&format!("\"{}\"", NAMES[m]));
    }
    s.push_str(&format!(
        " NIL \"{}\" \"{}\")",
        MAILBOXES[m],
        rng.pick(&HOSTS)
    ));
}

fn address_list(rng: &mut Rng, s: &mut String, min: u64, max: u64) {
    let n = rng.range(min, max);
    if n == 0 {
        s.push_str("NIL");
        return;
    }
    s.push('(');
    for _ in 0..n {
        address(rng, s);
    }
    s.push(')');
}

fn envelope(rng: &mut Rng, s: &mut String) {
    let day = rng.range(1, 28);
    let mon = rng.pick(&MONTHS);
    let (h, mi, se) = (rng.below(24), rng.below(60), rng.below(60));
    s.push_str(&format!(
        "(\"Wed, {day} {mon} 2021 {h:02}:{mi:02}:{se:02} -0700 (PDT)\" "
    ));
    s.push_str(&format!("\"{}\" ", rng.pick(&SUBJECTS)));
    // from, sender, reply-to
    let mut from = String::new();
    address_list(rng, &mut from, 1, 1);
    s.push_str(&format!("{from} {from} {from} "));
    address_list(rng, s, 1, 4); // to
    s.push(' ');
    address_list(rng, s, 0, 3); // cc
    s.push(' ');
    address_list(rng, s, 0, 1); // bcc
    s.push(' ');
    if rng.chance(40) {
        s.push_str(&format!(
            "\"<{}@{}>\" ",
            rng.next_u64() % 1_000_000_007,
            rng.pick(&HOSTS)
        ));
    } else {
        s.push_str("NIL ");
    }
    s.push_str(&format!(
        "\"<B27397-{}@{}>\")",
        rng.below(1 << 40),
        rng.pick(&HOSTS)
    ));
}

fn text_part(rng: &mut Rng, s: &mut String) {
    let size = rng.range(200, 40_000);
    if rng.chance(60) {
        s.push_str(&format!(
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" {size} {} NIL NIL NIL NIL)",
            size / 40
        ));
    } else {
        s.push_str(&format!(
            "(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\" \"FORMAT\" \"flowed\") NIL \"HTML version\" \"QUOTED-PRINTABLE\" {size} {} NIL (\"inline\" NIL) NIL NIL)",
            size / 60
        ));
    }
}

fn attachment_part(rng: &mut Rng, s: &mut String) {
    let size = rng.range(1_000, 2_000_000);
    if rng.chance(60) {
        s.push_str(&format!(
            "(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") NIL NIL \"BASE64\" {size} NIL (\"attachment\" (\"filename\" \"a.pdf\")) NIL NIL)"
        ));
    } else {
        s.push_str(&format!(
            "(\"IMAGE\" \"PNG\" (\"NAME\" \"logo.png\") \"<part1.{}@example.com>\" \"company logo\" \"BASE64\" {size} NIL (\"inline\" (\"filename\" \"logo.png\")) (\"en\" \"de\") \"http://example.com/logo.png\")",
            rng.below(100_000)
        ));
    }
}

/// message/rfc822 with nested envelope and body.
fn message_part(rng: &mut Rng, s: &mut String) {
    let size = rng.range(1_000, 100_000);
    s.push_str(&format!(
        "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" {size} "
    ));
    envelope(rng, s);
    s.push(' ');
    if rng.chance(50) {
        text_part(rng, s);
    } else {
        s.push('(');
        text_part(rng, s);
        text_part(rng, s);
        s.push_str(" \"ALTERNATIVE\" (\"BOUNDARY\" \"alt-b1\") NIL NIL NIL)");
    }
    s.push_str(&format!(
        " {} NIL (\"attachment\" (\"filename\" \"fwd.eml\")) NIL NIL)",
        size / 50
    ));
}

fn bodystructure(rng: &mut Rng, s: &mut String) {
    if rng.chance(45) {
        text_part(rng, s);
        return;
    }
    s.push('(');
    text_part(rng, s);
    let parts = rng.range(2, 4);
    for _ in 1..parts {
        if rng.chance(30) {
            message_part(rng, s);
        } else {
            attachment_part(rng, s);
        }
    }
    s.push_str(&format!(
        " \"MIXED\" (\"BOUNDARY\" \"----=_Part_{}_{}\") NIL NIL NIL)",
        rng.below(1_000_000),
        rng.below(1_000_000)
    ));
}

fn internaldate(rng: &mut Rng) -> String {
    format!(
        "\"{:02}-{}-{} {:02}:{:02}:{:02} -0700\"",
        rng.range(1, 28),
        rng.pick(&MONTHS),
        rng.range(1996, 2024),
        rng.below(24),
        rng.below(60),
        rng.below(60)
    )
}

/// Input 2: a realistic mix of server responses.
fn gen_mixed() -> Input {
    const N: usize = 2_000;
    let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
    let mut out: Vec<u8> = Vec::with_capacity(8 << 20);
    let mut tag = 1u64;
    let mut uid = 4_000u64;
    let weights = [35, 7, 12, 6, 4, 4, 3, 3, 3, 3, 2, 6, 1, 5, 3, 2, 1];
    for _ in 0..N {
        let seq = rng.range(1, 5_000);
        uid += rng.range(1, 5);
        let mut s = String::new();
        match rng.weighted(&weights) {
            0 => {
                s.push_str(&format!("* {seq} FETCH (UID {uid} FLAGS ("));
                flag_list(&mut rng, &mut s);
                s.push_str(&format!(
                    ") INTERNALDATE {} RFC822.SIZE {} ENVELOPE ",
                    internaldate(&mut rng),
                    rng.range(500, 3_000_000)
                ));
                envelope(&mut rng, &mut s);
                s.push_str(" BODYSTRUCTURE ");
                bodystructure(&mut rng, &mut s);
                s.push_str(")\r\n");
            }
            1 => {
                let section = rng.pick(&["BODY[]", "BODY[TEXT]", "BODY[HEADER.FIELDS (FROM SUBJECT)]"]);
                let n = rng.log_uniform(200.0, 200_000.0);
                let flags_first = rng.chance(50);
                s.push_str(&format!("* {seq} FETCH (UID {uid} "));
                if flags_first {
                    s.push_str("FLAGS (\\Seen) ");
                }
                s.push_str(&format!("{section} {{{n}}}\r\n"));
                out.extend_from_slice(s.as_bytes());
                payload(&mut rng, n, &mut out);
                s.clear();
                if !flags_first {
                    s.push_str(" FLAGS (\\Seen)");
                }
                s.push_str(")\r\n");
            }
            2 => {
                s.push_str(&format!("* {seq} FETCH (FLAGS ("));
                flag_list(&mut rng, &mut s);
                s.push_str(&format!(") UID {uid})\r\n"));
            }
            3 => s.push_str(&format!("* {seq} EXISTS\r\n")),
            4 => s.push_str(&format!("* {} RECENT\r\n", rng.below(20))),
            5 => s.push_str(&format!("* {seq} EXPUNGE\r\n")),
            6 => s.push_str("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n"),
            7 => s.push_str(
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted.\r\n",
            ),
            8 => s.push_str(&format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", rng.range(1, 4_000_000_000))),
            9 => s.push_str(&format!("* OK [UIDNEXT {}] Predicted next UID\r\n", uid + 1)),
            10 => s.push_str(&format!("* OK [UNSEEN {seq}] Message {seq} is first unseen\r\n")),
            11 => {
                let t = rng.pick(&[
                    "OK [READ-WRITE] SELECT completed",
                    "OK [READ-ONLY] EXAMINE completed",
                    "OK FETCH completed",
                    "OK UID STORE completed",
                    "OK SEARCH completed (0.001 + 0.000 secs).",
                    "OK NOOP completed",
                ]);
                s.push_str(&format!("a{tag} {t}\r\n"));
                tag += 1;
            }
            12 => {
                let t = rng.pick(&[
                    "NO [TRYCREATE] Mailbox does not exist",
                    "BAD Error in IMAP command: Unknown command",
                    "NO [ALERT] Quota exceeded",
                ]);
                s.push_str(&format!("a{tag} {t}\r\n"));
                tag += 1;
            }
            13 => {
                let l = rng.pick(&[
                    "* LIST (\\HasNoChildren) \"/\" INBOX",
                    "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"",
                    "* LIST (\\HasChildren \\Noselect) \"/\" Archive",
                    "* LIST (\\HasNoChildren) \"/\" Archive/2023",
                    "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
                    "* LIST (\\Noinferiors) NIL Drafts",
                    "* LSUB () \".\" #news.comp.mail.misc",
                ]);
                s.push_str(l);
                s.push_str("\r\n");
            }
            14 => {
                s.push_str("* SEARCH");
                let mut n = 0;
                for _ in 0..rng.below(30) {
                    n += rng.range(1, 100);
                    s.push_str(&format!(" {n}"));
                }
                s.push_str("\r\n");
            }
            15 => s.push_str(&format!(
                "* STATUS {} (MESSAGES {} RECENT {} UIDNEXT {} UIDVALIDITY {} UNSEEN {})\r\n",
                rng.pick(&["INBOX", "\"Sent Items\"", "Archive/2023"]),
                rng.below(10_000),
                rng.below(10),
                uid,
                rng.range(1, 4_000_000_000),
                rng.below(100)
            )),
            16 => s.push_str(rng.pick(&[
                "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN\r\n",
                "+ idling\r\n",
                "* OK Still here\r\n",
            ])),
            _ => unreachable!(),
        }
        out.extend_from_slice(s.as_bytes());
    }
    Input {
        bytes: out,
        messages: N,
    }
}

/// A sequence set like `1:100`, `1,3:5,9`, `4827313:4828442` or `2:*`.
fn seq_set(rng: &mut Rng, base: u64) -> String {
    let mut s = String::new();
    let parts = rng.range(1, 4);
    let mut n = base + rng.range(1, 100);
    for i in 0..parts {
        if i > 0 {
            s.push(',');
        }
        match rng.below(4) {
            0 if i + 1 == parts => s.push_str(&format!("{n}:*")),
            0 | 1 => s.push_str(&format!("{n}")),
            _ => {
                let m = n + rng.range(1, 2_000);
                s.push_str(&format!("{n}:{m}"));
                n = m;
            }
        }
        n += rng.range(2, 50);
    }
    s
}

fn search_date(rng: &mut Rng) -> String {
    format!(
        "{}-{}-{}",
        rng.range(1, 28),
        rng.pick(&MONTHS),
        rng.range(1994, 2024)
    )
}

fn search_key(rng: &mut Rng, depth: u32, s: &mut String) {
    if depth < 2 && rng.chance(12) {
        s.push_str("OR ");
        search_key(rng, depth + 1, s);
        s.push(' ');
        search_key(rng, depth + 1, s);
        return;
    }
    if depth < 2 && rng.chance(12) {
        s.push_str("NOT ");
        search_key(rng, depth + 1, s);
        return;
    }
    match rng.below(16) {
        0 => s.push_str(rng.pick(&[
            "ALL", "SEEN", "UNSEEN", "FLAGGED", "DELETED", "ANSWERED", "NEW", "RECENT",
        ])),
        1 => s.push_str(&format!("FROM \"{}\"", rng.pick(&MAILBOXES))),
        2 => s.push_str(&format!(
            "TO \"{}@{}\"",
            rng.pick(&MAILBOXES),
            rng.pick(&HOSTS)
        )),
        3 => s.push_str(rng.pick(&[
            "SUBJECT \"hello world\"",
            "SUBJECT invoice",
            "SUBJECT \"Re: \\\"Q3\\\"\"",
        ])),
        4 => s.push_str(rng.pick(&["BODY \"quarterly report\"", "TEXT \"x\"", "TEXT meeting"])),
        5 => s.push_str(&format!("SINCE {}", search_date(rng))),
        6 => s.push_str(&format!("BEFORE {}", search_date(rng))),
        7 => s.push_str(&format!("ON {}", search_date(rng))),
        8 => s.push_str(&format!("SENTSINCE {}", search_date(rng))),
        9 => s.push_str(&format!("LARGER {}", rng.range(100, 1_000_000))),
        10 => s.push_str(&format!("SMALLER {}", rng.range(100, 1_000_000))),
        11 => s.push_str(&format!("UID {}", seq_set(rng, 1000))),
        12 => s.push_str("HEADER \"Message-ID\" \"<B27397-0100000@cac.washington.edu>\""),
        13 => s.push_str("KEYWORD $Forwarded"),
        14 => s.push_str(&seq_set(rng, 0)),
        _ => s.push_str(&format!("CC \"{}\"", rng.pick(&NAMES).replace("\\\"", ""))),
    }
}

/// Input 3: tagged client commands, including APPEND with synchronizing literals.
fn gen_commands() -> Input {
    const N: usize = 20_000;
    let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
    let mut out: Vec<u8> = Vec::with_capacity(8 << 20);
    let weights = [12, 12, 6, 10, 4, 10, 5, 8, 6, 6, 8, 5, 2, 6];
    for i in 1..=N {
        let mut s = format!("a{i} ");
        match rng.weighted(&weights) {
            0 => {
                let items = rng.pick(&[
                    "(UID FLAGS ENVELOPE BODYSTRUCTURE)",
                    "(FLAGS)",
                    "FAST",
                    "ALL",
                    "FULL",
                    "(UID RFC822.SIZE INTERNALDATE FLAGS)",
                    "(UID BODYSTRUCTURE)",
                    "RFC822.HEADER",
                ]);
                s.push_str(&format!("FETCH {} {items}", seq_set(&mut rng, 0)));
            }
            1 => {
                let items = rng.pick(&[
                    "(FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])",
                    "(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID IN-REPLY-TO)])",
                    "(FLAGS BODY.PEEK[HEADER.FIELDS.NOT (X-SPAM-STATUS RECEIVED)])",
                    "(FLAGS)",
                ]);
                s.push_str(&format!(
                    "UID FETCH {} {items}",
                    seq_set(&mut rng, 4_827_000)
                ));
            }
            2 => {
                let items = rng.pick(&[
                    "BODY.PEEK[]",
                    "(UID BODY[TEXT]<0.2048>)",
                    "(BODY.PEEK[1.2.MIME] BODY.PEEK[1.2]<0.1024>)",
                    "BODY[HEADER]",
                    "(BODY.PEEK[1] BODY.PEEK[2.TEXT])",
                ]);
                s.push_str(&format!("FETCH {} {items}", rng.range(1, 10_000)));
            }
            3 => {
                let op = rng.pick(&["+FLAGS.SILENT", "-FLAGS.SILENT", "+FLAGS", "-FLAGS"]);
                s.push_str(&format!("UID STORE {} {op} (", seq_set(&mut rng, 0)));
                let mut f = String::new();
                flag_list(&mut rng, &mut f);
                if f.is_empty() {
                    f.push_str("\\Seen \\Flagged");
                }
                s.push_str(&f);
                s.push(')');
            }
            4 => {
                s.push_str(&format!("STORE {} FLAGS (", rng.range(1, 10_000)));
                flag_list(&mut rng, &mut s);
                s.push(')');
            }
            5 => {
                if rng.chance(10) {
                    s.push_str("SEARCH OR FROM \"alice\" NOT SEEN SINCE 1-Feb-1994 BEFORE 3-Mar-2020 SUBJECT \"hello world\" LARGER 1000");
                } else {
                    s.push_str("SEARCH");
                    for _ in 0..rng.range(1, 5) {
                        s.push(' ');
                        search_key(&mut rng, 0, &mut s);
                    }
                }
            }
            6 => {
                s.push_str("UID SEARCH CHARSET UTF-8");
                for _ in 0..rng.range(1, 3) {
                    s.push(' ');
                    search_key(&mut rng, 0, &mut s);
                }
            }
            7 => s.push_str(rng.pick(&[
                "SELECT INBOX",
                "SELECT \"Sent Items\"",
                "EXAMINE Archive/2023",
                "SELECT Drafts",
            ])),
            8 => s.push_str(rng.pick(&[
                "LIST \"\" \"*\"",
                "LIST \"\" %",
                "LIST Archive/ \"2023/%\"",
                "LSUB \"\" \"*\"",
                "LIST \"\" \"\"",
            ])),
            9 => s.push_str(rng.pick(&[
                "STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)",
                "STATUS \"Sent Items\" (MESSAGES UNSEEN)",
                "STATUS Archive/2023 (UIDNEXT)",
            ])),
            10 => s.push_str(rng.pick(&["NOOP", "CHECK", "EXPUNGE", "CLOSE", "CAPABILITY"])),
            11 => {
                let cmd = rng.pick(&["UID COPY", "COPY"]);
                let to = rng.pick(&["Archive/2023", "\"Sent Items\"", "Trash"]);
                s.push_str(&format!("{cmd} {} {to}", seq_set(&mut rng, 0)));
            }
            12 => {
                let n = rng.log_uniform(200.0, 50_000.0);
                match rng.below(3) {
                    0 => s.push_str(&format!(
                        "APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {{{n}}}\r\n"
                    )),
                    1 => s.push_str(&format!(
                        "APPEND \"Sent Items\" (\\Seen \\Draft) {{{n}}}\r\n"
                    )),
                    _ => s.push_str(&format!("APPEND Drafts {{{n}}}\r\n")),
                }
                out.extend_from_slice(s.as_bytes());
                payload(&mut rng, n, &mut out);
                s.clear();
            }
            13 => s.push_str(rng.pick(&[
                "CREATE Archive/2024",
                "DELETE Archive/2019",
                "RENAME \"Old Stuff\" Archive/old",
                "SUBSCRIBE \"Sent Items\"",
                "UNSUBSCRIBE Trash",
            ])),
            _ => unreachable!(),
        }
        s.push_str("\r\n");
        out.extend_from_slice(s.as_bytes());
    }
    Input {
        bytes: out,
        messages: N,
    }
}

// ------------------------------------------------------------------------------------------------
// Decode loops (each returns the number of decoded messages)
// ------------------------------------------------------------------------------------------------

/// `next()` until `Ok(None)`, counting messages. A macro because pimap's two decoders share no
/// trait.
macro_rules! drain {
    ($d:expr, $count:ident) => {
        loop {
            match $d.next() {
                Ok(Some(m)) => {
                    $count += 1;
                    black_box(m);
                }
                Ok(None) => break,
                Err(e) => panic!("pimap: message {}: {e}", $count + 1),
            }
        }
    };
}

fn pimap_responses_whole(input: &[u8]) -> usize {
    let mut count = 0;
    let mut d = ResponseDecoder::default();
    d.feed(input);
    drain!(d, count);
    count
}

fn pimap_responses_chunked(input: &[u8]) -> usize {
    let mut count = 0;
    let mut d = ResponseDecoder::default();
    for chunk in input.chunks(CHUNK) {
        d.feed(chunk);
        drain!(d, count);
    }
    count
}

fn pimap_commands_whole(input: &[u8]) -> usize {
    let mut count = 0;
    let mut d = CommandDecoder::default();
    d.feed(input);
    drain!(d, count);
    count
}

fn pimap_commands_chunked(input: &[u8]) -> usize {
    let mut count = 0;
    let mut d = CommandDecoder::default();
    for chunk in input.chunks(CHUNK) {
        d.feed(chunk);
        drain!(d, count);
    }
    count
}

/// The next bytes of `rest`, for error messages.
fn snippet(rest: &[u8]) -> String {
    String::from_utf8_lossy(&rest[..rest.len().min(200)]).into_owned()
}

fn imap_codec_responses_whole(input: &[u8]) -> usize {
    let codec = ResponseCodec::new();
    let mut count = 0;
    let mut rest = input;
    while !rest.is_empty() {
        match codec.decode(rest) {
            Ok((r, m)) => {
                count += 1;
                black_box(m);
                rest = r;
            }
            // imap-codec reports a literal only when its announcement `{n}\r\n` ends the input
            // (no literal byte is there yet). Nor that nor `Incomplete` happens on a complete stream.
            Err(
                e @ (ResponseDecodeError::Incomplete | ResponseDecodeError::LiteralFound { .. }),
            ) => {
                panic!(
                    "imap-codec: truncated input at message {}: {e:?}",
                    count + 1
                )
            }
            Err(ResponseDecodeError::Failed) => {
                panic!(
                    "imap-codec: message {} rejected: {:?}",
                    count + 1,
                    snippet(rest)
                )
            }
        }
    }
    count
}

fn imap_codec_commands_whole(input: &[u8]) -> usize {
    let codec = CommandCodec::new();
    let mut count = 0;
    let mut rest = input;
    while !rest.is_empty() {
        match codec.decode(rest) {
            Ok((r, m)) => {
                count += 1;
                black_box(m);
                rest = r;
            }
            // `LiteralFound` means "the input ends right after `{n}\r\n`: send `+` and wait for
            // the literal". All the literal bytes are already in `rest`, so imap-codec never
            // reports it here (it parses through synchronizing literals whose data is present).
            Err(e @ (CommandDecodeError::Incomplete | CommandDecodeError::LiteralFound { .. })) => {
                panic!(
                    "imap-codec: truncated input at message {}: {e:?}",
                    count + 1
                )
            }
            Err(CommandDecodeError::Failed) => {
                panic!(
                    "imap-codec: message {} rejected: {:?}",
                    count + 1,
                    snippet(rest)
                )
            }
        }
    }
    count
}

/// imap-codec's chunked reading: a `Fragmentizer` splits the stream into lines and literals
/// (as imap-next does on a socket) and each complete message is decoded on its own. The
/// `Fragmentizer` has already collected a command's literal data before the message is decoded,
/// so `LiteralFound` cannot occur (a server would send its `+` when the fragmentizer reports a
/// line announcing a synchronizing literal; there is nothing to send here).
macro_rules! imap_codec_chunked {
    ($name:ident, $codec:ty) => {
        fn $name(input: &[u8]) -> usize {
            let codec = <$codec>::new();
            let mut f = Fragmentizer::new(MAX_MESSAGE);
            let mut count = 0;
            for chunk in input.chunks(CHUNK) {
                f.enqueue_bytes(chunk);
                while f.progress().is_some() {
                    if !f.is_message_complete() {
                        continue;
                    }
                    match f.decode_message(&codec) {
                        Ok(m) => {
                            count += 1;
                            black_box(m);
                        }
                        Err(DecodeMessageError::DecodingFailure(e)) => {
                            panic!(
                                "imap-codec: message {} rejected ({e:?}): {:?}",
                                count + 1,
                                snippet(f.message_bytes())
                            )
                        }
                        Err(DecodeMessageError::DecodingRemainder { .. }) => {
                            panic!(
                                "imap-codec: message {} has a remainder: {:?}",
                                count + 1,
                                snippet(f.message_bytes())
                            )
                        }
                        Err(_) => panic!("imap-codec: message {} too long or poisoned", count + 1),
                    }
                }
            }
            count
        }
    };
}

imap_codec_chunked!(imap_codec_responses_chunked, ResponseCodec);
imap_codec_chunked!(imap_codec_commands_chunked, CommandCodec);

// ------------------------------------------------------------------------------------------------
// Criterion groups
// ------------------------------------------------------------------------------------------------

type DecodeFn = fn(&[u8]) -> usize;

fn run_group(c: &mut Criterion, name: &str, input: &Input, fns: [(&str, DecodeFn); 4]) {
    eprintln!(
        "{name}: {} bytes ({:.2} MB), {} messages",
        input.bytes.len(),
        input.bytes.len() as f64 / 1e6,
        input.messages
    );
    // Check once, outside timing, that every decoder decodes every message.
    for (id, f) in &fns {
        assert_eq!(
            f(&input.bytes),
            input.messages,
            "{name} {id}: message count"
        );
    }
    let mut g: BenchmarkGroup<'_, WallTime> = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(input.bytes.len() as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat);
    for (id, f) in fns {
        g.bench_function(id, |b| b.iter(|| f(black_box(&input.bytes))));
    }
    g.finish();
}

fn response_fns() -> [(&'static str, DecodeFn); 4] {
    [
        ("pimap/whole", pimap_responses_whole),
        ("pimap/chunked_4k", pimap_responses_chunked),
        ("imap-codec/whole", imap_codec_responses_whole),
        ("imap-codec/chunked_4k", imap_codec_responses_chunked),
    ]
}

fn bench_push(c: &mut Criterion) {
    run_group(c, "push", &gen_push(), response_fns());
}

fn bench_mixed(c: &mut Criterion) {
    run_group(c, "mixed", &gen_mixed(), response_fns());
}

fn bench_commands(c: &mut Criterion) {
    run_group(
        c,
        "commands",
        &gen_commands(),
        [
            ("pimap/whole", pimap_commands_whole),
            ("pimap/chunked_4k", pimap_commands_chunked),
            ("imap-codec/whole", imap_codec_commands_whole),
            ("imap-codec/chunked_4k", imap_codec_commands_chunked),
        ],
    );
}

criterion_group!(benches, bench_push, bench_mixed, bench_commands);
criterion_main!(benches);
