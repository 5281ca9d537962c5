//! Batch DTW timing for the side-by-side comparison with dtaidistance
//! (`benches/compare/dtw.py` runs it).
//!
//! ```text
//! dtw_batch INPUT.json
//! ```
//!
//! `INPUT.json`: `{"series": [[...], ...], "dim": D, "window": W|null, "repeats": R}`, each series
//! row-major with `D` values per frame. Computes the DTW distance of every pair `i < j` as
//! dtaidistance's `distance_matrix_fast` does (squared cost, symmetric1, its band for `window`,
//! result `sqrt`), `R` times, and prints `{"best_s": .., "pairs": .., "sum": ..}`.

use std::time::Instant;

use wifi_sensing_introspect::dtw::{Band, Dtw, DtwOptions, Series};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: dtw_batch INPUT.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read input")).expect("json");
    let dim = doc["dim"].as_u64().unwrap_or(1) as usize;
    let repeats = doc["repeats"].as_u64().unwrap_or(3).max(1);
    let band = match doc["window"].as_u64() {
        Some(w) if w > 0 => Band::SakoeChibaWidened {
            radius: w as usize - 1,
        },
        _ => Band::Full,
    };
    let series: Vec<Vec<f64>> = doc["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|s| {
            s.as_array()
                .expect("series row")
                .iter()
                .map(|v| v.as_f64().expect("number"))
                .collect()
        })
        .collect();
    let views: Vec<Series<'_>> = series
        .iter()
        .map(|s| Series::new(s, dim).expect("series"))
        .collect();
    let mut dtw = Dtw::new(DtwOptions {
        band,
        ..DtwOptions::default()
    })
    .expect("options");
    let mut best = f64::INFINITY;
    let mut sum = 0.0;
    let mut pairs = 0u64;
    for _ in 0..repeats {
        let t = Instant::now();
        sum = 0.0;
        pairs = 0;
        for i in 0..views.len() {
            for j in i + 1..views.len() {
                sum += dtw
                    .distance(views[i], views[j])
                    .expect("dtw")
                    .distance
                    .sqrt();
                pairs += 1;
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{{\"best_s\": {best}, \"pairs\": {pairs}, \"sum\": {sum}}}");
}
