#!/usr/bin/env bash
# N extra libvirtd daemons (default 10, NOVACRON_TEST_HOSTS) for stacks that span many hosts.
# libvirt's test driver (test:///default) lives inside one process, so ten "hosts" need ten
# daemons: each runs in its own mount namespace with private /etc/libvirt, /var/run/libvirt,
# /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt (no clash with the main daemon's
# driver locks), and listens only on a unix socket in /run/novacron-test-hosts/hN/. A host's URI is
#   test+unix:///default?socket=/run/novacron-test-hosts/hN/libvirt-sock
# Prints the N URIs, one a line. Idempotent; `stop` ends the daemons it started (by pid file).
set -euo pipefail

COUNT=${NOVACRON_TEST_HOSTS:-10}
STATE=/var/lib/novacron-test-hosts
SOCKS=/run/novacron-test-hosts
log() { echo "[libvirt-test-hosts] $*" >&2; }

uri() { echo "test+unix:///default?socket=$SOCKS/h$1/libvirt-sock"; }
answers() { timeout 10 virsh -c "$(uri "$1")" uri >/dev/null 2>&1; }

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

start_one() {
  local i=$1 root="$STATE/h$1"
  answers "$i" && return 0
  kill_pidfile "$root/libvirtd.pid"
  rm -rf "$root"
  mkdir -p "$root"/{etc,run,lib,log,cache} "$SOCKS/h$i"
  # Only the test driver is used: no listening TCP, no autostarted networks or guests.
  cat >"$root/etc/libvirtd.conf" <<CONF
unix_sock_dir = "$SOCKS/h$i"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
max_clients = 64
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
  printf 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\n' >"$root/etc/qemu.conf"
  unshare --mount --propagation private bash -euc '
    mount --make-rprivate /
    root=$1
    mount --bind "$root/etc" /etc/libvirt
    mount --bind "$root/run" /var/run/libvirt
    mount --bind "$root/lib" /var/lib/libvirt
    mount --bind "$root/log" /var/log/libvirt
    mount --bind "$root/cache" /var/cache/libvirt
    libvirtd -d -f /etc/libvirt/libvirtd.conf -p "$root/libvirtd.pid"
  ' hosts "$root"
}

start() {
  [ "$(id -u)" -eq 0 ] || { log "must run as root (mount namespaces, daemons)"; exit 1; }
  command -v libvirtd >/dev/null || bash "$(dirname "${BASH_SOURCE[0]}")/libvirt.sh" >&2
  local i
  for i in $(seq 0 $((COUNT - 1))); do start_one "$i"; done
  for i in $(seq 0 $((COUNT - 1))); do
    for _ in $(seq 1 150); do answers "$i" && break; sleep 0.2; done
    answers "$i" || { log "daemon h$i did not answer within 30 s; see $STATE/h$i/log/libvirtd.log"; exit 1; }
    uri "$i"
  done
  log "$COUNT test-driver daemons answer under $SOCKS"
}

stop() {
  local d
  for d in "$STATE"/h*; do [ -d "$d" ] && kill_pidfile "$d/libvirtd.pid"; done
  log "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
