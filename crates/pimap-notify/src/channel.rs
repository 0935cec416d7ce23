//! Per-channel payload size limits (spec §7.7).

use super::{EmnNotification, NotifyError};
use pimap_types::Channel;

/// One SMS carries 140 octets of user data (GSM 03.40 / 3GPP TS 23.040): 140 octets of 8-bit
/// data, or 160 characters of the 7-bit default alphabet packed into the same 140 octets.
/// Limits here count octets of the payload as produced by this module.
const SMS_USER_DATA: usize = 140;

/// A User Data Header with 16-bit application port addressing: UDHL (1) + IEI 0x05 (1) +
/// IEL (1) + destination and source ports (2 + 2) = 7 octets.
const PORT_UDH: usize = 7;

/// A UDP payload that fits one datagram on any IPv6 path (minimum MTU 1280 − 40 IPv6 − 8 UDP
/// = 1232) and on practically every IPv4 path, rounded down (as QUIC does) to leave room for
/// tunnels; larger datagrams risk IP fragmentation and loss.
const UDP_SAFE: usize = 1200;

/// The largest payload (in octets) a single message on `channel` can carry, or `None` when
/// the channel has no fixed limit.
///
/// * `SMS`: 140 (one SMS of 8-bit user data; 160 7-bit characters is the same 140 octets).
/// * `GSMSMS`, `WAPWDP`, `WAP_PUSH`: 133 = 140 − the 7-octet port-addressing UDH. Spec §7.7
///   (App B.3) has these channels address the notification to an application port (143) with
///   a UDH, or via WDP over SMS, so the header is always present. For `WAP_PUSH` the WSP
///   push headers (content type, application id) take further octets that depend on the push
///   adapter; subtract them yourself. Concatenated SMS is not assumed.
/// * `UDP`: 1200, a safe single datagram.
/// * `SIP`, `MMS`, `JMS`, `NONE` and other channels: `None` (no fixed limit here).
pub fn payload_limit(channel: &Channel) -> Option<usize> {
    match channel {
        Channel::Sms => Some(SMS_USER_DATA),
        Channel::GsmSms | Channel::WapWdp | Channel::WapPush => Some(SMS_USER_DATA - PORT_UDH),
        Channel::Udp => Some(UDP_SAFE),
        _ => None,
    }
}

/// Check `payload` against the limit of `channel`, shrinking it when possible.
///
/// A payload within the limit (or on a channel without one) is returned unchanged. An EMN
/// payload that is too long is rewritten in its compact one-line form
/// ([`EmnNotification::to_xml`]: no whitespace between attributes, no prolog or unknown
/// attributes). EXTENDED payloads cannot be shrunk here (they are encrypted): build them with
/// [`ExtendedNotification::encode_fitting`](super::ExtendedNotification::encode_fitting).
/// Otherwise [`NotifyError::TooLarge`].
pub fn fit_to_channel(payload: Vec<u8>, channel: &Channel) -> Result<Vec<u8>, NotifyError> {
    let Some(limit) = payload_limit(channel).filter(|&limit| payload.len() > limit) else {
        return Ok(payload);
    };
    let mut size = payload.len();
    if let Ok(emn) = EmnNotification::parse(&payload) {
        let compact = emn.to_xml().into_bytes();
        if compact.len() <= limit {
            return Ok(compact);
        }
        size = size.min(compact.len());
    }
    Err(NotifyError::TooLarge { size, limit })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimap_types::Atom;

    #[test]
    fn limits() {
        assert_eq!(payload_limit(&Channel::Sms), Some(140));
        assert_eq!(payload_limit(&Channel::GsmSms), Some(133));
        assert_eq!(payload_limit(&Channel::WapWdp), Some(133));
        assert_eq!(payload_limit(&Channel::Udp), Some(1200));
        for c in [
            Channel::Sip,
            Channel::Mms,
            Channel::Jms,
            Channel::None,
            Channel::Other(Atom::try_from("X").unwrap()),
        ] {
            assert_eq!(payload_limit(&c), None);
        }
    }

    #[test]
    fn emn_is_compacted_or_rejected() {
        let spaced = format!(
            "<?xml version=\"1.0\"?>\n<emn\n    mailbox=\"mailat:joe@foo.com\"\n    timestamp=\"2004-02-20T06:40:00Z\">\n{}</emn>",
            " ".repeat(40)
        );
        assert!(spaced.len() > 140);
        let fitted = fit_to_channel(spaced.into_bytes(), &Channel::Sms).unwrap();
        assert_eq!(
            fitted,
            br#"<emn mailbox="mailat:joe@foo.com" timestamp="2004-02-20T06:40:00Z"></emn>"#
        );
        assert_eq!(fit_to_channel(fitted.clone(), &Channel::GsmSms), Ok(fitted));
        let long = EmnNotification {
            mailbox: format!("mailat:{}@foo.com", "j".repeat(100)),
            timestamp_unix: 0,
        };
        let err = fit_to_channel(long.to_xml().into_bytes(), &Channel::WapWdp);
        assert!(matches!(err, Err(NotifyError::TooLarge { limit: 133, .. })));
        assert_eq!(
            fit_to_channel(vec![b'x'; 5000], &Channel::Sip).map(|p| p.len()),
            Ok(5000)
        );
        assert_eq!(
            fit_to_channel(vec![b'x'; 1201], &Channel::Udp),
            Err(NotifyError::TooLarge {
                size: 1201,
                limit: 1200
            })
        );
    }
}
