//! Server configuration and its limits.

use std::time::Duration;

use pimap_codec::{DecoderOptions, Dialect};
use pimap_types::{Atom, Capability};

/// What XPROVISION advertises (spec §3.5): the values the server allows for each
/// preference and where the notification service listens. XSETPIMAPPREF values are
/// validated against these lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Provisioning {
    /// Allowed PIMAP_OUTBAND_CHANNEL values.
    pub channels: Vec<&'static str>,
    /// Allowed PIMAP_EVENT_FILTER values.
    pub event_filters: Vec<&'static str>,
    /// Allowed PIMAP_OUTBAND_FORMAT values.
    pub outband_formats: Vec<&'static str>,
    /// PIMAP_NOTIFICATION_ADDRESS (where a device registers with HELLO), if any.
    pub notification_address: Option<String>,
    /// PIMAP_NOTIFICATION_PORT.
    pub notification_port: Option<u16>,
    /// Send exactly these XPROVISION items instead of the ones derived from the fields above
    /// (for deployments that must match a peer's expectations byte for byte, e.g. the -01
    /// `ENC_KEY` / `UDP=3000` forms). Validation of XSETPIMAPPREF still uses the lists above.
    pub items_override: Option<Vec<pimap_types::ProvisionItem>>,
}

impl Default for Provisioning {
    fn default() -> Self {
        Self {
            channels: vec![
                "SMS", "GSMSMS", "WAP_PUSH", "WAPWDP", "MMS", "UDP", "SIP", "NONE",
            ],
            event_filters: vec!["ALL", "NONE", "NEW"],
            outband_formats: vec!["EMN", "EXTENDED"],
            notification_address: None,
            notification_port: None,
            items_override: None,
        }
    }
}

/// Configuration of a [`Server`](super::Server). Every limit is documented here; going over
/// one yields a typed refusal (BAD/NO, or `* RESYNC` for event queues), never unbounded
/// memory.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The dialect sent (draft -08 by default; -01 also supported).
    pub dialect: Dialect,
    /// Capabilities in the greeting and CAPABILITY (default from [`default_capabilities`]).
    /// `STARTTLS` and `LOGINDISABLED` are added per connection from [`Self::starttls`] and
    /// [`Self::login_requires_tls`]; do not list them here.
    pub capabilities: Vec<Capability>,
    /// Offer STARTTLS on plaintext connections (default off: the caller must be able to run
    /// a TLS handshake when it sees [`Output::StartTls`](crate::Output::StartTls)).
    pub starttls: bool,
    /// Refuse LOGIN and AUTHENTICATE on plaintext connections (`LOGINDISABLED`,
    /// `NO [PRIVACYREQUIRED]`) until STARTTLS (default off).
    pub login_requires_tls: bool,
    /// Greeting text.
    pub greeting: String,
    /// Detached device sessions expire after this much inactivity (default 1 hour: the
    /// drafts ask for at least one hour).
    pub session_expiry: Duration,
    /// A connection with no input for this long is logged out (RFC 3501: at least 30
    /// minutes; also bounds IDLE).
    pub autologout: Duration,
    /// Events queued per folder and device; on overflow the queue is dropped and the device
    /// is owed `* RESYNC` (default 10 000).
    pub max_queued_events: usize,
    /// Folder events (create/delete/rename) queued per device (default 1 000).
    pub max_folder_events: usize,
    /// Commands read ahead of the one being executed (default 256); more closes the
    /// connection with BYE.
    pub max_pipelined: usize,
    /// Open connections (default 10 000); `accept` beyond it returns an error.
    pub max_connections: usize,
    /// Connections not yet authenticated (default 1 000); `accept` beyond it returns an
    /// error, so a flood of idle or dribbling connections cannot take every slot.
    pub max_unauthenticated: usize,
    /// Open connections from one address, for [`Server::accept_from`](super::Server::accept_from)
    /// (default 1 000: mobile carriers put many phones behind one address, so this stops a
    /// single host, not a network).
    pub max_connections_per_address: usize,
    /// Connections of one account at once (default 64); a login beyond it is refused with
    /// `NO [LIMIT]`.
    pub max_connections_per_user: usize,
    /// Device sessions of one account (default 64). A new device beyond it replaces the
    /// account's longest-detached session; when none is detached the login is refused with
    /// `NO [LIMIT]`.
    pub max_device_sessions_per_user: usize,
    /// Time from accept to a successful login (default 60 s, checked with the sweep's
    /// granularity); input does not extend it. Then `* BYE` and close.
    pub login_timeout: Duration,
    /// Framer limits before authentication (default 8 KiB line, 8 KiB literal, 16 KiB
    /// message, as small as Dovecot's login process); [`decoder`](Self::decoder)'s after.
    /// XZIP INLINE requests before authentication inflate to at most `max_message`.
    pub preauth_limits: pimap_codec::FramerLimits,
    /// Input octets buffered across all connections, undecoded (partial commands and
    /// literals; default 256 MiB). A connection whose input would pass it is closed with
    /// `* BYE [LIMIT]`.
    pub max_buffered_input: usize,
    /// Unsent output octets per connection before the server stops executing that
    /// connection's commands and pushing to it (queued events then overflow into RESYNC as
    /// usual). `None` (default): unbounded, for drivers that do not report what they wrote.
    /// A driver that calls [`Server::transmitted`](super::Server::transmitted) for every
    /// transmission should set it (the example drivers use 1 MiB).
    pub output_budget: Option<usize>,
    /// Unsent output octets across connections (with `output_budget`): beyond it, every
    /// connection that has unsent output waits (default 256 MiB).
    pub global_output_budget: usize,
    /// Estimated octets of FETCH data asked of the store in one request (default 1 MiB).
    /// A FETCH is cut into chunks of consecutive messages by their RFC822.SIZE (from
    /// [`MessageProps::size`](super::MessageProps::size)), a message with more body items
    /// than fit is split by item (several `* n FETCH` responses), and the next chunk is
    /// requested only when the output is below [`ServerConfig::output_budget`]. A whole
    /// message item larger than this (`BODY[]`, `BODY.PEEK[]`, `RFC822`) is streamed: its
    /// literal is announced with the message's `RFC822.SIZE` and its octets are requested
    /// as partials of this size.
    pub fetch_chunk: usize,
    /// Device sessions kept (default 1 000 000); a new device beyond it is refused with NO.
    pub max_sessions: usize,
    /// XMACRO definitions per device (default 64).
    pub max_macros: usize,
    /// Accept `AUTHENTICATE PLAIN` with an authorization identity different from the
    /// authentication identity, handing it to the caller as
    /// `authorize_as` of [`Request::Authenticate`](super::Request::Authenticate) to decide (default `false`:
    /// such logins are refused with `NO [AUTHORIZATIONFAILED]`).
    pub allow_authorization_identity: bool,
    /// DEFLATE level for COMPRESS=DEFLATE output (default [`pimap_codec::compress::PUSH_LEVEL`], 1:
    /// measured at 17 bytes and 0.36 us per pushed event with zlib-rs, see the README).
    pub compress_level: u8,
    /// DEFLATE level for XZIP responses and -12 XZIP FETCH items (default
    /// [`pimap_codec::compress::DEFAULT_LEVEL`], 6: bulk data, where the ratio matters more).
    pub xzip_level: u8,
    /// Ceilings on every inflation (COMPRESS input, XZIP INLINE requests).
    pub inflate_limits: pimap_codec::compress::Limits,
    /// Largest inflated XZIP INLINE request (default 64 MiB, the literal limit); a larger
    /// one (a compression bomb) is answered BAD.
    pub max_inline_inflated: usize,
    /// Length of generated session ids (default 22 characters, about 131 bits).
    pub session_id_len: usize,
    /// Command decoding limits and tolerance.
    pub decoder: DecoderOptions,
    /// What XPROVISION advertises.
    pub provisioning: Provisioning,
    /// Domain used in EMN `mailat:` addresses when the login name has none.
    pub mail_domain: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::new(Dialect::Draft08)
    }
}

impl ServerConfig {
    /// Defaults for a dialect.
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            capabilities: default_capabilities(dialect),
            starttls: false,
            login_requires_tls: false,
            greeting: "pimap server ready".into(),
            session_expiry: Duration::from_secs(3600),
            autologout: Duration::from_secs(30 * 60),
            max_queued_events: 10_000,
            max_folder_events: 1_000,
            max_pipelined: 256,
            max_connections: 10_000,
            max_unauthenticated: 1_000,
            max_connections_per_address: 1_000,
            max_connections_per_user: 64,
            max_device_sessions_per_user: 64,
            login_timeout: Duration::from_secs(60),
            preauth_limits: pimap_codec::FramerLimits {
                max_line: 8 * 1024,
                max_literal: 8 * 1024,
                max_message: 16 * 1024,
            },
            max_buffered_input: 256 << 20,
            output_budget: None,
            global_output_budget: 256 << 20,
            fetch_chunk: 1 << 20,
            max_sessions: 1_000_000,
            max_macros: 64,
            allow_authorization_identity: false,
            max_inline_inflated: 64 << 20,
            compress_level: pimap_codec::compress::PUSH_LEVEL,
            xzip_level: pimap_codec::compress::DEFAULT_LEVEL,
            inflate_limits: pimap_codec::compress::Limits::default(),
            session_id_len: 22,
            decoder: DecoderOptions::default(),
            provisioning: Provisioning::default(),
            mail_domain: "localhost".into(),
        }
    }
}

/// The capabilities a server built on this crate offers for a dialect (spec §2.3 / §10.3).
pub fn default_capabilities(dialect: Dialect) -> Vec<Capability> {
    let names: &[&str] = match dialect {
        Dialect::Draft01 => &[
            "IMAP4rev1",
            "IDLE",
            "LITERAL+",
            "UIDPLUS",
            "AUTH=PLAIN",
            "COMPRESS=DEFLATE",
            "XPIMAPPREF",
            "XTERSE",
            "XFILTER",
            "XZIP",
            "XDELIVER",
            "XPROVISION",
            "XMACRO",
            "XRESUME",
            "MOVE",
            "UNSELECT",
            "ESEARCH",
            "ID",
            "NAMESPACE",
        ],
        // Individual atoms plus the revision marker: the version atom xPIMAPv1r1 would also
        // promise XCONVERT, which this server does not serve.
        _ => &[
            "IMAP4rev1",
            "IDLE",
            "LITERAL+",
            "UIDPLUS",
            "AUTH=PLAIN",
            "COMPRESS=DEFLATE",
            "xPIMAPcomplyrev08",
            "XPIMAPPREF",
            "XFILTER",
            "XZIP",
            "XDELIVER",
            "XPROVISION",
            "XMACRO",
            "XRESUME",
            "MOVE",
            "UNSELECT",
            "ESEARCH",
            "ID",
            "NAMESPACE",
        ],
    };
    names
        .iter()
        .filter_map(|n| Atom::new(n.as_bytes().to_vec()).ok().map(Capability))
        .collect()
}
