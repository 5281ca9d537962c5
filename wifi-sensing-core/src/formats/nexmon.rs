//! Nexmon reader (in progress).

use serde::{Deserialize, Serialize};

/// Nexmon header fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NexmonMeta {}

/// Options of the Nexmon reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NexmonOptions {}
