//! The session of the sensing speed figure, shared by the `sensing` bench and the
//! `sensing_eval -- speed` example.

use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_core::CsiFrame;
use wifi_sensing_signal::{SensingAnalyser, SensingConfig};

/// The simulated ESP32 `mixed` session, 90 s at 50 Hz, seed 3.
pub fn frames() -> Vec<CsiFrame> {
    Simulator::new(
        Scenario::preset("mixed", 90.0).expect("preset"),
        DeviceProfile::esp32(),
        3,
    )
    .expect("simulator")
    .map(|(f, _)| f)
    .collect()
}

/// Events and vital signs together over `frames` with the configuration `cfg` (the figure:
/// `SensingConfig::default()`); returns the number of outputs.
pub fn run(frames: &[CsiFrame], cfg: SensingConfig) -> usize {
    let mut a = SensingAnalyser::new(cfg, None).expect("analyser");
    let mut out = Vec::new();
    for f in frames {
        a.push(f, &mut out).expect("push");
    }
    out.len()
}
