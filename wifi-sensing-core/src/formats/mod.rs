//! Capture formats: one module per format, each registered once in
//! [`Registry::builtin`](crate::Registry::builtin).

pub mod adr018;
pub mod atheros;
pub mod esp32;
pub mod esp32_csv;
pub mod espcsi;
pub mod feitcsi;
pub mod intel5300;
pub mod ipfrag;
pub mod nexmon;
pub mod pcap;
pub mod picoscenes;
pub(crate) mod records;
pub mod ruview;
pub(crate) mod text;
pub mod tones;
