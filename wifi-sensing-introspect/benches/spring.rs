//! Per-frame cost of streaming matching: 52-dimensional features against 10 signatures of 64
//! frames (the budget: p99 under 10 µs per frame for all ten).
//!
//! Criterion measures the mean; the percentiles come from timing 200 000 single frames after
//! the Criterion run (wall time and, on Linux, thread CPU time, which leaves out preemption on
//! a shared machine). `SPRING_ONLY=1` stops after the SPRING timings (the whole analyser's are
//! skipped).

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use wifi_sensing_introspect::dtw::SpringMatcher;

const DIM: usize = 52;
const LEN: usize = 64;
const SIGS: usize = 10;

/// A small deterministic generator (xorshift), values in [-1, 1).
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn setup() -> (Vec<SpringMatcher<f32>>, Vec<Vec<f32>>) {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let matchers = (0..SIGS)
        .map(|_| {
            let q: Vec<f64> = (0..LEN * DIM).map(|_| g.next()).collect();
            let mut m = SpringMatcher::<f32>::new(&q, DIM).unwrap();
            let thr: Vec<Option<f64>> = (0..LEN).map(|_| Some(0.9)).collect();
            m.set_thresholds(&thr, 2).unwrap();
            m
        })
        .collect();
    let frames = (0..4096)
        .map(|_| (0..DIM).map(|_| g.next() as f32).collect())
        .collect();
    (matchers, frames)
}

fn bench(c: &mut Criterion) {
    let (mut ms, frames) = setup();
    let mut i = 0;
    c.bench_function(
        "spring 10 signatures x 64 frames x 52 dims, one frame",
        |b| {
            b.iter(|| {
                let x = &frames[i % frames.len()];
                i += 1;
                for m in ms.iter_mut() {
                    black_box(m.push(black_box(x)).unwrap());
                }
            })
        },
    );
    c.bench_function(
        "spring 10 signatures x 64 frames x 52 dims, one frame, push_all",
        |b| {
            b.iter(|| {
                let x = &frames[i % frames.len()];
                i += 1;
                SpringMatcher::push_all(black_box(&mut ms), black_box(x)).unwrap();
            })
        },
    );
    // Percentiles of single-frame latency: one matcher after the other, then all together
    // (interleaved recurrences, what the analyser runs).
    time_calls(
        "spring per-frame update (10 x 64 x 52), push each",
        200_000,
        |k| {
            let x = &frames[k % frames.len()];
            for m in ms.iter_mut() {
                black_box(m.push(black_box(x)).unwrap());
            }
        },
    );
    time_calls(
        "spring per-frame update (10 x 64 x 52), push_all",
        200_000,
        |k| {
            let x = &frames[k % frames.len()];
            SpringMatcher::push_all(black_box(&mut ms), black_box(x)).unwrap();
            black_box(ms[k % SIGS].state());
        },
    );
    if std::env::var_os("SPRING_ONLY").is_some() {
        std::process::exit(0);
    }
}

/// Thread CPU time in nanoseconds (Linux; `None` elsewhere): what a call cost this thread,
/// without the time it was preempted on a shared machine.
#[cfg(target_os = "linux")]
fn cpu_ns() -> Option<u64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn cpu_ns() -> Option<u64> {
    None
}

/// Times `n` single calls of `f(k)` and prints p50 / p99 / p99.9 / max in microseconds, of the
/// wall time and (Linux) of the thread CPU time, with what reading the CPU clock itself costs
/// (an empty call's median, included in the CPU figures).
fn time_calls(what: &str, n: usize, mut f: impl FnMut(usize)) {
    let mut t = Vec::with_capacity(n);
    let mut c = Vec::with_capacity(n);
    for k in 0..n {
        let c0 = cpu_ns();
        let s = Instant::now();
        f(k);
        t.push(s.elapsed().as_nanos() as u64);
        if let (Some(c0), Some(c1)) = (c0, cpu_ns()) {
            c.push(c1 - c0);
        }
    }
    let mut empty: Vec<u64> = (0..10_000)
        .filter_map(|_| Some(cpu_ns()?.wrapping_neg().wrapping_add(cpu_ns()?)))
        .collect();
    let pct = |v: &mut Vec<u64>, q: f64| {
        v.sort_unstable();
        v[((v.len() - 1) as f64 * q) as usize] as f64 / 1000.0
    };
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64 / 1000.0;
    eprintln!(
        "{what}: wall mean {:.2} us, p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us, max {:.2} us",
        mean(&t),
        pct(&mut t, 0.5),
        pct(&mut t, 0.99),
        pct(&mut t, 0.999),
        pct(&mut t, 1.0)
    );
    if !c.is_empty() && !empty.is_empty() {
        eprintln!(
            "{what}: thread CPU mean {:.2} us, p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us, max {:.2} us (reading the clock: {:.2} us)",
            mean(&c),
            pct(&mut c, 0.5),
            pct(&mut c, 0.99),
            pct(&mut c, 0.999),
            pct(&mut c, 1.0),
            pct(&mut empty, 0.5)
        );
    }
}

/// The whole analyser per frame: features from an ESP32 frame, the same 10 signatures, the
/// dynamics tracker and the snapshot (with its top-3 list).
fn whole_analyser(c: &mut Criterion) {
    use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
    use wifi_sensing_introspect::dynamics::{DynamicsConfig, DynamicsTracker};
    use wifi_sensing_introspect::signature::{Signature, SignatureLibrary};
    use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};
    let mut g = Gen(0x1234_5678_9abc_def1);
    let sigs = (0..SIGS)
        .map(|k| Signature {
            id: format!("s{k}"),
            label: format!("l{k}"),
            captured_at: "2026-12-05T15:00:00Z".into(),
            feature_kind: Default::default(),
            length: LEN,
            dtw: Default::default(),
            vectors: (0..LEN)
                .map(|_| (0..DIM).map(|_| 0.05 * g.next()).collect())
                .collect(),
            promotion_threshold: 0.9,
            prefix_thresholds: None,
            min_prefix: None,
            provenance: None,
            spread: None,
        })
        .collect();
    let lib = SignatureLibrary::from_signatures(sigs, Vec::new()).unwrap();
    let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), lib).unwrap();
    let scenario = Scenario::preset("walk", 60.0).unwrap();
    let frames: Vec<_> = Simulator::new(scenario, DeviceProfile::esp32(), 3)
        .unwrap()
        .map(|(f, _)| f)
        .collect();
    let mut i = 0;
    c.bench_function(
        "introspection analyser, 10 signatures x 64 x 52 + dynamics, one frame",
        |b| {
            b.iter(|| {
                let f = &frames[i % frames.len()];
                i += 1;
                black_box(a.push(black_box(f)).unwrap());
            })
        },
    );
    time_calls(
        "introspection analyser per frame (features + 10 x 64 x 52 SPRING + dynamics + snapshot)",
        frames.len() * 20,
        |k| {
            black_box(a.push(black_box(&frames[k % frames.len()])).unwrap());
        },
    );
    // With early labelling (the four early fixtures), then also with the event path's
    // MotionStarted opening episodes (a motion and presence detector run per frame inside).
    let early = || {
        SignatureLibrary::load_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/signatures/early"
        ))
        .unwrap()
    };
    // The event path keeps its own clock: the frames are repeated with timestamps that go on
    // increasing (a stream that jumps back in time restarts its state).
    let span = frames.last().unwrap().timestamp_ns - frames[0].timestamp_ns + 20_000_000;
    let long: Vec<_> = (0..20i64)
        .flat_map(|r| {
            frames.iter().map(move |f| {
                let mut f = f.clone();
                f.timestamp_ns += r * span;
                f
            })
        })
        .collect();
    for event_onset in [false, true] {
        let mut e = IntrospectionAnalyser::new(IntrospectionConfig::default(), a.library().clone())
            .unwrap()
            .with_early(early())
            .unwrap();
        if event_onset {
            e = e
                .with_event_onset(wifi_sensing_signal::events::EventConfig::default(), None)
                .unwrap();
        }
        time_calls(
            &format!(
                "introspection analyser per frame + early labelling{}",
                if event_onset { " + event onset" } else { "" }
            ),
            long.len(),
            |k| {
                black_box(e.push(black_box(&long[k])).unwrap());
            },
        );
    }
    // `run --events --introspect-early`: the run's event path (as `--events` configures it)
    // and the introspection analyser with early labelling, which runs a second motion and
    // presence detector of its own (two event paths, as before) or takes the run's onsets
    // (`push_with_event_onset`, one event path shared, what the CLI now does).
    for shared in [false, true] {
        use wifi_sensing_introspect::snapshot::motion_started;
        use wifi_sensing_signal::{SensingAnalyser, SensingConfig};
        let mut events = SensingAnalyser::new(
            SensingConfig {
                vitals: None,
                ..SensingConfig::default()
            },
            None,
        )
        .unwrap();
        let mut e = IntrospectionAnalyser::new(IntrospectionConfig::default(), a.library().clone())
            .unwrap()
            .with_early(early())
            .unwrap();
        if !shared {
            e = e
                .with_event_onset(wifi_sensing_signal::events::EventConfig::default(), None)
                .unwrap();
        }
        let mut sensed = Vec::new();
        time_calls(
            &format!(
                "events + introspection analyser with early labelling per frame, {}",
                if shared {
                    "one event path shared"
                } else {
                    "two event paths"
                }
            ),
            long.len(),
            |k| {
                let f = black_box(&long[k]);
                sensed.clear();
                events.push(f, &mut sensed).unwrap();
                let s = if shared {
                    e.push_with_event_onset(f, motion_started(&sensed, f.node_id))
                } else {
                    e.push(f)
                };
                black_box(s.unwrap());
            },
        );
    }
    // The dynamics tracker alone, on the same frames' scalar summary (mean amplitude).
    let mut fx =
        wifi_sensing_introspect::features::FeatureExtractor::new(Default::default()).unwrap();
    let scalars: Vec<f64> = frames
        .iter()
        .map(|f| {
            fx.extract(f).unwrap();
            fx.scalar()
        })
        .collect();
    // work_per_frame 0: every classification on its update frame (the previous behaviour).
    for work in [0, DynamicsConfig::default().work_per_frame] {
        let cfg = DynamicsConfig {
            work_per_frame: work,
            ..DynamicsConfig::default()
        };
        let mut tr = DynamicsTracker::new(cfg).unwrap();
        time_calls(
            &format!("dynamics tracker alone per frame (work_per_frame {work})"),
            scalars.len() * 20,
            |k| {
                black_box(tr.push(black_box(scalars[k % scalars.len()])));
            },
        );
    }
}

criterion_group!(benches, bench, whole_analyser);
criterion_main!(benches);
