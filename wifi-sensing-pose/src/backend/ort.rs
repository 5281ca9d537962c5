//! The ONNX Runtime backend (feature `ort`), through the `ort` crate's `load-dynamic` feature.
//!
//! The runtime library is loaded once per process, from [`OrtOptions::dylib_path`] or else the
//! `ORT_DYLIB_PATH` environment variable (for example the `libonnxruntime.so.1.31.1` inside
//! PyPI's `onnxruntime==1.31.1` wheel). Sessions run on the CPU unless the caller adds execution
//! providers ([`OrtBackend::load_with`]); which ones (CUDA, TensorRT, ...) is the user's choice,
//! with the matching `ort` features and runtime build.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::Backend;
use crate::error::{PoseError, Result};
use crate::graph::{self, Dim, GraphInfo, TensorInfo};
use crate::manifest::Manifest;

/// Environment variable naming the ONNX Runtime shared library.
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

fn err(e: impl std::fmt::Display) -> PoseError {
    PoseError::Backend {
        backend: "ort",
        reason: e.to_string(),
    }
}

/// Options for the ONNX Runtime backend.
#[derive(Clone, Debug, Default)]
pub struct OrtOptions {
    /// Path of the runtime library; `None` reads `ORT_DYLIB_PATH`.
    pub dylib_path: Option<PathBuf>,
    /// Threads for one operator (`None`: ONNX Runtime's default, one per core).
    pub intra_threads: Option<usize>,
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
///
/// The first call decides which library is loaded; later calls return the same environment
/// (or the same error).
pub fn environment(dylib_path: Option<&Path>) -> Result<&'static Environment> {
    let env = ENV.get_or_init(|| {
        let path = match dylib_path {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os(DYLIB_ENV) {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => {
                    return Err(format!(
                        "{DYLIB_ENV} is not set: point it at ONNX Runtime's shared library \
                         (libonnxruntime.so.1.31.1 from PyPI's onnxruntime==1.31.1 wheel, for example; \
                         see the wifi-sensing-pose README)"
                    ))
                }
            },
        };
        if !path.is_file() {
            return Err(format!(
                "ONNX Runtime library {} does not exist ({DYLIB_ENV})",
                path.display()
            ));
        }
        ort::init_from(&path)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?
            .with_name("wifi-sensing-pose")
            .build()
            .map_err(|e| format!("cannot create the ONNX Runtime environment: {e}"))
    });
    env.as_ref().map_err(err)
}

fn type_name(t: TensorElementType) -> String {
    match t {
        TensorElementType::Float32 => "float32".into(),
        TensorElementType::Float64 => "float64".into(),
        TensorElementType::Float16 => "float16".into(),
        TensorElementType::Int64 => "int64".into(),
        TensorElementType::Int32 => "int32".into(),
        TensorElementType::Uint8 => "uint8".into(),
        TensorElementType::Bool => "bool".into(),
        other => other.to_string(),
    }
}

fn outlet_info(name: &str, dtype: &ValueType) -> TensorInfo {
    match dtype {
        ValueType::Tensor {
            ty,
            shape,
            dimension_symbols,
        } => TensorInfo {
            name: name.to_string(),
            elem_type: type_name(*ty),
            shape: Some(
                shape
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| {
                        if d >= 0 {
                            Dim::Fixed(d as u64)
                        } else {
                            Dim::Symbolic(dimension_symbols.get(k).cloned().unwrap_or_default())
                        }
                    })
                    .collect(),
            ),
        },
        _ => TensorInfo {
            name: name.to_string(),
            elem_type: "not a tensor".into(),
            shape: None,
        },
    }
}

fn session_info(session: &Session) -> GraphInfo {
    GraphInfo {
        inputs: session
            .inputs()
            .iter()
            .map(|o| outlet_info(o.name(), o.dtype()))
            .collect(),
        outputs: session
            .outputs()
            .iter()
            .map(|o| outlet_info(o.name(), o.dtype()))
            .collect(),
        operators: Vec::new(),
        unsupported_operators: Vec::new(),
        opset: session.opset_for_domain("").map(i64::from),
    }
}

fn create_session(
    bytes: &[u8],
    path: &Path,
    options: &OrtOptions,
    configure: impl FnOnce(SessionBuilder) -> ort::Result<SessionBuilder>,
) -> Result<Session> {
    let env = environment(options.dylib_path.as_deref())?;
    let mut builder = Session::builder(env).map_err(err)?;
    if let Some(n) = options.intra_threads {
        builder = builder.with_intra_threads(n).map_err(err)?;
    }
    let mut builder = configure(builder).map_err(err)?;
    // Unsupported operators, bad graphs and unreadable files all fail here, with ONNX Runtime's
    // message naming the node.
    builder
        .commit_from_memory(bytes)
        .map_err(|e| PoseError::Graph {
            model: path.into(),
            reason: format!("ONNX Runtime cannot load the model: {e}"),
        })
}

/// Reads the declared inputs and outputs of a model (ONNX Runtime does not list operators).
pub fn graph_info(bytes: &[u8], path: &Path) -> Result<GraphInfo> {
    let session = create_session(bytes, path, &OrtOptions::default(), Ok)?;
    Ok(session_info(&session))
}

/// A model loaded into an ONNX Runtime session.
pub struct OrtBackend {
    session: Session,
    graph: GraphInfo,
    batch: usize,
    outputs: Vec<String>,
    shape: Vec<usize>,
}

impl OrtBackend {
    /// Loads a model with default options (CPU, library from `ORT_DYLIB_PATH`).
    pub fn load(bytes: &[u8], path: &Path, manifest: &Manifest, batch: usize) -> Result<Self> {
        Self::load_with(bytes, path, manifest, batch, &OrtOptions::default(), Ok)
    }

    /// Loads a model; `configure` may add execution providers or other session options.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), wifi_sensing_pose::PoseError> {
    /// use std::path::Path;
    /// use wifi_sensing_pose::backend::ort::{OrtBackend, OrtOptions};
    /// let path = Path::new("model.onnx");
    /// let manifest = wifi_sensing_pose::Manifest::load("model.json")?;
    /// let bytes = std::fs::read(path).unwrap();
    /// // With ort's `cuda` feature and a CUDA build of ONNX Runtime, for example:
    /// // |b| b.with_execution_providers([ort::ep::CUDA::default().build()]).map_err(Into::into)
    /// let backend = OrtBackend::load_with(&bytes, path, &manifest, 1, &OrtOptions::default(), Ok)?;
    /// # Ok(()) }
    /// ```
    pub fn load_with(
        bytes: &[u8],
        path: &Path,
        manifest: &Manifest,
        batch: usize,
        options: &OrtOptions,
        configure: impl FnOnce(SessionBuilder) -> ort::Result<SessionBuilder>,
    ) -> Result<Self> {
        let session = create_session(bytes, path, options, configure)?;
        let info = session_info(&session);
        graph::check(manifest, &info, batch, path)?;
        Ok(OrtBackend {
            session,
            graph: info,
            batch,
            outputs: manifest
                .output
                .tensors()
                .into_iter()
                .map(String::from)
                .collect(),
            shape: manifest.input_shape(batch),
        })
    }
}

impl Backend for OrtBackend {
    fn name(&self) -> &'static str {
        "ort"
    }

    fn graph(&self) -> &GraphInfo {
        &self.graph
    }

    fn batch(&self) -> usize {
        self.batch
    }

    fn run(&mut self, input: ArrayViewD<'_, f32>) -> Result<Vec<ArrayD<f32>>> {
        if input.shape() != self.shape.as_slice() {
            return Err(err(format!(
                "input shape {:?}, the model was loaded for {:?}",
                input.shape(),
                self.shape
            )));
        }
        let input = input.as_standard_layout();
        let tensor = TensorRef::from_array_view(input.view()).map_err(err)?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(err)?;
        self.outputs
            .iter()
            .map(|name| {
                let v = outputs
                    .get(name.as_str())
                    .ok_or_else(|| err(format!("no output `{name}`")))?;
                let (shape, data) = v.try_extract_tensor::<f32>().map_err(err)?;
                let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
                ArrayD::from_shape_vec(IxDyn(&dims), data.to_vec()).map_err(err)
            })
            .collect()
    }
}
