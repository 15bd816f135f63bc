#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian 12 machine, as root: system packages, Node
# (Debian's, only to bootstrap npm; the project runs on the node@22 devDependency), the project's
# node modules, a running libvirtd with QEMU, the testbed guest, the migration peer, VMware's
# simulator and the Pulumi CLI. Idempotent: what is already there is reused. Each testbed script says what it does.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
log() { echo "[setup] $*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "[setup] run as root (installs packages, starts libvirtd)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=900)
need=()
command -v npm >/dev/null || need+=(nodejs npm)
# ovmf + swtpm: the UEFI, secure boot and TPM tests start real firmware.
for pkg in ca-certificates git genisoimage xorriso iproute2 util-linux kmod cpio ovmf swtpm swtpm-tools; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  log "installing ${need[*]}"
  "${APT[@]}" update -qq || true
  "${APT[@]}" install "${need[@]}"
fi

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing node modules (npm ci)"
  # node@22's preinstall fetches the Node binary package; ssh2's optional native parts are not needed.
  npm ci --no-audit --no-fund --foreground-scripts
fi
log "node for the project: $(node_modules/.bin/node --version)"

bash test/testbeds/libvirt.sh
bash test/testbeds/guest-image.sh >/dev/null
bash test/testbeds/libvirt-peer.sh >/dev/null
bash test/testbeds/vcsim.sh >/dev/null
bash test/testbeds/proxmox.sh >/dev/null
# The real Pulumi CLI for the e2e tier (built from Go modules once, then cached).
bash test/testbeds/pulumi-cli.sh >/dev/null
log "testbeds ready"
