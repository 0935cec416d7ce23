//! Tests of `pimap::compress`: round trips on every backend, spec XZIP framing, limits,
//! split points and garbage.

use proptest::prelude::*;

use super::checksum::{adler32, crc32};
use super::*;
use crate::{Dialect, Encode, ResponseDecoder};
use pimap_types::Response;

/// A few hundred bytes of push traffic.
fn push_stream(n: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| match i % 4 {
            0 => format!("* {} EXISTS\r\n", 100 + i).into_bytes(),
            1 => format!("* {} EXPUNGE\r\n", 50 + i / 2).into_bytes(),
            _ => format!(
                "* {} FETCH (UID {} FLAGS (\\Seen))\r\n",
                10 + i,
                4000 + i * 3
            )
            .into_bytes(),
        })
        .collect()
}

/// Pseudo-random but compressible text.
fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the ", "mail ", "push ", "FETCH ", "BODY", "[TEXT] ", "server ", "client ", "\r\n", "42 ",
        "zebra ", "quux ",
    ];
    let mut s = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(WORDS[(s % WORDS.len() as u64) as usize].as_bytes());
    }
    out.truncate(len);
    out
}

fn raw_deflate(data: &[u8], level: u8, backend: Backend) -> Vec<u8> {
    let mut d = Deflater::with_backend(level, backend);
    let mut out = Vec::new();
    d.compress(data, &mut out);
    d.finish(&mut out);
    out
}

/// zlib framing (RFC 1950) built by hand around a raw DEFLATE stream.
fn zlib(data: &[u8], level: u8) -> Vec<u8> {
    let mut out = vec![0x78, 0x9c];
    out.extend(deflate_part(data, level));
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn inflate_with(
    backend: Backend,
    format: Option<Format>,
    data: &[u8],
) -> Result<Vec<u8>, CompressError> {
    let mut i = Inflater::with_backend(format, Limits::default(), backend);
    let mut out = Vec::new();
    i.inflate(data, &mut out)?;
    Ok(out)
}

#[test]
fn sniffing() {
    assert_eq!(sniff(&[0x1f, 0x8b]), Format::Gzip);
    assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
    for flg in [0x01, 0x5e, 0x9c, 0xda] {
        assert_eq!(sniff(&[0x78, flg]), Format::Zlib, "{flg:#x}");
    }
    assert_eq!(sniff(&[0x08, 0x1d]), Format::Zlib); // window 256 bytes
    assert_eq!(sniff(&[0x78, 0x9d]), Format::Raw); // check bits wrong
    assert_eq!(sniff(&[0x88, 0x98]), Format::Raw); // window > 32 KiB
    assert_eq!(sniff(&[0x79, 0x9c]), Format::Raw); // method 9
    assert_eq!(sniff(&[0x1f]), Format::Raw);
    assert_eq!(sniff(&[]), Format::Raw);
    // Every stream of both backends sniffs as raw.
    for &b in Backend::ALL {
        for level in 0..=9 {
            for data in [&b""[..], b"x", b"* 1 EXISTS\r\n"] {
                let z = raw_deflate(data, level, b);
                assert_eq!(sniff(&z), Format::Raw, "{b:?} {level} {data:?}");
            }
        }
    }
}

#[test]
fn round_trips_every_backend_level_format() {
    let inputs = [
        Vec::new(),
        b"a".to_vec(),
        text(10_000, 7),
        vec![0u8; 300_000],
        text(200_000, 9),
    ];
    for &b in Backend::ALL {
        for level in [0, 1, 2, 6, 9, 200] {
            for data in &inputs {
                let z = raw_deflate(data, level, b);
                // Every backend inflates every backend's output.
                for &b2 in Backend::ALL {
                    assert_eq!(&inflate_with(b2, Some(Format::Raw), &z).unwrap(), data);
                    assert_eq!(&inflate_with(b2, None, &z).unwrap(), data);
                }
                assert_eq!(&inflate_all(&z, Limits::default()).unwrap(), data);
            }
        }
    }
    for data in &inputs {
        let g = gzip(data, 6);
        assert_eq!(&inflate_all(&g, Limits::default()).unwrap(), data);
        assert_eq!(
            &inflate_with(Backend::DEFAULT, Some(Format::Gzip), &g).unwrap(),
            data
        );
        let z = zlib(data, 6);
        assert_eq!(&inflate_all(&z, Limits::default()).unwrap(), data);
        assert_eq!(
            &deflate_part(data, 1).len(),
            &raw_deflate(data, 1, Backend::DEFAULT).len()
        );
        assert_eq!(
            &inflate_all(&deflate_part(data, 9), Limits::default()).unwrap(),
            data
        );
    }
}

#[test]
fn sync_flush_per_message_and_shared_dictionary() {
    for &b in Backend::ALL {
        for level in [0, 1, 6, 9] {
            let mut d = Deflater::with_backend(level, b);
            let mut i = Inflater::with_backend(Some(Format::Raw), Limits::default(), b);
            let (mut wire, mut plain) = (Vec::new(), Vec::new());
            let msgs = push_stream(200);
            let mut total = 0;
            for m in &msgs {
                wire.clear();
                d.compress_sync(m, &mut wire);
                assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "{b:?} {level}");
                total += wire.len();
                plain.clear();
                i.inflate(&wire, &mut plain).unwrap();
                assert_eq!(&plain, m);
            }
            let raw: usize = msgs.iter().map(Vec::len).sum();
            if level > 0 {
                assert!(total < raw, "{b:?} level {level}: {total} of {raw}");
            }
            // Nothing pending: an empty sync appends nothing.
            wire.clear();
            d.compress_sync(b"", &mut wire);
            assert!(wire.is_empty());
            // Data held back by `compress` is emitted by an empty sync.
            d.compress(b"* 9 EXISTS\r\n", &mut wire);
            d.compress_sync(b"", &mut wire);
            assert!(wire.ends_with(&[0, 0, 0xff, 0xff]));
            plain.clear();
            i.inflate(&wire, &mut plain).unwrap();
            assert_eq!(plain, b"* 9 EXISTS\r\n");
            assert!(!i.is_stream_end());
            // finish ends the stream; the Deflater starts a new one afterwards.
            wire.clear();
            d.finish(&mut wire);
            plain.clear();
            i.inflate(&wire, &mut plain).unwrap();
            assert!(plain.is_empty() && i.is_stream_end());
            wire.clear();
            d.compress_sync(b"again", &mut wire);
            i.inflate(&wire, &mut plain).unwrap();
            assert_eq!(plain, b"again");
            assert_eq!(i.streams_ended(), 1);
        }
    }
}

#[test]
fn deflate_stream_both_directions() {
    for &b in Backend::ALL {
        let mut server = DeflateStream::with_backend(PUSH_LEVEL, Limits::default(), b);
        let mut client = DeflateStream::new(DEFAULT_LEVEL, Limits::default());
        assert!(server.compress(b"").is_empty());
        for m in push_stream(100) {
            let w = server.compress(&m);
            assert!(w.ends_with(&[0, 0, 0xff, 0xff]));
            assert_eq!(client.decompress(&w).unwrap(), m);
            let c = client.compress(b"A1 NOOP\r\n");
            assert_eq!(server.decompress(&c).unwrap(), b"A1 NOOP\r\n");
        }
        assert!(client.total_out() > 0 && client.total_in() < client.total_out());
    }
}

#[test]
fn deflate_stream_limits_apply_per_call() {
    let limits = Limits {
        max_output: 10_000,
        max_ratio: 1032,
    };
    let mut tx = DeflateStream::new(6, Limits::default());
    let mut rx = DeflateStream::new(6, limits);
    // 100 bursts of 5000 bytes: 500 000 bytes in total, far over the per-call limit.
    for i in 0..100 {
        let w = tx.compress(&text(5000, i));
        assert_eq!(rx.decompress(&w).unwrap(), text(5000, i));
    }
    // One burst over the limit fails, with at most the limit written.
    let w = tx.compress(&text(20_000, 1));
    let mut out = Vec::new();
    let e = rx.decompress_into(&w, &mut out).unwrap_err();
    assert_eq!(e, CompressError::TooLarge { limit: 10_000 });
    assert!(out.len() <= 10_000);
    // The inflater stays failed.
    assert_eq!(rx.decompress(&tx.compress(b"x")).unwrap_err(), e);
}

#[test]
fn gzip_format_details() {
    let data = text(5000, 3);
    let g = gzip(&data, 6);
    assert_eq!(&g[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(g[9], 255);
    assert_eq!(gzip(b"", 9)[8], 2);
    assert_eq!(gzip(b"", 1)[8], 4);
    let n = g.len();
    assert_eq!(&g[n - 8..n - 4], &crc32(&data).to_le_bytes());
    assert_eq!(&g[n - 4..], &(data.len() as u32).to_le_bytes());
    // A fixed reference vector: `gzip -n` of "hello\n" at level 6.
    let reference = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
    ];
    assert_eq!(
        inflate_all(&reference, Limits::default()).unwrap(),
        b"hello\n"
    );

    // Optional header fields: FTEXT FHCRC FEXTRA FNAME FCOMMENT, split at every byte.
    let mut hdr = vec![0x1f, 0x8b, 8, 1 | 2 | 4 | 8 | 16, 1, 2, 3, 4, 0, 3];
    hdr.extend_from_slice(&[5, 0, b'a', b'b', 2, 0, b'z']); // XLEN 5: one subfield
    hdr.extend_from_slice(b"name.txt\0a comment\0");
    let hcrc = (crc32(&hdr) & 0xffff) as u16;
    hdr.extend_from_slice(&hcrc.to_le_bytes());
    let mut full = hdr.clone();
    full.extend_from_slice(&g[10..]);
    assert_eq!(inflate_all(&full, Limits::default()).unwrap(), data);
    for split in 0..hdr.len() + 3 {
        let mut i = Inflater::new(None, Limits::default());
        let mut out = Vec::new();
        i.inflate(&full[..split], &mut out).unwrap();
        i.inflate(&full[split..], &mut out).unwrap();
        assert_eq!(out, data, "split {split}");
        assert!(i.is_stream_end());
        assert_eq!(i.format(), Some(Format::Gzip));
    }
    // Bad header CRC.
    let mut bad = full.clone();
    bad[hdr.len() - 1] ^= 1;
    assert_eq!(
        inflate_all(&bad, Limits::default()),
        Err(CompressError::Corrupt("gzip header CRC mismatch"))
    );
    // Bad CRC-32 and ISIZE.
    let mut bad = g.clone();
    bad[n - 6] ^= 1;
    assert_eq!(
        inflate_all(&bad, Limits::default()),
        Err(CompressError::Corrupt("gzip CRC-32 mismatch"))
    );
    let mut bad = g.clone();
    bad[n - 1] ^= 1;
    assert_eq!(
        inflate_all(&bad, Limits::default()),
        Err(CompressError::Corrupt("gzip ISIZE mismatch"))
    );
    // Not DEFLATE; reserved flags.
    let mut bad = g.clone();
    bad[2] = 7;
    assert!(matches!(
        inflate_all(&bad, Limits::default()),
        Err(CompressError::Corrupt(_))
    ));
    let mut bad = g.clone();
    bad[3] = 0x20;
    assert!(matches!(
        inflate_all(&bad, Limits::default()),
        Err(CompressError::Corrupt(_))
    ));
    // Truncated anywhere.
    for cut in [0, 1, 2, 5, 10, n / 2, n - 8, n - 1] {
        assert_eq!(
            inflate_all(&g[..cut], Limits::default()),
            Err(CompressError::Truncated),
            "cut {cut}"
        );
    }
}

#[test]
fn gzip_multi_member() {
    let (a, b, c) = (text(3000, 1), b"second member".to_vec(), Vec::new());
    let mut g = gzip(&a, 6);
    g.extend(gzip(&b, 1));
    g.extend(gzip(&c, 9));
    let mut expected = a.clone();
    expected.extend_from_slice(&b);
    assert_eq!(inflate_all(&g, Limits::default()).unwrap(), expected);
    let mut i = Inflater::new(None, Limits::default());
    let mut out = Vec::new();
    for piece in g.chunks(7) {
        i.inflate(piece, &mut out).unwrap();
    }
    assert_eq!(out, expected);
    assert_eq!(i.streams_ended(), 3);
    // Trailing garbage after a member.
    g.extend_from_slice(b"junk");
    assert_eq!(
        inflate_all(&g, Limits::default()),
        Err(CompressError::Corrupt(
            "data after a gzip member is not a gzip member"
        ))
    );
}

#[test]
fn zlib_accepted_by_sniffing() {
    let data = text(20_000, 5);
    for level in [1, 6, 9] {
        let z = zlib(&data, level);
        assert_eq!(sniff(&z), Format::Zlib);
        assert_eq!(inflate_all(&z, Limits::default()).unwrap(), data);
        // miniz_oxide's own zlib encoder.
        let m = miniz_oxide::deflate::compress_to_vec_zlib(&data, level);
        assert_eq!(inflate_all(&m, Limits::default()).unwrap(), data);
        let mut x = XZipDecoder::new(Limits::default());
        let mut out = Vec::new();
        for piece in m.chunks(1000) {
            out.extend(x.push(piece).unwrap());
        }
        assert_eq!(out, data);
        assert_eq!(x.format(), Some(Format::Zlib));
        assert!(x.is_stream_end());
    }
    let mut bad = zlib(&data, 6);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert_eq!(
        inflate_all(&bad, Limits::default()),
        Err(CompressError::Corrupt("zlib Adler-32 mismatch"))
    );
    // FDICT set (0x78 0xbb is a valid check with FDICT).
    assert_eq!(sniff(&[0x78, 0xbb]), Format::Zlib);
    assert!(matches!(
        inflate_all(&[0x78, 0xbb, 0, 0, 0, 0, 3, 0], Limits::default()),
        Err(CompressError::Corrupt(_))
    ));
}

#[test]
fn truncated_and_empty() {
    assert_eq!(
        inflate_all(b"", Limits::default()),
        Err(CompressError::Truncated)
    );
    let z = deflate_part(&text(1000, 2), 6);
    assert_eq!(
        inflate_all(&z[..z.len() - 1], Limits::default()),
        Err(CompressError::Truncated)
    );
    assert_eq!(
        inflate_all(&z[..1], Limits::default()),
        Err(CompressError::Truncated)
    );
}

/// Decode the wire form of XZIP responses back to `Data` with the crate's response decoder.
fn decode_wire(wire: &[u8]) -> Vec<Data> {
    let mut d = ResponseDecoder::default();
    d.feed(wire);
    let mut out = Vec::new();
    while let Some(r) = d.next().unwrap() {
        let Response::Data(data) = r else {
            panic!("not data: {r:?}")
        };
        out.push(data);
    }
    assert_eq!(d.buffered_len(), 0);
    out
}

fn inner_fetch_response(len: usize) -> Vec<u8> {
    let body = text(len, 11);
    let mut raw = format!("* 1 FETCH (RFC822 {{{}}}\r\n", body.len()).into_bytes();
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b")\r\nA002 OK FETCH completed\r\n");
    raw
}

#[test]
fn xzip_generation_1_vector_framing() {
    // TV-00-3.2.5-a / TV-06-5.2.4-a: `* {n}` then the gzip of the inner response stream.
    let raw = b"* 1 FETCH (FLAGS (\\Seen) UID 10)\r\n* 2 FETCH (FLAGS () UID 11)\r\nA002 OK FETCH completed\r\n";
    for enc in [
        XZipEncoder {
            generation: 1,
            ..XZipEncoder::default()
        },
        XZipEncoder::for_dialect(Dialect::Draft01),
    ] {
        let blocks = enc.encode(raw);
        assert_eq!(blocks.len(), 1);
        let Data::XZip {
            framing: XZipFraming::Bare,
            data,
        } = &blocks[0]
        else {
            panic!("{blocks:?}")
        };
        assert_eq!(&data[..2], &[0x1f, 0x8b]);
        let wire = Response::Data(blocks[0].clone()).to_vec(Dialect::Draft01);
        let head = format!("* {{{}}}\r\n", data.len());
        assert!(
            wire.starts_with(head.as_bytes()),
            "{:?}",
            String::from_utf8_lossy(&wire[..20])
        );
        assert!(wire.ends_with(b"\r\n"));
        let decoded = decode_wire(&wire);
        assert_eq!(decoded, blocks);
        let mut dec = XZipDecoder::new(Limits::default());
        assert_eq!(dec.push(data).unwrap(), raw);
        assert_eq!(dec.format(), Some(Format::Gzip));
        assert!(dec.is_stream_end());
    }
}

#[test]
fn xzip_generation_3_vector_framing() {
    // TV-08-5.3.4-a: one `* XZIP ~{n}` block.
    let raw = inner_fetch_response(500);
    let enc = XZipEncoder::for_dialect(Dialect::Draft08);
    assert_eq!(enc, XZipEncoder::default());
    let blocks = enc.encode(&raw);
    assert_eq!(blocks.len(), 1);
    let wire = Response::Data(blocks[0].clone()).to_vec(Dialect::Draft08);
    let Data::XZip { data, .. } = &blocks[0] else {
        panic!()
    };
    assert!(wire.starts_with(format!("* XZIP ~{{{}}}\r\n", data.len()).as_bytes()));
    let mut dec = XZipDecoder::new(Limits::default());
    assert_eq!(dec.push(data).unwrap(), raw);
    assert_eq!(dec.format(), Some(Format::Raw));

    // TV-09-5.3.4-d: a 3500-byte response cut into blocks of at most 1024 bytes: four
    // `* XZIP ~{n}` responses, inflated in order through one decoder.
    let raw = inner_fetch_response(3500 - 54);
    assert_eq!(raw.len(), 3500);
    let enc = XZipEncoder {
        generation: 3,
        block_size: 1024,
        level: 6,
    };
    let blocks = enc.encode(&raw);
    assert_eq!(blocks.len(), 4);
    let mut wire = Vec::new();
    for b in &blocks {
        let Data::XZip {
            framing: XZipFraming::XZip,
            data,
        } = b
        else {
            panic!("{b:?}")
        };
        // Every block but the last ends with a sync flush.
        let w = Response::Data(b.clone()).to_vec(Dialect::Draft08);
        assert!(w.starts_with(format!("* XZIP ~{{{}}}\r\n", data.len()).as_bytes()));
        wire.extend(w);
    }
    let decoded = decode_wire(&wire);
    assert_eq!(decoded, blocks);
    let mut dec = XZipDecoder::new(Limits::default());
    let mut plain = Vec::new();
    for (k, b) in decoded.iter().enumerate() {
        let Data::XZip { data, .. } = b else { panic!() };
        let got = dec.push(data).unwrap();
        // Sync flush at each block boundary: each block yields exactly its 1024 bytes.
        assert_eq!(got.len(), if k < 3 { 1024 } else { 3500 - 3 * 1024 });
        if k < 3 {
            assert!(data.ends_with(&[0, 0, 0xff, 0xff]));
        }
        plain.extend(got);
    }
    assert_eq!(plain, raw);
    assert!(dec.is_stream_end());

    // Empty input: one block holding an empty stream.
    let blocks = enc.encode(b"");
    assert_eq!(blocks.len(), 1);
    let Data::XZip { data, .. } = &blocks[0] else {
        panic!()
    };
    assert_eq!(inflate_all(data, Limits::default()).unwrap(), b"");
    // block_size 0 is taken as 1.
    let blocks = XZipEncoder {
        block_size: 0,
        ..enc
    }
    .encode(b"abc");
    assert_eq!(blocks.len(), 3);
}

#[test]
fn xzip_e39_independent_streams_per_block() {
    // A server that sends every block as its own finished stream (E-39): the decoder starts a
    // new inflater after each end of stream.
    let parts = [text(2000, 1), text(10, 2), text(5000, 3)];
    let mut dec = XZipDecoder::new(Limits::default());
    let mut plain = Vec::new();
    for p in &parts {
        plain.extend(dec.push(&deflate_part(p, 6)).unwrap());
        assert!(dec.is_stream_end());
    }
    assert_eq!(plain, parts.concat());
    // Also when the streams arrive glued together or split differently.
    let glued: Vec<u8> = parts.iter().flat_map(|p| deflate_part(p, 1)).collect();
    assert_eq!(
        inflate_all(&glued, Limits::default()).unwrap(),
        parts.concat()
    );
}

#[test]
fn xzip_generation_4_part() {
    // TV-12-5.3.3-a: FETCH XZIP[1.2] data = raw DEFLATE of the decoded part.
    let decoded = text(1234, 8);
    let z = deflate_part(&decoded, DEFAULT_LEVEL);
    assert_eq!(sniff(&z), Format::Raw);
    assert_eq!(inflate_all(&z, Limits::default()).unwrap(), decoded);
    let item = Data::XZipPart {
        part: vec![1, 2],
        data: Bytes::from(z.clone()),
    };
    let wire = Response::Data(item.clone()).to_vec(Dialect::Draft08);
    assert!(
        wire.starts_with(format!("* XZIP[1.2] ~{{{}}}\r\n", z.len()).as_bytes())
            || wire.starts_with(format!("* XZIP[1.2]~{{{}}}\r\n", z.len()).as_bytes())
    );
    assert_eq!(decode_wire(&wire), vec![item]);
}

/// A raw DEFLATE stream of `mib` MiB of zeros, about 1 KB per MiB: the first MiB, then the
/// compressed form of a MiB of zeros following zeros, repeated (valid since every earlier byte
/// is a zero), then a final empty block.
fn zero_bomb(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut d = Deflater::with_backend(6, Backend::MinizOxide);
    let mut first = Vec::new();
    d.compress_sync(&zeros, &mut first);
    let mut next = Vec::new();
    d.compress_sync(&zeros, &mut next);
    let mut bomb = first;
    for _ in 1..mib {
        bomb.extend_from_slice(&next);
    }
    d.finish(&mut bomb);
    bomb
}

#[test]
fn compression_bomb_is_stopped() {
    let small = zero_bomb(4);
    assert_eq!(
        inflate_all(&small, Limits::default()).unwrap().len(),
        4 << 20
    );

    // 1 GiB of zeros in about 1 MB.
    let bomb = zero_bomb(1024);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    for &b in Backend::ALL {
        let start = std::time::Instant::now();
        let mut i = Inflater::with_backend(None, Limits::default(), b);
        let mut out = Vec::new();
        let e = i.inflate(&bomb, &mut out).unwrap_err();
        assert_eq!(e, CompressError::TooLarge { limit: 64 << 20 });
        assert!(out.len() <= 64 << 20);
        assert!(out.capacity() <= 2 * (64 << 20), "{}", out.capacity());
        // Stopped after the limit, not after inflating the gigabyte.
        assert!(
            i.total_in() < bomb.len() as u64 / 4,
            "{} of {}",
            i.total_in(),
            bomb.len()
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
        // Stays failed.
        assert_eq!(i.inflate(b"", &mut out).unwrap_err(), e);
    }
    // With a smaller ratio limit, the ratio check fires just after the 1 MiB grace.
    let limits = Limits {
        max_output: usize::MAX,
        max_ratio: 100,
    };
    let mut out = Vec::new();
    let e = Inflater::new(None, limits)
        .inflate(&bomb, &mut out)
        .unwrap_err();
    assert!(
        matches!(e, CompressError::RatioExceeded { ratio } if ratio > 100),
        "{e:?}"
    );
    assert!(out.len() < 2 << 20, "{}", out.len());
    // XZipDecoder and DeflateStream are bounded the same way.
    let small_limits = Limits {
        max_output: 3 << 20,
        max_ratio: 1032,
    };
    let mut x = XZipDecoder::new(small_limits);
    assert!(x.push(&bomb[..1000]).unwrap().len() <= 1 << 20);
    assert_eq!(
        x.push(&bomb[1000..]).unwrap_err(),
        CompressError::TooLarge { limit: 3 << 20 }
    );
    let mut s = DeflateStream::new(1, small_limits);
    assert_eq!(
        s.decompress(&bomb).unwrap_err(),
        CompressError::TooLarge { limit: 3 << 20 }
    );
}

#[test]
fn exact_limit_is_allowed() {
    let data = text(10_000, 4);
    let z = deflate_part(&data, 6);
    let at = |max_output| {
        inflate_all(
            &z,
            Limits {
                max_output,
                max_ratio: 1032,
            },
        )
    };
    assert_eq!(at(10_000).unwrap(), data);
    assert_eq!(at(9_999), Err(CompressError::TooLarge { limit: 9_999 }));
    assert_eq!(at(0), Err(CompressError::TooLarge { limit: 0 }));
}

#[test]
fn types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Deflater>();
    check::<Inflater>();
    check::<XZipDecoder>();
    check::<DeflateStream>();
    check::<CompressError>();
}

/// Feed `data` to `f` cut at the given points (taken modulo the length, sorted).
fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points {
        out.push(&data[last..p]);
        last = p;
    }
    out.push(&data[last..]);
    out
}

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop_oneof![
            (1u32..100_000, 1u32..1_000_000)
                .prop_map(|(n, u)| format!("* {n} FETCH (UID {u} FLAGS (\\Seen))\r\n").into_bytes()),
            (1u32..100_000).prop_map(|n| format!("* {n} EXISTS\r\n").into_bytes()),
            prop::collection::vec(any::<u8>(), 0..300),
            (0usize..5000, any::<u64>()).prop_map(|(l, s)| text(l, s)),
        ],
        1..20,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn split_points_inflater(msgs in messages(), cuts in prop::collection::vec(any::<usize>(), 0..12), level in 0u8..10, fmt in 0u8..3) {
        let plain = msgs.concat();
        let data = match fmt {
            0 => gzip(&plain, level),
            1 => zlib(&plain, level),
            _ => deflate_part(&plain, level),
        };
        for &b in Backend::ALL {
            let mut i = Inflater::with_backend(None, Limits::default(), b);
            let mut out = Vec::new();
            for p in pieces(&data, &cuts) {
                i.inflate(p, &mut out).unwrap();
            }
            prop_assert_eq!(&out, &plain);
            prop_assert!(i.is_stream_end());
            prop_assert_eq!(i.total_in(), data.len() as u64);
            prop_assert_eq!(i.total_out(), plain.len() as u64);
        }
    }

    #[test]
    fn split_points_xzip_decoder(msgs in messages(), cuts in prop::collection::vec(any::<usize>(), 0..12), block in 1usize..3000, gen in 1u8..4) {
        let plain = msgs.concat();
        let enc = XZipEncoder { generation: gen, block_size: block, level: 6 };
        let wire: Vec<u8> = enc
            .encode(&plain)
            .into_iter()
            .flat_map(|d| match d {
                Data::XZip { data, .. } => data.to_vec(),
                _ => Vec::new(),
            })
            .collect();
        let mut dec = XZipDecoder::new(Limits::default());
        let mut out = Vec::new();
        for p in pieces(&wire, &cuts) {
            out.extend(dec.push(p).unwrap());
        }
        prop_assert_eq!(out, plain);
        prop_assert!(dec.is_stream_end());
    }

    #[test]
    fn split_points_deflate_stream(msgs in messages(), cuts in prop::collection::vec(any::<usize>(), 0..12), level in 0u8..10) {
        for &b in Backend::ALL {
            let mut tx = DeflateStream::with_backend(level, Limits::default(), b);
            let mut rx = DeflateStream::new(1, Limits::default());
            let wire: Vec<u8> = msgs.iter().flat_map(|m| tx.compress(m)).collect();
            let mut out = Vec::new();
            for p in pieces(&wire, &cuts) {
                out.extend(rx.decompress(p).unwrap());
            }
            prop_assert_eq!(out, msgs.concat());
        }
    }

    #[test]
    fn garbage_never_panics(data in prop::collection::vec(any::<u8>(), 0..2000), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        let limits = Limits { max_output: 1 << 20, max_ratio: 1032 };
        let _ = inflate_all(&data, limits);
        for &b in Backend::ALL {
            for fmt in [None, Some(Format::Gzip), Some(Format::Zlib), Some(Format::Raw)] {
                let mut i = Inflater::with_backend(fmt, limits, b);
                let mut out = Vec::new();
                for p in pieces(&data, &cuts) {
                    if i.inflate(p, &mut out).is_err() {
                        break;
                    }
                }
                prop_assert!(out.len() <= 1 << 20);
            }
        }
        let mut x = XZipDecoder::new(limits);
        for p in pieces(&data, &cuts) {
            let _ = x.push(p);
        }
        let mut s = DeflateStream::new(1, limits);
        let _ = s.decompress(&data);
    }

    #[test]
    fn corrupted_streams_never_panic(msgs in messages(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6), fmt in 0u8..3) {
        let plain = msgs.concat();
        let mut data = match fmt {
            0 => gzip(&plain, 6),
            1 => zlib(&plain, 6),
            _ => deflate_part(&plain, 6),
        };
        let n = data.len();
        for (at, x) in flips {
            data[at % n] ^= x | 1;
        }
        let limits = Limits { max_output: 1 << 20, max_ratio: 1032 };
        for &b in Backend::ALL {
            let mut i = Inflater::with_backend(None, limits, b);
            let mut out = Vec::new();
            let _ = i.inflate(&data, &mut out);
            prop_assert!(out.len() <= 1 << 20);
        }
    }
}
