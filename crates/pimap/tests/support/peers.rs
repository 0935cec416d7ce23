//! Which real peers (Dovecot, mbsync, fetchmail, curl, Python modules) an interop test can
//! use, and what happens when one is missing.
//!
//! * `PIMAP_INTEROP=1` (what `.ci/run` sets): a missing peer is installed by
//!   `tests/interop/setup.sh` (Debian packages and PyPI modules; needs root), and a peer that
//!   is still missing afterwards fails the test.
//! * Otherwise (a user running `cargo test` without the peers): nothing is installed; the
//!   test returns early and prints `SKIP <test>: <peers> not available ...` on the terminal.
//!   The line is written to the process's stderr directly, not through the test harness's
//!   capture, so it shows even though the test passes.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A peer an interop test needs: its name in skip lines and how to tell it is present.
#[derive(Clone, Copy)]
pub struct Peer {
    /// Shown in skip lines.
    pub name: &'static str,
    present: fn() -> bool,
}

impl Peer {
    /// Is it installed?
    pub fn present(&self) -> bool {
        (self.present)()
    }
}

/// Is this process's effective user root (`/proc/self/status`, Linux)? The Dovecot harness
/// starts a private Dovecot master, which must start as root.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().nth(1))
            == Some("0")
    })
}

fn files_exist(paths: &[&str]) -> bool {
    paths.iter().all(|p| Path::new(p).exists())
}

fn python_imports(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Dovecot binaries the harness runs (and openssl, for its certificate).
pub const DOVECOT: Peer = Peer {
    name: "Dovecot (installed, tests run as root)",
    present: || {
        running_as_root()
            && files_exist(&[
                "/usr/sbin/dovecot",
                "/usr/bin/doveadm",
                "/usr/bin/doveconf",
                "/usr/lib/dovecot/imap",
                "/usr/lib/dovecot/dovecot-lda",
                "/usr/share/dovecot/dh.pem",
                "/usr/bin/openssl",
            ])
    },
};
/// isync's `mbsync`.
pub const MBSYNC: Peer = Peer {
    name: "mbsync",
    present: || files_exist(&["/usr/bin/mbsync"]),
};
/// `fetchmail`.
pub const FETCHMAIL: Peer = Peer {
    name: "fetchmail",
    present: || files_exist(&["/usr/bin/fetchmail"]),
};
/// `curl`.
pub const CURL: Peer = Peer {
    name: "curl",
    present: || {
        Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    },
};
/// `python3`.
pub const PYTHON3: Peer = Peer {
    name: "python3",
    present: || python_imports("sys"),
};
/// The `aiosmtpd` module (the SMTP sink).
pub const AIOSMTPD: Peer = Peer {
    name: "python3 aiosmtpd",
    present: || python_imports("aiosmtpd"),
};
/// `openssl` (the command-line TLS client).
pub const OPENSSL: Peer = Peer {
    name: "openssl",
    present: || files_exist(&["/usr/bin/openssl"]),
};

/// Are the peers required (and installed when missing)? `PIMAP_INTEROP=1`.
pub fn required() -> bool {
    std::env::var("PIMAP_INTEROP").is_ok_and(|v| v == "1")
}

/// Run `tests/interop/setup.sh` once per test binary; its output on failure.
fn install() -> &'static Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let setup = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/setup.sh");
        let out = Command::new("bash")
            .arg(&setup)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", setup.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n{}{}",
                setup.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    })
}

/// Whether `test` can run with `peers`. Missing peers are installed and required under
/// `PIMAP_INTEROP=1` (a panic if they cannot be had); otherwise the test is reported as
/// skipped and `false` is returned.
pub fn available(test: &str, peers: &[Peer]) -> bool {
    let missing = |ps: &[Peer]| -> Vec<&'static str> {
        ps.iter().filter(|p| !p.present()).map(|p| p.name).collect()
    };
    let first = missing(peers);
    if first.is_empty() {
        return true;
    }
    if required() {
        let installed = install();
        let still = missing(peers);
        assert!(
            still.is_empty(),
            "{test}: PIMAP_INTEROP=1 but {} missing after tests/interop/setup.sh ({})",
            still.join(", "),
            match installed {
                Ok(()) => "it succeeded".to_string(),
                Err(e) => e.clone(),
            }
        );
        return true;
    }
    skip(test, &first.join(", "));
    false
}

/// Print the skip line on the terminal, past the harness's output capture.
pub fn skip(test: &str, what: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "SKIP {test}: {what} not available (PIMAP_INTEROP=1 installs and requires it)"
    );
}
