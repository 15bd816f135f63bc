#!/usr/bin/env bash
# A second "KVM host" on this one machine, so live migration can be tested
# for real: its own libvirtd in its own network namespace (reachable only as
# qemu+tcp://10.213.0.2/system over a veth pair) and its own mount namespace
# (private /etc/libvirt, /var/{run,lib,log,cache}/libvirt), with its own
# host UUID so libvirt does not refuse migrating "to the same host".
#
# The way back works too: the main host's libvirtd is reachable from the peer as
# qemu+tcp://10.213.0.1/system, through a socat forwarder from that address to the main
# daemon's unix socket (the main daemon is not restarted to listen on TCP).
# It also listens with TLS (qemu+tls://10.213.0.2/system), with a PKI of its own made
# here, so the TLS transport is tested against libvirtd's own TLS code.
#
#   libvirt-peer.sh [start]   bring it up (idempotent); prints the peer URI last
#   libvirt-peer.sh tls-uri   prints the TLS URI, whose pkipath holds a client certificate
#   libvirt-peer.sh stop      destroy its guests, stop its daemons, delete the namespace
#
# Sandbox only: the peer runs guests as root without confinement and accepts
# unauthenticated TCP connections on its veth address.
set -euo pipefail

NS=nc-peer
HOST_IF=nc-peer0
PEER_IF=nc-peer1
HOST_ADDR=10.213.0.1
PEER_ADDR=10.213.0.2
PREFIX=30
STATE=/var/lib/novacron-peer
URI="qemu+tcp://${PEER_ADDR}/system"
PKI="$STATE/pki"
TLS_URI="qemu+tls://${PEER_ADDR}/system?pkipath=$PKI/client"
MAIN_FROM_PEER_URI="qemu+tcp://${HOST_ADDR}/system"
FORWARDER_PID="$STATE/main-forwarder.pid"
# Our private copy (under $STATE) of each folder the peer must not share.
declare -A BIND=(
  [/etc/libvirt]="$STATE/etc"
  [/var/run/libvirt]="$STATE/run"
  [/var/lib/libvirt]="$STATE/lib"
  [/var/log/libvirt]="$STATE/log"
  [/var/cache/libvirt]="$STATE/cache"
)
PKGS=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils iproute2 util-linux openssl socat tini)

log() { echo "[libvirt-peer] $*" >&2; }

answers() { timeout 10 virsh -c "$URI" version >/dev/null 2>&1 && timeout 10 virsh -c "$TLS_URI" version >/dev/null 2>&1; }

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (network namespaces, bind mounts, daemons)"
    exit 1
  fi
}

ensure_packages() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  # Without an init system, maintainer scripts that start services would
  # fail the install; a policy-rc.d answering 101 makes them skip the start.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; } \
    || true
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  for p in "${missing[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || { log "package $p could not be installed"; exit 1; }
  done
}

setup_network() {
  ip netns list | grep -qE "^${NS}( |$)" || ip netns add "$NS"
  if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    ip link add "$HOST_IF" type veth peer name "$PEER_IF" netns "$NS"
  fi
  ip addr replace "${HOST_ADDR}/${PREFIX}" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip netns exec "$NS" ip link set lo up
  ip netns exec "$NS" ip addr replace "${PEER_ADDR}/${PREFIX}" dev "$PEER_IF"
  ip netns exec "$NS" ip link set "$PEER_IF" up
}

# Kill a daemon recorded in one of the peer's pid files and wait for it.
kill_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_peer_guests() {
  local dom f
  if answers; then
    for dom in $(virsh -c "$URI" list --name 2>/dev/null); do
      virsh -c "$URI" destroy "$dom" >/dev/null 2>&1 || true
    done
  fi
  # Guests outlive a dead libvirtd; libvirt records each one's pid here.
  for f in "$STATE"/run/qemu/*.pid; do
    [ -e "$f" ] && kill_pidfile "$f"
  done
  return 0
}

stop_daemons() {
  kill_pidfile "$STATE/run/libvirtd.pid"
  kill_pidfile "$STATE/run/virtlogd.pid"
}

# A CA, a server certificate for the peer's address and a client certificate, in the
# file names libvirt looks for. Made once; kept with the peer's state.
make_pki() {
  [ -s "$PKI/client/cacert.pem" ] && return 0
  log "making the peer's TLS certificates in $PKI"
  # Built aside and moved into place whole: an interrupted run never leaves a half PKI.
  local final=$PKI PKI="$PKI.new"
  rm -rf "$PKI" "$final"
  mkdir -p "$PKI/ca" "$PKI/server" "$PKI/client"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=novacron-peer-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$PKI/ca/cakey.pem" -out "$PKI/ca/cacert.pem" 2>"$PKI/openssl.log"
  local leaf usage
  for leaf in server client; do
    usage=$([ "$leaf" = server ] && echo serverAuth || echo clientAuth)
    openssl req -newkey rsa:2048 -nodes -subj "/CN=novacron-peer-$leaf" \
      -keyout "$PKI/$leaf/${leaf}key.pem" -out "$PKI/ca/$leaf.csr" 2>>"$PKI/openssl.log"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=IP:%s\n' \
      "$usage" "$PEER_ADDR" >"$PKI/ca/$leaf.ext"
    openssl x509 -req -in "$PKI/ca/$leaf.csr" -CA "$PKI/ca/cacert.pem" -CAkey "$PKI/ca/cakey.pem" \
      -CAcreateserial -days 3650 -extfile "$PKI/ca/$leaf.ext" -out "$PKI/$leaf/${leaf}cert.pem" 2>>"$PKI/openssl.log"
    cp "$PKI/ca/cacert.pem" "$PKI/$leaf/cacert.pem"
  done
  mv "$PKI" "$final"
}

prepare_state() {
  mkdir -p "$STATE"/{etc,run,lib,log,cache} "$STATE/etc/qemu"
  [ -s "$STATE/host_uuid" ] || cat /proc/sys/kernel/random/uuid >"$STATE/host_uuid"
  # Default configs of the helper daemons (virtlogd.conf, libvirt.conf …) and
  # the stock nwfilters, but none of the main host's domains or networks.
  find /etc/libvirt -maxdepth 1 -type f -exec cp -n {} "$STATE/etc/" \;
  [ -d /etc/libvirt/nwfilter ] && cp -rn /etc/libvirt/nwfilter "$STATE/etc/"
  # Leftovers of a previous run (sockets, pid files) would confuse the daemons.
  find "$STATE/run" -mindepth 1 -delete

  cat >"$STATE/etc/libvirtd.conf" <<CONF
# Written by test/testbeds/libvirt-peer.sh for the sandbox peer host.
# Must differ from the main daemon's UUID, or migration is refused as "same host".
host_uuid = "$(cat "$STATE/host_uuid")"
listen_tcp = 1
listen_tls = 1
auth_tcp = "none"
auth_tls = "none"
key_file = "$PKI/server/serverkey.pem"
cert_file = "$PKI/server/servercert.pem"
ca_file = "$PKI/server/cacert.pem"
listen_addr = "${PEER_ADDR}"
CONF
  cat >"$STATE/etc/qemu.conf" <<'CONF'
# Written by test/testbeds/libvirt-peer.sh: sandbox only (no qemu user, no
# AppArmor/SELinux here). Never use on a real host.
user = "root"
group = "root"
security_driver = "none"
CONF
}

start_daemons() {
  local target
  for target in "${!BIND[@]}"; do mkdir -p "$target"; done
  # The daemons hold the mount namespace open once they have forked, so the
  # shell that built it may exit.
  ip netns exec "$NS" unshare --mount --propagation private bash -euc '
    mount --make-rprivate /
    while [ $# -gt 0 ]; do mount --bind "$2" "$1"; shift 2; done
    virtlogd -d -p /var/run/libvirt/virtlogd.pid
    # Under a reaper for the QEMU processes of its guests, as the main daemon (libvirt.sh says why).
    setsid tini -s -g -- libvirtd --listen -p /var/run/libvirt/libvirtd.pid </dev/null >/dev/null 2>&1 &
  ' peer $(for target in "${!BIND[@]}"; do printf '%s %s ' "$target" "${BIND[$target]}"; done)
}

# The main daemon as the peer sees it: TCP on the host end of the veth, into the main
# daemon's unix socket. Unauthenticated like the peer's own TCP listener: sandbox only.
ensure_main_forwarder() {
  if [ -f "$FORWARDER_PID" ] && kill -0 "$(cat "$FORWARDER_PID")" 2>/dev/null; then return 0; fi
  # The main daemon must be up for the way back, whichever testbed ran first.
  bash "$(dirname "${BASH_SOURCE[0]}")/libvirt.sh" >&2
  log "forwarding ${HOST_ADDR}:16509 to the main libvirtd's socket (for the peer's address only)"
  setsid socat "TCP-LISTEN:16509,bind=${HOST_ADDR},range=${PEER_ADDR}/32,reuseaddr,fork" UNIX-CONNECT:/var/run/libvirt/libvirt-sock \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$FORWARDER_PID"
  for _ in $(seq 1 50); do
    ip netns exec "$NS" timeout 10 virsh -c "$MAIN_FROM_PEER_URI" version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "the main libvirtd does not answer from the peer at $MAIN_FROM_PEER_URI"
  exit 1
}

start() {
  require_root
  ensure_packages
  # A daemon started before the peer ran under a reaper is restarted once (libvirt.sh says why).
  if answers && [ -f "$STATE/run/reaped" ]; then
    ensure_main_forwarder
    log "peer libvirtd already answers at $URI"
    echo "$URI"
    return 0
  fi
  stop_peer_guests
  stop_daemons
  setup_network
  make_pki
  prepare_state
  log "starting virtlogd and libvirtd in namespace $NS ($PEER_ADDR)"
  start_daemons
  touch "$STATE/run/reaped"
  for _ in $(seq 1 150); do
    if answers; then
      log "peer answers: $(virsh -c "$URI" version 2>/dev/null | tr '\n' ' ')"
      ensure_main_forwarder
      echo "$URI"
      return 0
    fi
    sleep 0.2
  done
  log "peer libvirtd did not answer within 30 s; see $STATE/log/libvirtd.log and libvirtd's stderr"
  exit 1
}

stop() {
  require_root
  stop_peer_guests
  stop_daemons
  kill_pidfile "$FORWARDER_PID"
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  log "peer stopped (state kept in $STATE)"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  tls-uri) echo "$TLS_URI" ;;
  *) echo "usage: $0 [start|tls-uri|stop]" >&2; exit 2 ;;
esac
