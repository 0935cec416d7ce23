//! Every labelled test vector of the P-IMAP digest (tests/vectors/pimap/*.vec; format in the
//! README there) decodes: `C:`/`S:` messages in both modes, `C~:`/`S~:` tolerantly while strict
//! mode rejects them, `C?:`/`S?:` without panicking. Each decoded value re-encodes (draft -08)
//! to bytes that decode to an equal value.

mod common;

use pimap::codec::{CommandDecoder, DecoderOptions, Dialect, Encode, ResponseDecoder};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Both,
    TolerantOnly,
    NoPanic,
}

#[derive(Debug)]
struct Msg {
    client: bool,
    expect: Expect,
    bytes: Vec<u8>,
    line: usize,
}

struct Vector {
    name: String,
    expect_header: Option<String>,
    msgs: Vec<Msg>,
}

fn load() -> Vec<Vector> {
    let dir = format!("{}/tests/vectors/pimap", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("vector dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "vec"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let text = std::fs::read(&p).expect("read vector");
            let mut msgs: Vec<Msg> = Vec::new();
            let mut expect_header = None;
            for (i, line) in text.split(|&b| b == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if let Some(h) = line.strip_prefix(b"# expect:") {
                    expect_header = Some(String::from_utf8_lossy(h).trim().to_string());
                    continue;
                }
                if line.starts_with(b"#") || line.is_empty() || line.starts_with(b"X:") {
                    continue;
                }
                let colon = line
                    .iter()
                    .position(|&b| b == b':')
                    .unwrap_or_else(|| panic!("{}:{}: no marker", p.display(), i + 1));
                let marker = &line[..colon];
                let content = line.get(colon + 2..).unwrap_or(&[]);
                if marker == b"." || marker == b".~" {
                    let m = msgs
                        .last_mut()
                        .unwrap_or_else(|| panic!("{}: '.:' first", p.display()));
                    m.bytes.extend_from_slice(b"\r\n");
                    m.bytes.extend_from_slice(content);
                    continue;
                }
                let (client, rest) = match marker.split_first() {
                    Some((b'C', r)) => (true, r),
                    Some((b'S', r)) => (false, r),
                    _ => panic!(
                        "{}:{}: bad marker {:?}",
                        p.display(),
                        i + 1,
                        String::from_utf8_lossy(marker)
                    ),
                };
                let expect = match rest {
                    b"" => Expect::Both,
                    b"~" => Expect::TolerantOnly,
                    b"?" => Expect::NoPanic,
                    _ => panic!("{}:{}: bad marker", p.display(), i + 1),
                };
                msgs.push(Msg {
                    client,
                    expect,
                    bytes: content.to_vec(),
                    line: i + 1,
                });
            }
            for m in &mut msgs {
                m.bytes.extend_from_slice(b"\r\n");
            }
            Vector {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                expect_header,
                msgs,
            }
        })
        .collect()
}

/// What one message decoded to: its `Debug` form (to compare strict with tolerant readings)
/// and the generic "other" fallbacks it contains.
struct Decoded {
    value: String,
    fallbacks: Vec<String>,
}

fn decode_one(client: bool, bytes: &[u8], opts: DecoderOptions) -> Result<Decoded, String> {
    // Checks that the re-encoding in the primary dialect decodes equal.
    if client {
        let mut d = CommandDecoder::new(opts);
        d.feed(bytes);
        let m = d.next().map_err(|e| e.to_string())?.ok_or("incomplete")?;
        if d.buffered_len() != 0 {
            return Err(format!("{} trailing bytes", d.buffered_len()));
        }
        let enc = m.to_bytes(Dialect::Draft08);
        let mut d2 = CommandDecoder::new(opts);
        d2.feed(&enc);
        let again = d2.next().map_err(|e| {
            format!(
                "re-encoding does not decode: {e}: {:?}",
                String::from_utf8_lossy(&enc)
            )
        })?;
        if again.as_ref() != Some(&m) {
            return Err(format!("re-encoding differs: {m:?} vs {again:?}"));
        }
        Ok(Decoded {
            value: format!("{m:?}"),
            fallbacks: Vec::new(),
        })
    } else {
        let mut d = ResponseDecoder::new(opts);
        d.feed(bytes);
        let m = d.next().map_err(|e| e.to_string())?.ok_or("incomplete")?;
        if d.buffered_len() != 0 {
            return Err(format!("{} trailing bytes", d.buffered_len()));
        }
        let enc = m.to_bytes(Dialect::Draft08);
        let mut d2 = ResponseDecoder::new(opts);
        d2.feed(&enc);
        let again = d2.next().map_err(|e| {
            format!(
                "re-encoding does not decode: {e}: {:?}",
                String::from_utf8_lossy(&enc)
            )
        })?;
        if again.as_ref() != Some(&m) {
            return Err(format!("re-encoding differs: {m:?} vs {again:?}"));
        }
        Ok(Decoded {
            value: format!("{m:?}"),
            fallbacks: common::fallbacks_in_response(&m),
        })
    }
}

#[test]
fn every_spec_vector_behaves_as_labelled() {
    let vectors = load();
    assert!(
        vectors.len() >= 107,
        "expected at least 107 vectors, found {}",
        vectors.len()
    );
    let mut failures = Vec::new();
    let mut counts = [0usize; 3];
    for v in &vectors {
        for m in &v.msgs {
            let loc = format!("{} line {}", v.name, m.line);
            let tol = decode_one(m.client, &m.bytes, DecoderOptions::default());
            let strict = decode_one(m.client, &m.bytes, DecoderOptions::strict());
            match (v.expect_header.as_deref(), m.expect) {
                (Some("literal-too-large"), _) => {
                    if tol.is_ok() {
                        failures.push(format!("{loc}: expected a limit error"));
                    }
                }
                (_, Expect::Both) => {
                    counts[0] += 1;
                    match (&tol, &strict) {
                        (Ok(t), Ok(s)) => {
                            if !t.fallbacks.is_empty() {
                                failures.push(format!("{loc}: not modelled: {:?}", t.fallbacks));
                            }
                            if t.value != s.value {
                                failures.push(format!(
                                    "{loc}: strict and tolerant readings differ: {} vs {}",
                                    s.value, t.value
                                ));
                            }
                        }
                        (t, s) => {
                            if let Err(e) = t {
                                failures.push(format!("{loc}: tolerant: {e}"));
                            }
                            if let Err(e) = s {
                                failures.push(format!("{loc}: strict: {e}"));
                            }
                        }
                    }
                }
                (_, Expect::TolerantOnly) => {
                    counts[1] += 1;
                    // Strict reading must reject the form, or read it as something else (an
                    // unmodelled "other" value or plain text), never as the tolerant meaning.
                    match &tol {
                        Err(e) => failures.push(format!("{loc}: tolerant: {e}")),
                        Ok(t) => {
                            if !t.fallbacks.is_empty() {
                                failures.push(format!("{loc}: not modelled: {:?}", t.fallbacks));
                            }
                            if let Ok(s) = &strict {
                                if s.value == t.value {
                                    failures.push(format!(
                                        "{loc}: strict mode read a tolerant-only form as tolerant mode does"
                                    ));
                                }
                            }
                        }
                    }
                }
                (_, Expect::NoPanic) => counts[2] += 1,
            }
        }
    }
    eprintln!(
        "vectors: {} files, {} both-mode, {} tolerant-only, {} junk messages",
        vectors.len(),
        counts[0],
        counts[1],
        counts[2]
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
