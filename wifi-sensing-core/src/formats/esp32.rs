//! Fields shared by the ESP32 formats (ESP32-CSI-Tool CSV, esp-csi CSV, ADR-018, RuView JSONL).

use serde::{Deserialize, Serialize};

/// ESP32 receive-control and format fields. Every field is optional because each ESP32 format
/// carries a different subset; names follow the ESP-IDF `wifi_pkt_rx_ctrl_t` fields and the peer
/// parsers' column names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Esp32Meta {
    /// CSV `type` column (`CSI_DATA`).
    pub record_type: Option<String>,
    /// ESP32-CSI-Tool role (`AP`, `STA`, `PASSIVE`).
    pub role: Option<String>,
    /// esp-csi `id` / `seq` column (sender's ESP-NOW counter).
    pub id: Option<u32>,
    /// PHY rate code.
    pub rate: Option<i32>,
    /// Signal mode (0 non-HT, 1 HT, 3 VHT).
    pub sig_mode: Option<i32>,
    /// MCS index.
    pub mcs: Option<i32>,
    /// Channel bandwidth bit `cwb` (0 = 20 MHz, 1 = 40 MHz).
    pub bandwidth: Option<i32>,
    /// Smoothing flag.
    pub smoothing: Option<i32>,
    /// Not-sounding flag.
    pub not_sounding: Option<i32>,
    /// Aggregation flag.
    pub aggregation: Option<i32>,
    /// STBC flag.
    pub stbc: Option<i32>,
    /// FEC coding (LDPC) flag.
    pub fec_coding: Option<i32>,
    /// Short guard interval flag.
    pub sgi: Option<i32>,
    /// A-MPDU count.
    pub ampdu_cnt: Option<i32>,
    /// Secondary channel (0 none, 1 above, 2 below).
    pub secondary_channel: Option<i32>,
    /// Radio µs timer at reception.
    pub local_timestamp: Option<i64>,
    /// Antenna number.
    pub ant: Option<i32>,
    /// Packet length.
    pub sig_len: Option<i32>,
    /// Receive state.
    pub rx_state: Option<i32>,
    /// ESP32-CSI-Tool: 1 if the host set the clock.
    pub real_time_set: Option<i32>,
    /// ESP32-CSI-Tool: firmware steady-clock seconds.
    pub real_timestamp: Option<f64>,
    /// `len` column as printed (buffer bytes for ESP32-CSI-Tool, values for esp-csi).
    pub len: Option<i32>,
    /// esp-csi `first_word` column (1 = the first 4 bytes are not CSI).
    pub first_word_invalid: Option<i32>,
    /// esp-csi C5/C6 FFT gain.
    pub fft_gain: Option<i32>,
    /// esp-csi C5/C6 AGC gain.
    pub agc_gain: Option<i32>,
    /// 1-based line number in a text input.
    pub line: Option<u64>,
    /// ADR-018: antennas in the frame header.
    pub n_antennas: Option<u8>,
    /// ADR-018: the reserved u16 at offset 18 (PPDU type and flags in later firmware).
    pub adr018_reserved: Option<u16>,
}

/// Options of the ESP32 readers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Esp32Options {}
