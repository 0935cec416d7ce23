//! The EXTENDED out-of-band format (spec §7.5).
//!
//! The drafts (-06…-12 App B.2) give only a template,
//! `<tag> <notification seq no> <client-email-account -name> <event> [<uid>, <sender>, <date>,
//! <time>, <subject>, [<body.]]`, leaving separators and the encoding of the ciphertext in a
//! text SMS unspecified (E-52). **Crate choice**: a payload is
//! `_%$P-IMAP$%_ SP base64(ciphertext)` (base64 of the plaintext when no key is provisioned);
//! the plaintext is SP-separated IMAP `astring`s,
//! `seqno SP account SP event [SP uid SP sender SP date SP time SP subject [SP body]]`.
//!
//! Strings are written as atoms when possible, else as quoted strings with `\` and `"`
//! escaped. Quoted strings may contain UTF-8 (as with IMAP `UTF8=ACCEPT`); CR and LF cannot
//! appear in a quoted string and are replaced by SP when encoding, so such strings do not
//! round-trip exactly. The reader also accepts commas and runs of blanks as separators (the
//! drafts' template uses commas) and joins unquoted words after the body field into the body.

use super::{b64_decode, b64_encode, trim, NotifyError, PayloadCipher};

/// The marker starting every EXTENDED payload (the drafts' `<tag>`).
pub const EXTENDED_MARKER: &str = "_%$P-IMAP$%_";

/// The event of an EXTENDED notification, with the client behaviour the drafts require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtendedEvent {
    /// `NEW_MESSAGE`: a message arrived.
    NewMessage,
    /// `DELETED_MESSAGE`: a message was deleted.
    DeletedMessage,
    /// `CHANGED_MESSAGE`: a message changed (e.g. its flags).
    ChangedMessage,
    /// `SYNC`: incremental sync (session valid, UIDVALIDITY unchanged).
    Sync,
    /// `FULL_SYNC`: discard local state and refetch everything.
    FullSync,
    /// `STATE_COMPARISON_SYNC`: session valid but UIDVALIDITY changed; compare state.
    StateComparisonSync,
    /// `NEW_ENC_KEY`: a new key is available through XPROVISION.
    NewEncKey,
    /// `LOCK_DOWN`: lock the (lost) device and delete stored mail.
    LockDown,
}

const EVENTS: [ExtendedEvent; 8] = [
    ExtendedEvent::NewMessage,
    ExtendedEvent::DeletedMessage,
    ExtendedEvent::ChangedMessage,
    ExtendedEvent::Sync,
    ExtendedEvent::FullSync,
    ExtendedEvent::StateComparisonSync,
    ExtendedEvent::NewEncKey,
    ExtendedEvent::LockDown,
];

impl ExtendedEvent {
    /// The wire name, e.g. `NEW_MESSAGE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewMessage => "NEW_MESSAGE",
            Self::DeletedMessage => "DELETED_MESSAGE",
            Self::ChangedMessage => "CHANGED_MESSAGE",
            Self::Sync => "SYNC",
            Self::FullSync => "FULL_SYNC",
            Self::StateComparisonSync => "STATE_COMPARISON_SYNC",
            Self::NewEncKey => "NEW_ENC_KEY",
            Self::LockDown => "LOCK_DOWN",
        }
    }

    /// Read a wire name, case-insensitively, accepting `-` for `_`.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.replace('-', "_");
        EVENTS
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(&name))
    }
}

/// The message summary carried by an EXTENDED notification (formats are free text: the drafts
/// do not specify them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageSummary {
    /// The message UID.
    pub uid: u32,
    /// The sender.
    pub sender: String,
    /// The date.
    pub date: String,
    /// The time.
    pub time: String,
    /// The subject.
    pub subject: String,
    /// The (possibly partial) body, if sent.
    pub body: Option<String>,
}

/// An EXTENDED out-of-band notification.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtendedNotification {
    /// The notification sequence number (unique per notification).
    pub seqno: u64,
    /// The client's e-mail account name.
    pub account: String,
    /// The event.
    pub event: ExtendedEvent,
    /// The message summary (e.g. for `NEW_MESSAGE`).
    pub message: Option<MessageSummary>,
}

impl ExtendedNotification {
    /// Encode as `_%$P-IMAP$%_ SP base64(payload)`, the payload encrypted with `cipher` if
    /// one is given.
    pub fn encode(&self, cipher: Option<&mut dyn PayloadCipher>) -> Vec<u8> {
        let plain = self.plaintext();
        let payload = match cipher {
            Some(c) => c.encrypt(&plain),
            None => plain,
        };
        let mut out = Vec::with_capacity(EXTENDED_MARKER.len() + 1 + payload.len() * 4 / 3 + 4);
        out.extend_from_slice(EXTENDED_MARKER.as_bytes());
        out.push(b' ');
        out.extend(b64_encode(&payload));
        out
    }

    /// Encode so that the result is at most `limit` octets: as [`Self::encode`]; if too big,
    /// without the body; then with the subject truncated (on a UTF-8 character boundary, as
    /// long as possible). [`NotifyError::TooLarge`] (with the smallest size reached) if even
    /// an empty subject does not fit. The cipher may be called several times; only the
    /// returned ciphertext is meant to be sent.
    pub fn encode_fitting(
        &self,
        limit: usize,
        mut cipher: Option<&mut dyn PayloadCipher>,
    ) -> Result<Vec<u8>, NotifyError> {
        let full = self.encode(reborrow(&mut cipher));
        let Some(msg) = self.message.as_ref().filter(|_| full.len() > limit) else {
            return if full.len() <= limit {
                Ok(full)
            } else {
                Err(too_large(full.len(), limit))
            };
        };
        let mut trial = self.clone();
        let mut attempt = |subject: &str, cipher: Option<&mut dyn PayloadCipher>| {
            if let Some(m) = trial.message.as_mut() {
                m.body = None;
                m.subject = subject.to_owned();
            }
            trial.encode(cipher)
        };
        let no_body = attempt(&msg.subject, reborrow(&mut cipher));
        if no_body.len() <= limit {
            return Ok(no_body);
        }
        let smallest = attempt("", reborrow(&mut cipher));
        if smallest.len() > limit {
            return Err(too_large(smallest.len(), limit));
        }
        // Largest char boundary whose prefix fits: bounds[lo] fits, the full subject does not.
        let bounds: Vec<usize> = msg.subject.char_indices().map(|(i, _)| i).collect();
        let (mut lo, mut hi, mut best) = (0, bounds.len(), smallest);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let at = bounds.get(mid).copied().unwrap_or(0);
            let out = attempt(
                msg.subject.get(..at).unwrap_or_default(),
                reborrow(&mut cipher),
            );
            if out.len() <= limit {
                (lo, best) = (mid, out);
            } else {
                hi = mid;
            }
        }
        Ok(best)
    }

    /// Read a payload tolerantly: surrounding whitespace is ignored and the marker must be
    /// followed by blanks; if the remainder is valid base64 it is decoded (and decrypted with
    /// `cipher` if given) and parsed; otherwise, or if that fails, the remainder is parsed as
    /// plaintext. Note that a plaintext payload is thus accepted even when a cipher is given.
    pub fn parse(
        input: &[u8],
        cipher: Option<&mut dyn PayloadCipher>,
    ) -> Result<Self, NotifyError> {
        let rest = trim(input).strip_prefix(EXTENDED_MARKER.as_bytes());
        let rest = rest.filter(|r| r.first().is_some_and(u8::is_ascii_whitespace));
        let rest = trim(rest.ok_or(NotifyError::Malformed { what: "marker" })?);
        let mut first_err = None;
        if let Some(raw) = b64_decode(rest) {
            let plain = match cipher {
                Some(c) => c.decrypt(&raw),
                None => Ok(raw),
            };
            match plain.and_then(|p| Self::from_plaintext(&p)) {
                Ok(n) => return Ok(n),
                Err(e) => first_err = Some(e),
            }
        }
        Self::from_plaintext(rest).map_err(|e| first_err.unwrap_or(e))
    }

    fn plaintext(&self) -> Vec<u8> {
        let mut out = format!("{} ", self.seqno).into_bytes();
        push_astring(&mut out, &self.account);
        out.push(b' ');
        out.extend_from_slice(self.event.as_str().as_bytes());
        if let Some(m) = &self.message {
            out.extend_from_slice(format!(" {}", m.uid).as_bytes());
            for field in [
                Some(&m.sender),
                Some(&m.date),
                Some(&m.time),
                Some(&m.subject),
                m.body.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                out.push(b' ');
                push_astring(&mut out, field);
            }
        }
        out
    }

    fn from_plaintext(plain: &[u8]) -> Result<Self, NotifyError> {
        let malformed = |what| NotifyError::Malformed { what };
        let tokens = tokenize(trim(plain))?;
        let [seqno, account, event, rest @ ..] = tokens.as_slice() else {
            return Err(malformed("field count"));
        };
        let number = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| s.parse().ok())
                .flatten()
        };
        let message = match rest {
            [] => None,
            [uid, sender, date, time, subject, body @ ..] => Some(MessageSummary {
                uid: number(uid)
                    .and_then(|n: u64| u32::try_from(n).ok())
                    .ok_or(malformed("uid"))?,
                sender: sender.clone(),
                date: date.clone(),
                time: time.clone(),
                subject: subject.clone(),
                body: (!body.is_empty()).then(|| body.join(" ")),
            }),
            _ => return Err(malformed("message fields")),
        };
        Ok(Self {
            seqno: number(seqno).ok_or(malformed("seqno"))?,
            account: account.clone(),
            event: ExtendedEvent::parse(event).ok_or(malformed("event"))?,
            message,
        })
    }
}

/// Reborrow an optional cipher (shortening the trait object's lifetime, which
/// `Option::as_deref_mut` cannot do).
fn reborrow<'a>(
    cipher: &'a mut Option<&mut dyn PayloadCipher>,
) -> Option<&'a mut dyn PayloadCipher> {
    match cipher {
        Some(c) => Some(&mut **c),
        None => None,
    }
}

fn too_large(size: usize, limit: usize) -> NotifyError {
    NotifyError::TooLarge { size, limit }
}

fn is_atom_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !b"(){%*\"\\,".contains(&b)
}

/// An IMAP astring: atom if possible, else a quoted string (CR/LF replaced by SP).
fn push_astring(out: &mut Vec<u8>, s: &str) {
    if !s.is_empty() && s.bytes().all(is_atom_char) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    for b in s.bytes() {
        match b {
            b'\r' | b'\n' => out.push(b' '),
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// Split on blanks and commas, honouring quoted strings (`\` escapes the next byte).
fn tokenize(mut s: &[u8]) -> Result<Vec<String>, NotifyError> {
    let is_sep = |b: &u8| matches!(b, b' ' | b'\t' | b',');
    let mut tokens = Vec::new();
    loop {
        s = s
            .get(s.iter().position(|b| !is_sep(b)).unwrap_or(s.len())..)
            .unwrap_or_default();
        let mut token = Vec::new();
        match s {
            [] => break,
            [b'"', body @ ..] => {
                let mut iter = body.iter().enumerate();
                let mut end = None;
                while let Some((i, &b)) = iter.next() {
                    match b {
                        b'"' => {
                            end = Some(i + 1);
                            break;
                        }
                        b'\\' => token.extend(iter.next().map(|(_, &b)| b)),
                        b => token.push(b),
                    }
                }
                let end = end.ok_or(NotifyError::Malformed {
                    what: "quoted string",
                })?;
                s = body.get(end..).unwrap_or_default();
            }
            _ => {
                let end = s.iter().position(is_sep).unwrap_or(s.len());
                token.extend_from_slice(s.get(..end).unwrap_or_default());
                s = s.get(end..).unwrap_or_default();
            }
        }
        tokens
            .push(String::from_utf8(token).map_err(|_| NotifyError::Malformed { what: "utf-8" })?);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fit_to_channel, payload_limit, EmnNotification, Hello, HelloReply, XorTestCipher};
    use pimap_types::Channel;
    use proptest::prelude::*;

    fn sample(body: Option<&str>) -> ExtendedNotification {
        ExtendedNotification {
            seqno: 42,
            account: "joe@foo.com".into(),
            event: ExtendedEvent::NewMessage,
            message: Some(MessageSummary {
                uid: 4711,
                sender: "Ann \"A\" <ann@x.org>".into(),
                date: "2004-02-20".into(),
                time: "06:40:00".into(),
                subject: "Réunion, lundi \\ 9h".into(),
                body: body.map(Into::into),
            }),
        }
    }

    #[test]
    fn plaintext_form_and_round_trips() {
        let n = sample(Some("See you"));
        assert_eq!(
            String::from_utf8(n.plaintext()).unwrap(),
            "42 joe@foo.com NEW_MESSAGE 4711 \"Ann \\\"A\\\" <ann@x.org>\" 2004-02-20 06:40:00 \"Réunion, lundi \\\\ 9h\" \"See you\""
        );
        let clear = n.encode(None);
        assert!(clear.starts_with(b"_%$P-IMAP$%_ NDIg"));
        assert_eq!(ExtendedNotification::parse(&clear, None), Ok(n.clone()));
        let mut key = XorTestCipher::new(b"secret".to_vec());
        let sealed = n.encode(Some(&mut key));
        assert_ne!(sealed, clear);
        assert_eq!(ExtendedNotification::parse(&sealed, Some(&mut key)), Ok(n));
        let sync = ExtendedNotification {
            seqno: 7,
            account: "".into(),
            event: ExtendedEvent::Sync,
            message: None,
        };
        assert_eq!(
            ExtendedNotification::parse(&sync.encode(None), None),
            Ok(sync)
        );
    }

    #[test]
    fn tolerant_plaintext_and_errors() {
        let n = ExtendedNotification::parse(b"  _%$P-IMAP$%_   1 joe lock-down\r\n", None).unwrap();
        assert_eq!(
            (n.seqno, n.account.as_str(), n.event),
            (1, "joe", ExtendedEvent::LockDown)
        );
        let n = ExtendedNotification::parse(
            b"_%$P-IMAP$%_ 2 joe new_message 9, ann, d, t, \"hi\", hello world",
            None,
        );
        let m = n.unwrap().message.unwrap();
        assert_eq!(
            (m.uid, m.subject.as_str(), m.body.as_deref()),
            (9, "hi", Some("hello world"))
        );
        for bad in [
            &b"_%$P-IMAP$%_"[..],
            b"_%$P-IMAP$%_ 1 joe",
            b"_%$P-IMAP$%_ x joe SYNC",
            b"1 joe SYNC",
            b"_%$P-IMAP$%_ 1 joe BOGUS",
            b"_%$P-IMAP$%_ 1 joe SYNC 5",
            b"_%$P-IMAP$%_ 1 \"joe SYNC",
            b"_%$P-IMAP$%_ 1 joe NEW_MESSAGE 99999999999 a b c d",
        ] {
            assert!(
                ExtendedNotification::parse(bad, None).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            ExtendedEvent::parse("state_comparison_sync"),
            Some(ExtendedEvent::StateComparisonSync)
        );
    }

    #[test]
    fn encode_fitting_drops_body_then_truncates_subject() {
        let mut n = sample(Some(&"x".repeat(500)));
        let no_body = sample(None).encode(None).len();
        let mut key = XorTestCipher::new(b"k".to_vec());
        let out = n.encode_fitting(no_body, Some(&mut key)).unwrap();
        assert_eq!(out.len(), no_body);
        let got = ExtendedNotification::parse(&out, Some(&mut key))
            .unwrap()
            .message
            .unwrap();
        assert_eq!(
            (got.body, got.subject.as_str()),
            (None, "Réunion, lundi \\ 9h")
        );
        if let Some(m) = n.message.as_mut() {
            m.subject = "é".repeat(200);
        }
        let limit = payload_limit(&Channel::Sms).unwrap();
        let out = n.encode_fitting(limit, None).unwrap();
        assert!(out.len() <= limit && out.len() > limit - 8, "{}", out.len());
        let subject = ExtendedNotification::parse(&out, None)
            .unwrap()
            .message
            .unwrap()
            .subject;
        assert!(!subject.is_empty() && subject.chars().all(|c| c == 'é'));
        assert_eq!(fit_to_channel(out.clone(), &Channel::Sms), Ok(out));
        assert!(matches!(
            n.encode_fitting(20, None),
            Err(NotifyError::TooLarge { limit: 20, .. })
        ));
    }

    fn no_crlf(s: &str) -> String {
        s.replace(['\r', '\n'], " ")
    }

    proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut key = XorTestCipher::new(b"k".to_vec());
            for prefix in [&b""[..], b"_%$P-IMAP$%_ ", b"<emn ", b"HELLO ", b"OK "] {
                let input = [prefix, &bytes].concat();
                let _ = ExtendedNotification::parse(&input, None);
                let _ = ExtendedNotification::parse(&input, Some(&mut key));
                let _ = EmnNotification::parse(&input);
                let _ = Hello::parse(&input);
                let _ = HelloReply::parse(&input);
                let _ = fit_to_channel(input, &Channel::Sms);
            }
            let _ = ExtendedEvent::parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn encode_parse_round_trip(seqno: u64, account: String, uid: u32, sender: String,
            subject: String, body: Option<String>, event in 0..8usize, with_msg: bool,
            key in proptest::collection::vec(any::<u8>(), 0..8), mailbox: String, ts: u64) {
            let make = |f: &dyn Fn(&str) -> String| ExtendedNotification {
                seqno,
                account: f(&account),
                event: EVENTS.get(event).copied().unwrap_or(ExtendedEvent::Sync),
                message: with_msg.then(|| MessageSummary {
                    uid, sender: f(&sender), date: f("d"), time: f(""), subject: f(&subject),
                    body: body.as_deref().map(f),
                }),
            };
            let (n, want) = (make(&|s| s.to_owned()), make(&no_crlf));
            prop_assert_eq!(ExtendedNotification::parse(&n.encode(None), None), Ok(want.clone()));
            let mut cipher = XorTestCipher::new(key);
            let sealed = n.encode(Some(&mut cipher));
            prop_assert_eq!(ExtendedNotification::parse(&sealed, Some(&mut cipher)), Ok(want));
            let emn = EmnNotification { mailbox, timestamp_unix: ts };
            prop_assert_eq!(EmnNotification::parse(emn.to_xml().as_bytes()), Ok(emn));
        }
    }
}
