#!/usr/bin/env bash
# dovecot-down.sh — stop the private Dovecot started by dovecot-up.sh.
#
# Usage: dovecot-down.sh [--purge] [STATE_DIR]     (default $PIMAP_DOVECOT_STATE or /tmp/pimap-dovecot)
#   --purge  also delete STATE_DIR (mail, config, logs) after stopping
# Stops only the master whose pid is in STATE/run/master.pid (its children exit with it);
# never signals processes by name.
# (Copied from shared/peers/dovecot-down.sh; a zombie master counts as stopped.)
set -euo pipefail
PURGE=0
ARGS=()
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) ARGS+=("$a") ;;
  esac
done
STATE="${ARGS[0]:-${PIMAP_DOVECOT_STATE:-/tmp/pimap-dovecot}}"
PIDFILE="$STATE/run/master.pid"

# Alive = exists and is not a zombie (an exited master stays a zombie until PID 1 reaps it,
# which can take a second or two in a container; it holds no port or file by then).
alive() {
  kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

if [ -s "$PIDFILE" ]; then
  pid="$(cat "$PIDFILE")"
  if alive "$pid" && grep -q dovecot "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      echo "dovecot-down: pid $pid still alive after 10s, sending KILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "dovecot-down: stopped Dovecot master pid $pid ($STATE)"
  else
    echo "dovecot-down: pid file $PIDFILE is stale (pid $pid not a running dovecot)"
  fi
  rm -f "$PIDFILE"
else
  echo "dovecot-down: not running (no $PIDFILE)"
fi

if [ "$PURGE" = 1 ] && [ -d "$STATE" ]; then
  case "$STATE" in
    /|/etc*|/usr*|/var*|/root|/home) echo "dovecot-down: refusing to purge $STATE" >&2; exit 2 ;;
  esac
  rm -rf -- "$STATE"
  echo "dovecot-down: purged $STATE"
fi
