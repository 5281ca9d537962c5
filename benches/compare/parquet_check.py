#!/usr/bin/env python3
"""Independent check of the Parquet output: three other engines read it back, values must match
the capture kit's golden files.

Usage:  python3 benches/compare/parquet_check.py [--kit PATH] [--bin PATH]

Creates a local virtual environment (benches/compare/.venv-data) with pinned pyarrow, duckdb,
polars and numpy from PyPI on first use, builds the `wifi-sensing` binary (debug profile, as
`cargo test` does) unless --bin names one, then for every golden file of the kit
(`golden/<dir>/<capture>.jsonl`):

1. runs `wifi-sensing convert <capture> -o <tmp>/x.parquet`;
2. reads the frames back with pyarrow, with duckdb (SQL over read_parquet) and with polars;
3. checks, in each engine's result, the frame count, every frame's shape and every CSI value
   (`csi_re` / `csi_im` against the golden `re` / `im`: equal once the golden value is rounded to
   float32, the type the file stores), and the file metadata (schema version, source file).

It then converts the whole kit as one Hive-partitioned dataset (`convert KIT/<dirs> -o DIR/`),
checks that a second run converts nothing (content-hash manifest), that duckdb and polars
count, over the dataset, the same frames per source file as the golden files, and that every
single-file conversion named in its metadata (`wifi_sensing.source_xxh3_128`) the content hash
the manifest gives its capture.

Last, `run` with `--events` over the kit's RuView recording (host clock, two nodes, ADR-018
vitals): the `analyses` and `aux` tables have the `time_utc` and `clock` columns of the `frames`
table (same types; `time_utc` equal to `timestamp_ns` on the host clock, null on others) in
pyarrow and polars, docs/parquet.md's DuckDB ASOF join of analyses to frames runs, and the Arrow
IPC streams of `run --events --output-format arrow --arrow-aux FILE --arrow-analyses FILE2` hold
every frame, every aux row and every analysis row of the Parquet tables.

Exits non-zero on any mismatch or missing file.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(HERE, ".venv-data")
PINS = ["pyarrow==26.0.1", "duckdb==2.0.1", "polars==2.1.0", "numpy==2.3.5"]


def venv_python():
    py = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, "pins.txt")
    want = "\n".join(PINS)
    if not (os.path.exists(py) and os.path.exists(stamp) and open(stamp).read() == want):
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([py, "-m", "pip", "install", "-q"] + PINS)
        with open(stamp, "w") as f:
            f.write(want)
    return py


def load_golden(path):
    with open(path) as f:
        lines = [json.loads(l) for l in f if l.strip()]
    return lines[0], lines[1:]


class Checker:
    def __init__(self):
        self.failures = []

    def fail(self, what):
        self.failures.append(what)
        if len(self.failures) <= 50:
            print("MISMATCH: " + what, file=sys.stderr)

    def compare(self, engine, name, golden, shapes, re, im):
        """shapes: list of (rx, tx, sc); re / im: list of float32 numpy arrays, one per frame."""
        import numpy as np

        if len(shapes) != len(golden):
            self.fail(f"{name} [{engine}]: {len(shapes)} frames, golden has {len(golden)}")
            return 0
        bad = 0
        for i, g in enumerate(golden):
            gc = g["csi"]
            if list(shapes[i]) != list(gc["shape"]):
                self.fail(f"{name} [{engine}] frame {i}: shape {shapes[i]} != golden {gc['shape']}")
                bad += 1
                continue
            for part, ours, theirs in (("re", re[i], gc["re"]), ("im", im[i], gc["im"])):
                t = np.asarray(theirs, dtype=np.float64).astype(np.float32)
                o = np.asarray(ours, dtype=np.float32)
                if o.shape != t.shape or not np.array_equal(o, t):
                    k = int(np.argmax(o != t)) if o.shape == t.shape else -1
                    self.fail(f"{name} [{engine}] frame {i}: csi_{part} differs (first at {k})")
                    bad += 1
                    break
            if bad > 3:
                break
        return bad


def read_pyarrow(path):
    import numpy as np
    import pyarrow.parquet as pq

    t = pq.read_table(path, columns=["n_rx", "n_tx", "n_subcarriers", "csi_re", "csi_im"])
    shapes = list(zip(t["n_rx"].to_pylist(), t["n_tx"].to_pylist(), t["n_subcarriers"].to_pylist()))
    re = [np.asarray(x.values) for x in t["csi_re"].combine_chunks()]
    im = [np.asarray(x.values) for x in t["csi_im"].combine_chunks()]
    meta = pq.read_metadata(path).metadata or {}
    return shapes, re, im, {k.decode(): v.decode() for k, v in meta.items()}


def read_duckdb(con, path):
    rows = con.execute(
        "SELECT n_rx, n_tx, n_subcarriers, csi_re, csi_im FROM read_parquet(?) ORDER BY file_row_number",
        [path],
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows], [r[3] for r in rows], [r[4] for r in rows]


def read_polars(path):
    import polars as pl

    df = pl.read_parquet(path, columns=["n_rx", "n_tx", "n_subcarriers", "csi_re", "csi_im"])
    shapes = list(zip(df["n_rx"].to_list(), df["n_tx"].to_list(), df["n_subcarriers"].to_list()))
    return shapes, df["csi_re"].to_list(), df["csi_im"].to_list()


TIME_COLUMNS = ("time_utc", "clock")


def check_time_columns(ck, name, table, frames_schema):
    """`table` (pyarrow) has the frames' time columns, with values that follow the clock."""
    import pyarrow.compute as pc

    for col in TIME_COLUMNS:
        if col not in table.column_names:
            ck.fail(f"{name}: no column {col}")
            return
        if table.schema.field(col).type != frames_schema.field(col).type:
            ck.fail(f"{name}: {col} is {table.schema.field(col).type}, frames have {frames_schema.field(col).type}")
    clocks = table["clock"].to_pylist()
    utc = pc.cast(table["time_utc"], "int64").to_pylist()
    for i, (c, u, ts) in enumerate(zip(clocks, utc, table["timestamp_ns"].to_pylist())):
        if c not in ("host", "device", "simulated", "none"):
            ck.fail(f"{name} row {i}: clock {c!r}")
            break
        if (c == "host" and u != ts) or (c != "host" and u is not None):
            ck.fail(f"{name} row {i}: time_utc {u} with clock {c} and timestamp_ns {ts}")
            break


def check_run_tables(ck, bin_, kit, tmp, con):
    """`run --events` over the RuView recording: time columns of the analyses and aux tables,
    the docs' ASOF join, and the Arrow IPC streams with --arrow-aux and --arrow-analyses."""
    import polars as pl
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    cap = os.path.join(kit, "ruview_esp32", "pretrain-1775182186.csi.jsonl")
    out = os.path.join(tmp, "run.parquet")
    r = subprocess.run([bin_, "-q", "run", cap, "--events", "-o", out], capture_output=True, text=True)
    if r.returncode != 0:
        ck.fail(f"run --events failed: {r.stderr.strip()}")
        return
    frames = pq.read_table(out)
    analyses = pq.read_table(out[: -len(".parquet")] + ".analyses.parquet")
    aux = pq.read_table(out[: -len(".parquet")] + ".aux.parquet")
    if analyses.num_rows == 0 or aux.num_rows == 0:
        ck.fail(f"run --events: {analyses.num_rows} analyses, {aux.num_rows} aux rows")
        return
    if set(frames["clock"].to_pylist()) != {"host"}:
        ck.fail(f"RuView frames: clocks {set(frames['clock'].to_pylist())}")
    for name, t in (("frames", frames), ("analyses", analyses), ("aux", aux)):
        check_time_columns(ck, f"run {name}", t, frames.schema)
    if set(analyses["clock"].to_pylist()) != {"host"}:
        ck.fail(f"analyses: clocks {set(analyses['clock'].to_pylist())}")
    # polars sees an instant in UTC
    df = pl.read_parquet(out[: -len(".parquet")] + ".analyses.parquet", columns=list(TIME_COLUMNS))
    if df.schema["time_utc"] != pl.Datetime("ns", "UTC"):
        ck.fail(f"polars: analyses time_utc is {df.schema['time_utc']}")
    # the docs' join, with OUT replaced
    text = open(os.path.join(ROOT, "docs", "parquet.md")).read()
    sql = doc_block(text, "join analyses to frames", "sql").replace("OUT.", out[: -len("parquet")])
    try:
        rows = con.execute(sql).fetchall()
        per_node = sum(1 for n in analyses["node_id"].to_pylist() if n is not None)
        # every per-node analysis has a frame of its node at or before it
        if not rows or len(rows) != per_node:
            ck.fail(f"docs/parquet.md ASOF join: {len(rows)} rows for {per_node} per-node analyses")
        elif any(r[2] is None for r in rows):
            ck.fail("docs/parquet.md ASOF join: a row without its frame's timestamp")
    except Exception as e:  # noqa: BLE001 (any engine error fails the check)
        ck.fail(f"docs/parquet.md ASOF join: {e}")
    # the Arrow IPC streams: frames on stdout, aux and analyses in the --arrow-aux and
    # --arrow-analyses files, as in the Parquet tables
    aux_file = os.path.join(tmp, "aux.arrows")
    analyses_file = os.path.join(tmp, "analyses.arrows")
    r = subprocess.run([bin_, "-q", "run", cap, "--events", "--output-format", "arrow", "--arrow-aux", aux_file,
                        "--arrow-analyses", analyses_file], capture_output=True)
    if r.returncode != 0:
        ck.fail(f"run --output-format arrow --arrow-aux --arrow-analyses failed: {r.stderr.decode().strip()}")
        return
    stream = ipc.open_stream(r.stdout).read_all()
    side = ipc.open_stream(aux_file).read_all()
    side_analyses = ipc.open_stream(analyses_file).read_all()
    for name, got, want in (("frames", stream, frames), ("aux", side, aux), ("analyses", side_analyses, analyses)):
        if not got.equals(want):
            ck.fail(f"Arrow stream {name}: differs from the Parquet table ({got.num_rows} rows, {want.num_rows})")
        h = (got.schema.metadata or {}).get(b"wifi_sensing.source_xxh3_128")
        if h != (frames.schema.metadata or {}).get(b"wifi_sensing.source_xxh3_128") or h is None:
            ck.fail(f"Arrow stream {name}: content hash {h!r}")
    print(f"run --events: {frames.num_rows} frames, {analyses.num_rows} analyses, {aux.num_rows} aux rows; "
          "time_utc / clock as in the frames, ASOF join ran, Arrow streams hold the same rows")


def doc_block(text, heading, lang):
    """The first ```lang block after `heading` in a Markdown text."""
    rest = text.split(heading, 1)[1]
    return rest.split("```" + lang + "\n", 1)[1].split("```", 1)[0]


def run_doc_snippets(ck, cwd, con):
    """docs/datasets.md's DuckDB and Polars snippets, as written, over the kit's dataset (the
    folder is named `dataset` there too): each statement must run and return rows."""
    text = open(os.path.join(ROOT, "docs", "datasets.md")).read()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        failures = len(ck.failures)
        # comments first (they may hold a `;`; no query of the block has `--` in a string)
        sql = "\n".join(l.split("--", 1)[0].rstrip() for l in doc_block(text, "## DuckDB", "sql").splitlines())
        for stmt in sql.split(";"):
            body = "\n".join(l for l in stmt.splitlines() if l.strip()).strip()
            if not body:
                continue
            try:
                rows = con.execute(body).fetchall()
                if body.upper().startswith("SELECT") and not rows:
                    ck.fail(f"docs/datasets.md DuckDB: no rows from {body.splitlines()[-1]!r}")
            except Exception as e:  # noqa: BLE001 (any engine error fails the check)
                ck.fail(f"docs/datasets.md DuckDB: {e} in {body.splitlines()[0]!r}")
        code = doc_block(text, "## Polars", "python")
        scope = {}
        try:
            exec(compile(code, "docs/datasets.md (Polars)", "exec"), scope)
            if scope["per_node"].height == 0 or scope["amplitude"].shape[0] == 0:
                ck.fail("docs/datasets.md Polars: empty results")
        except Exception as e:  # noqa: BLE001
            ck.fail(f"docs/datasets.md Polars: {type(e).__name__}: {e}")
        if len(ck.failures) == failures:
            print("docs/datasets.md: the DuckDB and Polars snippets ran over the dataset")
    finally:
        os.chdir(here)


def inner(args):
    import duckdb
    import polars as pl

    kit = os.path.abspath(args.kit)
    pairs = sorted(glob.glob(os.path.join(kit, "golden", "**", "*.jsonl"), recursive=True))
    if not pairs:
        print(f"no golden files under {kit}/golden", file=sys.stderr)
        return 1
    ck = Checker()
    con = duckdb.connect()
    tmp = tempfile.mkdtemp(prefix="parquet_check_")
    golden_counts = {}
    hashes = {}
    total_frames = 0
    try:
        print(f"{'capture':58} {'frames':>7}  pyarrow duckdb polars")
        for g in pairs:
            rel = os.path.relpath(g, os.path.join(kit, "golden"))[: -len(".jsonl")]
            cap = os.path.join(kit, rel)
            if not os.path.exists(cap):
                ck.fail(f"{rel}: capture missing")
                continue
            header, frames = load_golden(g)
            golden_counts[cap] = len(frames)
            hashes[cap] = None
            out = os.path.join(tmp, "x.parquet")
            r = subprocess.run([args.bin, "-q", "convert", cap, "-o", out], capture_output=True, text=True)
            if r.returncode != 0:
                ck.fail(f"{rel}: convert failed: {r.stderr.strip()}")
                continue
            shapes, re, im, meta = read_pyarrow(out)
            if meta.get("wifi_sensing.schema") != "wifi-sensing/frames/1":
                ck.fail(f"{rel}: schema metadata {meta.get('wifi_sensing.schema')!r}")
            if meta.get("wifi_sensing.source") != cap:
                ck.fail(f"{rel}: source metadata {meta.get('wifi_sensing.source')!r} != {cap!r}")
            hashes[cap] = meta.get("wifi_sensing.source_xxh3_128")
            res = [ck.compare("pyarrow", rel, frames, shapes, re, im)]
            res.append(ck.compare("duckdb", rel, frames, *read_duckdb(con, out)))
            res.append(ck.compare("polars", rel, frames, *read_polars(out)))
            total_frames += len(frames)
            print(f"{rel:58} {len(frames):7}  " + "  ".join("ok     " if b == 0 else "FAIL   " for b in res))

        # the whole kit as one dataset, twice
        ds = os.path.join(tmp, "dataset") + "/"
        dirs = sorted({os.path.join(kit, os.path.relpath(c, kit).split(os.sep)[0]) for c in golden_counts})
        r = subprocess.run([args.bin, "convert", *dirs, "-o", ds], capture_output=True, text=True)
        # kit folders hold a few files without golden files (sidecars), which may fail: only
        # the golden ones are checked below
        print(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "(no log)")
        r2 = subprocess.run([args.bin, "convert", *dirs, "-o", ds], capture_output=True, text=True)
        if "0 captures converted" not in r2.stderr:
            ck.fail(f"second dataset run converted again: {r2.stderr.strip().splitlines()[-1:]}")
        pattern = os.path.join(ds, "frames", "**", "*.parquet")
        got = dict(
            con.execute(
                "SELECT source_file, count(*) FROM read_parquet(?, hive_partitioning = true) GROUP BY 1",
                [pattern],
            ).fetchall()
        )
        pl_counts = (
            pl.scan_parquet(pattern, hive_partitioning=True)
            .group_by("source_file")
            .agg(pl.len().alias("n"))
            .collect()
        )
        got_pl = dict(zip(pl_counts["source_file"].to_list(), pl_counts["n"].to_list()))
        for cap, n in golden_counts.items():
            if got.get(cap, 0) != n:
                ck.fail(f"dataset [duckdb]: {cap} has {got.get(cap, 0)} frames, golden {n}")
            if got_pl.get(cap, 0) != n:
                ck.fail(f"dataset [polars]: {cap} has {got_pl.get(cap, 0)} frames, golden {n}")
        nodes = con.execute(
            "SELECT count(DISTINCT node_id), count(DISTINCT date) FROM read_parquet(?, hive_partitioning = true)",
            [pattern],
        ).fetchone()
        print(f"dataset: {sum(got.values())} frames from {len(got)} captures, {nodes[0]} node ids, {nodes[1]} dates")
        # each single-file conversion names the content hash the manifest gives its capture
        with open(os.path.join(ds, "_manifest.jsonl")) as f:
            manifest = {e["source_file"]: e["xxh3_128"] for e in map(json.loads, f)}
        for cap, h in hashes.items():
            if h is None or h != manifest.get(cap):
                ck.fail(f"{cap}: wifi_sensing.source_xxh3_128 {h!r}, manifest {manifest.get(cap)!r}")
        run_doc_snippets(ck, tmp, con)
        check_run_tables(ck, args.bin, kit, tmp, con)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if ck.failures:
        print(f"FAILED: {len(ck.failures)} mismatches", file=sys.stderr)
        return 1
    print(f"OK: {len(golden_counts)} captures, {total_frames} frames, every value equal in pyarrow, duckdb and polars; "
          "dataset counts and content hashes equal; run tables checked")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kit", default=os.environ.get("WIFI_SENSING_KIT", os.path.join(ROOT, "..", "shared", "captures")))
    ap.add_argument("--bin", default=None, help="the wifi-sensing binary (default: build the debug one)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    py = venv_python()
    if args.bin is None:
        subprocess.check_call(["cargo", "build", "--quiet", "-p", "wifi-sensing-cli"], cwd=ROOT)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        args.bin = os.path.join(target, "debug", "wifi-sensing")
    return subprocess.call([py, os.path.abspath(__file__), "--inner", "--kit", args.kit, "--bin", os.path.abspath(args.bin)])


if __name__ == "__main__":
    sys.exit(main())
