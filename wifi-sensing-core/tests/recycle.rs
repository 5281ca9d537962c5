//! `Capture::recycle` changes nothing a reader delivers: each fixture read with every frame
//! handed back (and, in between, frames of other formats and shapes, whose buffers the reader
//! may refill) gives the same frames, bit for bit, as a plain read.

use std::io::Cursor;

use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
use wifi_sensing_core::{
    Capture, CaptureFormat, CountSink, CsiFrame, Device, Pipeline, Record, Registry,
};

const FIXTURES: [&str; 9] = [
    "intel5300/example.dat",
    "intel5300/66bpm.dat",
    "atheros/ath_csi_1.first5.dat",
    "nexmon/example.pcap",
    "nexmon/40mhz_1600085286.pcap",
    "picoscenes/picoscenes_iwl5300_example.csi",
    "esp32/example_csi.csv",
    "feitcsi/HT20_2452.csi",
    "csirec/v1_intel5300.csirec",
];

fn path(rel: &str) -> String {
    format!("{}/../fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// The bits of everything a frame holds (`PartialEq` takes -0.0 for 0.0 and NaN for unequal).
fn bits(f: &CsiFrame) -> (String, Vec<u32>) {
    let mut head = f.clone();
    head.csi = ndarray::Array3::zeros((0, 0, 0));
    let values = f.csi.iter().flat_map(|c| [c.re.to_bits(), c.im.to_bits()]);
    (format!("{head:?} {:?}", f.shape()), values.collect())
}

/// Frames that differ from every fixture's in shape and content.
fn foreign(i: usize) -> CsiFrame {
    let mut f = CsiFrame::new(
        CaptureFormat::Simulated,
        Device::Simulator,
        ndarray::Array3::from_elem(
            (1 + i % 3, 2, 7 + 50 * (i % 4)),
            num_complex::Complex32::new(9.5, -3.25),
        ),
    );
    f.subcarriers = i.is_multiple_of(2).then(|| vec![77; f.n_subcarriers()]);
    f.chain_rssi = vec![1.5; i % 5];
    f
}

/// Reads the capture that `open` opens twice, plainly and handing frames back (and foreign
/// ones in between), and checks that both reads give the same frames; returns their number.
fn check_recycled(name: &str, open: impl Fn() -> Capture) -> usize {
    let plain: Vec<_> = open().map(|f| bits(&f.unwrap())).collect();
    assert!(!plain.is_empty(), "{name}");
    let mut cap = open();
    let mut n = 0;
    while let Some(rec) = cap.next_record() {
        let Ok(Record::Frame(f)) = rec else { continue };
        assert_eq!(bits(&f), plain[n], "{name}: frame {n}");
        n += 1;
        // every third frame a foreign one goes back instead (or as well)
        if n.is_multiple_of(3) {
            cap.recycle(foreign(n));
        }
        if n % 3 != 1 {
            cap.recycle(f);
        }
    }
    assert_eq!(n, plain.len(), "{name}");
    n
}

#[test]
fn recycled_frames_read_the_same_values() {
    for rel in FIXTURES {
        check_recycled(rel, || wifi_sensing_core::open(path(rel)).unwrap());
    }
}

/// The same for `.csirec` recordings of the current format version (every CSI encoding it
/// picks, subcarrier lists stated once and referred to), written from each fixture.
#[test]
fn recycled_frames_read_the_same_values_from_current_recordings() {
    for rel in &FIXTURES[..FIXTURES.len() - 1] {
        let mut bytes = Vec::new();
        let header = RecordingHeader::new(*rel, "{}");
        let mut w = RecordingWriter::new(&mut bytes, &header).unwrap();
        let mut source = Vec::new();
        for f in wifi_sensing_core::open(path(rel)).unwrap() {
            let f = f.unwrap();
            w.write_frame(&f).unwrap();
            source.push(bits(&f));
        }
        w.into_inner().unwrap();
        let open = || {
            Registry::builtin()
                .open_read(
                    Box::new(Cursor::new(bytes.clone())),
                    Some("mem"),
                    None,
                    None,
                )
                .unwrap()
        };
        // lossless: the plain read is the source, bit for bit
        let plain: Vec<_> = open().map(|f| bits(&f.unwrap())).collect();
        assert!(
            plain == source,
            "{rel}: the recording does not read back as written"
        );
        assert_eq!(check_recycled(rel, open), source.len(), "{rel}");
    }
}

#[test]
fn run_recycling_gives_the_same_outputs_as_run() {
    for rel in FIXTURES {
        let mut a = wifi_sensing_core::open(path(rel)).unwrap();
        let mut b = wifi_sensing_core::open(path(rel)).unwrap();
        let (mut sa, mut sb) = (CountSink::default(), CountSink::default());
        let ra = Pipeline::builder()
            .build()
            .unwrap()
            .run(&mut a, &mut sa)
            .unwrap();
        let rb = Pipeline::builder()
            .build()
            .unwrap()
            .run_recycling(&mut b, &mut sb)
            .unwrap();
        assert_eq!(ra, rb, "{rel}");
        assert_eq!(sa, sb, "{rel}");
        assert_eq!(a.stats(), b.stats(), "{rel}");
    }
}
