#!/usr/bin/env bash
# Boots the test guest (test/testbeds/guest-image.sh) under the real libvirtd
# (TCG) on an isolated network with DHCP and measures the seconds until its
# lease shows in `virsh net-dhcp-leases`. Cleans up its domain and network.
# Needs a running libvirtd (test/testbeds/libvirt.sh). Run as root.
# Env: GUEST_NET (nc-guesttest), GUEST_DOM (nc-guesttest-vm),
#      GUEST_SUBNET (10.199.0) GUEST_TIMEOUT (60 s), GUEST_KEEP=1 to leave them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NET=${GUEST_NET:-nc-guesttest}
DOM=${GUEST_DOM:-nc-guesttest-vm}
SUB=${GUEST_SUBNET:-10.199.0}
TIMEOUT=${GUEST_TIMEOUT:-60}
URI=qemu:///system
V=(virsh -q -c "$URI")
MAC=52:54:00:c7:00:10

log() { echo "[guest-boot-check] $*" >&2; }

GUEST=$(bash "$HERE/../guest-image.sh" | tail -1)
[ -s "$GUEST/vmlinuz" ] && [ -s "$GUEST/initrd.img" ] || { log "no guest image"; exit 1; }

cleanup() {
  [ "${GUEST_KEEP:-0}" = 1 ] && return 0
  "${V[@]}" destroy "$DOM" >/dev/null 2>&1 || true
  "${V[@]}" undefine "$DOM" >/dev/null 2>&1 || true
  "${V[@]}" net-destroy "$NET" >/dev/null 2>&1 || true
  "${V[@]}" net-undefine "$NET" >/dev/null 2>&1 || true
}
cleanup   # leftovers of an earlier run
trap cleanup EXIT

tmp=$(mktemp -d)
# Short bridge name: Linux limits interface names to 15 characters.
cat > "$tmp/net.xml" <<EOF
<network>
  <name>$NET</name>
  <bridge name='virbr-ncgt' stp='off'/>
  <ip address='$SUB.1' netmask='255.255.255.0'>
    <dhcp><range start='$SUB.100' end='$SUB.199'/></dhcp>
  </ip>
</network>
EOF
cat > "$tmp/dom.xml" <<EOF
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST/vmlinuz</kernel>
    <initrd>$GUEST/initrd.img</initrd>
    <cmdline>console=ttyS0 panic=-1</cmdline>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <interface type='network'>
      <source network='$NET'/>
      <mac address='$MAC'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'><source path='$tmp/console.log'/><target port='0'/></serial>
    <console type='file'><source path='$tmp/console.log'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
EOF

"${V[@]}" net-define "$tmp/net.xml" >/dev/null
"${V[@]}" net-start "$NET" >/dev/null
"${V[@]}" define "$tmp/dom.xml" >/dev/null
t0=$(date +%s.%N)
"${V[@]}" start "$DOM" >/dev/null
log "started $DOM at $(date -u +%T); waiting up to ${TIMEOUT}s for a lease on $NET"
lease=""
while :; do
  lease=$("${V[@]}" net-dhcp-leases "$NET" 2>/dev/null | grep -i "$MAC" || true)
  [ -n "$lease" ] && break
  now=$(date +%s.%N)
  if awk -v a="$t0" -v b="$now" -v t="$TIMEOUT" 'BEGIN{exit !(b-a>t)}'; then
    log "no lease within ${TIMEOUT}s; guest console:"
    sed 's/^/  | /' "$tmp/console.log" >&2 || true
    exit 1
  fi
  sleep 0.5
done
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
log "lease: $(echo "$lease" | tr -s ' ')"
# Give the guest a moment to print its bound message, then show the tail.
sleep 2
grep 'novacron-guest' "$tmp/console.log" | tail -5 | sed 's/^/  | /' >&2 || true
echo "lease after ${secs}s"
