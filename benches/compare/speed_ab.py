#!/usr/bin/env python3
"""Whole-process speed of two `wifi-sensing` binaries, side by side (A/B), on the same inputs.

Usage:  python3 benches/compare/speed_ab.py A_BINARY B_BINARY INPUT_DIR [--repeats N]

Used to check that a build-setting change (for example the release profile's size settings,
`benches/compare/binary_size.sh`) keeps the hot paths' speed. INPUT_DIR must hold:
  i5300.dat    Intel 5300 records (e.g. a kit capture repeated to ~30 MB)
  nexmon.pcap  Nexmon pcap (a kit capture, its packets repeated to ~30 MB)
  ref3.csirec  a 3-node Intel 5300 session at 50 Hz, e.g.
               `wifi-sensing simulate --random 4242 --nodes reference3 --device intel5300
                --duration 60s --rate 50 -o ref3.csirec --truth ref3.truth.jsonl`
The commands: `inspect`, `convert` to `.csirec` and Parquet, `run --events --vitals`,
`run --pose` with the reference model (tract, a window every 20 ms: ~3000 windows) and
`model inspect` (model load). The two binaries
take turns, N rounds (default 5); each figure is the best round's CPU time (user + system) of
the whole process, which is less sensitive to other load than wall time (printed too).
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "..", "fixtures", "models", "wifi-pose-ref.onnx")


def commands(d, out):
    return [
        ("inspect i5300", ["inspect", f"{d}/i5300.dat"]),
        ("inspect nexmon", ["inspect", f"{d}/nexmon.pcap"]),
        ("convert i5300 -> csirec", ["convert", f"{d}/i5300.dat", "-o", f"{out}/o.csirec"]),
        ("convert i5300 -> parquet", ["convert", f"{d}/i5300.dat", "-o", f"{out}/o.parquet"]),
        ("convert nexmon -> parquet", ["convert", f"{d}/nexmon.pcap", "-o", f"{out}/p.parquet"]),
        ("run --events --vitals (3-node 60 s)",
         ["run", f"{d}/ref3.csirec", "--no-frames", "--events", "--vitals"]),
        ("run --pose ref model, hop 20 ms",
         ["run", f"{d}/ref3.csirec", "--no-frames", "--pose", MODEL, "--pose-hop", "0.02s"]),
        ("model inspect ref model", ["model", "inspect", MODEL]),
    ]


def timed(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {r.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("inputs")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        for name in ("i5300.dat", "nexmon.pcap", "ref3.csirec"):
            with open(os.path.join(args.inputs, name), "rb") as f:
                while f.read(1 << 20):
                    pass
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"{'command':38} {'A cpu s':>8} {'B cpu s':>8} {'B/A':>6} {'A wall':>7} {'B wall':>7}")
        for label, cmd in commands(args.inputs, out):
            best = {"a": (1e9, 1e9), "b": (1e9, 1e9)}
            for _ in range(args.repeats):
                for side in ("a", "b"):
                    cpu, wall = timed([getattr(args, side), "-q", *cmd])
                    best[side] = (min(best[side][0], cpu), min(best[side][1], wall))
            (ac, aw), (bc, bw) = best["a"], best["b"]
            print(f"{label:38} {ac:8.3f} {bc:8.3f} {bc / ac:6.2f} {aw:7.3f} {bw:7.3f}", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
