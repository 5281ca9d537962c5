#!/usr/bin/env python3
"""Side by side: nolds 0.6.3 (lyap_r and corr_dim, fit='poly') versus wifi-sensing's dynamics module,
same series, same parameters, same run.

Usage:  python3 benches/compare/lyap.py [--repeats N] [--oracle PATH]

Creates its own virtual environment (benches/compare/.venv/lyap) with nolds 0.6.3 and numpy 2.2.6
from PyPI on first use. nolds 0.6.3 does not import as a package on Python 3.11 (its __init__ pulls
in a module that fails there), so its measures.py is loaded directly as a file. Builds the
`lyap_compare` example of wifi-sensing-introspect in release mode, runs both on the nine oracle
series (fixtures/oracles/lyap_vectors.json) with the oracle's parameter sets, prints both values,
their relative difference, the best-of-N time of each side, and the speed ratio of every case and
of all cases together as `NAME: R.Rx` (nolds time / ours). Exits non-zero if a value differs by
more than 1e-9 x max(1, |value|) or a divergence curve does.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(HERE, ".venv", "lyap")

PEER = r"""
import importlib.util, json, sys, time, warnings, glob, os
import numpy as np
warnings.simplefilter("ignore")
site = glob.glob(os.path.join(sys.prefix, "lib", "python3*", "site-packages", "nolds", "measures.py"))[0]
spec = importlib.util.spec_from_file_location("nolds_measures", site)
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
jobs = json.load(open(sys.argv[1])); n = int(sys.argv[2]); out = []
for j in jobs:
    x = np.asarray(j["x"], dtype=np.float64); best = 1e9; div = []
    for _ in range(n):
        t = time.perf_counter()
        if j["kind"] == "lyap_r":
            v, (ks, dt, _) = m.lyap_r(x, emb_dim=j["emb_dim"], lag=j["lag"], min_tsep=j["min_tsep"],
                                      tau=j["tau"], trajectory_len=j["trajectory_len"], fit="poly",
                                      fit_offset=j["fit_offset"], debug_data=True)
            div = [float(d) for d in dt]
        else:
            v = m.corr_dim(x, j["emb_dim"], lag=j["lag"], fit="poly")
        best = min(best, time.perf_counter() - t)
    v = float(v)
    out.append({"name": j["name"], "value": v if np.isfinite(v) else str(v), "div_traj": div, "best_s": best})
print(json.dumps(out))
"""


def venv_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "nolds==0.6.3", "numpy==2.2.6", "future==1.0.0"])
    return py


def num(v):
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "inf"))


def close(a, b):
    a, b = num(a), num(b)
    if a != a or b != b or abs(a) == float("inf") or abs(b) == float("inf"):
        return a == b or (a != a and b != b)
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--oracle", default=os.path.join(ROOT, "fixtures", "oracles", "lyap_vectors.json"))
    args = ap.parse_args()
    py = venv_python()
    subprocess.check_call(["cargo", "build", "--release", "--quiet", "-p", "wifi-sensing-introspect",
                           "--example", "lyap_compare"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ours_bin = os.path.join(target, "release", "examples", "lyap_compare")
    oracle = json.load(open(args.oracle))
    jobs = []
    for name, s in oracle["series"].items():
        x = s["x"]
        tau = s["meta"]["tau"]
        for key in ("lyap_r_tuned", "lyap_r_uniform", "lyap_r_uniform_first500", "lyap_r_defaults"):
            r = s["results"][key]
            p = dict(r["params"])
            p.update(r.get("auto_params_chosen", {}))
            jobs.append({"name": f"{name}/{key}", "kind": "lyap_r", "x": x[: r["n"]],
                         "emb_dim": p.get("emb_dim", 10), "lag": p.get("lag", 1),
                         "min_tsep": p.get("min_tsep", 0), "trajectory_len": p.get("trajectory_len", 20),
                         "fit_offset": p.get("fit_offset", 0), "tau": tau})
        for key, m in (("corr_dim_emb2", 2), ("corr_dim_emb5", 5)):
            jobs.append({"name": f"{name}/{key}", "kind": "corr_dim", "x": x, "emb_dim": m, "lag": 1})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(jobs, fh)
        path = fh.name
    try:
        peer = json.loads(subprocess.check_output([py, "-c", PEER, path, str(args.repeats)]))
        ours = json.loads(subprocess.check_output([ours_bin, path, str(args.repeats)]))
    finally:
        os.unlink(path)
    failed = False
    totals = {}
    print(f"{'case':45} {'nolds':>22} {'ours':>22} {'rel diff':>9} {'nolds ms':>9} {'ours ms':>8}  ratio")
    for j, p, o in zip(jobs, peer, ours):
        ok = close(o["value"], p["value"])
        if j["kind"] == "lyap_r":
            ok = ok and len(p["div_traj"]) == len(o["div_traj"]) and all(
                close(a, b) for a, b in zip(o["div_traj"], p["div_traj"]))
        pv, ov = num(p["value"]), num(o["value"])
        rel = abs(ov - pv) / max(1.0, abs(pv)) if abs(pv) != float("inf") and pv == pv else 0.0
        ratio = p["best_s"] / o["best_s"]
        t = totals.setdefault(j["kind"], [0.0, 0.0])
        t[0] += p["best_s"]
        t[1] += o["best_s"]
        flag = "" if ok else "   MISMATCH"
        failed |= not ok
        print(f"{j['name']:45} {pv:>22.15g} {ov:>22.15g} {rel:>9.1e} {1e3 * p['best_s']:>9.2f} "
              f"{1e3 * o['best_s']:>8.3f}  {j['name']}: {ratio:.1f}x{flag}")
    for kind, (tp, to) in totals.items():
        print(f"{kind} (all cases, total time): {tp / to:.1f}x")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
