//! Intel 5300 reader against the golden files: every frame and every value.
//!
//! Fixture tests (`fixtures/intel5300/`) run by default; the kit-wide test covers every Intel
//! golden file of the capture kit and needs `WIFI_SENSING_KIT` (run with `--include-ignored`).

mod common;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde_json::Value;
use wifi_sensing_core::formats::intel5300::{
    bfee_payload_len, scaled_csi_factor, Intel5300Meta, Intel5300Reader, RecordCounts,
    SUBCARRIERS_HT20, SUBCARRIERS_HT40,
};
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Clock, CsiFrame, Error, FormatMeta, ReaderOptions, Record,
    Registry,
};

use common::{assert_csi_matches, assert_int, assert_uint, field_i as i, field_u as u};
use common::{load_golden, Golden};

/// Frames of one file with the reader position after each, the record counts and the error that
/// ended the stream (if any).
struct Run {
    frames: Vec<(CsiFrame, u64)>,
    counts: RecordCounts,
    end: Option<Error>,
}

fn run(bytes: &[u8], scaled: bool) -> Run {
    let mut opts = ReaderOptions::default();
    opts.intel5300.scaled = scaled;
    let mut r = Intel5300Reader::new(Box::new(Cursor::new(bytes.to_vec())), &opts);
    let mut frames = Vec::new();
    let mut end = None;
    while let Some(x) = r.next_record() {
        match x {
            Ok(Record::Frame(f)) => frames.push((f, r.position())),
            Ok(Record::Aux(a)) => panic!("unexpected aux record {a:?}"),
            Err(e) if e.is_recoverable() => panic!("malformed record in a kit file: {e}"),
            Err(e) => {
                assert!(end.is_none(), "two stream-ending errors");
                end = Some(e);
            }
        }
    }
    Run {
        frames,
        counts: r.counts().clone(),
        end,
    }
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("golden field {k} missing"))
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs()
}

fn meta(frame: &CsiFrame) -> &Intel5300Meta {
    match &frame.meta {
        FormatMeta::Intel5300(m) => m,
        other => panic!("not an Intel meta: {other:?}"),
    }
}

fn mac(v: &Value) -> [u8; 6] {
    common::bytes(v).try_into().unwrap()
}

/// Compares every header field of a golden line with the frame.
fn check_fields(frame: &CsiFrame, pos_after: u64, g: &Value, what: &str) {
    let m = meta(frame);
    assert_uint(m.timestamp_low, g, "timestamp_low", what);
    assert_uint(m.bfee_count, g, "bfee_count", what);
    assert_uint(m.nrx, g, "Nrx", what);
    assert_uint(m.ntx, g, "Ntx", what);
    assert_uint(m.rssi_a, g, "rssi_a", what);
    assert_uint(m.rssi_b, g, "rssi_b", what);
    assert_uint(m.rssi_c, g, "rssi_c", what);
    assert_int(m.noise, g, "noise", what);
    assert_uint(m.agc, g, "agc", what);
    let perm = common::uints(&g["perm"]);
    assert_eq!(
        m.perm.iter().map(|&p| u64::from(p)).collect::<Vec<_>>(),
        perm,
        "{what}: perm"
    );
    assert_eq!(
        m.permuted,
        m.nrx == 3,
        "{what}: permutation applied only when Nrx = 3 (D5)"
    );
    assert_uint(m.rate, g, "rate", what);
    let rss = f(g, "total_rss");
    assert!(
        close(m.total_rss, rss, 1e-9),
        "{what}: total_rss {} vs {rss}",
        m.total_rss
    );
    let sf = f(g, "scaled_csi_factor");
    let got = scaled_csi_factor(m);
    assert!(
        close(got, sf, 1e-9),
        "{what}: scaled_csi_factor {got} vs {sf}"
    );
    // common fields
    assert_eq!(frame.format, CaptureFormat::Intel5300);
    assert_eq!(frame.rssi_dbm, Some(rss as f32), "{what}: rssi_dbm");
    assert_eq!(
        frame.chain_rssi,
        vec![m.rssi_a as f32, m.rssi_b as f32, m.rssi_c as f32],
        "{what}: chain_rssi"
    );
    let noise = i(g, "noise");
    assert_eq!(
        frame.noise_floor_dbm,
        (noise != -127).then_some(noise as f32),
        "{what}: noise_floor_dbm"
    );
    assert_eq!(frame.clock, Clock::Device);
    assert_eq!(
        (frame.timestamp_ns / 1000) as u64 % (1u64 << 32),
        u(g, "timestamp_low"),
        "{what}: timestamp_ns is the unwrapped timestamp_low"
    );
    assert_eq!(frame.timestamp_ns % 1000, 0);
    assert_eq!(frame.sequence, Some(u(g, "bfee_count") as u32));
    let ht40 = u(g, "rate") & 0x800 != 0;
    assert_eq!(frame.bandwidth_mhz, Some(if ht40 { 40 } else { 20 }));
    let sc: &[i16] = if ht40 {
        &SUBCARRIERS_HT40
    } else {
        &SUBCARRIERS_HT20
    };
    assert_eq!(frame.subcarriers.as_deref(), Some(sc));
    // record offset: the frame's record ends at pos_after
    let rec_len = 2 + 1 + 20 + bfee_payload_len(m.nrx.into(), m.ntx.into()) as u64;
    assert_eq!(pos_after - rec_len, u(g, "_offset"), "{what}: _offset");
    match g.get("c1") {
        Some(c1) => {
            let h = m.c1.unwrap_or_else(|| panic!("{what}: c1 missing"));
            let c1_what = format!("{what}: c1");
            assert_uint(h.fc, c1, "fc", &c1_what);
            assert_uint(h.dur, c1, "dur", &c1_what);
            assert_eq!(h.addr_des, mac(&c1["addr_des"]), "{what}: c1.addr_des");
            assert_eq!(h.addr_src, mac(&c1["addr_src"]), "{what}: c1.addr_src");
            assert_eq!(
                h.addr_bssid,
                mac(&c1["addr_bssid"]),
                "{what}: c1.addr_bssid"
            );
            assert_uint(h.seq, c1, "seq", &c1_what);
            assert_eq!(frame.mac, Some(h.addr_src));
        }
        None => {
            assert!(m.c1.is_none(), "{what}: unexpected c1");
            assert_eq!(frame.mac, None);
        }
    }
}

/// The kit README's checksum of a CSI array: (Σ re, Σ im, Σ_k (k+1)(re_k + 2 im_k)).
fn digest(frame: &CsiFrame) -> (i64, i64, i64) {
    let mut d = (0i64, 0i64, 0i64);
    for (k, c) in frame.csi.iter().enumerate() {
        let (re, im) = (c.re as i64, c.im as i64);
        assert_eq!(
            (re as f32, im as f32),
            (c.re, c.im),
            "raw values must be integers"
        );
        d.0 += re;
        d.1 += im;
        d.2 += (k as i64 + 1) * (re + 2 * im);
    }
    d
}

/// Checks a capture against its golden (or digest) file; returns the number of frames compared.
fn check_file(capture: &Path, golden: &Golden) -> usize {
    let name = capture.display().to_string();
    let bytes = std::fs::read(capture).unwrap_or_else(|e| panic!("{name}: {e}"));
    let h = &golden.header;
    assert_eq!(
        u(h, "bytes"),
        bytes.len() as u64,
        "{name}: golden describes another file"
    );
    let r = run(&bytes, false);
    assert_eq!(r.frames.len() as u64, u(h, "frames"), "{name}: frame count");
    assert_eq!(golden.frames.len(), r.frames.len(), "{name}: golden lines");
    for (n, ((frame, pos), g)) in r.frames.iter().zip(&golden.frames).enumerate() {
        let what = format!("{name} frame {n}");
        check_fields(frame, *pos, g, &what);
        if let Some(d) = g.get("csi_digest") {
            let shape = common::uints(&d["shape"]);
            let (a, b, c) = frame.shape();
            assert_eq!(shape, vec![a as u64, b as u64, c as u64], "{what}: shape");
            assert_eq!(
                digest(frame),
                (i(d, "sum_re"), i(d, "sum_im"), i(d, "weighted")),
                "{what}: csi digest"
            );
        } else {
            assert_csi_matches(frame, g, 0.0, &what);
        }
    }
    // record counts and the truncated tail
    let records = &h["records"];
    assert_eq!(r.counts.bfee, u(records, "0xbb"), "{name}: 0xbb records");
    assert_eq!(
        r.counts.mac_header,
        records["0xc1"].as_u64().unwrap_or(0),
        "{name}: 0xc1 records"
    );
    assert_eq!(r.counts.other, 0, "{name}: other records");
    assert_eq!(r.counts.malformed, 0, "{name}: malformed records");
    assert_eq!(
        r.counts.truncated_tail,
        records["truncated_tail_record"].as_u64().unwrap_or(0),
        "{name}: truncated tail record"
    );
    let trailing = u(h, "trailing_partial_bytes");
    assert_eq!(
        r.counts.trailing_partial_bytes, trailing,
        "{name}: trailing_partial_bytes"
    );
    match (&r.end, trailing) {
        (None, 0) => {}
        (
            Some(Error::Truncated {
                offset,
                available,
                needed,
                ..
            }),
            t,
        ) if t > 0 => {
            assert_eq!(*available, t, "{name}: Truncated.available");
            assert_eq!(*offset, bytes.len() as u64 - t, "{name}: Truncated.offset");
            assert!(needed > available);
        }
        (e, t) => panic!("{name}: stream end {e:?} with {t} trailing bytes"),
    }
    // the scaled option gives get_scaled_csi's values
    if golden
        .frames
        .first()
        .is_some_and(|g| g.get("csi").is_some())
    {
        let s = run(&bytes, true);
        assert_eq!(s.frames.len(), r.frames.len());
        for (n, ((sf, _), g)) in s.frames.iter().zip(&golden.frames).enumerate() {
            let fac = f(g, "scaled_csi_factor");
            assert!(meta(sf).scaled);
            let re = g["csi"]["re"].as_array().unwrap();
            let im = g["csi"]["im"].as_array().unwrap();
            for (k, c) in sf.csi.iter().enumerate() {
                let (wr, wi) = (re[k].as_f64().unwrap() * fac, im[k].as_f64().unwrap() * fac);
                assert!(
                    (f64::from(c.re) - wr).abs() <= 1e-6 * wr.abs() + 1e-9
                        && (f64::from(c.im) - wi).abs() <= 1e-6 * wi.abs() + 1e-9,
                    "{name} frame {n} value {k}: scaled {c} vs ({wr}, {wi})"
                );
            }
        }
    }
    // the registry recognises the file by its bytes and reads the same frames
    let mut cap = Registry::builtin().open_path(capture).unwrap();
    assert_eq!(cap.format(), CaptureFormat::Intel5300, "{name}: probe");
    let n = cap.by_ref().filter(|x| x.is_ok()).count();
    assert_eq!(n, r.frames.len(), "{name}: frames through the registry");
    assert_eq!(cap.stats().truncated.is_some(), trailing > 0);
    r.frames.len()
}

fn fixture(name: &str) -> PathBuf {
    common::fixtures().join("intel5300").join(name)
}

#[test]
fn fixture_example_dat_matches_golden() {
    let n = check_file(
        &fixture("example.dat"),
        &load_golden(&fixture("example.dat.jsonl")),
    );
    assert_eq!(n, 26);
}

#[test]
fn fixture_66bpm_nrx2_file_order_matches_golden() {
    // D5: every frame has Nrx = 2 with a full permutation in antenna_sel; rows stay in file order.
    let g = load_golden(&fixture("66bpm.dat.jsonl"));
    let n = check_file(&fixture("66bpm.dat"), &g);
    assert_eq!(n, 165);
    let r = run(&std::fs::read(fixture("66bpm.dat")).unwrap(), false);
    assert!(r
        .frames
        .iter()
        .all(|(f, _)| meta(f).nrx == 2 && !meta(f).permuted));
    assert!(r.frames.iter().all(|(f, _)| meta(f).rssi_b == 0));
}

#[test]
fn fixture_truncated_activity_file_matches_golden_digest() {
    let g = load_golden(&fixture("brushteeth_1597160017.dat.digest.jsonl"));
    assert_eq!(u(&g.header, "trailing_partial_bytes"), 197);
    let n = check_file(&fixture("brushteeth_1597160017.dat"), &g);
    assert_eq!(n, 401);
}

/// The unscaled frames of the kit's capture `intel5300/<name>`.
fn kit_run(name: &str) -> Run {
    let path = common::kit().join("intel5300").join(name);
    run(&std::fs::read(path).unwrap(), false)
}

fn golden_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            golden_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "jsonl") {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_every_intel_golden_file_matches() {
    let kit = common::kit();
    let mut files = Vec::new();
    for d in [
        "golden/intel5300",
        "golden/labelled/intel5300_activity",
        "golden/labelled/intel5300_heart_rate",
    ] {
        golden_files(&kit.join(d), &mut files);
    }
    assert_eq!(files.len(), 6 + 24 + 14, "Intel golden files in the kit");
    let mut frames = 0;
    let mut truncated = 0;
    for gpath in &files {
        let rel = gpath.strip_prefix(kit.join("golden")).unwrap();
        let capture = kit.join(rel.to_str().unwrap().strip_suffix(".jsonl").unwrap());
        let golden = load_golden(gpath);
        if u(&golden.header, "trailing_partial_bytes") > 0 {
            truncated += 1;
        }
        frames += check_file(&capture, &golden);
    }
    assert_eq!(truncated, 11, "truncated activity recordings");
    eprintln!(
        "{} Intel golden files, {frames} frames, all values equal",
        files.len()
    );
}

/// `NodeStats::time_went_back` and `largest_step_back_ns` (what `inspect` reports) against the
/// golden files' own `timestamp_low` (µs): the frames earlier than the latest before them, and
/// the largest such step, over every Intel 5300 golden file of the kit. `los_40.dat` steps back
/// twice, by up to 4.108 s (30 frames behind), `los_5.dat` by 3.993 s (2 frames behind).
#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_clock_steps_back_as_the_golden_timestamps_say() {
    let kit = common::kit();
    let mut files = Vec::new();
    golden_files(&kit.join("golden/intel5300"), &mut files);
    golden_files(&kit.join("golden/labelled"), &mut files);
    let mut stepping = Vec::new();
    for gpath in files
        .iter()
        .filter(|p| p.to_string_lossy().contains("intel5300"))
    {
        let golden = load_golden(gpath);
        // the oracle: the golden timestamps (none of these files wraps its 32-bit counter)
        let (mut latest, mut back, mut largest) = (None::<u64>, 0u64, 0u64);
        for g in &golden.frames {
            let t = u(g, "timestamp_low");
            match latest {
                Some(l) if t < l => {
                    back += 1;
                    largest = largest.max(l - t);
                }
                _ => latest = Some(latest.map_or(t, |l: u64| l.max(t))),
            }
        }
        let rel = gpath.strip_prefix(kit.join("golden")).unwrap();
        let capture = kit.join(rel.to_str().unwrap().strip_suffix(".jsonl").unwrap());
        let r = run(&std::fs::read(&capture).unwrap(), false);
        let mut t = wifi_sensing_core::NodeTracker::default();
        for (f, _) in &r.frames {
            t.observe(f);
        }
        let n = &t.nodes()[&0];
        let name = capture.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(n.time_went_back, back, "{name}");
        assert_eq!(n.largest_step_back_ns as u64, largest * 1000, "{name}");
        if back > 0 {
            stepping.push((name, back, n.largest_step_back_ns));
        }
    }
    stepping.sort();
    assert_eq!(
        stepping,
        [
            ("los_40.dat".to_string(), 30, 4_108_274_000),
            ("los_5.dat".to_string(), 2, 3_993_121_000)
        ]
    );
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_log_all_csi_monitor_mode_quirks() {
    // No licence in its repository: tested from the kit only, never copied into fixtures.
    let r = kit_run("log.all_csi.6.7.6");
    assert_eq!(r.frames.len(), 29);
    let ntx: std::collections::BTreeSet<u8> = r.frames.iter().map(|(f, _)| meta(f).ntx).collect();
    assert_eq!(ntx.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    for (f, _) in &r.frames {
        // noise -127: not measured, so no noise floor, and the scaling used -92 dBm
        assert_eq!(meta(f).noise, -127);
        assert_eq!(f.noise_floor_dbm, None);
        assert!(scaled_csi_factor(meta(f)).is_finite());
    }
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_sample_0x5_interleaved_c1_records() {
    let r = kit_run("sample_0x5_64_3000.dat");
    assert_eq!(r.counts.mac_header, 2998);
    assert!(r
        .frames
        .iter()
        .all(|(f, _)| meta(f).c1.is_some() && f.mac.is_some()));
}

#[test]
fn fixture_frames_survive_recording_and_keep_golden_names_in_json() {
    let bytes = std::fs::read(fixture("example.dat")).unwrap();
    let r = run(&bytes, false);
    let frames: Vec<CsiFrame> = r.frames.iter().map(|(f, _)| f.clone()).collect();
    common::assert_recording_round_trip(&frames);
    let v = serde_json::to_value(meta(&r.frames[0].0)).unwrap();
    let g = load_golden(&fixture("example.dat.jsonl"));
    for k in [
        "timestamp_low",
        "bfee_count",
        "Nrx",
        "Ntx",
        "rssi_a",
        "rssi_b",
        "rssi_c",
        "noise",
        "agc",
        "perm",
        "rate",
        "total_rss",
    ] {
        assert_eq!(v[k], g.frames[0][k], "JSON field {k}");
    }
}
