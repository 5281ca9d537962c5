//! Intel5300 reader (in progress).

use serde::{Deserialize, Serialize};

/// Intel5300 header fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intel5300Meta {}

/// Options of the Intel5300 reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intel5300Options {}
