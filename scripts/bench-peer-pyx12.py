#!/usr/bin/env python3
"""The peer for `cargo bench -p openhets-x12`: pyx12 (the judge's validator) on the same 270.

Usage: scripts/bench-peer-pyx12.py [FILE] [SECONDS]
Runs pyx12's x12n_document (parse + validate against the 005010X279A1 map, writing its 999) on
FILE (default tests/data/x12/valid/cms-sample.x12) repeatedly for SECONDS (default 10) on one
core, and prints 270s per second. Needs the judge's environment: run
../shared/validators/x12-conformance once first; this script finds its venv and maps.
"""
import glob, io, logging, os, sys, time

cache = os.environ.get("OPENHETS_X12_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "openhets"))
venv_site = glob.glob(os.path.join(cache, "x12-venv", "lib", "python*", "site-packages"))
if venv_site:
    sys.path.insert(0, venv_site[0])
maps = sorted(glob.glob(os.path.join(cache, "pyx12-maps-*")))
if not maps:
    sys.exit("bench-peer-pyx12: run ../shared/validators/x12-conformance once to build its maps")
import pyx12.params, pyx12.x12n_document  # noqa: E402

# The judge's own preparation: pyx12 does not split repetitions, so the judge checks EQ01's
# repeated values itself and hands pyx12 the first one. Time that too, as the judge runs it.
judge_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "validators")
sys.path.insert(0, os.environ.get("OPENHETS_JUDGE_DIR", judge_dir))
import x12_conformance as judge  # noqa: E402

logging.getLogger("pyx12").addHandler(logging.NullHandler())
logging.getLogger("pyx12").propagate = False
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests/data/x12/valid/cms-sample.x12")
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
text = open(path, encoding="ascii").read()
codes = judge.service_type_codes()
n, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    checked, rep_errors = judge.split_repeats(text, codes)
    ok, errors = judge.pyx12_errors(checked, maps[-1])
    if not ok or errors or rep_errors:
        sys.exit(f"bench-peer-pyx12: pyx12 rejected the file: {rep_errors + errors}")
    n += 1
elapsed = time.perf_counter() - start
print(f"pyx12 {pyx12.__version__}: {n} validations in {elapsed:.1f} s = {n / elapsed:.1f} 270s/s on one core "
      f"({len(text) * n / elapsed / 1e6:.3f} MB/s)")
