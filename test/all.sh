#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine, as root: set up every testbed, then
# `npm test` (type check + every unit, integration and end-to-end test). Once set up, `npm test`
# alone runs the suite again.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
bash test/testbeds/setup.sh
export PATH="$REPO/node_modules/.bin:$PATH"
npm test
