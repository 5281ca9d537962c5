//! Parsing of compact stage specifications: `name[:value][:param=value]...`.

use crate::error::{Result, SignalError};
use crate::stft::Span;

/// A parsed `name:param=value:...` specification. The first parameter may be given without a
/// name (`resample:100hz`); it then fills the stage's positional parameter.
#[derive(Debug)]
pub(crate) struct Spec<'a> {
    pub(crate) stage: &'static str,
    params: Vec<(&'a str, &'a str)>,
    used: Vec<bool>,
}

impl<'a> Spec<'a> {
    /// Splits `text` (whose name part must equal `stage`, or be absent) into parameters;
    /// `positional` names the parameter a bare first value stands for.
    pub(crate) fn parse(
        stage: &'static str,
        text: &'a str,
        positional: Option<&'a str>,
    ) -> Result<Self> {
        let mut parts = text.trim().split(':');
        let first = parts.next().unwrap_or("");
        let mut rest: Vec<&str> = parts.collect();
        if first != stage {
            // no name prefix: the whole text is parameters
            rest.insert(0, first);
        }
        let mut params = Vec::new();
        for (i, p) in rest.iter().enumerate() {
            if p.is_empty() {
                continue;
            }
            match p.split_once('=') {
                Some((k, v)) => params.push((k.trim(), v.trim())),
                None => match (i, positional) {
                    (0, Some(name)) => params.push((name, p.trim())),
                    _ => {
                        return Err(SignalError::Spec {
                            spec: text.to_string(),
                            reason: format!(
                                "`{p}` is not `param=value`{}; parameters are written \
                                 `{stage}:name=value:name=value` (`wifi-sensing run --help` \
                                 lists each stage's)",
                                positional
                                    .map(|n| format!(
                                        " (only the first value may omit its name, `{n}`)"
                                    ))
                                    .unwrap_or_default()
                            ),
                        })
                    }
                },
            }
        }
        let used = vec![false; params.len()];
        Ok(Spec {
            stage,
            params,
            used,
        })
    }

    fn take(&mut self, name: &str) -> Option<&'a str> {
        let mut found = None;
        for (i, (k, v)) in self.params.iter().enumerate() {
            if *k == name {
                self.used[i] = true;
                found = Some(*v);
            }
        }
        found
    }

    /// Refuses parameters no getter asked for, naming the accepted ones.
    pub(crate) fn finish(self, accepted: &[&str]) -> Result<()> {
        for ((k, _), u) in self.params.iter().zip(&self.used) {
            if !u {
                let suggestion = wifi_sensing_core::util::nearest_name(k, accepted.iter().copied())
                    .map(str::to_string);
                return Err(SignalError::UnknownParameter {
                    component: self.stage,
                    param: k.to_string(),
                    suggestion,
                    accepted: if accepted.is_empty() {
                        "no parameters".to_string()
                    } else {
                        accepted.join(", ")
                    },
                });
            }
        }
        Ok(())
    }

    fn bad(&self, param: &'static str, v: &str, accepted: impl Into<String>) -> SignalError {
        SignalError::param(self.stage, param, v, accepted)
    }

    /// An unsigned integer in `lo..=hi`.
    pub(crate) fn usize(
        &mut self,
        param: &'static str,
        lo: usize,
        hi: usize,
        default: usize,
    ) -> Result<usize> {
        match self.take(param) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| self.bad(param, v, format!("an integer in {lo}..={hi}"))),
        }
    }

    /// A finite number in `lo..=hi`, with an optional unit suffix stripped (`hz`, `db`).
    pub(crate) fn f64(
        &mut self,
        param: &'static str,
        unit: &str,
        lo: f64,
        hi: f64,
        default: Option<f64>,
    ) -> Result<f64> {
        let accepted = format!(
            "a number in {lo}..={hi}{}",
            if unit.is_empty() {
                String::new()
            } else {
                format!(" (unit `{unit}` optional)")
            }
        );
        match self.take(param) {
            None => default.ok_or_else(|| self.bad(param, "(missing)", accepted.clone())),
            Some(v) => {
                let lower = v.to_ascii_lowercase();
                let num = if unit.is_empty() {
                    lower.as_str()
                } else {
                    lower.strip_suffix(unit).unwrap_or(&lower)
                };
                num.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= lo && *x <= hi)
                    .ok_or_else(|| self.bad(param, v, accepted))
            }
        }
    }

    /// A length in seconds (`2s`, `500ms`) or frames (`50`).
    pub(crate) fn span(&mut self, param: &'static str, default: Span) -> Result<Span> {
        match self.take(param) {
            None => Ok(default),
            Some(v) => v.parse::<Span>().map_err(|_| {
                self.bad(
                    param,
                    v,
                    "seconds like `2s`/`500ms` (up to 86400 s) or frames like `50`",
                )
            }),
        }
    }

    /// The raw text of a parameter, if given.
    pub(crate) fn text(&mut self, param: &str) -> Option<&'a str> {
        self.take(param)
    }

    /// One of a fixed set of words.
    pub(crate) fn choice(
        &mut self,
        param: &'static str,
        choices: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str> {
        match self.take(param) {
            None => Ok(default),
            Some(v) => choices
                .iter()
                .find(|c| c.eq_ignore_ascii_case(v))
                .copied()
                .ok_or_else(|| self.bad(param, v, format!("one of {}", choices.join(", ")))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value without its name (past the positional one) says how parameters are written.
    #[test]
    fn a_bare_value_says_how_parameters_are_written() {
        let e = Spec::parse("bandpass", "bandpass:0.1hz-0.5hz", None).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("`0.1hz-0.5hz` is not `param=value`")
                && text.contains("`bandpass:name=value:name=value`"),
            "{text}"
        );
    }
}
