//! Out-of-band notification payloads for a device (spec §7.4-7.7), built with
//! [`crate::notify`].

use bytes::Bytes;

use pimap_notify::{
    fit_to_channel, payload_limit, EmnNotification, ExtendedEvent, ExtendedNotification,
    MessageSummary,
};
use pimap_types::OutbandFormat;

use super::change::MailboxChange;
use super::session::Session;
use super::CipherProvider;

/// The payload for one pushed change, or `None` when it cannot be made to fit the channel.
pub(crate) fn payload(
    s: &Session,
    change: &MailboxChange,
    mail_domain: &str,
    now_unix: i64,
    cipher: Option<&mut (dyn CipherProvider + 'static)>,
) -> Option<Bytes> {
    let channel = &s.profile.prefs.outband_channel;
    let user = String::from_utf8_lossy(&s.user).into_owned();
    let domain = s
        .domain
        .as_ref()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_else(|| mail_domain.to_string());
    match s.profile.prefs.outband_format {
        OutbandFormat::Emn => {
            let emn = EmnNotification {
                mailbox: format!("mailat:{user}@{domain}"),
                timestamp_unix: u64::try_from(now_unix).unwrap_or(0),
            };
            fit_to_channel(emn.to_xml().into_bytes(), channel)
                .ok()
                .map(Bytes::from)
        }
        OutbandFormat::Extended => {
            let (event, message) = match change {
                MailboxChange::New { uid, props, .. } => {
                    let h = |n: &[u8]| {
                        props
                            .header(n)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default()
                    };
                    let (date, time) = match props.internal_date {
                        Some(d) => {
                            let dd = d.date();
                            let (hh, mm, ss) = d.time();
                            (
                                format!("{:04}-{:02}-{:02}", dd.year(), dd.month(), dd.day()),
                                format!("{hh:02}:{mm:02}:{ss:02}"),
                            )
                        }
                        None => (String::new(), String::new()),
                    };
                    (
                        ExtendedEvent::NewMessage,
                        Some(MessageSummary {
                            uid: *uid,
                            sender: h(b"From"),
                            date,
                            time,
                            subject: h(b"Subject"),
                            body: None,
                        }),
                    )
                }
                MailboxChange::Expunge { .. } => (ExtendedEvent::DeletedMessage, None),
                MailboxChange::Flags { .. } => (ExtendedEvent::ChangedMessage, None),
                _ => (ExtendedEvent::Sync, None),
            };
            let n = ExtendedNotification {
                seqno: s.notify_seq,
                account: format!("{user}@{domain}"),
                event,
                message,
            };
            let limit = payload_limit(channel).unwrap_or(usize::MAX);
            let device = s.device.as_deref().unwrap_or_default();
            let c = cipher.and_then(|p| p.cipher_for(&s.user, device));
            n.encode_fitting(limit, c).ok().map(Bytes::from)
        }
    }
}
