//! Prints the scenario (JSON) of a seeded random session, for `simulate --scenario-file`.
//!
//! ```text
//! cargo run --example random_scenario -- '{"seed": 7, "duration_s": 60, "rx": [...]}'
//! ```
//!
//! The argument is a `RandomSession` in JSON (every field optional; see
//! `wifi_sensing::sim::RandomSession`). `wifi-sensing simulate --random SEED` makes the same
//! sessions directly (the reference pose model's training script uses that).

use wifi_sensing::sim::RandomSession;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "{}".into());
    let cfg: RandomSession = serde_json::from_str(&arg)?;
    let scenario = cfg.scenario()?;
    println!("{}", serde_json::to_string_pretty(&scenario)?);
    Ok(())
}
