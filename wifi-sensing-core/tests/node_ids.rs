//! The one node-id rule of `CsiFrame::node_id`, checked on every capture: formats that carry a
//! node id keep it; the others number their transmitter MACs in order of first appearance (frames
//! without a MAC share one id); Intel 5300 is node 0 throughout.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wifi_sensing_core::{CaptureFormat, Registry};

/// Files under `dir` that may be captures (notes and tables left out; golden files read as
/// JSON Lines or not at all, which the check passes over).
fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                if name != "golden" && name != "labelled" {
                    stack.push(p);
                }
            } else if !(name.ends_with(".md") || name.ends_with(".tsv") || name.ends_with(".json"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Checks the rule on one capture; returns the number of distinct MACs seen.
fn check(path: &Path) -> usize {
    let Ok(cap) = Registry::builtin().open_path(path) else {
        return 0;
    };
    let format = cap.format();
    let mut first_seen: Vec<Option<[u8; 6]>> = Vec::new();
    let mut ids: BTreeMap<Option<[u8; 6]>, u32> = BTreeMap::new();
    for f in cap.flatten() {
        let what = format!("{} ({format})", path.display());
        match f.format {
            // the format's own node ids
            CaptureFormat::Esp32Adr018
            | CaptureFormat::RuviewJsonl
            | CaptureFormat::JsonLines
            | CaptureFormat::Recording => continue,
            CaptureFormat::Intel5300 => assert_eq!(f.node_id, 0, "{what}"),
            _ => {
                if !first_seen.contains(&f.mac) {
                    first_seen.push(f.mac);
                }
                let want = first_seen.iter().position(|m| *m == f.mac).unwrap() as u32;
                assert_eq!(f.node_id, want, "{what}: MAC {:?}", f.mac);
                assert_eq!(*ids.entry(f.mac).or_insert(f.node_id), f.node_id, "{what}");
            }
        }
    }
    ids.len()
}

#[test]
fn fixtures_follow_the_node_id_rule() {
    let files = captures(&common::fixtures());
    assert!(files.len() >= 10, "{files:?}");
    let macs: usize = files.iter().map(|p| check(p)).sum();
    assert!(macs >= 8, "{macs}");
}

#[test]
fn esp_csi_senders_are_separate_nodes() {
    // the two example devices of esp-csi's README: two MACs, two nodes, no drops across them
    let cap = Registry::builtin()
        .open_path(common::fixtures().join("esp32/get-started_README_lines.csv"))
        .unwrap();
    let nodes: Vec<(u32, Option<[u8; 6]>)> = cap.flatten().map(|f| (f.node_id, f.mac)).collect();
    assert_eq!(nodes.len(), 2);
    assert_eq!((nodes[0].0, nodes[1].0), (0, 1));
    assert_ne!(nodes[0].1, nodes[1].1);
}

#[test]
fn esp32_csi_tool_transmitters_are_separate_nodes() {
    let line = |mac: &str, t: u32| {
        format!("CSI_DATA,STA,{mac},-73,11,1,0,0,1,1,0,0,0,0,-93,0,6,0,{t},0,101,0,0,80.3,4,[1 2 3 4 ]\n")
    };
    let text = [
        line("3C:71:BF:6D:2A:78", 1),
        line("11:22:33:44:55:66", 2),
        line("3C:71:BF:6D:2A:78", 3),
    ]
    .concat();
    let cap = Registry::builtin()
        .open_read(
            Box::new(std::io::Cursor::new(text)),
            None,
            Some("csv"),
            None,
        )
        .unwrap();
    let ids: Vec<u32> = cap.flatten().map(|f| f.node_id).collect();
    assert_eq!(ids, [0, 1, 0]);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_captures_follow_the_node_id_rule() {
    let files = captures(&common::kit());
    assert!(files.len() >= 25, "{}", files.len());
    let macs: usize = files.iter().map(|p| check(p)).sum();
    assert!(macs >= 20, "{macs} distinct MACs");
}
