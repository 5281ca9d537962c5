//! Frame-level presence and motion F1 against the simulator truth (the README figures): `cargo run --release -p wifi-sensing-signal --example sensing_eval -- PRESET SECONDS RATE esp|intel SEED`.
use wifi_sensing_core::sim::{DeviceProfile, MotionState, Scenario, Simulator};
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let preset = args.get(1).map(String::as_str).unwrap_or("mixed");
    let dur: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(120.0);
    let rate: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(50.0);
    let dev = match args.get(4).map(String::as_str) {
        Some("intel") => DeviceProfile::intel5300(),
        _ => DeviceProfile::esp32(),
    };
    let seed: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(7);
    let mut sc = Scenario::preset(preset, dur).unwrap();
    sc.rate_hz = rate;
    let sim = Simulator::new(sc, dev, seed).unwrap();
    let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
    let mut out = Vec::new();
    let (mut tp, mut fp, mut fneg, mut mtp, mut mfp, mut mfn) = (0, 0, 0, 0, 0, 0);
    for (f, t) in sim {
        out.clear();
        a.push(&f, &mut out).unwrap();
        for s in &out {
            match s {
                Sensed::Event(e) => println!("{:.2} {:?} {:?} node={:?} {:?}={:.3} thr={:.3} conf={:.2}  truth: {:?}", e.timestamp_ns as f64*1e-9, e.event, e.scope, e.node_id, e.statistic, e.value, e.threshold, e.confidence, t.motion),
                Sensed::VitalSigns { value, .. } => println!("{:.2} vitals br={:?} ({:?} {:.2}) hr={:?} ({:?}) pres={:?} win={:.1} rate={:.1} truth br={:?} hr={:?}", value.window_end_ns as f64*1e-9, value.breathing.rate_per_min, value.breathing.reason, value.breathing.confidence, value.heart.rate_per_min, value.heart.reason, value.presence_ratio, value.window_s, value.frame_rate_hz, t.breathing_bpm, t.heart_bpm),
            }
        }
        if t.timestamp_ns < 10_000_000_000 {
            continue;
        }
        let p = a.present(f.node_id) == Some(true);
        let m = a.moving(f.node_id) == Some(true);
        match (p, t.presence) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            _ => {}
        }
        let tm = t.motion == MotionState::Moving;
        match (m, tm) {
            (true, true) => mtp += 1,
            (true, false) => mfp += 1,
            (false, true) => mfn += 1,
            _ => {}
        }
    }
    let f1 = |tp: i32, fp: i32, fne: i32| {
        if tp == 0 {
            if fp + fne == 0 {
                1.0
            } else {
                0.0
            }
        } else {
            2.0 * tp as f64 / (2 * tp + fp + fne) as f64
        }
    };
    println!(
        "presence tp {tp} fp {fp} fn {fneg} F1 {:.4}; motion tp {mtp} fp {mfp} fn {mfn} F1 {:.4}",
        f1(tp, fp, fneg),
        f1(mtp, mfp, mfn)
    );
    println!("{:?}", a.stats());
}
