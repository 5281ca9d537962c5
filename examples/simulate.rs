//! Generate synthetic CSI with ground truth and run it through a pipeline, no hardware needed.
//!
//! ```text
//! cargo run --example simulate
//! ```

use wifi_sensing::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing::{CountSink, Error, Pipeline};

fn main() -> Result<(), Error> {
    // A person sitting still and breathing at 15 breaths/min, seen by an ESP32 at 50 Hz.
    let scenario = Scenario::preset("breathe", 30.0)?;
    let sim = Simulator::new(scenario, DeviceProfile::esp32(), 7)?;

    // The ground truth comes with every frame.
    let mut sim = sim.peekable();
    if let Some((frame, truth)) = sim.peek() {
        println!("first frame: {frame}");
        println!(
            "truth: presence {}, activity {:?}, breathing {:?} bpm, heart {:?} bpm",
            truth.presence, truth.activity, truth.breathing_bpm, truth.heart_bpm
        );
    }

    // The frames alone feed any pipeline.
    let frames = sim.map(|(frame, _truth)| Ok::<_, Error>(frame));
    let mut pipeline = Pipeline::builder().build()?;
    let mut count = CountSink::default();
    let summary = pipeline.run(frames, &mut count)?;
    println!("{} frames through the pipeline", summary.frames_out);
    Ok(())
}
