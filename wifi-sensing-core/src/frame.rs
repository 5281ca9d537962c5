//! [`CsiFrame`], the one value every reader produces and every stage consumes.

use std::fmt;

use ndarray::Array3;
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::formats;

/// CSI of one frame, laid out `[rx][tx][subcarrier]`.
pub type CsiArray = Array3<Complex32>;

/// The capture format a frame (or error) comes from.
///
/// Serialised (JSON, bincode-serde) under its [`name`](CaptureFormat::name). The spellings that
/// JSON Lines written by earlier builds used for five variants (`esp_csi_csv`, `pico_scenes`,
/// `feit_csi`, `recording`, `json_lines`) are still accepted when reading. Binary `.csirec`
/// recordings encode the variant by its index, not its name, so they are unaffected by names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CaptureFormat {
    /// RuView ADR-018 UDP datagrams (magic `0xC511000x`), live or inside pcap.
    Esp32Adr018,
    /// ESP32-CSI-Tool CSV lines (`CSI_DATA,...,[v0 v1 ...]`).
    Esp32Csv,
    /// Espressif esp-csi `get-started` CSV lines (quoted JSON array).
    #[serde(rename = "espcsi_csv", alias = "esp_csi_csv")]
    EspCsiCsv,
    /// RuView JSONL recordings (`*.csi.jsonl`).
    RuviewJsonl,
    /// pcap / pcapng container (the payload format is decided per packet).
    Pcap,
    /// Nexmon CSI UDP payloads (Broadcom).
    Nexmon,
    /// Intel 5300 `.dat` (linux-80211n-csitool).
    Intel5300,
    /// Atheros CSI tool `.dat`.
    Atheros,
    /// PicoScenes `.csi`.
    #[serde(rename = "picoscenes", alias = "pico_scenes")]
    PicoScenes,
    /// FeitCSI `.csi` (Intel AX200/AX210).
    #[serde(rename = "feitcsi", alias = "feit_csi")]
    FeitCsi,
    /// The native `.csirec` recording of this family.
    #[serde(rename = "csirec", alias = "recording")]
    Recording,
    /// Frames made by the simulator.
    Simulated,
    /// This family's own JSON Lines records (schema version 1), read back.
    #[serde(rename = "jsonl", alias = "json_lines")]
    JsonLines,
}

impl CaptureFormat {
    /// Short stable name, as used in JSON output and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CaptureFormat::Esp32Adr018 => "esp32_adr018",
            CaptureFormat::Esp32Csv => "esp32_csv",
            CaptureFormat::EspCsiCsv => "espcsi_csv",
            CaptureFormat::RuviewJsonl => "ruview_jsonl",
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::Nexmon => "nexmon",
            CaptureFormat::Intel5300 => "intel5300",
            CaptureFormat::Atheros => "atheros",
            CaptureFormat::PicoScenes => "picoscenes",
            CaptureFormat::FeitCsi => "feitcsi",
            CaptureFormat::Recording => "csirec",
            CaptureFormat::Simulated => "simulated",
            CaptureFormat::JsonLines => "jsonl",
        }
    }

    /// Every format, in a stable order.
    pub const ALL: [CaptureFormat; 13] = [
        CaptureFormat::Esp32Adr018,
        CaptureFormat::Esp32Csv,
        CaptureFormat::EspCsiCsv,
        CaptureFormat::RuviewJsonl,
        CaptureFormat::Pcap,
        CaptureFormat::Nexmon,
        CaptureFormat::Intel5300,
        CaptureFormat::Atheros,
        CaptureFormat::PicoScenes,
        CaptureFormat::FeitCsi,
        CaptureFormat::Recording,
        CaptureFormat::Simulated,
        CaptureFormat::JsonLines,
    ];

    /// Parses a name produced by [`CaptureFormat::name`].
    ///
    /// ```
    /// use wifi_sensing_core::CaptureFormat;
    /// assert_eq!(CaptureFormat::from_name("intel5300"), Some(CaptureFormat::Intel5300));
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The radio or tool that produced a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Device {
    /// An ESP32-family chip (model not stated by the format).
    Esp32,
    /// ESP32-C5 or ESP32-C6 (esp-csi 15-column lines).
    Esp32C5C6,
    /// Broadcom bcm4339 (Nexus 5).
    Bcm4339,
    /// Broadcom bcm43455c0 (Raspberry Pi 3B+/4).
    Bcm43455c0,
    /// Broadcom bcm4358 (Nexus 6P).
    Bcm4358,
    /// Broadcom bcm4366c0 (Asus RT-AC86U).
    Bcm4366c0,
    /// A Broadcom chip whose model is not known.
    BroadcomUnknown,
    /// Intel WiFi Link 5300.
    Iwl5300,
    /// Qualcomm Atheros QCA9300 family.
    Qca9300,
    /// Intel AX200.
    Ax200,
    /// Intel AX210.
    Ax210,
    /// Ettus USRP (software radio, via PicoScenes).
    Usrp,
    /// The built-in simulator.
    Simulator,
    /// Not stated by the input.
    Unknown,
}

/// Which clock a timestamp comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Host receive or capture time, nanoseconds since the Unix epoch (pcap time, UDP receive
    /// time, RuView recorder time).
    Host,
    /// The device's own counter, nanoseconds since an arbitrary origin (may wrap; see the format).
    Device,
    /// Simulation time, nanoseconds since the start of the scenario.
    Simulated,
    /// The format carries no timestamp; `timestamp_ns` is 0.
    None,
}

/// Format-specific header fields that do not fit the common ones.
///
/// Each variant holds the struct of the format module that produced the frame, with the field
/// names the peer tools use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FormatMeta {
    /// No extra fields.
    None,
    /// ESP32 receive-control fields (CSV formats) or ADR-018 header fields (boxed: the struct is
    /// large, and frames are moved often).
    Esp32(Box<formats::esp32::Esp32Meta>),
    /// Nexmon header fields.
    Nexmon(formats::nexmon::NexmonMeta),
    /// Intel 5300 bfee fields.
    Intel5300(formats::intel5300::Intel5300Meta),
    /// Atheros CSI tool status fields.
    Atheros(formats::atheros::AtherosMeta),
    /// PicoScenes RX info and CSI-segment fields (boxed, as `Esp32`). JSON key `picoscenes`,
    /// like the format's name (`pico_scenes`, which earlier builds wrote, also reads).
    #[serde(rename = "picoscenes", alias = "pico_scenes")]
    PicoScenes(Box<formats::picoscenes::PicoScenesMeta>),
    /// FeitCSI header fields. JSON key `feitcsi` (`feit_csi` also reads).
    #[serde(rename = "feitcsi", alias = "feit_csi")]
    FeitCsi(formats::feitcsi::FeitCsiMeta),
}

/// One CSI measurement: one received packet (or one group of packets of one transmission).
///
/// The CSI array is laid out `[rx][tx][subcarrier]`; `subcarriers`, when known, gives the
/// subcarrier index (relative to the channel centre) of each column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsiFrame {
    /// Timestamp in nanoseconds; see `clock` for its origin.
    pub timestamp_ns: i64,
    /// Which clock `timestamp_ns` comes from.
    pub clock: Clock,
    /// Source node. The one rule, for every format:
    ///
    /// 1. A format that carries a node id gives it (ESP32 ADR-018, RuView JSONL, and this
    ///    crate's own JSON Lines and `.csirec`).
    /// 2. Otherwise a format that names the transmitter gets one node id per transmitter MAC,
    ///    numbered in order of first appearance by
    ///    [`MacNodeTable`](crate::nodes::MacNodeTable) (frames without a MAC share one id of their
    ///    own): ESP32-CSI-Tool CSV, esp-csi CSV, Nexmon, PicoScenes, FeitCSI, Atheros. Per-node
    ///    rates and sequence gaps are then never mixed across transmitters.
    /// 3. The one exception is Intel 5300, whose sequence counter (`bfee_count`) is the
    ///    receiver's, shared by every transmitter: it is node 0 throughout (splitting by MAC
    ///    would turn the frames of one transmitter into drops of another); the transmitter, when
    ///    the file names it, is in [`mac`](Self::mac).
    /// 4. Formats without a transmitter (simulated frames use their profile's node) follow their
    ///    module docs.
    pub node_id: u32,
    /// Transmitter MAC address, where the format has it.
    pub mac: Option<[u8; 6]>,
    /// Sequence number (per node counter, or the 802.11 sequence number).
    pub sequence: Option<u32>,
    /// Received signal strength of the frame in dBm, where known.
    pub rssi_dbm: Option<f32>,
    /// Per receive chain RSSI as the format reports it (see the format's docs for the unit).
    pub chain_rssi: Vec<f32>,
    /// Noise floor in dBm, where known.
    pub noise_floor_dbm: Option<f32>,
    /// WiFi channel number, where known. Which channel of a wide (40/80/160 MHz) channel it
    /// names depends on the format, as the format states it:
    ///
    /// * ESP32-CSI-Tool and esp-csi CSV: the **primary** (control) 20 MHz channel, as printed
    ///   (`rx_ctrl.channel`; the secondary channel's side is in the meta).
    /// * ESP32 ADR-018: the channel of the header's `freq_mhz`, which the firmware derives from
    ///   the primary channel. RuView JSONL: `None` (the recording drops it).
    /// * Nexmon: the chanspec's channel number, which Broadcom defines as the **centre** channel
    ///   of the whole bandwidth (42 for 80 MHz over 36–48); the 20 MHz control channel is
    ///   [`NexmonMeta::control_channel`](crate::formats::nexmon::NexmonMeta::control_channel).
    /// * PicoScenes: the channel number of `center_freq_mhz`, so the **centre** channel (the
    ///   control frequency is `RxSBasic::control_freq` in the meta).
    /// * Atheros: the channel number of `center_freq_mhz` (see there).
    /// * Intel 5300, FeitCSI: `None` (the formats do not carry it).
    /// * Simulated: the profile's channel (the centre channel for the 80 MHz profile).
    pub channel: Option<u16>,
    /// Centre frequency in MHz of the channel the frame occupies (the middle of its whole
    /// bandwidth), where known. ESP32 CSV formats compute it from the primary channel and the
    /// secondary channel's side (±10 MHz for a 40 MHz frame,
    /// [`esp32::center_freq_mhz`](crate::formats::esp32::center_freq_mhz)); Nexmon from the
    /// chanspec's centre channel; PicoScenes reads it (`RxSBasic` `CenterFreq`, else the CSI
    /// segment's carrier frequency). Two formats state only one frequency with no secondary
    /// channel side, which is then reported as it is: ADR-018's `freq_mhz` (the primary
    /// channel's frequency; the header has no bandwidth) and Atheros' `tx_channel` (the channel
    /// frequency ath9k reports, the primary channel of a 40 MHz frame). `None` for Intel 5300,
    /// FeitCSI and RuView JSONL.
    pub center_freq_mhz: Option<u32>,
    /// Channel bandwidth in MHz of the frame, where known.
    pub bandwidth_mhz: Option<u16>,
    /// Format the frame was read from.
    pub format: CaptureFormat,
    /// Device that measured it.
    pub device: Device,
    /// Subcarrier index of each CSI column, where the format defines it (`None` when the
    /// columns are raw buffer positions whose tones the input does not state).
    pub subcarriers: Option<Vec<i16>>,
    /// The complex CSI, `[rx][tx][subcarrier]`.
    pub csi: CsiArray,
    /// Format-specific fields.
    pub meta: FormatMeta,
}

impl CsiFrame {
    /// A frame with the given CSI and every optional field empty.
    ///
    /// ```
    /// use wifi_sensing_core::{CsiFrame, CaptureFormat, Device};
    /// use ndarray::Array3;
    /// let f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, Array3::zeros((1, 1, 64)));
    /// assert_eq!(f.shape(), (1, 1, 64));
    /// ```
    pub fn new(format: CaptureFormat, device: Device, csi: CsiArray) -> Self {
        CsiFrame {
            timestamp_ns: 0,
            clock: Clock::None,
            node_id: 0,
            mac: None,
            sequence: None,
            rssi_dbm: None,
            chain_rssi: Vec::new(),
            noise_floor_dbm: None,
            channel: None,
            center_freq_mhz: None,
            bandwidth_mhz: None,
            format,
            device,
            subcarriers: None,
            csi,
            meta: FormatMeta::None,
        }
    }

    /// `(rx, tx, subcarriers)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        self.csi.dim()
    }

    /// Number of CSI columns (subcarriers).
    pub fn n_subcarriers(&self) -> usize {
        self.csi.dim().2
    }

    /// Amplitude `|H|` of every value, same layout as `csi`.
    pub fn amplitude(&self) -> Array3<f32> {
        self.csi.mapv(|c| c.norm())
    }

    /// Phase `arg H` in radians of every value, same layout as `csi`.
    pub fn phase(&self) -> Array3<f32> {
        self.csi.mapv(|c| c.arg())
    }
}

/// Writes `v`'s serde name (the name JSON output uses), or its Debug form if it has none.
fn write_serde_name<T: Serialize + fmt::Debug>(f: &mut fmt::Formatter<'_>, v: &T) -> fmt::Result {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => f.write_str(&s),
        _ => write!(f, "{v:?}"),
    }
}

/// The name JSON output uses (`esp32`, `qca9300`, `sdr`, ...).
impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_serde_name(f, self)
    }
}

/// The name JSON output uses (`host`, `device`, `simulated`, `none`).
impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_serde_name(f, self)
    }
}

impl fmt::Display for CsiFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rx, tx, sc) = self.shape();
        write!(
            f,
            "CsiFrame[{} {} node {} t={} ns ({})",
            self.format, self.device, self.node_id, self.timestamp_ns, self.clock
        )?;
        if let Some(s) = self.sequence {
            write!(f, " seq {s}")?;
        }
        if let Some(r) = self.rssi_dbm {
            write!(f, " rssi {r} dBm")?;
        }
        if let Some(c) = self.channel {
            write!(f, " ch {c}")?;
        }
        if let Some(b) = self.bandwidth_mhz {
            write!(f, " {b} MHz")?;
        }
        write!(f, " csi {rx}x{tx}x{sc}")?;
        let n = self.csi.len();
        if n > 0 {
            let mean_amp = self.csi.iter().map(|c| c.norm()).sum::<f32>() / n as f32;
            write!(f, " mean|H| {mean_amp:.2}")?;
        }
        write!(f, "]")
    }
}

/// Standard frequency of a WiFi channel number in MHz (2.4 GHz channels 1–14, 5 GHz 32–177,
/// as ESP32 firmware and the 802.11 tables define them).
///
/// ```
/// assert_eq!(wifi_sensing_core::frame::channel_to_freq_mhz(6), Some(2437));
/// assert_eq!(wifi_sensing_core::frame::channel_to_freq_mhz(36), Some(5180));
/// ```
pub fn channel_to_freq_mhz(channel: u16) -> Option<u32> {
    match channel {
        1..=13 => Some(2412 + 5 * (u32::from(channel) - 1)),
        14 => Some(2484),
        32..=177 => Some(5000 + 5 * u32::from(channel)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uses_the_json_names() {
        let mut f = CsiFrame::new(
            CaptureFormat::PicoScenes,
            Device::Qca9300,
            Array3::zeros((1, 1, 2)),
        );
        f.clock = Clock::Host;
        let s = f.to_string();
        assert!(
            s.starts_with("CsiFrame[picoscenes qca9300 node 0 t=0 ns (host)"),
            "{s}"
        );
        assert_eq!(Device::Esp32C5C6.to_string(), "esp32_c5_c6");
        assert_eq!(Clock::Simulated.to_string(), "simulated");
    }

    #[test]
    fn serde_name_is_name_for_every_format() {
        for f in CaptureFormat::ALL {
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                serde_json::Value::String(f.name().into()),
                "{f:?}"
            );
            assert_eq!(CaptureFormat::from_name(f.name()), Some(f));
            let back: CaptureFormat = serde_json::from_value(f.name().into()).unwrap();
            assert_eq!(back, f);
        }
    }

    #[test]
    fn old_serde_spellings_still_read() {
        for (old, f) in [
            ("esp_csi_csv", CaptureFormat::EspCsiCsv),
            ("pico_scenes", CaptureFormat::PicoScenes),
            ("feit_csi", CaptureFormat::FeitCsi),
            ("recording", CaptureFormat::Recording),
            ("json_lines", CaptureFormat::JsonLines),
        ] {
            let back: CaptureFormat = serde_json::from_value(old.into()).unwrap();
            assert_eq!(back, f, "{old}");
        }
    }

    #[test]
    fn schema_format_enum_is_the_set_of_names() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema/record-v1.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
        let listed: Vec<&str> = schema["$defs"]["format"]["enum"]
            .as_array()
            .expect("$defs.format.enum")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for name in &listed {
            assert!(
                CaptureFormat::from_name(name).is_some(),
                "schema lists {name:?}, which is no CaptureFormat::name()"
            );
        }
        for f in CaptureFormat::ALL {
            assert!(listed.contains(&f.name()), "schema lacks {:?}", f.name());
        }
        assert_eq!(listed.len(), CaptureFormat::ALL.len());
    }
}
