use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator, Impairments};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let preset = args.get(1).map(String::as_str).unwrap_or("walk");
    let mut sc = Scenario::preset(preset, 10.0).unwrap();
    if args.get(2).is_some() { sc.impairments = Impairments::none(); }
    let sim = Simulator::new(sc, DeviceProfile::esp32(), 7).unwrap();
    for (i, (f, t)) in sim.enumerate() {
        if i % 25 == 0 {
            let a: Vec<String> = [4usize, 10, 20, 40, 50].iter().map(|&j| format!("{:.2}", f.csi[[0,0,j]].norm())).collect();
            println!("{:.1} {:?} {}", t.timestamp_ns as f64 * 1e-9, t.position_m, a.join(" "));
        }
    }
}
