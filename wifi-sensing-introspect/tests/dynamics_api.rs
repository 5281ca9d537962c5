//! Tracker API behaviour, accuracy of the exponent on known systems, errors.

use wifi_sensing_introspect::dynamics::*;

fn logistic(n: usize, x0: f64) -> Vec<f64> {
    let mut v = x0;
    for _ in 0..1000 {
        v = 4.0 * v * (1.0 - v);
    }
    (0..n)
        .map(|_| {
            v = 4.0 * v * (1.0 - v);
            v
        })
        .collect()
}

fn henon(n: usize) -> Vec<f64> {
    let (mut a, mut b) = (0.2, 0.05);
    let mut out = Vec::new();
    for i in 0..n + 1000 {
        let na = 1.0 - 1.4 * a * a + b;
        b = 0.3 * a;
        a = na;
        if i >= 1000 {
            out.push(a);
        }
    }
    out
}

const MAP: RosensteinParams = RosensteinParams {
    emb_dim: 2,
    lag: 1,
    min_tsep: 10,
    trajectory_len: 6,
    fit_offset: 0,
    tau: 1.0,
};

#[test]
fn logistic_r4_within_0_02_of_ln2() {
    for x0 in [0.1234, 0.31, 0.77] {
        let l = lyap_r(&logistic(2000, x0), &MAP).unwrap().exponent;
        eprintln!("logistic r=4 (x0 {x0}): {l:.5} (ln 2 = 0.69315)");
        assert!((l - std::f64::consts::LN_2).abs() < 0.02, "{l}");
    }
}

#[test]
fn henon_within_0_03_of_0_419() {
    let l = lyap_r(&henon(2000), &MAP).unwrap().exponent;
    eprintln!("Henon: {l:.5} (reference 0.41934)");
    assert!((l - 0.41934).abs() < 0.03, "{l}");
}

#[test]
fn errors_are_reported_not_panicked() {
    assert!(matches!(
        lyap_r(&[1.0, f64::NAN, 2.0], &MAP),
        Err(DynamicsError::NonFinite { index: 1 })
    ));
    assert!(matches!(
        lyap_r(&[1.0; 10], &MAP),
        Err(DynamicsError::TooShort { .. })
    ));
    assert!(lyap_r(&[], &MAP).is_err());
    let bad = RosensteinParams { emb_dim: 0, ..MAP };
    assert!(matches!(
        Rosenstein::new(bad),
        Err(DynamicsError::InvalidConfig {
            field: "emb_dim",
            ..
        })
    ));
    assert!(CorrDim::new(2, 1)
        .unwrap()
        .estimate(&[3.0; 50], None)
        .is_err());
    assert!(CorrDim::new(2, 1)
        .unwrap()
        .estimate(&logistic(100, 0.2), Some(&[0.5, 0.1]))
        .is_err());
    // A constant series: every neighbour distance is zero.
    let c = lyap_r(&[2.0; 100], &MAP).unwrap();
    assert_eq!(c.exponent, f64::NEG_INFINITY);
    assert!(c.div_traj.is_empty());
}

#[test]
fn config_validation_names_the_field() {
    let bad = |f: fn(&mut DynamicsConfig)| {
        let mut c = DynamicsConfig::default();
        f(&mut c);
        DynamicsTracker::new(c).unwrap_err()
    };
    assert!(matches!(
        bad(|c| c.window = 10),
        DynamicsError::InvalidConfig {
            field: "window",
            ..
        }
    ));
    assert!(matches!(
        bad(|c| c.min_window = 8),
        DynamicsError::InvalidConfig {
            field: "min_window",
            ..
        }
    ));
    assert!(matches!(
        bad(|c| c.update_every = 0),
        DynamicsError::InvalidConfig {
            field: "update_every",
            ..
        }
    ));
    assert!(matches!(
        bad(|c| c.change_threshold = f64::NAN),
        DynamicsError::InvalidConfig {
            field: "change_threshold",
            ..
        }
    ));
    assert!(matches!(
        bad(|c| c.window = 1 << 20),
        DynamicsError::InvalidConfig {
            field: "window",
            ..
        }
    ));
    assert!(matches!(
        bad(|c| c.thresholds.periodicity = 2.0),
        DynamicsError::InvalidConfig {
            field: "periodicity",
            ..
        }
    ));
}

#[test]
fn tracker_warms_up_classifies_and_resets() {
    let mut t = DynamicsTracker::new(DynamicsConfig::default()).unwrap();
    let x = logistic(600, 0.3);
    for &v in &x[..100] {
        assert_eq!(t.push(v).regime, Regime::Unknown);
    }
    for &v in &x[100..] {
        t.push(v);
    }
    let s = t.state().clone();
    assert_eq!(s.regime, Regime::Chaotic);
    let l = s.lyapunov_exponent.unwrap();
    assert!(l > 0.4 && l < 0.9, "{l}");
    let d = s.attractor_dim.unwrap();
    assert!(d > 0.6 && d < 1.4, "{d}");
    assert!(s.confidence > 0.0 && s.confidence <= 1.0);
    assert_eq!(t.frames(), 600);
    t.push(f64::NAN);
    t.push(f64::INFINITY);
    assert_eq!(t.skipped(), 2);
    assert_eq!(t.frames(), 600);
    t.reset();
    assert_eq!(t.state(), &DynamicsState::default());
    assert_eq!(t.frames(), 0);
}

#[test]
fn state_and_config_serialise() {
    let s = DynamicsState {
        regime: Regime::Periodic,
        regime_changed: true,
        lyapunov_exponent: Some(0.01),
        attractor_dim: None,
        confidence: 0.9,
    };
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["regime"], "periodic");
    assert_eq!(j["attractor_dim"], serde_json::Value::Null);
    let back: DynamicsState = serde_json::from_value(j).unwrap();
    assert_eq!(back, s);
    let c = DynamicsConfig::default();
    let cj = serde_json::to_string(&c).unwrap();
    let c2: DynamicsConfig = serde_json::from_str(&cj).unwrap();
    assert_eq!(c, c2);
    // Partial configs take defaults; unknown keys are refused.
    let p: DynamicsConfig = serde_json::from_str(r#"{"window": 300}"#).unwrap();
    assert_eq!(p.window, 300);
    assert!(serde_json::from_str::<DynamicsConfig>(r#"{"windw": 300}"#).is_err());
}

#[test]
fn constant_and_step_streams() {
    let mut t = DynamicsTracker::new(DynamicsConfig::default()).unwrap();
    for _ in 0..300 {
        t.push(5.0);
    }
    assert_eq!(t.state().regime, Regime::Idle);
    // A step from a constant is a change point, flagged within 32 frames.
    let mut flagged = None;
    for i in 0..40 {
        if t.push(6.0).regime_changed && flagged.is_none() {
            flagged = Some(i);
        }
    }
    assert!(flagged.is_some_and(|i| i < 32), "{flagged:?}");
    assert_eq!(t.state().regime, Regime::Transient);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]
    #[test]
    fn batch_estimators_never_panic(
        xs in proptest::collection::vec(proptest::prop_oneof![
            proptest::prelude::any::<f64>(), -1e300f64..1e300, -1.0f64..1.0, proptest::strategy::Just(0.0)], 0..300),
        emb in 1usize..6, lag in 1usize..4, tsep in 0usize..12, traj in 1usize..12,
    ) {
        let p = RosensteinParams { emb_dim: emb, lag, min_tsep: tsep, trajectory_len: traj, fit_offset: 0, tau: 1.0 };
        let _ = lyap_r(&xs, &p);
        let _ = CorrDim::new(emb, lag).unwrap().estimate(&xs, None);
        let mut c = RegimeClassifier::new(RosensteinParams::default(), RegimeThresholds::default()).unwrap();
        if let Ok(r) = c.classify(&xs) {
            proptest::prop_assert!((0.0..=1.0).contains(&r.confidence));
        }
    }
}
