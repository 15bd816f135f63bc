#!/usr/bin/env bash
# Makes the real Pulumi CLI usable offline for the e2e tests: puts `pulumi`, the
# dynamic-provider shim `pulumi-resource-pulumi-nodejs`, the policy-pack launcher
# `pulumi-analyzer-policy-nodejs` and, where it can be had, `pulumi-language-nodejs`
# into ONE directory and prints that directory as the LAST line of stdout
# (everything else goes to stderr):
#   PATH=$(bash test/testbeds/pulumi-cli.sh | tail -1):$PATH
# (or `source test/testbeds/env.sh`, which also sets the offline Pulumi env).
#
# - A `pulumi` already on PATH (a user's install) is used as it is; only what
#   is missing next to it (the nodejs language host) is built.
# - Otherwise the CLI is built from Go modules with the wrapper module in
#   test/testbeds/pulumi-cli/ (pkg/v3 + sdk/v3 at the release the npm package
#   @pulumi/pulumi is pinned to), plus the language host module at that
#   release's commit (it has no tags: a pseudo-version). The Go module proxy
#   refuses that module here; then the directory has no language host and
#   programs run through the Automation API's inline route instead
#   (examples/run-program.ts), which needs none.
# - The shim ships, executable, inside node_modules/@pulumi/pulumi: symlinked.
# Binaries are cached under ${NOVACRON_CACHE:-<repo>/.cache}/pulumi-cli/<version>
# (the pulumi binary itself in ${NOVACRON_CLI_STORE:-~/.cache/novacron/pulumi-cli/<version>},
# shared by every checkout on the machine) and rebuilt when missing. Idempotent; safe to run concurrently (flock).
# Env: NOVACRON_CACHE, PULUMI_CLI_FORCE_BUILD=1 (ignore a pulumi on PATH),
#      PULUMI_LANGHOST_COMMIT (override the language host commit).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${NOVACRON_CACHE:-$REPO/.cache}
MOD_SRC=$HERE/pulumi-cli

log() { echo "[pulumi-cli] $*" >&2; }
die() { echo "[pulumi-cli] ERROR: $*" >&2; exit 1; }

# --- versions -----------------------------------------------------------------
# The CLI version is whatever the wrapper module pins for pkg/v3.
VERSION=$(awk '$1=="github.com/pulumi/pulumi/pkg/v3" {print $2; exit}' "$MOD_SRC/go.mod")
[ -n "$VERSION" ] || die "cannot read the pkg/v3 version from $MOD_SRC/go.mod"
LANGHOST_MOD=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
# Commit each release tag points at (the language host module is untagged, so
# it is required by commit and Go turns that into a pseudo-version).
langhost_commit_for() {
  case "$1" in
    v3.260.0) echo fe974d4f306962ad3a4aa273be83b98d6b2ff1cc ;;
    *) echo "" ;;
  esac
}
LANGHOST_COMMIT=${PULUMI_LANGHOST_COMMIT:-$(langhost_commit_for "$VERSION")}
LDFLAGS="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION"

# --- the shim from the npm package --------------------------------------------
SHIM=$REPO/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
if [ ! -x "$SHIM" ]; then
  SHIM=$(cd "$REPO" && node -e 'const p=require("path");console.log(p.join(p.dirname(require.resolve("@pulumi/pulumi/package.json")),"pulumi-resource-pulumi-nodejs"))' 2>/dev/null || true)
fi
[ -n "$SHIM" ] && [ -x "$SHIM" ] || die "pulumi-resource-pulumi-nodejs not found: run 'npm ci' in $REPO first"
NPM_SDK_VERSION=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$(dirname "$SHIM")/package.json" | head -1)

# --- Go helpers ---------------------------------------------------------------
GO=$(command -v go || true)
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; }
export GOFLAGS=-mod=mod CGO_ENABLED=0
BUILD_SRC=$CACHE/pulumi-cli/src-$VERSION

# Prints Go's per-package lines as a compact progress report.
progress() {
  awk -v what="$1" '
    /^go: downloading / { d++; if (d % 50 == 0) { printf "[pulumi-cli]   %s: %d modules downloaded...\n", what, d > "/dev/stderr"; fflush("/dev/stderr") } next }
    { n++; if (n % 100 == 0) { printf "[pulumi-cli]   %s: %d packages compiled...\n", what, n > "/dev/stderr"; fflush("/dev/stderr") } }
    END { printf "[pulumi-cli]   %s: %d modules downloaded, %d packages compiled\n", what, d, n > "/dev/stderr" }'
}

prepare_module() {
  [ -n "$GO" ] || die "no Go toolchain found (need go >= 1.26 on PATH or /usr/local/go/bin/go)"
  mkdir -p "$BUILD_SRC"
  # Work on a copy so a build never rewrites the committed go.mod/go.sum.
  cp "$MOD_SRC/go.mod" "$MOD_SRC/go.sum" "$BUILD_SRC/"
}

build_pulumi() { # outdir
  local out=$1 t0 t1
  prepare_module
  log "building pulumi $VERSION (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi); measured cold on 2 cores: ~5.5 min, ~1.4 GB of modules, ~1.7 GB of build cache"
  t0=$(date +%s)
  if ! (cd "$BUILD_SRC" && "$GO" build -v -ldflags "$LDFLAGS" -o "$out/pulumi.tmp" \
      github.com/pulumi/pulumi/pkg/v3/cmd/pulumi 2>&1) | tee "$CACHE/pulumi-cli/build-pulumi.log" | progress pulumi \
     || [ ! -x "$out/pulumi.tmp" ]; then die "go build of pulumi failed; see $CACHE/pulumi-cli/build-pulumi.log:
$(grep -v '^[A-Za-z0-9./_~+-]*$' "$CACHE/pulumi-cli/build-pulumi.log" | tail -20)"
  fi
  mv -f "$out/pulumi.tmp" "$out/pulumi"
  t1=$(date +%s)
  log "pulumi built in $((t1 - t0)) s"
}

build_langhost() { # outdir
  local out=$1 t0 t1 err
  prepare_module
  if ! grep -q "^[[:space:]]*$LANGHOST_MOD " "$BUILD_SRC/go.mod"; then
    if [ -z "$LANGHOST_COMMIT" ]; then
      log "no language host commit known for $VERSION (set PULUMI_LANGHOST_COMMIT); continuing without it"
      return 1
    fi
    log "resolving $LANGHOST_MOD at commit $LANGHOST_COMMIT ($VERSION)"
    if ! err=$(cd "$BUILD_SRC" && "$GO" get "$LANGHOST_MOD@$LANGHOST_COMMIT" 2>&1); then
      log "the nodejs language host module cannot be had from the Go module proxy: $(echo "$err" | tail -1)"
      log "continuing without pulumi-language-nodejs: programs run through the Automation API (inline) route"
      return 1
    fi
  fi
  log "building pulumi-language-nodejs ($(cd "$BUILD_SRC" && "$GO" list -m -f '{{.Version}}' "$LANGHOST_MOD"))"
  t0=$(date +%s)
  if ! (cd "$BUILD_SRC" && "$GO" build -v -ldflags "$LDFLAGS" -o "$out/pulumi-language-nodejs.tmp" \
      "$LANGHOST_MOD" 2>&1) | tee "$CACHE/pulumi-cli/build-langhost.log" | progress pulumi-language-nodejs \
     || [ ! -x "$out/pulumi-language-nodejs.tmp" ]; then die "go build of pulumi-language-nodejs failed; see $CACHE/pulumi-cli/build-langhost.log:
$(grep -v '^[A-Za-z0-9./_~+-]*$' "$CACHE/pulumi-cli/build-langhost.log" | tail -20)"
  fi
  mv -f "$out/pulumi-language-nodejs.tmp" "$out/pulumi-language-nodejs"
  t1=$(date +%s)
  log "pulumi-language-nodejs built in $((t1 - t0)) s"
}

mkdir -p "$CACHE/pulumi-cli"
exec 9>"$CACHE/pulumi-cli/.lock"
if ! flock -n 9; then
  log "another pulumi-cli.sh is building; waiting for it"
  flock 9
fi

# --- a pulumi already on PATH? --------------------------------------------------
AMBIENT=""
if [ "${PULUMI_CLI_FORCE_BUILD:-0}" != 1 ]; then
  while IFS= read -r cand; do
    real=$(readlink -f "$cand")
    case "$real" in "$(readlink -f "$CACHE")"/pulumi-cli/*) continue ;; esac  # our own build
    AMBIENT=$cand; break
  done < <(type -ap pulumi 2>/dev/null || true)
fi

if [ -n "$AMBIENT" ]; then
  BIN=$CACHE/pulumi-cli/ambient/bin
  mkdir -p "$BIN"
  ln -sfn "$(readlink -f "$AMBIENT")" "$BIN/pulumi"
  have=$("$BIN/pulumi" version 2>/dev/null || echo unknown)
  log "using the pulumi on PATH: $AMBIENT ($have; npm @pulumi/pulumi is $NPM_SDK_VERSION)"
  # Its language host: next to it, or anywhere on PATH, or build ours.
  lh=""
  if [ -x "$(dirname "$(readlink -f "$AMBIENT")")/pulumi-language-nodejs" ]; then
    lh="$(dirname "$(readlink -f "$AMBIENT")")/pulumi-language-nodejs"
  elif [ -x "$(dirname "$AMBIENT")/pulumi-language-nodejs" ]; then
    lh="$(dirname "$AMBIENT")/pulumi-language-nodejs"
  else
    while IFS= read -r cand; do
      case "$(readlink -f "$cand")" in "$(readlink -f "$BIN")"/*) continue ;; esac
      lh=$cand; break
    done < <(type -ap pulumi-language-nodejs 2>/dev/null || true)
  fi
  if [ -n "$lh" ]; then
    ln -sfn "$(readlink -f "$lh")" "$BIN/pulumi-language-nodejs"
  else
    OWN=$CACHE/pulumi-cli/$VERSION/bin
    mkdir -p "$OWN"
    if [ -x "$OWN/pulumi-language-nodejs" ] || build_langhost "$OWN"; then
      ln -sfn "$OWN/pulumi-language-nodejs" "$BIN/pulumi-language-nodejs"
    fi
  fi
else
  BIN=$CACHE/pulumi-cli/$VERSION/bin
  mkdir -p "$BIN"
  # The binary itself is kept per machine, outside the checkout, so a fresh clone (CI's) on a
  # machine that built it once links it instead of building again.
  STORE=${NOVACRON_CLI_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/novacron/pulumi-cli/$VERSION}
  if [ -x "$BIN/pulumi" ]; then
    log "cached pulumi $VERSION in $BIN"
  elif [ -x "$STORE/pulumi" ]; then
    log "pulumi $VERSION built earlier on this machine: $STORE"
    ln -sfn "$STORE/pulumi" "$BIN/pulumi"
  else
    mkdir -p "$STORE"
    build_pulumi "$STORE"
    ln -sfn "$STORE/pulumi" "$BIN/pulumi"
  fi
  if [ -x "$BIN/pulumi-language-nodejs" ]; then
    log "cached pulumi-language-nodejs in $BIN"
  elif [ -e "$CACHE/pulumi-cli/$VERSION/langhost-refused" ] && [ "${PULUMI_LANGHOST_RETRY:-0}" != 1 ]; then
    log "no pulumi-language-nodejs (the module proxy refused it before; PULUMI_LANGHOST_RETRY=1 tries again)"
  elif ! build_langhost "$BIN"; then
    touch "$CACHE/pulumi-cli/$VERSION/langhost-refused"
  fi
  if [ "v$NPM_SDK_VERSION" != "$VERSION" ]; then
    log "note: CLI $VERSION, npm @pulumi/pulumi $NPM_SDK_VERSION"
  fi
fi
ln -sfn "$SHIM" "$BIN/pulumi-resource-pulumi-nodejs"
# The engine starts policy packs of runtime nodejs through `pulumi-analyzer-policy-nodejs` when no
# language plugin runs them; a full Pulumi install ships one, ours is a small launcher.
if [ ! -x "$BIN/pulumi-analyzer-policy-nodejs" ] || [ -L "$BIN/pulumi-analyzer-policy-nodejs" ]; then
  ln -sfn "$MOD_SRC/pulumi-analyzer-policy-nodejs" "$BIN/pulumi-analyzer-policy-nodejs"
fi

for f in pulumi pulumi-resource-pulumi-nodejs pulumi-analyzer-policy-nodejs; do
  [ -x "$BIN/$f" ] || die "$BIN/$f is missing or not executable"
done
log "ready: $("$BIN/pulumi" version 2>/dev/null) in $BIN"
echo "$BIN"
