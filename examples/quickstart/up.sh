#!/usr/bin/env bash
# The quickstart in one command, on a fresh Debian 12 machine, as root: installs what is needed
# (system packages, libvirtd + QEMU, node modules, the tiny guest, the Pulumi CLI), then runs
# `pulumi up` of this program against the local KVM/QEMU host.
#
# A libvirtd that already runs is used unchanged. The sandbox-only settings (QEMU as root, no
# security driver) are written only when this script starts libvirtd itself: see
# test/testbeds/libvirt.sh.
set -euo pipefail
usage() {
  cat <<'USAGE'
usage: examples/quickstart/up.sh [up|preview|destroy]

  up        (default) install what is missing, then `pulumi up --yes` of the quickstart:
            a storage pool, a volume, an isolated network and a running VM on the local
            KVM/QEMU host (qemu:///system)
  preview   the same set-up, then `pulumi preview` (what would change, and how disruptively)
  destroy   `pulumi destroy --yes`: the VM is shut down gracefully, then everything is removed

Run as root on Debian 12. State lives in .cache/quickstart-state unless PULUMI_BACKEND_URL is set.
USAGE
}
ACTION=${1:-up}
case "$ACTION" in
  up|preview|destroy) ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
log() { echo "[quickstart] $*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "[quickstart] run as root (installs packages, starts libvirtd)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
command -v npm >/dev/null || { apt-get update -qq; apt-get install -y -q nodejs npm; }
cd "$REPO"
[ -x node_modules/.bin/node ] || npm ci --no-audit --no-fund --foreground-scripts
bash test/testbeds/libvirt.sh
bash test/testbeds/guest-image.sh >/dev/null

# The Pulumi CLI: one already on PATH, else built from Go modules (test/testbeds/pulumi-cli.sh);
# only where the CLI itself cannot be built, the official installer of the same version.
if ! CLI_DIR=$(bash test/testbeds/pulumi-cli.sh | tail -1) || [ -z "$CLI_DIR" ]; then
  version=$(node -p 'require("./node_modules/@pulumi/pulumi/package.json").version')
  log "building the CLI from Go modules failed; installing Pulumi $version with the official installer"
  command -v curl >/dev/null || apt-get install -y -q curl
  curl -fsSL https://get.pulumi.com | sh -s -- --version "$version" >&2
  CLI_DIR=$HOME/.pulumi/bin
  ln -sf "$REPO/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" "$CLI_DIR/pulumi-resource-pulumi-nodejs"
fi
export PATH="$CLI_DIR:$REPO/node_modules/.bin:$PATH"
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$REPO/.cache/quickstart-state}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-quickstart}
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "${PULUMI_BACKEND_URL#file://}"

cd "$HERE"
pulumi stack select quickstart 2>/dev/null || pulumi stack init quickstart
pulumi config set quickstart:guestDir "$REPO/.cache/guest"

# A full Pulumi install runs the program with its nodejs language host: plain `pulumi`. The
# CLI built from Go modules has none (the module proxy refuses it), so the same program runs
# through Pulumi's Automation API as an inline program: the same engine, state and providers.
if command -v pulumi-language-nodejs >/dev/null; then
  log "route: pulumi $ACTION (nodejs language host $(command -v pulumi-language-nodejs))"
  case "$ACTION" in
    preview) pulumi preview ;;
    destroy) pulumi destroy --yes ;;
    up) pulumi up --yes; echo "ip: $(pulumi stack output ip)" ;;
  esac
else
  log "route: Automation API inline program (no pulumi-language-nodejs on this machine; see examples/run-program.ts)"
  ts-node --transpile-only "$REPO/examples/run-program.ts" "$HERE" "$ACTION" --stack quickstart
fi
if [ "$ACTION" = up ]; then
  log "done. Look at it:  virsh list; virsh domifaddr nc-quickstart-web --source lease; pulumi stack output"
  log "tear it down:     bash $0 destroy"
fi
