//! Atheros reader (in progress).

use serde::{Deserialize, Serialize};

/// Atheros header fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AtherosMeta {}

/// Options of the Atheros reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AtherosOptions {}
