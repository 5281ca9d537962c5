#!/usr/bin/env python3
"""Side-by-side batch DTW speed: dtaidistance's C implementation versus wifi-sensing, same inputs.

Usage:  python3 benches/compare/dtw.py [--repeats N]

Creates a local virtual environment (benches/compare/.venv-dtw) with dtaidistance 2.5.1 and numpy
on first use, builds the `dtw_batch` example in release mode, then for each case computes the DTW
distance of every pair i < j of a set of seeded random series with both implementations
(dtaidistance: `distance_matrix_fast(..., parallel=False)`, C, one thread; ours: one thread),
checks that the sums of the distances agree to 1e-9 relative, and prints the best time of each and
`NAME: R.Rx` (dtaidistance time / ours; above 1 means we are faster).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(HERE, ".venv-dtw")
PY = os.path.join(VENV, "bin", "python")
PINS = ["dtaidistance==2.5.1", "numpy"]

# (name, number of series, frames, dimensions, window or None)
CASES = [
    ("1-D 100 x 256, no window", 100, 256, 1, None),
    ("1-D 100 x 256, window 10", 100, 256, 1, 10),
    ("52-D 40 x 64, no window", 40, 64, 52, None),
    ("52-D 40 x 64, window 8", 40, 64, 52, 8),
]

PEER = r"""
import json, sys, time
import numpy as np
from dtaidistance import dtw, dtw_ndim
spec = json.load(open(sys.argv[1]))
dim, w, reps = spec["dim"], spec["window"], spec["repeats"]
if dim == 1:
    s = [np.array(x, dtype=np.double) for x in spec["series"]]
    f = lambda: dtw.distance_matrix_fast(s, window=w, parallel=False, compact=True)
else:
    s = [np.array(x, dtype=np.double).reshape(-1, dim) for x in spec["series"]]
    f = lambda: dtw_ndim.distance_matrix_fast(s, window=w, parallel=False, compact=True)
best = 1e9
for _ in range(reps):
    t = time.perf_counter(); d = f(); best = min(best, time.perf_counter() - t)
print(json.dumps({"best_s": best, "pairs": int(len(d)), "sum": float(np.sum(d))}))
"""


def ensure_venv():
    if not os.path.exists(PY):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([PY, "-m", "pip", "install", "-q", *PINS])
    subprocess.check_call([PY, "-c", "from dtaidistance import dtw; assert dtw.try_import_c(True)"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    ensure_venv()
    subprocess.check_call(["cargo", "build", "-q", "--release", "-p", "wifi-sensing-introspect",
                           "--example", "dtw_batch"], cwd=ROOT)
    ours = os.path.join(ROOT, "target", "release", "examples", "dtw_batch")
    rng_seed = 7
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, n, length, dim, window) in enumerate(CASES):
            gen = subprocess.check_output([PY, "-c", (
                "import json, numpy as np; r = np.random.default_rng(%d);"
                "print(json.dumps([np.cumsum(r.normal(size=%d)).tolist() for _ in range(%d)]))"
            ) % (rng_seed + k, length * dim, n)])
            spec = {"series": json.loads(gen), "dim": dim, "window": window, "repeats": a.repeats}
            path = os.path.join(tmp, "case%d.json" % k)
            with open(path, "w") as f:
                json.dump(spec, f)
            peer = json.loads(subprocess.check_output([PY, "-c", PEER, path]))
            mine = json.loads(subprocess.check_output([ours, path]))
            agree = abs(peer["sum"] - mine["sum"]) <= 1e-9 * max(1.0, abs(peer["sum"]))
            if not agree or peer["pairs"] != mine["pairs"]:
                failed = True
            print("%-28s pairs %5d  dtaidistance %.4f s  ours %.4f s  sums %s" % (
                name, mine["pairs"], peer["best_s"], mine["best_s"], "agree" if agree else
                "DIFFER (%r vs %r)" % (peer["sum"], mine["sum"])))
            print("%s: %.1fx" % (name, peer["best_s"] / mine["best_s"]))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
