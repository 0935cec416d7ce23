//! Every labelled test vector of the P-IMAP digest (tests/vectors/pimap/*.vec; format in the
//! README there) decodes: `C:`/`S:` messages in both modes, `C~:`/`S~:` tolerantly while strict
//! mode rejects them, `C?:`/`S?:` without panicking. Each decoded value re-encodes (draft -08)
//! to bytes that decode to an equal value.

mod common;

use pimap::codec::{CommandDecoder, DecoderOptions, Dialect, Encode, ResponseDecoder};

use common::vecfile::{load_dir, Expect, Vector};

fn load() -> Vec<Vector> {
    load_dir(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/pimap"
    )))
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
