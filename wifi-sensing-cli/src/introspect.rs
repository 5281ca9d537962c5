//! `run --introspect SIGNATURE_DIR [--introspect-early EARLY_DIR [--introspect-early-other
//! OTHER_DIR]]`: the introspection analyser
//! from its flags, and with `--events` too, the one event path both use ([`share_events`]).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use wifi_sensing_core::{Analyser, Analysis, CsiFrame};
use wifi_sensing_introspect::early::EarlyConfig;
use wifi_sensing_introspect::signature::SignatureLibrary;
use wifi_sensing_introspect::snapshot::{
    motion_started, IntrospectionAnalyser, IntrospectionConfig,
};
use wifi_sensing_signal::stages::Notices;
use wifi_sensing_signal::{Sensed, SensingAnalyser};

use crate::run::RunArgs;

fn load(dir: &Path) -> Result<SignatureLibrary> {
    SignatureLibrary::load_dir(dir)
        .with_context(|| format!("loading signatures from {}", dir.display()))
}

/// The analyser for `run`: the signatures of `dir`, a snapshot every `--introspect-every`
/// frames per node, early labelling with `--introspect-early` (whose stage 1 also opens on the
/// event path's `MotionStarted`, with the default event settings and `--baseline` as `--events`
/// uses them, so an episode never opens later than that event). With `own_events` false the
/// analyser does not run that event path itself: [`share_events`] then gives it the run's.
/// What it says at the end of the run (frames skipped for their subcarrier layout) goes to
/// `notices`.
pub(crate) fn analyser(
    dir: &Path,
    args: &RunArgs,
    own_events: bool,
    notices: &Notices,
) -> Result<IntrospectionAnalyser> {
    let library = load(dir)?;
    // A threshold at or below 0.5, the score of an all-zero feature stream against any
    // signature, is crossed by a still room: said (early-labelling signatures, made for
    // --introspect-early, have such thresholds).
    for sig in library.signatures() {
        // the prefix thresholds fire a match early, so a low one fires on still frames too
        let low_prefix = sig
            .prefix_thresholds
            .as_deref()
            .unwrap_or_default()
            .iter()
            .flatten()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let lowest = sig.promotion_threshold.min(low_prefix);
        if lowest <= 0.5 {
            notices.push(format!(
                "--introspect {}: signature {:?}: its {} {} is at or below 0.5, \
                 the score of an all-zero feature stream (a still room), so still frames show it \
                 above_threshold{}",
                dir.display(),
                sig.id,
                if sig.promotion_threshold <= 0.5 {
                    "promotion_threshold"
                } else {
                    "lowest prefix threshold"
                },
                lowest,
                if sig.spread.is_some() {
                    "; it has a spread, as the early-labelling signatures made for \
                     --introspect-early do"
                } else {
                    ""
                }
            ));
        }
    }
    let kind = library.feature().map(|(k, _)| k).unwrap_or_default();
    let min_frames = args.early_min_frames as usize;
    let decide_at = match args.early_decide_at {
        // the default moves up with --early-min-frames rather than contradicting it
        None => EarlyConfig::default().decide_at.max(min_frames),
        Some(d) if d != 0 && (d as usize) < min_frames => crate::usage!(
            "--early-decide-at {d} is below --early-min-frames {min_frames}: a label cannot be \
             decided before it may be committed (give 0 to never decide late, or at least \
             {min_frames})"
        ),
        Some(d) => d as usize,
    };
    let mut cfg = IntrospectionConfig {
        every: args.introspect_every,
        early: EarlyConfig {
            margin: args.early_margin,
            min_frames,
            decide_at,
            late_margin: args.early_late_margin,
            ..EarlyConfig::default()
        },
        ..IntrospectionConfig::default()
    };
    cfg.features.kind = kind;
    let mut a = IntrospectionAnalyser::new(cfg, library)?.with_notices(notices.clone());
    if let Some(stages) = args.stages.as_ref().filter(|l| !l.0.is_empty()) {
        a = a.with_stages(stages.1.clone());
    }
    Ok(match &args.introspect_early {
        Some(early) => {
            let mut a = a
                .with_early(load(early)?)
                .with_context(|| format!("early labelling with {}", early.display()))?;
            if let Some(other) = &args.introspect_early_other {
                a = a
                    .with_early_other(load(other)?)
                    .with_context(|| format!("models of other motion from {}", other.display()))?;
            }
            if !own_events {
                return Ok(a);
            }
            let baseline = args
                .baseline
                .as_ref()
                .map(wifi_sensing_signal::calibration::Baseline::load)
                .transpose()?;
            a.with_event_onset(
                wifi_sensing_signal::events::EventConfig::default(),
                baseline,
            )?
        }
        None => a,
    })
}

/// The run's event path (the `--events` analyser, with `--vitals` too if given) and what it
/// gave for the current frame, shared by the two analysers of [`share_events`].
struct Shared {
    sensing: SensingAnalyser,
    sensed: Vec<Sensed>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic while the lock was held ends the run anyway; the state is still well formed.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// `--events` with `--introspect-early`: the motion and presence detector runs once per frame
/// instead of twice (once for the events, once inside the introspection analyser for early
/// labelling's onset). The first analyser takes the place of the introspection analyser: it
/// runs the event path on the frame, gives the node's `MotionStarted` to `introspect`
/// ([`IntrospectionAnalyser::push_with_event_onset`], which must not run its own) and emits the
/// snapshot; the second takes the place of the events analyser and emits what the event path
/// gave for the frame. The records and their order are those of the two analysers run apart
/// (the event path's per-node `MotionStarted` does not depend on vital signs or fused events).
pub(crate) fn share_events(
    introspect: IntrospectionAnalyser,
    sensing: SensingAnalyser,
) -> (impl Analyser, impl Analyser) {
    let shared = Arc::new(Mutex::new(Shared {
        sensing,
        sensed: Vec::new(),
    }));
    (
        IntrospectOnEvents {
            introspect,
            shared: shared.clone(),
        },
        EventsOfIntrospection { shared },
    )
}

struct IntrospectOnEvents {
    introspect: IntrospectionAnalyser,
    shared: Arc<Mutex<Shared>>,
}

impl Analyser for IntrospectOnEvents {
    fn name(&self) -> &str {
        self.introspect.name()
    }

    fn analyse(
        &mut self,
        frame: &CsiFrame,
        out: &mut Vec<Analysis>,
    ) -> wifi_sensing_core::Result<()> {
        let started = {
            let mut g = lock(&self.shared);
            let Shared { sensing, sensed } = &mut *g;
            sensed.clear();
            // Failing here, the events analyser would have failed on this frame.
            sensing
                .push(frame, sensed)
                .map_err(|e| wifi_sensing_core::Error::Family {
                    component: wifi_sensing_signal::sensing::ANALYSER_NAME.into(),
                    source: Box::new(e),
                })?;
            motion_started(sensed, frame.node_id)
        };
        if let Some(s) = self.introspect.push_with_event_onset(frame, started)? {
            out.push(wifi_sensing_introspect::snapshot::to_analysis(s));
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        self.introspect.finish(out)
    }

    fn reset(&mut self) {
        self.introspect.reset();
    }
}

struct EventsOfIntrospection {
    shared: Arc<Mutex<Shared>>,
}

impl Analyser for EventsOfIntrospection {
    fn name(&self) -> &str {
        wifi_sensing_signal::sensing::ANALYSER_NAME
    }

    fn analyse(
        &mut self,
        _frame: &CsiFrame,
        out: &mut Vec<Analysis>,
    ) -> wifi_sensing_core::Result<()> {
        let mut g = lock(&self.shared);
        out.extend(
            g.sensed
                .drain(..)
                .map(wifi_sensing_signal::sensing::to_analysis),
        );
        Ok(())
    }

    /// The event path's end of stream (its notices of skipped frames), as the events analyser
    /// run apart gives it.
    fn finish(&mut self, out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        lock(&self.shared).sensing.finish(out)
    }

    fn reset(&mut self) {
        let mut g = lock(&self.shared);
        g.sensing.reset();
        g.sensed.clear();
    }
}
