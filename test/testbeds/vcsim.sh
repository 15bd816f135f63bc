#!/usr/bin/env bash
# Starts (once) VMware's vCenter simulator for NovaCron's vSphere tests and prints
# how to reach it as KEY=VALUE lines. Idempotent: packages, the build and the running
# process are all reused when present. Needs root on Debian 12 (apt-get).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$REPO/test/testbeds/vcsim"
CACHE="${NOVACRON_CACHE:-$REPO/.cache}/vcsim"
PORT="${VCSIM_PORT:-18989}"
USERNAME="${VCSIM_USERNAME:-novacron}"
PASSWORD="${VCSIM_PASSWORD:-novacron-pw}"
# Debian's Go 1.19 matches Debian's govmomi 0.24.2 in GOPATH mode; the machine's own
# newer Go (first on PATH) would insist on modules and the network.
GO="${VCSIM_GO:-/usr/lib/go-1.19/bin/go}"
mkdir -p "$CACHE"

# Parallel test runs may call us at once: one of them does the work.
exec 9>"$CACHE/.lock"
flock 9

need=()
for pkg in golang-go golang-github-vmware-govmomi-dev curl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "vcsim.sh: installing ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# build NAME DIR: rebuilds when the binary is missing or its sources changed.
build() {
  local name="$1" dir="$2" stamp
  stamp="$(cat "$dir"/*.go | sha256sum | cut -d' ' -f1)"
  if [[ -x "$CACHE/$name" && "$(cat "$CACHE/$name.stamp" 2>/dev/null)" == "$stamp" ]]; then
    return
  fi
  echo "vcsim.sh: building $name with $("$GO" version)" >&2
  (cd "$dir" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$CACHE/gocache" GOFLAGS= \
    "$GO" build -o "$CACHE/$name.tmp" .)
  mv "$CACHE/$name.tmp" "$CACHE/$name"
  echo "$stamp" >"$CACHE/$name.stamp"
}
build vcsim "$SRC"
build baseline "$SRC/baseline"

CERT="$CACHE/vcsim-cert.pem"
URL="https://127.0.0.1:$PORT/sdk"
PIDFILE="$CACHE/vcsim.pid"
ENVFILE="$CACHE/vcsim.env"

answers() {
  curl -s --max-time 2 --cacert "$CERT" -H 'Content-Type: text/xml; charset=utf-8' "$URL" \
    -d '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></RetrieveServiceContent></soapenv:Body></soapenv:Envelope>' \
    2>/dev/null | grep -q RetrieveServiceContentResponse
}

running=false
if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && answers; then
  # A simulator started with other credentials or an older build is replaced.
  if [[ "$(cat "$ENVFILE" 2>/dev/null)" == "$USERNAME:$PASSWORD:$(cat "$CACHE/vcsim.stamp")" ]]; then
    running=true
  else
    kill "$(cat "$PIDFILE")" && sleep 0.5
  fi
fi

if ! $running; then
  if answers; then
    echo "vcsim.sh: port $PORT is taken by a process we did not start" >&2
    exit 1
  fi
  rm -f "$CERT"
  VCSIM_USERNAME="$USERNAME" VCSIM_PASSWORD="$PASSWORD" setsid "$CACHE/vcsim" \
    -l "127.0.0.1:$PORT" -cert-out "$CERT" >"$CACHE/vcsim.log" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  echo "$USERNAME:$PASSWORD:$(cat "$CACHE/vcsim.stamp")" >"$ENVFILE"
  for _ in $(seq 1 100); do
    if [[ -s "$CERT" ]] && answers; then break; fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "vcsim.sh: simulator exited:" >&2
      cat "$CACHE/vcsim.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  answers || { echo "vcsim.sh: simulator did not answer on $URL" >&2; exit 1; }
fi

echo "VCSIM_URL=$URL"
echo "VCSIM_USERNAME=$USERNAME"
echo "VCSIM_PASSWORD=$PASSWORD"
echo "VCSIM_CA=$CERT"
echo "VCSIM_PID=$(cat "$PIDFILE")"
echo "VCSIM_BASELINE=$CACHE/baseline"
