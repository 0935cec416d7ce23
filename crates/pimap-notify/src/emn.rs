//! The OMA E-mail Notification wake-up (spec §7.4).

use super::NotifyError;

/// An OMA EMN wake-up in its textual XML form:
/// `<emn mailbox="mailat:joe@foo.com" timestamp="2004-02-20T06:40:00Z"></emn>`.
///
/// It carries no events: the client connects and collects them in band.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmnNotification {
    /// The mailbox URI, e.g. `mailat:joe@foo.com` (or a `pop://`/`imap://` URL).
    pub mailbox: String,
    /// The notification time in seconds since the Unix epoch (UTC).
    pub timestamp_unix: u64,
}

impl EmnNotification {
    /// The compact XML form (one line, attribute values escaped, ISO 8601 UTC timestamp).
    pub fn to_xml(&self) -> String {
        format!(
            "<emn mailbox=\"{}\" timestamp=\"{}\"></emn>",
            escape(&self.mailbox),
            format_timestamp(self.timestamp_unix)
        )
    }

    /// Read the XML form tolerantly: an optional prolog (`<?xml ...?>`, comments, DOCTYPE)
    /// before `<emn`, any whitespace between attributes, single or double quotes, entity and
    /// character references, unknown attributes (e.g. `xmlns`) ignored, `<emn .../>` or
    /// `<emn ...>` with or without `</emn>`. Timestamps accept `T` or space, an optional
    /// fraction, and `Z`, nothing, or a `±hh:mm` offset.
    pub fn parse(input: &[u8]) -> Result<Self, NotifyError> {
        let text = std::str::from_utf8(input).map_err(|_| malformed("utf-8"))?;
        let start = find_emn(text).ok_or(malformed("emn element"))?;
        let mut rest = text.get(start + 4..).unwrap_or_default();
        let (mut mailbox, mut timestamp) = (None, None);
        loop {
            rest = rest.trim_start();
            if rest.starts_with('>') || rest.starts_with("/>") {
                break;
            }
            let eq = rest.find('=').ok_or(malformed("attribute"))?;
            let name = rest.get(..eq).unwrap_or_default().trim();
            rest = rest.get(eq + 1..).unwrap_or_default().trim_start();
            let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''));
            let quote = quote.ok_or(malformed("attribute quote"))?;
            let body = rest.get(1..).unwrap_or_default();
            let close = body.find(quote).ok_or(malformed("attribute value"))?;
            let value = unescape(body.get(..close).unwrap_or_default())?;
            rest = body.get(close + 1..).unwrap_or_default();
            match name {
                "mailbox" => mailbox = Some(value),
                "timestamp" => timestamp = Some(parse_timestamp(&value)?),
                n if n.is_empty()
                    || n.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') =>
                {
                    return Err(malformed("attribute name"))
                }
                _ => {}
            }
        }
        Ok(Self {
            mailbox: mailbox.ok_or(malformed("mailbox"))?,
            timestamp_unix: timestamp.ok_or(malformed("timestamp"))?,
        })
    }
}

fn malformed(what: &'static str) -> NotifyError {
    NotifyError::Malformed { what }
}

/// Byte offset of the `<emn` start tag, skipping a prolog made of `<?...?>`, `<!...>` and
/// whitespace.
fn find_emn(text: &str) -> Option<usize> {
    let mut pos = 0;
    loop {
        let rest = text.get(pos..)?;
        let skipped = rest.len() - rest.trim_start().len();
        let rest = rest.trim_start();
        pos += skipped;
        if let Some(after) = rest.strip_prefix("<emn") {
            return after
                .starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .then_some(pos);
        }
        let close = if rest.starts_with("<?") {
            rest.find("?>")? + 2
        } else if rest.starts_with("<!--") {
            rest.find("-->")? + 3
        } else if rest.starts_with("<!") {
            rest.find('>')? + 1
        } else {
            return None;
        };
        pos += close;
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> Result<String, NotifyError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let tail = rest.get(amp + 1..).unwrap_or_default();
        let semi = tail.find(';').ok_or(malformed("entity"))?;
        let c = match tail.get(..semi).unwrap_or_default() {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e => {
                let code = match e.strip_prefix("#x").or_else(|| e.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => e.strip_prefix('#').and_then(|d| d.parse().ok()),
                };
                code.and_then(char::from_u32).ok_or(malformed("entity"))?
            }
        };
        out.push(c);
        rest = tail.get(semi + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// `YYYY-MM-DDThh:mm:ssZ` from Unix seconds (civil-from-days, H. Hinnant).
fn format_timestamp(unix: u64) -> String {
    let days = i128::from(unix / 86_400);
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (days-from-civil).
fn days_from_civil(year: i128, month: i128, day: i128) -> i128 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_timestamp(s: &str) -> Result<u64, NotifyError> {
    let bad = || malformed("timestamp");
    let s = s.trim();
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<i128, NotifyError> {
        let digits = b.get(from..from + len).ok_or_else(bad)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(digits
            .iter()
            .fold(0, |acc, d| acc * 10 + i128::from(d - b'0')))
    };
    let ylen = b
        .iter()
        .position(|&c| c == b'-')
        .filter(|&n| (4..=12).contains(&n));
    let ylen = ylen.ok_or_else(bad)?;
    let (year, month, day) = (num(0, ylen)?, num(ylen + 1, 2)?, num(ylen + 4, 2)?);
    let p = ylen + 6;
    if b.get(ylen + 3) != Some(&b'-') || !matches!(b.get(p), Some(b'T' | b't' | b' ')) {
        return Err(bad());
    }
    let (h, m, sec) = (num(p + 1, 2)?, num(p + 4, 2)?, num(p + 7, 2)?);
    if b.get(p + 3) != Some(&b':') || b.get(p + 6) != Some(&b':') {
        return Err(bad());
    }
    let mut zone = b.get(p + 9..).unwrap_or_default();
    if let Some(frac) = zone.strip_prefix(b".") {
        zone = frac
            .get(frac.iter().take_while(|c| c.is_ascii_digit()).count()..)
            .unwrap_or_default();
    }
    let offset = match zone {
        b"" | b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), hh1, hh2, rest @ ..] => {
            let digits = |bytes: &[u8]| bytes.iter().all(u8::is_ascii_digit);
            let mm = rest.strip_prefix(b":").unwrap_or(rest);
            if !digits(&[*hh1, *hh2]) || mm.len() != 2 || !digits(mm) {
                return Err(bad());
            }
            let hh = i128::from((hh1 - b'0') * 10 + (hh2 - b'0'));
            let mm = mm.iter().fold(0, |acc, d| acc * 10 + i128::from(d - b'0'));
            (hh * 60 + mm) * 60 * if *sign == b'-' { -1 } else { 1 }
        }
        _ => return Err(bad()),
    };
    let dim = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return Err(bad()),
    };
    if !(1..=dim).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return Err(bad());
    }
    let total = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec - offset;
    u64::try_from(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str =
        "<emn\nmailbox=\"mailat:joe@foo.com\"\ntimestamp=\"2004-02-20T06:40:00Z\">\n</emn>";

    #[test]
    fn spec_vector_parses_and_round_trips() {
        let emn = EmnNotification::parse(SPEC.as_bytes()).unwrap();
        assert_eq!(emn.mailbox, "mailat:joe@foo.com");
        assert_eq!(emn.timestamp_unix, 1_077_259_200);
        let xml = emn.to_xml();
        assert_eq!(
            xml,
            r#"<emn mailbox="mailat:joe@foo.com" timestamp="2004-02-20T06:40:00Z"></emn>"#
        );
        assert_eq!(EmnNotification::parse(xml.as_bytes()), Ok(emn));
    }

    #[test]
    fn tolerant_forms() {
        let want = EmnNotification {
            mailbox: "mailat:a&b@x".into(),
            timestamp_unix: 1_077_259_200,
        };
        for text in [
            "<?xml version='1.0'?>\r\n<!-- hi --><emn xmlns='http://www.openmobilealliance.org/xmlns/emn' mailbox='mailat:a&amp;b@x' timestamp = '2004-02-20 06:40:00.5Z' />",
            "<emn mailbox=\"mailat:a&#38;b@x\" timestamp=\"2004-02-20T08:40:00+02:00\">",
            "<emn timestamp=\"2004-02-20T06:40:00\"\tmailbox=\"mailat:a&#x26;b@x\"></emn>",
        ] {
            assert_eq!(EmnNotification::parse(text.as_bytes()), Ok(want.clone()), "{text}");
        }
        for bad in [
            "",
            "<emnx mailbox='a' timestamp='1970-01-01T00:00:00Z'>",
            "<emn mailbox='a'>",
            "<emn mailbox='a' timestamp='2004-02-30T00:00:00Z'>",
            "<emn mailbox='&bogus;' timestamp='x'>",
            "<emn mailbox='a' timestamp='1969-12-31T23:59:59Z'>",
            "<emn mailbox=a>",
        ] {
            assert!(EmnNotification::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        for (unix, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(format_timestamp(unix), text);
            assert_eq!(parse_timestamp(text), Ok(unix));
        }
        assert_eq!(parse_timestamp(&format_timestamp(u64::MAX)), Ok(u64::MAX));
        let escaped = EmnNotification {
            mailbox: "\"<'>\r\n".into(),
            timestamp_unix: 5,
        };
        assert_eq!(
            EmnNotification::parse(escaped.to_xml().as_bytes()),
            Ok(escaped)
        );
    }
}
