use ndarray::Array3;
use num_complex::Complex32;
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device, Stage};

use super::*;

fn frame(node: u32, t_ns: i64, csi: Array3<Complex32>) -> CsiFrame {
    let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
    f.node_id = node;
    f.timestamp_ns = t_ns;
    f.clock = Clock::Simulated;
    f
}

fn run_all(stage: &mut dyn Stage, frames: Vec<CsiFrame>) -> Vec<CsiFrame> {
    let mut out = Vec::new();
    for f in frames {
        stage.process_into(f, &mut out).unwrap();
    }
    out.extend(stage.flush().unwrap());
    out
}

#[test]
fn every_stage_parses_and_builds() {
    let list =
        "resample:100hz:max_gap=1s,sanitize,ratio:ref=1:mode=conj,hampel:window=15:k=3:on=iq,\
                normalize:mode=agc:step=6db,dc:tau=50,lowpass:2hz,highpass:fc=0.1:order=2,\
                bandpass:low=0.1hz:high=0.6hz,select:top=5:baseline=100:window=50";
    let specs = parse_stages(list).unwrap();
    assert_eq!(specs.len(), 10);
    let n = Notices::default();
    for s in &specs {
        let st = s.build(&n).unwrap();
        assert_eq!(st.name(), s.name());
    }
    assert_eq!(
        specs[3],
        StageSpec::Hampel(HampelStageConfig {
            hampel: crate::hampel::HampelConfig { window: 15, k: 3.0 },
            on: HampelOn::Iq
        })
    );
    // serde round trip of the whole list
    let j = serde_json::to_string(&specs).unwrap();
    let back: Vec<StageSpec> = serde_json::from_str(&j).unwrap();
    assert_eq!(back, specs);
}

#[test]
fn bad_specs_name_stage_parameter_and_range() {
    for (spec, words) in [
        ("hampel:window=4", vec!["hampel", "window", "odd"]),
        ("hampel:k=-1", vec!["hampel", "k", "0..="]),
        ("resample:0hz", vec!["resample", "rate", "0.01..=100000"]),
        ("resample", vec!["resample", "rate", "missing"]),
        ("lowpass:fc=abc", vec!["lowpass", "fc"]),
        ("bandpass:low=2:high=1", vec!["bandpass", "low"]),
        ("ratio:ref=9", vec!["ratio", "ref", "0..=7"]),
        ("ratio:mode=div", vec!["ratio", "mode", "ratio, conj"]),
        ("normalize:step=0db", vec!["normalize", "step"]),
        ("select:top=3:threshold=2", vec!["select", "top"]),
        (
            "hampel:size=3",
            vec!["hampel", "unknown parameter `size`", "window, k, on"],
        ),
        (
            "hampel:windw=5",
            vec!["hampel: unknown parameter `windw` (did you mean `window`?)"],
        ),
        (
            "sanitize:x=1",
            vec!["sanitize", "unknown parameter `x`", "no parameters"],
        ),
        ("wobble", vec!["unknown stage", "wobble", "hampel"]),
        (
            "band_pass:low=1:high=2",
            vec!["unknown stage `band_pass` (did you mean `bandpass`?)"],
        ),
        ("hamppel", vec!["(did you mean `hampel`?)"]),
        ("hampel,,dc", vec!["empty stage"]),
        ("dc:tau=-1s", vec!["dc", "tau"]),
    ] {
        let e = parse_stages(spec).unwrap_err().to_string();
        for w in words {
            assert!(e.contains(w), "{spec}: {e} lacks {w}");
        }
    }
}

fn chain_phase(csi: &Array3<Complex32>) -> Vec<f32> {
    csi.iter().map(|c| c.arg()).collect()
}

#[test]
fn sanitize_stage_removes_linear_phase_per_chain() {
    let idx: Vec<i16> = (-28..=28).filter(|&k| k != 0).collect();
    let n = idx.len();
    let base = Array3::from_shape_fn((2, 2, n), |(r, t, k)| {
        Complex32::from_polar(1.0 + 0.1 * r as f32, 0.3 * ((k + t) as f32 * 0.2).sin())
    });
    let shifted = Array3::from_shape_fn((2, 2, n), |(r, t, k)| {
        let extra = 0.2 * f32::from(idx[k]) + 1.5 * (r + 2 * t) as f32;
        base[[r, t, k]] * Complex32::from_polar(1.0, extra)
    });
    let mut a = frame(0, 0, base);
    let mut b = frame(0, 0, shifted);
    a.subcarriers = Some(idx.clone());
    b.subcarriers = Some(idx);
    let mut st = SanitizeStage::new(SanitizeConfig {}, Notices::default());
    let a = st.process(a).unwrap().unwrap();
    let b = st.process(b).unwrap().unwrap();
    for (x, y) in a.csi.iter().zip(b.csi.iter()) {
        assert!((x - y).norm() < 1e-4);
    }
    // amplitudes kept
    assert!((a.csi[[1, 0, 3]].norm() - 1.1).abs() < 1e-5);
    assert!(chain_phase(&a.csi).iter().all(|p| p.is_finite()));
}

#[test]
fn ratio_cancels_common_offsets_and_says_once_when_it_cannot_apply() {
    let notices = Notices::default();
    let mut st = RatioStage::new(RatioConfig::default(), notices.clone());
    let h0 = Complex32::new(0.5, 0.5);
    let h1 = Complex32::new(1.0, -0.25);
    let mut outs = Vec::new();
    for i in 0..5 {
        let common = Complex32::from_polar(2.0 + i as f32, 0.7 * i as f32);
        let csi = Array3::from_shape_fn(
            (2, 1, 4),
            |(r, _, _)| if r == 0 { h0 * common } else { h1 * common },
        );
        outs.push(st.process(frame(0, i, csi)).unwrap().unwrap());
    }
    for o in &outs {
        assert_eq!(o.shape(), (1, 1, 4));
        assert!((o.csi[[0, 0, 2]] - h1 / h0).norm() < 1e-5);
    }
    for _ in 0..3 {
        let f = st
            .process(frame(1, 0, Array3::from_elem((1, 1, 4), h0)))
            .unwrap()
            .unwrap();
        assert_eq!(f.shape(), (1, 1, 4));
    }
    let said = notices.take();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("node 1") && said[0].contains("1 rx chain"));
}

#[test]
fn hampel_stage_replaces_spike_with_delay_and_counts() {
    let notices = Notices::default();
    let cfg: HampelStageConfig = "hampel:window=5:k=3".parse().unwrap();
    let mut st = HampelStage::new(cfg, notices.clone()).unwrap();
    let frames: Vec<CsiFrame> = (0..40)
        .map(|i| {
            let mut csi = Array3::from_shape_fn((1, 1, 8), |(_, _, k)| {
                Complex32::from_polar(1.0 + 0.01 * ((i * 7 + k) % 5) as f32, 0.3)
            });
            if i == 20 {
                csi[[0, 0, 3]] = Complex32::from_polar(25.0, 0.3);
            }
            frame(0, i as i64 * 10_000_000, csi)
        })
        .collect();
    let out = run_all(&mut st, frames);
    assert_eq!(out.len(), 40);
    // order kept, spike gone, phase kept
    for (i, f) in out.iter().enumerate() {
        assert_eq!(f.timestamp_ns, i as i64 * 10_000_000);
    }
    assert!(out[20].csi[[0, 0, 3]].norm() < 1.1);
    assert!((out[20].csi[[0, 0, 3]].arg() - 0.3).abs() < 1e-5);
    assert_eq!(st.replaced(), 1);
    let said = notices.take();
    assert!(said.iter().any(|m| m.contains("replaced 1 of")), "{said:?}");
}

#[test]
fn hampel_stage_shorter_than_window_says_once() {
    let notices = Notices::default();
    let mut st = HampelStage::new("hampel:window=31".parse().unwrap(), notices.clone()).unwrap();
    let frames = (0..10)
        .map(|i| frame(0, i, Array3::from_elem((1, 1, 4), Complex32::new(1.0, 0.0))))
        .collect();
    let out = run_all(&mut st, frames);
    assert_eq!(out.len(), 10);
    let said = notices.take();
    assert_eq!(said.len(), 1);
    assert!(said[0].contains("fewer than the window of 31"), "{said:?}");
}

#[test]
fn normalize_rms_and_agc_steps() {
    let mut st = NormalizeStage::new(NormalizeConfig::default(), Notices::default());
    let f = st
        .process(frame(
            0,
            0,
            Array3::from_elem((2, 1, 8), Complex32::new(3.0, 4.0)),
        ))
        .unwrap()
        .unwrap();
    assert!(f.csi.iter().all(|c| (c.norm() - 1.0).abs() < 1e-6));

    let notices = Notices::default();
    let mut st = NormalizeStage::new(
        "normalize:mode=agc:step=3db".parse().unwrap(),
        notices.clone(),
    );
    let mut amps = Vec::new();
    for i in 0..20 {
        // slow 1 %/frame drift, and a 10 dB AGC step at frame 10
        let g = 1.01f32.powi(i) * if i >= 10 { 3.1623 } else { 1.0 };
        let f = st
            .process(frame(
                0,
                i as i64,
                Array3::from_elem((1, 1, 4), Complex32::new(g, 0.0)),
            ))
            .unwrap()
            .unwrap();
        amps.push(f.csi[[0, 0, 0]].norm());
    }
    // the step is undone (the drift of the step frame goes with it); the drift passes
    for (i, w) in amps.windows(2).enumerate() {
        let want = if i == 9 { 1.0 } else { 1.01 };
        assert!((w[1] / w[0] - want).abs() < 1e-3, "{amps:?}");
    }
    st.flush().unwrap();
    assert!(notices.take().iter().any(|m| m.contains("1 AGC steps")));
}

#[test]
fn dc_removes_constant() {
    let mut st = DcStage::new("dc:tau=0.1s".parse().unwrap(), Notices::default());
    let mut last = None;
    for i in 0..200 {
        let f = st
            .process(frame(
                0,
                i * 10_000_000,
                Array3::from_elem((1, 1, 4), Complex32::new(5.0, -2.0)),
            ))
            .unwrap()
            .unwrap();
        last = Some(f);
    }
    assert!(last.unwrap().csi.iter().all(|c| c.norm() < 1e-5));
}

#[test]
fn lowpass_stage_uses_measured_rate() {
    // at 37 Hz measured (never assumed), keep 0.5 Hz, remove 8 Hz
    for fs in [37.0f64, 211.0] {
        let mut st = FilterStage::new(
            "lowpass:fc=2hz:order=4".parse().unwrap(),
            Notices::default(),
        )
        .unwrap();
        let frames: Vec<CsiFrame> = (0..(fs as usize * 20))
            .map(|i| {
                let t = i as f64 / fs;
                let v = (2.0 * std::f64::consts::PI * 0.5 * t).sin()
                    + (2.0 * std::f64::consts::PI * 8.0 * t).sin();
                frame(
                    0,
                    (t * 1e9) as i64,
                    Array3::from_elem((1, 1, 2), Complex32::new(v as f32, 0.0)),
                )
            })
            .collect();
        let out = run_all(&mut st, frames);
        assert_eq!(out.len(), fs as usize * 20);
        // after settling, the output follows the 0.5 Hz part (with the filter's delay)
        let tail: Vec<f64> = out[out.len() / 2..]
            .iter()
            .map(|f| f64::from(f.csi[[0, 0, 0]].re))
            .collect();
        let peak = tail.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!((peak - 1.0).abs() < 0.05, "fs {fs}: peak {peak}");
    }
}

#[test]
fn filter_is_designed_at_the_sampling_rate_despite_drops() {
    // 50 Hz with 4 of the first 32 frames lost: 43.75 frames a second arrive in the warm-up,
    // but the corner 23 Hz is below half the 50 Hz the frames are sampled at
    let notices = Notices::default();
    let mut st = FilterStage::new("lowpass:fc=23hz".parse().unwrap(), notices.clone()).unwrap();
    let frames: Vec<CsiFrame> = (0..200i64)
        .filter(|i| ![2, 7, 8, 15].contains(i))
        .map(|i| {
            // 25 Hz (the Nyquist frequency): removed by the lowpass
            let v = if i % 2 == 0 { 1.0 } else { -1.0 };
            frame(
                0,
                i * 20_000_000,
                Array3::from_elem((1, 1, 2), Complex32::new(v, 0.0)),
            )
        })
        .collect();
    let out = run_all(&mut st, frames);
    assert_eq!(out.len(), 196);
    let said = notices.take();
    assert!(said.is_empty(), "{said:?}");
    let tail = out[100..]
        .iter()
        .fold(0.0f32, |m, f| m.max(f.csi[[0, 0, 0]].re.abs()));
    assert!(tail < 0.05, "{tail}");
}

#[test]
fn filter_that_cannot_apply_says_once() {
    let notices = Notices::default();
    let mut st = FilterStage::new("lowpass:fc=30hz".parse().unwrap(), notices.clone()).unwrap();
    let frames = (0..100)
        .map(|i| {
            frame(
                0,
                i * 20_000_000,
                Array3::from_elem((1, 1, 2), Complex32::new(1.0, 0.0)),
            )
        })
        .collect();
    let out = run_all(&mut st, frames);
    assert_eq!(out.len(), 100);
    let said = notices.take();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("50.000 Hz") && said[0].contains("fs/2"),
        "{said:?}"
    );
}

#[test]
fn resample_stage_upsamples_jittered_stream_and_reports_gaps() {
    let notices = Notices::default();
    let mut st = ResampleStage::new(
        "resample:100hz:max_gap=0.2s".parse().unwrap(),
        notices.clone(),
    )
    .unwrap();
    let mut frames = Vec::new();
    for i in 0..500i64 {
        if (200..260).contains(&i) {
            continue; // 1.2 s hole
        }
        let jitter = ((i * 7919) % 11 - 5) * 1_000_000; // +-5 ms
        let t = i * 20_000_000 + jitter;
        let v = (2.0 * std::f64::consts::PI * 0.7 * t as f64 * 1e-9).sin() as f32;
        frames.push(frame(
            3,
            t,
            Array3::from_elem((1, 1, 2), Complex32::new(v, 0.0)),
        ));
    }
    let out = run_all(&mut st, frames);
    // ~ (10 s - 1.2 s) at 100 Hz
    assert!((out.len() as i64 - 880).abs() < 10, "{}", out.len());
    let mut gaps = 0;
    for w in out.windows(2) {
        let d = w[1].timestamp_ns - w[0].timestamp_ns;
        if d > 10_000_001 {
            gaps += 1;
            assert!(d > 1_000_000_000);
        } else {
            assert!((d - 10_000_000).abs() <= 1);
        }
    }
    assert_eq!(gaps, 1);
    for f in &out {
        let want = (2.0 * std::f64::consts::PI * 0.7 * f.timestamp_ns as f64 * 1e-9).sin();
        assert!((f64::from(f.csi[[0, 0, 0]].re) - want).abs() < 0.01);
    }
    let said = notices.take();
    assert!(
        said.iter()
            .any(|m| m.contains("node 3") && m.contains("not bridged")),
        "{said:?}"
    );
}

/// Frames of a node whose subcarriers 4 and 11 move from frame 100 on (with `switch`, 7 and 11
/// from frame 200 on).
fn select_stream(n: usize, switch: bool) -> Vec<CsiFrame> {
    (0..n)
        .map(|i| {
            let csi = Array3::from_shape_fn((2, 1, 16), |(_, _, k)| {
                let noise = 0.01 * (((i * 31 + k * 17) % 7) as f32 - 3.0);
                let first = if switch && i >= 200 { 7 } else { 4 };
                let motion = if i >= 100 && (k == first || k == 11) {
                    0.5 * ((i as f32) * 0.9).sin()
                } else {
                    0.0
                };
                Complex32::new(1.0 + noise + motion, 0.0)
            });
            let mut f = frame(0, i as i64, csi);
            f.subcarriers = Some((0..16).map(|k| k * 2 - 16).collect());
            f
        })
        .collect()
}

#[test]
fn select_finds_the_moving_subcarrier_and_keeps_one_layout() {
    let mut st = SelectStage::new(
        "select:top=2:baseline=100:window=50".parse().unwrap(),
        Notices::default(),
    );
    let mut out = Vec::new();
    for (i, f) in select_stream(300, true).into_iter().enumerate() {
        st.process_into(f, &mut out).unwrap();
        // the baseline and the first window are held until the selection is made
        assert_eq!(out.len(), if i < 150 { 0 } else { i + 1 }, "frame {i}");
    }
    assert!(st.flush().unwrap().is_empty());
    // every frame, the held ones included, in order and with the one selection
    assert_eq!(out.len(), 300);
    for (i, f) in out.iter().enumerate() {
        assert_eq!(f.timestamp_ns, i as i64);
        assert_eq!(f.shape(), (2, 1, 2));
        assert_eq!(f.subcarriers, Some(vec![4 * 2 - 16, 11 * 2 - 16]));
    }
    assert_eq!(
        out[0].csi[[1, 0, 1]],
        select_stream(1, false)[0].csi[[1, 0, 11]]
    );
}

#[test]
fn select_reselect_recomputes_the_selection_every_window() {
    let mut st = SelectStage::new(
        "select:top=2:baseline=100:window=50:reselect=true"
            .parse()
            .unwrap(),
        Notices::default(),
    );
    let mut out = Vec::new();
    for f in select_stream(300, true) {
        st.process_into(f, &mut out).unwrap();
    }
    assert_eq!(out.len(), 300);
    assert!(out.iter().all(|f| f.shape() == (2, 1, 2)));
    assert_eq!(out[0].subcarriers, Some(vec![4 * 2 - 16, 11 * 2 - 16]));
    // the motion moved to subcarrier 7: a later window chooses it
    assert_eq!(out[299].subcarriers, Some(vec![7 * 2 - 16, 11 * 2 - 16]));
}

#[test]
fn select_releases_held_frames_whole_when_the_stream_ends_first() {
    let notices = Notices::default();
    let mut st = SelectStage::new(
        "select:top=2:baseline=100:window=50".parse().unwrap(),
        notices.clone(),
    );
    let mut out = Vec::new();
    for f in select_stream(120, false) {
        st.process_into(f, &mut out).unwrap();
    }
    assert!(out.is_empty());
    let rest = st.flush().unwrap();
    assert_eq!(rest.len(), 120);
    assert!(rest.iter().all(|f| f.shape() == (2, 1, 16)));
    assert!(notices
        .take()
        .iter()
        .any(|m| m.contains("node 0 ended before")));
}

/// Zero-phase filter stage: each value's series equals `sosfiltfilt` of it (the whole stream as
/// one block), a slow sine passes with no delay, and blocks release frames as they fill.
#[test]
fn zero_phase_filter_stage_equals_sosfiltfilt_and_has_no_delay() {
    let rate = 50.0;
    let n = 600;
    let series = |k: usize, i: usize| -> f32 {
        let t = i as f64 / rate;
        ((2.0 * std::f64::consts::PI * 0.5 * t + k as f64).sin()
            + 0.5 * (2.0 * std::f64::consts::PI * 9.0 * t).sin()) as f32
    };
    let frames: Vec<CsiFrame> = (0..n)
        .map(|i| {
            let csi = Array3::from_shape_fn((1, 1, 4), |(_, _, k)| {
                Complex32::new(series(k, i), -series(k, i))
            });
            frame(2, (i as f64 * 1e9 / rate) as i64, csi)
        })
        .collect();
    let cfg: FilterConfig = "lowpass:fc=2hz:order=4:zero_phase=all".parse().unwrap();
    assert_eq!(cfg.zero_phase, Some(ZeroPhase::All));
    let mut st = FilterStage::new(cfg, Notices::default()).unwrap();
    let mut out = Vec::new();
    for f in frames.clone() {
        st.process_into(f, &mut out).unwrap();
    }
    assert!(out.is_empty(), "whole-stream mode releases at the end");
    out.extend(st.flush().unwrap());
    assert_eq!(out.len(), n);
    let sos = cfg.design(rate).unwrap();
    for k in 0..4 {
        let x: Vec<f64> = (0..n).map(|i| f64::from(series(k, i))).collect();
        let want = crate::biquad::sosfiltfilt(&sos, &x, None).unwrap();
        for (i, f) in out.iter().enumerate() {
            assert!((f64::from(f.csi[[0, 0, k]].re) - want[i]).abs() < 1e-5);
            assert!((f64::from(f.csi[[0, 0, k]].im) + want[i]).abs() < 1e-5);
        }
        // zero phase: the 0.5 Hz part comes out in place (no delay), the 9 Hz part removed
        for (i, f) in out.iter().enumerate().take(500).skip(100) {
            let slow = (2.0 * std::f64::consts::PI * 0.5 * i as f64 / rate + k as f64).sin();
            assert!((f64::from(f.csi[[0, 0, k]].re) - slow).abs() < 0.02, "{i}");
        }
    }
    // blocks of 2 s: released block by block while the stream runs
    let mut st = FilterStage::new(
        "lowpass:fc=2hz:zero_phase=2s".parse().unwrap(),
        Notices::default(),
    )
    .unwrap();
    let mut out = Vec::new();
    for f in frames.iter().take(350).cloned() {
        st.process_into(f, &mut out).unwrap();
    }
    assert_eq!(out.len(), 300);
    out.extend(st.flush().unwrap());
    assert_eq!(out.len(), 350);
    assert!(out.iter().all(|f| f.csi.iter().all(|c| c.re.is_finite())));
    for bad in [
        "lowpass:2hz:zero_phase=yes",
        "lowpass:2hz:zero_phase=3",
        "bandpass:low=1:high=2:zero_phase=-1s",
    ] {
        let e = bad.parse::<FilterConfig>().unwrap_err().to_string();
        assert!(e.contains("zero_phase"), "{e}");
    }
}

#[test]
fn select_holds_at_most_max_held_frames_per_node() {
    use crate::stages::select::MAX_HELD_FRAMES;
    let notices = Notices::default();
    let mut st = SelectStage::new(
        "select:top=1:baseline=20000:window=50".parse().unwrap(),
        notices.clone(),
    );
    let mut out = Vec::new();
    for i in 0..MAX_HELD_FRAMES + 5 {
        let csi = Array3::from_elem((1, 1, 4), Complex32::new(1.0, 0.0));
        st.process_into(frame(0, i as i64, csi), &mut out).unwrap();
    }
    // the oldest five went on whole, in order; the rest stay held until the end
    assert_eq!(out.len(), 5);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, f)| f.timestamp_ns == i as i64));
    assert!(notices.take().iter().any(|m| m.contains("node 0 has held")));
    assert_eq!(st.flush().unwrap().len(), MAX_HELD_FRAMES);
}

#[test]
fn filter_config_built_by_hand_is_checked() {
    let ok: FilterConfig = "bandpass:low=0.1hz:high=0.5hz".parse().unwrap();
    assert!(FilterStage::new(ok, Notices::default()).is_ok());
    let bad = |c: FilterConfig, what: &str| {
        let e = FilterStage::new(c, Notices::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(what), "{e}");
    };
    bad(
        FilterConfig {
            kind: FilterKind::Lowpass { fc: -3.0 },
            ..ok
        },
        "fc",
    );
    bad(
        FilterConfig {
            kind: FilterKind::Highpass { fc: f64::NAN },
            ..ok
        },
        "fc",
    );
    bad(
        FilterConfig {
            kind: FilterKind::Bandpass {
                low: 2.0,
                high: 1.0,
            },
            ..ok
        },
        "below high",
    );
    bad(FilterConfig { order: 99, ..ok }, "order");
    bad(FilterConfig { warmup: 0, ..ok }, "warmup");
    bad(
        FilterConfig {
            zero_phase: Some(ZeroPhase::Block(crate::stft::Span::Frames(2))),
            ..ok
        },
        "zero_phase",
    );
    // every spec the parser accepts passes the check
    for spec in [
        "lowpass:3hz",
        "highpass:fc=0.05hz:order=8:warmup=4",
        "bandpass:low=1hz:high=2hz:zero_phase=all",
        "lowpass:1hz:zero_phase=10s",
    ] {
        let c: FilterConfig = spec.parse().unwrap();
        assert!(c.validate().is_ok(), "{spec}");
    }
}

#[test]
fn stages_and_analysers_are_found_in_a_built_pipeline() {
    use wifi_sensing_core::Pipeline;
    let notices = Notices::default();
    let mut b = Pipeline::builder();
    for spec in parse_stages("sanitize,hampel:window=5:k=1").unwrap() {
        b = b.boxed_stage(spec.build(&notices).unwrap());
    }
    let sensing = crate::SensingAnalyser::new(crate::SensingConfig::default(), None).unwrap();
    let mut p = b.analyser(sensing).build().unwrap();
    // every 10th frame an outlier on subcarrier 0: the Hampel stage replaces it
    let frames: Vec<CsiFrame> = (0..200)
        .map(|i| {
            let csi = Array3::from_shape_fn((1, 1, 8), |(_, _, k)| {
                let v = if k == 0 && i % 10 == 5 { 50.0 } else { 1.0 };
                Complex32::new(v, 0.0)
            });
            frame(0, i * 20_000_000, csi)
        })
        .collect();
    let n = p.process(frames.into_iter().map(Ok)).count();
    assert!(n > 0);
    let replaced = p.find_stage::<HampelStage>().unwrap().replaced();
    assert!(replaced >= 19, "{replaced}");
    assert!(p.find_stage::<SanitizeStage>().is_some());
    assert!(p.find_stage::<FilterStage>().is_none());
    let stats = p.find_analyser::<crate::SensingAnalyser>().unwrap().stats();
    assert!(stats.frames > 150, "{stats:?}");
}
