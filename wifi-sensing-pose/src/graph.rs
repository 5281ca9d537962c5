//! What an ONNX graph declares (inputs, outputs, operators), and its comparison with a
//! [`Manifest`].
//!
//! Each backend reads the graph its own way and fills a [`GraphInfo`]; [`check`] is the one
//! place that decides whether a manifest and a graph agree, so both backends refuse the same
//! models with the same messages.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::error::{PoseError, Result};
use crate::manifest::{Axis, Manifest, OutputSpec, DENSEPOSE_CHANNELS};

/// One dimension of a declared tensor shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Dim {
    /// A fixed size.
    Fixed(u64),
    /// A named or unknown (dynamic) size.
    Symbolic(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) if s.is_empty() => f.write_str("?"),
            Dim::Symbolic(s) => f.write_str(s),
        }
    }
}

/// A graph input or output as the graph declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Element type (`float32`, `int64`, ...).
    pub elem_type: String,
    /// Declared shape; `None` when the graph does not declare one.
    pub shape: Option<Vec<Dim>>,
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.elem_type)?;
        match &self.shape {
            Some(s) => {
                let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
                write!(f, " [{}]", dims.join(", "))
            }
            None => f.write_str(" [shape not declared]"),
        }
    }
}

/// What a backend read from an ONNX graph.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GraphInfo {
    /// Graph inputs (initialisers excluded).
    pub inputs: Vec<TensorInfo>,
    /// Graph outputs.
    pub outputs: Vec<TensorInfo>,
    /// Operator types the graph uses (`domain:Op` outside the default domain), sorted, unique;
    /// empty when the backend cannot list them.
    pub operators: Vec<String>,
    /// Operators the backend does not implement.
    pub unsupported_operators: Vec<String>,
    /// Default-domain operator set version, where known.
    pub opset: Option<i64>,
}

/// Compares a manifest with a graph; every disagreement is listed (one per line) in the error.
///
/// Checked: the graph has exactly the input the manifest names, with element type float32 and a
/// shape whose fixed dimensions equal the manifest's sizes in layout order (the batch dimension
/// may be symbolic; a fixed batch must be a multiple-free `1` or equal `batch`); every output the
/// manifest decodes exists, is float32 and has compatible fixed dimensions; no unsupported
/// operator.
pub fn check(manifest: &Manifest, graph: &GraphInfo, batch: usize, model: &Path) -> Result<()> {
    if let Some(reason) = no_graph(graph) {
        return Err(PoseError::Graph {
            model: model.into(),
            reason: reason.into(),
        });
    }
    // operators the backend lacks are no disagreement with the manifest: said first, as such
    let disagree = disagreements(manifest, graph, batch);
    let disagree = (!disagree.is_empty()).then(|| {
        format!(
            "the model and its manifest disagree:\n  - {}",
            disagree.join("\n  - ")
        )
    });
    let reason = [unsupported(graph), disagree]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; and ");
    if reason.is_empty() {
        return Ok(());
    }
    Err(PoseError::Graph {
        model: model.into(),
        reason,
    })
}

/// The operators the backend does not implement, as a sentence (`None` when it has them all).
pub fn unsupported(graph: &GraphInfo) -> Option<String> {
    (!graph.unsupported_operators.is_empty()).then(|| {
        format!(
            "the graph uses operators this backend does not implement: {}",
            graph.unsupported_operators.join(", ")
        )
    })
}

/// Why a file read as ONNX is no model at all, if so: a graph without inputs, outputs or
/// operators (an empty, damaged or non-ONNX file decodes that way).
pub fn no_graph(graph: &GraphInfo) -> Option<&'static str> {
    (graph.inputs.is_empty() && graph.outputs.is_empty() && graph.operators.is_empty()).then_some(
        "the file holds no ONNX graph (no inputs, outputs or operators): an empty, damaged or \
         non-ONNX file",
    )
}

/// Every problem of a graph for a manifest, as sentences (empty when the model can run): the
/// operators the backend lacks ([`unsupported`]), then every disagreement between the two.
pub fn problems(manifest: &Manifest, graph: &GraphInfo, batch: usize) -> Vec<String> {
    unsupported(graph)
        .into_iter()
        .chain(disagreements(manifest, graph, batch))
        .collect()
}

/// Every disagreement between a manifest and a graph's inputs and outputs, as sentences.
fn disagreements(manifest: &Manifest, graph: &GraphInfo, batch: usize) -> Vec<String> {
    let mut p = Vec::new();
    let want = &manifest.input.tensor;
    match graph.inputs.iter().find(|t| &t.name == want) {
        None => p.push(format!(
            "input tensor `{want}` (manifest input.tensor) is not a graph input; the graph's inputs are: {}",
            names(&graph.inputs)
        )),
        Some(t) => {
            if t.elem_type != "float32" {
                p.push(format!("input `{want}` is {}, expected float32", t.elem_type));
            }
            let expect = manifest.input_shape(batch);
            match &t.shape {
                None => {}
                Some(s) if s.len() != expect.len() => p.push(format!(
                    "input `{want}` has {} dimensions, the manifest's layout [{}] has {}",
                    s.len(),
                    layout_names(manifest),
                    expect.len()
                )),
                Some(s) => {
                    for ((d, e), axis) in s.iter().zip(&expect).zip(&manifest.input.layout) {
                        if let Dim::Fixed(n) = d {
                            let ok = *n == *e as u64;
                            if !ok && *axis == Axis::Batch {
                                p.push(format!(
                                    "input `{want}` has a fixed batch size {n}, but {e} windows per batch were asked for"
                                ));
                            } else if !ok {
                                p.push(format!(
                                    "input `{want}` axis `{}` is {n} in the graph, {e} in the manifest",
                                    axis.name()
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    for extra in graph.inputs.iter().filter(|t| &t.name != want) {
        p.push(format!(
            "graph input `{}` is not described by the manifest (a model must have one input)",
            extra.name
        ));
    }
    let o = &manifest.output;
    let main_expect: Vec<Option<u64>> = match o {
        OutputSpec::Keypoints { .. } => vec![],
        OutputSpec::Heatmaps { .. } => vec![Some(batch as u64), Some(17), None, None],
    };
    let mut check_out = |name: &str, expect: &[Option<u64>], what: &str| {
        match graph.outputs.iter().find(|t| t.name == name) {
            None => p.push(format!(
                "output tensor `{name}` ({what}) is not a graph output; the graph's outputs are: {}",
                names(&graph.outputs)
            )),
            Some(t) => {
                if t.elem_type != "float32" {
                    p.push(format!("output `{name}` is {}, expected float32", t.elem_type));
                }
                if let (Some(s), false) = (&t.shape, expect.is_empty()) {
                    if s.len() != expect.len() {
                        p.push(format!(
                            "output `{name}` has {} dimensions, expected {} ({what})",
                            s.len(),
                            expect.len()
                        ));
                    } else {
                        for (k, (d, e)) in s.iter().zip(expect).enumerate() {
                            if let (Dim::Fixed(n), Some(e)) = (d, e) {
                                if n != e && !(k == 0 && *n == 1 && batch == 1) {
                                    p.push(format!(
                                        "output `{name}` dimension {k} is {n}, expected {e} ({what})"
                                    ));
                                }
                            }
                        }
                    }
                }
                if let (Some(s), OutputSpec::Keypoints { dims, .. }, true) =
                    (&t.shape, o, name == o.tensor())
                {
                    // Any shape whose per-item values are 17 * (dims + 1).
                    let per_item: Option<u64> = s
                        .iter()
                        .skip(1)
                        .map(|d| match d {
                            Dim::Fixed(n) => Some(*n),
                            Dim::Symbolic(_) => None,
                        })
                        .product();
                    let want = 17 * (*dims as u64 + 1);
                    if let Some(n) = per_item {
                        if n != want {
                            p.push(format!(
                                "output `{name}` has {n} values per window, expected 17 keypoints x {} = {want}",
                                dims + 1
                            ));
                        }
                    }
                }
            }
        }
    };
    check_out(o.tensor(), &main_expect, "keypoints or heatmaps");
    if let Some(d) = o.densepose() {
        let e = [
            Some(batch as u64),
            Some(DENSEPOSE_CHANNELS as u64),
            None,
            None,
        ];
        check_out(&d.parts_tensor, &e, "DensePose part logits");
        check_out(&d.u_tensor, &e, "DensePose U");
        check_out(&d.v_tensor, &e, "DensePose V");
    }
    p
}

fn names(t: &[TensorInfo]) -> String {
    if t.is_empty() {
        return "(none)".into();
    }
    t.iter()
        .map(|t| format!("`{}`", t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn layout_names(m: &Manifest) -> String {
    m.input
        .layout
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// ONNX `TensorProto.DataType` code to a name.
pub fn onnx_type_name(code: i32) -> &'static str {
    match code {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "other",
    }
}
