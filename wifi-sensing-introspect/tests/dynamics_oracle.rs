//! Parity with nolds 0.6.3 (`fit="poly"`) on the stored oracle series: Rosenstein exponents with
//! their divergence curves, and correlation dimensions, within 1e-9 x max(1, |expected|).

use serde_json::Value;
use wifi_sensing_introspect::dynamics::{lyap_r, CorrDim, RosensteinParams};

fn oracle() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/oracles/lyap_vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("oracle file")).expect("json")
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "nan" => f64::NAN,
        v => v.as_f64().expect("number"),
    }
}

fn close(got: f64, want: f64) -> bool {
    if want.is_infinite() || want.is_nan() {
        return got == want || (got.is_nan() && want.is_nan());
    }
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn usize_of(p: &Value, k: &str, default: usize) -> usize {
    p.get(k)
        .and_then(Value::as_u64)
        .map_or(default, |v| v as usize)
}

#[test]
fn rosenstein_matches_nolds_including_div_traj() {
    let o = oracle();
    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for (name, s) in o["series"].as_object().unwrap() {
        let x: Vec<f64> = s["x"].as_array().unwrap().iter().map(num).collect();
        let tau = num(&s["meta"]["tau"]);
        for key in [
            "lyap_r_tuned",
            "lyap_r_uniform",
            "lyap_r_uniform_first500",
            "lyap_r_defaults",
        ] {
            let r = &s["results"][key];
            let p = &r["params"];
            let auto = r.get("auto_params_chosen");
            let params = RosensteinParams {
                emb_dim: usize_of(p, "emb_dim", 10),
                lag: auto.map_or_else(|| usize_of(p, "lag", 1), |a| usize_of(a, "lag", 0)),
                min_tsep: auto.map_or_else(
                    || usize_of(p, "min_tsep", 0),
                    |a| usize_of(a, "min_tsep", 0),
                ),
                trajectory_len: usize_of(p, "trajectory_len", 20),
                fit_offset: usize_of(p, "fit_offset", 0),
                tau,
            };
            let n = r["n"].as_u64().unwrap() as usize;
            let est = lyap_r(&x[..n], &params).unwrap();
            let want = num(&r["value"]);
            assert!(
                close(est.exponent, want),
                "{name}/{key}: got {} want {want}",
                est.exponent
            );
            if want.is_finite() {
                worst = worst.max((est.exponent - want).abs() / want.abs().max(1.0));
            }
            if let Some(dt) = r.get("div_traj").and_then(Value::as_array) {
                let ks: Vec<usize> = r["div_traj_ks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| num(v) as usize)
                    .collect();
                assert_eq!(est.div_traj_ks, ks, "{name}/{key} ks");
                for (g, w) in est.div_traj.iter().zip(dt) {
                    let w = num(w);
                    assert!(close(*g, w), "{name}/{key} div_traj: got {g} want {w}");
                    worst = worst.max((g - w).abs() / w.abs().max(1.0));
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 36);
    eprintln!("Rosenstein parity: 36 cases, worst relative difference {worst:.3e}");
}

#[test]
fn corr_dim_matches_nolds() {
    let o = oracle();
    let mut worst: f64 = 0.0;
    for (name, s) in o["series"].as_object().unwrap() {
        let x: Vec<f64> = s["x"].as_array().unwrap().iter().map(num).collect();
        for (key, m) in [("corr_dim_emb2", 2), ("corr_dim_emb5", 5)] {
            let want = num(&s["results"][key]["value"]);
            let got = CorrDim::new(m, 1).unwrap().estimate(&x, None).unwrap();
            assert!(close(got, want), "{name}/{key}: got {got} want {want}");
            worst = worst.max((got - want).abs() / want.abs().max(1.0));
        }
    }
    eprintln!("corr_dim parity: 18 cases, worst relative difference {worst:.3e}");
}
