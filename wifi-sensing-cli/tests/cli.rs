//! End-to-end tests of the `wifi-sensing` binary.

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use wifi_sensing_core::formats::adr018::{self, CsiDatagram};
use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
use wifi_sensing_core::{Clock, Record};

mod common;
use common::{
    bin, first_line_then_close, fixture, parse_lines as json_lines, run, run_ok, tmp as tmpdir,
};

/// The JSON Lines the binary prints on stdout for `args`.
fn lines_of(args: &[&str]) -> Vec<Value> {
    json_lines(&run(args).stdout)
}

/// The report of `inspect --json <input>`, which must succeed.
fn inspect_json(input: &str) -> Value {
    serde_json::from_slice(&run_ok(&["inspect", "--json", input]).stdout).unwrap()
}

/// The binary's output for `args` with `input` written to its stdin (its stderr discarded).
fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The numbers of a JSON array (`None` for an element that is not a number).
fn numbers(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

/// The numbers of a JSON array as `f32` (every element must be a number).
fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn datagram(i: u32, node: u8) -> Vec<u8> {
    adr018::encode_csi(&CsiDatagram {
        node_id: node,
        sequence: i,
        channel: 11,
        rssi: -45,
        noise_floor: -93,
        n_antennas: 1,
        iq: (0..64)
            .map(|k| [((i + k) % 50) as i8, 20 - ((k * 3 + i) % 40) as i8])
            .collect(),
    })
    .unwrap()
}

/// A recording of `n` decoded ADR-018 frames.
fn make_recording(path: &Path, n: u32) -> Vec<Record> {
    let recs: Vec<Record> = (0..n)
        .map(|i| {
            adr018::decode_datagram(
                &datagram(i, 1),
                0,
                1_700_000_000_000_000_000 + i64::from(i) * 10_000_000,
                Clock::Host,
            )
            .unwrap()
        })
        .collect();
    let f = std::fs::File::create(path).unwrap();
    let mut w = RecordingWriter::new(f, &RecordingHeader::new("test", "")).unwrap();
    for r in &recs {
        w.write(r).unwrap();
    }
    w.flush().unwrap();
    recs
}

fn schema_required_frame_keys() -> Vec<String> {
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema/record-v1.json"),
        )
        .unwrap(),
    )
    .unwrap();
    s["$defs"]["frame"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn run_prints_schema_conformant_json_lines() {
    let d = tmpdir("run");
    let rec = d.join("a.csirec");
    let recs = make_recording(&rec, 25);
    let out = run_ok(&["run", rec.to_str().unwrap()]);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 25);
    let required = schema_required_frame_keys();
    for (l, r) in lines.iter().zip(&recs) {
        let obj = l.as_object().unwrap();
        for k in &required {
            assert!(obj.contains_key(k), "frame line lacks {k}");
        }
        assert_eq!(
            obj.len(),
            required.len(),
            "frame line has keys the schema does not list"
        );
        let Record::Frame(f) = r else { panic!() };
        assert_eq!(l["schema"], 1);
        assert_eq!(l["sequence"], f.sequence.unwrap());
        assert_eq!(l["timestamp_ns"], f.timestamp_ns);
        let want: Vec<f32> = f.csi.iter().map(|c| c.re).collect();
        assert_eq!(f32s(&l["csi_re"]), want);
    }
    // logs go to stderr, never to stdout
    assert!(String::from_utf8_lossy(&out.stderr).contains("25 frames read"));
}

#[test]
fn convert_round_trip_is_lossless() {
    let d = tmpdir("convert");
    let rec = d.join("a.csirec");
    make_recording(&rec, 40);
    let direct = run_ok(&["run", rec.to_str().unwrap()]);
    let rec2 = d.join("b.csirec");
    let jsonl = d.join("b.jsonl");
    run_ok(&[
        "convert",
        rec.to_str().unwrap(),
        "-o",
        rec2.to_str().unwrap(),
    ]);
    run_ok(&[
        "convert",
        rec2.to_str().unwrap(),
        "-o",
        jsonl.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&jsonl).unwrap(), direct.stdout);
    let to_stdout = run_ok(&["convert", rec2.to_str().unwrap(), "-o", "-"]);
    assert_eq!(to_stdout.stdout, direct.stdout);
}

#[test]
fn broken_pipe_exits_zero() {
    let d = tmpdir("pipe");
    let rec = d.join("big.csirec");
    make_recording(&rec, 5000);
    exits_zero_when_stdout_closes(&["run", rec.to_str().unwrap()]);
}

/// `--version` names the pose backends the binary has (`ort` only with its feature).
#[test]
fn version_names_the_pose_backends() {
    let out = run_ok(&["--version"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(concat!("wifi-sensing ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let want = if cfg!(feature = "ort") {
        "pose backends: tract, ort"
    } else {
        "pose backends: tract (ort is not built in"
    };
    assert!(text.contains(want), "{text}");
}

/// A closed stderr (`2>&1 | head -1`, or a log reader that went away) does not make a command
/// fail: its log lines are dropped, its output is complete and it exits 0 (it panicked with
/// exit 101 on its last log line).
#[test]
fn closed_stderr_exits_zero() {
    let d = tmpdir("closed-stderr");
    let rec = d.join("r.csirec");
    make_recording(&rec, 50);
    let out = d.join("r.jsonl");
    for args in [
        vec![
            "convert",
            rec.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        vec!["inspect", rec.to_str().unwrap()],
        vec![
            "convert",
            "/nonexistent/x.pcap",
            "-o",
            out.to_str().unwrap(),
        ],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        let want = if args[1].starts_with("/nonexistent") {
            1
        } else {
            0
        };
        assert_eq!(status.code(), Some(want), "{args:?}");
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 50);
}

/// Runs the binary with `args`, reads the first JSON line it prints and closes stdout (like
/// `| head -n 1`): the process must end with exit 0 and without a panic.
fn exits_zero_when_stdout_closes(args: &[&str]) {
    let (first, status, err) = first_line_then_close(args);
    assert!(first.starts_with("{\"schema\":1"));
    assert!(status.success(), "exit {status:?}, stderr: {err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn bad_inputs_give_clear_errors() {
    let d = tmpdir("bad");
    let empty = d.join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    let garbage = d.join("garbage.bin");
    std::fs::write(
        &garbage,
        (0..5000u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let cut = d.join("cut.csirec");
    make_recording(&cut, 3);
    let len = std::fs::metadata(&cut).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&cut).unwrap();
    f.set_len(len - 7).unwrap();

    for (path, want) in [
        (empty.to_str().unwrap(), "empty"),
        (garbage.to_str().unwrap(), "no reader recognises"),
        ("/nonexistent/x.pcap", "cannot open"),
    ] {
        let out = run(&["run", path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {err}");
        assert!(err.contains(want), "{path}: stderr lacks {want:?}: {err}");
        assert!(!err.contains("panicked"));
        // the cause is printed once, not once by the error and again as its source
        assert!(err.matches("(os error").count() <= 1, "{err}");
    }
    // a cut recording: complete frames are printed, the cut is reported, exit 0
    let out = run_ok(&["run", cut.to_str().unwrap()]);
    assert_eq!(json_lines(&out.stdout).len(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ends inside a record"));
    // with --strict the same frames are printed, then exit 1 names the cut
    let out = run(&["run", "--strict", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out.stdout).len(), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--strict: the input ends inside a record"),
        "{err}"
    );
    let copy = d.join("cut-copy.jsonl");
    let out = run(&[
        "convert",
        "--strict",
        cut.to_str().unwrap(),
        "-o",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&copy).unwrap().lines().count(), 2);
    // in a dataset, a strict conversion skips the cut capture as a whole
    let ds = format!("{}/", d.join("strict-ds").display());
    let out = run(&["convert", "--strict", cut.to_str().unwrap(), "-o", &ds]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--strict: the input ends inside a record"),
        "{err}"
    );
    // no part file (finished or temporary) and no manifest line
    fn files(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                files(&e.path(), out);
            } else {
                out.push(e.path());
            }
        }
    }
    let mut left = Vec::new();
    files(&d.join("strict-ds"), &mut left);
    let manifest = d.join("strict-ds").join("_manifest.jsonl");
    left.retain(|p| *p != manifest);
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(std::fs::read_to_string(&manifest).unwrap_or_default(), "");
}

#[test]
fn pcap_without_csi_is_reported_not_silent() {
    use wifi_sensing_core::formats::pcap::{PcapWriter, TsResolution};
    let d = tmpdir("nocsi");
    let path = d.join("arp_only.pcap");
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    for i in 0..4 {
        let mut arp = vec![0xFF; 6];
        arp.extend_from_slice(&[0, 1, 2, 3, 4, 5, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        w.write_packet(i * 1000, &arp).unwrap();
    }
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    let p = path.to_str().unwrap();
    let v = inspect_json(p);
    assert_eq!(
        (v["frames"].as_u64(), v["passed_over"].as_u64()),
        (Some(0), Some(4))
    );
    let text = run_ok(&["inspect", p]);
    assert!(String::from_utf8_lossy(&text.stdout)
        .contains("passed over: 4 packets/records without CSI"));
    let out = run_ok(&["run", p]);
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no CSI found: all 4 packets/records were passed over"),
        "{err}"
    );

    // CSI that was recognised but malformed is reported as such, not as "no CSI found"
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    w.write_packet(0, &[0xFF; 42]).unwrap();
    let mut cut = datagram(1, 2);
    cut.truncate(30);
    let ip = std::net::Ipv4Addr::new(10, 0, 0, 2);
    w.write_udp(1000, ip, ip, 5005, 5005, &cut).unwrap();
    let path = d.join("cut_csi.pcap");
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    // and as nothing at all could be decoded, it is an error
    let out = run(&["run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing could be decoded"), "{err}");
    assert!(!err.contains("no CSI found"), "{err}");
    assert!(
        err.contains("1 malformed skipped")
            && err.contains("1 packets/records without CSI passed over"),
        "{err}"
    );
}

#[test]
fn inspect_json_reports_counts() {
    let d = tmpdir("inspect");
    let rec = d.join("a.csirec");
    make_recording(&rec, 30);
    let v = inspect_json(rec.to_str().unwrap());
    assert_eq!(v["frames"], 30);
    assert_eq!(v["format"], "csirec");
    assert_eq!(v["nodes"]["1"]["frames"], 30);
    let rate = v["nodes"]["1"]["rate_hz"].as_f64().unwrap();
    assert!((rate - 100.0).abs() < 1e-6, "rate {rate}");
    assert_eq!(v["shapes"]["1x1x64"], 30);
    assert_eq!(v["channels"]["11"], 30);
    let text = run(&["inspect", rec.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("frames:      30"));
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(child: &mut std::process::Child) -> std::process::ChildStderr {
    // the binary logs "listening on udp://..." once its socket is bound
    let mut err = child.stderr.take().unwrap();
    let mut buf = Vec::new();
    let start = Instant::now();
    let mut byte = [0u8; 1];
    while start.elapsed() < Duration::from_secs(30) {
        if err.read(&mut byte).unwrap() == 0 {
            break;
        }
        buf.push(byte[0]);
        if String::from_utf8_lossy(&buf).contains("listening on") && byte[0] == b'\n' {
            return err;
        }
    }
    panic!(
        "binary did not start listening: {}",
        String::from_utf8_lossy(&buf)
    );
}

/// Starts the binary with `args` (a live `udp://` input), stdout and stderr piped; returns it
/// and its stderr once it listens.
fn start_listening(args: &[&str]) -> (Child, ChildStderr) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = wait_listening(&mut child);
    (child, err)
}

/// Sends the ADR-018 frames 0..n of `node` to `port` on loopback, gives the binary 300 ms to
/// take them in, then interrupts it as Ctrl-C does.
#[cfg(unix)]
fn send_then_interrupt(child: &Child, port: u16, n: u32, node: u8) {
    send_then_signal(child, port, n, node, "-INT");
}

/// [`send_then_interrupt`] with the signal `sig` (`-INT`, `-TERM`).
#[cfg(unix)]
fn send_then_signal(child: &Child, port: u16, n: u32, node: u8, sig: &str) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..n {
        s.send_to(&datagram(i, node), ("127.0.0.1", port)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

#[test]
fn record_udp_frames_then_replay() {
    let d = tmpdir("record");
    let out = d.join("live.csirec");
    let port = free_udp_port();
    let (mut child, _err) = start_listening(&[
        "record",
        &format!("udp://127.0.0.1:{port}"),
        "-o",
        out.to_str().unwrap(),
        "--frames",
        "20",
        "--duration",
        "60s",
    ]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..20 {
        s.send_to(b"garbage that is not ADR-018", ("127.0.0.1", port))
            .unwrap();
        s.send_to(&datagram(i, 9), ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    let lines = lines_of(&["run", out.to_str().unwrap()]);
    assert_eq!(lines.len(), 20);
    for (i, l) in lines.iter().enumerate() {
        let Record::Frame(f) =
            adr018::decode_datagram(&datagram(i as u32, 9), 0, 0, Clock::Host).unwrap()
        else {
            panic!()
        };
        assert_eq!(l["node_id"], 9);
        assert_eq!(l["sequence"], i);
        assert_eq!(l["clock"], "host");
        let want: Vec<f32> = f.csi.iter().map(|c| c.im).collect();
        assert_eq!(f32s(&l["csi_im"]), want);
    }
}

/// A live input that brought only malformed datagrams fails alike in `run`, `inspect` and
/// `record` (exit 1, "nothing could be decoded" with the first reason), after the summary;
/// `record` says its file holds only the header.
#[cfg(unix)]
#[test]
fn live_garbage_only_fails_alike() {
    let d = tmpdir("garbage-live");
    let out = d.join("g.csirec");
    for cmd in [
        vec!["run"],
        vec!["inspect"],
        vec!["record", "-o", out.to_str().unwrap()],
    ] {
        let port = free_udp_port();
        let addr = format!("udp://127.0.0.1:{port}");
        let mut args = vec![cmd[0], addr.as_str()];
        args.extend(&cmd[1..]);
        let (mut child, mut err) = start_listening(&args);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..3 {
            s.send_to(b"garbage that is not ADR-018", ("127.0.0.1", port))
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let status = child.wait().unwrap();
        let mut rest = String::new();
        err.read_to_string(&mut rest).unwrap();
        assert_eq!(status.code(), Some(1), "{cmd:?}: {rest}");
        assert!(
            rest.contains(&format!("error: nothing could be decoded from {addr}"))
                && rest.contains("not an ADR-018 magic"),
            "{cmd:?}: {rest}"
        );
        if cmd[0] == "record" {
            assert!(
                rest.contains("3 malformed datagrams skipped in all"),
                "{rest}"
            );
            assert!(rest.contains("holds only its header"), "{rest}");
            assert!(!rest.contains("no frame was recorded"), "{rest}");
            assert_eq!(lines_of(&["run", out.to_str().unwrap()]).len(), 0);
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM (what systemd, Docker and `timeout` send) both end a live
/// recording cleanly: everything received is written, the summary printed, exit 0 (SIGTERM
/// killed the process with status 143 and lost the buffered tail).
#[cfg(unix)]
#[test]
fn record_stops_cleanly_on_ctrl_c_and_sigterm() {
    for sig in ["-INT", "-TERM"] {
        let d = tmpdir(&format!("signal{sig}"));
        let out = d.join("live.csirec");
        let port = free_udp_port();
        let (mut child, mut err) = start_listening(&[
            "record",
            &format!("udp://127.0.0.1:{port}"),
            "-o",
            out.to_str().unwrap(),
        ]);
        send_then_signal(&child, port, 7, 2, sig);
        let status = child.wait().unwrap();
        let mut rest = String::new();
        err.read_to_string(&mut rest).unwrap();
        assert!(status.success(), "{sig}: {status:?}, stderr: {rest}");
        assert!(rest.contains("7 frames"), "{sig}: stderr: {rest}");
        assert_eq!(lines_of(&["run", out.to_str().unwrap()]).len(), 7, "{sig}");
    }
}

#[test]
fn run_stdin_and_limit() {
    let d = tmpdir("stdin");
    let rec = d.join("a.csirec");
    make_recording(&rec, 12);
    let out = run_with_stdin(&["run", "-", "--limit", "5"], &std::fs::read(&rec).unwrap());
    assert!(out.status.success());
    assert_eq!(json_lines(&out.stdout).len(), 5);
}

#[test]
fn unknown_format_flag_is_rejected() {
    let out = run(&["run", "x", "--format", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown format"));
}

#[test]
fn real_esp32_csv_with_a_malformed_line() {
    let f = fixture("esp32/example_100hz_pitraffic.csv");
    let out = run_ok(&["run", &f]);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 833);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 malformed skipped"), "{err}");
    assert!(err.contains("line 19"), "{err}");
    // values equal the golden file (csiread), frame by frame
    let golden =
        std::fs::read_to_string(fixture("esp32/example_100hz_pitraffic.csv.jsonl")).unwrap();
    for (l, g) in lines.iter().zip(golden.lines().skip(1)) {
        let g: Value = serde_json::from_str(g).unwrap();
        assert_eq!(numbers(&l["csi_re"]), numbers(&g["csi"]["re"]));
        assert_eq!(numbers(&l["csi_im"]), numbers(&g["csi"]["im"]));
        assert_eq!(l["rssi_dbm"].as_f64(), g["rssi"].as_f64());
    }
    let strict = run(&["run", "--strict", &f]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr).contains("byte 8371"));
    // a strict conversion that stops says what it leaves behind
    let part = tmpdir("strict_convert").join("part.jsonl");
    let part_s = part.to_str().unwrap();
    let strict = run(&["convert", "--strict", &f, "-o", part_s]);
    assert_eq!(strict.status.code(), Some(1));
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(
        err.contains("the file keeps the records written before the error")
            && err.contains("byte 8371"),
        "{err}"
    );
    let kept = std::fs::read_to_string(&part).unwrap().lines().count();
    assert!(kept > 0 && kept < 833, "{kept} lines kept");

    let v = inspect_json(&f);
    assert_eq!(v["frames"], 833);
    assert_eq!(v["malformed_records"], 1);
    assert_eq!(v["format"], "esp32_csv");
    assert!(
        v["nodes"]["0"]["dropped"].is_null(),
        "CSV has no sequence numbers: drops not measurable"
    );
    // RSSI range, duration and rate against the golden file (csiread's values)
    let g: Vec<Value> = golden
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rssi: Vec<f64> = g.iter().map(|l| l["rssi"].as_f64().unwrap()).collect();
    let lo = rssi.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = rssi.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(v["rssi_dbm_min"].as_f64(), Some(lo));
    assert_eq!(v["rssi_dbm_max"].as_f64(), Some(hi));
    let ts: Vec<i64> = g
        .iter()
        .map(|l| l["local_timestamp"].as_i64().unwrap())
        .collect();
    let span_s = (ts.iter().max().unwrap() - ts.iter().min().unwrap()) as f64 * 1e-6;
    assert!((v["duration_s"].as_f64().unwrap() - span_s).abs() < 1e-9);
    let rate = (g.len() - 1) as f64 / span_s;
    assert!((v["nodes"]["0"]["rate_hz"].as_f64().unwrap() - rate).abs() < 1e-6);
}

#[test]
fn intel5300_convert_to_csirec_is_lossless() {
    // the Intel 5300 reader promises int8 CSI, so `convert` packs it without scanning the
    // values: the recording must still hold exactly the frames of the capture
    let d = tmpdir("intel5300");
    for name in ["intel5300/example.dat", "intel5300/66bpm.dat"] {
        let f = fixture(name);
        let rec = d.join("i.csirec");
        run_ok(&["convert", &f, "-o", rec.to_str().unwrap()]);
        let a = run_ok(&["run", &f]);
        let b = run_ok(&["run", rec.to_str().unwrap()]);
        assert!(json_lines(&a.stdout).len() > 10, "{name}");
        assert_eq!(
            a.stdout, b.stdout,
            "{name}: capture -> csirec -> JSON Lines equals capture -> JSON Lines"
        );
    }
}

#[test]
fn ruview_recording_inspect_and_convert() {
    let f = fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let v = inspect_json(&f);
    assert_eq!(v["frames"], 276);
    assert_eq!(v["non_csi_records"]["vitals"], 12);
    assert_eq!(v["non_csi_records"]["features"], 12);
    let d = tmpdir("ruview");
    let rec = d.join("r.csirec");
    run_ok(&["convert", &f, "-o", rec.to_str().unwrap()]);
    let a = run(&["run", &f]);
    let b = run(&["run", rec.to_str().unwrap()]);
    assert_eq!(
        a.stdout, b.stdout,
        "capture -> csirec -> JSON Lines equals capture -> JSON Lines"
    );
    let lines = json_lines(&a.stdout);
    assert_eq!(lines.len(), 300);
    assert!(lines
        .iter()
        .any(|l| l["type"] == "vitals" && l["data"]["breathing_bpm"].is_number()));
}

#[test]
fn simulate_is_deterministic_and_readable() {
    let d = tmpdir("simulate");
    let run = |name: &str, seed: &str| {
        let out = d.join(name);
        let truth = d.join(format!("{name}.truth.jsonl"));
        run_ok(&[
            "simulate",
            "--scenario",
            "breathe",
            "--duration",
            "10s",
            "--rate",
            "50",
            "--device",
            "esp32",
            "--seed",
            seed,
            "-o",
            out.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ]);
        (
            std::fs::read(out).unwrap(),
            std::fs::read_to_string(truth).unwrap(),
        )
    };
    let (a, ta) = run("a.pcap", "7");
    let (b, tb) = run("b.pcap", "7");
    let (c, _) = run("c.pcap", "8");
    assert_eq!(a, b, "same seed, byte-identical pcap");
    assert_eq!(ta, tb, "same seed, identical ground truth");
    assert_ne!(a, c, "another seed, another capture");
    let frames = lines_of(&["run", d.join("a.pcap").to_str().unwrap()]);
    let truth: Vec<Value> = ta
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        truth.len(),
        frames.len() + 1,
        "a header line, then one truth line per frame"
    );
    assert_eq!(truth[0]["format"], "wifi-sensing-sim-truth");
    for (f, t) in frames.iter().zip(&truth[1..]) {
        assert_eq!(f["sequence"], t["sequence"]);
        assert_eq!(f["format"], "esp32_adr018");
        assert_eq!(t["breathing_bpm"], 15.0);
        assert_eq!(t["keypoints"].as_array().unwrap().len(), 17);
    }
    // the scenario recorded in the truth header reproduces the run from a config file
    let cfg = d.join("scenario.json");
    std::fs::write(&cfg, truth[0]["scenario"].to_string()).unwrap();
    let again = d.join("again.pcap");
    run_ok(&[
        "simulate",
        "--scenario-file",
        cfg.to_str().unwrap(),
        "--seed",
        "7",
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(again).unwrap(), a);
}

#[test]
fn simulate_rejects_bad_requests_clearly() {
    let d = tmpdir("simbad");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--scenario".into(), "dance".into()], "dance"),
        (
            vec!["--device".into(), "intel5300".into()],
            "needs .csirec or .jsonl",
        ),
        (vec!["--rate=-5".into()], "rate"),
    ];
    for (extra, want) in cases {
        let out = d.join("x.pcap");
        let mut args = vec![
            "simulate".to_string(),
            "-o".into(),
            out.to_str().unwrap().to_string(),
        ];
        args.extend(extra);
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        // usage errors, found before anything is created
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: stderr lacks {want:?}: {err}");
        assert!(!out.exists());
    }
    let bad = d.join("bad.json");
    std::fs::write(&bad, r#"{"rate_hz": 50, "no_such_field": 1}"#).unwrap();
    let o = run(&[
        "simulate",
        "--scenario-file",
        bad.to_str().unwrap(),
        "-o",
        d.join("y.csirec").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no_such_field"));
}

#[test]
fn simulate_random_sessions_with_three_nodes() {
    let d = tmpdir("simnodes");
    let sim = |name: &str, extra: &[&str]| {
        let out = d.join(name);
        let truth = d.join(format!("{name}.truth.jsonl"));
        let mut args = vec![
            "simulate",
            "--nodes",
            "reference3",
            "--duration",
            "4s",
            "-o",
            out.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
        (
            std::fs::read(&out).unwrap(),
            std::fs::read_to_string(truth).unwrap(),
        )
    };
    let (a, ta) = sim("a.csirec", &["--random", "5", "--device", "iwl5300"]);
    let (b, tb) = sim("b.csirec", &["--random", "5", "--device", "iwl5300"]);
    let (_, tc) = sim("c.csirec", &["--random", "6", "--device", "iwl5300"]);
    assert_eq!(a, b, "same seed, byte-identical recording");
    assert_eq!(ta, tb);
    let truth = |t: &str| -> Vec<Value> {
        t.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (ta, tc) = (truth(&ta), truth(&tc));
    assert_eq!(ta[0]["scenario"]["name"], "random:5");
    assert_eq!(ta[0]["nodes"].as_array().unwrap().len(), 3);
    assert_ne!(ta[0]["scenario"]["timeline"], tc[0]["scenario"]["timeline"]);
    let kp = |t: &[Value]| {
        t[1..]
            .iter()
            .map(|l| l["keypoints"].clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(kp(&ta), kp(&tc), "another seed, other poses");
    let frames = lines_of(&["run", d.join("a.csirec").to_str().unwrap()]);
    let listed: usize = ta[1..]
        .iter()
        .map(|l| l["nodes"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        frames.len(),
        listed,
        "one frame per node listed in the truth"
    );
    assert!(frames.len() > 3 * 200 * 9 / 10 && frames.len() <= 600);
    for id in 0..3 {
        let seqs: Vec<u64> = frames
            .iter()
            .filter(|f| f["node_id"] == id)
            .map(|f| f["sequence"].as_u64().unwrap())
            .collect();
        assert!(seqs.len() > 180, "node {id}");
        assert!(seqs.windows(2).all(|w| w[1] > w[0]));
    }
    // ADR-018 in pcap: every node its own datagram node id
    let (_, tp) = sim(
        "p.pcap",
        &[
            "--random",
            "5",
            "--random-room",
            "--activities",
            "walk=1,sit=1",
        ],
    );
    let tp = truth(&tp);
    assert_eq!(tp[0]["scenario"]["name"], "random:5+room");
    let frames = lines_of(&["run", d.join("p.pcap").to_str().unwrap()]);
    let mut ids: Vec<u64> = frames
        .iter()
        .map(|f| f["node_id"].as_u64().unwrap())
        .collect();
    assert!(frames.iter().all(|f| f["format"] == "esp32_adr018"));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, vec![0, 1, 2]);
    assert!(tp[1..]
        .iter()
        .all(|l| l["activity"] == "walk" || l["activity"] == "sit"));
}

#[test]
fn simulate_node_and_random_flags_are_checked_at_parse_time() {
    let d = tmpdir("simnodesbad");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--random-room"], "--random"),
        (vec!["--activities", "walk=1"], "--random"),
        (
            vec!["--random", "1", "--activities", "dance=1"],
            "unknown activity",
        ),
        (
            vec!["--random", "1", "--scenario", "walk"],
            "cannot be used with",
        ),
        (vec!["--random", "x"], "invalid digit"),
        (vec!["--nodes", "five"], "unknown receiver layout"),
        (
            vec!["--nodes", "reference3", "-o", "x.csv"],
            "carries no node id",
        ),
        (vec!["--nodes", "reference3", "--node-id", "4"], "--node-id"),
        // options of another mode are refused, not ignored
        (
            vec!["--scenario", "walk", "--random-room"],
            "--random-room shapes a random session",
        ),
        (
            vec!["--scenario", "walk", "--activities", "walk=1"],
            "--activities shapes a random session",
        ),
        (
            vec!["--node-id", "9", "-o", "x.csirec"],
            "--node-id sets the ADR-018 datagrams of .pcap output; .csirec",
        ),
        (vec!["--port", "7000", "-o", "x.jsonl"], "--port sets"),
        (vec!["--port", "7000", "-o", "-"], "stdout (JSON Lines)"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["simulate".to_string(), "--duration".into(), "6s".into()];
        if !extra.contains(&"-o") {
            args.extend([
                "-o".to_string(),
                d.join("x.pcap").to_str().unwrap().to_string(),
            ]);
        }
        args.extend(extra.iter().map(|s| {
            if s.starts_with("x.") {
                d.join(s).to_str().unwrap().to_string()
            } else {
                s.to_string()
            }
        }));
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: stderr lacks {want:?}: {err}");
        for f in ["x.pcap", "x.csv", "x.csirec", "x.jsonl"] {
            assert!(!d.join(f).exists(), "{args:?} wrote {f}");
        }
    }
}

#[test]
fn shipped_scenario_file_runs() {
    let d = tmpdir("scenfile");
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios/living_room.json");
    let out = d.join("room.csirec");
    let truth = d.join("room.truth.jsonl");
    run_ok(&[
        "simulate",
        "--scenario-file",
        cfg.to_str().unwrap(),
        "--device",
        "intel5300",
        "-o",
        out.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    let t = std::fs::read_to_string(truth).unwrap();
    let lines: Vec<Value> = t
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 60 s at 100 Hz, minus the frames the 2 % drop model removed
    assert!(lines.len() > 5600 && lines.len() <= 6000, "{}", lines.len());
    assert_eq!(lines[0]["presence"], false);
    let at = |s: f64| {
        lines
            .iter()
            .find(|l| l["timestamp_ns"].as_f64().unwrap() >= s * 1e9)
            .unwrap()
            .clone()
    };
    assert_eq!(at(20.0)["activity"], "sit");
    assert_eq!(at(20.0)["breathing_bpm"], 12.0);
    assert_eq!(at(59.0)["presence"], false);
    let v = inspect_json(out.to_str().unwrap());
    assert_eq!(v["frames"].as_u64().unwrap() as usize, lines.len());
    assert_eq!(
        v["shapes"]["3x2x30"].as_u64().unwrap() as usize,
        lines.len()
    );
}

#[test]
fn reader_flags_reach_the_readers() {
    // Nexmon grouping: the bcm4358 sample is one transmission seen by 2 cores x 2 streams
    let f = fixture("nexmon/example.pcap");
    let one = lines_of(&["run", &f]);
    assert_eq!(one.len(), 4);
    let grouped = lines_of(&["run", "--nexmon-group", &f]);
    assert_eq!(grouped.len(), 1);
    assert_eq!(grouped[0]["shape"], serde_json::json!([2, 2, 256]));
    let bad = run(&["run", "--nexmon-chip", "9999", &f]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown Nexmon chip"));

    // Intel scaled CSI equals the raw values times the golden scaled_csi_factor
    let f = fixture("intel5300/example.dat");
    let raw = lines_of(&["run", &f]);
    let scaled = lines_of(&["run", "--intel-scaled", &f]);
    let golden = std::fs::read_to_string(fixture("intel5300/example.dat.jsonl")).unwrap();
    for ((r, s), g) in raw.iter().zip(&scaled).zip(golden.lines().skip(1)) {
        let g: Value = serde_json::from_str(g).unwrap();
        let k = g["scaled_csi_factor"].as_f64().unwrap();
        for (a, b) in f32s(&r["csi_re"]).iter().zip(f32s(&s["csi_re"])) {
            assert_eq!(b, a * (k as f32));
        }
    }
}

#[test]
fn json_lines_read_back_losslessly() {
    let d = tmpdir("jsonl-back");
    for rel in [
        "ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
        "intel5300/example.dat",
        "nexmon/40mhz_1600085286.pcap",
        "picoscenes/picoscenes_iwl5300_example.csi",
    ] {
        let a = run_ok(&["run", &fixture(rel)]);
        let first = d.join("a.jsonl");
        std::fs::write(&first, &a.stdout).unwrap();
        // JSON Lines -> JSON Lines is the identity, frames and non-CSI records alike
        let b = run_ok(&["run", first.to_str().unwrap()]);
        assert_eq!(a.stdout, b.stdout, "{rel}");
        // and through a recording, read from stdin
        let rec = d.join("b.csirec");
        let converted = run_with_stdin(&["convert", "-", "-o", rec.to_str().unwrap()], &a.stdout);
        assert!(converted.status.success());
        let c = run(&["run", rec.to_str().unwrap()]);
        assert_eq!(a.stdout, c.stdout, "{rel} via csirec");
    }
    // a filtered stream (what `jq -c 'select(.node_id == 1)'` would pass on) converts as well
    let a = run(&[
        "run",
        &fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl"),
    ]);
    let node1: Vec<&str> = std::str::from_utf8(&a.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"node_id\":1,"))
        .collect();
    let filtered = d.join("node1.jsonl");
    std::fs::write(&filtered, node1.join("\n") + "\n").unwrap();
    let v = inspect_json(filtered.to_str().unwrap());
    assert_eq!(v["format"], "jsonl");
    assert!(v["nodes"]["2"].is_null());
    assert!(v["nodes"]["1"]["frames"].as_u64().unwrap() > 100);
    // analysis lines are results, not capture data: passed over and counted (never silently
    // dropped), not malformed, so --strict reads `run --events` output back
    let mixed = d.join("mixed.jsonl");
    let mut text = node1[..3].join("\n");
    text.push_str("\n{\"schema\":1,\"type\":\"presence\",\"analyser\":\"x\",\"timestamp_ns\":0,\"node_id\":null,\"data\":{}}\n");
    std::fs::write(&mixed, text).unwrap();
    let out = run_ok(&["run", "--strict", mixed.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 packets/records without CSI passed over")
            && err.contains("0 malformed skipped"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    let v = inspect_json(mixed.to_str().unwrap());
    assert_eq!(v["passed_over"], 1);
}

#[test]
fn inspect_fails_on_a_damaged_input_after_reporting() {
    // a pcap whose last packet header claims 2 GiB: reading cannot go on past it (a `.csirec`
    // finds its next entry by CRC instead, see `damaged_recording_header_and_tail_keep_the_entries`)
    let d = tmpdir("inspect-bad");
    let cap = d.join("bad.pcap");
    run_ok(&[
        "simulate",
        "--scenario",
        "walk",
        "--duration",
        "1s",
        "-o",
        cap.to_str().unwrap(),
    ]);
    let mut bytes = std::fs::read(&cap).unwrap();
    for v in [0u32, 0, 0x7fff_ffff, 0x7fff_ffff] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&cap, bytes).unwrap();
    let out = run(&["inspect", "--json", cap.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["frames"], 50, "the report covers what was read");
    assert!(v["error"].as_str().unwrap().contains("exceeds the limit"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading stopped early"));
}

#[test]
fn inspect_reports_the_sampling_rate_and_the_frames_it_counts_lost() {
    // a simulated 50 Hz ESP32 node whose impairment model drops frames (seed 7: 9 of 1000)
    let d = tmpdir("inspect-rates");
    let rec = d.join("still.csirec");
    run_ok(&[
        "simulate",
        "--scenario",
        "still",
        "--duration",
        "20s",
        "-o",
        rec.to_str().unwrap(),
    ]);
    let v = inspect_json(rec.to_str().unwrap());
    let n = &v["nodes"]["1"];
    let (received, sampling) = (
        n["rate_hz"].as_f64().unwrap(),
        n["sampling_rate_hz"].as_f64().unwrap(),
    );
    assert!((sampling - 50.0).abs() < 0.05, "{n}");
    assert!(received < 49.7, "frames lost lower the received rate: {n}");
    assert_eq!(n["regular"], true);
    let dropped = n["dropped"].as_u64().unwrap();
    assert!(dropped > 0, "{n}");
    // the intervals imply the frames the sequence numbers say were lost
    assert_eq!(n["frames_lost"].as_u64(), Some(dropped), "{n}");
    let text =
        String::from_utf8_lossy(&run_ok(&["inspect", rec.to_str().unwrap()]).stdout).into_owned();
    assert!(
        text.contains(&format!(
            "{received:.2} Hz received (sampled at 50.00 Hz: {dropped} frames lost on the way)"
        )),
        "{text}"
    );

    // an ESP32 capture with host-side traffic: irregular intervals, so no sampling rate
    let f = fixture("esp32/example_100hz_pitraffic.csv");
    let n = &inspect_json(&f)["nodes"]["0"];
    assert!(n["rate_hz"].as_f64().unwrap() > 0.0, "{n}");
    assert_eq!(n["regular"], false, "{n}");
    assert!(
        n["sampling_rate_hz"].is_null() && n["frames_lost"].is_null(),
        "{n}"
    );
    let text = String::from_utf8_lossy(&run_ok(&["inspect", &f]).stdout).into_owned();
    assert!(
        text.contains("(irregular intervals: no sampling rate)"),
        "{text}"
    );

    // a span under 1 ms (one Nexmon transmission, 4 packets) measures neither rate
    let n = &inspect_json(&fixture("nexmon/example.pcap"))["nodes"]["0"];
    assert!(
        n["rate_hz"].is_null() && n["sampling_rate_hz"].is_null() && n["regular"].is_null(),
        "{n}"
    );
}

#[test]
fn inspect_counts_repeated_sequence_numbers_not_resets() {
    // the bcm4358 sample: one transmission, 4 packets (2 cores x 2 streams) with one sequence number
    let v = inspect_json(&fixture("nexmon/example.pcap"));
    let n = &v["nodes"]["0"];
    assert_eq!(n["sequence_repeats"], 3);
    assert_eq!(n["sequence_resets"], 0);
    assert_eq!(n["dropped"], 0);
}

#[test]
fn simulate_recording_is_byte_identical() {
    let d = tmpdir("sim-rec");
    let run = |name: &str| {
        let out = d.join(name);
        run_ok(&[
            "simulate",
            "--scenario",
            "walk",
            "--duration",
            "3s",
            "--device",
            "nexmon80",
            "-o",
            out.to_str().unwrap(),
        ]);
        std::fs::read(out).unwrap()
    };
    assert_eq!(run("a.csirec"), run("b.csirec"));
}

#[test]
fn record_rejects_zero_frames() {
    let out = run(&[
        "record",
        "udp://127.0.0.1:9",
        "-o",
        "/dev/null",
        "--frames",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frames"));
}

#[cfg(unix)]
#[test]
fn convert_and_inspect_of_live_udp_stop_cleanly_on_ctrl_c() {
    let d = tmpdir("udp-sigint");
    for cmd in ["convert", "inspect"] {
        let port = free_udp_port();
        let out = d.join(format!("{cmd}.csirec"));
        let spec = format!("udp://127.0.0.1:{port}");
        let mut args = vec![cmd, &spec];
        if cmd == "convert" {
            args.extend(["-o", out.to_str().unwrap()]);
        } else {
            args.push("--json");
        }
        let (child, _err) = start_listening(&args);
        send_then_interrupt(&child, port, 9, 5);
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{cmd}");
        if cmd == "convert" {
            assert_eq!(
                lines_of(&["run", out.to_str().unwrap()]).len(),
                9,
                "convert keeps what arrived"
            );
        } else {
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["frames"], 9, "inspect reports what arrived");
            assert_eq!(v["nodes"]["5"]["dropped"], 0);
        }
    }
}

#[test]
fn outputs_never_overwrite_an_input_or_each_other() {
    let d = tmpdir("samefile");
    let rec = d.join("a.csirec");
    make_recording(&rec, 5);
    let before = std::fs::read(&rec).unwrap();
    let r = rec.to_str().unwrap();
    let out = run(&["convert", r, "-o", r]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is also the input"));
    assert_eq!(
        std::fs::read(&rec).unwrap(),
        before,
        "the input is untouched"
    );
    // the same file through another spelling of its path
    let other = d.join(".").join("a.csirec");
    let out = run(&["convert", r, "-o", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&rec).unwrap(), before);

    let x = d.join("x.jsonl");
    let x = x.to_str().unwrap();
    let out = run(&["simulate", "--duration", "10s", "-o", x, "--truth", x]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is also the simulated capture"));
    // stdin redirected from the output file
    let out = bin()
        .args(["convert", "-", "-o", r])
        .stdin(std::fs::File::open(&rec).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is also the input (stdin)"));
    assert_eq!(std::fs::read(&rec).unwrap(), before);
    let out = run(&[
        "simulate",
        "--duration",
        "10s",
        "-o",
        "-",
        "--truth",
        "/dev/stdout",
    ]);
    assert_eq!(out.status.code(), Some(1));
    // an output that cannot be created leaves no half-made other output behind
    let cap = d.join("s.pcap");
    let out = run(&[
        "simulate",
        "--duration",
        "10s",
        "-o",
        cap.to_str().unwrap(),
        "--truth",
        d.join("no_dir").join("t.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!cap.exists());
    let out = run(&["simulate", "--duration", "10s", "-o", "-", "--truth", "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("would mix frames and ground truth"));
}

#[test]
fn simulate_truth_to_stdout() {
    let d = tmpdir("truth_stdout");
    let o = d.join("s.csirec");
    let out = run_ok(&[
        "simulate",
        "--scenario",
        "breathe",
        "--duration",
        "2s",
        "--rate",
        "10",
        "-o",
        o.to_str().unwrap(),
        "--truth",
        "-",
    ]);
    let lines = json_lines(&out.stdout);
    // a header line, then one line per frame slot
    assert!(lines.len() >= 2, "{} truth lines", lines.len());
    assert!(!d.join("-").exists());
    let port0 = run(&["simulate", "--duration", "1s", "--port", "0", "-o", "-"]);
    assert_eq!(port0.status.code(), Some(2));
}

#[test]
fn record_refuses_outputs_it_cannot_honour() {
    for (o, want) in [("-", "not to stdout"), ("live.jsonl", "name it .csirec")] {
        let out = run(&["record", "udp://127.0.0.1:9", "-o", o, "--frames", "1"]);
        assert_eq!(out.status.code(), Some(2), "{o}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{o}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn summary_counts_what_was_written_and_flags_are_checked() {
    let csv = fixture("esp32/example_csi.csv");
    let out = run(&["run", "--limit", "0", &csv]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let out = run_ok(&["run", "--limit", "3", &csv]);
    assert_eq!(json_lines(&out.stdout).len(), 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("; 3 records written"));

    let out = run(&["run", "--duration", "5s", &csv]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("udp:// inputs only"));

    let out = run(&["run", "--format", "nexmon", &csv]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("formats that can be read: ") && err.contains("pcap"),
        "{err}"
    );
    assert!(!err.contains("nexmon,"), "{err}");
}

/// `wifi-sensing convert INPUT -o OUTPUT --threads THREADS`.
fn convert_threads(input: &str, output: &str, threads: &str) -> std::process::Output {
    run(&["convert", input, "-o", output, "--threads", threads])
}

/// [`convert_threads`], which must succeed.
fn convert_threads_ok(input: &str, output: &str, threads: &str) -> std::process::Output {
    run_ok(&["convert", input, "-o", output, "--threads", threads])
}

/// `.csirec` bytes without the header's creation time (bytes 16 to 19, counted from 0).
fn without_creation_time(mut bytes: Vec<u8>) -> Vec<u8> {
    // the header's creation time: a varint marker at 15, then 8 bytes of nanoseconds
    assert_eq!(bytes[15], 0xfd, "creation time not where expected");
    bytes[16..24].fill(0);
    bytes
}

/// Captures that fill several of `convert --threads 2`'s batches, and some that fill less than one.
const THREADS_FIXTURES: [&str; 6] = [
    "esp32/example_100hz_pitraffic.csv",
    "intel5300/brushteeth_1597160017.dat",
    "intel5300/66bpm.dat",
    "nexmon/40mhz_1600085286.pcap",
    "picoscenes/picoscenes_iwl5300_example.csi",
    "atheros/ath_csi_1.first5.dat",
];

#[test]
fn convert_on_one_or_two_threads_writes_the_same() {
    let d = tmpdir("threads");
    for rel in THREADS_FIXTURES {
        let input = fixture(rel);
        let out = |threads: &str, ext: &str| {
            let path = d.join(format!("t{threads}.{ext}"));
            let o = convert_threads_ok(&input, path.to_str().unwrap(), threads);
            let log = String::from_utf8_lossy(&o.stderr).replace(&*path.to_string_lossy(), "OUT");
            (std::fs::read(&path).unwrap(), log)
        };
        let (one, log1) = out("1", "csirec");
        let (two, log2) = out("2", "csirec");
        assert!(one.len() > 100, "{rel}");
        assert!(
            without_creation_time(one) == without_creation_time(two),
            "{rel}: .csirec"
        );
        // the same summary, counters and messages
        assert_eq!(log1, log2, "{rel}");
        let (one, log1) = out("1", "jsonl");
        let (two, log2) = out("2", "jsonl");
        assert!(one == two, "{rel}: .jsonl");
        assert_eq!(log1, log2, "{rel}: .jsonl");
        let stdout =
            |threads: &str| run_ok(&["convert", &input, "-o", "-", "--threads", threads]).stdout;
        assert!(stdout("1") == stdout("2"), "{rel}: stdout");
    }
}

#[test]
fn convert_on_two_threads_handles_errors_as_on_one() {
    let d = tmpdir("threads-errors");
    // a cut input: the complete records are written, the cut reported, exit 0
    let whole = std::fs::read(fixture("intel5300/brushteeth_1597160017.dat")).unwrap();
    let cut = d.join("cut.dat");
    std::fs::write(&cut, &whole[..whole.len() * 2 / 3 + 5]).unwrap();
    // an output whose writes fail (a full device behind a `.csirec` name)
    let full = d.join("full.csirec");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/dev/full", &full).unwrap();
    let (mut outcomes, mut recordings) = (Vec::new(), Vec::new());
    for threads in ["1", "2"] {
        let out = d.join(format!("cut{threads}.csirec"));
        let o = convert_threads(cut.to_str().unwrap(), out.to_str().unwrap(), threads);
        let err = String::from_utf8_lossy(&o.stderr).replace(&*out.to_string_lossy(), "OUT");
        assert!(err.contains("ends inside a record"), "{err}");
        let written = without_creation_time(std::fs::read(&out).unwrap());
        let mut failing = Vec::new();
        let mut targets = vec![d.join("no/such/dir/x.csirec")];
        if cfg!(unix) {
            targets.push(full.clone());
        }
        for target in targets {
            let o = convert_threads(
                &fixture("esp32/example_100hz_pitraffic.csv"),
                target.to_str().unwrap(),
                threads,
            );
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(!err.contains("panicked"), "{err}");
            failing.push((o.status.code(), err));
        }
        outcomes.push((o.status.code(), err, failing));
        recordings.push(written);
    }
    assert!(recordings[0] == recordings[1], "the cut input's records");
    assert_eq!(outcomes[0].0, Some(0));
    assert_eq!(outcomes[0].2[0].0, Some(1));
    if cfg!(unix) {
        assert_eq!(outcomes[0].2[1].0, Some(1), "{}", outcomes[0].2[1].1);
        assert!(
            outcomes[0].2[1].1.contains("No space left"),
            "{}",
            outcomes[0].2[1].1
        );
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

#[test]
fn convert_threads_flag_is_checked() {
    let d = tmpdir("threads-flag");
    let input = fixture("intel5300/example.dat");
    let out = d.join("x.csirec");
    for bad in ["0", "3", "two"] {
        let o = convert_threads(&input, out.to_str().unwrap(), bad);
        assert_eq!(o.status.code(), Some(2), "--threads {bad}");
    }
    // a dataset converts captures in parallel instead
    let o = run(&[
        "convert",
        &input,
        "-o",
        &format!("{}/", d.join("ds").display()),
        "--threads",
        "2",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--jobs"), "{err}");
}

#[test]
fn broken_pipe_exits_zero_with_two_threads() {
    let d = tmpdir("pipe-threads");
    let rec = d.join("big.csirec");
    make_recording(&rec, 5000);
    let rec = rec.to_str().unwrap();
    exits_zero_when_stdout_closes(&["convert", rec, "-o", "-", "--threads", "2"]);
}

/// `inspect` names each node's transmitter MAC: an ESP32 node is numbered by MAC (in passive
/// mode every transmitter it hears is a node of its own), so "node 1" alone does not say which
/// transmitter that is. The MACs stay with their nodes through `.csirec`; a format without a
/// transmitter MAC (this Intel 5300 file has no 0xC1 records) gives null.
#[test]
fn inspect_shows_each_nodes_mac() {
    let d = tmpdir("inspect-mac");
    // five frames of another MAC in the kit's ESP32 capture
    let csv = common::stray_esp32_capture(&d, "AA:BB:CC:DD:EE:FF");
    let rec = d.join("stray.csirec");
    run_ok(&[
        "convert",
        csv.to_str().unwrap(),
        "-o",
        rec.to_str().unwrap(),
    ]);
    for input in [&csv, &rec] {
        let input = input.to_str().unwrap();
        let v = inspect_json(input);
        let nodes = &v["nodes"];
        assert_eq!(nodes.as_object().map(|n| n.len()), Some(2), "{v}");
        assert_eq!(nodes["0"]["mac"], "11:22:33:44:55:66", "{v}");
        assert_eq!(nodes["1"]["mac"], "aa:bb:cc:dd:ee:ff", "{v}");
        assert_eq!(nodes["1"]["frames"], 5, "{v}");
        assert_eq!(nodes["0"]["other_macs"], 0, "{v}");
        assert_eq!(nodes["1"]["other_macs"], 0, "{v}");
        let text = String::from_utf8_lossy(&run_ok(&["inspect", input]).stdout).into_owned();
        assert!(
            text.contains("  node 0 (MAC 11:22:33:44:55:66): 828 frames, ")
                && text.contains("  node 1 (MAC aa:bb:cc:dd:ee:ff): 5 frames, "),
            "{text}"
        );
    }
    let f = fixture("intel5300/example.dat");
    let v = inspect_json(&f);
    assert!(v["nodes"]["0"]["mac"].is_null(), "{v}");
    let text = String::from_utf8_lossy(&run_ok(&["inspect", &f]).stdout).into_owned();
    assert!(text.contains("  node 0: 26 frames, "), "{text}");
}

/// `replay` sends a simulated ADR-018 pcap to a live `record udp://`: every frame arrives, as
/// the capture holds them; a file that is no capture and an address that is none are errors.
#[test]
fn replay_feeds_a_live_recording() {
    let d = tmpdir("replay");
    let pcap = d.join("sim.pcap");
    run_ok(&[
        "simulate",
        "-q",
        "--nodes",
        "reference3",
        "--duration",
        "5s",
        "-o",
        pcap.to_str().unwrap(),
    ]);
    let want = lines_of(&["run", pcap.to_str().unwrap()]).len();
    assert!(want > 600, "{want}");
    let out = d.join("live.csirec");
    let port = free_udp_port();
    let (mut child, _err) = start_listening(&[
        "record",
        &format!("udp://127.0.0.1:{port}"),
        "-o",
        out.to_str().unwrap(),
        "--frames",
        &want.to_string(),
        "--duration",
        "60s",
    ]);
    let sent = run_ok(&[
        "replay",
        pcap.to_str().unwrap(),
        "--to",
        &format!("127.0.0.1:{port}"),
        "--speed",
        "4",
    ]);
    assert!(
        String::from_utf8_lossy(&sent.stderr).contains(&format!("sent {want} datagrams")),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(child.wait().unwrap().success());
    assert_eq!(lines_of(&["run", out.to_str().unwrap()]).len(), want);

    let not_pcap = d.join("x.txt");
    std::fs::write(&not_pcap, "hello").unwrap();
    let o = run(&["replay", not_pcap.to_str().unwrap(), "--to", "127.0.0.1:9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a pcap or pcapng capture"));
    let o = run(&["replay", pcap.to_str().unwrap(), "--to", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `replay` stopped by SIGTERM (or Ctrl-C) stops between datagrams, says so and prints what it
/// sent, exit 0.
#[cfg(unix)]
#[test]
fn replay_stops_cleanly_on_sigterm() {
    let d = tmpdir("replay-stop");
    let pcap = d.join("m.pcap");
    let made = common::bin()
        .args(["-q", "simulate", "--duration", "20s", "-o"])
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(made.success());
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = sink.local_addr().unwrap().to_string();
    let child = common::bin()
        .args(["replay"])
        .arg(&pcap)
        .args(["--to", &to])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("stopped (Ctrl-C or a termination signal)") && err.contains("sent "),
        "{err}"
    );
}

/// A live run says at once, not only in its summary at the end: the first malformed datagram
/// (with its number and sender), and a node id whose frames come from two sender addresses
/// (two nodes configured alike, mixed into one stream). Both warnings arrive while the run is
/// still listening; then Ctrl-C ends it cleanly.
#[cfg(target_os = "linux")]
#[test]
fn live_run_warns_at_once_of_malformed_datagrams_and_a_shared_node_id() {
    use std::io::BufRead;
    let port = free_udp_port();
    let (mut child, err) = start_listening(&[
        "run",
        &format!("udp://127.0.0.1:{port}"),
        "--duration",
        "60s",
    ]);
    // stderr and stdout lines as they come, read on threads so that waiting can time out
    let lines_of = |r: Box<dyn std::io::Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let t = std::thread::spawn(move || {
            for l in std::io::BufReader::new(r).lines().map_while(|l| l.ok()) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        (rx, t)
    };
    let (rx, reader) = lines_of(Box::new(err));
    let (out_rx, out_reader) = lines_of(Box::new(child.stdout.take().unwrap()));
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
                seen.push(l);
                if seen.last().is_some_and(|l| l.contains(needle)) {
                    return seen.last().cloned().unwrap();
                }
            }
        }
        panic!("no {needle:?} on stderr within 20 s: {seen:#?}");
    };
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = a.local_addr().unwrap().to_string();
    a.send_to(b"not a CSI datagram at all", ("127.0.0.1", port))
        .unwrap();
    let w = wait_for("malformed datagram 1 from");
    assert!(w.contains("warning:") && w.contains(&me), "{w}");
    // node 3 from 127.0.0.1, then from 127.0.0.2, then from 127.0.0.3
    let b = UdpSocket::bind("127.0.0.2:0").unwrap();
    let c = UdpSocket::bind("127.0.0.3:0").unwrap();
    for i in 0..3 {
        a.send_to(&datagram(i, 3), ("127.0.0.1", port)).unwrap();
    }
    for i in 3..6 {
        b.send_to(&datagram(i, 3), ("127.0.0.1", port)).unwrap();
    }
    let w = wait_for("frames of node 3 come from 2 senders");
    assert!(w.contains("(127.0.0.1, 127.0.0.2)"), "{w}");
    c.send_to(&datagram(6, 3), ("127.0.0.1", port)).unwrap();
    let w = wait_for("frames of node 3 now come from 3 senders");
    assert!(w.contains("(127.0.0.1, 127.0.0.2, 127.0.0.3)"), "{w}");
    // every frame printed before the run is stopped (a stop drops what is still unread)
    let start = Instant::now();
    let mut out = Vec::new();
    while out.len() < 7 && start.elapsed() < Duration::from_secs(20) {
        if let Ok(l) = out_rx.recv_timeout(Duration::from_millis(100)) {
            out.push(l);
        }
    }
    assert_eq!(out.len(), 7, "{out:#?}");
    assert!(child.try_wait().unwrap().is_none(), "the run ended early");
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
    out_reader.join().unwrap();
    assert_eq!(out_rx.iter().count(), 0);
    // and the summary at the end says it again
    let rest: Vec<String> = rx.iter().collect();
    reader.join().unwrap();
    assert!(
        rest.iter().any(|l| l
            .contains("frames of node 3 came from 3 senders (127.0.0.1, 127.0.0.2, 127.0.0.3)")),
        "{rest:#?}"
    );
    // with the total of malformed datagrams, which were warned of as they came
    assert!(
        rest.iter()
            .any(|l| l.contains("1 malformed datagram skipped in all")),
        "{rest:#?}"
    );
    assert!(!rest.iter().any(|l| l.contains(": skipped: ")), "{rest:#?}");
}

/// With `--strict` a malformed datagram ends a live run with its error, and the live input
/// does not also warn that later ones will be counted.
#[cfg(unix)]
#[test]
fn strict_live_run_ends_at_a_malformed_datagram_without_a_counting_warning() {
    let port = free_udp_port();
    let (mut child, mut err) = start_listening(&[
        "run",
        &format!("udp://127.0.0.1:{port}"),
        "--strict",
        "--duration",
        "60s",
    ]);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"not a CSI datagram at all", ("127.0.0.1", port))
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "--strict did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(1), "{rest}");
    assert!(rest.contains("malformed datagram 1 from"), "{rest}");
    assert!(!rest.contains("later ones are counted"), "{rest}");
}

/// `record -q` still warns of frames missing by their sequence numbers (a live loss is a
/// warning, not an info line that `-q` hides).
#[test]
fn quiet_record_still_warns_of_lost_frames() {
    let d = tmpdir("record-q-lost");
    let out = d.join("lost.csirec");
    let port = free_udp_port();
    let mut child = bin()
        .args([
            "record",
            &format!("udp://127.0.0.1:{port}"),
            "-q",
            "-o",
            out.to_str().unwrap(),
            "--frames",
            "6",
            "--duration",
            "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // -q prints nothing once listening, so send until it has its 6 frames: sequence numbers
    // 0, 1, 4, 5, 8, 9, ... (two missing after every two), whenever the socket was bound
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    let mut i = 0u32;
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "record did not end"
        );
        let seq = (i / 2) * 4 + i % 2;
        s.send_to(&datagram(seq, 2), ("127.0.0.1", port)).unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning:")
            && err.contains("frames missing by their sequence numbers: node 2: ")
            && err.contains("lost on the way"),
        "{err}"
    );
    // -q: no info lines
    assert!(!err.contains("recording "), "{err}");
}

/// `inspect` says when a node's clock went back (the kit's Intel 5300 `los_40.dat` steps back
/// 4 s once): per node in the text and in `--json`, which the schema validates.
#[test]
fn inspect_reports_time_going_back() {
    let d = tmpdir("timeback");
    let src = d.join("a.jsonl");
    run_ok(&[
        "-q",
        "simulate",
        "--duration",
        "1s",
        "--scenario",
        "walk",
        "-o",
        src.to_str().unwrap(),
    ]);
    let mut lines = json_lines(&std::fs::read(&src).unwrap());
    let t20 = lines[20]["timestamp_ns"].as_i64().unwrap();
    lines[30]["timestamp_ns"] = (t20 - 1_000_000).into();
    let back = d.join("back.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&back, text).unwrap();
    let r = inspect_json(back.to_str().unwrap());
    let node = &r["nodes"]["1"];
    assert_eq!(node["time_went_back"], 1, "{r}");
    let t29 = lines[29]["timestamp_ns"].as_i64().unwrap();
    let step = node["largest_step_back_s"].as_f64().unwrap();
    assert!(
        (step - (t29 - t20 + 1_000_000) as f64 * 1e-9).abs() < 1e-9,
        "{step}"
    );
    let v = common::validator("inspect-v1.json");
    assert!(common::errors(&v, &r).is_empty());
    let text = String::from_utf8(run_ok(&["inspect", back.to_str().unwrap()]).stdout).unwrap();
    assert!(
        text.contains("time went back: 1 frame earlier than the latest before it (by up to"),
        "{text}"
    );
    // the simulated capture itself: never
    assert_eq!(
        inspect_json(src.to_str().unwrap())["nodes"]["1"]["time_went_back"],
        0
    );
}

/// A `.csirec` whose file header is damaged (no checksum guards it) and whose tail is junk:
/// `inspect` and `convert` read every entry, say what was damaged, and exit 0.
#[test]
fn damaged_recording_header_and_tail_keep_the_entries() {
    let d = tmpdir("damaged-header");
    let rec = d.join("a.csirec");
    make_recording(&rec, 6);
    let mut bytes = std::fs::read(&rec).unwrap();
    // the header's `source` text ("test") made invalid UTF-8, and junk after the last entry
    let at = bytes.windows(4).position(|w| w == b"test").unwrap();
    bytes[at] = 0xFF;
    bytes.extend_from_slice(&[0xFF; 8]);
    std::fs::write(&rec, &bytes).unwrap();
    let r = rec.to_str().unwrap();
    let out = run(&["inspect", r]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("frames:      6"), "{text}");
    assert!(
        text.contains("(time unknown) from unknown: the file header is damaged"),
        "{text}"
    );
    assert!(text.contains("malformed:   2"), "{text}");
    assert!(text.contains("not valid UTF-8"), "{text}");
    assert!(text.contains("reading stops"), "{text}");
    let o = d.join("o.jsonl");
    let out = run(&["convert", r, "-o", o.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&o).unwrap();
    assert_eq!(lines.lines().count(), 6);
}
