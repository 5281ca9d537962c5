//! `run --introspect SIGNATURE_DIR`: the introspection analyser from its flags.

use std::path::Path;

use anyhow::{Context, Result};
use wifi_sensing_introspect::signature::SignatureLibrary;
use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};

/// The analyser for `run`: the signatures of `dir`, a snapshot every `every` frames per node.
pub(crate) fn analyser(dir: &Path, every: u64) -> Result<IntrospectionAnalyser> {
    let library = SignatureLibrary::load_dir(dir)
        .with_context(|| format!("loading signatures from {}", dir.display()))?;
    let kind = library.feature().map(|(k, _)| k).unwrap_or_default();
    let mut cfg = IntrospectionConfig {
        every,
        ..IntrospectionConfig::default()
    };
    cfg.features.kind = kind;
    Ok(IntrospectionAnalyser::new(cfg, library)?)
}
