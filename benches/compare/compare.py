#!/usr/bin/env python3
"""Side-by-side read speed: csiread (Cython, PyPI) versus wifi-sensing, same files, same run.

Usage:  python3 benches/compare/compare.py [--kit PATH] [--repeats N] [--rounds K]

Creates a local virtual environment (benches/compare/.venv) with csiread and numpy from PyPI on
first use, builds the `throughput` example in release mode, warms the page cache, then for each
format times both readers (best of N repeats, each repeat opening the file afresh; csiread's
time includes its array allocation, ours includes building every CsiFrame) and prints frames/s
and the ratio. The two readers take turns for K rounds (default 3), so a change in machine load
hits both alike; the figures are each side's best over all rounds, and the last column gives the
range of the per-round ratios. Exits non-zero if a kit file is missing.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(HERE, ".venv")

# (label, kit-relative path, csiread constructor source, our format name or None to detect).
# csiread's ESP32 reader fails on the ESP32-CSI-Tool header line (FORMATS.md D9), so that case
# runs both readers on a copy without the header line.
CASES = [
    ("Intel 5300", "intel5300/sample_0x5_64_3000.dat",
     "csiread.Intel(F, nrxnum=3, ntxnum=3, if_report=False)", None),
    ("Intel 5300", "intel5300/los_40.dat",
     "csiread.Intel(F, nrxnum=3, ntxnum=3, if_report=False)", None),
    ("Nexmon int16 (bcm4339)", "nexmon/example_4339.pcap",
     "csiread.Nexmon(F, chip='4339', bw=80, if_report=False)", None),
    ("Nexmon packed float (bcm4366c0)", "nexmon/example_4366c0.pcap",
     "csiread.Nexmon(F, chip='4366c0', bw=80, if_report=False)", None),
    ("Atheros", "atheros/ath_csi_1.dat",
     "csiread.Atheros(F, nrxnum=3, ntxnum=2, if_report=False)", None),
    ("ESP32 CSV", "esp32/example_fast2_100hz_pitraffic.csv",
     "csiread.ESP32(F, if_report=False)", None),
    ("PicoScenes (QCA9300)", "picoscenes/rx_by_qca9300.csi",
     "csiread.Picoscenes(F, {'CSI': [56, 3, 1]}, if_report=False)", None),
    ("PicoScenes (IWL5300)", "picoscenes/rx_by_iwl5300.csi",
     "csiread.Picoscenes(F, {'CSI': [30, 3, 2]}, if_report=False)", None),
]

PEER = r"""
import csiread, json, sys, time
F = sys.argv[1]; n = int(sys.argv[2])
best = 1e9; frames = -1
for _ in range(n):
    t = time.perf_counter(); r = %s; r.read(); dt = time.perf_counter() - t
    best = min(best, dt)
for attr in ("timestamp_low", "sec", "timestamp", "csi"):
    v = getattr(r, attr, None)
    if v is not None:
        try:
            frames = len(v); break
        except TypeError:
            pass
if frames < 0 and hasattr(r, "raw"):
    frames = len(r.raw)
print(json.dumps({"frames": frames, "best_s": best, "frames_per_s": frames / best}))
"""


def venv_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "csiread==1.4.1", "numpy"])
    return py


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kit", default=os.environ.get("WIFI_SENSING_KIT", os.path.join(ROOT, "..", "shared", "captures")))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    py = venv_python()
    subprocess.check_call(["cargo", "build", "--release", "--quiet", "--example", "throughput"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ours_bin = os.path.join(target, "release", "examples", "throughput")
    print(f"{'format':34} {'file':42} {'frames':>7} {'csiread f/s':>12} {'ours f/s':>12} {'ratio':>7}  per round")
    failed = False
    for label, rel, ctor, fmt in CASES:
        path = os.path.join(args.kit, rel)
        if not os.path.exists(path):
            print(f"{label:34} {rel:42} missing from the kit", file=sys.stderr)
            failed = True
            continue
        if rel.endswith(".csv"):
            with open(path, "rb") as fh:
                lines = fh.read().split(b"\n")
            tmp = tempfile.NamedTemporaryFile(suffix=".csv", delete=False)
            tmp.write(b"\n".join(l for l in lines if not l.startswith(b"type,")))
            tmp.close()
            path = tmp.name
        with open(path, "rb") as fh:  # warm the page cache
            fh.read()
        cmd = [ours_bin, path, str(args.repeats)] + ([fmt] if fmt else [])
        rounds = []
        for _ in range(max(1, args.rounds)):
            p = json.loads(subprocess.check_output([py, "-c", PEER % ctor, path, str(args.repeats)]))
            o = json.loads(subprocess.check_output(cmd))
            rounds.append((p, o))
        peer = max((p for p, _ in rounds), key=lambda r: r["frames_per_s"])
        ours = max((o for _, o in rounds), key=lambda r: r["frames_per_s"])
        ratio = ours["frames_per_s"] / peer["frames_per_s"]
        per_round = [o["frames_per_s"] / p["frames_per_s"] for p, o in rounds]
        spread = f"{min(per_round):.2f}-{max(per_round):.2f}x"
        note = ""
        if peer["frames"] != ours["frames"]:
            note = f"  (frame counts differ: csiread {peer['frames']}, ours {ours['frames']})"
        print(f"{label:34} {rel:42} {ours['frames']:>7} {peer['frames_per_s']:>12.3g} {ours['frames_per_s']:>12.3g} {ratio:>6.2f}x  {spread}{note}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
