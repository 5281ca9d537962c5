//! [`Notices`]: what stages have to say about a run (a stage that cannot apply, a summary of
//! replaced samples), said once, collected for the caller to print.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Keys remembered at most (so a stream of distinct problems cannot grow memory without
/// bound); later distinct notices are counted, not stored.
pub const MAX_NOTICES: usize = 1000;

#[derive(Debug, Default)]
struct Inner {
    seen: HashSet<String>,
    pending: Vec<String>,
    suppressed: u64,
}

/// A shared, clonable collector of notices. Each stage built by
/// [`StageSpec::build`](super::StageSpec::build) keeps a clone; the caller
/// [`take`](Notices::take)s the new messages whenever it likes (a CLI prints them on stderr).
///
/// ```
/// use wifi_sensing_signal::stages::Notices;
/// let n = Notices::default();
/// n.once("ratio/rx1", || "ratio: frames of node 0 have one rx chain; passed unchanged".into());
/// n.once("ratio/rx1", || unreachable!());
/// assert_eq!(n.take().len(), 1);
/// assert!(n.take().is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Notices(Arc<Mutex<Inner>>);

impl Notices {
    /// Records `msg()` the first time `key` is seen; later calls with the same key do nothing.
    pub fn once(&self, key: &str, msg: impl FnOnce() -> String) {
        let Ok(mut g) = self.0.lock() else { return };
        if g.seen.contains(key) {
            return;
        }
        if g.seen.len() >= MAX_NOTICES {
            g.suppressed += 1;
            return;
        }
        g.seen.insert(key.to_string());
        let m = msg();
        g.pending.push(m);
    }

    /// Records a message unconditionally (end-of-run summaries).
    pub fn push(&self, msg: String) {
        if let Ok(mut g) = self.0.lock() {
            if g.pending.len() < MAX_NOTICES {
                g.pending.push(msg);
            } else {
                g.suppressed += 1;
            }
        }
    }

    /// The messages recorded since the last call.
    pub fn take(&self) -> Vec<String> {
        let Ok(mut g) = self.0.lock() else {
            return Vec::new();
        };
        let mut v = std::mem::take(&mut g.pending);
        if g.suppressed > 0 {
            v.push(format!("{} further notices suppressed", g.suppressed));
            g.suppressed = 0;
        }
        v
    }
}
