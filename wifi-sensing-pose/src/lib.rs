#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod backend;
pub mod decode;
pub mod error;
pub mod eval;
pub mod graph;
pub mod manifest;
pub mod pose;
pub mod track;
pub mod window;

pub use backend::{Backend, BackendKind};
pub use decode::{DensePose, Keypoint, PartSummary};
pub use error::{PoseError, Result};
pub use graph::GraphInfo;
pub use manifest::{Manifest, PostProcessing, COCO_KEYPOINTS};
pub use pose::{
    LoadOptions, ModelRef, Pose, PoseEstimator, PoseModel, PoseStats, PoseStatsHandle, WindowSpan,
};
pub use track::{TrackHeading, TrackHeadingSpec};
pub use window::{WindowConfig, WindowStats, Windower};

/// Version of this crate, for run metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
