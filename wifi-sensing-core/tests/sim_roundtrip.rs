//! The simulator's ESP32 output goes through this project's own writers and readers bit-exactly:
//! ESP32-CSI-Tool CSV, ADR-018 datagrams inside pcap, and the native recording.

mod common;

use std::io::Cursor;
use std::net::Ipv4Addr;

use wifi_sensing_core::formats::adr018;
use wifi_sensing_core::formats::pcap::{PcapWriter, TsResolution};
use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
use wifi_sensing_core::sim::export::{self, Esp32CsvWriter};
use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Record, Registry};

fn simulate(preset: &str, device: DeviceProfile, seconds: f64, seed: u64) -> Vec<CsiFrame> {
    Simulator::new(Scenario::preset(preset, seconds).unwrap(), device, seed)
        .unwrap()
        .map(|(f, _)| f)
        .collect()
}

fn read_back(bytes: Vec<u8>, ext: &str) -> (CaptureFormat, Vec<CsiFrame>) {
    let mut cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(bytes)), Some("sim"), Some(ext), None)
        .unwrap();
    let format = cap.format();
    let frames: Vec<CsiFrame> = (&mut cap).collect::<Result<_, _>>().unwrap();
    common::assert_clean_end(cap.stats(), ext);
    (format, frames)
}

#[test]
fn esp32_csv_round_trip_is_bit_exact() {
    for (preset, seed) in [("walk", 3u64), ("mixed", 11), ("gesture:wave", 5)] {
        let frames = simulate(preset, DeviceProfile::esp32(), 12.0, seed);
        assert!(frames.len() > 500);
        for header in [true, false] {
            let mut w = Esp32CsvWriter::new(Vec::new(), header).unwrap();
            for f in &frames {
                w.write(f).unwrap();
            }
            let (format, back) = read_back(w.into_inner(), "csv");
            assert_eq!(format, CaptureFormat::Esp32Csv, "detected from the bytes");
            assert_eq!(back.len(), frames.len());
            for (b, f) in back.iter().zip(&frames) {
                common::assert_same_fields!(b, f, preset;
                    csi, subcarriers, rssi_dbm, noise_floor_dbm, channel, mac, bandwidth_mhz);
                // the CSV carries the radio's µs timer, which the simulator sets to its clock
                assert_eq!(b.clock, Clock::Device);
                assert_eq!(b.timestamp_ns, f.timestamp_ns);
            }
        }
    }
}

#[test]
fn adr018_in_pcap_round_trip_is_bit_exact() {
    let frames = simulate("mixed", DeviceProfile::esp32(), 20.0, 7);
    let start_ns = 1_767_225_600_000_000_000i64;
    for res in [TsResolution::Micro, TsResolution::Nano] {
        let mut w = PcapWriter::new(Vec::new(), res).unwrap();
        for f in &frames {
            let d = adr018::encode_csi(&export::to_adr018(f, 4).unwrap()).unwrap();
            w.write_udp(
                start_ns + f.timestamp_ns,
                Ipv4Addr::new(192, 168, 1, 104),
                Ipv4Addr::new(192, 168, 1, 10),
                5005,
                5005,
                &d,
            )
            .unwrap();
        }
        let (format, back) = read_back(w.into_inner().unwrap(), "pcap");
        assert_eq!(format, CaptureFormat::Pcap);
        assert_eq!(back.len(), frames.len());
        for (b, f) in back.iter().zip(&frames) {
            assert_eq!(b.format, CaptureFormat::Esp32Adr018);
            // the sequence keeps its gaps (dropped frames)
            common::assert_same_fields!(b, f, "pcap"; csi, sequence, channel, rssi_dbm);
            assert_eq!(b.node_id, 4);
            assert_eq!(b.clock, Clock::Host);
            let want = start_ns + f.timestamp_ns;
            let want = if res == TsResolution::Micro {
                want / 1000 * 1000
            } else {
                want
            };
            assert_eq!(b.timestamp_ns, want);
        }
    }
}

#[test]
fn every_device_round_trips_through_the_recording() {
    for device in [
        DeviceProfile::esp32(),
        DeviceProfile::intel5300(),
        DeviceProfile::nexmon80(),
    ] {
        let frames = simulate("breathe", device, 3.0, 9);
        let mut buf = Vec::new();
        let mut w = RecordingWriter::new(&mut buf, &RecordingHeader::new("sim", "")).unwrap();
        for f in &frames {
            w.write(&Record::Frame(f.clone())).unwrap();
        }
        drop(w);
        let (format, back) = read_back(buf, "csirec");
        assert_eq!(format, CaptureFormat::Recording);
        assert_eq!(back, frames);
    }
}
