//! Commands kept verbatim ([`pimap_types::CommandBody::Other`]) and APPEND messages of
//! MULTIAPPEND/CATENATE.

use bytes::Bytes;

use super::Encoder;
use pimap_types::{AppendContent, AppendMessage, CatenatePart, LiteralMode};

impl Encoder {
    /// Raw arguments as they were received. Literal announcements inside them keep their
    /// form; a client encoder records each literal so that a synchronizing one waits for
    /// `+` ([`super::Fragment`]).
    pub(crate) fn raw_args(&mut self, args: &Bytes) {
        let mut rest: &[u8] = args;
        while let Some(i) = memchr::memmem::find(rest, b"\r\n") {
            let (line, tail) = rest.split_at(i);
            let tail = tail.get(2..).unwrap_or(&[]);
            let announced = literal_announcement(line);
            self.raw(line);
            self.raw(b"\r\n");
            let Some((n, mode)) = announced else {
                // Not an announcement: the arguments were not decoded by this crate; pass
                // the rest through.
                self.raw(tail);
                return;
            };
            let n = n.min(tail.len());
            let (data, after) = tail.split_at(n);
            let start = self.buf.len();
            self.raw(data);
            if self.client {
                self.literals.push((start, self.buf.len(), mode));
            }
            rest = after;
        }
        self.raw(rest);
    }

    /// One message of a MULTIAPPEND/CATENATE APPEND (no leading SP).
    pub(crate) fn append_message(&mut self, m: &AppendMessage) {
        if !m.flags.is_empty() {
            self.flag_list(&m.flags);
            self.sp();
        }
        if let Some(d) = &m.date {
            self.date_time(d);
            self.sp();
        }
        match &m.content {
            AppendContent::Literal(l) => self.literal8(l),
            AppendContent::Catenate(parts) => {
                self.raw(b"CATENATE (");
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        self.sp();
                    }
                    match p {
                        CatenatePart::Text(l) => {
                            self.raw(b"TEXT ");
                            self.literal8(l);
                        }
                        CatenatePart::Url(u) => {
                            self.raw(b"URL ");
                            self.astring(u.as_bytes());
                        }
                    }
                }
                self.byte(b')');
            }
        }
    }
}

/// `{n}`, `{n+}`, `{n-}` or `~{n}` at the end of `line`: the size and the form.
fn literal_announcement(line: &[u8]) -> Option<(usize, LiteralMode)> {
    let body = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', body)?;
    let inner = body.get(open + 1..)?;
    let (digits, mode) = match inner.last() {
        Some(b'+') | Some(b'-') => (inner.get(..inner.len() - 1)?, LiteralMode::NonSync),
        _ => (inner, LiteralMode::Sync),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, mode))
}
