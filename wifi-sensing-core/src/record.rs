//! [`Record`]: what a capture reader yields — a CSI frame or a typed non-CSI record.

use serde::{Deserialize, Serialize};

use crate::formats::adr018;
use crate::frame::{CaptureFormat, Clock, CsiFrame};

/// One item read from a capture.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Record {
    /// A CSI measurement.
    Frame(CsiFrame),
    /// A non-CSI record carried in the same stream (vitals, features, ...).
    Aux(AuxRecord),
}

impl From<CsiFrame> for Record {
    fn from(f: CsiFrame) -> Self {
        Record::Frame(f)
    }
}

impl From<AuxRecord> for Record {
    fn from(a: AuxRecord) -> Self {
        Record::Aux(a)
    }
}

impl Record {
    /// The frame, if this is one.
    pub fn into_frame(self) -> Option<CsiFrame> {
        match self {
            Record::Frame(f) => Some(f),
            Record::Aux(_) => None,
        }
    }
}

/// A non-CSI record with its receive time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuxRecord {
    /// Timestamp in nanoseconds (see `clock`).
    pub timestamp_ns: i64,
    /// Clock of `timestamp_ns`.
    pub clock: Clock,
    /// Format it was read from.
    pub format: CaptureFormat,
    /// Sending node, where known.
    pub node_id: Option<u32>,
    /// The decoded content.
    pub body: AuxBody,
}

/// Content of an [`AuxRecord`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuxBody {
    /// ADR-018 edge vitals packet (`0xC5110002`) or RuView `vitals` record.
    Vitals(adr018::EdgeVitals),
    /// ADR-018 feature vector packet (`0xC5110003`) or RuView `feature` record.
    Features(adr018::FeatureVector),
    /// ADR-018 fused vitals packet (`0xC5110004`, 48 bytes).
    FusedVitals(adr018::FusedVitals),
    /// ADR-018 WASM module output packet (`0xC5110004`, variable size).
    WasmOutput(adr018::WasmOutput),
    /// ADR-018 compressed CSI packet (`0xC5110005`), kept compressed.
    CompressedCsi(adr018::CompressedCsi),
    /// ADR-018 feature state packet (`0xC5110006`), CRC verified.
    FeatureState(adr018::FeatureState),
    /// A packet or record with a known family magic whose body this version does not decode.
    Unknown(adr018::UnknownPacket),
}

impl AuxBody {
    /// The record's payload (the JSON Lines `data`) as a typed, serialisable value, so every
    /// writer (JSON Lines, Parquet) serialises it the same way.
    pub fn data(&self) -> &dyn crate::AnalysisValue {
        match self {
            AuxBody::Vitals(v) => v,
            AuxBody::Features(v) => v,
            AuxBody::FusedVitals(v) => v,
            AuxBody::WasmOutput(v) => v,
            AuxBody::CompressedCsi(v) => v,
            AuxBody::FeatureState(v) => v,
            AuxBody::Unknown(v) => v,
        }
    }

    /// Every record kind [`AuxBody::kind`] gives, in the order of the variants.
    pub const KINDS: [&'static str; 7] = [
        "vitals",
        "features",
        "fused_vitals",
        "wasm_output",
        "compressed_csi",
        "feature_state",
        "unknown_packet",
    ];

    /// Short stable name of the record kind (JSON `type`), one of [`AuxBody::KINDS`].
    ///
    /// ```
    /// use wifi_sensing_core::record::AuxBody;
    /// assert!(AuxBody::KINDS.contains(&"fused_vitals"));
    /// ```
    pub fn kind(&self) -> &'static str {
        Self::KINDS[match self {
            AuxBody::Vitals(_) => 0,
            AuxBody::Features(_) => 1,
            AuxBody::FusedVitals(_) => 2,
            AuxBody::WasmOutput(_) => 3,
            AuxBody::CompressedCsi(_) => 4,
            AuxBody::FeatureState(_) => 5,
            AuxBody::Unknown(_) => 6,
        }]
    }
}
