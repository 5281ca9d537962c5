//! PicoScenes reader (in progress).

use serde::{Deserialize, Serialize};

/// PicoScenes header fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PicoScenesMeta {}

/// Options of the PicoScenes reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PicoScenesOptions {}
