#!/usr/bin/env bash
# One HTTP load run as docs/benchmarks.md records them: a fresh copy of a seeded database,
# `hets serve` on loopback, `hets send --load` against it, then the server's peak memory and
# CPU. Usage: scripts/bench-load.sh LABEL [extra `hets send` flags]
#   PRISTINE  seeded SQLite file (made once: hets seed --db sqlite:FILE --demo --beneficiaries 1000000)
#   HETS_BIN  the binary (target/release/hets)   URL  base URL (http://127.0.0.1:8099)
#   CONC DUR  client concurrency and seconds (32, 8)   SERVE_EXTRA  extra `hets serve` flags
#   DB        a database URL to serve instead of a copy of PRISTINE (PostgreSQL)
#   AUTH      the client's credentials (--user WDEMO001 --password demo-clearinghouse-pass), or for
#             mutual TLS: --cert client.pem --key client.key --ca ca.pem --submitter WDEMO001
set -euo pipefail
label=${1:?label}; shift
bin=${HETS_BIN:-target/release/hets}
pristine=${PRISTINE:-/tmp/bench-1m-pristine.db}
url=${URL:-http://127.0.0.1:8099}
conc=${CONC:-32}; dur=${DUR:-8}
auth=${AUTH:---user WDEMO001 --password demo-clearinghouse-pass}
run=/tmp/bench-run.db
if [ -z "${DB:-}" ]; then
  rm -f "$run" "$run"-* "$run".records*
  cp "$pristine" "$run"
  for f in "$pristine".records "$pristine"-wal; do [ -e "$f" ] && cp "$f" "$run${f#"$pristine"}"; done
  db="sqlite:$run"
else
  db=$DB
fi
sync
# The previous run's server may still be draining.
for _ in $(seq 100); do ss -ltn 2>/dev/null | grep -q ':8099 ' || break; sleep 0.1; done
HETS_LOG=warn "$bin" serve --db "$db" --listen 127.0.0.1:8099 ${SERVE_EXTRA:-} > /tmp/bench-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "${url/https/http}/healthz" >/dev/null 2>&1 && break; curl -fsk "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cpu0=$(awk '{print $14+$15}' /proc/$server/stat)
io0=$(awk '/^write_bytes/{print $2}' /proc/$server/io)
/usr/bin/time -f "client: %U user %S sys %M KB" "$bin" send --load --url "$url" $auth \
  --population-seed 1 --population 1000000 --concurrency "$conc" --warmup 2 --duration "$dur" "$@" 2>&1 | tail -3
cpu1=$(awk '{print $14+$15}' /proc/$server/stat)
io1=$(awk '/^write_bytes/{print $2}' /proc/$server/io)
hz=$(getconf CLK_TCK)
echo "$label: server VmHWM $(awk '/VmHWM/{print $2, $3}' /proc/$server/status), CPU $(( (cpu1-cpu0)*1000/hz )) ms, wrote $(( (io1-io0)/1048576 )) MiB"
