#!/usr/bin/env bash
# Starts (once) fakepve, a schema-validating fake of the Proxmox VE API, for NovaCron's Proxmox
# tests, and prints how to reach it as KEY=VALUE lines. fakepve is AGPL: it is installed from
# PyPI into a venv of its own and only ever run as a separate process, never copied or changed.
#
# Two instances on loopback, both seeded with test/testbeds/proxmox/guests.json (fixture VMs for
# the fault tests: a VM locked by a backup, guests slow to shut down):
#   fast   (--time-scale 0)    every task ends before its request returns; most tests use it
#   timed  (--time-scale 0.02) a PVE second is 20 ms, so a task holds a VM's config lock for a
#                              while and lock waits, retries and timeouts can be seen
# Idempotent: the venv, the certificate and running instances are reused. Needs python3 with
# venv (Debian: python3-venv, installed when missing) and openssl.
#
# The instances listen on fixed ports, so their state (venv, certificate, pid files, logs) is
# kept once per machine, in ${NOVACRON_FAKEPVE_HOME:-~/.cache/novacron/fakepve}: every checkout
# (worktrees, a CI clone) reuses the running instances instead of failing on a taken port. A
# checkout with different fixtures or another fakepve version restarts them.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${NOVACRON_FAKEPVE_HOME:-$HOME/.cache/novacron/fakepve}"
VENV="$CACHE/venv"
GUESTS="$REPO/test/testbeds/proxmox/guests.json"
VERSION=0.5.0
HOST=127.0.0.1
FAST_PORT="${FAKEPVE_PORT:-18006}"
TIMED_PORT="${FAKEPVE_TIMED_PORT:-18007}"
USERNAME=root@pam
PASSWORD="${FAKEPVE_PASSWORD:-novacron-pve-pw}"
mkdir -p "$CACHE"

# Parallel test runs may call us at once: one of them does the work.
exec 9>"$CACHE/.lock"
flock 9

PY=/usr/bin/python3
[[ -x "$PY" ]] || PY="$(command -v python3)"
if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "proxmox.sh: installing python3-venv" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
fi
if ! "$VENV/bin/fakepve" --version 2>/dev/null | grep -qx "fakepve $VERSION"; then
  echo "proxmox.sh: installing fakepve $VERSION into $VENV" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q "fakepve[crypto]==$VERSION" >&2
fi

# Our own self-signed certificate, so tests can trust it as a CA file or pin its fingerprint
# (fakepve's own would vanish with its temporary directory).
CERT="$CACHE/cert.pem"
KEY="$CACHE/key.pem"
if [[ ! -s "$CERT" || ! -s "$KEY" ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=fakepve.novacron.test" \
    -addext "subjectAltName=IP:$HOST,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$KEY.tmp" -out "$CERT.tmp" 2>/dev/null
  mv "$KEY.tmp" "$KEY" && mv "$CERT.tmp" "$CERT"
fi
FINGERPRINT="$(openssl x509 -in "$CERT" -noout -fingerprint -sha256 | sed 's/^.*=//')"
# What an instance was started with: a change (fixtures, password, version, certificate) restarts it.
STAMP="$(cat "$GUESTS" "$CERT" <(echo "$VERSION $PASSWORD") | sha256sum | cut -d' ' -f1)"

answers() { # PORT: fakepve answers a login with our password
  curl -s --max-time 2 --cacert "$CERT" -d "username=$USERNAME" --data-urlencode "password=$PASSWORD" \
    "https://$HOST:$1/api2/json/access/ticket" 2>/dev/null | grep -q CSRFPreventionToken
}

start() { # NAME PORT TIME_SCALE
  local name="$1" port="$2" scale="$3" pidfile="$CACHE/$1.pid" stampfile="$CACHE/$1.stamp"
  if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    if [[ "$(cat "$stampfile" 2>/dev/null)" == "$STAMP" ]] && answers "$port"; then return; fi
    kill "$(cat "$pidfile")" && sleep 0.5
  fi
  if curl -sk --max-time 2 "https://$HOST:$port/api2/json/version" >/dev/null 2>&1; then
    echo "proxmox.sh: port $port is taken by a process we did not start" >&2
    exit 1
  fi
  PVE_PASS="$PASSWORD" setsid "$VENV/bin/fakepve" "$GUESTS" --host "$HOST" --port "$port" --user "$USERNAME" \
    --time-scale "$scale" --cert "$CERT" --key "$KEY" >"$CACHE/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
  echo "$STAMP" >"$stampfile"
  for _ in $(seq 1 100); do
    if answers "$port"; then return; fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "proxmox.sh: fakepve ($name) exited:" >&2
      cat "$CACHE/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "proxmox.sh: fakepve ($name) did not answer on https://$HOST:$port" >&2
  exit 1
}
start fast "$FAST_PORT" 0
start timed "$TIMED_PORT" 0.02

echo "FAKEPVE_URL=https://$HOST:$FAST_PORT"
echo "FAKEPVE_TIMED_URL=https://$HOST:$TIMED_PORT"
echo "FAKEPVE_USERNAME=$USERNAME"
echo "FAKEPVE_PASSWORD=$PASSWORD"
echo "FAKEPVE_NODE=pve1"
echo "FAKEPVE_CA=$CERT"
echo "FAKEPVE_FINGERPRINT=$FINGERPRINT"
echo "FAKEPVE_PIDS=$(cat "$CACHE/fast.pid") $(cat "$CACHE/timed.pid")"
