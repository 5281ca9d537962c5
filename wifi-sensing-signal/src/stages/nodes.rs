//! Per-node state: `wifi_sensing_core::PerNode`, with this crate's default bound.

pub use wifi_sensing_core::PerNode;

/// Default bound on distinct nodes per stage (more is an error: bad input cannot grow memory
/// without bound).
pub const DEFAULT_MAX_NODES: usize = 256;
