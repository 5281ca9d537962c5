//! The early-labelling figures the crate README states for the development set, pinned: the
//! protocol of the `early_detection` example (shared with it, `early_protocol`) with the shipped
//! settings (`EarlyConfig::default()`, `MotionStarted` in stage 1, the signatures made as
//! `fixtures/signatures/early/` was), on the development set (`--seed 100`: 40 activity sessions
//! with 273 onsets, 40 idle sessions). A regression of the right-label-first rate by more than
//! 3 points, or of the false label firings per hour by more than 20 %, fails.
//!
//! Ignored by default (it simulates the 96 signature sessions and the 80 sessions of the set,
//! 2.0 hours of frames: 75 s of CPU, 111 s wall in a debug build on two cores at load 5.5); CI
//! runs it (`--include-ignored`).

mod early_protocol;

use early_protocol::*;

/// Onsets of the development set.
const ONSETS: usize = 273;
/// Right label first, development set, shipped settings (two push templates, MEASUREMENTS.md,
/// templates round of 2026-12-07): 94 %.
const RIGHT_FIRST: usize = 257;
/// False label firings per hour of non-matching activity, same run.
const FALSE_PER_HOUR: f64 = 14.8;
/// Labels fired in the idle sessions, same run.
const IDLE_LABELS: usize = 1;

#[test]
#[ignore = "about 2 minutes in a debug build; CI runs it with --include-ignored"]
fn the_development_figures_of_the_shipped_settings_hold() {
    let (lib, _, _) = build_library(&SignatureOptions::default());
    let (evals, idles) = evaluation_sessions(100, 40, 40, lib.kind);
    let sc = &score_rules(&evals, &idles, &lib, &[Rule::shipped()], true, false)[0];
    let (right, n) = sc.right_first();
    let fph = sc.false_per_hour();
    eprintln!("right first {right} of {n}, false label firings {fph:.1} per hour");
    assert_eq!(n, ONSETS);
    let pct = |r: usize| 100.0 * r as f64 / n as f64;
    assert!(
        pct(right) >= pct(RIGHT_FIRST) - 3.0,
        "right label first {:.1} %, measured {:.1} %",
        pct(right),
        pct(RIGHT_FIRST)
    );
    assert!(
        fph <= FALSE_PER_HOUR * 1.2,
        "false label firings {fph:.1} per hour, measured {FALSE_PER_HOUR}"
    );
    // In the idle sessions (0.66 h of an empty room or a person standing still) one episode
    // opened and was labelled in the measured run.
    assert!(
        sc.idle_label <= IDLE_LABELS,
        "{} idle labels",
        sc.idle_label
    );
}
