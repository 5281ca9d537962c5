//! Inference backends behind one trait: `tract` (pure Rust, feature `tract`, on by default) and
//! `ort` (ONNX Runtime, feature `ort`).
//!
//! A backend is built from the model bytes and its [`Manifest`]: it reads the graph into a
//! [`GraphInfo`], has [`graph::check`](crate::graph::check) compare it with the manifest, and
//! only then compiles the model, fixed to one batch size. [`Backend::run`] takes one input tensor
//! in the manifest's layout and returns the outputs the manifest decodes, in
//! [`OutputSpec::tensors`](crate::manifest::OutputSpec::tensors) order.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ndarray::{ArrayD, ArrayViewD};
use serde::{Deserialize, Serialize};

use crate::error::{PoseError, Result};
use crate::graph::GraphInfo;
use crate::manifest::Manifest;

#[cfg(feature = "ort")]
pub mod ort;
#[cfg(feature = "tract")]
pub mod tract;

/// An ONNX inference engine holding one compiled model.
pub trait Backend: Send {
    /// `tract` or `ort`.
    fn name(&self) -> &'static str;
    /// The graph as the backend read it.
    fn graph(&self) -> &GraphInfo;
    /// Windows per run (the batch size the model was compiled for).
    fn batch(&self) -> usize;
    /// Runs the model on `input` (shape [`Manifest::input_shape`] of [`Backend::batch`]) and
    /// returns the manifest's output tensors in order.
    fn run(&mut self, input: ArrayViewD<'_, f32>) -> Result<Vec<ArrayD<f32>>>;
}

/// Which backend to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// tract-onnx, pure Rust (feature `tract`).
    #[default]
    Tract,
    /// ONNX Runtime through `ort`, loaded from `ORT_DYLIB_PATH` (feature `ort`).
    Ort,
}

impl BackendKind {
    /// `tract` or `ort`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Tract => "tract",
            BackendKind::Ort => "ort",
        }
    }

    /// Whether this build has the backend compiled in.
    pub fn is_available(self) -> bool {
        match self {
            BackendKind::Tract => cfg!(feature = "tract"),
            BackendKind::Ort => cfg!(feature = "ort"),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = PoseError;

    /// Parses `tract` or `ort`.
    ///
    /// ```
    /// use wifi_sensing_pose::BackendKind;
    /// assert_eq!("ort".parse::<BackendKind>().unwrap(), BackendKind::Ort);
    /// assert!("onnx".parse::<BackendKind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tract" => Ok(BackendKind::Tract),
            "ort" => Ok(BackendKind::Ort),
            _ => Err(PoseError::Config(format!(
                "unknown pose backend `{s}` (expected tract or ort)"
            ))),
        }
    }
}

/// Builds a backend of the given kind for the model bytes (`path` names the file in errors and
/// locates external weight files).
pub fn load(
    kind: BackendKind,
    bytes: &[u8],
    path: &Path,
    manifest: &Manifest,
    batch: usize,
) -> Result<Box<dyn Backend>> {
    let _ = (bytes, path, manifest, batch);
    match kind {
        #[cfg(feature = "tract")]
        BackendKind::Tract => Ok(Box::new(tract::TractBackend::load(
            bytes, path, manifest, batch,
        )?)),
        #[cfg(feature = "ort")]
        BackendKind::Ort => Ok(Box::new(ort::OrtBackend::load(
            bytes, path, manifest, batch,
        )?)),
        #[allow(unreachable_patterns)]
        other => Err(PoseError::Config(format!(
            "the {other} backend is not compiled into this build (enable the `{other}` feature)"
        ))),
    }
}

/// Reads the graph of a model with the given backend, without a manifest (for inspection).
pub fn inspect(kind: BackendKind, bytes: &[u8], path: &Path) -> Result<GraphInfo> {
    let _ = (bytes, path);
    match kind {
        #[cfg(feature = "tract")]
        BackendKind::Tract => tract::graph_info(bytes, path),
        #[cfg(feature = "ort")]
        BackendKind::Ort => ort::graph_info(bytes, path),
        #[allow(unreachable_patterns)]
        other => Err(PoseError::Config(format!(
            "the {other} backend is not compiled into this build (enable the `{other}` feature)"
        ))),
    }
}

/// Checks that the backend returned the number of outputs asked for.
pub(crate) fn expect_outputs(backend: &'static str, got: usize, manifest: &Manifest) -> Result<()> {
    let want = manifest.output.tensors().len();
    if got == want {
        Ok(())
    } else {
        Err(PoseError::Backend {
            backend,
            reason: format!("returned {got} outputs, {want} were asked for"),
        })
    }
}
