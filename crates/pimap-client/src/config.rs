//! Client configuration.

use std::time::Duration;

use pimap_codec::{DecoderOptions, Dialect};

/// How a [`Client`](super::Client) behaves. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Dialect to send. `None` (default): detected from CAPABILITY (spec §10.3), draft -08 when
    /// nothing says otherwise.
    pub dialect: Option<Dialect>,
    /// Leave and re-enter IDLE before this long has passed (RFC 2177 servers may drop a client
    /// idle for 30 minutes). Default 29 minutes.
    pub idle_refresh: Duration,
    /// Prefix tags with the session id (`<sid>.A0001`, spec §6.4) once a `* SESSIONID` is known.
    /// Off by default (an implementation choice of this crate; no draft defines the syntax).
    pub session_id_tags: bool,
    /// Letter(s) in front of the tag counter. Default `A`.
    pub tag_prefix: String,
    /// Ask for CAPABILITY after the greeting when the greeting did not carry it. Default on.
    pub auto_capability: bool,
    /// Decoder options (tolerance, limits) for what the server sends.
    pub decoder: DecoderOptions,
    /// At most this many untagged responses are gathered into one command's
    /// [`Completion`](super::Completion); beyond that `truncated` is set (mailbox events are
    /// still applied and reported one by one). Default 100 000.
    pub max_completion_data: usize,
    /// At most this many commands queued but not yet completed; more are refused with
    /// [`ClientError::QueueFull`](super::ClientError::QueueFull). Default 10 000.
    pub max_queued_commands: usize,
    /// At most this many events buffered during LOGIN until its tagged OK (E-73). A server
    /// that sends more makes the login outcome `ResyncRequired`. Default 100 000.
    pub max_login_events: usize,
    /// Ceilings on every inflation (COMPRESS=DEFLATE input, XZIP responses).
    pub inflate_limits: pimap_codec::compress::Limits,
    /// DEFLATE level for COMPRESS=DEFLATE output (default [`pimap_codec::compress::PUSH_LEVEL`]).
    pub compress_level: u8,
    /// Send `XRESUME` before LOGIN / AUTHENTICATE when the server advertises it, so a
    /// resumed device session continues exactly after the last response applied (see
    /// [`pimap_types::ResumeCursor`]). Default on.
    pub resume_positions: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            dialect: None,
            idle_refresh: Duration::from_secs(29 * 60),
            session_id_tags: false,
            tag_prefix: "A".to_string(),
            auto_capability: true,
            decoder: DecoderOptions::default(),
            max_completion_data: 100_000,
            max_queued_commands: 10_000,
            max_login_events: 100_000,
            inflate_limits: pimap_codec::compress::Limits::default(),
            compress_level: pimap_codec::compress::PUSH_LEVEL,
            resume_positions: true,
        }
    }
}
