#!/usr/bin/env bash
# dovecot-up.sh — start a private, loopback-only Dovecot IMAP peer for P-IMAP tests.
# (Adapted from shared/peers/dovecot-up.sh for the project's own interop harness,
#  tests/support/dovecot.rs; installation is delegated to setup.sh beside this file.)
#
# Usage:  dovecot-up.sh [--seed] [STATE_DIR]
#         STATE_DIR defaults to $PIMAP_DOVECOT_STATE or /tmp/pimap-dovecot
#   --seed   after start, APPEND the generated test corpus (gen-test-messages.py)
#            into alice's INBOX (only if her INBOX is empty)
#
# Environment (all optional):
#   PIMAP_IMAP_PORT   IMAP (plaintext + STARTTLS) port      [10143]
#   PIMAP_IMAPS_PORT  IMAP over implicit TLS port, 0 = off  [10993]
#   PIMAP_LMTP_PORT   LMTP TCP port, 0 = off                [10024]
#   PIMAP_LISTEN      listen addresses (loopback only!)     [127.0.0.1]
#   PIMAP_MAIL_USER   system user that owns the Maildirs    [nobody]
#   PIMAP_RAWLOG=1    write Dovecot rawlogs (exact post-login bytes) to STATE/rawlog/<user>/
#   PIMAP_DEBUG=1     mail_debug/auth_debug into STATE/log/dovecot.log
#   PIMAP_COMPRESS=1  load imap_zlib: adds COMPRESS=DEFLATE (RFC 4978) to the capabilities
#   PIMAP_EXTRA_CONF  a file !include'd at the end of the generated config
#
# Never reads or changes /etc/dovecot: the whole config lives in STATE/conf/dovecot.conf,
# all sockets/pids in STATE/run, Dovecot's state_dir in STATE/state, Maildirs in STATE/mail.
# Stop with dovecot-down.sh [STATE_DIR] (uses STATE/run/master.pid).
set -euo pipefail

SEED=0
ARGS=()
for a in "$@"; do
  case "$a" in
    --seed) SEED=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) ARGS+=("$a") ;;
  esac
done
STATE="${ARGS[0]:-${PIMAP_DOVECOT_STATE:-/tmp/pimap-dovecot}}"
IMAP_PORT="${PIMAP_IMAP_PORT:-10143}"
IMAPS_PORT="${PIMAP_IMAPS_PORT:-10993}"
LMTP_PORT="${PIMAP_LMTP_PORT:-10024}"
LISTEN="${PIMAP_LISTEN:-127.0.0.1}"
MAIL_USER="${PIMAP_MAIL_USER:-nobody}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for addr in ${LISTEN//,/ }; do
  case "$addr" in
    127.*|::1|"[::1]"|localhost) ;;
    *) echo "dovecot-up: refusing non-loopback listen address '$addr'" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" != 0 ]; then
  echo "dovecot-up: must run as root (Dovecot master drops privileges itself)" >&2
  exit 2
fi

# ---------------------------------------------------------------- install
# setup.sh installs dovecot-imapd/dovecot-lmtpd/openssl from Debian only if missing.
bash "$HERE/setup.sh"

# ---------------------------------------------------------------- already running?
PIDFILE="$STATE/run/master.pid"
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "dovecot-up: already running (pid $(cat "$PIDFILE"), state $STATE)"
  cat "$STATE/ports.env" 2>/dev/null || true
  exit 0
fi

MAIL_UID="$(id -u "$MAIL_USER")"
MAIL_GID="$(id -g "$MAIL_USER")"

mkdir -p "$STATE"/{conf,run,state,log,mail,tls}
STATE="$(cd "$STATE" && pwd -P)"
# Dovecot's unprivileged processes (dovecot, dovenull, the mail user) must traverse every
# ancestor of the state dir: refuse e.g. /root/... (mode 0700) with a clear message.
d="$STATE"
while [ "$d" != "/" ]; do
  d="$(dirname "$d")"
  case "$(stat -c %A "$d")" in
    ?????????[xt]) ;;
    *) echo "dovecot-up: $d is not world-traversable (o+x); choose a state dir under e.g. /tmp" >&2; exit 2 ;;
  esac
done
chmod 0755 "$STATE" "$STATE/run" "$STATE/state" "$STATE/mail"
chown "$MAIL_UID:$MAIL_GID" "$STATE/mail"
rm -f "$PIDFILE"
if [ "${#STATE}" -gt 60 ]; then
  echo "dovecot-up: warning: long state dir; unix socket paths may exceed 108 bytes" >&2
fi

# ---------------------------------------------------------------- users
# passwd-file: user:{scheme}password:uid:gid:gecos:home:shell:extra
USERS="$STATE/conf/users"
: >"$USERS"
for up in alice:alicepw bob:bobpw carol:carolpw; do
  u="${up%%:*}"; p="${up#*:}"
  echo "$u:{PLAIN}$p:$MAIL_UID:$MAIL_GID::$STATE/mail/$u::" >>"$USERS"
done
chmod 0640 "$USERS"
chgrp dovecot "$USERS" 2>/dev/null || true

# ---------------------------------------------------------------- TLS (self-signed, loopback)
if [ ! -s "$STATE/tls/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
    -keyout "$STATE/tls/key.pem" -out "$STATE/tls/cert.pem" >/dev/null 2>&1
  chmod 0600 "$STATE/tls/key.pem"
fi

RAWLOG_LINE="#rawlog_dir ="
if [ "${PIMAP_RAWLOG:-0}" = 1 ]; then
  for u in alice bob carol; do mkdir -p "$STATE/rawlog/$u"; done
  chown -R "$MAIL_UID:$MAIL_GID" "$STATE/rawlog"
  RAWLOG_LINE="rawlog_dir = $STATE/rawlog/%u"
fi
DEBUG_LINES="#debug off (PIMAP_DEBUG=1 to enable)"
if [ "${PIMAP_DEBUG:-0}" = 1 ]; then
  DEBUG_LINES=$'mail_debug = yes\nauth_debug = yes\nauth_verbose = yes\nverbose_ssl = yes'
fi
ZLIB_LINE="#COMPRESS=DEFLATE off (PIMAP_COMPRESS=1 to enable)"
if [ "${PIMAP_COMPRESS:-0}" = 1 ]; then
  ZLIB_LINE="mail_plugins = \$mail_plugins imap_zlib"
fi
EXTRA_LINE="#no PIMAP_EXTRA_CONF"
[ -n "${PIMAP_EXTRA_CONF:-}" ] && EXTRA_LINE="!include ${PIMAP_EXTRA_CONF}"

LMTP_INET=""
if [ "$LMTP_PORT" != 0 ]; then
  LMTP_INET="inet_listener lmtp {
    port = $LMTP_PORT
  }"
fi

# ---------------------------------------------------------------- config
CONF="$STATE/conf/dovecot.conf"
cat >"$CONF" <<EOF
# Generated by tests/interop/dovecot-up.sh — private P-IMAP test instance. Do not edit; re-run the script.
protocols = imap lmtp
listen = ${LISTEN//,/, }
instance_name = pimap-dovecot
base_dir = $STATE/run
state_dir = $STATE/state
log_path = $STATE/log/dovecot.log
info_log_path = $STATE/log/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S "
$DEBUG_LINES

# --- auth: plaintext allowed (loopback test peer), passwd-file users
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $USERS
}
userdb {
  driver = passwd-file
  args = username_format=%u $USERS
}
first_valid_uid = 1
first_valid_gid = 1

# --- storage: Maildir under the state dir, '/' hierarchy separator
mail_location = maildir:~/Maildir:LAYOUT=fs
# Dovecot 2.3.19 panics (fcntl EDEADLK on dovecot.list.index.log, "Resource deadlock
# avoided") when one session runs LIST/STATUS over the folders (the gateway's folder poll)
# while another appends; the crashed session then costs its devices a RESYNC. Without the
# mailbox list index, LIST and STATUS read the Maildir directly and the lock is not taken.
mailbox_list_index = no
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = create
  }
}
postmaster_address = postmaster@localhost
hostname = localhost
lda_mailbox_autocreate = yes
lmtp_save_to_detail_mailbox = yes
recipient_delimiter = +

# --- push: inotify wakes IDLE at once; this is only the polling fallback
mailbox_idle_check_interval = 1 secs
protocol imap {
  imap_idle_notify_interval = 2 mins
  mail_max_userip_connections = 200
  $RAWLOG_LINE
  $ZLIB_LINE
}

# --- TLS: STARTTLS on the IMAP port, implicit TLS on the IMAPS port (self-signed)
ssl = yes
ssl_cert = <$STATE/tls/cert.pem
ssl_key = <$STATE/tls/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2

service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  # port 0 disables this listener (an omitted block would mean Dovecot's default 993)
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  $LMTP_INET
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
$EXTRA_LINE
EOF

doveconf -c "$CONF" -n >/dev/null </dev/null   # syntax check; prints errors

# ---------------------------------------------------------------- start
# Dovecot's master and log processes keep the stderr they were started with: never hand them
# the caller's stdout/stderr (a caller reading our output through a pipe would wait forever).
if ! dovecot -c "$CONF" </dev/null >>"$STATE/log/dovecot-stderr.log" 2>&1; then
  echo "dovecot-up: dovecot failed to start:" >&2
  tail -n 20 "$STATE/log/dovecot-stderr.log" "$STATE/log/dovecot.log" >&2 2>/dev/null || true
  exit 1
fi

# wait for the IMAP greeting (bash /dev/tcp in a child shell, no extra tools)
ok=0
for _ in $(seq 1 100); do
  if timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 2 l <&3 && [[ "$l" == "* OK"* ]]' _ "$IMAP_PORT" 2>/dev/null; then
    ok=1; break
  fi
  sleep 0.1
done
if [ "$ok" != 1 ]; then
  echo "dovecot-up: Dovecot did not come up; log follows" >&2
  tail -n 30 "$STATE/log/dovecot.log" >&2 || true
  exit 1
fi

cat >"$STATE/ports.env" <<EOF
PIMAP_DOVECOT_STATE=$STATE
PIMAP_DOVECOT_CONF=$CONF
PIMAP_IMAP_HOST=127.0.0.1
PIMAP_IMAP_PORT=$IMAP_PORT
PIMAP_IMAPS_PORT=$IMAPS_PORT
PIMAP_LMTP_PORT=$LMTP_PORT
PIMAP_LMTP_SOCKET=$STATE/run/lmtp
PIMAP_TLS_CERT=$STATE/tls/cert.pem
PIMAP_USERS="alice:alicepw bob:bobpw carol:carolpw"
EOF

echo "dovecot-up: Dovecot $(dovecot --version | cut -d' ' -f1) running, pid $(cat "$PIDFILE"), state $STATE"
echo "  IMAP   127.0.0.1:$IMAP_PORT  (plaintext LOGIN/AUTHENTICATE PLAIN allowed, STARTTLS offered)"
[ "$IMAPS_PORT" != 0 ] && echo "  IMAPS  127.0.0.1:$IMAPS_PORT  (self-signed cert $STATE/tls/cert.pem)"
[ "$LMTP_PORT" != 0 ] && echo "  LMTP   127.0.0.1:$LMTP_PORT  and unix socket $STATE/run/lmtp"
echo "  users  alice/alicepw bob/bobpw carol/carolpw   log $STATE/log/dovecot.log"
echo "  env    $STATE/ports.env"

if [ "$SEED" = 1 ]; then
  PY="$(command -v python3 || true)"
  [ -n "$PY" ] || { apt-get install -y --no-install-recommends python3 >/dev/null 2>&1; PY=/usr/bin/python3; }
  "$PY" "$HERE/dovecot-inject.py" -q --port "$IMAP_PORT" --seed-corpus --user alice --password alicepw
fi
