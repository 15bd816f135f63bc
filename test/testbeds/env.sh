# shellcheck shell=bash
# Source me:  source test/testbeds/env.sh
# Sets the offline settings for running the real Pulumi CLI against this
# checkout (no Pulumi Cloud, no update checks, no plugin downloads) and puts
# node_modules/.bin (Node 22, ts-node) and the CLI directory from
# test/testbeds/pulumi-cli.sh first on PATH. That directory may lack
# pulumi-language-nodejs (it cannot be had offline): examples/run-program.ts then
# runs programs through the Automation API instead of `pulumi up`.
# Every setting keeps a value the caller already exported, except PATH.
# Env in: NOVACRON_CACHE (default <repo>/.cache); NOVACRON_PULUMI_CLI_DIR to
#   skip running pulumi-cli.sh (use that directory as it is).
# Env out: PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE PULUMI_HOME
#   PULUMI_SKIP_UPDATE_CHECK PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION
#   NOVACRON_PULUMI_CLI_DIR PATH.
# Being sourced, it never exits the caller's shell; it returns 1 when the CLI
# cannot be made available (the reason is printed on stderr).

_nc_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_nc_cache=${NOVACRON_CACHE:-$_nc_repo/.cache}

export PULUMI_HOME=${PULUMI_HOME:-$_nc_cache/pulumi-home}
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$_nc_cache/pulumi-state"
fi
# A throwaway passphrase for test stacks only (the state lives in the cache).
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=novacron-test-passphrase
fi
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
mkdir -p "$PULUMI_HOME"
case "$PULUMI_BACKEND_URL" in
  file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
esac

_nc_rc=0
if [ -z "${NOVACRON_PULUMI_CLI_DIR:-}" ]; then
  # Fast when cached; builds (minutes) on a fresh machine.
  NOVACRON_PULUMI_CLI_DIR=$(bash "$_nc_repo/test/testbeds/pulumi-cli.sh" | tail -1) || _nc_rc=1
fi
if [ "$_nc_rc" = 0 ] && [ -n "${NOVACRON_PULUMI_CLI_DIR:-}" ] \
   && [ -x "$NOVACRON_PULUMI_CLI_DIR/pulumi" ] \
   && [ -x "$NOVACRON_PULUMI_CLI_DIR/pulumi-resource-pulumi-nodejs" ]; then
  export NOVACRON_PULUMI_CLI_DIR
  case ":$PATH:" in
    *":$NOVACRON_PULUMI_CLI_DIR:"*) ;;
    *) PATH="$NOVACRON_PULUMI_CLI_DIR:$PATH" ;;
  esac
else
  echo "[env.sh] the Pulumi CLI is not available (see the messages above)" >&2
  unset NOVACRON_PULUMI_CLI_DIR
  _nc_rc=1
fi
case ":$PATH:" in
  *":$_nc_repo/node_modules/.bin:"*) ;;
  *) PATH="$_nc_repo/node_modules/.bin:$PATH" ;;
esac
export PATH
unset _nc_repo _nc_cache
return "$_nc_rc" 2>/dev/null || exit "$_nc_rc"
