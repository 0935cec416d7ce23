//! What the server asks its caller to do.

use bytes::Bytes;

use pimap_types::Channel;

use super::request::{Request, RequestId};

/// Identifies one connection of a [`Server`](super::Server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// One output of [`Server::poll_output`](super::Server::poll_output).
///
/// `Debug` shows the size of transmitted bytes, not the bytes (a `* SESSIONID` is a secret).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Send these bytes on the connection.
    Transmit {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        data: Bytes,
    },
    /// Perform a request and answer it with [`Server::complete`](super::Server::complete).
    Request {
        /// The request's identity.
        id: RequestId,
        /// The connection it serves.
        conn: ConnId,
        /// What to do.
        request: Request,
    },
    /// Send an out-of-band notification (spec §7.4-7.7).
    Notify(Notification),
    /// The connection answered STARTTLS: after transmitting everything before this output,
    /// run the TLS handshake (server side) on the transport and call
    /// [`Server::secured`](super::Server::secured), or close the connection if it fails.
    /// Until then the server ignores input on it.
    StartTls {
        /// The connection.
        conn: ConnId,
    },
    /// Close the connection (after transmitting everything before this output).
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// An out-of-band notification for a device that is not connected in band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The user.
    pub user: Bytes,
    /// The device id.
    pub device: Bytes,
    /// The channel from PIMAP_OUTBAND_CHANNEL.
    pub channel: Channel,
    /// The address from PIMAP_OUTBAND_ADDRESS (empty for UDP, where the device registered
    /// with HELLO).
    pub address: Bytes,
    /// The payload: an OMA EMN document or an EXTENDED notification, sized for the channel.
    pub payload: Bytes,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Transmit { conn, data } => f
                .debug_struct("Transmit")
                .field("conn", conn)
                .field("len", &data.len())
                .finish_non_exhaustive(),
            Output::Request { id, conn, request } => f
                .debug_struct("Request")
                .field("id", id)
                .field("conn", conn)
                .field("request", request)
                .finish(),
            Output::Notify(n) => f.debug_tuple("Notify").field(n).finish(),
            Output::Close { conn } => f.debug_struct("Close").field("conn", conn).finish(),
            Output::StartTls { conn } => f.debug_struct("StartTls").field("conn", conn).finish(),
        }
    }
}
