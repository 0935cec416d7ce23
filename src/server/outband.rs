//! temporary stub
use bytes::Bytes;
use super::change::MailboxChange;
use super::session::Session;
use super::CipherProvider;
pub(crate) fn payload(
    _s: &Session,
    _change: &MailboxChange,
    _mail_domain: &str,
    _now_unix: i64,
    _cipher: Option<&mut (dyn CipherProvider + 'static)>,
) -> Option<Bytes> {
    None
}
