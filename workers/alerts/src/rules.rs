//! The versioned alert rules file. The built-in default is `config/alert-rules.toml`.

use std::path::Path;
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::AlertError;

const DEFAULT_RULES: &str = include_str!("../../../config/alert-rules.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub version: String,
    pub timing: Timing,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

/// When groups of alerts are notified (Alertmanager's three timers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    #[serde(with = "humantime_serde")]
    pub group_wait: Duration,
    #[serde(with = "humantime_serde")]
    pub group_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub repeat_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    P1,
    P2,
    P3,
    P4,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Also the `alertname` label.
    pub name: String,
    pub severity: Severity,
    /// `{value}` and `{<label>}` are filled in.
    pub summary: String,
    /// The window the condition is measured over, ending now.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How long the condition must hold before the alert fires (pending until then).
    #[serde(rename = "for", with = "humantime_serde")]
    pub for_: Duration,
    /// Labels whose values split notifications into groups (none: one group per rule).
    #[serde(default)]
    pub group_by: Vec<String>,
    pub when: Condition,
}

/// What is measured, and when it is alarming. Selectors are counter selectors
/// (docs/counters.md) in which `{<per>}` stands for each value of the `per`
/// dimension seen in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// numerator / denominator above a share; quiet below `min_denominator` events.
    Ratio {
        per: Option<String>,
        numerator: String,
        denominator: String,
        above: f64,
        #[serde(default = "one")]
        min_denominator: u64,
    },
    /// numerator / denominator over the window, as a multiple of the same ratio
    /// over `baseline` (the usual level): alarming above `factor` times usual,
    /// and only once the ratio itself exceeds `min_ratio`. The value is the
    /// multiple.
    RatioSpike {
        per: Option<String>,
        numerator: String,
        denominator: String,
        #[serde(with = "humantime_serde")]
        baseline: Duration,
        factor: f64,
        min_ratio: f64,
        #[serde(default = "one")]
        min_denominator: u64,
    },
    /// A count above (or below) a threshold.
    Count {
        per: Option<String>,
        selector: String,
        above: Option<u64>,
        below: Option<u64>,
    },
    /// A latency percentile (0-1) of a series (`all`, `db`, an endpoint) above a bound.
    Latency {
        series: String,
        percentile: f64,
        above_ms: f64,
    },
    /// A value of `per` seen within `lookback` with nothing in the window.
    Silent {
        per: String,
        #[serde(with = "humantime_serde")]
        lookback: Duration,
    },
    /// A fraud detection at or above `min_score` in the window, per user.
    FraudScore { min_score: u8 },
    /// Log records at `severity` or worse per minute, per service, above a rate
    /// (the value is the rate per minute over the window).
    SeverityRate {
        severity: sightline_schemas::Severity,
        above_per_minute: f64,
    },
    /// A saved search: the hits of `query` (docs/search.md) in the window, above
    /// or below a count.
    Query {
        query: String,
        above: Option<u64>,
        below: Option<u64>,
    },
    /// An error issue whose first event is in the window (per issue; the value
    /// is its events in the window), once it has `min_events`.
    NewIssue {
        #[serde(default = "one")]
        min_events: u64,
    },
    /// A resolved issue seen again after its resolution (per issue; the value
    /// is its events since).
    Regression,
    /// A message pattern first seen in the window among records at `severity`
    /// or worse (per pattern; the value is its events in the window).
    NewPattern {
        severity: sightline_schemas::Severity,
    },
    /// A pattern's events in the window as a multiple of its usual number per
    /// window over `baseline`: alarming above `factor` times usual, and only
    /// with `min_count` events (per pattern; the value is the multiple).
    PatternSpike {
        #[serde(with = "humantime_serde")]
        baseline: Duration,
        factor: f64,
        min_count: u64,
    },
    /// A counter series that is unusual against its own history: each `step`
    /// of the `lookback` before now, the count of `series` (or its share of
    /// `denominator`, where that has `min_denominator` events) is fed to the
    /// streaming detector (docs/anomaly.md), and the last complete step is
    /// judged. The value is the detector's score in [0, 1]; alarming from
    /// `min_score`. No score while the series is warming up.
    Anomaly {
        per: Option<String>,
        series: String,
        denominator: Option<String>,
        #[serde(default = "one")]
        min_denominator: u64,
        #[serde(default = "minute", with = "humantime_serde")]
        step: Duration,
        #[serde(default = "two_days", with = "humantime_serde")]
        lookback: Duration,
        #[serde(default = "likely")]
        min_score: f64,
    },
}

fn one() -> u64 {
    1
}
fn minute() -> Duration {
    Duration::from_secs(60)
}
fn two_days() -> Duration {
    Duration::from_secs(48 * 3600)
}
fn likely() -> f64 {
    0.9
}

impl Condition {
    /// Whether a measured value is alarming.
    pub fn alarming(&self, value: f64) -> bool {
        match self {
            Condition::Ratio { above, .. } => value > *above,
            Condition::RatioSpike { factor, .. } => value > *factor,
            Condition::Count { above, below, .. } => {
                above.is_some_and(|a| value > a as f64) || below.is_some_and(|b| value < b as f64)
            }
            Condition::Latency { above_ms, .. } => value > *above_ms,
            Condition::Silent { .. } => value == 0.0,
            Condition::FraudScore { min_score } => value >= f64::from(*min_score),
            Condition::SeverityRate {
                above_per_minute, ..
            } => value > *above_per_minute,
            Condition::Query { above, below, .. } => {
                above.is_some_and(|a| value > a as f64) || below.is_some_and(|b| value < b as f64)
            }
            Condition::NewIssue { min_events } => value >= *min_events as f64,
            Condition::Regression | Condition::NewPattern { .. } => value >= 1.0,
            Condition::PatternSpike { factor, .. } => value > *factor,
            Condition::Anomaly { min_score, .. } => value >= *min_score,
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::parse(DEFAULT_RULES, "config/alert-rules.toml").expect("the built-in rules are valid")
    }
}

impl Rules {
    /// The rules in `path`, or the built-in ones.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, AlertError> {
        match path {
            None => Ok(Self::default()),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| AlertError::Rules(format!("reading {}: {e}", path.display())))?;
                Self::parse(&text, &path.display().to_string())
            }
        }
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, AlertError> {
        let rules: Rules = Figment::from(Toml::string(text))
            .extract()
            .map_err(|e| AlertError::Rules(format!("{origin}: {e}")))?;
        rules
            .check()
            .map_err(|e| AlertError::Rules(format!("{origin}: {e}")))?;
        Ok(rules)
    }

    fn check(&self) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for rule in &self.rules {
            let at = |what: &str| format!("rule {:?}: {what}", rule.name);
            if rule.name.is_empty() || !names.insert(rule.name.as_str()) {
                return Err(at("names must be non-empty and unique"));
            }
            if rule.window.is_zero() {
                return Err(at("window must be at least 1s"));
            }
            match &rule.when {
                Condition::Latency { percentile, .. } if !(0.0..=1.0).contains(percentile) => {
                    return Err(at("percentile must be between 0 and 1"));
                }
                Condition::Count {
                    above: None,
                    below: None,
                    ..
                }
                | Condition::Query {
                    above: None,
                    below: None,
                    ..
                } => return Err(at("a count needs `above` or `below`")),
                Condition::Query { query, .. } => {
                    let parsed = sightline_search::lang::parse(query)
                        .map_err(|e| at(&format!("query: {e}")))?;
                    sightline_search::lang::matcher::Matcher::new(&parsed)
                        .map_err(|e| at(&format!("query: {e}")))?;
                }
                Condition::SeverityRate {
                    above_per_minute, ..
                } if !above_per_minute.is_finite() || *above_per_minute < 0.0 => {
                    return Err(at("above_per_minute must be a rate of 0 or more"));
                }
                Condition::RatioSpike {
                    factor, min_ratio, ..
                } if *factor <= 1.0 || *min_ratio <= 0.0 => {
                    return Err(at("a spike needs factor > 1 and min_ratio > 0"));
                }
                Condition::PatternSpike {
                    baseline,
                    factor,
                    min_count,
                } if *factor <= 1.0 || *min_count == 0 || *baseline <= rule.window => {
                    return Err(at(
                        "a pattern spike needs factor > 1, min_count > 0 and a baseline longer than the window",
                    ));
                }
                Condition::Anomaly {
                    min_score,
                    step,
                    lookback,
                    ..
                } if !(0.0..=1.0).contains(min_score)
                    || step.is_zero()
                    || *lookback < *step * 200 =>
                {
                    return Err(at(
                        "an anomaly needs min_score in [0, 1] and a lookback of at least 200 steps (the detector warms up on 150)",
                    ));
                }
                Condition::Ratio { per, numerator, .. }
                | Condition::Anomaly {
                    per,
                    series: numerator,
                    ..
                }
                | Condition::RatioSpike { per, numerator, .. }
                | Condition::Count {
                    per,
                    selector: numerator,
                    ..
                } => {
                    if let Some(per) = per {
                        if !numerator.contains(&format!("{{{per}}}")) {
                            return Err(at(&format!("the selector must use {{{per}}}")));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anomaly_rules_example_loads() {
        let text = include_str!("../../../config/anomaly-rules.toml");
        let rules = Rules::parse(text, "config/anomaly-rules.toml").unwrap();
        assert_eq!(rules.rules.len(), 3);
        assert!(rules
            .rules
            .iter()
            .all(|r| matches!(r.when, Condition::Anomaly { .. })));
        let short = text.replace(
            "type = \"anomaly\"",
            "type = \"anomaly\"\nlookback = \"1h\"",
        );
        let e = Rules::parse(&short, "x").unwrap_err().to_string();
        assert!(e.contains("200 steps"), "{e}");
    }

    #[test]
    fn the_built_in_rules_load() {
        let rules = Rules::default();
        assert_eq!(rules.rules.len(), 6);
        let errors = &rules.rules[0];
        assert_eq!(errors.name, "HighErrorRate");
        assert_eq!(errors.for_, Duration::from_secs(120));
        assert!(errors.when.alarming(0.06) && !errors.when.alarming(0.05));
        assert_eq!(rules.timing.repeat_interval, Duration::from_secs(4 * 3600));
    }

    #[test]
    fn mistakes_are_refused_with_their_place() {
        let base = Rules::default();
        let text = |edit: &dyn Fn(&mut Rules)| {
            let mut r = base.clone();
            edit(&mut r);
            r
        };
        let err = |r: Rules| r.check().unwrap_err();
        assert!(err(text(&|r| r.rules[1].name = "HighErrorRate".into())).contains("unique"));
        assert!(err(text(&|r| r.rules[1].when = Condition::Latency {
            series: "all".into(),
            percentile: 95.0,
            above_ms: 1.0
        }))
        .contains("percentile"));
        assert!(err(text(&|r| r.rules[0].when = Condition::Count {
            per: Some("service".into()),
            selector: "kind=error".into(),
            above: Some(1),
            below: None
        }))
        .contains("{service}"));
        assert!(err(text(&|r| r.rules[2].when = Condition::RatioSpike {
            per: None,
            numerator: "status=failed".into(),
            denominator: "kind=transaction".into(),
            baseline: Duration::from_secs(86_400),
            factor: 0.5,
            min_ratio: 0.1,
            min_denominator: 1
        }))
        .contains("factor > 1"));
        assert!(err(text(&|r| r.rules[0].when = Condition::Query {
            query: "service:(checkout".into(),
            above: Some(1),
            below: None
        }))
        .contains("query: at 8"));
        assert!(err(text(&|r| r.rules[0].when = Condition::Query {
            query: "colour:red".into(),
            above: Some(1),
            below: None
        }))
        .contains("unknown field `colour`"));
        let unknown = Rules::parse(
            &DEFAULT_RULES.replace("min_score = 80", "min_scor = 80"),
            "x.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            unknown.contains("min_scor") && unknown.contains("x.toml"),
            "{unknown}"
        );
    }
}
