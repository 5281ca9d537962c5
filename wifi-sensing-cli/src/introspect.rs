//! `run --introspect SIGNATURE_DIR [--introspect-early EARLY_DIR [--introspect-early-other
//! OTHER_DIR]]`: the introspection analyser
//! from its flags.

use std::path::Path;

use anyhow::{Context, Result};
use wifi_sensing_introspect::early::EarlyConfig;
use wifi_sensing_introspect::signature::SignatureLibrary;
use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};

use crate::run::RunArgs;

fn load(dir: &Path) -> Result<SignatureLibrary> {
    SignatureLibrary::load_dir(dir)
        .with_context(|| format!("loading signatures from {}", dir.display()))
}

/// The analyser for `run`: the signatures of `dir`, a snapshot every `--introspect-every`
/// frames per node, early labelling with `--introspect-early` (whose stage 1 also opens on the
/// event path's `MotionStarted`, with the default event settings and `--baseline` as `--events`
/// uses them, so an episode never opens later than that event).
pub(crate) fn analyser(dir: &Path, args: &RunArgs) -> Result<IntrospectionAnalyser> {
    let library = load(dir)?;
    let kind = library.feature().map(|(k, _)| k).unwrap_or_default();
    let mut cfg = IntrospectionConfig {
        every: args.introspect_every,
        early: EarlyConfig {
            margin: args.early_margin,
            min_frames: args.early_min_frames as usize,
            decide_at: args.early_decide_at as usize,
            late_margin: args.early_late_margin,
            ..EarlyConfig::default()
        },
        ..IntrospectionConfig::default()
    };
    cfg.features.kind = kind;
    let a = IntrospectionAnalyser::new(cfg, library)?;
    Ok(match &args.introspect_early {
        Some(early) => {
            let baseline = args
                .baseline
                .as_ref()
                .map(wifi_sensing_signal::calibration::Baseline::load)
                .transpose()?;
            let mut a = a
                .with_early(load(early)?)
                .with_context(|| format!("early labelling with {}", early.display()))?;
            if let Some(other) = &args.introspect_early_other {
                a = a
                    .with_early_other(load(other)?)
                    .with_context(|| format!("models of other motion from {}", other.display()))?;
            }
            a.with_event_onset(
                wifi_sensing_signal::events::EventConfig::default(),
                baseline,
            )?
        }
        None => a,
    })
}
