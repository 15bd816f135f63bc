#!/usr/bin/env bash
# Builds a tiny real guest OS for the libvirt/QEMU testbeds from Debian packages
# only (apt, no other download):
#   - the kernel of linux-image-cloud-amd64, unpacked into the cache with
#     dpkg-deb -x (never installed into the host's /boot),
#   - a busybox-static initramfs whose /init (test/testbeds/guest/init) loads
#     the virtio network modules of that kernel, takes a DHCP lease on eth0
#     with udhcpc and stays alive, reporting on the serial console; with
#     novacron.dirty=<MiB> on the command line it also runs guest/dirty.c, a
#     static memory-dirtying loop (built here with gcc).
# Output: <cache>/guest/vmlinuz and <cache>/guest/initrd.img. The guest
# directory is printed as the LAST line of stdout, so callers can do
#   GUEST=$(bash test/testbeds/guest-image.sh | tail -1)
# Boot it with <kernel>$GUEST/vmlinuz</kernel> <initrd>$GUEST/initrd.img</initrd>
# <cmdline>console=ttyS0</cmdline> and a virtio NIC.
#
# Idempotent: reuses the built image while the kernel package, busybox package
# and the guest files are unchanged; rebuilds when the cache is missing.
# Runs as root on Debian 12 (it installs kmod and cpio when they are missing).
# Env: NOVACRON_CACHE (default <repo>/.cache), GUEST_FORCE=1 to rebuild.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${NOVACRON_CACHE:-$REPO/.cache}
GUEST_DIR=$CACHE/guest
WORK=$GUEST_DIR/work
SRC=$HERE/guest

# Load order from the kernel's module graph (virtio-net over virtio-pci); virtio_balloon lets the
# guest answer live memory changes, which the driver tests observe.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_balloon
         failover net_failover virtio_net)

log() { echo "[guest-image] $*" >&2; }
die() { echo "[guest-image] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (installs kmod/cpio with apt-get)"

APT=(apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=900)

need_tools() {
  local missing=() t pkg
  for t in depmod:kmod cpio:cpio xz:xz-utils gzip:gzip gcc:gcc; do
    pkg=${t#*:}
    command -v "${t%%:*}" >/dev/null 2>&1 || [ -x "/sbin/${t%%:*}" ] || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing host tools: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive "${APT[@]}" install "${missing[@]}" >&2 \
      || { DEBIAN_FRONTEND=noninteractive "${APT[@]}" update >&2 \
           && DEBIAN_FRONTEND=noninteractive "${APT[@]}" install "${missing[@]}" >&2; }
  fi
}

# Name of the real kernel image package behind the metapackage, e.g.
# linux-image-6.1.0-56-cloud-amd64.
kernel_pkg() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null \
    | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'
}

# apt-get download into a directory (download as the _apt user needs a
# writable directory; run it in a temp dir we own and move the result).
fetch_deb() { # pkg destdir -> prints path of the .deb
  local pkg=$1 dest=$2 tmp f
  mkdir -p "$dest"
  f=$(ls "$dest/${pkg}_"*.deb 2>/dev/null | head -1 || true)
  if [ -n "$f" ]; then echo "$f"; return; fi
  tmp=$(mktemp -d)
  chmod 777 "$tmp"
  log "apt-get download $pkg"
  (cd "$tmp" && "${APT[@]}" download "$pkg" >&2) || {
    log "download failed; refreshing package lists once"
    "${APT[@]}" update >&2
    (cd "$tmp" && "${APT[@]}" download "$pkg" >&2)
  }
  f=$(ls "$tmp/${pkg}_"*.deb | head -1)
  mv "$f" "$dest/"
  rm -rf "$tmp"
  echo "$dest/$(basename "$f")"
}

need_tools
# A static link needs glibc's libc.a, which gcc alone (without recommends) does not bring.
if [ ! -e /usr/lib/x86_64-linux-gnu/libc.a ]; then
  DEBIAN_FRONTEND=noninteractive "${APT[@]}" install libc6-dev >&2
fi
export PATH=$PATH:/sbin:/usr/sbin

# One build at a time (other engineers and CI share the cache).
mkdir -p "$GUEST_DIR"
exec 9>"$GUEST_DIR/.lock"
if ! flock -n 9; then
  log "another guest-image.sh is running; waiting for it"
  flock 9
fi

KPKG=$(kernel_pkg)
if [ -z "$KPKG" ]; then
  log "no package lists yet; running apt-get update"
  "${APT[@]}" update >&2
  KPKG=$(kernel_pkg)
fi
[ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package"

mkdir -p "$GUEST_DIR/debs"
KDEB=$(fetch_deb "$KPKG" "$GUEST_DIR/debs")
BDEB=$(fetch_deb busybox-static "$GUEST_DIR/debs")

# Stamp: what the image is made of. Same stamp + outputs present = up to date.
STAMP_WANT="$(basename "$KDEB") $(basename "$BDEB") $(cat "${BASH_SOURCE[0]}" "$SRC/init" "$SRC/udhcpc.script" "$SRC/dirty.c" | sha256sum | cut -c1-16)"
if [ "${GUEST_FORCE:-0}" != 1 ] && [ -s "$GUEST_DIR/vmlinuz" ] && [ -s "$GUEST_DIR/initrd.img" ] \
   && [ "$(cat "$GUEST_DIR/stamp" 2>/dev/null)" = "$STAMP_WANT" ]; then
  log "up to date ($STAMP_WANT)"
  echo "$GUEST_DIR"
  exit 0
fi

log "building guest image from $(basename "$KDEB") + $(basename "$BDEB")"
rm -rf "$WORK"
mkdir -p "$WORK/kernel" "$WORK/busybox" "$WORK/root"
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BDEB" "$WORK/busybox"

KVER=$(ls "$WORK/kernel/lib/modules" | head -1)
[ -n "$KVER" ] || die "no lib/modules in $(basename "$KDEB")"
VMLINUZ="$WORK/kernel/boot/vmlinuz-$KVER"
[ -f "$VMLINUZ" ] || die "no boot/vmlinuz-$KVER in $(basename "$KDEB")"
log "kernel $KVER; depmod -b"
depmod -b "$WORK/kernel" "$KVER"
MODDIR="$WORK/kernel/lib/modules/$KVER"

# Resolve each wanted module (plus anything modules.dep says it needs) to its
# file; skip those built into the kernel.
declare -A seen=()
ORDER=()
add_module() { # path relative to $MODDIR, e.g. kernel/drivers/virtio/virtio.ko.xz
  local rel=$1 line dep
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  line=$(grep -m1 "^$rel:" "$MODDIR/modules.dep" || true)
  for dep in ${line#*:}; do add_module "$dep"; done
  ORDER+=("$rel")
}
for m in "${MODULES[@]}"; do
  # modules.dep names files with '-' or '_' as in the source tree.
  pat="${m//_/[_-]}"
  rel=$(grep -E -m1 "(^|/)${pat}\.ko(\.[a-z]+)?:" "$MODDIR/modules.dep" | cut -d: -f1 || true)
  if [ -z "$rel" ]; then
    if grep -Eq "(^|/)${pat}\.ko$" "$MODDIR/modules.builtin" 2>/dev/null; then
      log "module $m is built in; skipping"
    else
      log "module $m not found in $KVER (neither loadable nor built in); skipping"
    fi
    continue
  fi
  add_module "$rel"
done

R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc/novacron,lib/modules,proc,sys,dev,run,tmp,var/run,root}
cp "$WORK/busybox/bin/busybox" "$R/bin/busybox"
ln -sf busybox "$R/bin/sh"
install -m 0755 "$SRC/init" "$R/init"
install -m 0755 "$SRC/udhcpc.script" "$R/etc/novacron/udhcpc.script"
# The memory-dirtying workload (novacron.dirty=<MiB>), static so it needs nothing else.
gcc -O2 -static -o "$R/bin/novacron-dirty" "$SRC/dirty.c"
: > "$R/etc/novacron/modules"
for rel in "${ORDER[@]}"; do
  f=$(basename "$rel"); name=${f%%.ko*}
  case "$f" in
    *.ko.xz)  xz -dc "$MODDIR/$rel" > "$R/lib/modules/$name.ko" ;;
    *.ko.zst) zstd -dcq "$MODDIR/$rel" > "$R/lib/modules/$name.ko" ;;
    *.ko.gz)  gzip -dc "$MODDIR/$rel" > "$R/lib/modules/$name.ko" ;;
    *.ko)     cp "$MODDIR/$rel" "$R/lib/modules/$name.ko" ;;
    *) die "unexpected module file $rel" ;;
  esac
  echo "$name" >> "$R/etc/novacron/modules"
done
log "modules in load order: $(tr '\n' ' ' < "$R/etc/novacron/modules")"
echo "root:x:0:0:root:/root:/bin/sh" > "$R/etc/passwd"
echo "root:x:0:" > "$R/etc/group"
echo "$KVER" > "$R/etc/novacron/kernel"

# Write to temp names and rename, so a concurrent reader never sees half files.
(cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner=0:0 --quiet) \
  | gzip -9 > "$GUEST_DIR/initrd.img.tmp"
cp "$VMLINUZ" "$GUEST_DIR/vmlinuz.tmp"
mv -f "$GUEST_DIR/initrd.img.tmp" "$GUEST_DIR/initrd.img"
mv -f "$GUEST_DIR/vmlinuz.tmp" "$GUEST_DIR/vmlinuz"
echo "$KVER" > "$GUEST_DIR/kernel-version"
echo "$STAMP_WANT" > "$GUEST_DIR/stamp"
rm -rf "$WORK"
log "built: vmlinuz $(du -h "$GUEST_DIR/vmlinuz" | cut -f1), initrd.img $(du -h "$GUEST_DIR/initrd.img" | cut -f1)"
echo "$GUEST_DIR"
