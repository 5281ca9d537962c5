//! FeitCsi reader (in progress).

use serde::{Deserialize, Serialize};

/// FeitCsi header fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeitCsiMeta {}

/// Options of the FeitCsi reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeitCsiOptions {}
