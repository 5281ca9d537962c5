//! What a command read and wrote, logged on stderr at the end.

use wifi_sensing_core::{ReadStats, Summary};

use crate::Log;

/// Logs what a run read and wrote: frames read, frames left after the stages, non-CSI records,
/// analyses, malformed records skipped, and the records the output received (`written`).
pub(crate) fn summary(s: &Summary, read: &ReadStats, written: u64, log: &Log) {
    // the problems first, the totals last
    for i in s.issues.iter().take(5) {
        log.warn(format_args!("skipped: {}", i.message));
    }
    if s.malformed > 5 {
        log.warn(format_args!(
            "... and {} more malformed records",
            s.malformed - 5
        ));
    }
    if let Some(t) = &s.truncated {
        log.warn(format_args!("input ends inside a record: {}", t.message));
    }
    let n = read.passed_over;
    if n > 0 && s.frames_in == 0 && s.aux_records == 0 && s.malformed == 0 {
        log.warn(format_args!(
            "no CSI found: all {n} packets/records were passed over (Nexmon CSI is looked for \
             on UDP port 5500 unless --nexmon-port says otherwise)"
        ));
    } else if n > 0 {
        log.info(format_args!("{n} packets/records without CSI passed over"));
    }
    log.info(format_args!(
        "{} frames read, {} after stages, {} non-CSI records, {} analyses, {} malformed skipped; {written} records written",
        s.frames_in, s.frames_out, s.aux_records, s.analyses, s.malformed
    ));
}
