//! A TCP stream that is plaintext or TLS, and can become TLS in place (STARTTLS).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

/// A connection's byte stream: plaintext TCP, or TLS over TCP (either side).
#[derive(Debug)]
#[non_exhaustive]
pub enum Transport {
    /// Plaintext TCP.
    Plain(TcpStream),
    /// TLS, server side.
    ServerTls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// TLS, client side.
    ClientTls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// Between plaintext and TLS (a failed upgrade leaves the transport here).
    Upgrading,
}

fn upgrading() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "transport is being upgraded to TLS",
    )
}

impl Transport {
    /// The underlying TCP stream, if any.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Plain(s) => Some(s),
            Transport::ServerTls(s) => Some(s.get_ref().0),
            Transport::ClientTls(s) => Some(s.get_ref().0),
            Transport::Upgrading => None,
        }
    }

    /// Is the stream protected by TLS?
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::ServerTls(_) | Transport::ClientTls(_))
    }

    /// Run the server side of a TLS handshake on a plaintext stream (implicit TLS on
    /// accept, or after STARTTLS).
    pub async fn accept_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        let Transport::Plain(tcp) = std::mem::replace(self, Transport::Upgrading) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
        *self = Transport::ServerTls(Box::new(tls));
        Ok(())
    }

    /// Run the client side of a TLS handshake on a plaintext stream.
    pub async fn connect_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        server_name: ServerName<'static>,
    ) -> io::Result<()> {
        let Transport::Plain(tcp) = std::mem::replace(self, Transport::Upgrading) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(server_name, tcp)
            .await?;
        *self = Transport::ClientTls(Box::new(tls));
        Ok(())
    }

    /// Read what is available into `buf` (resized to `chunk` first). On plaintext TCP no
    /// buffer is held while waiting: `buf` is only filled once the socket is readable, so
    /// thousands of idle connections cost no read buffers.
    pub(crate) async fn read_some(&mut self, buf: &mut Vec<u8>, chunk: usize) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        match self {
            Transport::Plain(tcp) => loop {
                tcp.readable().await?;
                buf.resize(chunk, 0);
                match tcp.try_read(buf) {
                    Ok(n) => {
                        buf.truncate(n);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        *buf = Vec::new();
                    }
                    Err(e) => return Err(e),
                }
            },
            other => {
                buf.resize(chunk, 0);
                let n = other.read(buf).await?;
                buf.truncate(n);
                Ok(n)
            }
        }
    }

    /// ACK what was read at once on Linux (`TCP_QUICKACK`), so that a peer whose Nagle holds
    /// the end of a command back is not stalled by our delayed ACK (about 40 ms).
    pub(crate) fn quick_ack(&self) {
        #[cfg(target_os = "linux")]
        if let Some(tcp) = self.tcp() {
            let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
        }
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::ServerTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Transport::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::ServerTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Transport::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::ServerTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Transport::Upgrading => Poll::Ready(Err(upgrading())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::ServerTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::ClientTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Transport::Upgrading => Poll::Ready(Ok(())),
        }
    }
}
