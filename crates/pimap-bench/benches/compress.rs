//! Compression benchmarks of `pimap::compress`: every DEFLATE backend compiled in
//! (`miniz_oxide` always; `zlib-rs` with the `zlib-rs` feature, on by default) at levels 1, 6
//! and 9, on a stream where each message is compressed with a sync flush, as COMPRESS=DEFLATE
//! and pushed events do.
//!
//! # Inputs
//!
//! Both are generated when the bench starts by a xorshift PRNG with a fixed seed.
//!
//! * `push`: 10 000 untagged push responses averaging about 44 bytes: 75 %
//!   `* n FETCH (UID u FLAGS (...))` (mostly `\Seen`, else a subset of `\Seen \Answered
//!   \Flagged \Deleted \Draft $Forwarded`; 40 % of them with `MODSEQ (m)` as CONDSTORE servers
//!   send), 13 % `* n EXISTS`, 12 % `* n EXPUNGE`, with slowly moving numbers.
//! * `mixed`: 1 000 responses of a mail session: flag FETCHes, EXISTS/EXPUNGE, status
//!   responses, FETCHes with ENVELOPE + BODYSTRUCTURE + INTERNALDATE + RFC822.SIZE, and about
//!   15 % `BODY[]` literals of 1 to 8 KB (English-like text in CRLF lines, some with a base64
//!   attachment part).
//!
//! # Functions
//!
//! For each input (criterion group) and each `backend/level`:
//!
//! * `compress`: one fresh `Deflater`; every message goes through `compress_sync` into a
//!   reused buffer;
//! * `decompress`: one fresh `Inflater` (raw DEFLATE, default limits) inflates the messages
//!   compressed beforehand by the same backend and level, one sync-flushed message per call;
//! * `roundtrip`: per message, compress then decompress (what one event costs end to end).
//!
//! Throughput is in elements (messages): criterion's `thrpt` is messages/s, and µs per
//! message = time / count.
//!
//! Before the criterion runs, a summary table is printed (stdout): bytes per message, and
//! µs per message for compress, decompress and both (best of 7 timed passes), for every
//! configuration, against the targets of at most 25 bytes and at most 1 µs per push event.
//!
//! # Running
//!
//! ```text
//! cargo bench --bench compress                       # summary + all criterion runs (~4 min)
//! cargo bench --bench compress -- push               # one group
//! cargo bench --bench compress -- 'zlib-rs/L1/'      # one configuration
//! cargo bench --bench compress --no-default-features # miniz_oxide only
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pimap::compress::{Backend, Deflater, Format, Inflater, Limits};

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
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const FLAGS: [&str; 6] = [
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "$Forwarded",
];

fn flag_list(rng: &mut Rng) -> String {
    // Weighted towards the common cases: \Seen alone, nothing, \Seen with one more.
    match rng.below(10) {
        0..=3 => "\\Seen".to_string(),
        4 => String::new(),
        5..=7 => format!("\\Seen {}", rng.pick(&FLAGS[1..])),
        _ => {
            let mask = rng.below(64);
            let picked: Vec<&str> = FLAGS
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, f)| *f)
                .collect();
            picked.join(" ")
        }
    }
}

/// Input 1: 10 000 push events.
fn gen_push() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut exists = 4_000u64;
    let mut uid = 120_000u64;
    let mut modseq = 9_100_000u64;
    (0..10_000)
        .map(|_| {
            let m = match rng.below(100) {
                0..=74 => {
                    let n = exists - rng.below(40.min(exists - 1));
                    let u = uid - (exists - n) - rng.below(3);
                    modseq += rng.range(1, 4);
                    if rng.chance(40) {
                        format!(
                            "* {n} FETCH (UID {u} MODSEQ ({modseq}) FLAGS ({}))\r\n",
                            flag_list(&mut rng)
                        )
                    } else {
                        format!("* {n} FETCH (UID {u} FLAGS ({}))\r\n", flag_list(&mut rng))
                    }
                }
                75..=87 => {
                    exists += 1;
                    uid += rng.range(1, 2);
                    format!("* {exists} EXISTS\r\n")
                }
                _ => {
                    let n = exists - rng.below(40.min(exists - 1));
                    exists -= 1;
                    format!("* {n} EXPUNGE\r\n")
                }
            };
            m.into_bytes()
        })
        .collect()
}

const WORDS: [&str; 48] = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "meeting",
    "project",
    "tomorrow",
    "please",
    "attached",
    "report",
    "thanks",
    "regards",
    "schedule",
    "review",
    "update",
    "budget",
    "team",
    "customer",
    "release",
    "server",
    "message",
    "mailbox",
    "notification",
    "Friday",
    "agenda",
];
const NAMES: [&str; 8] = [
    "Alice Example",
    "Bob Smith",
    "Carol Jones",
    "Dave O'Brien",
    "Erin Lee",
    "Mallory",
    "Terry Gray",
    "Postmaster",
];
const DOMAINS: [&str; 4] = [
    "example.com",
    "example.org",
    "mail.example.net",
    "corp.example",
];

fn sentence_text(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n + 80);
    let mut col = 0;
    while s.len() < n {
        let w = rng.pick(&WORDS);
        s.push_str(w);
        col += w.len() + 1;
        if col > 70 {
            s.push_str(".\r\n");
            col = 0;
        } else {
            s.push(' ');
        }
    }
    s
}

fn base64_block(rng: &mut Rng, n: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(n + n / 76 * 2);
    for i in 0..n {
        s.push(B64[rng.below(64) as usize] as char);
        if i % 76 == 75 {
            s.push_str("\r\n");
        }
    }
    s
}

fn address(rng: &mut Rng) -> String {
    let name = rng.pick(&NAMES);
    let mbox = name
        .split(' ')
        .next()
        .unwrap_or("x")
        .to_lowercase()
        .replace('\'', "");
    format!("(\"{name}\" NIL \"{mbox}\" \"{}\")", rng.pick(&DOMAINS))
}

/// Input 2: 1 000 responses of a mail session.
fn gen_mixed() -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
    let mut out = Vec::with_capacity(1000);
    let mut uid = 50_000u64;
    for i in 0..1000u64 {
        let n = 1 + i;
        uid += rng.range(1, 3);
        let r = match rng.below(100) {
            0..=29 => format!("* {n} FETCH (UID {uid} FLAGS ({}))\r\n", flag_list(&mut rng)),
            30..=39 => format!("* {n} EXISTS\r\n"),
            40..=44 => format!("* {} EXPUNGE\r\n", rng.range(1, n)),
            45..=49 => format!(
                "* OK [UIDNEXT {}] Predicted next UID\r\nA{i:04} OK [READ-WRITE] SELECT completed\r\n",
                uid + 1
            ),
            50..=84 => {
                let subject_len = rng.range(20, 60) as usize;
                let subject = sentence_text(&mut rng, subject_len);
                let subject = subject.trim_end().replace("\r\n", " ");
                let from = address(&mut rng);
                let to: Vec<String> = (0..rng.range(1, 4)).map(|_| address(&mut rng)).collect();
                let size = rng.range(800, 200_000);
                let lines = size / 60;
                let bodystructure = if rng.chance(50) {
                    format!(
                        "(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" {size} {lines} NIL NIL NIL NIL)"
                    )
                } else {
                    format!(
                        "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" {} {} NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" {} {} NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"=_b{uid}\") NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"report-{uid}.pdf\") NIL NIL \"base64\" {size} NIL (\"attachment\" (\"filename\" \"report-{uid}.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"=_a{uid}\") NIL NIL NIL)",
                        size / 4,
                        lines / 4,
                        size / 3,
                        lines / 3
                    )
                };
                format!(
                    "* {n} FETCH (UID {uid} RFC822.SIZE {size} INTERNALDATE \"{:02}-Mar-2024 {:02}:{:02}:{:02} +0000\" ENVELOPE (\"Mon, {:02} Mar 2024 10:00:00 +0000\" \"{subject}\" ({from}) ({from}) ({from}) ({}) NIL NIL NIL \"<{uid}.{}@{}>\") BODYSTRUCTURE ({bodystructure}))\r\n",
                    rng.range(1, 28),
                    rng.range(0, 23),
                    rng.range(0, 59),
                    rng.range(0, 59),
                    rng.range(1, 28),
                    to.join(""),
                    rng.next_u64() % 1_000_000,
                    rng.pick(&DOMAINS)
                )
            }
            _ => {
                let mut body = format!(
                    "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: Mon, 4 Mar 2024 10:00:00 +0000\r\nMessage-ID: <{uid}@example.com>\r\nMIME-Version: 1.0\r\n",
                    rng.pick(&NAMES),
                    rng.pick(&NAMES),
                    sentence_text(&mut rng, 40).trim_end()
                );
                let text_len = rng.range(1000, 6000) as usize;
                if rng.chance(30) {
                    body.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\n");
                    body.push_str(&sentence_text(&mut rng, text_len / 2));
                    body.push_str("\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n");
                    body.push_str(&base64_block(&mut rng, 2000));
                    body.push_str("\r\n--b--\r\n");
                } else {
                    body.push_str("Content-Type: text/plain\r\n\r\n");
                    body.push_str(&sentence_text(&mut rng, text_len));
                }
                format!("* {n} FETCH (UID {uid} BODY[] {{{}}}\r\n{body})\r\n", body.len())
            }
        };
        out.push(r.into_bytes());
    }
    out
}

const LEVELS: [u8; 3] = [1, 6, 9];

/// Can `miniz_oxide` be driven to avoid its per-message cost? Drives it directly on the push
/// input: compressor flags (default, all fixed-Huffman blocks, all stored blocks) and two ways
/// of inflating (the `InflateState` stream API, as the crate does, and `DecompressorOxide`
/// with an own 32 KiB wrapping window).
fn miniz_investigation(msgs: &[Vec<u8>]) {
    use miniz_oxide::deflate::core::{
        compress, create_comp_flags_from_zip_params, deflate_flags, CompressorOxide, TDEFLFlush,
    };
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    use miniz_oxide::inflate::stream::{inflate, InflateState};
    use miniz_oxide::inflate::TINFLStatus;
    use miniz_oxide::{DataFormat, MZFlush};

    println!("\nminiz_oxide driven directly, push input (us per message, best of 7):");
    println!("| level, blocks | bytes/msg | compress | inflate (InflateState) | inflate (DecompressorOxide) |");
    println!("|---|---|---|---|---|");
    let mut buf = vec![0u8; 1 << 16];
    for level in [1, 6] {
        for (name, extra) in [
            ("default", 0),
            ("fixed", deflate_flags::TDEFL_FORCE_ALL_STATIC_BLOCKS),
            ("stored", deflate_flags::TDEFL_FORCE_ALL_RAW_BLOCKS),
        ] {
            let flags = create_comp_flags_from_zip_params(level, -15, 0) | extra;
            let mut chunks = Vec::new();
            let c = best_us(7, msgs.len(), || {
                let mut comp = Box::new(CompressorOxide::new(flags));
                chunks.clear();
                for m in msgs {
                    let (_, _, n) = compress(&mut comp, m, &mut buf, TDEFLFlush::Sync);
                    chunks.push(buf[..n].to_vec());
                }
            });
            let bytes: usize = chunks.iter().map(Vec::len).sum();
            let mut out = vec![0u8; 1 << 16];
            let s = best_us(7, msgs.len(), || {
                let mut st = InflateState::new_boxed(DataFormat::Raw);
                for z in &chunks {
                    let r = inflate(&mut st, z, &mut out, MZFlush::None);
                    assert_eq!(r.bytes_consumed, z.len());
                    black_box(r.bytes_written);
                }
            });
            let d = best_us(7, msgs.len(), || {
                let mut dec = Box::new(DecompressorOxide::new());
                let mut window = vec![0u8; 1 << 15];
                let mut pos = 0;
                for z in &chunks {
                    let mut input = &z[..];
                    loop {
                        let (st, used, n) = decompress(
                            &mut dec,
                            input,
                            &mut window,
                            pos,
                            inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
                                | inflate_flags::TINFL_FLAG_IGNORE_ADLER32,
                        );
                        input = &input[used..];
                        pos = (pos + n) & ((1 << 15) - 1);
                        black_box(n);
                        if input.is_empty() && st != TINFLStatus::HasMoreOutput {
                            break;
                        }
                    }
                }
            });
            println!(
                "| {level}, {name} | {:.2} | {c:.3} | {s:.3} | {d:.3} |",
                bytes as f64 / msgs.len() as f64
            );
        }
    }
}

/// Compress every message with a sync flush, one stream.
fn compress_all(backend: Backend, level: u8, msgs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut d = Deflater::with_backend(level, backend);
    msgs.iter()
        .map(|m| {
            let mut out = Vec::new();
            d.compress_sync(m, &mut out);
            out
        })
        .collect()
}

fn run_compress(backend: Backend, level: u8, msgs: &[Vec<u8>]) -> usize {
    let mut d = Deflater::with_backend(level, backend);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut total = 0;
    for m in msgs {
        out.clear();
        d.compress_sync(black_box(m), &mut out);
        total += out.len();
    }
    black_box(total)
}

fn run_decompress(backend: Backend, chunks: &[Vec<u8>]) -> usize {
    let mut i = Inflater::with_backend(Some(Format::Raw), Limits::default(), backend);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut total = 0;
    for c in chunks {
        out.clear();
        i.inflate(black_box(c), &mut out).expect("valid stream");
        total += out.len();
    }
    black_box(total)
}

fn run_roundtrip(backend: Backend, level: u8, msgs: &[Vec<u8>]) -> usize {
    let mut d = Deflater::with_backend(level, backend);
    let mut i = Inflater::with_backend(Some(Format::Raw), Limits::default(), backend);
    let (mut wire, mut plain) = (Vec::with_capacity(64 * 1024), Vec::with_capacity(64 * 1024));
    let mut total = 0;
    for m in msgs {
        wire.clear();
        plain.clear();
        d.compress_sync(black_box(m), &mut wire);
        i.inflate(&wire, &mut plain).expect("valid stream");
        total += plain.len();
    }
    black_box(total)
}

/// Best of `reps` timed runs, in µs per message.
fn best_us(reps: usize, n: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn summary(name: &str, msgs: &[Vec<u8>]) {
    let raw: usize = msgs.iter().map(Vec::len).sum();
    println!(
        "\n{name}: {} messages, {:.1} bytes/message raw (targets for push: <= 25 bytes and <= 1 us compress+decompress per event)",
        msgs.len(),
        raw as f64 / msgs.len() as f64
    );
    println!("| backend, level | bytes/msg | ratio | compress us/msg | decompress us/msg | both us/msg | compress msgs/s | decompress msgs/s |");
    println!("|---|---|---|---|---|---|---|---|");
    for &b in Backend::ALL {
        for level in LEVELS {
            let chunks = compress_all(b, level, msgs);
            let bytes: usize = chunks.iter().map(Vec::len).sum();
            let c = best_us(7, msgs.len(), || {
                run_compress(b, level, msgs);
            });
            let d = best_us(7, msgs.len(), || {
                run_decompress(b, &chunks);
            });
            let rt = best_us(7, msgs.len(), || {
                run_roundtrip(b, level, msgs);
            });
            println!(
                "| {} {level} | {:.2} | {:.3} | {c:.3} | {d:.3} | {rt:.3} | {:.0} | {:.0} |",
                b.name(),
                bytes as f64 / msgs.len() as f64,
                bytes as f64 / raw as f64,
                1e6 / c,
                1e6 / d,
            );
        }
    }
}

fn bench_input(c: &mut Criterion, name: &str, msgs: &[Vec<u8>]) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.sample_size(20);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    for &b in Backend::ALL {
        for level in LEVELS {
            let id = format!("{}/L{level}", b.name());
            let chunks = compress_all(b, level, msgs);
            g.bench_function(format!("{id}/compress"), |bench| {
                bench.iter(|| run_compress(b, level, msgs))
            });
            g.bench_function(format!("{id}/decompress"), |bench| {
                bench.iter(|| run_decompress(b, &chunks))
            });
            g.bench_function(format!("{id}/roundtrip"), |bench| {
                bench.iter(|| run_roundtrip(b, level, msgs))
            });
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let mut push = gen_push();
    let mut mixed = gen_mixed();
    let bench_mode = std::env::args().any(|a| a == "--bench");
    if !bench_mode {
        // `cargo test` runs each function once, unoptimised: a slice of the inputs will do.
        push.truncate(500);
        mixed.truncate(50);
    }
    // Sanity: every configuration round-trips both inputs.
    for &b in Backend::ALL {
        for level in LEVELS {
            for msgs in [&push, &mixed] {
                let mut i = Inflater::with_backend(Some(Format::Raw), Limits::default(), b);
                for (m, z) in msgs.iter().zip(compress_all(b, level, msgs)) {
                    let mut out = Vec::new();
                    i.inflate(&z, &mut out).expect("valid stream");
                    assert_eq!(&out, m);
                }
            }
        }
    }
    // The summary only under `cargo bench` (not when `cargo test` runs the bench once).
    if bench_mode {
        summary("push", &push);
        summary("mixed", &mixed);
        miniz_investigation(&push);
    }
    bench_input(c, "push", &push);
    bench_input(c, "mixed", &mixed);
}

criterion_group!(compress, benches);
criterion_main!(compress);
