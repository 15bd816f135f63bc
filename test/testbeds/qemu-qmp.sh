#!/usr/bin/env bash
# Makes sure bare QEMU is available for the QMP integration tests, which start
# qemu-system-x86_64 themselves (no libvirtd involved). Idempotent; needs root
# only when the package is missing. Prints the emulator path last.
set -euo pipefail

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  echo "[qemu-qmp-testbed] installing qemu-system-x86" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends qemu-system-x86 >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends qemu-system-x86 >&2; }
fi
command -v qemu-system-x86_64
