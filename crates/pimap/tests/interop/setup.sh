#!/usr/bin/env bash
# setup.sh — install what the Dovecot interop tests need (idempotent, non-interactive).
#
# Installs the Debian packages dovecot-imapd, dovecot-lmtpd (both pull in dovecot-core) and
# openssl, only if one of the binaries the harness uses is missing. Safe to run concurrently
# (serialised with flock) and from CI (`bash tests/interop/setup.sh`). Must run as root.
# Never starts or configures a system-wide Dovecot: if the package's postinst started one,
# it is stopped again (the tests run private instances, see dovecot-up.sh).
set -euo pipefail

NEEDED=(/usr/sbin/dovecot /usr/bin/doveadm /usr/bin/doveconf /usr/lib/dovecot/imap
        /usr/lib/dovecot/lmtp /usr/share/dovecot/dh.pem /usr/bin/openssl /usr/bin/curl
        /usr/bin/mbsync /usr/bin/fetchmail)
PACKAGES=(dovecot-imapd dovecot-lmtpd openssl curl isync fetchmail)  # curl: interop_server_python.rs; isync, fetchmail: interop_matrix.rs
LOG=/tmp/pimap-dovecot-apt.log

# The SMTP sink of interop_gateway.rs (tests/interop/smtp_sink.py) needs aiosmtpd (PyPI).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd || true

missing() {
  local f
  for f in "${NEEDED[@]}"; do [ -e "$f" ] || return 0; done
  return 1
}

if ! missing; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh: Dovecot is not installed and we are not root; run: apt-get install -y ${PACKAGES[*]}" >&2
  exit 2
fi

# One installer at a time (several test binaries may call this at once).
exec 9>/tmp/pimap-dovecot-setup.lock
flock -w 600 9 || { echo "setup.sh: timed out waiting for another installer" >&2; exit 1; }
missing || exit 0   # someone else installed it while we waited

echo "setup.sh: installing ${PACKAGES[*]} from Debian (log $LOG) ..." >&2
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=300
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
if ! "${APT[@]}" install "${PACKAGES[@]}" >"$LOG" 2>&1; then
  apt-get -q -o DPkg::Lock::Timeout=300 update >>"$LOG" 2>&1 || true
  "${APT[@]}" install "${PACKAGES[@]}" >>"$LOG" 2>&1 \
    || { echo "setup.sh: apt-get install failed; last lines of $LOG:" >&2; tail -n 20 "$LOG" >&2; exit 1; }
fi

# Without a policy-rc.d, the package may have started the system Dovecot (ports 143/993 on all
# interfaces). The tests never use it: stop the one this install started, by its pid file.
sys_pid_file=/run/dovecot/master.pid
if [ -s "$sys_pid_file" ]; then
  pid="$(cat "$sys_pid_file")"
  if kill -0 "$pid" 2>/dev/null && grep -q dovecot "/proc/$pid/cmdline" 2>/dev/null; then
    echo "setup.sh: stopping the system Dovecot (pid $pid) started by the package install" >&2
    kill -TERM "$pid" || true
  fi
fi

if missing; then
  echo "setup.sh: install finished but Dovecot binaries are still missing; see $LOG" >&2
  exit 1
fi
echo "setup.sh: $(/usr/sbin/dovecot --version) installed" >&2
