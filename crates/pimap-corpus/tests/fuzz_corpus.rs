//! Replays the fuzz corpora (`fuzz/corpus/<target>.pack.gz`, see `fuzz/corpus.py`) and the saved crash inputs
//! (`fuzz/regressions/<target>/*`) on stable Rust, through copies of the fuzz target bodies
//! (`fuzz/fuzz_targets/<target>.rs`; keep the two in sync). No input may panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use pimap::codec::{
    CommandDecoder, DecoderOptions, Dialect, Encode, Framer, FramerLimits, ResponseDecoder, Role,
    Tolerance,
};
use pimap::types::{ClientMessage, CommandBody, Response};

// ---- fuzz_targets/command_decoder.rs -------------------------------------------------------

fn command_decoder(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let opts = DecoderOptions {
        tolerance: if first & 0x80 != 0 {
            Tolerance::Strict
        } else {
            Tolerance::Drafts
        },
        limits: if first & 0x40 != 0 {
            FramerLimits {
                max_line: 256,
                max_literal: 512,
                max_message: 1024,
            }
        } else {
            FramerLimits::default()
        },
        max_depth: if first & 0x40 != 0 { Some(8) } else { None },
    };
    let at = rest.len() * usize::from(first & 0x3f) / 63;
    let mut d = CommandDecoder::new(opts);
    let mut budget = 2 * rest.len() + 64;
    for piece in [&rest[..at], &rest[at..]] {
        d.feed(piece);
        let _ = d.take_continuation_request();
        loop {
            budget = budget
                .checked_sub(1)
                .expect("CommandDecoder makes no progress");
            match d.next() {
                Ok(None) => break,
                Ok(Some(ClientMessage::Command(c))) => {
                    if matches!(
                        c.body,
                        CommandBody::Authenticate {
                            initial_response: None,
                            ..
                        }
                    ) {
                        d.set_authenticate_data(true);
                    }
                }
                Ok(Some(ClientMessage::AuthData(_))) => d.set_authenticate_data(false),
                Ok(Some(_)) => {}
                Err(e) => {
                    let _ = e.tag();
                    let _ = e.to_string();
                }
            }
            let _ = d.take_continuation_request();
            let _ = d.awaiting_continuation();
        }
    }
    assert!(d.buffered_len() <= rest.len());
}

// ---- fuzz_targets/response_decoder.rs ------------------------------------------------------

fn response_decoder(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let opts = DecoderOptions {
        tolerance: if first & 0x80 != 0 {
            Tolerance::Strict
        } else {
            Tolerance::Drafts
        },
        limits: if first & 0x40 != 0 {
            FramerLimits {
                max_line: 256,
                max_literal: 512,
                max_message: 1024,
            }
        } else {
            FramerLimits::default()
        },
        max_depth: if first & 0x40 != 0 { Some(8) } else { None },
    };
    let at = rest.len() * usize::from(first & 0x3f) / 63;
    let mut d = ResponseDecoder::new(opts);
    let mut budget = 2 * rest.len() + 64;
    for piece in [&rest[..at], &rest[at..]] {
        d.feed(piece);
        loop {
            budget = budget
                .checked_sub(1)
                .expect("ResponseDecoder makes no progress");
            match d.next() {
                Ok(None) => break,
                Ok(Some(_)) => {}
                Err(e) => {
                    let _ = e.tag();
                    let _ = e.to_string();
                }
            }
        }
    }
    assert!(d.buffered_len() <= rest.len());
}

// ---- fuzz_targets/framer.rs ----------------------------------------------------------------

const LIMITS: FramerLimits = FramerLimits {
    max_line: 4096,
    max_literal: 1 << 16,
    max_message: 1 << 17,
};

fn frames(role: Role, input: &[u8], piece: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut f = Framer::new(role, LIMITS);
    let mut out = Vec::new();
    let mut budget = 2 * input.len() + 64;
    for chunk in input.chunks(piece.max(1)) {
        f.feed(chunk);
        let _ = f.take_continuation_request();
        loop {
            budget = budget.checked_sub(1).expect("Framer makes no progress");
            match f.next_frame() {
                Ok(None) => break,
                Ok(Some(frame)) => {
                    assert!(
                        frame.ends_with(b"\n"),
                        "frame does not end with LF: {frame:?}"
                    );
                    out.push(Ok(frame.to_vec()));
                }
                Err(e) => out.push(Err(e.to_string())),
            }
            let _ = f.take_continuation_request();
            let _ = f.awaiting_continuation();
        }
    }
    assert!(f.buffered_len() <= input.len());
    out
}

fn framer(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let role = if first & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let piece = usize::from(first >> 1) + 1;
    let pieces = frames(role, rest, piece);
    let whole = frames(role, rest, rest.len());
    let ok =
        |v: &[Result<Vec<u8>, String>]| v.iter().filter_map(|r| r.clone().ok()).collect::<Vec<_>>();
    assert_eq!(
        ok(&pieces),
        ok(&whole),
        "frames depend on how the input was split"
    );
}

// ---- fuzz_targets/roundtrip.rs -------------------------------------------------------------

fn check_response(v: &Response, opts: DecoderOptions) {
    let enc = v.to_bytes(Dialect::Draft08);
    let mut d = ResponseDecoder::new(opts);
    d.feed(&enc);
    match d.next() {
        Ok(Some(again)) => assert_eq!(
            &again,
            v,
            "re-decoded response differs; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
        other => panic!(
            "encoding of {v:?} does not decode: {other:?}; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
    }
    assert_eq!(
        d.buffered_len(),
        0,
        "encoding of {v:?} left bytes over: {:?}",
        String::from_utf8_lossy(&enc)
    );
}

fn check_command(v: &ClientMessage, opts: DecoderOptions) {
    let enc = v.to_bytes(Dialect::Draft08);
    let mut d = CommandDecoder::new(opts);
    d.set_authenticate_data(matches!(v, ClientMessage::AuthData(_)));
    d.feed(&enc);
    match d.next() {
        Ok(Some(again)) => assert_eq!(
            &again,
            v,
            "re-decoded command differs; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
        other => panic!(
            "encoding of {v:?} does not decode: {other:?}; encoding {:?}",
            String::from_utf8_lossy(&enc)
        ),
    }
    assert_eq!(
        d.buffered_len(),
        0,
        "encoding of {v:?} left bytes over: {:?}",
        String::from_utf8_lossy(&enc)
    );
}

fn roundtrip(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let opts = DecoderOptions {
        tolerance: if first & 1 != 0 {
            Tolerance::Strict
        } else {
            Tolerance::Drafts
        },
        ..DecoderOptions::default()
    };
    let mut budget = 2 * rest.len() + 64;
    let mut d = ResponseDecoder::new(opts);
    d.feed(rest);
    loop {
        budget = budget
            .checked_sub(1)
            .expect("ResponseDecoder makes no progress");
        match d.next() {
            Ok(None) => break,
            Ok(Some(v)) => check_response(&v, opts),
            Err(_) => {}
        }
    }
    let mut budget = 2 * rest.len() + 64;
    let mut d = CommandDecoder::new(opts);
    d.feed(rest);
    loop {
        budget = budget
            .checked_sub(1)
            .expect("CommandDecoder makes no progress");
        match d.next() {
            Ok(None) => break,
            Ok(Some(v)) => {
                check_command(&v, opts);
                match &v {
                    ClientMessage::Command(c)
                        if matches!(
                            c.body,
                            CommandBody::Authenticate {
                                initial_response: None,
                                ..
                            }
                        ) =>
                    {
                        d.set_authenticate_data(true)
                    }
                    ClientMessage::AuthData(_) => d.set_authenticate_data(false),
                    _ => {}
                }
            }
            Err(_) => {}
        }
    }
}

// ---- fuzz_targets/client.rs ---------------------------------------------------------------

fn client(data: &[u8]) {
    use pimap::client::{Client, ClientConfig};
    use std::time::{Duration, Instant};
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let now = Instant::now();
    let mut c = Client::new(ClientConfig::default());
    let user = if first & 1 != 0 { "joe#dev" } else { "joe" };
    let _ = c.login(user, "pw");
    if first & 2 != 0 {
        let _ = c.select("INBOX");
    }
    if first & 4 != 0 {
        let _ = c.idle();
    }
    if first & 8 != 0 {
        for p in rest.chunks(7) {
            c.handle_input(p, now);
            while c.poll_output().is_some() {}
        }
    } else {
        c.handle_input(rest, now);
    }
    let _ = c.noop();
    let _ = c.done();
    c.handle_timeout(now + Duration::from_secs(3600));
    while c.poll_output().is_some() {}
}

// ---- fuzz_targets/server.rs ---------------------------------------------------------------

fn server(data: &[u8]) {
    server_fuzz::run(data);
}

#[path = "../../../fuzz/shared/server_fuzz.rs"]
mod server_fuzz;

// ---- replay --------------------------------------------------------------------------------

/// A fuzz target: its name and the function that replays one input.
type Target = (&'static str, fn(&[u8]));

const TARGETS: &[Target] = &[
    ("command_decoder", command_decoder),
    ("response_decoder", response_decoder),
    ("framer", framer),
    ("roundtrip", roundtrip),
    ("client", client),
    ("server", server),
];

/// The workspace's `fuzz/` directory.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Input files of one directory (hidden files and README skipped); empty if it does not exist.
fn inputs(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let n = p.file_name().unwrap_or_default().to_string_lossy();
            !n.starts_with('.') && !n.ends_with(".md")
        })
        .collect();
    v.sort();
    v.iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

/// The inputs of one pack (`fuzz/corpus.py`): gzip of `u32 LE length, bytes` records,
/// inflated with the crate's own gzip reader.
fn pack(path: &Path) -> Vec<Vec<u8>> {
    let Ok(gz) = std::fs::read(path) else {
        return Vec::new();
    };
    let data = pimap::compress::inflate_all(&gz, pimap::compress::Limits::DEFAULT)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let len = data
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .unwrap_or_else(|| panic!("{}: truncated record at {i}", path.display()));
        i += 4;
        let body = data
            .get(i..i + len)
            .unwrap_or_else(|| panic!("{}: truncated record at {i}", path.display()));
        out.push(body.to_vec());
        i += len;
    }
    out
}

fn run_all(inputs: &[(&'static str, Vec<u8>)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, (target, data)) in inputs.iter().enumerate() {
        let run = TARGETS
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, f)| *f)
            .expect("known target");
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| run(data))) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{target}: input {i}: {msg}"));
        }
    }
    failures
}

fn replay(kind: &str) -> (usize, Vec<String>) {
    let root = fuzz_dir().join(kind);
    let mut all = Vec::new();
    for &(target, _) in TARGETS {
        let found = if kind == "corpus" {
            pack(&root.join(format!("{target}.pack.gz")))
        } else {
            inputs(&root.join(target))
        };
        all.extend(found.into_iter().map(|d| (target, d)));
    }
    let failures = run_all(&all);
    (all.len(), failures)
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let (n, failures) = replay("corpus");
    eprintln!("fuzz corpus: {n} inputs");
    assert!(
        n >= 100,
        "expected at least 100 corpus inputs in fuzz/corpus/*.pack.gz, found {n}"
    );
    assert!(
        failures.is_empty(),
        "{} of {n} corpus inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fuzz_regressions_replay_without_panic() {
    let (n, failures) = replay("regressions");
    eprintln!("fuzz regressions: {n} inputs");
    assert!(
        failures.is_empty(),
        "{} of {n} regression inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
