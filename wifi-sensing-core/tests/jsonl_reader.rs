//! Reading this family's JSON Lines back: arbitrary input never panics; damaged lines are counted.

use std::io::Cursor;

use proptest::prelude::*;
use wifi_sensing_core::{CaptureFormat, Registry};

fn read(bytes: Vec<u8>) -> wifi_sensing_core::Capture {
    let mut cap = Registry::builtin()
        .open_read(
            Box::new(Cursor::new(bytes)),
            Some("t"),
            None,
            Some(CaptureFormat::JsonLines),
        )
        .unwrap()
        .skip_malformed(true);
    while cap.next_record().is_some() {}
    cap
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        read(bytes);
    }

    #[test]
    fn damaged_frame_lines_are_counted(cut in 1usize..400, junk in any::<u8>()) {
        let line = br#"{"schema":1,"type":"frame","timestamp_ns":5,"clock":"host","node_id":1,"mac":null,"sequence":3,"rssi_dbm":-50.0,"chain_rssi":[],"noise_floor_dbm":null,"channel":6,"center_freq_mhz":2437,"bandwidth_mhz":20,"format":"esp32_adr018","device":"esp32","shape":[1,1,2],"subcarriers":null,"csi_re":[1.0,2.0],"csi_im":[3.0,4.0],"meta":"none"}"#;
        let mut text = line.to_vec();
        text.push(b'\n');
        let mut bad = line[..cut.min(line.len() - 1)].to_vec();
        bad.push(junk);
        text.extend_from_slice(&bad);
        text.push(b'\n');
        text.extend_from_slice(line);
        let cap = read(text);
        // the damaged middle line may by chance still be a valid record; the others always are
        prop_assert!(cap.stats().frames >= 2);
        prop_assert_eq!(cap.stats().frames + cap.stats().malformed, 3);
    }
}

#[test]
fn wrong_shape_and_schema_are_reported() {
    let lines = [
        r#"{"schema":2,"type":"frame"}"#,
        r#"{"schema":1,"type":"frame","timestamp_ns":5,"clock":"host","node_id":1,"mac":null,"sequence":3,"rssi_dbm":null,"chain_rssi":[],"noise_floor_dbm":null,"channel":null,"center_freq_mhz":null,"bandwidth_mhz":null,"format":"esp32_csv","device":"esp32","shape":[1,1,3],"subcarriers":null,"csi_re":[1.0,2.0],"csi_im":[3.0,4.0],"meta":"none"}"#,
        r#"{"schema":1,"type":"teleport"}"#,
        r#"[1,2,3]"#,
    ];
    let cap = read(lines.join("\n").into_bytes());
    assert_eq!(cap.stats().frames, 0);
    assert_eq!(cap.stats().malformed, 4);
    let msgs: Vec<&str> = cap
        .stats()
        .issues
        .iter()
        .map(|i| i.message.as_str())
        .collect();
    assert!(
        msgs[0].contains("schema version 2") && msgs[0].contains("line 1"),
        "{msgs:?}"
    );
    assert!(msgs[1].contains("shape"), "{msgs:?}");
    assert!(msgs[2].contains("teleport"), "{msgs:?}");
}

/// Fields that disagree with `shape` make the line a recoverable malformed record with its line
/// number and byte offset; the lines around it still read.
#[test]
fn fields_inconsistent_with_the_shape_are_malformed() {
    let line = |shape: &str, sc: &str, re: &str, im: &str| {
        format!(
            r#"{{"schema":1,"type":"frame","timestamp_ns":5,"clock":"host","node_id":1,"mac":null,"sequence":3,"rssi_dbm":null,"chain_rssi":[-40.0,-41.0,-42.0],"noise_floor_dbm":null,"channel":null,"center_freq_mhz":null,"bandwidth_mhz":null,"format":"esp32_csv","device":"esp32","shape":{shape},"subcarriers":{sc},"csi_re":{re},"csi_im":{im},"meta":"none"}}"#
        )
    };
    let good = line("[1,1,3]", "[-1,0,1]", "[1.0,2.0,3.0]", "[4.0,5.0,6.0]");
    let lines = [
        good.clone(),
        line("[1,1,3]", "[1,2]", "[1.0,2.0,3.0]", "[4.0,5.0,6.0]"),
        line("[1,1,3]", "[1,2,3,4]", "[1.0,2.0,3.0]", "[4.0,5.0,6.0]"),
        line("[1,1,3]", "null", "[1.0,2.0,3.0]", "[4.0,5.0]"),
        line("[1,2,3]", "null", "[1.0,2.0,3.0]", "[4.0,5.0,6.0]"),
        good.clone(),
    ];
    let text = lines.join(
        "
",
    );
    let starts: Vec<u64> = lines
        .iter()
        .scan(0u64, |pos, l| {
            let s = *pos;
            *pos += l.len() as u64 + 1;
            Some(s)
        })
        .collect();
    let mut cap = Registry::builtin()
        .open_read(
            Box::new(Cursor::new(text.into_bytes())),
            Some("t"),
            Some("jsonl"),
            None,
        )
        .unwrap();
    let mut frames = 0;
    let mut errors = Vec::new();
    while let Some(r) = cap.next_record() {
        match r {
            Ok(_) => frames += 1,
            Err(e) => {
                assert!(e.is_recoverable(), "{e}");
                errors.push(e);
            }
        }
    }
    assert_eq!(frames, 2);
    assert_eq!(errors.len(), 4);
    for (k, e) in errors.iter().enumerate() {
        match e {
            wifi_sensing_core::Error::Malformed {
                format,
                offset,
                line,
                reason,
            } => {
                assert_eq!(*format, CaptureFormat::JsonLines);
                assert_eq!(*line, Some(k as u64 + 2), "{reason}");
                assert_eq!(*offset, starts[k + 1], "{reason}");
                let want = if k < 2 { "subcarrier indices" } else { "shape" };
                assert!(reason.contains(want), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// One frame per `CaptureFormat` (variant `i` has node id `i`), written by the code before the
/// format names were unified (`esp_csi_csv`, `pico_scenes`, `feit_csi`, `recording`,
/// `json_lines`): the JSON Lines copy must still read back, and so must the `.csirec` copy (bincode
/// stores the variant index, so renaming cannot touch it).
#[test]
fn files_written_with_old_format_spellings_read_back() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for name in ["pre_format_rename.jsonl", "pre_format_rename.csirec"] {
        let mut cap = Registry::builtin().open_path(dir.join(name)).unwrap();
        let mut formats = Vec::new();
        while let Some(r) = cap.next_record() {
            match r.unwrap() {
                wifi_sensing_core::Record::Frame(f) => {
                    assert_eq!(f.node_id as usize, formats.len(), "{name}");
                    formats.push(f.format);
                }
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
        assert_eq!(formats, CaptureFormat::ALL.to_vec(), "{name}");
    }
    let text = std::fs::read_to_string(dir.join("pre_format_rename.jsonl")).unwrap();
    assert!(text.contains("\"pico_scenes\"") && text.contains("\"recording\""));
}
