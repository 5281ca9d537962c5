//! Device profiles: the shape, subcarrier indices, value type and radio parameters of the
//! frames the simulator produces, so downstream code sees data like a real capture's.
//!
//! | profile | shape `[rx][tx][sc]` | subcarrier indices (column order) | zero columns | values | channel (default) | bandwidth |
//! |---|---|---|---|---|---|---|
//! | `esp32` | 1 × 1 × 64 | 0..31 then −32..−1 (the ESP-IDF LLTF buffer order, FORMATS.md 1.1) | DC (0) and guard (±27..32), i.e. pairs 0 and 27..37 | int8 (−128..127) | 6 (2437 MHz) | 20 MHz |
//! | `intel5300` | 3 × 2 × 30 (1–3 each) | −28, −26, …, −2, −1, 1, 3, …, 27, 28 (the 30 HT20 groups) | none | int8 (−128..127) | 64 (5320 MHz) | 20 MHz |
//! | `nexmon80` | 1 × 1 × 256 | 0..127 then −128..−1 (FFT order, as the firmware delivers it) | DC (0, ±1) and guard (±123..128) | 14-bit signed in int16 (−8192..8191) | 42 (5210 MHz) | 80 MHz |
//!
//! Subcarrier spacing is 312.5 kHz for all three. Frames carry `format =
//! CaptureFormat::Simulated` and `clock = Clock::Simulated` (so their origin is never mistaken
//! for a capture), but `device` is the emulated radio (`Esp32`, `Iwl5300`, `Bcm43455c0`) so
//! device-specific processing applies. ESP32 frames carry an [`Esp32Meta`] with the
//! receive-control fields an ESP32-CSI-Tool line would print (HT20, MCS 0, no secondary
//! channel, the radio µs timer); the other profiles carry `FormatMeta::None`. Real Broadcom
//! firmware reports small non-zero values on the guard tones; the simulator leaves them at 0.
//!
//! The integer ranges set the quantiser's saturation; the *target RMS* sets the typical
//! magnitude of the values (ESP32 about 24, Intel 5300 about 16, Nexmon about 1000, in line
//! with the kit's captures).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::esp32::Esp32Meta;
use crate::frame::{channel_to_freq_mhz, Device, FormatMeta};

/// Which radio a profile emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// ESP32, HT20 LLTF buffer of 64 int8 pairs.
    Esp32,
    /// Intel 5300, 30 subcarrier groups, 8-bit values.
    Intel5300,
    /// Broadcom (Nexmon) at 80 MHz, 256 int16 subcarriers.
    Nexmon80,
}

/// A device profile. Serde form: `{"kind": "intel5300", "channel": 64, "n_rx": 3, "n_tx": 2,
/// ...}`; missing fields take the values of [`DeviceProfile::default`] (the ESP32), so build
/// from [`DeviceProfile::by_name`] and adjust fields rather than relying on defaults for a
/// non-ESP32 kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceProfile {
    /// The emulated radio.
    pub kind: DeviceKind,
    /// WiFi channel number.
    pub channel: u16,
    /// Receive antennas (ESP32 and Nexmon: 1; Intel 5300: 1–3).
    pub n_rx: usize,
    /// Transmit antennas / spatial streams (ESP32 and Nexmon: 1; Intel 5300: 1–3).
    pub n_tx: usize,
    /// Node id written into the frames.
    pub node_id: u32,
    /// Transmitter MAC address written into the frames.
    pub mac: [u8; 6],
    /// ESP32 only: replace pairs 0 and 1 by the constant junk word real ESP32 buffers often
    /// start with (FORMATS.md 1.1), `[imag, real]` = `[18, 38], [97, 0]`. Default `false`.
    pub esp32_junk_first_word: bool,
}

impl Default for DeviceProfile {
    fn default() -> Self {
        DeviceProfile::esp32()
    }
}

/// Default transmitter MAC: locally administered, `02:53:49:4D` is "SIM" in ASCII.
pub const SIM_MAC: [u8; 6] = [0x02, 0x53, 0x49, 0x4D, 0x00, 0x01];

/// Profile names accepted by [`DeviceProfile::by_name`].
pub const DEVICE_NAMES: [&str; 3] = ["esp32", "intel5300", "nexmon80"];

impl DeviceProfile {
    /// ESP32 HT20 on channel 6.
    pub fn esp32() -> Self {
        DeviceProfile {
            kind: DeviceKind::Esp32,
            channel: 6,
            n_rx: 1,
            n_tx: 1,
            node_id: 1,
            mac: SIM_MAC,
            esp32_junk_first_word: false,
        }
    }

    /// Intel 5300, 3 rx × 2 tx, HT20 on channel 64.
    pub fn intel5300() -> Self {
        DeviceProfile {
            kind: DeviceKind::Intel5300,
            channel: 64,
            n_rx: 3,
            n_tx: 2,
            ..DeviceProfile::esp32()
        }
    }

    /// Nexmon (bcm43455c0) at 80 MHz on channel 42.
    pub fn nexmon80() -> Self {
        DeviceProfile {
            kind: DeviceKind::Nexmon80,
            channel: 42,
            ..DeviceProfile::esp32()
        }
    }

    /// A profile by name: `esp32`, `intel5300` (or `iwl5300`), `nexmon80` (or `nexmon`).
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "esp32" => Ok(Self::esp32()),
            "intel5300" | "iwl5300" => Ok(Self::intel5300()),
            "nexmon80" | "nexmon" => Ok(Self::nexmon80()),
            _ => Err(Error::Config(format!(
                "unknown simulator device '{name}' (expected one of {})",
                DEVICE_NAMES.join(", ")
            ))),
        }
    }

    /// The profile's name.
    pub fn name(&self) -> &'static str {
        match self.kind {
            DeviceKind::Esp32 => "esp32",
            DeviceKind::Intel5300 => "intel5300",
            DeviceKind::Nexmon80 => "nexmon80",
        }
    }

    /// Checks the channel and antenna counts for the kind.
    pub fn validate(&self) -> Result<()> {
        let err = |m: String| Err(Error::Config(format!("device {}: {m}", self.name())));
        match self.kind {
            DeviceKind::Esp32 if !(1..=14).contains(&self.channel) => {
                return err(format!(
                    "channel {} is not a 2.4 GHz channel (1-14)",
                    self.channel
                ))
            }
            DeviceKind::Intel5300 if channel_to_freq_mhz(self.channel).is_none() => {
                return err(format!(
                    "channel {} is not a 2.4 or 5 GHz channel",
                    self.channel
                ))
            }
            DeviceKind::Nexmon80 if ![42, 58, 106, 122, 138, 155].contains(&self.channel) => {
                return err(format!(
                    "channel {} is not an 80 MHz channel centre (42, 58, 106, 122, 138, 155)",
                    self.channel
                ))
            }
            _ => {}
        }
        let max = if self.kind == DeviceKind::Intel5300 {
            3
        } else {
            1
        };
        if !(1..=max).contains(&self.n_rx) || !(1..=max).contains(&self.n_tx) {
            return err(format!(
                "{} rx x {} tx antennas not supported (1..={max} each)",
                self.n_rx, self.n_tx
            ));
        }
        Ok(())
    }

    /// Subcarrier index of each CSI column, in column order.
    pub fn subcarrier_indices(&self) -> Vec<i16> {
        match self.kind {
            DeviceKind::Esp32 => (0..32).chain(-32..0).collect(),
            DeviceKind::Intel5300 => (-28..-1)
                .step_by(2)
                .chain([-1, 1])
                .chain((3..28).step_by(2))
                .chain([28])
                .collect(),
            DeviceKind::Nexmon80 => (0..128).chain(-128..0).collect(),
        }
    }

    /// `true` when subcarrier `k` carries signal (not DC or guard) for this device.
    pub fn is_active(&self, k: i16) -> bool {
        let a = k.unsigned_abs();
        match self.kind {
            DeviceKind::Esp32 => (1..=26).contains(&a),
            DeviceKind::Intel5300 => (1..=28).contains(&a),
            DeviceKind::Nexmon80 => (2..=122).contains(&a),
        }
    }

    /// Channel bandwidth, MHz.
    pub fn bandwidth_mhz(&self) -> u16 {
        match self.kind {
            DeviceKind::Esp32 | DeviceKind::Intel5300 => 20,
            DeviceKind::Nexmon80 => 80,
        }
    }

    /// Centre frequency of the channel, MHz (0 for an invalid channel).
    pub fn center_freq_mhz(&self) -> u32 {
        channel_to_freq_mhz(self.channel).unwrap_or(0)
    }

    /// Subcarrier spacing, Hz.
    pub fn subcarrier_spacing_hz(&self) -> f64 {
        312_500.0
    }

    /// The [`Device`] written into the frames.
    pub fn device(&self) -> Device {
        match self.kind {
            DeviceKind::Esp32 => Device::Esp32,
            DeviceKind::Intel5300 => Device::Iwl5300,
            DeviceKind::Nexmon80 => Device::Bcm43455c0,
        }
    }

    /// Inclusive range of the quantised values.
    pub fn value_range(&self) -> (f64, f64) {
        match self.kind {
            DeviceKind::Esp32 | DeviceKind::Intel5300 => (-128.0, 127.0),
            DeviceKind::Nexmon80 => (-8192.0, 8191.0),
        }
    }

    /// Typical RMS amplitude `E|y|²^½` of the values for the empty room at AGC gain 0 dB.
    pub fn target_rms(&self) -> f64 {
        match self.kind {
            DeviceKind::Esp32 => 24.0,
            DeviceKind::Intel5300 => 16.0,
            DeviceKind::Nexmon80 => 1000.0,
        }
    }

    /// Noise floor the device reports, dBm (Nexmon reports none).
    pub fn noise_floor_dbm(&self) -> Option<f32> {
        match self.kind {
            DeviceKind::Esp32 => Some(-96.0),
            DeviceKind::Intel5300 => Some(-92.0),
            DeviceKind::Nexmon80 => None,
        }
    }

    /// Format-specific fields of a frame measured at `t_ns` (simulation time) carrying
    /// `n_columns` columns.
    pub fn frame_meta(&self, t_ns: i64, n_columns: usize) -> FormatMeta {
        match self.kind {
            DeviceKind::Esp32 => {
                let us = t_ns.div_euclid(1000);
                FormatMeta::Esp32(Box::new(Esp32Meta {
                    record_type: Some("CSI_DATA".to_string()),
                    role: Some("PASSIVE".to_string()),
                    rate: Some(11),
                    sig_mode: Some(1),
                    mcs: Some(0),
                    bandwidth: Some(0),
                    smoothing: Some(1),
                    not_sounding: Some(1),
                    aggregation: Some(0),
                    stbc: Some(0),
                    fec_coding: Some(0),
                    sgi: Some(0),
                    ampdu_cnt: Some(0),
                    secondary_channel: Some(0),
                    // The radio's µs timer is a u32 that wraps after about 71.6 minutes.
                    local_timestamp: Some(us.rem_euclid(1 << 32)),
                    ant: Some(0),
                    sig_len: Some(100),
                    rx_state: Some(0),
                    real_time_set: Some(0),
                    real_timestamp: Some(us as f64 / 1e6),
                    len: Some((2 * n_columns) as i32),
                    ..Esp32Meta::default()
                }))
            }
            DeviceKind::Intel5300 | DeviceKind::Nexmon80 => FormatMeta::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists() {
        let e = DeviceProfile::esp32().subcarrier_indices();
        assert_eq!(e.len(), 64);
        assert_eq!((e[0], e[31], e[32], e[63]), (0, 31, -32, -1));
        let zero: Vec<usize> = (0..64)
            .filter(|&i| !DeviceProfile::esp32().is_active(e[i]))
            .collect();
        let want: Vec<usize> = std::iter::once(0).chain(27..=37).collect();
        assert_eq!(zero, want, "DC and guard pairs as FORMATS.md 1.1 observes");
        let i = DeviceProfile::intel5300().subcarrier_indices();
        assert_eq!(i.len(), 30);
        assert_eq!(&i[..3], &[-28, -26, -24]);
        assert_eq!(&i[13..17], &[-2, -1, 1, 3]);
        assert_eq!(i[29], 28);
        let n = DeviceProfile::nexmon80().subcarrier_indices();
        assert_eq!(n.len(), 256);
        assert_eq!((n[127], n[128]), (127, -128));
        let active = n
            .iter()
            .filter(|&&k| DeviceProfile::nexmon80().is_active(k))
            .count();
        assert_eq!(active, 242, "VHT80 has 242 data and pilot tones");
    }

    #[test]
    fn validation() {
        assert!(DeviceProfile::esp32().validate().is_ok());
        assert!(DeviceProfile::intel5300().validate().is_ok());
        assert!(DeviceProfile::nexmon80().validate().is_ok());
        let mut p = DeviceProfile::esp32();
        p.channel = 36;
        assert!(p.validate().unwrap_err().to_string().contains("2.4 GHz"));
        let mut p = DeviceProfile::intel5300();
        p.n_rx = 4;
        assert!(p.validate().is_err());
        p.n_rx = 0;
        assert!(p.validate().is_err());
        let mut p = DeviceProfile::nexmon80();
        p.channel = 36;
        assert!(p.validate().is_err());
        assert!(DeviceProfile::by_name("hackrf").is_err());
        assert_eq!(
            DeviceProfile::by_name("iwl5300").unwrap().kind,
            DeviceKind::Intel5300
        );
    }
}
