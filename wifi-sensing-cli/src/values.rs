//! Value parsers of the command line: every user-supplied value is checked while the arguments
//! are parsed, so a bad one is a usage error (exit status 2) with the accepted values named.

use std::path::Path;

use wifi_sensing_core::formats::nexmon::NexmonChip;
use wifi_sensing_core::sim::device::DEVICE_NAMES;
use wifi_sensing_core::sim::{scenario::limits, DeviceProfile, Scenario, PRESETS};
use wifi_sensing_core::{CaptureFormat, Registry};

use crate::input::InputSpec;

/// An error of a value parser: the message clap prints after "invalid value".
type Res<T> = std::result::Result<T, String>;

/// ` (did you mean "x"?)` for the candidate nearest to `got`, when one is near enough.
pub(crate) fn did_you_mean<'a>(got: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    wifi_sensing_core::util::nearest_name(got, candidates)
        .map(|c| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

/// A finite number ≥ 0 (`--early-margin`).
pub(crate) fn non_negative(s: &str) -> Res<f64> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a finite number >= 0")),
    }
}

/// A whole number ≥ 1 (`--introspect-every`, `--limit`, `--min-prefix`, ...): clap's own range
/// check would print `0 is not in 1..18446744073709551615`.
/// A probability threshold: a finite number in 0..=1.
pub(crate) fn unit_interval(s: &str) -> Res<f64> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(_) => Err(format!("`{s}` is not in 0..=1")),
        Err(_) => Err(format!("`{s}` is not a number")),
    }
}

pub(crate) fn at_least_one(s: &str) -> Res<u64> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("{s:?} is not a whole number (at least 1)")),
    }
}

/// A value that must not be empty (`signature capture --label`, `--id`).
pub(crate) fn not_empty(s: &str) -> Res<String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_string())
    }
}

/// `signature capture --captured-at`: an RFC 3339 date-time.
pub(crate) fn rfc3339(s: &str) -> Res<String> {
    wifi_sensing_introspect::signature::check_rfc3339(s)
        .map(|()| s.to_string())
        .map_err(|e| format!("not an RFC 3339 date-time ({e}), e.g. 2026-12-05T15:00:00Z"))
}

/// `--compression`: a Parquet codec (`zstd`, `zstd:LEVEL`, `lz4`, `snappy`, `none`).
pub(crate) fn codec(s: &str) -> Res<crate::columnar::Codec> {
    s.parse()
}

/// `--format`: a format a reader is registered for (the others, such as Nexmon, which is read
/// from pcap files, cannot be forced).
pub(crate) fn format(name: &str) -> Res<CaptureFormat> {
    let reg = Registry::builtin();
    match CaptureFormat::from_name(name) {
        Some(f) if reg.get(f).is_some() => Ok(f),
        _ => {
            let names: Vec<&str> = reg.formats().iter().map(|d| d.format.name()).collect();
            let hint = if name.eq_ignore_ascii_case("nexmon") {
                " (Nexmon CSI is read from pcap files: --format pcap, or let the file be detected)"
                    .to_string()
            } else {
                did_you_mean(name, names.iter().copied())
            };
            Err(format!(
                "unknown format {name:?}{hint}; formats that can be read: {}",
                names.join(", ")
            ))
        }
    }
}

/// An input spec: a file path, `udp://HOST:PORT` (PORT 0-65535; 0 picks a free port) or `-`.
pub(crate) fn input(s: &str) -> Res<InputSpec> {
    InputSpec::parse(s).map_err(|e| e.to_string())
}

/// `--nexmon-chip`: 4339, 43455c0, 4358 or 4366c0 (a `bcm` prefix is allowed).
pub(crate) fn nexmon_chip(s: &str) -> Res<NexmonChip> {
    const CHIPS: [NexmonChip; 4] = [
        NexmonChip::Bcm4339,
        NexmonChip::Bcm43455c0,
        NexmonChip::Bcm4358,
        NexmonChip::Bcm4366c0,
    ];
    let c = s.trim_start_matches("bcm");
    CHIPS.into_iter().find(|k| k.name() == c).ok_or_else(|| {
        format!(
            "unknown Nexmon chip {s:?}{}; use 4339, 43455c0, 4358 or 4366c0",
            did_you_mean(c, CHIPS.iter().map(|k| k.name()))
        )
    })
}

/// `simulate --rate`: a frame rate in Hz the simulator accepts.
pub(crate) fn rate_hz(s: &str) -> Res<f64> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of Hz"))?;
    if !(limits::MIN_RATE_HZ..=limits::MAX_RATE_HZ).contains(&v) {
        return Err(format!(
            "rate {v} Hz is out of range ({} to {} Hz)",
            limits::MIN_RATE_HZ,
            limits::MAX_RATE_HZ
        ));
    }
    Ok(v)
}

/// `simulate --scenario`: a preset name.
pub(crate) fn scenario(s: &str) -> Res<String> {
    // only the name is checked here (a duration every preset accepts); the duration is checked
    // with the scenario when it is built
    Scenario::preset(s, 60.0)
        .map(|_| s.to_string())
        .map_err(|_| {
            format!(
                "unknown scenario {s:?}{}; presets: {} (or describe your own with --scenario-file)",
                did_you_mean(s, PRESETS),
                PRESETS.join(", ")
            )
        })
}

/// `simulate --device`: a device profile name.
pub(crate) fn device(s: &str) -> Res<String> {
    DeviceProfile::by_name(s)
        .map(|_| s.to_string())
        .map_err(|_| {
            format!(
                "unknown device {s:?}{}; use one of {}",
                did_you_mean(s, DEVICE_NAMES),
                DEVICE_NAMES.join(", ")
            )
        })
}

/// The lower-case extension of `name`, empty when it has none.
pub(crate) fn extension(name: &str) -> String {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// `convert -o`: a `.csirec`, `.jsonl` (`.json`) or `.parquet` name, `-` for stdout, or a folder
/// (`DIR/`, or an existing folder) for a Parquet dataset.
pub(crate) fn convert_output(s: &str) -> Res<String> {
    let folder = s.ends_with('/')
        || s.ends_with(std::path::MAIN_SEPARATOR)
        || std::path::Path::new(s).is_dir();
    match extension(s).as_str() {
        _ if s == "-" || folder => Ok(s.to_string()),
        "csirec" | "jsonl" | "json" | "parquet" => Ok(s.to_string()),
        _ => Err(format!(
            "cannot tell the output format of {s:?}: use a .csirec, .jsonl or .parquet name, a folder (DIR/) for a dataset, or - for stdout"
        )),
    }
}

/// `simulate -o`: `.pcap`, `.csv`, `.csirec`, `.jsonl` (`.json`) or `-` for stdout.
pub(crate) fn simulate_output(s: &str) -> Res<String> {
    match extension(s).as_str() {
        _ if s == "-" => Ok(s.to_string()),
        "pcap" | "csv" | "csirec" | "jsonl" | "json" => Ok(s.to_string()),
        _ => Err(format!(
            "cannot tell the output format of {s:?}: use .pcap (ADR-018 over UDP), .csv (ESP32-CSI-Tool), .csirec, .jsonl or -"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert!(format("nexmon").unwrap_err().contains("pcap"));
        assert!(format("intel5301")
            .unwrap_err()
            .contains("did you mean \"intel5300\""));
        assert!(format("picoscene")
            .unwrap_err()
            .contains("did you mean \"picoscenes\""));
        assert_eq!(did_you_mean("zzzzzz", ["esp32_csv", "pcap"]), "");
        assert!(nexmon_chip("bcm4366").unwrap_err().contains("4366c0"));
        assert!(scenario("breath").unwrap_err().contains("\"breathe\""));
        assert!(device("esp").unwrap_err().contains("\"esp32\""));
        assert_eq!(format("intel5300").unwrap(), CaptureFormat::Intel5300);
    }

    #[test]
    fn ranges() {
        assert!(rate_hz("0").is_err());
        assert!(rate_hz("NaN").is_err());
        assert!(rate_hz("1e9").is_err());
        assert_eq!(rate_hz("50").unwrap(), 50.0);
        assert!(convert_output("x.txt").is_err());
        assert!(convert_output("-").is_ok());
        assert!(simulate_output("x.pcap").is_ok());
        assert!(simulate_output("x").is_err());
        assert_eq!(at_least_one("0").unwrap_err(), "must be at least 1");
        assert!(at_least_one("-1").is_err());
        assert_eq!(at_least_one("3").unwrap(), 3);
        assert!(not_empty(" ").is_err());
        assert!(rfc3339("yesterday")
            .unwrap_err()
            .contains("2026-12-05T15:00:00Z"));
    }
}
