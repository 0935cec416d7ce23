//! Command-line configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

use pimap_tokio::rustls::pki_types::ServerName;
use pimap_tokio::Security;
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub(crate) enum NotifyCfg {
    Log,
    Udp(SocketAddr),
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) listen_port: u16,
    pub(crate) backend: SocketAddr,
    pub(crate) smtp: Option<SocketAddr>,
    pub(crate) notify: NotifyCfg,
    pub(crate) max_seconds: Option<u64>,
    /// Fold user names to lower case (ASCII) before they reach the backend and key the
    /// per-user state: `Alice` and `alice` share one backend session and one set of device
    /// sessions. Off with `--keep-user-case` for a backend whose names are case-sensitive.
    pub(crate) fold_user_case: bool,
    /// A user's command connection with no request for this long is logged out; the next
    /// request reconnects.
    pub(crate) backend_idle: Duration,
    /// The watch connection leaves and re-enters IDLE this often (RFC 2177: at most 29
    /// minutes); each time, a watcher whose user has no session left stops.
    pub(crate) idle_refresh: Duration,
    /// Folders other than INBOX are polled (STATUS) this often; `None` with
    /// `--poll-folders-secs 0`.
    pub(crate) poll_folders: Option<Duration>,
    /// PEM certificate chain and private key for device connections: STARTTLS is offered
    /// and LOGIN refused before it, or TLS from the first byte with `implicit_tls`.
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    pub(crate) implicit_tls: bool,
    /// How backend connections are protected: plaintext (default), implicit TLS or
    /// STARTTLS, verified against `--backend-ca` for `--backend-tls-name`.
    pub(crate) backend_security: Security,
    /// Serve Prometheus text metrics on 127.0.0.1 at this port.
    pub(crate) metrics_port: Option<u16>,
}

const USAGE: &str = "usage: pimap-gateway --listen-port PORT --backend 127.0.0.1:PORT \
     [--smtp 127.0.0.1:PORT] [--notify log|udp:127.0.0.1:PORT] [--max-seconds N] \
     [--keep-user-case] [--backend-idle-secs N (300)] [--idle-refresh-secs N (300, at most 1740)] \
     [--poll-folders-secs N (30; 0 = INBOX only)] \
     [--tls-cert PEM --tls-key PEM [--implicit-tls]] \
     [--backend-tls implicit|starttls --backend-ca PEM [--backend-tls-name NAME (localhost)]] \
     [--metrics-port PORT]";

/// Bad arguments: the usage on stderr, exit status 2.
pub(crate) fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

pub(crate) fn loopback(s: &str) -> SocketAddr {
    let a: SocketAddr = s.parse().unwrap_or_else(|_| usage());
    if !a.ip().is_loopback() {
        eprintln!("{s}: only loopback addresses are allowed");
        usage()
    }
    a
}

pub(crate) fn parse_args() -> Config {
    let mut cfg = Config {
        listen_port: 1143,
        backend: SocketAddr::from(([127, 0, 0, 1], 143)),
        smtp: None,
        notify: NotifyCfg::Log,
        max_seconds: None,
        fold_user_case: true,
        backend_idle: Duration::from_secs(300),
        idle_refresh: Duration::from_secs(300),
        poll_folders: Some(Duration::from_secs(30)),
        tls: None,
        implicit_tls: false,
        backend_security: Security::Plain,
        metrics_port: None,
    };
    let (mut cert, mut key) = (None, None);
    let (mut backend_tls, mut backend_ca, mut backend_name) = (None, None, "localhost".to_string());
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen-port" => cfg.listen_port = value().parse().unwrap_or_else(|_| usage()),
            "--backend" => cfg.backend = loopback(&value()),
            "--smtp" => cfg.smtp = Some(loopback(&value())),
            "--notify" => {
                let v = value();
                cfg.notify = if v == "log" {
                    NotifyCfg::Log
                } else if let Some(addr) = v.strip_prefix("udp:") {
                    NotifyCfg::Udp(loopback(addr))
                } else {
                    usage()
                };
            }
            "--max-seconds" => cfg.max_seconds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--poll-folders-secs" => {
                cfg.poll_folders = match value().parse::<u64>() {
                    Ok(0) => None,
                    Ok(n) => Some(Duration::from_secs(n)),
                    Err(_) => usage(),
                }
            }
            "--keep-user-case" => cfg.fold_user_case = false,
            "--tls-cert" => cert = Some(PathBuf::from(value())),
            "--tls-key" => key = Some(PathBuf::from(value())),
            "--implicit-tls" => cfg.implicit_tls = true,
            "--backend-tls" => backend_tls = Some(value()),
            "--metrics-port" => {
                cfg.metrics_port = Some(value().parse().unwrap_or_else(|_| usage()))
            }
            "--backend-ca" => backend_ca = Some(PathBuf::from(value())),
            "--backend-tls-name" => backend_name = value(),
            "--backend-idle-secs" => cfg.backend_idle = secs(&value()),
            "--idle-refresh-secs" => {
                cfg.idle_refresh = secs(&value()).min(Duration::from_secs(29 * 60))
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0)
            }
            _ => {
                eprintln!("unknown argument {a:?}");
                usage()
            }
        }
    }
    cfg.tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) if !cfg.implicit_tls => None,
        _ => {
            eprintln!("--tls-cert and --tls-key go together (and --implicit-tls needs them)");
            usage()
        }
    };
    cfg.backend_security = backend_security(backend_tls, backend_ca, backend_name);
    cfg
}

/// `--backend-tls MODE --backend-ca PEM [--backend-tls-name NAME]`.
fn backend_security(mode: Option<String>, ca: Option<PathBuf>, name: String) -> Security {
    let Some(mode) = mode else {
        if ca.is_some() {
            eprintln!("--backend-ca needs --backend-tls implicit|starttls");
            usage()
        }
        return Security::Plain;
    };
    let Some(ca) = ca else {
        eprintln!("--backend-tls needs --backend-ca PEM (the roots the backend's certificate is checked against)");
        usage()
    };
    let pem = std::fs::read(&ca).unwrap_or_else(|e| {
        eprintln!("--backend-ca {}: {e}", ca.display());
        usage()
    });
    let config = pimap_tokio::tls::client_config(&pem).unwrap_or_else(|e| {
        eprintln!("--backend-ca {}: {e}", ca.display());
        usage()
    });
    let server_name = ServerName::try_from(name.clone()).unwrap_or_else(|_| {
        eprintln!("--backend-tls-name {name:?}: not a DNS name or IP address");
        usage()
    });
    match mode.as_str() {
        "implicit" => Security::Tls {
            config,
            server_name,
        },
        "starttls" => Security::StartTls {
            config,
            server_name,
        },
        _ => usage(),
    }
}

/// A positive number of seconds.
fn secs(v: &str) -> Duration {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Duration::from_secs(n),
        _ => usage(),
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
