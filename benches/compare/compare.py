#!/usr/bin/env python3
"""Side-by-side read speed: csiread (Cython, PyPI) versus wifi-sensing, same files, same run.

Usage:  python3 benches/compare/compare.py [--kit PATH] [--repeats N] [--rounds K] [--whole-only]
                                           [--whole-mb MB] [--whole-repeats N] [--no-whole]
                                           [--profile release|profiling] [--cli PATH] [--only LABEL]

Creates a local virtual environment (benches/compare/.venv-csiread) with pinned csiread and
numpy from PyPI on first use, builds the `throughput` example in release mode, warms the page cache, then for each
format times both readers (best of N repeats, each repeat opening the file afresh; csiread's
time includes its array allocation, ours includes building every CsiFrame) and prints frames/s
and the ratio. The two readers take turns for K rounds (default 3), so a change in machine load
hits both alike; the figures are each side's best over all rounds, and the last column gives the
range of the per-round ratios. Exits non-zero if a kit file is missing.

Whole process (second table): the same kit files repeated into ~30 MB inputs (cached under
target/compare-inputs/; Intel 5300, Atheros and PicoScenes files are record streams, so copies
concatenate; a pcap keeps one global header; a CSV keeps its data lines), then csiread's in-process
`read()` (best of N, Python start-up and import not counted) against `wifi-sensing inspect FILE`
and `wifi-sensing convert FILE -o OUT.csirec` / `-o OUT.parquet` timed as whole processes from
outside (fork, exec, reading, writing, exit: what a user waits for; best of N). Ratio = csiread
time / our time, per round; the figure is the median round's. Needs the CLI, built here with
`--profile` (default release; `--profile profiling` skips LTO and builds much faster).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(HERE, ".venv-csiread")
NUMPY = "2.3.5"

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
best = 1e9; best_cpu = 1e9; frames = -1
for _ in range(n):
    t = time.perf_counter(); c = time.process_time(); r = %s; r.read()
    dt = time.perf_counter() - t; dc = time.process_time() - c
    best = min(best, dt); best_cpu = min(best_cpu, dc)
for attr in ("timestamp_low", "sec", "timestamp", "csi"):
    v = getattr(r, attr, None)
    if v is not None:
        try:
            frames = len(v); break
        except TypeError:
            pass
if frames < 0 and hasattr(r, "raw"):
    frames = len(r.raw)
print(json.dumps({"frames": frames, "best_s": best, "best_cpu_s": best_cpu, "frames_per_s": frames / best}))
"""


def venv_python():
    """The venv's python, made and filled when missing or incomplete (an interrupted install
    leaves a python without csiread)."""
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    check = "import csiread, numpy, sys; sys.exit(0 if numpy.__version__ == '%s' else 1)" % NUMPY
    if subprocess.call([py, "-c", check], stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call([py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                               "csiread==1.4.1", "numpy==" + NUMPY])
    return py


def kit_cases(kit, only=None):
    """CASES with each file's path in the kit (`None`, said on stderr, when it is missing);
    `only`: keep the cases whose label contains one of these substrings (case-insensitive)."""
    for label, rel, ctor, fmt in CASES:
        if only and not any(o.lower() in label.lower() for o in only):
            continue
        path = os.path.join(kit, rel)
        if not os.path.exists(path):
            print(f"{label:34} {rel:42} missing from the kit", file=sys.stderr)
            path = None
        yield label, rel, ctor, fmt, path


def make_big(src, dst, mb):
    """`src` repeated to at least `mb` MB in `dst` (record streams concatenate; pcap keeps one
    global header; CSV keeps data lines only)."""
    if os.path.exists(dst):
        return
    with open(src, "rb") as fh:
        data = fh.read()
    head, body = b"", data
    if src.endswith(".pcap"):
        head, body = data[:24], data[24:]
    elif src.endswith(".csv"):
        lines = [l for l in data.split(b"\n") if l.strip() and not l.startswith(b"type,")]
        body = b"\n".join(lines) + b"\n"
    reps = max(1, int(mb * 1e6 // max(1, len(body))) + 1)
    tmp = dst + ".part"
    with open(tmp, "wb") as out:
        out.write(head)
        for _ in range(reps):
            out.write(body)
    os.replace(tmp, dst)


def time_process(cmd, repeats):
    """Best wall time and best CPU time (user + system, from the child's rusage) of `cmd` over
    `repeats` runs (output discarded; a failure is fatal)."""
    best, best_cpu = 1e9, 1e9
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise SystemExit(f"{cmd} failed with status {p.returncode}")
        best = min(best, dt)
        best_cpu = min(best_cpu, ru.ru_utime + ru.ru_stime)
    return best, best_cpu


def whole_process(args, py, cli):
    big_dir = os.path.join(ROOT, "target", "compare-inputs")
    os.makedirs(big_dir, exist_ok=True)
    out_dir = tempfile.mkdtemp(prefix="compare-out-")
    print()
    print(f"whole process, ~{args.whole_mb:g} MB inputs (best of {args.whole_repeats}, median ratio of {args.rounds} rounds;")
    print("ratio = csiread read() time / ours; wall = elapsed, cpu = user + system CPU time, which a loaded machine disturbs less)")
    print(f"{'format':34} {'MB':>5} {'frames':>8} {'csiread wall/cpu s':>19} | {'inspect':>17} {'ratio':>11} | {'convert .csirec':>17} {'ratio':>11} | {'convert .parquet':>17} {'ratio':>11}")
    worst, missing = None, False
    for label, rel, ctor, fmt, path in kit_cases(args.kit, args.only):
        if path is None:
            missing = True
            continue
        big = os.path.join(big_dir, f"{args.whole_mb:g}mb-" + os.path.basename(rel))
        make_big(path, big, args.whole_mb)
        with open(big, "rb") as fh:  # warm the page cache
            while fh.read(1 << 20):
                pass
        fmt_args = ["--format", fmt] if fmt else []
        cmds = {
            "inspect": [cli, "inspect", big] + fmt_args,
            "csirec": [cli, "convert", big, "-o", os.path.join(out_dir, "o.csirec")] + fmt_args,
            "parquet": [cli, "convert", big, "-o", os.path.join(out_dir, "o.parquet")] + fmt_args,
        }
        rounds = []
        for _ in range(max(1, args.rounds)):
            p = json.loads(subprocess.check_output([py, "-c", PEER % ctor, big, str(args.whole_repeats)]))
            r = {"peer": (p["best_s"], p["best_cpu_s"]), "frames": p["frames"]}
            for k, c in cmds.items():
                r[k] = time_process(c, args.whole_repeats)
            rounds.append(r)
        def med(key, i):
            # the median round's ratio; with an even count the lower of the two middle rounds
            # (before 2026-12-07 the upper one, i.e. the better of two rounds)
            v = sorted(r["peer"][i] / r[key][i] for r in rounds)
            return v[(len(v) - 1) // 2]
        cols = []
        for k in ["inspect", "csirec", "parquet"]:
            bw = min(r[k][0] for r in rounds)
            bc = min(r[k][1] for r in rounds)
            cols.append(f"{bw:>8.3f}/{bc:<8.3f} {med(k, 0):>4.1f}x/{med(k, 1):<4.1f}x")
        pw = min(r["peer"][0] for r in rounds)
        pc = min(r["peer"][1] for r in rounds)
        mb = os.path.getsize(big) / 1e6
        print(f"{label:34} {mb:>5.1f} {rounds[0]['frames']:>8} {pw:>9.3f}/{pc:<9.3f} | " + " | ".join(cols))
        w = min(med("inspect", 0), med("csirec", 0))
        worst = w if worst is None else min(worst, w)
    shutil.rmtree(out_dir, ignore_errors=True)
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    return worst, missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kit", default=os.environ.get("WIFI_SENSING_KIT", os.path.join(ROOT, "..", "shared", "captures")))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-process table")
    ap.add_argument("--whole-only", action="store_true", help="only the whole-process table")
    ap.add_argument("--only", action="append", metavar="LABEL",
                    help="only the formats whose label contains LABEL (case-insensitive; repeatable), "
                         "for example --only 'PicoScenes (IWL5300)'")
    ap.add_argument("--whole-mb", type=float, default=30.0, help="size of the whole-process inputs")
    ap.add_argument("--whole-repeats", type=int, default=3)
    ap.add_argument("--cli", help="the wifi-sensing binary to time (default: build it with --profile)")
    ap.add_argument("--profile", default="release",
                    help="cargo profile of the CLI built for the whole-process table (default release; "
                         "`profiling` builds much faster, without LTO)")
    args = ap.parse_args()
    py = venv_python()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    cli = args.cli or os.path.join(target, args.profile, "wifi-sensing")
    if not args.no_whole and not args.cli:
        subprocess.check_call(["cargo", "build", "--profile", args.profile, "--quiet", "-p", "wifi-sensing-cli"], cwd=ROOT)
    if args.whole_only:
        _, missing = whole_process(args, py, cli)
        sys.exit(1 if missing else 0)
    subprocess.check_call(["cargo", "build", "--release", "--quiet", "--example", "throughput"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ours_bin = os.path.join(target, "release", "examples", "throughput")
    print(f"{'format':34} {'file':42} {'frames':>7} {'csiread f/s':>12} {'ours f/s':>12} {'ratio':>7}  per round")
    failed = False
    for label, rel, ctor, fmt, path in kit_cases(args.kit, args.only):
        if path is None:
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
    if not args.no_whole:
        _, missing = whole_process(args, py, cli)
        failed = failed or missing
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
