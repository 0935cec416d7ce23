//! Registration with the notification delivery service: HELLO (spec §7.6).
//!
//! Resolution of E-51: the device sends `HELLO SP device-id SP base64(enc(device-id))
//! [SP network-characteristics]`; the service replies `OK [SP base64(enc(ip:port))]` or
//! `INVALID ENCRYPTION KEY`. Lines are encoded without a terminator (the transport adapter
//! adds CRLF on stream channels); readers accept a trailing CRLF.

use super::{b64_decode, b64_encode, next_word, trim, NotifyError, PayloadCipher};

/// A device's HELLO registration message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hello {
    /// The device ID in clear (must not contain blanks).
    pub device_id: String,
    /// The device ID encrypted with the device's key.
    pub encrypted_device_id: Vec<u8>,
    /// Free-form network characteristics (e.g. the device's IP address), if any.
    pub network: Option<String>,
}

impl Hello {
    /// A HELLO for `device_id`, encrypting it with `cipher`.
    pub fn new(
        device_id: impl Into<String>,
        cipher: &mut dyn PayloadCipher,
        network: Option<String>,
    ) -> Self {
        let device_id = device_id.into();
        let encrypted_device_id = cipher.encrypt(device_id.as_bytes());
        Self {
            device_id,
            encrypted_device_id,
            network,
        }
    }

    /// `HELLO SP device-id SP base64 [SP network]`; CR/LF in `network` become SP.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = b"HELLO ".to_vec();
        out.extend_from_slice(self.device_id.as_bytes());
        out.push(b' ');
        out.extend(b64_encode(&self.encrypted_device_id));
        if let Some(net) = &self.network {
            out.push(b' ');
            out.extend(
                net.bytes()
                    .map(|b| if matches!(b, b'\r' | b'\n') { b' ' } else { b }),
            );
        }
        out
    }

    /// Read a HELLO tolerantly: any case for `HELLO`, runs of blanks, surrounding whitespace
    /// (trailing CRLF). The network characteristics are the rest of the line, read lossily
    /// as UTF-8.
    pub fn parse(input: &[u8]) -> Result<Self, NotifyError> {
        let malformed = |what| NotifyError::Malformed { what };
        let (keyword, rest) = next_word(trim(input));
        if !keyword.eq_ignore_ascii_case(b"HELLO") {
            return Err(malformed("HELLO"));
        }
        let (id, rest) = next_word(rest);
        let (enc, rest) = next_word(rest);
        let device_id = std::str::from_utf8(id).ok().filter(|id| !id.is_empty());
        let encrypted = b64_decode(enc).filter(|e| !e.is_empty());
        Ok(Self {
            device_id: device_id.ok_or(malformed("device id"))?.to_owned(),
            encrypted_device_id: encrypted.ok_or(malformed("encrypted device id"))?,
            network: (!rest.is_empty()).then(|| String::from_utf8_lossy(rest).into_owned()),
        })
    }
}

/// The notification service's answer to a [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HelloReply {
    /// `OK [SP base64]`: registered.
    Ok {
        /// The delivery service's `ip:port`, encrypted with the device's key (UDP channel).
        endpoint: Option<Vec<u8>>,
    },
    /// `INVALID ENCRYPTION KEY`: no key for the device, or the proof did not match.
    InvalidEncryptionKey,
}

impl HelloReply {
    /// `OK [SP base64]` or `INVALID ENCRYPTION KEY`.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Ok { endpoint: None } => b"OK".to_vec(),
            Self::Ok { endpoint: Some(e) } => [&b"OK "[..], &b64_encode(e)].concat(),
            Self::InvalidEncryptionKey => b"INVALID ENCRYPTION KEY".to_vec(),
        }
    }

    /// Read a reply tolerantly (any case, runs of blanks, surrounding whitespace).
    pub fn parse(input: &[u8]) -> Result<Self, NotifyError> {
        let words: Vec<&[u8]> = trim(input)
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty())
            .collect();
        let is = |w: &[u8], k: &str| w.eq_ignore_ascii_case(k.as_bytes());
        match words.as_slice() {
            [ok] if is(ok, "OK") => Ok(Self::Ok { endpoint: None }),
            [ok, b64] if is(ok, "OK") => b64_decode(b64)
                .map(|e| Self::Ok { endpoint: Some(e) })
                .ok_or(NotifyError::Malformed { what: "endpoint" }),
            [a, b, c] if is(a, "INVALID") && is(b, "ENCRYPTION") && is(c, "KEY") => {
                Ok(Self::InvalidEncryptionKey)
            }
            _ => Err(NotifyError::Malformed {
                what: "HELLO reply",
            }),
        }
    }

    /// Decrypt the endpoint (`ip:port`) of an `OK` reply, if present.
    pub fn endpoint(&self, cipher: &mut dyn PayloadCipher) -> Result<Option<String>, NotifyError> {
        let Self::Ok { endpoint: Some(e) } = self else {
            return Ok(None);
        };
        let plain = cipher.decrypt(e)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| NotifyError::Decrypt)
    }
}

/// The service side of HELLO: `cipher` is the key on record for the device (`None`: no
/// key → [`HelloReply::InvalidEncryptionKey`]). The encrypted ID is decrypted and compared with
/// the clear ID; on a match the reply is `OK`, carrying `endpoint` (the delivery service's
/// `ip:port`) encrypted if given; on a mismatch or decryption error, `INVALID ENCRYPTION KEY`.
/// Recording the device's information is left to the caller.
pub fn answer_hello(
    hello: &Hello,
    cipher: Option<&mut dyn PayloadCipher>,
    endpoint: Option<&str>,
) -> HelloReply {
    let Some(cipher) = cipher else {
        return HelloReply::InvalidEncryptionKey;
    };
    match cipher.decrypt(&hello.encrypted_device_id) {
        Ok(id) if id == hello.device_id.as_bytes() => HelloReply::Ok {
            endpoint: endpoint.map(|e| cipher.encrypt(e.as_bytes())),
        },
        _ => HelloReply::InvalidEncryptionKey,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::XorTestCipher;

    #[test]
    fn hello_round_trip_and_tolerance() {
        let mut key = XorTestCipher::new(b"device-key".to_vec());
        let hello = Hello::new(
            "359881234567890",
            &mut key,
            Some("ip=10.0.0.7 net=GPRS".into()),
        );
        let wire = hello.encode();
        assert!(wire.starts_with(b"HELLO 359881234567890 "));
        assert_eq!(Hello::parse(&wire), Ok(hello.clone()));
        let mut sloppy = b"  hello   359881234567890\t".to_vec();
        sloppy.extend(b64_encode(&hello.encrypted_device_id));
        sloppy.extend(b"\r\n");
        assert_eq!(
            Hello::parse(&sloppy),
            Ok(Hello {
                network: None,
                ..hello
            })
        );
        for bad in [
            &b""[..],
            b"HELLO",
            b"HELLO id",
            b"HELLO id !!!",
            b"HI id Zm9v",
            b"HELLO \xff Zm9v",
        ] {
            assert!(
                Hello::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn replies() {
        for reply in [
            HelloReply::Ok { endpoint: None },
            HelloReply::Ok {
                endpoint: Some(b"\x01\x02".to_vec()),
            },
            HelloReply::InvalidEncryptionKey,
        ] {
            assert_eq!(HelloReply::parse(&reply.encode()), Ok(reply));
        }
        assert_eq!(
            HelloReply::parse(b" invalid  encryption key\r\n"),
            Ok(HelloReply::InvalidEncryptionKey)
        );
        assert_eq!(
            HelloReply::parse(b"ok\r\n"),
            Ok(HelloReply::Ok { endpoint: None })
        );
        for bad in [&b"OK !"[..], b"OK Zm9v x", b"NO", b""] {
            assert!(HelloReply::parse(bad).is_err());
        }
    }

    #[test]
    fn server_logic() {
        let mut device = XorTestCipher::new(b"k1".to_vec());
        let hello = Hello::new("dev-1", &mut device, None);
        let mut server = XorTestCipher::new(b"k1".to_vec());
        let reply = answer_hello(&hello, Some(&mut server), Some("192.0.2.1:3000"));
        assert!(matches!(reply, HelloReply::Ok { endpoint: Some(_) }));
        let reply = HelloReply::parse(&reply.encode()).unwrap();
        assert_eq!(
            reply.endpoint(&mut device),
            Ok(Some("192.0.2.1:3000".into()))
        );
        assert_eq!(
            answer_hello(&hello, Some(&mut server), None),
            HelloReply::Ok { endpoint: None }
        );
        assert_eq!(
            answer_hello(&hello, None, None),
            HelloReply::InvalidEncryptionKey
        );
        let mut wrong = XorTestCipher::new(b"k2".to_vec());
        assert_eq!(
            answer_hello(&hello, Some(&mut wrong), None),
            HelloReply::InvalidEncryptionKey
        );
    }
}
