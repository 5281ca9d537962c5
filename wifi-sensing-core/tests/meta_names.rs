//! The JSON key of a frame's `meta` names the format family as the format's short name does
//! (`picoscenes`, `feitcsi`), and the spellings earlier builds wrote still read back.

mod common;

use wifi_sensing_core::{CsiFrame, Registry};

fn first_frame(rel: &str) -> CsiFrame {
    let mut cap = Registry::builtin()
        .open_path(common::fixtures().join(rel))
        .unwrap();
    cap.next().unwrap().unwrap()
}

#[test]
fn meta_keys_match_format_names_and_old_keys_read() {
    for (rel, key, old) in [
        (
            "picoscenes/picoscenes_iwl5300_example.csi",
            "picoscenes",
            "pico_scenes",
        ),
        ("feitcsi/HT20_2452.csi", "feitcsi", "feit_csi"),
    ] {
        let f = first_frame(rel);
        assert_eq!(f.format.name(), key);
        let meta = serde_json::to_value(&f.meta).unwrap();
        let obj = meta.as_object().unwrap();
        assert_eq!(obj.keys().collect::<Vec<_>>(), [key], "{rel}");
        let renamed = serde_json::json!({ old: obj[key].clone() });
        let back: wifi_sensing_core::FormatMeta = serde_json::from_value(renamed).unwrap();
        assert_eq!(back, f.meta, "{rel}: the old key {old} reads back");
    }
}
