//! A progress bar on stderr for long file work, shown only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use wifi_sensing_core::{Capture, Record};

/// Files smaller than this finish too fast for a bar to help.
const MIN_BYTES: u64 = 8 << 20;

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn new(total_bytes: Option<u64>) -> Self {
        let bar = match total_bytes {
            Some(t) if t >= MIN_BYTES && std::io::stderr().is_terminal() => {
                let b = ProgressBar::new(t);
                if let Ok(style) = ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                ) {
                    b.set_style(style);
                }
                Some(b)
            }
            _ => None,
        };
        Progress { bar }
    }

    fn set(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Records of a capture, updating the progress bar as they are read.
pub(crate) struct Tracked<'a> {
    cap: &'a mut Capture,
    bar: &'a Progress,
    n: u64,
    /// Per-node statistics of the frames read (sequence gaps), when asked for.
    nodes: Option<&'a mut wifi_sensing_core::NodeTracker>,
}

impl<'a> Tracked<'a> {
    pub(crate) fn new(cap: &'a mut Capture, bar: &'a Progress) -> Self {
        Tracked {
            cap,
            bar,
            n: 0,
            nodes: None,
        }
    }

    /// Also tallies every frame read per node in `nodes` (frames lost by sequence numbers).
    pub(crate) fn with_nodes(mut self, nodes: &'a mut wifi_sensing_core::NodeTracker) -> Self {
        self.nodes = Some(nodes);
        self
    }
}

/// Frames handed back go to the capture's reader ([`Capture::recycle`]).
impl wifi_sensing_core::Recycle for Tracked<'_> {
    fn recycle(&mut self, frame: wifi_sensing_core::CsiFrame) {
        self.cap.recycle(frame);
    }
}

impl Iterator for Tracked<'_> {
    type Item = wifi_sensing_core::Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.n += 1;
        if self.n.is_multiple_of(4096) {
            self.bar.set(self.cap.bytes_read());
        }
        let r = self.cap.next_record();
        if let (Some(t), Some(Ok(Record::Frame(f)))) = (self.nodes.as_deref_mut(), &r) {
            t.observe(f);
        }
        r
    }
}
