//! An empty input: its extension names the format (FORMATS.md §8: an empty Intel 5300 recording
//! gives 0 frames without error); without an extension it is unrecognised.

use std::path::PathBuf;

use wifi_sensing_core::{CaptureFormat, Error, Registry};

/// An empty file `name` in a fresh temporary folder (removed on drop).
struct EmptyFile(PathBuf);

impl EmptyFile {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "wifi-sensing-empty-{}-{}",
            std::process::id(),
            name.replace('.', "_")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, b"").unwrap();
        EmptyFile(p)
    }
}

impl Drop for EmptyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

#[test]
fn empty_dat_is_an_intel5300_recording_without_frames() {
    let f = EmptyFile::new("x.dat");
    let mut cap = Registry::builtin().open_path(&f.0).unwrap();
    assert_eq!(cap.format(), CaptureFormat::Intel5300);
    assert!(cap.next_record().is_none());
    let s = cap.stats();
    assert_eq!((s.frames, s.malformed, s.passed_over), (0, 0, 0));
    assert!(s.truncated.is_none() && s.fatal.is_none());
}

#[test]
fn empty_files_of_record_stream_formats_give_no_frames() {
    for (name, format) in [
        ("x.DAT", CaptureFormat::Intel5300),
        ("x.csi", CaptureFormat::PicoScenes),
        ("x.csv", CaptureFormat::Esp32Csv),
        ("x.jsonl", CaptureFormat::JsonLines),
    ] {
        let f = EmptyFile::new(name);
        let mut cap = Registry::builtin()
            .open_path(&f.0)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(cap.format(), format, "{name}");
        assert!(cap.next_record().is_none(), "{name}");
    }
}

#[test]
fn empty_pcap_reports_its_missing_header() {
    let f = EmptyFile::new("x.pcap");
    let e = Registry::builtin().open_path(&f.0).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Truncated {
                format: CaptureFormat::Pcap,
                offset: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn empty_csirec_reports_its_missing_header() {
    let f = EmptyFile::new("x.csirec");
    let e = Registry::builtin().open_path(&f.0).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidHeader {
                format: CaptureFormat::Recording,
                offset: 0,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn empty_input_without_a_known_extension_is_unrecognised() {
    for ext in [None, Some("bin")] {
        let e = Registry::builtin()
            .open_read(Box::new(std::io::empty()), Some("stdin"), ext, None)
            .unwrap_err();
        match e {
            Error::UnknownFormat { reason, .. } => {
                assert!(reason.contains("empty"), "{reason}")
            }
            other => panic!("{ext:?}: {other:?}"),
        }
    }
}

#[test]
fn unrecognised_input_says_what_it_looks_like() {
    let say = |bytes: &'static [u8]| -> String {
        match Registry::builtin().open_read(Box::new(bytes), Some("x"), None, None) {
            Err(Error::UnknownFormat { reason, .. }) => reason,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("opened {bytes:?}"),
        }
    };
    let json = say(b"  {\"peer\": \"golden\", \"values\": [1, 2]}\n");
    assert!(
        json.contains("no reader recognises") && json.contains("looks like JSON"),
        "{json}"
    );
    let parquet = say(b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00");
    assert!(parquet.contains("Parquet file"), "{parquet}");
    let png = say(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    assert!(png.contains("an image"), "{png}");
    let other = say(b"\x01\x02\x03\x04 nothing known");
    assert!(!other.contains(';'), "{other}");
}
