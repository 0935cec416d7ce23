//! Reader for the `.vec` test-vector files (format: tests/vectors/pimap/README.md).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// How a message is expected to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// `C:` / `S:`: strict and tolerant.
    Both,
    /// `C~:` / `S~:`: tolerant only.
    TolerantOnly,
    /// `C?:` / `S?:`: junk, must not panic.
    NoPanic,
}

/// One wire message of a vector (continuation lines joined with CRLF, final CRLF added).
#[derive(Debug, Clone)]
pub struct Msg {
    pub client: bool,
    pub expect: Expect,
    pub bytes: Vec<u8>,
    pub line: usize,
}

/// One vector file.
#[derive(Debug, Clone)]
pub struct Vector {
    pub name: String,
    pub expect_header: Option<String>,
    pub msgs: Vec<Msg>,
}

/// All `.vec` files of a directory, sorted by name.
pub fn load_dir(dir: &Path) -> Vec<Vector> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("vector dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "vec"))
        .collect();
    names.sort();
    names.iter().map(|p| load_file(p)).collect()
}

/// One `.vec` file.
pub fn load_file(p: &Path) -> Vector {
    let text = std::fs::read(p).expect("read vector");
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
            _ => panic!("{}:{}: bad marker", p.display(), i + 1),
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
}
