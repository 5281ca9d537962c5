//! Parquet / Arrow output of the `wifi-sensing` binary: single files, datasets, IPC streams.
//! Values are checked against the JSON Lines output of the same capture (which the golden tests
//! of the readers pin down).

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

mod common;
use common::{fixture, parse_lines as jsonl, run, run_ok, tmp};

/// Every batch of a Parquet file, and its key-value metadata.
fn read_parquet(path: &Path) -> (Vec<RecordBatch>, Vec<(String, String)>) {
    let f = std::fs::File::open(path).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let kv = b
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|v| {
            v.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let batches = b.build().unwrap().map(|r| r.unwrap()).collect();
    (batches, kv)
}

fn f32s(a: &dyn Array) -> Vec<f32> {
    a.as_primitive::<Float32Type>().values().to_vec()
}

/// Checks the frames of `batches` against the JSON Lines frames `lines`, field by field.
fn assert_frames_match(batches: &[RecordBatch], lines: &[Value], source: &str) {
    let frames: Vec<&Value> = lines.iter().filter(|l| l["type"] == "frame").collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, frames.len());
    let mut i = 0;
    for b in batches {
        let col = |n: &str| b.column_by_name(n).unwrap_or_else(|| panic!("column {n}"));
        let ts = col("timestamp_ns").as_primitive::<Int64Type>();
        let node = col("node_id").as_primitive::<UInt32Type>();
        let n_sc = col("n_subcarriers").as_primitive::<UInt32Type>();
        let re = col("csi_re").as_list::<i32>();
        let im = col("csi_im").as_list::<i32>();
        let meta = col("meta").as_string::<i32>();
        let src = col("source_file").as_string::<i32>();
        let fmt = col("format").as_string::<i32>();
        let clock = col("clock").as_string::<i32>();
        let rssi = col("rssi_dbm").as_primitive::<Float32Type>();
        let mac = col("mac").as_string::<i32>();
        for r in 0..b.num_rows() {
            let l = frames[i];
            assert_eq!(ts.value(r), l["timestamp_ns"].as_i64().unwrap(), "row {i}");
            assert_eq!(i64::from(node.value(r)), l["node_id"].as_i64().unwrap());
            assert_eq!(i64::from(n_sc.value(r)), l["shape"][2].as_i64().unwrap());
            assert_eq!(src.value(r), source);
            assert_eq!(fmt.value(r), l["format"].as_str().unwrap());
            assert_eq!(clock.value(r), l["clock"].as_str().unwrap());
            match l["mac"].as_str() {
                Some(m) => assert_eq!(mac.value(r), m),
                None => assert!(mac.is_null(r)),
            }
            match l["rssi_dbm"].as_f64() {
                Some(x) => assert_eq!(rssi.value(r), x as f32),
                None => assert!(rssi.is_null(r)),
            }
            let want_re: Vec<f32> = l["csi_re"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let want_im: Vec<f32> = l["csi_im"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(f32s(re.value(r).as_ref()), want_re, "csi_re of row {i}");
            assert_eq!(f32s(im.value(r).as_ref()), want_im, "csi_im of row {i}");
            let m: Value = serde_json::from_str(meta.value(r)).unwrap();
            assert_eq!(m, l["meta"], "meta of row {i}");
            i += 1;
        }
    }
}

/// Checks the rows of an `aux` or `analyses` table (`batches`) against the JSON Lines records
/// `want`: type, timestamp and data, in order, and no more rows.
fn assert_records_match(batches: &[RecordBatch], want: &[&Value]) {
    let mut i = 0;
    for b in batches {
        let kind = b.column_by_name("type").unwrap().as_string::<i32>();
        let ts = b
            .column_by_name("timestamp_ns")
            .unwrap()
            .as_primitive::<Int64Type>();
        let data = b.column_by_name("data").unwrap().as_string::<i32>();
        for r in 0..b.num_rows() {
            assert_eq!(kind.value(r), want[i]["type"].as_str().unwrap(), "row {i}");
            assert_eq!(
                ts.value(r),
                want[i]["timestamp_ns"].as_i64().unwrap(),
                "row {i}"
            );
            let v: Value = serde_json::from_str(data.value(r)).unwrap();
            assert_eq!(v, want[i]["data"], "row {i}");
            i += 1;
        }
    }
    assert_eq!(i, want.len());
}

#[test]
fn convert_to_parquet_keeps_every_frame_and_value() {
    let d = tmp("convert");
    for cap in [
        "intel5300/example.dat",
        "nexmon/40mhz_1600085286.pcap",
        "picoscenes/picoscenes_iwl5300_example.csi",
        "esp32/example_csi.csv",
    ] {
        let input = fixture(cap);
        let out = d.join("x.parquet");
        run_ok(&["-q", "convert", &input, "-o", out.to_str().unwrap()]);
        let lines = jsonl(&run_ok(&["-q", "convert", &input, "-o", "-"]).stdout);
        let (batches, kv) = read_parquet(&out);
        assert_frames_match(&batches, &lines, &input);
        let get = |k: &str| kv.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone());
        assert_eq!(
            get("wifi_sensing.schema").as_deref(),
            Some("wifi-sensing/frames/1")
        );
        assert_eq!(get("wifi_sensing.source").as_deref(), Some(input.as_str()));
        let cfg: Value = serde_json::from_str(&get("wifi_sensing.config").unwrap()).unwrap();
        assert_eq!(cfg["command_line"][2], input.as_str(), "{cfg}");
        // frames only: no sibling tables
        assert!(!d.join("x.aux.parquet").exists());
    }
}

#[test]
fn every_compression_keeps_every_value() {
    let d = tmp("codecs");
    let input = fixture("nexmon/40mhz_1600085286.pcap");
    let lines = jsonl(&run_ok(&["-q", "convert", &input, "-o", "-"]).stdout);
    for codec in ["zstd", "zstd:1", "zstd:19", "lz4", "snappy", "none"] {
        let out = d.join(format!("{}.parquet", codec.replace(':', "_")));
        let o = out.to_str().unwrap();
        run_ok(&["-q", "convert", &input, "-o", o, "--compression", codec]);
        let (batches, _) = read_parquet(&out);
        assert_frames_match(&batches, &lines, &input);
    }
    // bad values and non-Parquet outputs are usage errors
    for (codec, out) in [
        ("zstd:0", "x.parquet"),
        ("lz4:3", "x.parquet"),
        ("gzip", "x.parquet"),
        ("lz4", "x.csirec"),
    ] {
        let o = d.join(out);
        let r = run(&[
            "-q",
            "convert",
            &input,
            "-o",
            o.to_str().unwrap(),
            "--compression",
            codec,
        ]);
        assert_eq!(r.status.code(), Some(2), "{codec} {out}");
    }
}

#[test]
fn non_csi_records_go_to_the_aux_table_and_stale_siblings_are_removed() {
    let d = tmp("aux");
    let input = fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let stale = d.join("r.analyses.parquet");
    std::fs::write(&stale, b"old").unwrap();
    let out = d.join("r.parquet");
    let said = run_ok(&["run", &input, "-o", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(
        err.contains("r.analyses.parquet, left by an earlier run into"),
        "the removal is said: {err}"
    );
    let lines = jsonl(&run_ok(&["-q", "run", &input]).stdout);
    let (frames, _) = read_parquet(&out);
    assert_frames_match(&frames, &lines, &input);
    let aux_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] != "frame" && l.get("analyser").is_none())
        .collect();
    assert!(!aux_lines.is_empty(), "the fixture has non-CSI records");
    let (aux, kv) = read_parquet(&d.join("r.aux.parquet"));
    assert!(kv
        .iter()
        .any(|(k, v)| k == "wifi_sensing.schema" && v == "wifi-sensing/aux/1"));
    let rows: usize = aux.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, aux_lines.len());
    let b = &aux[0];
    let data = b.column_by_name("data").unwrap().as_string::<i32>();
    let kind = b.column_by_name("type").unwrap().as_string::<i32>();
    let first: Value = serde_json::from_str(data.value(0)).unwrap();
    assert_eq!(kind.value(0), aux_lines[0]["type"].as_str().unwrap());
    assert_eq!(first, aux_lines[0]["data"]);
    assert!(!stale.exists(), "a stale analyses table is removed");
}

#[test]
fn run_arrow_stream_to_stdout() {
    let input = fixture("intel5300/example.dat");
    let out = run_ok(&["-q", "run", &input, "--output-format", "arrow"]);
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(out.stdout), None).unwrap();
    assert_eq!(
        reader
            .schema()
            .metadata()
            .get("wifi_sensing.schema")
            .map(String::as_str),
        Some("wifi-sensing/frames/1")
    );
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let lines = jsonl(&run_ok(&["-q", "run", &input]).stdout);
    assert_frames_match(&batches, &lines, &input);
}

#[test]
fn output_flags_are_checked() {
    let out = run(&[
        "run",
        &fixture("intel5300/example.dat"),
        "--output-format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let d = tmp("flags");
    let o = d.join("x.parquet");
    let out = run(&[
        "run",
        &fixture("intel5300/example.dat"),
        "-o",
        o.to_str().unwrap(),
        "--output-format",
        "arrow",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("--output-format applies to stdout"), "{e}");
    // convert names each Parquet file it wrote once, with its rows
    let out = run_ok(&[
        "convert",
        &fixture("intel5300/example.dat"),
        "-o",
        o.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(e.matches("x.parquet").count(), 1, "{e}");
    assert!(e.contains(" rows to ") && !e.contains("records to"), "{e}");
    // a dataset is made from files: stdin is a usage error, and no folder is left behind
    let ds = d.join("from-stdin");
    let ds_arg = format!("{}/", ds.display());
    let out = run(&["convert", "-", "-o", &ds_arg]);
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("made from capture files"), "{e}");
    assert!(!ds.exists());
}

#[test]
fn dataset_reports_malformed_records_and_cuts() {
    let d = tmp("dataset-damaged");
    let caps = d.join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    // a CSV with a malformed line, and an Intel 5300 file cut inside a record
    std::fs::copy(
        fixture("esp32/example_100hz_pitraffic.csv"),
        caps.join("p.csv"),
    )
    .unwrap();
    let whole = std::fs::read(fixture("intel5300/example.dat")).unwrap();
    std::fs::write(caps.join("cut.dat"), &whole[..3000]).unwrap();
    let ds = d.join("ds");
    let ds_arg = format!("{}/", ds.display());
    let out = run(&["convert", caps.to_str().unwrap(), "-o", &ds_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("p.csv: 1 malformed record(s) skipped; the first: "),
        "{err}"
    );
    assert!(err.contains("cut.dat: input ends inside a record"), "{err}");
    let manifest = std::fs::read_to_string(ds.join("_manifest.jsonl")).unwrap();
    let entries: Vec<Value> = jsonl(manifest.as_bytes());
    let by_name = |n: &str| {
        entries
            .iter()
            .find(|e| e["source_file"].as_str().unwrap().ends_with(n))
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("p.csv")["malformed"], 1);
    assert!(by_name("p.csv").get("truncated").is_none());
    let cut = by_name("cut.dat");
    assert!(cut["truncated"].as_str().unwrap().contains("2765"), "{cut}");
    assert!(cut["frames"].as_u64().unwrap() > 0);
    // the capture grows: converted again, and the run says that the earlier parts stay
    std::fs::write(caps.join("cut.dat"), &whole[..6000]).unwrap();
    let out = run(&["convert", caps.to_str().unwrap(), "-o", &ds_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.dat: converted before with other content")
            && err.contains("earlier part file(s) stay"),
        "{err}"
    );
    assert!(
        err.contains("1 capture converted") && err.contains("1 already converted"),
        "{err}"
    );
}

#[test]
fn dataset_is_partitioned_idempotent_and_skips_bad_files() {
    let d = tmp("dataset");
    let caps = d.join("caps");
    std::fs::create_dir_all(caps.join("sub")).unwrap();
    for (from, to) in [
        ("intel5300/example.dat", "a.dat"),
        ("nexmon/example.pcap", "sub/b.pcap"),
        (
            "ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
            "r.csi.jsonl",
        ),
    ] {
        std::fs::copy(fixture(from), caps.join(to)).unwrap();
    }
    // a capture that cannot be read: reported, skipped, the others converted
    std::fs::write(caps.join("broken.pcap"), b"this is not a pcap file at all").unwrap();
    let ds = d.join("ds");
    let ds_arg = format!("{}/", ds.display());
    let out = run(&["convert", caps.to_str().unwrap(), "-o", &ds_arg, "-j", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("broken.pcap"), "{err}");
    assert!(err.contains("3 captures converted"), "{err}");

    // the manifest names every converted capture once, with its parts
    let manifest = std::fs::read_to_string(ds.join("_manifest.jsonl")).unwrap();
    let entries: Vec<Value> = jsonl(manifest.as_bytes());
    assert_eq!(entries.len(), 3);
    let mut frames_total = 0;
    for e in &entries {
        assert_eq!(e["xxh3_128"].as_str().unwrap().len(), 32);
        for p in e["parts"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            assert!(
                p.starts_with("frames/node_id=") || p.starts_with("aux/date="),
                "{p}"
            );
            assert!(ds.join(p).is_file(), "{p}");
            // every part names its capture's content hash, as the manifest does
            let (_, kv) = read_parquet(&ds.join(p));
            assert_eq!(
                kv_get(&kv, HASH_KEY).as_deref(),
                e["xxh3_128"].as_str(),
                "{p}"
            );
        }
        frames_total += e["frames"].as_u64().unwrap();
    }

    // partitions: node_id and date are folder names, not columns; rows name their source
    let mut rows = 0u64;
    let mut parts = Vec::new();
    collect(&ds.join("frames"), &mut parts);
    for p in &parts {
        let rel = p.strip_prefix(&ds).unwrap().to_string_lossy().into_owned();
        let segs: Vec<&str> = rel.split('/').collect();
        assert_eq!(segs.len(), 4, "{rel}");
        assert!(segs[1].starts_with("node_id=") && segs[2].starts_with("date="));
        let (batches, _) = read_parquet(p);
        for b in &batches {
            assert!(b.column_by_name("node_id").is_none());
            let src = b.column_by_name("source_file").unwrap().as_string::<i32>();
            assert!(src.value(0).starts_with(caps.to_str().unwrap()));
            rows += b.num_rows() as u64;
        }
    }
    assert_eq!(rows, frames_total);
    // the RuView recording has two nodes and host timestamps (2026-04-03)
    assert!(parts
        .iter()
        .any(|p| p.to_string_lossy().contains("node_id=2/")));
    assert!(parts
        .iter()
        .any(|p| p.to_string_lossy().contains("date=2026-04-03")));
    assert!(ds.join("aux").is_dir());

    // a second run converts nothing new (content hashes in the manifest)
    std::fs::remove_file(caps.join("broken.pcap")).unwrap();
    let out = run_ok(&["convert", caps.to_str().unwrap(), "-o", &ds_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0 captures converted") && err.contains("3 already converted"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(ds.join("_manifest.jsonl")).unwrap(),
        manifest
    );
}

/// `args` run with a time limit: a command that blocks (reading a named pipe) fails the test
/// instead of hanging it.
fn run_within(args: &[&str], secs: u64) -> std::process::Output {
    let mut child = common::bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{args:?} did not end within {secs} s; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn dataset_skips_named_pipes_instead_of_blocking() {
    let d = tmp("dataset-fifo");
    let caps = d.join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    std::fs::copy(fixture("intel5300/example.dat"), caps.join("a.dat")).unwrap();
    let fifo = caps.join("fifo.dat");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let ds = d.join("ds");
    let ds_arg = format!("{}/", ds.display());
    // found by the folder walk, and named on the command line
    for inputs in [
        vec![caps.to_str().unwrap()],
        vec![fifo.to_str().unwrap(), caps.join("a.dat").to_str().unwrap()],
    ] {
        let _ = std::fs::remove_dir_all(&ds);
        let mut args = vec!["convert"];
        args.extend(inputs);
        args.extend(["-o", &ds_arg]);
        let out = run_within(&args, 60);
        let err = String::from_utf8_lossy(&out.stderr);
        // skipped like a file that cannot be read: named, counted, exit status 1
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("fifo.dat: skipped: a named pipe (FIFO)"),
            "{err}"
        );
        assert!(
            err.contains("a.dat: 26 frames") && err.contains("1 capture converted"),
            "{err}"
        );
        assert!(
            err.contains("1 failed") && err.contains("1 of 2 input files"),
            "{err}"
        );
    }
}

#[cfg(unix)]
#[test]
fn dataset_walks_each_folder_and_file_once_through_symbolic_links() {
    let d = tmp("dataset-links");
    let caps = d.join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    std::fs::copy(fixture("intel5300/example.dat"), caps.join("example.dat")).unwrap();
    // a loop to the parent, a loop to the folder itself, and a second name for the capture
    std::os::unix::fs::symlink("..", caps.join("loop")).unwrap();
    std::os::unix::fs::symlink(".", caps.join("self")).unwrap();
    std::os::unix::fs::symlink("example.dat", caps.join("alias.dat")).unwrap();
    let ds = d.join("ds");
    let ds_arg = format!("{}/", ds.display());
    let out = run_within(&["convert", caps.to_str().unwrap(), "-o", &ds_arg], 60);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("2 folders not walked again: reached a second time through a symbolic link"),
        "{err}"
    );
    assert!(
        err.contains("1 file named more than once") && err.contains("each converted once"),
        "{err}"
    );
    // converted once, under its own name rather than the link's
    assert!(
        err.contains("caps/example.dat: 26 frames") && !err.contains("alias.dat: 26"),
        "{err}"
    );
    assert!(
        err.contains("1 capture converted") && err.contains("0 failed"),
        "{err}"
    );
    let manifest = std::fs::read_to_string(ds.join("_manifest.jsonl")).unwrap();
    assert_eq!(manifest.lines().count(), 1, "{manifest}");
}

#[test]
fn dataset_refuses_a_second_conversion_into_the_same_folder_at_once() {
    let d = tmp("dataset-lock");
    let ds = d.join("ds");
    std::fs::create_dir_all(&ds).unwrap();
    // another conversion holds the manifest's lock
    let held = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ds.join("_manifest.jsonl"))
        .unwrap();
    held.lock().unwrap();
    let ds_arg = format!("{}/", ds.display());
    let cap = fixture("intel5300/example.dat");
    let out = run_within(&["convert", &cap, "-o", &ds_arg], 60);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another `wifi-sensing convert` is writing to the dataset"),
        "{err}"
    );
    assert!(!ds.join("frames").exists(), "nothing written");
    // once it is done, the conversion goes ahead
    drop(held);
    let out = run_within(&["convert", &cap, "-o", &ds_arg], 60);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("1 capture converted"), "{err}");
}

#[test]
fn dataset_says_that_an_input_inside_the_output_folder_is_left_out() {
    let d = tmp("dataset-nest");
    let nest = d.join("nest");
    std::fs::create_dir_all(&nest).unwrap();
    let cap = nest.join("example.pcap");
    std::fs::copy(fixture("nexmon/example.pcap"), &cap).unwrap();
    let nest_arg = format!("{}/", nest.display());
    let out = run(&["convert", cap.to_str().unwrap(), "-o", &nest_arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("no capture files found"), "{err}");
    assert!(
        err.contains("example.pcap lies inside the output folder")
            && err.contains("left out as part of the dataset"),
        "{err}"
    );
    // with another input, the one inside is named in a warning and the other converted
    let other = d.join("other.dat");
    std::fs::copy(fixture("intel5300/example.dat"), &other).unwrap();
    let out = run_ok(&[
        "convert",
        cap.to_str().unwrap(),
        other.to_str().unwrap(),
        "-o",
        &nest_arg,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("example.pcap left out: inside the output folder")
            && err.contains("1 capture converted"),
        "{err}"
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            assert!(
                p.extension().is_some_and(|x| x == "parquet"),
                "only part files in the dataset: {}",
                p.display()
            );
            out.push(p);
        }
    }
}

#[test]
fn analyses_go_to_their_table_and_to_an_arrow_stream() {
    let d = tmp("analyses");
    let input = d.join("wave.csirec");
    let input = input.to_str().unwrap();
    run_ok(&[
        "-q",
        "simulate",
        "--scenario",
        "gesture:wave",
        "--duration",
        "3s",
        "--seed",
        "5",
        "-o",
        input,
    ]);
    let sigs = fixture("signatures");
    let out = d.join("w.parquet");
    let args = ["-q", "run", "--introspect", &sigs, input];
    let mut with_out = args.to_vec();
    with_out.extend(["-o", out.to_str().unwrap()]);
    run_ok(&with_out);
    let lines = jsonl(&run_ok(&args).stdout);
    let want: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("analyser").is_some())
        .collect();
    assert!(want.len() > 100, "{} analyses", want.len());

    let (batches, kv) = read_parquet(&d.join("w.analyses.parquet"));
    assert!(kv
        .iter()
        .any(|(k, v)| k == "wifi_sensing.schema" && v == "wifi-sensing/analyses/1"));
    let check = |batches: &[RecordBatch]| assert_records_match(batches, &want);
    check(&batches);

    // the same analyses as an Arrow IPC stream
    let mut stream_args = args.to_vec();
    stream_args.extend(["--no-frames", "--output-format", "arrow"]);
    let out = run_ok(&stream_args);
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(out.stdout), None).unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    check(&batches);

    // frames and analyses asked for on one stream: the analyses are reported as left out
    let mut both = args.to_vec();
    both.extend(["--output-format", "arrow"]);
    let out = run_ok(&both);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("left out of the Arrow stream"), "{err}");

    // the records written, and --limit, count the stream's table only (here the frames)
    let rows = |stdout: Vec<u8>| -> usize {
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(stdout), None)
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum()
    };
    let loud: Vec<&str> = both[1..].to_vec();
    let out = run_ok(&loud);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let n = rows(out.stdout);
    assert!(n > 100, "{n} frames");
    assert!(err.contains(&format!("; {n} records written")), "{err}");
    let mut limited = loud.clone();
    limited.extend(["--limit", "40"]);
    let out = run_ok(&limited);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(rows(out.stdout), 40);
    assert!(err.contains("; 40 records written"), "{err}");
}

#[test]
fn parquet_on_one_or_two_threads_holds_the_same() {
    let d = tmp("threads");
    for cap in [
        "esp32/example_100hz_pitraffic.csv",
        "intel5300/brushteeth_1597160017.dat",
        "nexmon/40mhz_1600085286.pcap",
        "picoscenes/picoscenes_iwl5300_example.csi",
    ] {
        let input = fixture(cap);
        let read = |threads: &str| {
            let out = d.join(format!("t{threads}.parquet"));
            let args = [
                "-q",
                "convert",
                &input,
                "-o",
                out.to_str().unwrap(),
                "--threads",
                threads,
            ];
            run_ok(&args);
            let (batches, mut kv) = read_parquet(&out);
            // the configuration is the command line, which names the output and the flag; the
            // schema's metadata (in every batch, and encoded in `ARROW:schema`) holds it too
            let config = kv.iter().find(|(k, _)| k == "wifi_sensing.config").cloned();
            assert!(config.is_some_and(|c| c.1.contains(threads)), "{cap}");
            kv.retain(|(k, _)| k != "wifi_sensing.config" && k != "ARROW:schema");
            let batches: Vec<RecordBatch> = batches
                .into_iter()
                .map(|b| {
                    let fields = b.schema().fields().clone();
                    let plain = std::sync::Arc::new(arrow_schema::Schema::new(fields));
                    b.with_schema(plain).unwrap()
                })
                .collect();
            assert!(!batches.is_empty(), "{cap}");
            (batches, kv)
        };
        assert_eq!(read("1"), read("2"), "{cap}");
    }
}

/// The XXH3-128 of a file's bytes, as 32 hex digits (the form of the metadata and manifest).
fn xxh3_of(path: &str) -> String {
    let bytes = std::fs::read(path).unwrap();
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// The value of `key` in key-value metadata.
fn kv_get(kv: &[(String, String)], key: &str) -> Option<String> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The batches of an Arrow IPC stream, and its schema's metadata.
fn read_stream(bytes: Vec<u8>) -> (Vec<RecordBatch>, Vec<(String, String)>) {
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let mut kv: Vec<(String, String)> = reader
        .schema()
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    kv.sort();
    (reader.map(|b| b.unwrap()).collect(), kv)
}

const HASH_KEY: &str = "wifi_sensing.source_xxh3_128";

/// `run INPUT --events --spectrogram -o OUT.parquet`: frames, aux and analyses tables (the
/// spectrogram so that a capture without motion still has analyses).
fn run_with_analyses(input: &str, out: &Path) {
    run_ok(&[
        "-q",
        "run",
        input,
        "--events",
        "--spectrogram",
        "-o",
        out.to_str().unwrap(),
    ]);
}

/// The Arrow IPC stream of the analyses of `run INPUT --events --spectrogram --no-frames` (the
/// spectrogram so that a capture without motion still has analyses).
fn events_stream(input: &str) -> (Vec<RecordBatch>, Vec<(String, String)>) {
    let args = [
        "-q",
        "run",
        input,
        "--events",
        "--spectrogram",
        "--no-frames",
    ];
    let out = run_ok(&[&args[..], &["--output-format", "arrow"]].concat());
    read_stream(out.stdout)
}

#[test]
fn every_columnar_output_of_a_file_names_its_content_hash() {
    let d = tmp("hash");
    let input = fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let want = xxh3_of(&input);
    let check_parquet = |p: &Path| {
        let (_, kv) = read_parquet(p);
        assert_eq!(kv_get(&kv, HASH_KEY), Some(want.clone()), "{}", p.display());
        // and in the Arrow schema embedded in the file
        let f = std::fs::File::open(p).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
        assert_eq!(
            b.schema().metadata().get(HASH_KEY),
            Some(&want),
            "{}",
            p.display()
        );
    };
    // convert -o OUT.parquet: the frames table and the aux table
    let c = d.join("c.parquet");
    run_ok(&["-q", "convert", &input, "-o", c.to_str().unwrap()]);
    check_parquet(&c);
    check_parquet(&d.join("c.aux.parquet"));
    // run -o OUT.parquet with analysers: frames, aux and analyses tables
    let r = d.join("r.parquet");
    run_with_analyses(&input, &r);
    for p in [
        r.clone(),
        d.join("r.aux.parquet"),
        d.join("r.analyses.parquet"),
    ] {
        check_parquet(&p);
    }
    // the Arrow streams: frames on stdout, analyses with --no-frames, aux into a file
    let aux = d.join("a.arrows");
    let out = run_ok(&[
        "-q",
        "run",
        &input,
        "--output-format",
        "arrow",
        "--arrow-aux",
        aux.to_str().unwrap(),
    ]);
    let (_, kv) = read_stream(out.stdout);
    assert_eq!(kv_get(&kv, HASH_KEY), Some(want.clone()));
    let (_, kv) = read_stream(std::fs::read(&aux).unwrap());
    assert_eq!(kv_get(&kv, HASH_KEY), Some(want.clone()));
    let (_, kv) = events_stream(&input);
    assert_eq!(kv_get(&kv, HASH_KEY), Some(want.clone()));
    // a changed file has another hash
    let changed = d.join("changed.csi.jsonl");
    let text = std::fs::read_to_string(&input).unwrap();
    std::fs::write(
        &changed,
        text.lines().take(100).collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let c2 = d.join("c2.parquet");
    run_ok(&[
        "-q",
        "convert",
        changed.to_str().unwrap(),
        "-o",
        c2.to_str().unwrap(),
    ]);
    let (_, kv) = read_parquet(&c2);
    let other = kv_get(&kv, HASH_KEY).unwrap();
    assert_eq!(other, xxh3_of(changed.to_str().unwrap()));
    assert_ne!(other, want);
    // stdin has no file to hash: no key (rather than a made-up one)
    let s = d.join("s.parquet");
    let o = common::bin()
        .args(["-q", "convert", "-", "-o", s.to_str().unwrap()])
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, kv) = read_parquet(&s);
    assert_eq!(kv_get(&kv, "wifi_sensing.source").as_deref(), Some("stdin"));
    assert_eq!(kv_get(&kv, HASH_KEY), None);
}

/// Checks that every row of `batches` has the `time_utc` and `clock` columns of the frames
/// table (`frames`, a batch of it): the same types, `clock` equal to `want_clock`, and
/// `time_utc` the timestamp on the host clock, null on others. Returns the rows checked.
fn assert_time_columns(batches: &[RecordBatch], frames: &RecordBatch, want_clock: &str) -> usize {
    let mut n = 0;
    for b in batches {
        for name in ["time_utc", "clock"] {
            let s = b.schema();
            let f = s
                .field_with_name(name)
                .unwrap_or_else(|_| panic!("column {name}"));
            let fs = frames.schema();
            let want = fs.field_with_name(name).unwrap();
            assert_eq!(f.data_type(), want.data_type(), "{name}");
            assert_eq!(f.is_nullable(), want.is_nullable(), "{name}");
        }
        let ts = b
            .column_by_name("timestamp_ns")
            .unwrap()
            .as_primitive::<Int64Type>();
        let utc = b
            .column_by_name("time_utc")
            .unwrap()
            .as_primitive::<TimestampNanosecondType>();
        let clock = b.column_by_name("clock").unwrap().as_string::<i32>();
        for r in 0..b.num_rows() {
            assert_eq!(clock.value(r), want_clock, "row {r}");
            if want_clock == "host" {
                assert!(utc.is_valid(r), "row {r}");
                assert_eq!(utc.value(r), ts.value(r), "row {r}");
            } else {
                assert!(utc.is_null(r), "row {r}");
            }
            n += 1;
        }
    }
    n
}

#[test]
fn analyses_and_aux_rows_have_the_time_columns_of_the_frames() {
    let d = tmp("time-columns");
    // host clock (RuView recorder time), with non-CSI records and events
    let input = fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let r = d.join("r.parquet");
    run_with_analyses(&input, &r);
    let (frames, _) = read_parquet(&r);
    let n_frames: usize = frames.iter().map(|b| b.num_rows()).sum();
    assert!(n_frames > 200, "{n_frames} frames");
    assert_eq!(assert_time_columns(&frames, &frames[0], "host"), n_frames);
    let (analyses, _) = read_parquet(&d.join("r.analyses.parquet"));
    assert!(assert_time_columns(&analyses, &frames[0], "host") > 0);
    let (aux, _) = read_parquet(&d.join("r.aux.parquet"));
    assert!(assert_time_columns(&aux, &frames[0], "host") > 0);
    // the same columns in the Arrow stream of analyses
    let (batches, _) = events_stream(&input);
    let rows: usize = analyses.iter().map(|b| b.num_rows()).sum();
    assert_eq!(assert_time_columns(&batches, &frames[0], "host"), rows);

    // simulated clock: no instant, `time_utc` null; the clock named as in the frames
    let sim = d.join("walk.csirec");
    run_ok(&[
        "-q",
        "simulate",
        "--scenario",
        "walk",
        "--duration",
        "3s",
        "--seed",
        "3",
        "-o",
        sim.to_str().unwrap(),
    ]);
    let w = d.join("w.parquet");
    let sim = sim.to_str().unwrap();
    run_ok(&["-q", "run", sim, "--events", "-o", w.to_str().unwrap()]);
    let (frames, _) = read_parquet(&w);
    assert!(assert_time_columns(&frames, &frames[0], "simulated") > 0);
    let (analyses, _) = read_parquet(&d.join("w.analyses.parquet"));
    assert!(assert_time_columns(&analyses, &frames[0], "simulated") > 0);
}

#[test]
fn arrow_aux_writes_the_non_csi_records_as_a_second_stream() {
    let d = tmp("arrow-aux");
    let input = fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let lines = jsonl(&run_ok(&["-q", "run", &input]).stdout);
    let aux_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] != "frame" && l.get("analyser").is_none())
        .collect();
    assert!(!aux_lines.is_empty(), "the fixture has non-CSI records");

    // without --arrow-aux the non-CSI records are counted and reported as left out
    let out = run_ok(&["run", &input, "--output-format", "arrow"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{} non-CSI records (--arrow-aux FILE",
            aux_lines.len()
        )),
        "{err}"
    );

    // with it: frames on stdout, every non-CSI record in the file, nothing left out
    let aux = d.join("aux.arrows");
    let out = run_ok(&[
        "run",
        &input,
        "--output-format",
        "arrow",
        "--arrow-aux",
        aux.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("left out"), "{err}");
    let (frames, _) = read_stream(out.stdout);
    assert_frames_match(&frames, &lines, &input);
    let (batches, kv) = read_stream(std::fs::read(&aux).unwrap());
    assert_eq!(
        kv_get(&kv, "wifi_sensing.schema").as_deref(),
        Some("wifi-sensing/aux/1")
    );
    assert_records_match(&batches, &aux_lines);
    // the same rows as the Parquet aux table
    let p = d.join("p.parquet");
    run_ok(&["-q", "run", &input, "-o", p.to_str().unwrap()]);
    let (parquet_aux, _) = read_parquet(&d.join("p.aux.parquet"));
    assert_eq!(rows_as_text(&batches), rows_as_text(&parquet_aux));

    // --arrow-aux needs the Arrow output, and a file
    for extra in [
        vec!["--arrow-aux", "x.arrows"],
        vec!["--output-format", "jsonl", "--arrow-aux", "x.arrows"],
        vec!["--output-format", "arrow", "--arrow-aux", "-"],
    ] {
        let mut a = vec!["run", input.as_str()];
        a.extend(extra.iter().copied());
        let out = run(&a);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--arrow-aux"));
    }
}

#[test]
fn arrow_analyses_writes_the_analyses_of_a_stream_of_frames_as_a_second_stream() {
    let d = tmp("arrow-analyses");
    let input = d.join("walk.csirec");
    let input = input.to_str().unwrap();
    run_ok(&[
        "-q",
        "simulate",
        "--scenario",
        "walk",
        "--duration",
        "15s",
        "--seed",
        "3",
        "-o",
        input,
    ]);
    let args = ["run", input, "--events", "--vitals"];
    let lines = jsonl(&run_ok(&[&["-q"], &args[..]].concat()).stdout);
    let want: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("analyser").is_some())
        .collect();
    let types = |kinds: Vec<String>| {
        let mut n = std::collections::BTreeMap::new();
        for k in kinds {
            *n.entry(k).or_insert(0) += 1;
        }
        n
    };
    let want_types = types(
        want.iter()
            .map(|l| l["type"].as_str().unwrap().to_string())
            .collect(),
    );
    assert!(
        want_types.contains_key("event") && want_types.contains_key("vital_signs"),
        "{want_types:?}"
    );

    // without --arrow-analyses the analyses are counted and reported as left out
    let out = run_ok(&[&args[..], &["--output-format", "arrow"]].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{} analyses (--arrow-analyses FILE", want.len())),
        "{err}"
    );

    // frames on stdout, every analysis record in the file, nothing left out
    let file = d.join("analyses.arrows");
    let out = run_ok(
        &[
            &args[..],
            &[
                "--output-format",
                "arrow",
                "--arrow-analyses",
                file.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("left out"), "{err}");
    assert!(
        err.contains(&format!(
            "wrote {} rows of the analyses table to {}",
            want.len(),
            file.display()
        )),
        "{err}"
    );
    let (frames, _) = read_stream(out.stdout);
    assert_frames_match(&frames, &lines, input);
    let (batches, kv) = read_stream(std::fs::read(&file).unwrap());
    assert_eq!(
        kv_get(&kv, "wifi_sensing.schema").as_deref(),
        Some("wifi-sensing/analyses/1")
    );
    assert_eq!(kv_get(&kv, HASH_KEY), Some(xxh3_of(input)));
    assert_records_match(&batches, &want);
    let mut kinds = Vec::new();
    for b in &batches {
        let t = b.column_by_name("type").unwrap().as_string::<i32>();
        kinds.extend((0..b.num_rows()).map(|r| t.value(r).to_string()));
    }
    assert_eq!(types(kinds), want_types);
    // the same rows as the Parquet analyses table
    let p = d.join("p.parquet");
    run_ok(&[&["-q"], &args[..], &["-o", p.to_str().unwrap()]].concat());
    let (parquet_analyses, _) = read_parquet(&d.join("p.analyses.parquet"));
    assert_eq!(rows_as_text(&batches), rows_as_text(&parquet_analyses));

    // --arrow-analyses needs the Arrow output of frames, and a file of its own
    for extra in [
        vec!["--arrow-analyses", "x.arrows"],
        vec!["--output-format", "jsonl", "--arrow-analyses", "x.arrows"],
        vec!["--output-format", "arrow", "--arrow-analyses", "-"],
        vec![
            "--output-format",
            "arrow",
            "--no-frames",
            "--arrow-analyses",
            "x.arrows",
        ],
        vec![
            "--output-format",
            "arrow",
            "--arrow-aux",
            "x.arrows",
            "--arrow-analyses",
            "x.arrows",
        ],
    ] {
        let mut a = args.to_vec();
        a.extend(extra.iter().copied());
        let out = run(&a);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--arrow-analyses"));
    }
}

/// Every row of `batches` as text, column by column (a comparison of tables without more crates).
fn rows_as_text(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| format!("{:?}", c.slice(r, 1)))
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}
