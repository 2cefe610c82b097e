#!/usr/bin/env bash
# Coverage-guided fuzzing of the x12 crate with cargo-fuzz (libFuzzer).
# Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s; targets tokenize check_270)
# Seeds: tests/data/x12/{valid,invalid}/*.x12 and fuzz/seeds/*.x12, copied into the gitignored
# fuzz/corpus/<target>/ (which keeps what earlier runs found). Logs: fuzz/artifacts/logs/.
# Any crash, timeout or OOM input is copied to crates/x12/tests/data/fuzz-regressions/, which the
# no_panic test replays; the script then exits 1.
# cargo-fuzz needs nightly flags: a nightly toolchain is used when rustup has one, otherwise the
# stable toolchain with RUSTC_BOOTSTRAP=1.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tokenize check_270)

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz || { echo "run.sh: cannot install cargo-fuzz" >&2; exit 2; }
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

regressions=$root/crates/x12/tests/data/fuzz-regressions
mkdir -p "$here/artifacts/logs" "$regressions"
status=0
cd "$here"
for t in "${targets[@]}"; do
  corpus=$here/corpus/$t
  mkdir -p "$corpus"
  for f in "$root"/tests/data/x12/valid/*.x12 "$root"/tests/data/x12/invalid/*.x12 "$here"/seeds/*.x12; do
    [ -f "$f" ] && cp "$f" "$corpus/seed-$(basename "$f")"
  done
  log=$here/artifacts/logs/$t.log
  echo "== $t: ${secs}s, log $log"
  "${fuzz[@]}" run "$t" "$corpus" -- \
    -max_total_time="$secs" -max_len=8192 -timeout=10 -dict="$here/x12.dict" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)|^Done [0-9]+ runs' "$log"
  found=0
  for a in "$here/artifacts/$t"/crash-* "$here/artifacts/$t"/timeout-* "$here/artifacts/$t"/oom-* \
           "$here/artifacts/$t"/leak-*; do
    [ -f "$a" ] || continue
    cp "$a" "$regressions/$t-$(basename "$a")"
    echo "!! $t found $(basename "$a") -> crates/x12/tests/data/fuzz-regressions/$t-$(basename "$a")"
    found=1
  done
  if [ $rc -ne 0 ] || [ $found -ne 0 ]; then
    echo "!! $t exited with status $rc; see $log"
    status=1
  fi
done
exit $status
