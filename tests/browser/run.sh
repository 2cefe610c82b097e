#!/usr/bin/env bash
# The HETS Desktop in real headless Chromium: starts `hets serve --demo` on a free loopback port
# with a fresh data directory, runs the scenarios (tests/browser/desktop.mjs, playwright-core
# driving Debian's /usr/bin/chromium) and leaves screenshots in
# ${CI_ARTIFACTS:-ci-artifacts}/screenshots/. Needs `npm ci --prefix tests/browser` first.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
die() { echo "tests/browser/run.sh: $*" >&2; exit 1; }

hets="${CARGO_TARGET_DIR:-target}/debug/hets"
# Always (re)build: a stale binary would test yesterday's pages. Nothing to do when it is current.
cargo build -q -p hets -j2 || die "building hets failed"
[ -x "$hets" ] || die "no hets binary at $hets"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || die "Chromium is missing at ${CHROMIUM:-/usr/bin/chromium} (apt-get install -y chromium)"
[ -d tests/browser/node_modules/playwright-core ] || die "playwright-core is missing: npm ci --prefix tests/browser"

artifacts="${CI_ARTIFACTS:-ci-artifacts}"
mkdir -p "$artifacts/screenshots"
artifacts=$(cd "$artifacts" && pwd)

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$hets" serve --demo --listen "127.0.0.1:$port" --data-dir "$data" \
  > "$artifacts/browser-serve.out" 2> "$artifacts/browser-serve.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || die "hets serve exited; see $artifacts/browser-serve.log"
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || die "hets serve did not come up on port $port"

start=$(date +%s)
BASE="http://127.0.0.1:$port" SCREENSHOTS="$artifacts/screenshots" PERSONAS="$root/data/personas.toml" \
  node tests/browser/desktop.mjs
echo "tests/browser/run.sh: all scenarios passed in $(( $(date +%s) - start )) s; screenshots in $artifacts/screenshots"
