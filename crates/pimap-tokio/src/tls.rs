//! rustls configurations from PEM, with the `ring` provider.
//!
//! A server needs a certificate chain and its private key ([`server_config`]); a client
//! needs the roots it trusts ([`client_config`]). Both return `Arc`s ready for
//! [`ServeOptions::tls`](crate::ServeOptions) and [`Security`](crate::Security).

use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The PEM text held no certificate.
    #[error("no certificate in the PEM input")]
    NoCertificate,
    /// The PEM text could not be read.
    #[error("PEM: {0}")]
    Pem(String),
    /// rustls refused the configuration (for example a key that does not match).
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration (TLS 1.2 and 1.3) from a PEM certificate chain and a PEM private
/// key (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}

/// A client configuration that trusts the certificates in `roots_pem` (for example an
/// operator's own CA, or the system bundle read from `/etc/ssl/certs/ca-certificates.crt`).
pub fn client_config(roots_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(roots_pem) {
        let cert = cert.map_err(|e| TlsError::Pem(e.to_string()))?;
        roots.add(cert)?;
        n += 1;
    }
    if n == 0 {
        return Err(TlsError::NoCertificate);
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
