//! Runs the dynamics estimators on jobs read from a JSON file and prints results with timings,
//! for `benches/compare/lyap.py` (side by side with nolds).
//!
//! Usage: `lyap_compare JOBS.json REPEATS`. JOBS.json is a list of
//! `{"name", "kind": "lyap_r" | "corr_dim", "x": [..], "emb_dim", "lag", "min_tsep",
//! "trajectory_len", "fit_offset", "tau"}`; the output is one JSON list of
//! `{"name", "value", "div_traj", "best_s"}` (best of REPEATS runs, each on a fresh estimator).

use std::time::Instant;

use serde_json::{json, Value};
use wifi_sensing_introspect::dynamics::{CorrDim, Rosenstein, RosensteinParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: lyap_compare JOBS.json REPEATS");
        std::process::exit(2);
    }
    let jobs: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&args[1])?)?;
    let repeats: usize = args[2].parse()?;
    let mut out = Vec::new();
    for job in &jobs {
        let x: Vec<f64> = job["x"]
            .as_array()
            .ok_or("x")?
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
        let u = |k: &str| job[k].as_u64().unwrap_or(0) as usize;
        let mut best = f64::INFINITY;
        let mut value = f64::NAN;
        let mut div: Vec<f64> = Vec::new();
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            if job["kind"] == "lyap_r" {
                let p = RosensteinParams {
                    emb_dim: u("emb_dim"),
                    lag: u("lag"),
                    min_tsep: u("min_tsep"),
                    trajectory_len: u("trajectory_len"),
                    fit_offset: u("fit_offset"),
                    tau: job["tau"].as_f64().unwrap_or(1.0),
                };
                let mut r = Rosenstein::new(p)?;
                value = r.estimate(&x)?;
                best = best.min(t.elapsed().as_secs_f64());
                div = r.div_traj().to_vec();
            } else {
                let mut c = CorrDim::new(u("emb_dim"), u("lag").max(1))?;
                value = c.estimate(&x, None)?;
                best = best.min(t.elapsed().as_secs_f64());
            }
        }
        let v = if value.is_finite() {
            json!(value)
        } else {
            json!(value.to_string())
        };
        out.push(json!({"name": job["name"], "value": v, "div_traj": div, "best_s": best}));
    }
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
