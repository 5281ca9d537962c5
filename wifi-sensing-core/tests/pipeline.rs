//! Pipeline, stages, analysers and sinks.

use ndarray::Array3;
use num_complex::Complex32;
use wifi_sensing_core::pipeline::Handoff;
use wifi_sensing_core::{
    Analyser, Analysis, CaptureFormat, Clock, CollectSink, CountSink, CsiFrame, Device, Error,
    FnSink, JsonLinesSink, OnMalformed, Output, Pipeline, Record, Sink, Stage, Summary, Tee,
};

fn frame(seq: u32) -> CsiFrame {
    let mut f = CsiFrame::new(
        CaptureFormat::Simulated,
        Device::Simulator,
        Array3::from_elem((1, 1, 4), Complex32::new(seq as f32, 0.0)),
    );
    f.sequence = Some(seq);
    f.timestamp_ns = i64::from(seq) * 1000;
    f
}

/// `frames(n)`: frames 0..n as a pipeline source.
fn frames(n: u32) -> impl Iterator<Item = Result<CsiFrame, Error>> {
    (0..n).map(|i| Ok(frame(i)))
}

/// The error of an Intel 5300 input cut 3 bytes into a 50-byte record at byte 100.
fn cut() -> Error {
    Error::Truncated {
        format: CaptureFormat::Intel5300,
        offset: 100,
        needed: 50,
        available: 3,
    }
}

/// The JSON Lines a [`JsonLinesSink`] writes for one frame.
fn json_lines_of(f: &CsiFrame) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut sink = JsonLinesSink::new(&mut buf);
    sink.item(&Output::Frame(f.clone())).unwrap();
    sink.finish(&Default::default()).unwrap();
    drop(sink);
    buf
}

fn malformed(n: u64) -> Error {
    Error::Malformed {
        format: CaptureFormat::Esp32Csv,
        offset: n,
        line: Some(n),
        reason: "bad line".into(),
    }
}

/// Drops odd sequence numbers, doubles the CSI of the others.
struct EvenDoubler;
impl Stage for EvenDoubler {
    fn name(&self) -> &str {
        "even-doubler"
    }
    fn process(&mut self, mut f: CsiFrame) -> wifi_sensing_core::Result<Option<CsiFrame>> {
        if f.sequence.unwrap_or(0) % 2 == 1 {
            return Ok(None);
        }
        f.csi.mapv_inplace(|c| c * 2.0);
        Ok(Some(f))
    }
}

/// Holds frames in pairs; releases a held one at flush.
struct Pairer(Option<CsiFrame>);
impl Stage for Pairer {
    fn name(&self) -> &str {
        "pairer"
    }
    fn process(&mut self, f: CsiFrame) -> wifi_sensing_core::Result<Option<CsiFrame>> {
        Ok(match self.0.take() {
            None => {
                self.0 = Some(f);
                None
            }
            Some(prev) => {
                self.0 = Some(f);
                Some(prev)
            }
        })
    }
    fn flush(&mut self) -> wifi_sensing_core::Result<Vec<CsiFrame>> {
        Ok(self.0.take().into_iter().collect())
    }
}

/// The typed values `Summer` emits.
#[derive(Debug, serde::Serialize)]
struct Sum {
    sum: f32,
}
#[derive(Debug, serde::Serialize)]
struct Total {
    total: f32,
}

/// Emits the running sum of CSI[0] at each frame and a total at the end.
struct Summer(f32);
impl Analyser for Summer {
    fn name(&self) -> &str {
        "summer"
    }
    fn analyse(&mut self, f: &CsiFrame, out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        self.0 += f.csi[[0, 0, 0]].re;
        out.push(Analysis::new(
            "summer",
            "sum",
            f.timestamp_ns,
            Some(f.node_id),
            Sum { sum: self.0 },
        ));
        Ok(())
    }
    fn finish(&mut self, out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        out.push(Analysis::new(
            "summer",
            "total",
            0,
            None,
            Total { total: self.0 },
        ));
        Ok(())
    }
}

#[test]
fn stages_and_analysers_in_order() {
    let mut p = Pipeline::builder()
        .stage(EvenDoubler)
        .analyser(Summer(0.0))
        .build()
        .unwrap();
    let outs: Vec<Output> = p.process(frames(6)).collect::<Result<_, _>>().unwrap();
    // frames 0, 2, 4 survive, each followed by its analysis, then the final total
    let kinds: Vec<String> = outs
        .iter()
        .map(|o| match o {
            Output::Frame(f) => format!("f{}", f.sequence.unwrap()),
            Output::Analysis(a) => a.kind.to_string(),
            Output::Aux(_) => "aux".into(),
        })
        .collect();
    assert_eq!(kinds, ["f0", "sum", "f2", "sum", "f4", "sum", "total"]);
    let Output::Analysis(t) = outs.last().unwrap() else {
        panic!()
    };
    // typed access, and the same value in JSON
    assert_eq!(t.downcast_ref::<Total>().unwrap().total, 12.0); // 2*(0+2+4)
    assert!(t.downcast_ref::<Sum>().is_none());
    assert_eq!(t.data_json()["total"], 12.0);
    let s = p.summary();
    assert_eq!((s.frames_in, s.frames_out, s.analyses), (6, 3, 4));
}

#[test]
fn analyses_carry_the_clock_of_their_frames() {
    // frames on the host clock, then one on the device clock: each analysis takes the clock
    // of the frame it was made at, the final total that of the last frame
    let src = (0..4).map(|i| {
        let mut f = frame(i);
        f.clock = if i < 3 { Clock::Host } else { Clock::Device };
        Ok::<_, Error>(f)
    });
    for emit_frames in [true, false] {
        let mut p = Pipeline::builder()
            .analyser(Summer(0.0))
            .emit_frames(emit_frames)
            .build()
            .unwrap();
        let clocks: Vec<(String, Clock)> = p
            .process(src.clone())
            .filter_map(|o| match o.unwrap() {
                Output::Analysis(a) => Some((a.kind.to_string(), a.clock)),
                _ => None,
            })
            .collect();
        let want = [
            ("sum", Clock::Host),
            ("sum", Clock::Host),
            ("sum", Clock::Host),
            ("sum", Clock::Device),
            ("total", Clock::Device),
        ];
        let want: Vec<(String, Clock)> = want.iter().map(|(k, c)| (k.to_string(), *c)).collect();
        assert_eq!(clocks, want, "emit_frames {emit_frames}");
    }
    // a record made outside a pipeline has no clock until one is set
    let a = Analysis::new("x", "sum", 1, None, Sum { sum: 1.0 });
    assert_eq!(a.clock, Clock::None);
    assert_eq!(a.with_clock(Clock::Simulated).clock, Clock::Simulated);
}

#[test]
fn flush_releases_held_frames_through_later_stages() {
    let mut p = Pipeline::builder()
        .stage(Pairer(None))
        .stage(EvenDoubler)
        .build()
        .unwrap();
    let seqs: Vec<u32> = p
        .process(frames(5))
        .map(|o| match o.unwrap() {
            Output::Frame(f) => f.sequence.unwrap(),
            _ => 99,
        })
        .collect();
    assert_eq!(seqs, [0, 2, 4]); // 4 is released by the flush and still goes through EvenDoubler
}

#[test]
fn malformed_skip_counts_and_continues() {
    let src: Vec<Result<CsiFrame, Error>> = vec![
        Ok(frame(0)),
        Err(malformed(7)),
        Ok(frame(1)),
        Err(malformed(9)),
    ];
    let mut p = Pipeline::builder()
        .on_malformed(OnMalformed::Skip)
        .build()
        .unwrap();
    let outs: Vec<_> = p.process(src).collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(outs.len(), 2);
    assert_eq!(p.summary().malformed, 2);
    assert_eq!(p.summary().issues[0].offset, Some(7));
}

#[test]
fn malformed_stop_ends_with_the_error() {
    let src: Vec<Result<CsiFrame, Error>> = vec![Ok(frame(0)), Err(malformed(7)), Ok(frame(1))];
    let mut p = Pipeline::builder()
        .on_malformed(OnMalformed::Stop)
        .build()
        .unwrap();
    let res: Vec<_> = p.process(src).collect();
    assert_eq!(res.len(), 2);
    assert!(res[0].is_ok());
    assert!(matches!(res[1], Err(Error::Malformed { offset: 7, .. })));
}

#[test]
fn truncation_finishes_the_run_and_is_reported() {
    let src: Vec<Result<CsiFrame, Error>> = vec![Ok(frame(0)), Err(cut())];
    let mut p = Pipeline::builder().analyser(Summer(0.0)).build().unwrap();
    let outs: Vec<_> = p.process(src).collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(outs.len(), 3); // frame, sum, total
    assert!(p
        .summary()
        .truncated
        .as_ref()
        .unwrap()
        .message
        .contains("cut"));
}

#[test]
fn fatal_error_from_run_reaches_sink_finish() {
    let bad = Error::InvalidHeader {
        format: CaptureFormat::Pcap,
        offset: 0,
        reason: "x".into(),
    };
    let src: Vec<Result<CsiFrame, Error>> = vec![Ok(frame(0)), Err(bad)];
    let mut p = Pipeline::builder().build().unwrap();
    let mut c = CollectSink::new();
    assert!(p.run(src, &mut c).is_err());
    assert_eq!(c.items.len(), 1);
    assert!(p.summary().error.is_some());
}

#[test]
fn sink_can_stop_early() {
    let mut p = Pipeline::builder().build().unwrap();
    let mut sink = CollectSink::with_limit(3);
    let s = p.run(frames(100), &mut sink).unwrap();
    assert_eq!(sink.items.len(), 3);
    assert!(s.stopped_early);
    assert_eq!(s.frames_in, 3);
}

#[test]
fn tee_count_closure_and_jsonl() {
    let mut p = Pipeline::builder().analyser(Summer(0.0)).build().unwrap();
    let mut buf = Vec::new();
    let mut seen = 0u32;
    {
        let mut sink = Tee(
            Tee(CountSink::default(), JsonLinesSink::new(&mut buf)),
            FnSink(|_o: &Output| {
                seen += 1;
                Ok(true)
            }),
        );
        p.run(frames(4), &mut sink).unwrap();
        assert_eq!(sink.0 .0.frames, 4);
        assert_eq!(sink.0 .0.analyses, 5);
    }
    assert_eq!(seen, 9);
    let text = String::from_utf8(buf).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 9);
    assert_eq!(lines[0]["type"], "frame");
    assert_eq!(lines[0]["schema"], 1);
    assert_eq!(lines[0]["shape"], serde_json::json!([1, 1, 4]));
    assert_eq!(lines[2]["csi_re"][0], 1.0);
    assert_eq!(lines[1]["type"], "sum");
    assert_eq!(lines[8]["data"]["total"], 6.0);
}

#[test]
fn records_with_aux_pass_through() {
    use wifi_sensing_core::formats::adr018::UnknownPacket;
    use wifi_sensing_core::{AuxBody, AuxRecord, Clock};
    let aux = Record::Aux(AuxRecord {
        timestamp_ns: 5,
        clock: Clock::Host,
        format: CaptureFormat::Esp32Adr018,
        node_id: Some(1),
        body: AuxBody::Unknown(UnknownPacket {
            magic: 0xC511_0007,
            size: 12,
        }),
    });
    let src = vec![Ok::<_, Error>(Record::Frame(frame(0))), Ok(aux)];
    let mut p = Pipeline::builder().emit_frames(false).build().unwrap();
    let mut c = CollectSink::new();
    let s = p.run(src, &mut c).unwrap();
    assert_eq!(c.items.len(), 1);
    assert!(matches!(c.items[0], Output::Aux(_)));
    assert_eq!(s.aux_records, 1);
    let v = wifi_sensing_core::jsonl::to_value(&c.items[0]).unwrap();
    assert_eq!(v["type"], "unknown_packet");
    assert_eq!(v["data"]["magic"], 0xC511_0007u32);
}

#[test]
fn json_frame_line_round_trips_exactly() {
    use wifi_sensing_core::jsonl::FrameLine;
    let mut f = frame(3);
    f.csi[[0, 0, 1]] = Complex32::new(0.1, -1e-30);
    f.mac = Some([0x3c, 0x71, 0xbf, 0x6d, 0x2a, 0x78]);
    let line = serde_json::to_string(&FrameLine::from_frame(&f)).unwrap();
    let back: FrameLine = serde_json::from_str(&line).unwrap();
    assert_eq!(back.into_frame().unwrap(), f);
    assert!(line.contains("\"mac\":\"3c:71:bf:6d:2a:78\""));
}

#[test]
fn sink_trait_objects_work() {
    let mut boxed: Box<dyn Sink<Output>> = Box::new(CountSink::default());
    let mut p = Pipeline::builder().build().unwrap();
    p.run(frames(2), &mut boxed).unwrap();
}

#[test]
fn fatal_error_still_delivers_frames_held_by_stages() {
    let bad = Error::LimitExceeded {
        format: CaptureFormat::Recording,
        offset: 9,
        what: "entry length",
        value: 1 << 40,
        limit: 1 << 24,
    };
    let src: Vec<Result<CsiFrame, Error>> = vec![Ok(frame(0)), Ok(frame(1)), Err(bad)];
    let mut p = Pipeline::builder().stage(Pairer(None)).build().unwrap();
    let res: Vec<_> = p.process(src).collect();
    // frame 0 left the stage at frame 1, frame 1 at the flush; then the error
    assert_eq!(res.len(), 3);
    assert!(res[0].is_ok() && res[1].is_ok());
    assert!(matches!(res[2], Err(Error::LimitExceeded { .. })));
    assert_eq!(p.summary().frames_out, 2);
    assert!(p
        .summary()
        .error
        .as_ref()
        .unwrap()
        .contains("exceeds the limit"));
}

/// A stage whose flush fails.
struct BadFlush;
impl Stage for BadFlush {
    fn name(&self) -> &str {
        "bad-flush"
    }
    fn process(&mut self, f: CsiFrame) -> wifi_sensing_core::Result<Option<CsiFrame>> {
        Ok(Some(f))
    }
    fn flush(&mut self) -> wifi_sensing_core::Result<Vec<CsiFrame>> {
        Err(Error::Config("cannot flush".into()))
    }
}

#[test]
fn flush_error_after_truncation_is_in_the_summary() {
    let src: Vec<Result<CsiFrame, Error>> = vec![Ok(frame(0)), Err(cut())];
    let mut p = Pipeline::builder().stage(BadFlush).build().unwrap();
    let res: Vec<_> = p.process(src).collect();
    assert!(res.last().unwrap().is_err());
    assert!(p.summary().error.as_ref().unwrap().contains("cannot flush"));
}

#[test]
fn collect_sink_limit_zero_collects_nothing() {
    let mut p = Pipeline::builder().build().unwrap();
    let mut sink = CollectSink::with_limit(0);
    let s = p.run(frames(5), &mut sink).unwrap();
    assert!(sink.items.is_empty());
    assert!(s.stopped_early);
}

#[test]
fn non_finite_values_survive_json_lines_as_nan() {
    use std::io::Cursor;
    use wifi_sensing_core::Registry;
    let mut f = frame(2);
    f.csi[[0, 0, 1]] = Complex32::new(f32::NAN, f32::INFINITY);
    let buf = json_lines_of(&f);
    let text = String::from_utf8(buf.clone()).unwrap();
    assert!(text.contains("null"), "JSON has no NaN: {text}");
    let mut cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(buf)), Some("t"), None, None)
        .unwrap();
    let back = cap.next().unwrap().unwrap();
    assert!(back.csi[[0, 0, 1]].re.is_nan() && back.csi[[0, 0, 1]].im.is_nan());
    assert_eq!(back.csi[[0, 0, 0]], f.csi[[0, 0, 0]]);
    assert_eq!(back.csi[[0, 0, 3]], f.csi[[0, 0, 3]]);
}

#[test]
fn reformatted_json_lines_are_detected_and_analysis_lines_skipped() {
    use std::io::Cursor;
    use wifi_sensing_core::{CaptureFormat as F, Registry};
    let buf = json_lines_of(&frame(4));
    // keys sorted and spaced, as `jq -S .` would print them
    let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    let sorted: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_value(v).unwrap();
    let mut text = serde_json::to_string_pretty(&sorted)
        .unwrap()
        .replace('\n', " ");
    text.push('\n');
    text.push_str(
        r#"{"schema":1,"type":"vitals","analyser":"x","timestamp_ns":0,"node_id":null,"data":{}}"#,
    );
    let mut cap = Registry::builtin()
        .open_read(
            Box::new(Cursor::new(text.into_bytes())),
            Some("t"),
            None,
            None,
        )
        .unwrap()
        .skip_malformed(true);
    assert_eq!(cap.format(), F::JsonLines);
    let frames: Vec<_> = (&mut cap).collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0], frame(4));
    // an analysis line is a result, not capture data: passed over and counted, not malformed
    assert_eq!(cap.stats().malformed, 0);
    assert_eq!(cap.stats().passed_over, 1);
}

#[test]
fn optional_and_boxed_stages_and_analysers_switch_at_run_time() {
    let kinds = |double: bool, sum: bool| -> Vec<String> {
        let stage: Option<EvenDoubler> = double.then_some(EvenDoubler);
        let analyser: Box<dyn Analyser> = Box::new(sum.then_some(Summer(0.0)));
        let mut p = Pipeline::builder()
            .stage(stage)
            .analyser(analyser)
            .build()
            .unwrap();
        p.process(frames(4))
            .map(|o| match o.unwrap() {
                Output::Frame(f) => format!("f{}", f.sequence.unwrap()),
                Output::Analysis(a) => a.kind.into_owned(),
                Output::Aux(_) => "aux".into(),
            })
            .collect()
    };
    assert_eq!(kinds(false, false), ["f0", "f1", "f2", "f3"]);
    assert_eq!(kinds(true, false), ["f0", "f2"]);
    assert_eq!(kinds(true, true), ["f0", "sum", "f2", "sum", "total"]);
    assert_eq!(
        kinds(false, true),
        ["f0", "sum", "f1", "sum", "f2", "sum", "f3", "sum", "total"]
    );
    assert_eq!(None::<EvenDoubler>.name(), "disabled");
    assert_eq!(Some(Pairer(None)).name(), "pairer");
}

/// Passes every frame on unchanged: a pipeline with it runs through `Pipeline::process`, one
/// without stages straight from the source to the sink.
struct Pass;
impl Stage for Pass {
    fn name(&self) -> &str {
        "pass"
    }
    fn process(&mut self, f: CsiFrame) -> wifi_sensing_core::Result<Option<CsiFrame>> {
        Ok(Some(f))
    }
}

/// One record of a source for [`direct_run_is_the_processed_run`].
fn source_item(kind: u8, i: u32) -> Result<Record, Error> {
    use wifi_sensing_core::formats::adr018::UnknownPacket;
    use wifi_sensing_core::{AuxBody, AuxRecord, Clock};
    match kind {
        0..=3 => Ok(Record::Frame(frame(i))),
        4 => Ok(Record::Aux(AuxRecord {
            timestamp_ns: i64::from(i),
            clock: Clock::Host,
            format: CaptureFormat::Esp32Adr018,
            node_id: Some(i),
            body: AuxBody::Unknown(UnknownPacket {
                magic: 0xC511_0007,
                size: 12,
            }),
        })),
        5 => Err(malformed(u64::from(i))),
        6 => Err(cut()),
        _ => Err(Error::InvalidHeader {
            format: CaptureFormat::Pcap,
            offset: u64::from(i),
            reason: "x".into(),
        }),
    }
}

/// A pipeline with the policy (`skip`: `OnMalformed::Skip`), the outputs and, if `with_stage`,
/// the stage [`Pass`] (which forces the run through `Pipeline::process`).
fn pipeline_for(skip: bool, emit_frames: bool, emit_aux: bool, with_stage: bool) -> Pipeline {
    let mut b = Pipeline::builder()
        .on_malformed(if skip {
            OnMalformed::Skip
        } else {
            OnMalformed::Stop
        })
        .emit_frames(emit_frames)
        .emit_aux(emit_aux);
    if with_stage {
        b = b.stage(Pass);
    }
    b.build().unwrap()
}

proptest::proptest! {
    /// A pipeline without stages and analysers hands records straight to the sink; what the
    /// sink receives, the summary and the result are those of the same run through
    /// `Pipeline::process` (forced here by a stage that passes every frame on unchanged), for
    /// every mix of frames, aux records, malformed records, cuts and fatal errors, both
    /// malformed-record policies, with and without frames and aux records, and sinks that stop.
    #[test]
    fn direct_run_is_the_processed_run(
        kinds in proptest::collection::vec(0u8..8, 0..24),
        skip in proptest::bool::ANY,
        emit_frames in proptest::bool::ANY,
        emit_aux in proptest::bool::ANY,
        limit in proptest::option::of(0usize..6),
    ) {
        let run = |with_stage: bool| {
            let mut p = pipeline_for(skip, emit_frames, emit_aux, with_stage);
            let mut sink = match limit {
                Some(n) => CollectSink::with_limit(n),
                None => CollectSink::new(),
            };
            let src = kinds.iter().enumerate().map(|(i, &k)| source_item(k, i as u32));
            let result = p.run(src, &mut sink).map_err(|e| e.to_string());
            (format!("{:?}", sink.items), result, p.summary().clone())
        };
        let (direct, processed) = (run(false), run(true));
        proptest::prop_assert_eq!(direct, processed);
    }
}

/// A source for [`Pipeline::run_threaded`] and [`Pipeline::run_recycling`] that, like the
/// readers, keeps the buffers of one frame handed back and makes a new frame only when it holds
/// none; it counts the frames it made and the records read.
struct Recycling<I> {
    items: I,
    spare: Option<CsiFrame>,
    made: usize,
    reads: usize,
}

impl<I> Recycling<I> {
    fn new(items: I) -> Self {
        Recycling {
            items,
            spare: None,
            made: 0,
            reads: 0,
        }
    }
}

impl<I: Iterator<Item = Result<Record, Error>>> Iterator for Recycling<I> {
    type Item = Result<Record, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.items.next()?;
        self.reads += 1;
        Some(item.map(|r| match r {
            Record::Frame(f) => Record::Frame(match self.spare.take() {
                Some(mut kept) => {
                    kept.clone_from(&f);
                    kept
                }
                None => {
                    self.made += 1;
                    f
                }
            }),
            aux => aux,
        }))
    }
}

impl<I> wifi_sensing_core::Recycle for Recycling<I> {
    fn recycle(&mut self, frame: CsiFrame) {
        self.spare = Some(frame);
    }
}

/// A sink that records what it receives and fails (item or finish) when told to.
#[derive(Default)]
struct Scripted {
    items: Vec<String>,
    stop_at: Option<usize>,
    fail_at: Option<usize>,
    fail_finish: bool,
    finished: Option<Summary>,
}

impl Sink for Scripted {
    fn item(&mut self, item: &Output) -> wifi_sensing_core::Result<bool> {
        if self.fail_at == Some(self.items.len()) {
            return Err(Error::Component {
                component: "scripted".into(),
                reason: "item failed".into(),
            });
        }
        if self.stop_at == Some(self.items.len()) {
            return Ok(false);
        }
        self.items.push(format!("{item:?}"));
        Ok(true)
    }
    fn finish(&mut self, summary: &Summary) -> wifi_sensing_core::Result<()> {
        self.finished = Some(summary.clone());
        if self.fail_finish {
            return Err(Error::Component {
                component: "scripted".into(),
                reason: "finish failed".into(),
            });
        }
        Ok(())
    }
}

proptest::proptest! {
    /// `run_threaded` (the sink on a second thread, records in batches) gives the sink the
    /// same items, and returns the same summary and result, as `run_recycling` on one thread:
    /// the mixes of `direct_run_is_the_processed_run`, with and without a stage, sinks that
    /// stop, fail on an item or fail at the end, and batches of 1 to 5 records, 1 to 3 in flight.
    #[test]
    fn threaded_run_is_the_run(
        kinds in proptest::collection::vec(0u8..8, 0..24),
        skip in proptest::bool::ANY,
        emit_frames in proptest::bool::ANY,
        emit_aux in proptest::bool::ANY,
        with_stage in proptest::bool::ANY,
        stop_at in proptest::option::of(0usize..8),
        fail_at in proptest::option::of(0usize..8),
        fail_finish in proptest::bool::ANY,
        batch in 1usize..6,
        in_flight in 1usize..4,
    ) {
        let run = |threaded: bool| {
            let mut p = pipeline_for(skip, emit_frames, emit_aux, with_stage);
            let mut sink = Scripted { stop_at, fail_at, fail_finish, ..Scripted::default() };
            let src = Recycling::new(kinds.iter().enumerate().map(|(i, &k)| source_item(k, i as u32)));
            let result = if threaded {
                p.run_threaded(src, &mut sink, Handoff { batch, in_flight })
            } else {
                p.run_recycling(src, &mut sink)
            };
            (sink.items, sink.finished, result.map_err(|e| e.to_string()), p.summary().clone())
        };
        proptest::prop_assert_eq!(run(true), run(false));
    }
}

#[test]
fn threaded_run_makes_a_bounded_number_of_frames() {
    // 20 000 frames through batches of 16, 2 in flight: once the batches circulate, every
    // frame read refills one handed back
    let n = 20_000u32;
    let handoff = Handoff {
        batch: 16,
        in_flight: 2,
    };
    let mut src = Recycling::new((0..n).map(|i| Ok(Record::Frame(frame(i)))));
    let mut sink = CountSink::default();
    let mut p = Pipeline::builder().build().unwrap();
    let summary = p.run_threaded(&mut src, &mut sink, handoff).unwrap();
    assert_eq!(summary.frames_out, u64::from(n));
    assert_eq!(sink.frames, u64::from(n));
    // batches: in the channel, being filled, at the sink, on their way back
    let bound = (handoff.in_flight + 4) * handoff.batch;
    assert!(
        src.made <= bound,
        "{} frames made (bound {bound})",
        src.made
    );
}

#[test]
fn threaded_run_stops_reading_at_an_error_that_ends_the_run() {
    // a fatal error: nothing after it is read
    let items = (0..100u32).map(|i| {
        if i == 5 {
            source_item(7, i)
        } else {
            Ok(Record::Frame(frame(i)))
        }
    });
    let mut src = Recycling::new(items);
    let mut p = Pipeline::builder().build().unwrap();
    let mut sink = CountSink::default();
    let err = p
        .run_threaded(&mut src, &mut sink, Handoff::default())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidHeader { offset: 5, .. }));
    assert_eq!((src.reads, sink.frames), (6, 5));
    // a malformed record under `Stop` ends the run too; under `Skip` the reading goes on
    for (policy, reads) in [(OnMalformed::Stop, 4), (OnMalformed::Skip, 100)] {
        let items = (0..100u32).map(|i| {
            if i == 3 {
                source_item(5, i)
            } else {
                Ok(Record::Frame(frame(i)))
            }
        });
        let mut src = Recycling::new(items);
        let mut p = Pipeline::builder().on_malformed(policy).build().unwrap();
        let _ = p.run_threaded(&mut src, &mut CountSink::default(), Handoff::default());
        assert_eq!(src.reads, reads, "{policy:?}");
    }
}

#[test]
fn a_failing_sink_stops_the_reading_thread() {
    // an endless source: the run ends only because the sink fails
    let handoff = Handoff {
        batch: 8,
        in_flight: 2,
    };
    let mut src = Recycling::new((0..).map(|i| Ok(Record::Frame(frame(i)))));
    let mut sink = Scripted {
        fail_at: Some(100),
        ..Scripted::default()
    };
    let mut p = Pipeline::builder().build().unwrap();
    let err = p.run_threaded(&mut src, &mut sink, handoff).unwrap_err();
    assert!(err.to_string().contains("item failed"), "{err}");
    assert_eq!(sink.items.len(), 100);
    let summary = sink.finished.expect("finish is called after a sink error");
    assert_eq!(summary.frames_in, 101);
    assert!(summary.error.is_some());
    // read ahead by at most the batches in circulation
    let bound = 101 + (handoff.in_flight + 3) * handoff.batch;
    assert!(
        src.reads <= bound,
        "{} records read (bound {bound})",
        src.reads
    );
}
