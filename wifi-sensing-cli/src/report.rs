//! What a command read and wrote, logged on stderr at the end.

use anyhow::{bail, Result};
use wifi_sensing_core::reader::Issue;
use wifi_sensing_core::{CaptureFormat, ReadStats, Summary};

use crate::Log;

/// Logs what a run read and wrote: frames read, frames left after the stages, non-CSI records,
/// analyses, malformed records skipped, and the records the output received (`written`).
/// Warnings about the input name it (`input`), as `-q` hides the line that opened it;
/// `live_udp`: the input is a live `udp://` one (see [`read_problems`]).
pub(crate) fn summary(
    s: &Summary,
    read: &ReadStats,
    written: u64,
    input: &str,
    live_udp: bool,
    log: &Log,
) {
    // the problems first, the totals last
    summary_problems(s, input, live_udp, log);
    let n = read.passed_over;
    if n > 0 && s.frames_in == 0 && s.aux_records == 0 && s.malformed == 0 {
        log.warn(format_args!(
            "{input}: no CSI found: all {n} packets/records were passed over (Nexmon CSI is looked for \
             on UDP port 5500 unless --nexmon-port says otherwise)"
        ));
    } else if n > 0 {
        log.info(format_args!("{n} packets/records without CSI passed over"));
    } else if s.frames_in == 0
        && s.aux_records == 0
        && s.malformed == 0
        && s.truncated.is_none()
        && read.other_nodes == 0
    {
        // an empty file of a record-stream format opens fine: say that nothing was in it
        log.warn(format_args!(
            "{input}: no record came from the input (an empty capture, or a silent stream)"
        ));
    }
    other_nodes(read, s.frames_in, input, log);
    log.info(format_args!(
        "{} frames read, {} after stages, {} non-CSI records, {} analyses, {} malformed skipped; {written} records written",
        s.frames_in, s.frames_out, s.aux_records, s.analyses, s.malformed
    ));
}

/// Warns of the malformed records skipped (the first five, then a count; for a live `udp://`
/// input, which warned of each as it came, the total) and of a cut at the end of the input:
/// every command that reads a capture says so, as `run` does.
fn read_problems(
    issues: &[Issue],
    malformed: u64,
    truncated: Option<&Issue>,
    input: &str,
    live_udp: bool,
    log: &Log,
) {
    if live_udp {
        // a live input warned of its malformed datagrams as they came (`input::LiveWatch`):
        // the total only
        if malformed > 0 {
            log.warn(format_args!(
                "{input}: {malformed} malformed datagram{} skipped in all",
                if malformed == 1 { "" } else { "s" }
            ));
        }
        return;
    }
    for i in issues.iter().take(5) {
        log.warn(format_args!("{input}: skipped: {}", i.message));
    }
    if malformed > 5 {
        log.warn(format_args!(
            "{input}: ... and {} more malformed records",
            malformed - 5
        ));
    }
    if let Some(t) = truncated {
        log.warn(format_args!(
            "{input}: input ends inside a record: {}",
            t.message
        ));
    }
}

/// [`read_problems`] of a pipeline's run.
pub(crate) fn summary_problems(s: &Summary, input: &str, live_udp: bool, log: &Log) {
    read_problems(
        &s.issues,
        s.malformed,
        s.truncated.as_ref(),
        input,
        live_udp,
        log,
    );
}

/// [`read_problems`] of a capture read without a pipeline.
pub(crate) fn stats_problems(s: &ReadStats, input: &str, live_udp: bool, log: &Log) {
    read_problems(
        &s.issues,
        s.malformed,
        s.truncated.as_ref(),
        input,
        live_udp,
        log,
    );
}

/// What [`strict_cut`] says of a cut input's complete records when they went to the output.
pub(crate) const WRITTEN_BEFORE_CUT: &str = "the complete records before it were written";

/// With `--strict`, an input that ends inside a record is an error too (exit status 1);
/// `outcome` says what became of its complete records.
pub(crate) fn strict_cut(s: &Summary, strict: bool, outcome: &str) -> Result<()> {
    match &s.truncated {
        Some(t) if strict => bail!(
            "--strict: the input ends inside a record ({}); {outcome}",
            t.message
        ),
        _ => Ok(()),
    }
}

/// Fails when nothing at all could be decoded from the input although it held something: every
/// record was malformed, or the input ended inside its first record (a file forced into the
/// wrong format, a damaged file). The error gives the first reason. An input without any record
/// (an empty stream, or a container whose packets carry no CSI) is not this error.
/// `forced`: the format was named with `--format` (the message then suggests another).
pub(crate) fn ensure_decoded(
    read: &ReadStats,
    input: &str,
    format: CaptureFormat,
    forced: bool,
) -> Result<()> {
    // records left out by --keep-nodes were decoded too
    if read.frames > 0 || read.aux_records > 0 || read.other_nodes > 0 {
        return Ok(());
    }
    let reason = read
        .issues
        .first()
        .or(read.truncated.as_ref())
        .or(read.fatal.as_ref());
    match reason {
        Some(r) if read.malformed > 0 || read.truncated.is_some() => {
            let hint = if forced {
                format!(" (is --format {format} right? without it the format is detected)")
            } else {
                String::new()
            };
            bail!("nothing could be decoded from {input}: {}{hint}", r.message)
        }
        _ => Ok(()),
    }
}

/// What `--keep-nodes` left out: an info line, or a warning when nothing of the nodes kept was
/// in the input (named `input`).
pub(crate) fn other_nodes(read: &ReadStats, frames_kept: u64, input: &str, log: &Log) {
    if read.other_nodes == 0 {
        return;
    }
    let ids = id_list(&read.other_node_ids);
    if frames_kept == 0 {
        log.warn(format_args!(
            "{input}: no frame of the nodes --keep-nodes keeps is in the input; its other nodes: {ids} \
             ({} records left out)",
            read.other_nodes
        ));
    } else {
        log.info(format_args!(
            "{} records of other nodes ({ids}) left out (--keep-nodes)",
            read.other_nodes
        ));
    }
}

/// Node ids as `0, 1, 5`.
pub(crate) fn id_list(ids: &[u32]) -> String {
    ids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// At the end of a live run: the node ids whose frames came from more than one sender
/// address (warnings, shown under `-q`; the live input warned as it happened), leaving out
/// the nodes `--keep-nodes` left out.
pub(crate) fn shared_senders(
    udp: Option<&std::sync::Mutex<wifi_sensing_core::udp::UdpStats>>,
    keep: Option<&[u32]>,
    input: &str,
    log: &Log,
) {
    let Some(u) = udp else {
        return;
    };
    let st = u.lock().unwrap_or_else(|p| p.into_inner());
    for (node, addrs) in &st.shared_node_ids {
        if crate::input::kept(keep, *node) {
            log.warn(format_args!(
                "{input}: frames of node {node} came from {} senders ({}): its frame and \
                 missing-frame counts mix their streams and sequence numbers",
                addrs.len(),
                addrs.join(", ")
            ));
        }
    }
}

/// Says how many frames each node's sequence numbers show missing (`inspect` counts them too):
/// a warning on a live input, where they are frames the network or the receiver lost, else an
/// info line. Nothing when no node lost any (or none carries sequence numbers).
pub(crate) fn frames_lost(
    nodes: &wifi_sensing_core::NodeTracker,
    input: &str,
    live: bool,
    log: &Log,
) {
    let lost: Vec<String> = nodes
        .nodes()
        .iter()
        .filter(|(_, n)| n.dropped > 0)
        .map(|(id, n)| {
            let expected = n.frames + n.dropped;
            format!(
                "node {id}: {} of {expected} ({:.1} %)",
                n.dropped,
                100.0 * n.dropped as f64 / expected as f64
            )
        })
        .collect();
    if lost.is_empty() {
        return;
    }
    let msg = format!(
        "{input}: frames missing by their sequence numbers: {}",
        lost.join(", ")
    );
    if live {
        log.warn(format_args!(
            "{msg} (lost on the way or by a receiver that could not keep up)"
        ));
    } else {
        log.info(format_args!("{msg}"));
    }
}
