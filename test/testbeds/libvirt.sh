#!/usr/bin/env bash
# Brings up a real libvirtd (QEMU + test drivers) on this machine for the
# libvirt RPC integration tests and benchmarks. Idempotent: safe to run again
# while the daemon is already up. Must run as root (it installs packages and
# starts system daemons). There is no systemd here, so daemons are started
# directly; libvirtd under a reaper (see REAPER below).
set -euo pipefail

log() { echo "[libvirt-testbed] $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "[libvirt-testbed] must run as root (installs packages, starts libvirtd)" >&2
  exit 1
fi

PKGS=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base
      python3-libvirt libxml2-utils openssh-server tini)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  # Package postinst scripts try to start services; without systemd/init that
  # fails and would abort dpkg. policy-rc.d exit 101 tells invoke-rc.d "not
  # allowed", so maintainers skip the start instead of failing. Only install it
  # if none exists, and remove only what we created.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  export DEBIAN_FRONTEND=noninteractive
  # Other engineers' testbeds may be installing packages at the same moment:
  # wait for the dpkg lock instead of failing.
  APT=(apt-get -y --no-install-recommends -o DPkg::Lock::Timeout=900)
  if ! "${APT[@]}" install "${missing[@]}"; then
    log "apt-get install failed; refreshing package lists and retrying"
    "${APT[@]}" update
    "${APT[@]}" install "${missing[@]}" || dpkg --configure -a || true
  fi
  for p in "${missing[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      log "package $p is still not installed; giving up" >&2
      exit 1
    fi
  done
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  trap - EXIT
else
  log "packages already installed"
fi

RUNNING=0
if virsh -c qemu:///system version >/dev/null 2>&1; then
  RUNNING=1
  if [ ! -f /run/novacron-libvirt-testbed.started ]; then
    log "a libvirtd is already running that this script did not start; using it unchanged"
    exit 0
  fi
fi

# --- From here on the daemon is this script's own (to start, or started earlier by it). ---
# Settings it lacks are added; a running daemon is restarted once to read them.
CHANGED=0

QEMU_CONF=/etc/libvirt/qemu.conf
MARK="# novacron-testbed (sandbox-only)"
if ! grep -qF "$MARK" "$QEMU_CONF"; then
  cat >> "$QEMU_CONF" <<'CONF'

# novacron-testbed (sandbox-only): appended by test/testbeds/libvirt.sh because it
# starts libvirtd itself inside a throwaway sandbox with no systemd, no qemu
# user setup and no AppArmor/SELinux. Never use these settings on a real host:
# they run guests (and their swtpm) as root with no confinement.
CONF
fi
# Each setting is ensured on its own so that a file written by an older version of this
# script gains the settings added since. swtpm runs as root like the guests: libvirt's
# default (tss) depends on whether that user existed when the daemon started, and a CA in
# /var/lib/swtpm-localca created by a root swtpm is unusable by tss (seen in CI).
for setting in 'user = "root"' 'group = "root"' 'security_driver = "none"' \
               'swtpm_user = "root"' 'swtpm_group = "root"'; do
  key=${setting%% *}
  if ! grep -qE "^${key}[[:space:]]*=" "$QEMU_CONF"; then
    log "setting $setting in $QEMU_CONF (sandbox only)"
    echo "$setting" >> "$QEMU_CONF"
    CHANGED=1
  fi
done

mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt /var/cache/libvirt

# Hugepage-backed guests need a hugetlbfs mount that libvirtd finds when it starts, and
# reserved 2 MiB pages. The reservation is the kernel's, shared with anything else on the
# machine, so it is only ever raised, to what the tests start (512 MiB) plus slack.
HUGEPAGES_WANTED=320
if ! grep -q ' /dev/hugepages hugetlbfs ' /proc/mounts; then
  mkdir -p /dev/hugepages
  if mount -t hugetlbfs hugetlbfs /dev/hugepages 2>/dev/null; then
    log "mounted hugetlbfs on /dev/hugepages"
    CHANGED=1
  else
    log "warning: cannot mount hugetlbfs; hugepage-backed guests cannot start"
  fi
fi
if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$HUGEPAGES_WANTED" ]; then
  if echo "$HUGEPAGES_WANTED" > /proc/sys/vm/nr_hugepages 2>/dev/null; then
    log "reserved $(cat /proc/sys/vm/nr_hugepages) hugepages of 2 MiB"
  else
    log "warning: cannot reserve hugepages; hugepage-backed guests cannot start"
  fi
fi

# By pid file, not by process name: the migration peer (libvirt-peer.sh) runs daemons of the
# same names in its own namespaces, and they must not count as this host's.
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if ! alive /run/virtlogd.pid; then
  log "starting virtlogd -d"
  virtlogd -d
else
  log "virtlogd already running"
fi

# libvirt double-forks QEMU, so a guest's process is orphaned to the nearest subreaper, and
# virDomainDestroy returns only once the process is gone, polling kill(pid, 0), which a zombie
# passes. A real host's init reaps at once; this sandbox's pid 1 reaps 1.2-1.6 s late (measured:
# QEMU exits 5 ms after SIGTERM, its zombie stays ~1.6 s), so every destroy took ~1.7 s instead
# of ~0.2 s. tini -s, a subreaper that reaps on SIGCHLD, makes the host behave like a real one.
REAPER=(setsid tini -s -g --)
REAPED_MARK=/run/novacron-libvirt-testbed.reaped
if [ "$RUNNING" = 1 ] && [ ! -f "$REAPED_MARK" ]; then
  log "libvirtd (started earlier by this script) runs without a reaper for its guests"
  CHANGED=1
fi

if [ "$RUNNING" = 1 ]; then
  if [ "$CHANGED" = 0 ]; then
    log "libvirtd already running (started earlier by this script); nothing to do"
    exit 0
  fi
  pid=$(cat /run/libvirtd.pid 2>/dev/null || true)
  if [ -z "$pid" ]; then
    log "warning: libvirtd runs without /run/libvirtd.pid; restart it by hand to apply the settings added above"
    exit 0
  fi
  log "restarting libvirtd (started earlier by this script) so it reads the settings added above"
  kill "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi

if ! alive /run/libvirtd.pid; then
  log "starting libvirtd under tini (reaps the guests' QEMU processes as they exit)"
  "${REAPER[@]}" libvirtd -p /run/libvirtd.pid </dev/null >>/var/log/libvirt/libvirtd.stdio.log 2>&1 &
  touch /run/novacron-libvirt-testbed.started "$REAPED_MARK"
else
  log "libvirtd process exists but does not answer yet; waiting for it"
fi

for _ in $(seq 1 100); do
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    log "libvirtd answers: $(virsh -c qemu:///system version | tr '\n' ' ')"
    exit 0
  fi
  sleep 0.2
done
log "libvirtd did not answer within 20 s" >&2
exit 1
