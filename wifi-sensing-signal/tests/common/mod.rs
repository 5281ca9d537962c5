//! Helpers shared by the integration tests (and, by path, the `sensing_eval` example).
pub mod drift;
pub mod eval;
