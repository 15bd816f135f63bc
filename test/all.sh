#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine, as root: set up every testbed, then
# `npm test` (type check + every unit and integration test). Once set up, `npm test`
# alone runs the suite again.
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  cat <<'USAGE'
usage: test/all.sh

Sets up every testbed (test/testbeds/setup.sh: libvirtd + QEMU, the migration peer, the tiny
guest, VMware's vcsim), then runs `npm test`: the type check and every unit and integration
test. Run as root on Debian 12. Once set up, `npm test` alone runs the suite again, and
`npx mocha <test files or globs>` runs a part of it; `npm run bench` runs the benchmarks.
USAGE
  exit 0
fi
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
bash test/testbeds/setup.sh
export PATH="$REPO/node_modules/.bin:$PATH"
npm test
