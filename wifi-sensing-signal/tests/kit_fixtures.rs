//! Every stage over the kit's small real captures (ESP32, Intel 5300, Nexmon, PicoScenes,
//! Atheros, FeitCSI, RuView): no panic, no error, finite outputs.

use std::path::{Path, PathBuf};

use wifi_sensing_core::{Output, Pipeline};
use wifi_sensing_signal::stages::{parse_stages, Notices};

fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut v = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        // the capture folders only (fixtures/ also holds models, signatures and oracles)
        let capture_dirs = [
            "atheros",
            "esp32",
            "feitcsi",
            "intel5300",
            "nexmon",
            "pcap",
            "picoscenes",
            "ruview_esp32",
        ];
        let dir_name = dir.file_name().unwrap().to_string_lossy().to_string();
        if !dir.is_dir() || !capture_dirs.contains(&dir_name.as_str()) {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let p = f.unwrap().path();
            if !p.is_file() {
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            // golden outputs (`X.jsonl` next to capture `X`) and notes are not captures
            let golden = name
                .strip_suffix(".jsonl")
                .is_some_and(|capture| dir.join(capture).exists());
            if golden || name.ends_with(".md") || name.contains(".digest.") {
                continue;
            }
            v.push(p);
        }
    }
    v.sort();
    v
}

const CHAINS: &[&str] = &[
    "sanitize,hampel:window=7:k=3,normalize",
    "resample:50hz,sanitize,ratio,hampel:window=5:on=iq,normalize:mode=agc,dc:tau=20",
    "ratio:mode=conj,bandpass:low=0.1hz:high=2hz:warmup=8,select:top=4:baseline=10:window=5",
    "lowpass:fc=1hz:warmup=4,highpass:0.05,select:threshold=1.5:baseline=0.5s:window=0.2s",
];

#[test]
fn every_chain_over_every_kit_capture() {
    let files = captures();
    assert!(files.len() >= 10, "{files:?}");
    for chain in CHAINS {
        for path in &files {
            let notices = Notices::default();
            let mut b = Pipeline::builder();
            for s in parse_stages(chain).unwrap() {
                b = b.boxed_stage(s.build(&notices).unwrap());
            }
            let mut p = b.build().unwrap();
            let cap = wifi_sensing_core::open(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let mut frames = 0;
            for out in p.process(cap) {
                let out = out.unwrap_or_else(|e| panic!("{chain} on {path:?}: {e}"));
                if let Output::Frame(f) = out {
                    frames += 1;
                    assert!(
                        f.csi.iter().all(|c| c.re.is_finite() && c.im.is_finite()),
                        "{chain} on {path:?}: non-finite output at t={}",
                        f.timestamp_ns
                    );
                }
            }
            let s = p.summary();
            assert!(frames > 0 || s.frames_in == 0, "{chain} on {path:?}: {s:?}");
            let _ = notices.take();
        }
    }
}
