//! Parity with dtaidistance, tslearn and R `dtw` (dtw-python): every case of
//! `fixtures/oracles/dtw_vectors.json` within `1e-9 · max(1, |expected|)`.

use serde_json::Value;
use wifi_sensing_introspect::dtw::{
    Band, Dtw, DtwOptions, LocalCost, Relax, Series, SpringMatcher, StepPattern,
};

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/oracles/dtw_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        _ => panic!("not a number: {v}"),
    }
}

/// A series as (row-major values, dim): a list of numbers is 1-D, a list of lists N-D.
fn series(v: &Value) -> (Vec<f64>, usize) {
    let a = v.as_array().unwrap();
    match &a[0] {
        Value::Array(row) => {
            let dim = row.len();
            let data: Vec<f64> = a
                .iter()
                .flat_map(|r| r.as_array().unwrap().iter().map(num))
                .collect();
            (data, dim)
        }
        _ => (a.iter().map(num).collect(), 1),
    }
}

fn close(id: &str, what: &str, got: f64, want: f64) {
    if want.is_nan() {
        assert!(got.is_nan(), "{id} {what}: got {got}, want nan");
    } else if want.is_infinite() {
        assert_eq!(got, want, "{id} {what}");
    } else {
        let tol = 1e-9 * want.abs().max(1.0);
        assert!(
            (got - want).abs() <= tol,
            "{id} {what}: got {got}, want {want} (diff {})",
            (got - want).abs()
        );
    }
}

fn run(
    a: &(Vec<f64>, usize),
    b: &(Vec<f64>, usize),
    o: DtwOptions,
) -> wifi_sensing_introspect::dtw::DtwMatch {
    Dtw::new(o)
        .unwrap()
        .distance(
            Series::new(&a.0, a.1).unwrap(),
            Series::new(&b.0, b.1).unwrap(),
        )
        .unwrap()
}

fn dtai_options(settings: &Value) -> DtwOptions {
    let band = match settings.get("window").and_then(Value::as_u64) {
        Some(w) if w > 0 => Band::SakoeChibaWidened {
            radius: w as usize - 1,
        },
        _ => Band::Full,
    };
    let relax = match settings.get("psi") {
        None | Some(Value::Null) => Relax::default(),
        Some(Value::Number(p)) => Relax::all(p.as_u64().unwrap() as usize),
        Some(Value::Array(p)) => {
            let p: Vec<usize> = p.iter().map(|v| v.as_u64().unwrap() as usize).collect();
            Relax {
                begin_first: p[0],
                end_first: p[1],
                begin_second: p[2],
                end_second: p[3],
            }
        }
        Some(v) => panic!("psi {v}"),
    };
    DtwOptions {
        band,
        relax,
        ..DtwOptions::default()
    }
}

fn r_options(settings: &Value) -> DtwOptions {
    let step: StepPattern = settings["step_pattern"].as_str().unwrap().parse().unwrap();
    let cost = match settings["dist_method"].as_str().unwrap() {
        "euclidean" => LocalCost::Euclidean,
        "sqeuclidean" => LocalCost::SqEuclidean,
        d => panic!("dist_method {d}"),
    };
    let band = match settings
        .get("sakoechiba_window_size")
        .and_then(Value::as_u64)
    {
        Some(w) => Band::SakoeChiba { radius: w as usize },
        None => Band::Full,
    };
    DtwOptions {
        cost,
        step,
        band,
        open_begin: settings.get("open_begin").and_then(Value::as_bool) == Some(true),
        open_end: settings.get("open_end").and_then(Value::as_bool) == Some(true),
        ..DtwOptions::default()
    }
}

#[test]
fn every_oracle_case_matches() {
    let doc = load();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 147, "the oracle file holds 147 cases");
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    let mut values = 0usize;
    for c in cases {
        let id = c["id"].as_str().unwrap();
        let family = id.split('/').next().unwrap();
        match family {
            "dtai_1d" | "dtai_nd" => {
                let (a, b) = (series(&c["s1"]), series(&c["s2"]));
                let got = run(&a, &b, dtai_options(&c["settings"])).distance.sqrt();
                for key in ["expected", "expected_c", "bruteforce"] {
                    close(id, key, got, num(&c[key]));
                    values += 1;
                }
            }
            "tslearn_dtw" => {
                let (a, b) = (series(&c["s1"]), series(&c["s2"]));
                let band = match c["settings"]["sakoe_chiba_radius"].as_u64() {
                    Some(r) => Band::SakoeChibaWidened { radius: r as usize },
                    None => Band::Full,
                };
                let o = DtwOptions {
                    band,
                    ..DtwOptions::default()
                };
                let got = run(&a, &b, o).distance.sqrt();
                for key in ["expected", "dtaidistance_window_radius_plus_1"] {
                    close(id, key, got, num(&c[key]));
                    values += 1;
                }
            }
            "tslearn_subseq" => {
                let (q, s) = (series(&c["query"]), series(&c["series"]));
                // Batch: free start and end in the series, symmetric1, squared cost.
                let o = DtwOptions {
                    open_begin: true,
                    open_end: true,
                    ..DtwOptions::default()
                };
                let m = run(&q, &s, o);
                close(
                    id,
                    "distance",
                    m.distance.sqrt(),
                    num(&c["expected_distance"]),
                );
                assert_eq!(
                    m.start.1 as u64,
                    c["expected_start"].as_u64().unwrap(),
                    "{id} start"
                );
                assert_eq!(
                    m.end.1 as u64,
                    c["expected_end"].as_u64().unwrap(),
                    "{id} end"
                );
                let path = c["expected_path"].as_array().unwrap();
                assert_eq!(
                    path[0][1].as_u64().unwrap() as usize,
                    m.start.1,
                    "{id} path start"
                );
                // Streaming: SPRING in f64, frame by frame.
                let mut sp = SpringMatcher::<f64>::new(&q.0, q.1).unwrap();
                let last_row = c["expected_last_row_sqrt"].as_array().unwrap();
                let prefix = c["expected_prefix_best_sqrt"].as_array().unwrap();
                let mut prefix_best = vec![f64::INFINITY; q.0.len() / q.1];
                let (mut best, mut best_t, mut best_start) = (f64::INFINITY, 0, 0);
                for (t, x) in s.0.chunks_exact(s.1).enumerate() {
                    let st = *sp.push(x).unwrap();
                    close(
                        id,
                        &format!("last_row[{t}]"),
                        st.full_cost.sqrt(),
                        num(&last_row[t]),
                    );
                    values += 1;
                    if st.full_cost < best {
                        (best, best_t, best_start) = (st.full_cost, t, st.full_start);
                    }
                    for (p, v) in prefix_best.iter_mut().zip(sp.prefix_costs()) {
                        *p = p.min(*v);
                    }
                }
                for (i, p) in prefix_best.iter().enumerate() {
                    close(id, &format!("prefix_best[{i}]"), p.sqrt(), num(&prefix[i]));
                    values += 1;
                }
                close(
                    id,
                    "spring distance",
                    best.sqrt(),
                    num(&c["expected_distance"]),
                );
                assert_eq!(
                    best_t as u64,
                    c["expected_end"].as_u64().unwrap(),
                    "{id} spring end"
                );
                assert_eq!(
                    best_start,
                    c["expected_start"].as_u64().unwrap(),
                    "{id} spring start"
                );
                let d = &c["dtaidistance_subsequence_alignment"];
                close(
                    id,
                    "dtai penalty 0",
                    m.distance.sqrt(),
                    num(&d["penalty0_distance"]),
                );
                values += 4;
            }
            "R_dtw" | "R_dtw_open_end" | "R_dtw_obe" => {
                let (x, y) = (series(&c["x"]), series(&c["y"]));
                let m = run(&x, &y, r_options(&c["settings"]));
                close(id, "distance", m.distance, num(&c["expected_distance"]));
                close(id, "bruteforce", m.distance, num(&c["bruteforce_distance"]));
                close(
                    id,
                    "normalized",
                    m.normalized.unwrap_or(f64::NAN),
                    num(&c["expected_normalized"]),
                );
                values += 3;
                if let Some(j) = c.get("expected_jmin") {
                    assert_eq!(m.end.1 as u64, j.as_u64().unwrap(), "{id} jmin");
                    assert_eq!(
                        m.end.1 as u64,
                        c["bruteforce_jmin"].as_u64().unwrap(),
                        "{id} bf jmin"
                    );
                }
                if let Some(s) = c.get("expected_start") {
                    assert_eq!(m.start.1 as u64, s.as_u64().unwrap(), "{id} start");
                    assert_eq!(
                        m.end.1 as u64,
                        c["expected_end"].as_u64().unwrap(),
                        "{id} end"
                    );
                }
            }
            other => panic!("unknown family {other} ({id})"),
        }
        *checked.entry(family.to_string()).or_default() += 1;
    }
    let total: usize = checked.values().sum();
    assert_eq!(total, 147, "{checked:?}");
    assert_eq!(checked["dtai_1d"], 54);
    assert_eq!(checked["R_dtw"], 56);
    assert!(values > 400, "{values} values compared");
}

/// The oracle file holds no `inf` case; these pin the behaviour with no admissible path against
/// the conventions above (R refuses such windows; dtaidistance widens its band so it always has
/// a path).
#[test]
fn no_admissible_path_is_inf() {
    let x: Vec<f64> = (0..20).map(|i| i as f64).collect();
    let y: Vec<f64> = (0..25).map(|i| i as f64).collect();
    let (a, b) = ((x, 1), (y, 1));
    let o = DtwOptions {
        band: Band::SakoeChiba { radius: 3 },
        step: StepPattern::Symmetric2,
        cost: LocalCost::Euclidean,
        ..DtwOptions::default()
    };
    let m = run(&a, &b, o);
    assert_eq!(m.distance, f64::INFINITY);
    assert_eq!(m.normalized, None);
    // Widened band of radius 0 on unequal lengths still has a path (tslearn radius 0).
    let o = DtwOptions {
        band: Band::SakoeChibaWidened { radius: 0 },
        ..DtwOptions::default()
    };
    assert!(run(&a, &b, o).distance.is_finite());
}
