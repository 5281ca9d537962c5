//! The tract-onnx backend (pure Rust).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::Backend;
use crate::error::{PoseError, Result};
use crate::graph::{self, onnx_type_name, Dim, GraphInfo, TensorInfo};
use crate::manifest::Manifest;

type Plan = Arc<TypedRunnableModel>;

/// A model compiled by tract for one batch size.
pub struct TractBackend {
    graph: GraphInfo,
    batch: usize,
    state: TypedSimpleState,
}

type TypedSimpleState = tract_onnx::tract_core::plan::SimpleState<TypedFact, Box<dyn TypedOp>>;

fn err(e: impl std::fmt::Display) -> PoseError {
    PoseError::Backend {
        backend: "tract",
        reason: format!("{e:#}"),
    }
}

fn graph_err(path: &Path, e: impl std::fmt::Display) -> PoseError {
    PoseError::Graph {
        model: path.into(),
        reason: format!("{e:#}"),
    }
}

fn read_proto(bytes: &[u8], path: &Path) -> Result<pb::ModelProto> {
    tract_onnx::onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| graph_err(path, format_args!("not a readable ONNX model: {e:#}")))
}

/// Reads the declared inputs, outputs and operators of a model.
pub fn graph_info(bytes: &[u8], path: &Path) -> Result<GraphInfo> {
    let proto = read_proto(bytes, path)?;
    Ok(info_from_proto(&proto, path))
}

fn tensor_info(v: &pb::ValueInfoProto) -> TensorInfo {
    use pb::tensor_shape_proto::dimension::Value as D;
    use pb::type_proto::Value as T;
    let (elem_type, shape) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => (
            onnx_type_name(t.elem_type).to_string(),
            t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(D::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as u64),
                        Some(D::DimParam(p)) => Dim::Symbolic(p.clone()),
                        _ => Dim::Symbolic(String::new()),
                    })
                    .collect()
            }),
        ),
        _ => ("not a tensor".to_string(), None),
    };
    TensorInfo {
        name: v.name.clone(),
        elem_type,
        shape,
    }
}

fn info_from_proto(proto: &pb::ModelProto, _path: &Path) -> GraphInfo {
    let register = tract_onnx::onnx().op_register;
    let mut info = GraphInfo {
        opset: proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version),
        ..GraphInfo::default()
    };
    let Some(g) = proto.graph.as_ref() else {
        return info;
    };
    let inits: BTreeSet<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
    info.inputs = g
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .map(tensor_info)
        .collect();
    info.outputs = g.output.iter().map(tensor_info).collect();
    let mut ops = BTreeSet::new();
    let mut unsupported = BTreeSet::new();
    // Operators of subgraphs (If, Loop, Scan bodies) are checked by tract when it parses them.
    for n in &g.node {
        let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        let name = if default_domain {
            n.op_type.clone()
        } else {
            format!("{}:{}", n.domain, n.op_type)
        };
        if !register.0.contains_key(&n.op_type) || !(default_domain || n.domain == "ai.onnx.ml") {
            unsupported.insert(name.clone());
        }
        ops.insert(name);
    }
    info.operators = ops.into_iter().collect();
    info.unsupported_operators = unsupported.into_iter().collect();
    info
}

impl TractBackend {
    /// Reads, checks against the manifest and compiles a model for `batch` windows per run.
    pub fn load(bytes: &[u8], path: &Path, manifest: &Manifest, batch: usize) -> Result<Self> {
        let proto = read_proto(bytes, path)?;
        let info = info_from_proto(&proto, path);
        graph::check(manifest, &info, batch, path)?;
        let onnx = tract_onnx::onnx();
        let dir = path.parent().and_then(|d| d.to_str());
        let parsed = onnx.parse(&proto, dir).map_err(|e| graph_err(path, e))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(graph_err(
                path,
                format_args!("unresolved inputs: {:?}", parsed.unresolved_inputs),
            ));
        }
        let shape = manifest.input_shape(batch);
        let plan: Plan = parsed
            .model
            .with_input_fact(0, f32::fact(&shape).into())
            .and_then(|m| m.with_outputs_by_name(manifest.output.tensors()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| graph_err(path, format_args!("tract cannot compile the model: {e:#}")))?;
        let state = plan.spawn().map_err(err)?;
        Ok(TractBackend {
            graph: info,
            batch,
            state,
        })
    }
}

impl Backend for TractBackend {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn graph(&self) -> &GraphInfo {
        &self.graph
    }

    fn batch(&self) -> usize {
        self.batch
    }

    fn run(&mut self, input: ArrayViewD<'_, f32>) -> Result<Vec<ArrayD<f32>>> {
        let tensor: Tensor = input.to_owned().into();
        let outputs = self.state.run(tvec!(tensor.into())).map_err(err)?;
        outputs
            .into_iter()
            .map(|t| {
                t.to_plain_array_view::<f32>()
                    .map(|a| a.to_owned())
                    .map_err(err)
            })
            .collect()
    }
}
