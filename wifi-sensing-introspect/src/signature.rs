//! Signature files (ADR-099 D7), their validating loader, a library directory, and the
//! data-derived promotion thresholds.
//!
//! # File format
//!
//! One JSON object per file:
//!
//! ```json
//! {
//!   "id": "wave-01",
//!   "label": "wave",
//!   "captured_at": "2026-12-05T15:00:00Z",
//!   "feature_kind": "amp_baseline_v1",
//!   "length": 3,
//!   "dtw": {"window": 8, "step_pattern": "symmetric1"},
//!   "vectors": [[0.01, -0.02], [0.05, 0.00], [0.02, 0.04]],
//!   "promotion_threshold": 0.62,
//!   "prefix_thresholds": [null, 0.71, 0.62],
//!   "min_prefix": 2,
//!   "provenance": {"input": "wave.csirec", "start_s": 2.0, "duration_s": 1.0, "node_id": 0,
//!                  "background_frames": 5800, "margin": 0.5, "rule": "..."}
//! }
//! ```
//!
//! `id`, `label`, `captured_at`, `feature_kind`, `length`, `dtw`, `vectors` and
//! `promotion_threshold` are required (ADR-099 D7); `prefix_thresholds`, `min_prefix`,
//! `provenance` and `spread` are optional extensions this crate writes. `captured_at` is an
//! RFC 3339 date-time ([`check_rfc3339`]). `vectors` holds `length` frames of the same
//! dimension, all finite; `spread`, when present, has the shape of `vectors`
//! and holds, for a signature averaged over several sessions, the standard deviation of each
//! value over them (finite, ≥ 0; early labelling weighs differences by it, see
//! [`crate::early`]); `promotion_threshold` and every prefix threshold are scores in
//! `(0, 1]` (see [`crate::dtw::spring`] for the score). `dtw.window` (frames, optional) and
//! `dtw.step_pattern` apply to batch comparisons ([`Signature::distance_to`]); the streaming
//! matcher is SPRING, which is symmetric1 without a band, and refuses other step patterns.
//! Unknown fields are refused (a typo must not pass silently). Every error names the file and
//! the field.
//!
//! # Data-derived thresholds
//!
//! [`derive_thresholds`] sets, for every prefix length `k`, the threshold from *non-matching*
//! data (the background): the matcher runs over the background and records the lowest cost
//! `c_k` that any background stretch reached for the prefix of `k` frames. The threshold cost is
//! `margin · c_k` (default margin 0.5: a match must be twice as close as anything seen in the
//! background), turned into a score like every match: `1 / (1 + margin · c_k / (k · dim · σ²))`
//! with `σ²` the signature's mean squared value. For the whole signature `k · dim · σ²` is its
//! cost against an all-zero feature stream, and with `amp_baseline_v1` (and
//! `amp_dev_sorted_v1`) a still scene is such a stream (every input's first frame exactly: its
//! baseline is itself). A SPRING match may align the whole signature with one background frame,
//! so with those kinds the whole signature's `c_k` never passes that cost and
//! `promotion_threshold` is at least `1 / (1 + margin)` (0.6667 at the default margin): exactly
//! that whenever nothing in the background came closer to the signature than stillness, higher
//! only when something did. The background raises the threshold above that floor; it cannot
//! lower it. On the background itself this fires never, by
//! construction; on fresh non-matching data the false-alarm rate depends on how well the
//! background represents it, which is why the capture command takes extra background inputs
//! and the crate README reports the rate measured on data not used for the thresholds.
//! Prefixes shorter than `min_prefix` frames (default 2) never fire. `promotion_threshold` is
//! the threshold of the whole signature.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::dtw::{Band, Dtw, DtwOptions, Series, SpringMatcher, StepPattern};
use crate::error::{Error, Result};
use crate::features::{FeatureKind, MAX_DIM};

/// Longest signature accepted, in frames.
pub const MAX_LENGTH: usize = 100_000;
/// Largest signature file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Most signatures in one library.
pub const MAX_SIGNATURES: usize = 1024;

/// DTW settings recorded with a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtwSettings {
    /// Sakoe–Chiba radius in frames for batch comparisons (`None`: unconstrained).
    pub window: Option<usize>,
    /// Step pattern for batch comparisons.
    pub step_pattern: StepPattern,
}

impl Default for DtwSettings {
    fn default() -> Self {
        DtwSettings {
            window: None,
            step_pattern: StepPattern::Symmetric1,
        }
    }
}

/// Where a captured signature came from and how its thresholds were set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Provenance {
    /// Input the signature was cut from.
    pub input: Option<String>,
    /// Start of the cut, seconds from the first frame of the input.
    pub start_s: Option<f64>,
    /// Length of the cut, seconds: what the input covered of the length asked for (shorter
    /// when the input ended inside the cut).
    pub duration_s: Option<f64>,
    /// Node the frames came from.
    pub node_id: Option<u32>,
    /// Background frames the thresholds were derived from.
    pub background_frames: Option<u64>,
    /// Margin of the threshold rule.
    pub margin: Option<f64>,
    /// The threshold rule in words.
    pub rule: Option<String>,
}

/// A labelled feature sequence to look for in the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Unique id.
    pub id: String,
    /// Label reported on a match (`walk`, `wave`, ...).
    pub label: String,
    /// When it was captured (RFC 3339 text, kept as written).
    pub captured_at: String,
    /// Feature definition of `vectors`.
    pub feature_kind: FeatureKind,
    /// Frames in `vectors`.
    pub length: usize,
    /// DTW settings for batch comparisons.
    pub dtw: DtwSettings,
    /// The feature vectors, `length` frames of equal dimension.
    pub vectors: Vec<Vec<f64>>,
    /// Promotion threshold of the whole signature, a score in `(0, 1]`.
    pub promotion_threshold: f64,
    /// Threshold per prefix length (index `k − 1`; `null` disables that length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_thresholds: Option<Vec<Option<f64>>>,
    /// Shortest prefix, in frames, that may fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_prefix: Option<usize>,
    /// Where it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Per value of `vectors`, its standard deviation over the sessions the signature was
    /// averaged from (same shape as `vectors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Vec<Vec<f64>>>,
}

const FIELDS: [&str; 12] = [
    "id",
    "label",
    "captured_at",
    "feature_kind",
    "length",
    "dtw",
    "vectors",
    "promotion_threshold",
    "prefix_thresholds",
    "min_prefix",
    "provenance",
    "spread",
];

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Signature {
            file: self.file.to_string(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn string(&self, o: &Map<String, Value>, f: &str) -> Result<String> {
        match o.get(f) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(self.err(f, "must not be empty")),
            Some(v) => Err(self.err(f, format!("must be a string, not {}", kind(v)))),
            None => Err(self.err(f, "missing")),
        }
    }

    fn count(&self, v: Option<&Value>, f: &str) -> Result<usize> {
        match v {
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|u| u as usize)
                .ok_or_else(|| self.err(f, format!("must be a non-negative integer (got {n})"))),
            Some(v) => Err(self.err(f, format!("must be an integer, not {}", kind(v)))),
            None => Err(self.err(f, "missing")),
        }
    }

    fn score(&self, v: &Value, f: &str) -> Result<f64> {
        let x = match v {
            Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            Value::String(s) => {
                return Err(self.err(f, format!("must be a number, not the string {s:?}")))
            }
            v => return Err(self.err(f, format!("must be a number, not {}", kind(v)))),
        };
        if !(x > 0.0 && x <= 1.0) {
            return Err(self.err(f, format!("a score threshold must be in (0, 1] (got {x})")));
        }
        Ok(x)
    }

    /// A `length` × dim array of finite numbers (`dim`: that of `vectors[0]` when given).
    fn matrix(
        &self,
        value: &Value,
        field: &str,
        length: usize,
        want_dim: Option<usize>,
    ) -> Result<Vec<Vec<f64>>> {
        let cx = self;
        let rows = match value {
            Value::Array(a) => a,
            v => return Err(cx.err(field, format!("must be an array, not {}", kind(v)))),
        };
        if rows.len() != length {
            return Err(cx.err(
                field,
                format!("holds {} frames but length is {length}", rows.len()),
            ));
        }
        let mut vectors = Vec::with_capacity(length);
        let mut dim = want_dim;
        for (i, row) in rows.iter().enumerate() {
            let row = row.as_array().ok_or_else(|| {
                cx.err(
                    format!("{field}[{i}]"),
                    format!("must be an array, not {}", kind(row)),
                )
            })?;
            let d = *dim.get_or_insert(row.len());
            if row.is_empty() || row.len() > MAX_DIM {
                return Err(cx.err(
                    format!("{field}[{i}]"),
                    format!("needs 1..={MAX_DIM} values (got {})", row.len()),
                ));
            }
            if row.len() != d {
                return Err(cx.err(
                    format!("{field}[{i}]"),
                    format!("has {} values, vectors[0] has {d}", row.len()),
                ));
            }
            let mut v = Vec::with_capacity(d);
            for (j, x) in row.iter().enumerate() {
                let f = format!("{field}[{i}][{j}]");
                let x = match x {
                    Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                    Value::String(s) => {
                        return Err(
                            cx.err(f, format!("must be a finite number, not the string {s:?}"))
                        )
                    }
                    v => return Err(cx.err(f, format!("must be a number, not {}", kind(v)))),
                };
                if !x.is_finite() {
                    return Err(cx.err(f, format!("must be finite (got {x})")));
                }
                v.push(x);
            }
            vectors.push(v);
        }
        Ok(vectors)
    }
}

/// Checks that `s` is an RFC 3339 date-time (`2026-12-05T15:00:00Z`,
/// `2026-12-05T16:00:00.5+01:00`): a real calendar date, a time of day (second 60 for a leap
/// second), and `Z` or a `±HH:MM` offset (parsed by `chrono`). The error says what is wrong.
///
/// ```
/// use wifi_sensing_introspect::signature::check_rfc3339;
/// assert!(check_rfc3339("2026-12-05T15:00:00Z").is_ok());
/// assert!(check_rfc3339("2024-02-29t23:59:60.25-05:30").is_ok());
/// assert!(check_rfc3339("yesterday").is_err());
/// assert!(check_rfc3339("2026-13-45T99:00:00Z").is_err());
/// ```
pub fn check_rfc3339(s: &str) -> std::result::Result<(), String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|_| ())
        .map_err(|e| {
            format!("{e}: expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or +HH:MM/-HH:MM")
        })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Signature {
    /// Parses and validates a signature; `file` names the source in errors.
    ///
    /// ```
    /// use wifi_sensing_introspect::signature::Signature;
    /// let text = r#"{"id": "s1", "label": "wave", "captured_at": "2026-12-05T15:00:00Z",
    ///   "feature_kind": "amp_baseline_v1", "length": 2,
    ///   "dtw": {"window": null, "step_pattern": "symmetric1"},
    ///   "vectors": [[0.1, 0.2], [0.3, 0.4]], "promotion_threshold": 0.8}"#;
    /// let s = Signature::from_json_str(text, "s1.json")?;
    /// assert_eq!((s.length, s.dim()), (2, 2));
    /// let bad = text.replace("[0.3, 0.4]", "[0.3]");
    /// let e = Signature::from_json_str(&bad, "s1.json").unwrap_err().to_string();
    /// assert!(e.contains("s1.json") && e.contains("vectors[1]"), "{e}");
    /// # Ok::<(), wifi_sensing_introspect::Error>(())
    /// ```
    pub fn from_json_str(text: &str, file: &str) -> Result<Self> {
        let cx = Ctx { file };
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| cx.err("(document)", format!("not valid JSON: {e}")))?;
        let o = doc.as_object().ok_or_else(|| {
            cx.err(
                "(document)",
                format!("must be an object, not {}", kind(&doc)),
            )
        })?;
        if let Some(k) = o.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(cx.err(
                k.as_str(),
                format!("unknown field (known: {})", FIELDS.join(", ")),
            ));
        }
        let id = cx.string(o, "id")?;
        let label = cx.string(o, "label")?;
        let captured_at = cx.string(o, "captured_at")?;
        check_rfc3339(&captured_at).map_err(|e| {
            cx.err(
                "captured_at",
                format!("{captured_at:?} is not an RFC 3339 date-time: {e}"),
            )
        })?;
        let feature_kind: FeatureKind = cx
            .string(o, "feature_kind")?
            .parse()
            .map_err(|e: Error| cx.err("feature_kind", e.to_string()))?;
        let length = cx.count(o.get("length"), "length")?;
        if length == 0 || length > MAX_LENGTH {
            return Err(cx.err(
                "length",
                format!("must be in 1..={MAX_LENGTH} (got {length})"),
            ));
        }
        let dtw = match o.get("dtw") {
            Some(Value::Object(d)) => {
                if let Some(k) = d.keys().find(|k| *k != "window" && *k != "step_pattern") {
                    return Err(cx.err(format!("dtw.{k}"), "unknown field (window, step_pattern)"));
                }
                let window = match d.get("window") {
                    None | Some(Value::Null) => None,
                    v => Some(cx.count(v, "dtw.window")?),
                };
                let step_pattern = cx
                    .string(d, "step_pattern")
                    .map_err(|_| cx.err("dtw.step_pattern", "missing or not a string"))?
                    .parse()
                    .map_err(|e: Error| cx.err("dtw.step_pattern", e.to_string()))?;
                DtwSettings {
                    window,
                    step_pattern,
                }
            }
            Some(v) => return Err(cx.err("dtw", format!("must be an object, not {}", kind(v)))),
            None => return Err(cx.err("dtw", "missing")),
        };
        let vectors = match o.get("vectors") {
            Some(v) => cx.matrix(v, "vectors", length, None)?,
            None => return Err(cx.err("vectors", "missing")),
        };
        if let Some(d) = feature_kind.fixed_dim().filter(|&d| d != vectors[0].len()) {
            return Err(cx.err(
                "vectors",
                format!(
                    "{} values per frame, but feature kind {feature_kind} has {d}: feature_kind \
                     does not fit the vectors (vectors of another kind?)",
                    vectors[0].len()
                ),
            ));
        }
        let spread = match o.get("spread") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let m = cx.matrix(v, "spread", length, Some(vectors[0].len()))?;
                if let Some((i, j)) = m
                    .iter()
                    .enumerate()
                    .find_map(|(i, r)| r.iter().position(|x| *x < 0.0).map(|j| (i, j)))
                {
                    return Err(cx.err(
                        format!("spread[{i}][{j}]"),
                        format!("must be ≥ 0 (got {})", m[i][j]),
                    ));
                }
                Some(m)
            }
        };
        // scores are normalised by the vectors' mean square: it must be a positive number
        {
            let n = vectors.iter().map(Vec::len).sum::<usize>().max(1) as f64;
            let s2 = vectors.iter().flatten().map(|v| v * v).sum::<f64>() / n;
            if !s2.is_finite() {
                return Err(cx.err(
                    "vectors",
                    "values too large: their mean square overflows, so no score can be computed",
                ));
            }
            if s2 < 1e-12 {
                return Err(cx.err(
                    "vectors",
                    "every value is (about) zero: a signature of nothing scores nothing (a still \
                     scene's features are zero for most kinds; cut a stretch with activity)",
                ));
            }
        }
        let promotion_threshold = match o.get("promotion_threshold") {
            Some(v) => cx.score(v, "promotion_threshold")?,
            None => return Err(cx.err("promotion_threshold", "missing")),
        };
        let prefix_thresholds = match o.get("prefix_thresholds") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => {
                if a.len() != length {
                    return Err(cx.err(
                        "prefix_thresholds",
                        format!("holds {} values but length is {length}", a.len()),
                    ));
                }
                let mut t = Vec::with_capacity(length);
                for (k, v) in a.iter().enumerate() {
                    t.push(match v {
                        Value::Null => None,
                        v => Some(cx.score(v, &format!("prefix_thresholds[{k}]"))?),
                    });
                }
                Some(t)
            }
            Some(v) => {
                return Err(cx.err(
                    "prefix_thresholds",
                    format!("must be an array, not {}", kind(v)),
                ))
            }
        };
        let min_prefix = match o.get("min_prefix") {
            None | Some(Value::Null) => None,
            v => {
                let m = cx.count(v, "min_prefix")?;
                if m == 0 || m > length {
                    return Err(cx.err("min_prefix", format!("must be in 1..={length} (got {m})")));
                }
                Some(m)
            }
        };
        let provenance = match o.get("provenance") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                serde_json::from_value(v.clone())
                    .map_err(|e| cx.err("provenance", e.to_string()))?,
            ),
        };
        Ok(Signature {
            id,
            label,
            captured_at,
            feature_kind,
            length,
            dtw,
            vectors,
            promotion_threshold,
            prefix_thresholds,
            min_prefix,
            provenance,
            spread,
        })
    }

    /// Reads and validates a signature file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |source| Error::Io {
            path: name.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(Error::Signature {
                file: name,
                field: "(document)".into(),
                reason: format!(
                    "file of {} bytes exceeds the {MAX_FILE_BYTES}-byte limit",
                    meta.len()
                ),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_json_str(&text, &name)
    }

    /// The signature as pretty JSON (what [`load`](Self::load) reads back).
    pub fn to_json_pretty(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.vectors.first().map_or(0, Vec::len)
    }

    /// The vectors row-major in one buffer.
    pub fn flat(&self) -> Vec<f64> {
        self.vectors.iter().flatten().copied().collect()
    }

    /// Score scale `σ²`: the mean squared value of the signature's features (floored at 1e-12).
    pub fn scale(&self) -> f64 {
        let n = (self.length * self.dim()).max(1) as f64;
        (self.vectors.iter().flatten().map(|v| v * v).sum::<f64>() / n).max(1e-12)
    }

    /// Per-prefix thresholds in effect: `prefix_thresholds` when present, else
    /// `promotion_threshold` for the whole signature only.
    pub fn thresholds(&self) -> Vec<Option<f64>> {
        match &self.prefix_thresholds {
            Some(t) => t.clone(),
            None => {
                let mut t = vec![None; self.length];
                t[self.length - 1] = Some(self.promotion_threshold);
                t
            }
        }
    }

    /// Refuses this signature for a reader of `kind` features with `dim` values per frame
    /// (`None`: any dimension); `reader` names the reader in the error (`"the stream"`).
    pub fn check_feature(&self, kind: FeatureKind, dim: Option<usize>, reader: &str) -> Result<()> {
        self.check_feature_after(kind, dim, reader, None)
    }

    /// [`check_feature`](Self::check_feature) for a reader that reads the frames after
    /// `stages` (their names as given, e.g. `select:top=10`; `None`: the frames as read): a
    /// dimension that differs is then put down to the stages.
    pub fn check_feature_after(
        &self,
        kind: FeatureKind,
        dim: Option<usize>,
        reader: &str,
        stages: Option<&str>,
    ) -> Result<()> {
        let n = self.dim();
        let reason = if self.feature_kind != kind {
            format!(
                "captured with feature kind {}, {reader} reads {kind}",
                self.feature_kind
            )
        } else if let Some(fixed) = kind.fixed_dim().filter(|&f| f != n) {
            format!(
                "{n} dimensions, but feature kind {kind} has {fixed} values per frame whatever \
                 the input: the signature's feature_kind does not fit its vectors (vectors of \
                 another kind?)"
            )
        } else if let Some(d) = dim.filter(|&d| d != n) {
            let from = self
                .provenance
                .as_ref()
                .and_then(|p| p.input.as_deref())
                .map(|i| format!(" (it was cut from `{i}`)"))
                .unwrap_or_default();
            match stages {
                Some(stages) => format!(
                    "{n} dimensions of {kind}, {reader} reads {d} after the stages `{stages}`: \
                     the stages change what the stream reads (`select` keeps some of the \
                     subcarriers), and a signature matches only input read as the capture it was \
                     cut from{from}; run without these stages, or cut the \
                     signatures from input passed through the same stages"
                ),
                None => format!(
                    "{n} dimensions of {kind}, {reader} reads {d}: the dimension follows the \
                     device and subcarrier layout of the capture a signature was cut from{from}, \
                     so signatures match only input of that layout; cut new ones from input like \
                     this one"
                ),
            }
        } else {
            return Ok(());
        };
        Err(Error::Mismatch {
            signature: self.id.clone(),
            reason,
        })
    }

    /// A streaming matcher for this signature with its scale and thresholds.
    pub fn matcher(&self) -> Result<SpringMatcher<f32>> {
        if self.dtw.step_pattern != StepPattern::Symmetric1 {
            return Err(Error::Mismatch {
                signature: self.id.clone(),
                reason: format!(
                    "the streaming matcher (SPRING) runs symmetric1; this signature asks for {}",
                    self.dtw.step_pattern.name()
                ),
            });
        }
        let mut m = SpringMatcher::new(&self.flat(), self.dim())?;
        m.set_scale(self.scale())?;
        let min_prefix = self
            .min_prefix
            .unwrap_or(if self.prefix_thresholds.is_some() {
                2.min(self.length)
            } else {
                self.length
            });
        m.set_thresholds(&self.thresholds(), min_prefix)?;
        Ok(m)
    }

    /// Batch DTW distance between the signature and `series` (same dimension) with the
    /// signature's step pattern and window (squared Euclidean cost).
    pub fn distance_to(&self, series: Series<'_>) -> Result<f64> {
        let flat = self.flat();
        let band = self
            .dtw
            .window
            .map_or(Band::Full, |radius| Band::SakoeChibaWidened { radius });
        let opts = DtwOptions {
            step: self.dtw.step_pattern,
            band,
            ..DtwOptions::default()
        };
        Ok(Dtw::new(opts)?
            .distance(Series::new(&flat, self.dim())?, series)?
            .distance)
    }
}

/// The signatures of a directory, checked against each other.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignatureLibrary {
    signatures: Vec<Signature>,
    files: Vec<PathBuf>,
}

impl SignatureLibrary {
    /// Loads every `*.json` file of `dir` (sorted by name; other files are ignored). Fails on
    /// the first bad file (naming it), on a duplicate id, on signatures of different feature
    /// kinds or dimensions, and on a directory without signatures.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let io = |source| Error::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::Signature {
                file: dir.display().to_string(),
                field: "(directory)".into(),
                reason: "no *.json signature files".into(),
            });
        }
        if files.len() > MAX_SIGNATURES {
            return Err(Error::Signature {
                file: dir.display().to_string(),
                field: "(directory)".into(),
                reason: format!("{} signature files (at most {MAX_SIGNATURES})", files.len()),
            });
        }
        let signatures = files
            .iter()
            .map(Signature::load)
            .collect::<Result<Vec<_>>>()?;
        Self::from_signatures(signatures, files)
    }

    /// A library from signatures already loaded (`files` may be empty).
    pub fn from_signatures(signatures: Vec<Signature>, files: Vec<PathBuf>) -> Result<Self> {
        for (i, s) in signatures.iter().enumerate() {
            let file = files
                .get(i)
                .map_or_else(|| s.id.clone(), |f| f.display().to_string());
            if let Some((j, p)) = signatures[..i]
                .iter()
                .enumerate()
                .find(|(_, p)| p.id == s.id)
            {
                let earlier = files.get(j).map_or_else(
                    || "an earlier file".to_string(),
                    |f| f.display().to_string(),
                );
                return Err(Error::Signature {
                    file,
                    field: "id".into(),
                    reason: format!(
                        "duplicate id {:?} (also in {earlier}); ids must be unique in a library: \
                         `signature capture` takes the id from the label unless given `--id`",
                        p.id
                    ),
                });
            }
            let first = &signatures[0];
            if s.feature_kind != first.feature_kind || s.dim() != first.dim() {
                return Err(Error::Signature {
                    file,
                    field: "feature_kind".into(),
                    reason: format!(
                        "{} with {} dimensions, but {} is {} with {}",
                        s.feature_kind,
                        s.dim(),
                        first.id,
                        first.feature_kind,
                        first.dim()
                    ),
                });
            }
        }
        Ok(SignatureLibrary { signatures, files })
    }

    /// The signatures, in file-name order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The files they came from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Feature kind and dimension of the library (`None` when empty).
    pub fn feature(&self) -> Option<(FeatureKind, usize)> {
        self.signatures.first().map(|s| (s.feature_kind, s.dim()))
    }

    /// Refuses a stream whose feature kind or dimension differs from the signatures'.
    pub fn check_stream(&self, kind: FeatureKind, dim: usize) -> Result<()> {
        self.check_stream_after(kind, dim, None)
    }

    /// [`check_stream`](Self::check_stream) for a stream of the frames after `stages` (see
    /// [`Signature::check_feature_after`]).
    pub fn check_stream_after(
        &self,
        kind: FeatureKind,
        dim: usize,
        stages: Option<&str>,
    ) -> Result<()> {
        self.signatures
            .iter()
            .try_for_each(|s| s.check_feature_after(kind, Some(dim), "the stream", stages))
    }
}

/// How [`derive_thresholds`] works (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdRule {
    /// Threshold cost as a fraction of the lowest background cost, in `(0, 1]`.
    pub margin: f64,
    /// Shortest prefix that may fire, frames.
    pub min_prefix: usize,
}

impl Default for ThresholdRule {
    fn default() -> Self {
        ThresholdRule {
            margin: 0.5,
            min_prefix: 2,
        }
    }
}

impl ThresholdRule {
    /// The rule in words, for provenance.
    pub fn describe(&self) -> String {
        format!(
            "per prefix length k >= {}: threshold score = 1 / (1 + {} x c_k / (k x dim x s2)), c_k the lowest SPRING cost of the k-frame prefix over the background frames, k x dim x s2 the score's scale (s2: the signature's mean squared value; for the whole signature, its cost against an all-zero feature stream)",
            self.min_prefix, self.margin
        )
    }
}

/// Derived thresholds.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Score threshold per prefix length (index `k − 1`).
    pub prefix: Vec<Option<f64>>,
    /// Threshold of the whole signature.
    pub promotion: f64,
    /// Shortest prefix that may fire.
    pub min_prefix: usize,
    /// Background frames used.
    pub background_frames: u64,
}

/// Sets the thresholds of `sig` (its vectors, dimension and scale) from background segments
/// (each a run of consecutive feature frames; the matcher restarts between segments). Fails
/// when there is no background frame or a frame has the wrong dimension.
pub fn derive_thresholds(
    sig: &Signature,
    background: &[Vec<Vec<f32>>],
    rule: ThresholdRule,
) -> Result<Thresholds> {
    if !(rule.margin > 0.0 && rule.margin <= 1.0) {
        return Err(Error::config(
            "margin",
            format!("must be in (0, 1] (got {})", rule.margin),
        ));
    }
    let len = sig.length;
    let min_prefix = rule.min_prefix.clamp(1, len);
    let mut m = SpringMatcher::<f32>::new(&sig.flat(), sig.dim())?;
    let scale = sig.scale();
    let mut low = vec![f64::INFINITY; len];
    let mut frames = 0u64;
    for seg in background {
        m.reset();
        for x in seg {
            m.push(x)?;
            for (l, c) in low.iter_mut().zip(m.prefix_costs()) {
                *l = l.min(*c as f64);
            }
            frames += 1;
        }
    }
    if frames == 0 {
        return Err(Error::InvalidInput(
            "no background frames to derive thresholds from (the frames near the cut are left \
             out; give a longer input or a --background capture)"
                .into(),
        ));
    }
    // Fewer background frames than the signature is long cannot show how close other activity
    // comes to the whole of it: the lowest cost is then of a squeezed alignment, and the
    // thresholds fall below what a still stream scores (they would fire on every frame).
    if frames < len as u64 {
        return Err(Error::InvalidInput(format!(
            "{frames} background frame{} to derive thresholds from, fewer than the signature's \
             {len} frames: a background must be at least as long as the signature (give a longer \
             input around the cut, or a --background capture of other activity)",
            if frames == 1 { "" } else { "s" }
        )));
    }
    let prefix: Vec<Option<f64>> = low
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let k = i + 1;
            if k < min_prefix {
                return None;
            }
            let cost = rule.margin * c;
            // A background that matches (almost) exactly leaves nothing to separate.
            let rel = cost / ((k * sig.dim()) as f64 * scale);
            if rel.is_nan() || rel <= 1e-6 {
                return None;
            }
            Some(1.0 / (1.0 + rel))
        })
        .collect();
    let promotion = prefix[len - 1].unwrap_or(1.0);
    Ok(Thresholds {
        prefix,
        promotion,
        min_prefix,
        background_frames: frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id": "s1", "label": "wave", "captured_at": "2026-12-05T15:00:00Z",
      "feature_kind": "amp_baseline_v1", "length": 2,
      "dtw": {"window": 4, "step_pattern": "symmetric1"},
      "vectors": [[0.1, 0.2], [0.3, 0.4]], "promotion_threshold": 0.8}"#;

    fn err(text: &str) -> String {
        Signature::from_json_str(text, "bad.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_and_field() {
        let cases = [
            (GOOD.replace("\"length\": 2", "\"length\": 3"), "vectors"),
            (GOOD.replace("amp_baseline_v1", "amp_v7"), "feature_kind"),
            (GOOD.replace("0.4]", "\"nan\"]"), "vectors[1][1]"),
            (GOOD.replace("0.4]", "1e999]"), "(document)"),
            (GOOD.replace("[0.3, 0.4]", "[0.3]"), "vectors[1]"),
            (
                GOOD.replace("0.8}", "0.8, \"spread\": [[0.1, 0.1], [0.1]]}"),
                "spread[1]",
            ),
            (
                GOOD.replace("0.8}", "0.8, \"spread\": [[0.1, 0.1]]}"),
                "spread",
            ),
            (
                GOOD.replace("0.8}", "0.8, \"spread\": [[0.1, 0.1], [0.1, -0.2]]}"),
                "spread[1][1]",
            ),
            (GOOD.replace("0.8}", "1.5}"), "promotion_threshold"),
            (GOOD.replace("symmetric1", "diagonal"), "dtw.step_pattern"),
            (GOOD.replace("\"label\": \"wave\",", ""), "label"),
            (GOOD.replace("\"id\"", "\"idd\""), "idd"),
            (
                GOOD.replace("2026-12-05T15:00:00Z", "yesterday"),
                "captured_at",
            ),
            (
                GOOD.replace("2026-12-05T15:00:00Z", "2026-13-45T99:00:00Z"),
                "captured_at",
            ),
            (
                GOOD.replace("0.8}", "0.8, \"prefix_thresholds\": [0.5]}"),
                "prefix_thresholds",
            ),
            ("[]".to_string(), "(document)"),
            // a kind of fixed dimension whose vectors do not fit it
            (
                GOOD.replace("amp_baseline_v1", "motion_lags_v1"),
                "vectors: 2 values per frame, but feature kind motion_lags_v1 has 6",
            ),
        ];
        for (text, field) in cases {
            let e = err(&text);
            assert!(e.contains("bad.json") && e.contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn rfc3339_dates_are_checked() {
        for ok in [
            "2026-12-05T15:00:00Z",
            "2026-12-05t15:00:00z",
            "2024-02-29T23:59:60.123456789+14:00",
            "2000-02-29T00:00:00-00:30",
            // RFC 3339 allows a space for the `T` (section 5.6, note)
            "2026-12-05 15:00:00Z",
        ] {
            assert_eq!(check_rfc3339(ok), Ok(()), "{ok}");
        }
        for bad in [
            "yesterday",
            "2026-13-45T99:00:00Z",
            "2026-02-29T10:00:00Z",
            "1900-02-29T10:00:00Z",
            "2026-04-31T10:00:00Z",
            "2026-12-05T24:00:00Z",
            "2026-12-05T15:00:61Z",
            "2026-12-05T15:00:00",
            "2026-12-05T15:00:00+0100",
            "2026-12-05T15:00:00+24:00",
            "2026-12-05T15:00:00.Z",
            "2026-12-05T15:00:00Z ",
            "\u{ff12}026-12-05T15:00:00Z",
        ] {
            let e = check_rfc3339(bad).unwrap_err();
            assert!(e.contains("expected YYYY-MM-DDTHH:MM:SS"), "{bad}: {e}");
        }
        let e = err(&GOOD.replace("2026-12-05T15:00:00Z", "yesterday"));
        assert!(
            e.contains("bad.json") && e.contains("captured_at") && e.contains("RFC 3339"),
            "{e}"
        );
    }

    #[test]
    fn round_trip_and_library_checks() {
        let s = Signature::from_json_str(GOOD, "a.json").unwrap();
        let back = Signature::from_json_str(&s.to_json_pretty(), "b.json").unwrap();
        assert_eq!(s, back);
        let dir = std::env::temp_dir().join(format!("sigs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.json"), GOOD).unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let lib = SignatureLibrary::load_dir(&dir).unwrap();
        assert_eq!(lib.signatures().len(), 1);
        assert!(lib.check_stream(FeatureKind::AmpBaselineV1, 2).is_ok());
        let e = lib
            .check_stream(FeatureKind::AmpBaselineV1, 52)
            .unwrap_err()
            .to_string();
        assert!(e.contains("52") && e.contains("s1"), "{e}");
        assert!(e.contains("layout") && e.contains("cut new ones"), "{e}");
        assert!(e.contains("2 dimensions of amp_baseline_v1"), "{e}");
        // after stages that changed the dimension, the stages are named as the cause
        let e = lib
            .check_stream_after(FeatureKind::AmpBaselineV1, 10, Some("select:top=10"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("reads 10 after the stages `select:top=10`")
                && e.contains("run without these stages")
                && e.contains("through the same stages"),
            "{e}"
        );
        assert!(!e.contains("device and subcarrier layout"), "{e}");
        assert!(lib.check_stream(FeatureKind::AmpNormV1, 2).is_err());
        std::fs::write(dir.join("b.json"), GOOD).unwrap();
        let e = SignatureLibrary::load_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("duplicate"), "{e}");
        std::fs::write(
            dir.join("b.json"),
            GOOD.replace("\"s1\"", "\"s2\"")
                .replace("[[0.1, 0.2], [0.3, 0.4]]", "[[0.1], [0.3]]"),
        )
        .unwrap();
        let e = SignatureLibrary::load_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("dimensions"), "{e}");
        std::fs::write(dir.join("b.json"), "{").unwrap();
        let e = SignatureLibrary::load_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("not valid JSON"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(SignatureLibrary::load_dir(std::env::temp_dir().join("no-such-dir-xyz")).is_err());
    }

    #[test]
    fn a_kind_that_does_not_fit_the_vectors_is_named() {
        let mut s = Signature::from_json_str(GOOD, "a.json").unwrap();
        s.feature_kind = FeatureKind::MotionLagsV1;
        let e = s
            .check_feature(FeatureKind::MotionLagsV1, Some(6), "early labelling")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("feature kind motion_lags_v1 has 6 values per frame")
                && !e.contains("layout"),
            "{e}"
        );
    }

    #[test]
    fn the_rule_speaks_of_scores() {
        let d = ThresholdRule::default().describe();
        assert!(
            d.contains("threshold score = 1 / (1 + 0.5 x c_k / (k x dim x s2))")
                && !d.contains("threshold cost"),
            "{d}"
        );
    }

    #[test]
    fn thresholds_never_fire_on_their_background_but_fire_on_the_signature() {
        let mut sig = Signature::from_json_str(GOOD, "a.json").unwrap();
        sig.vectors = (0..8)
            .map(|i| vec![(i as f64 * 0.7).sin(), (i as f64 * 0.3).cos()])
            .collect();
        sig.length = 8;
        let bg: Vec<Vec<f32>> = (0..500)
            .map(|i| {
                vec![
                    ((i * 7919) % 13) as f32 / 13.0 - 0.5,
                    ((i * 104729) % 17) as f32 / 17.0 - 0.5,
                ]
            })
            .collect();
        let t =
            derive_thresholds(&sig, std::slice::from_ref(&bg), ThresholdRule::default()).unwrap();
        assert_eq!(t.background_frames, 500);
        assert!(t.prefix[0].is_none());
        sig.prefix_thresholds = Some(t.prefix.clone());
        sig.promotion_threshold = t.promotion;
        sig.min_prefix = Some(t.min_prefix);
        let mut m = sig.matcher().unwrap();
        for x in &bg {
            assert!(!m.push(x).unwrap().above_threshold);
        }
        m.reset();
        let mut fired = None;
        for (i, x) in sig.vectors.iter().enumerate() {
            let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            if m.push(&x).unwrap().above_threshold && fired.is_none() {
                fired = Some(i);
            }
        }
        assert!(fired.is_some_and(|i| i < 8), "{fired:?}");
        assert!(derive_thresholds(&sig, &[], ThresholdRule::default()).is_err());
        // a background shorter than the signature cannot set its thresholds
        let short = vec![bg[..7].to_vec()];
        let e = derive_thresholds(&sig, &short, ThresholdRule::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("7 background frames") && e.contains("fewer than the signature's 8"),
            "{e}"
        );
        assert!(derive_thresholds(&sig, &[bg[..8].to_vec()], ThresholdRule::default()).is_ok());
    }

    /// Vectors whose mean square is zero or overflows cannot be scored: refused, naming the
    /// file and the field.
    #[test]
    fn unscorable_vectors_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(GOOD).unwrap();
        for (value, said) in [(0.0, "about) zero"), (1e308, "overflows")] {
            let n = v["vectors"].as_array().unwrap().len();
            let dim = v["vectors"][0].as_array().unwrap().len();
            v["vectors"] = serde_json::json!(vec![vec![value; dim]; n]);
            let e = Signature::from_json_str(&v.to_string(), "z.json")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("z.json") && e.contains("vectors") && e.contains(said),
                "{e}"
            );
        }
    }
}
