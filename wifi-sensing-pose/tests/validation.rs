//! Load-time and first-frame checks: every mismatch is a clear error naming what disagrees.

mod common;

use std::path::{Path, PathBuf};

use common::{frame, model};
use serde_json::{json, Value};
use wifi_sensing_core::{Clock, Device};
use wifi_sensing_pose::{LoadOptions, PoseError, PoseEstimator, PoseModel, WindowConfig};

/// Copies `name.onnx` into a temp dir with its manifest edited by `edit`; returns the model path.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let text = std::fs::read_to_string(model(&format!("{name}.json"))).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    edit(&mut m);
    let onnx = dir.join(format!("{name}.onnx"));
    std::fs::copy(model(&format!("{name}.onnx")), &onnx).unwrap();
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    onnx
}

fn load_err(edit: impl FnOnce(&mut Value)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), "linear_keypoints", edit);
    let e = PoseModel::load(&p, &LoadOptions::default()).unwrap_err();
    e.to_string()
}

#[test]
fn manifest_errors_name_the_file_and_field() {
    let e = load_err(|m| {
        m["input"].as_object_mut().unwrap().remove("frame_rate_hz");
    });
    assert!(
        e.contains("linear_keypoints.json") && e.contains("frame_rate_hz"),
        "{e}"
    );
    let e = load_err(|m| m["input"]["frame_rate_hz"] = json!(-5.0));
    assert!(e.contains("input.frame_rate_hz"), "{e}");
    let e = load_err(|m| m["input"]["normalisation"]["std"] = json!([1.0, 0.0]));
    assert!(e.contains("input.normalisation.std"), "{e}");
    let e = load_err(|m| m["input"]["device"] = json!("toaster"));
    assert!(e.contains("input.device") && e.contains("toaster"), "{e}");
    let e = load_err(|m| m["manifest_version"] = json!(2));
    assert!(e.contains("manifest_version"), "{e}");
    let e = load_err(|m| m["input"]["bogus"] = json!(1));
    assert!(e.contains("bogus"), "{e}");
    let e = load_err(|m| m["input"]["layout"] = json!(["batch", "frames", "subcarriers"]));
    assert!(e.contains("input.layout") && e.contains("channels"), "{e}");
    let e = load_err(|m| m["input"]["nodes"] = json!(2));
    assert!(e.contains("input.node_ids"), "{e}");
    let e = load_err(|m| m["output"]["dims"] = json!(4));
    assert!(e.contains("output.dims"), "{e}");
    let e = load_err(|m| m["input"]["window_frames"] = json!(1u64 << 40));
    assert!(e.contains("input.window_frames"), "{e}");
    // the field is named by its path, a wrong value's field too (not a line and column)
    let e = load_err(|m| m["input"]["bogus"] = json!(1));
    assert!(e.contains("field `input.bogus`:"), "{e}");
    let e = load_err(|m| m["bogus"] = json!(1));
    assert!(e.contains("field `bogus`:"), "{e}");
    let e = load_err(|m| {
        m["input"].as_object_mut().unwrap().remove("tx");
    });
    assert!(e.contains("field `input.tx`:"), "{e}");
    let e = load_err(|m| m["input"]["channels"] = json!(["amplitude", "colour"]));
    assert!(
        e.contains("input.channels[1]") && e.contains("colour"),
        "{e}"
    );
    let e = load_err(|m| m["input"]["frame_rate_hz"] = json!("fast"));
    assert!(e.contains("input.frame_rate_hz"), "{e}");
    // the layout's receivers are the nodes the model reads
    let e = load_err(|m| {
        m["input"]["nodes"] = json!(2);
        m["input"]["node_ids"] = json!([0, 1]);
        m["sensing_layout"]["receivers"] = json!([{"node_id": 0, "position_m": [1.0, 1.0, 1.0]}]);
    });
    assert!(
        e.contains("sensing_layout.receivers") && e.contains("node 1"),
        "{e}"
    );
    let e = load_err(|m| {
        m["input"]["nodes"] = json!(2);
        m["input"]["node_ids"] = json!([0, 1]);
        m["sensing_layout"]["receivers"] = json!([
            {"node_id": 0, "position_m": [1.0, 1.0, 1.0]},
            {"node_id": 9, "position_m": [2.0, 1.0, 1.0]}
        ]);
    });
    assert!(
        e.contains("sensing_layout.receivers[1].node_id") && e.contains("node 9"),
        "{e}"
    );
    // an ESP32 has one antenna
    let e = load_err(|m| {
        m["input"]["device"] = json!("esp32");
        m["input"]["rx"] = json!(3);
    });
    assert!(e.contains("input.rx") && e.contains("1 x 1"), "{e}");
    // Not JSON at all.
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), "linear_keypoints", |_| {});
    std::fs::write(dir.path().join("linear_keypoints.json"), "{ not json").unwrap();
    let e = PoseModel::load(&p, &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, PoseError::Manifest { .. }), "{e}");
}

#[test]
fn a_missing_manifest_or_model_is_an_io_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // neither the model nor its manifest: the model is named
    let e = PoseModel::load(dir.path().join("nope.onnx"), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(e, PoseError::Io { .. }) && e.to_string().contains("nope.onnx"),
        "{e}"
    );
    // the model without its manifest: the manifest is named
    std::fs::copy(model("linear_keypoints.onnx"), dir.path().join("lone.onnx")).unwrap();
    let e = PoseModel::load(dir.path().join("lone.onnx"), &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(e, PoseError::Io { .. }) && e.to_string().contains("lone.json"),
        "{e}"
    );
    std::fs::copy(model("linear_keypoints.json"), dir.path().join("m.json")).unwrap();
    let e = PoseModel::load(dir.path().join("m.onnx"), &LoadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("m.onnx"), "{e}");
    // A file that is not ONNX.
    std::fs::write(dir.path().join("m.onnx"), b"\xff\xff\xff garbage").unwrap();
    let e = PoseModel::load(dir.path().join("m.onnx"), &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, PoseError::Graph { .. }), "{e}");
}

#[test]
fn graph_disagreements_are_listed() {
    let e = load_err(|m| m["input"]["window_frames"] = json!(5));
    assert!(
        e.contains("axis `frames` is 4 in the graph, 5 in the manifest"),
        "{e}"
    );
    let e = load_err(|m| m["input"]["tensor"] = json!("amplitudes"));
    assert!(e.contains("`amplitudes`") && e.contains("`csi`"), "{e}");
    let e = load_err(|m| m["output"]["tensor"] = json!("joints"));
    assert!(e.contains("`joints`") && e.contains("`keypoints`"), "{e}");
    let e = load_err(|m| m["output"]["dims"] = json!(2));
    assert!(
        e.contains("68 values per window") && e.contains("51"),
        "{e}"
    );
    let e = load_err(|m| {
        m["input"]["layout"] = json!(["batch", "frames", "subcarriers", "channels"]);
    });
    assert!(e.contains("has 7 dimensions") && e.contains("has 4"), "{e}");
    // Two problems at once: both listed.
    let e = load_err(|m| {
        m["input"]["subcarriers"] = json!(16);
        m["output"]["tensor"] = json!("joints");
    });
    assert!(e.contains("subcarriers") && e.contains("joints"), "{e}");
}

#[test]
fn unsupported_operators_are_named_at_load_time() {
    let e = PoseModel::load(model("unsupported_op.onnx"), &LoadOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PoseError::Graph { .. }), "{msg}");
    assert!(msg.contains("example.custom:Frobnicate"), "{msg}");
}

#[test]
fn a_fixed_batch_graph_refuses_a_larger_batch() {
    // The linear model's batch is symbolic: any batch loads.
    let opts = LoadOptions {
        batch: 3,
        ..LoadOptions::default()
    };
    assert_eq!(
        PoseModel::load(model("linear_keypoints.onnx"), &opts)
            .unwrap()
            .batch(),
        3
    );
    let opts = LoadOptions {
        batch: 0,
        ..LoadOptions::default()
    };
    assert!(PoseModel::load(model("linear_keypoints.onnx"), &opts).is_err());
}

fn first_frame_err(f: wifi_sensing_core::CsiFrame, edit: impl FnOnce(&mut Value)) -> PoseError {
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), "linear_keypoints", edit);
    let m = PoseModel::load(&p, &LoadOptions::default()).unwrap();
    let mut est = PoseEstimator::new(m, WindowConfig::default()).unwrap();
    est.push(&f, &mut Vec::new()).unwrap_err()
}

#[test]
fn stream_mismatches_fail_at_the_first_frame() {
    let mut f = frame(0, 8, 10.0, 4);
    f.device = Device::Esp32;
    let e = first_frame_err(f, |_| {});
    assert!(
        matches!(
            e,
            PoseError::Stream {
                node_id: 4,
                field: "input.device",
                ..
            }
        ),
        "{e}"
    );
    let e = first_frame_err(frame(0, 16, 10.0, 0), |_| {});
    assert!(
        e.to_string().contains("8 subcarriers, the frames have 16"),
        "{e}"
    );
    let mut f = frame(0, 8, 10.0, 0);
    f.clock = Clock::None;
    let e = first_frame_err(f, |_| {});
    assert!(e.to_string().contains("no timestamps"), "{e}");
    // Subcarrier indices required but the frames do not state them.
    let e = first_frame_err(frame(0, 8, 10.0, 0), |m| {
        m["input"]["subcarrier_indices"] = json!([-4, -3, -2, -1, 1, 2, 3, 4]);
    });
    assert!(
        e.to_string()
            .contains("do not state their subcarrier indices"),
        "{e}"
    );
    let mut f = frame(0, 8, 10.0, 0);
    f.subcarriers = Some(vec![-4, -3, -2, -1, 1, 2, 3, 5]);
    let e = first_frame_err(f, |m| {
        m["input"]["subcarrier_indices"] = json!([-4, -3, -2, -1, 1, 2, 3, 4]);
    });
    assert!(
        e.to_string().contains("subcarrier 4 is not in the frames"),
        "{e}"
    );
}

#[test]
fn subcarrier_indices_select_and_reorder_columns() {
    // Frames with 10 columns; the manifest takes 8 of them by index.
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), "linear_keypoints", |m| {
        m["input"]["subcarrier_indices"] = json!([0, 1, 2, 3, 4, 5, 6, 7]);
    });
    let m = PoseModel::load(&p, &LoadOptions::default()).unwrap();
    let mut est = PoseEstimator::new(m, WindowConfig::default()).unwrap();
    let mut out = Vec::new();
    for k in 0..4 {
        let mut f = frame(k, 10, 10.0, 0);
        f.subcarriers = Some((0..10).collect());
        est.push(&f, &mut out).unwrap();
    }
    est.finish(&mut out).unwrap();
    assert_eq!(out.len(), 1);
}

#[test]
fn a_stream_slower_than_the_model_rate_is_refused() {
    let m = PoseModel::load(model("linear_keypoints.onnx"), &LoadOptions::default()).unwrap();
    let cfg = WindowConfig {
        max_gap_s: Some(1.0),
        ..WindowConfig::default()
    };
    let mut est = PoseEstimator::new(m, cfg).unwrap();
    let mut out = Vec::new();
    let mut err = None;
    for k in 0..10 {
        if let Err(e) = est.push(&frame(k, 8, 5.0, 0), &mut out) {
            err = Some(e);
            break;
        }
    }
    let e = err.expect("a 5 Hz stream for a 10 Hz model must fail");
    assert!(
        matches!(
            e,
            PoseError::Stream {
                field: "input.frame_rate_hz",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("measured 5.00 frames/s"), "{e}");
}

#[test]
fn post_processing_is_checked_at_load() {
    let body: Vec<[f64; 3]> = vec![[0.0, 0.0, 0.0]; 17];
    let ok = json!({"track_heading": {"span_s": 1.0, "min_speed_m_s": 0.2,
        "full_speed_m_s": 0.6, "body_pose_m": body}});
    // A valid step on a 3-D keypoint model loads; the manifest keeps it.
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), "linear_keypoints", |m| {
        m["post_processing"] = ok.clone()
    });
    let model = PoseModel::load(&p, &LoadOptions::default()).unwrap();
    let t = model.manifest().post_processing.as_ref().unwrap();
    assert_eq!(t.track_heading.as_ref().unwrap().span_s, 1.0);
    assert!(PoseEstimator::new(model, WindowConfig::default()).is_ok());
    // Bad fields are named.
    let e = load_err(|m| {
        m["post_processing"] = ok.clone();
        m["post_processing"]["track_heading"]["span_s"] = json!(0.0);
    });
    assert!(e.contains("post_processing.track_heading.span_s"), "{e}");
    let e = load_err(|m| {
        m["post_processing"] = ok.clone();
        m["post_processing"]["track_heading"]["full_speed_m_s"] = json!(0.1);
    });
    assert!(
        e.contains("post_processing.track_heading.full_speed_m_s"),
        "{e}"
    );
    let e = load_err(|m| {
        m["post_processing"] = ok.clone();
        m["post_processing"]["track_heading"]["body_pose_m"] = json!([[0.0, 0.0, 0.0]]);
    });
    assert!(e.contains("body_pose_m"), "{e}");
    let e = load_err(|m| m["post_processing"] = json!({"smoothing": {}}));
    assert!(e.contains("smoothing"), "{e}");
    // 2-D keypoints cannot be turned about the vertical.
    let e = load_err(|m| {
        m["post_processing"] = ok.clone();
        m["output"]["dims"] = json!(2);
    });
    assert!(e.contains("post_processing.track_heading"), "{e}");
}

/// The heading-from-track step works in metres in the room: a manifest that declares it with
/// keypoints in another frame is refused.
#[test]
fn the_heading_step_needs_room_metres() {
    let text = std::fs::read_to_string(model("wifi-pose-ref.json")).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    assert!(wifi_sensing_pose::Manifest::from_json(&m.to_string(), Path::new("ref.json")).is_ok());
    m["output"]["coordinate_frame"] = json!("image_px");
    let e = wifi_sensing_pose::Manifest::from_json(&m.to_string(), Path::new("ref.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("post_processing.track_heading") && e.contains("room_m"),
        "{e}"
    );
}
