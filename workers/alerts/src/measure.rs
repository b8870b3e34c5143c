//! Measuring a rule's condition at an instant: counters from Redis, fraud
//! detections from the detections store. One sample per series (per value of the
//! rule's `per` dimension).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use sightline_counters::latency::quantile;
use sightline_counters::{Reader, Window};
use sightline_fraud::store::{DetectionQuery, DetectionStore};
use sightline_issues::StatusStore;
use sightline_search::query::{AggRequest, AggResult, SearchRequest, SearchResponse};
use sightline_search::store::SearchStore;
use time::OffsetDateTime;

use crate::error::AlertError;
use crate::rules::{Condition, Rule};
use crate::state::{Labels, Sample};

pub trait Measure: Send + Sync {
    fn measure(
        &self,
        rule: &Rule,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Sample>, AlertError>> + Send;
}

/// The projections alerts are computed from.
pub struct Sources<D> {
    pub counters: Reader,
    /// Needed by `fraud_score` rules only.
    pub detections: Option<D>,
    /// Needed by the rules of the index (`query`, issues, patterns) only.
    pub search: Option<Arc<dyn IndexReads>>,
    /// Needed by `regression` rules only.
    pub statuses: Option<StatusStore>,
}

/// What rules read of the search index: its searches and aggregations, behind
/// a trait object so that a worker can open the index lazily.
pub trait IndexReads: Send + Sync {
    fn search<'a>(
        &'a self,
        request: &'a SearchRequest,
    ) -> BoxFuture<'a, Result<SearchResponse, AlertError>>;

    fn aggregate<'a>(
        &'a self,
        request: &'a AggRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, AggResult>, AlertError>>;
}

fn index_error(e: impl std::fmt::Display) -> AlertError {
    AlertError::Unavailable(format!("search index: {e}"))
}

impl<S: SearchStore> IndexReads for S {
    fn search<'a>(
        &'a self,
        request: &'a SearchRequest,
    ) -> BoxFuture<'a, Result<SearchResponse, AlertError>> {
        Box::pin(async move {
            SearchStore::search(self, request)
                .await
                .map_err(index_error)
        })
    }

    fn aggregate<'a>(
        &'a self,
        request: &'a AggRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, AggResult>, AlertError>> {
        Box::pin(async move {
            SearchStore::aggregate(self, request)
                .await
                .map_err(index_error)
        })
    }
}

/// The window of `length` (at least a second) ending at `now`.
fn window(now: OffsetDateTime, length: std::time::Duration) -> Result<Window, AlertError> {
    Ok(Window::ending_at(
        now,
        length.max(std::time::Duration::from_secs(1)),
    )?)
}

/// `selector` with `{<per>}` replaced by `value`.
pub(crate) fn fill(selector: &str, per: Option<&str>, value: Option<&str>) -> String {
    match (per, value) {
        (Some(per), Some(value)) => selector.replace(&format!("{{{per}}}"), value),
        _ => selector.to_owned(),
    }
}

pub(crate) fn labels(per: Option<&str>, value: Option<&str>) -> Labels {
    match (per, value) {
        (Some(per), Some(value)) => Labels::from([(per.to_owned(), value.to_owned())]),
        _ => Labels::new(),
    }
}

/// The values of `per` seen in the window (or one unlabelled series).
pub(crate) async fn series_of(
    counters: &Reader,
    per: Option<&str>,
    w: Window,
) -> Result<Vec<Option<String>>, AlertError> {
    match per {
        None => Ok(vec![None]),
        Some(per) => Ok(counters
            .breakdown(per, w)
            .await?
            .into_keys()
            .map(Some)
            .collect()),
    }
}

impl<D: DetectionStore> Sources<D> {
    /// The values of `per` seen in the window (or one unlabelled series).
    async fn series(
        &self,
        per: Option<&str>,
        w: Window,
    ) -> Result<Vec<Option<String>>, AlertError> {
        series_of(&self.counters, per, w).await
    }

    async fn count(&self, selector: &str, w: Window) -> Result<u64, AlertError> {
        Ok(self.counters.count(selector, w).await?.value)
    }
}

impl<D: DetectionStore> Measure for Sources<D> {
    async fn measure(&self, rule: &Rule, now: OffsetDateTime) -> Result<Vec<Sample>, AlertError> {
        let w = window(now, rule.window)?;
        let mut out = Vec::new();
        match &rule.when {
            Condition::Ratio {
                per,
                numerator,
                denominator,
                min_denominator,
                ..
            } => {
                let per = per.as_deref();
                for v in self.series(per, w).await? {
                    let v = v.as_deref();
                    let den = self.count(&fill(denominator, per, v), w).await?;
                    if den < *min_denominator || den == 0 {
                        continue;
                    }
                    let num = self.count(&fill(numerator, per, v), w).await?;
                    out.push(Sample {
                        labels: labels(per, v),
                        value: num as f64 / den as f64,
                        notes: Default::default(),
                    });
                }
            }
            Condition::RatioSpike {
                per,
                numerator,
                denominator,
                baseline,
                factor,
                min_ratio,
                min_denominator,
            } => {
                let per = per.as_deref();
                let usual_window = window(now, *baseline)?;
                for v in self.series(per, w).await? {
                    let v = v.as_deref();
                    let (num, den) = (fill(numerator, per, v), fill(denominator, per, v));
                    let now_den = self.count(&den, w).await?;
                    if now_den < *min_denominator || now_den == 0 {
                        continue;
                    }
                    let ratio = self.count(&num, w).await? as f64 / now_den as f64;
                    let usual_den = self.count(&den, usual_window).await?.max(1);
                    let usual = self.count(&num, usual_window).await? as f64 / usual_den as f64;
                    // A floor on the usual level: from nothing, any ratio would
                    // be an infinite spike; below `min_ratio` none is.
                    let usual = usual.max(min_ratio / factor);
                    out.push(Sample {
                        labels: labels(per, v),
                        value: ratio / usual,
                        notes: Default::default(),
                    });
                }
            }
            Condition::Count { per, selector, .. } => {
                let per = per.as_deref();
                for v in self.series(per, w).await? {
                    let v = v.as_deref();
                    let n = self.count(&fill(selector, per, v), w).await?;
                    out.push(Sample {
                        labels: labels(per, v),
                        value: n as f64,
                        notes: Default::default(),
                    });
                }
            }
            Condition::Latency {
                series, percentile, ..
            } => {
                let counts = self.counters.latency_histogram(series, w).await?;
                let total = counts.iter().sum();
                if let Some(ms) = quantile(&counts, total, *percentile) {
                    out.push(Sample {
                        labels: Labels::from([("series".to_owned(), series.clone())]),
                        value: ms,
                        notes: Default::default(),
                    });
                }
            }
            Condition::Silent { per, lookback } => {
                let seen = self
                    .counters
                    .breakdown(per, window(now, *lookback)?)
                    .await?;
                let recent = self.counters.breakdown(per, w).await?;
                for value in seen.keys() {
                    out.push(Sample {
                        labels: labels(Some(per), Some(value)),
                        value: recent.get(value).copied().unwrap_or(0) as f64,
                        notes: Default::default(),
                    });
                }
            }
            Condition::SeverityRate { severity, .. } => {
                let worse: Vec<&str> = sightline_schemas::Severity::ALL
                    .iter()
                    .filter(|level| *level >= severity)
                    .map(|level| level.as_str())
                    .collect();
                let minutes = rule.window.as_secs_f64().max(1.0) / 60.0;
                for service in self.series(Some("service"), w).await?.into_iter().flatten() {
                    let mut n = 0;
                    for level in &worse {
                        n += self
                            .count(&format!("service={service},severity={level}"), w)
                            .await?;
                    }
                    out.push(Sample {
                        labels: labels(Some("service"), Some(&service)),
                        value: n as f64 / minutes,
                        notes: Default::default(),
                    });
                }
            }
            Condition::Query { .. }
            | Condition::NewIssue { .. }
            | Condition::Regression
            | Condition::NewPattern { .. }
            | Condition::PatternSpike { .. } => {
                let Some(search) = &self.search else {
                    return Err(AlertError::Rules(format!(
                        "rule {:?} needs the search index",
                        rule.name
                    )));
                };
                let errors = crate::index_rules::IndexRules {
                    index: search.as_ref(),
                    statuses: self.statuses.as_ref(),
                };
                out = errors.measure(rule, now).await?;
            }
            Condition::Anomaly { .. } => {
                out = crate::anomaly_rules::measure(&self.counters, rule, now).await?;
            }
            Condition::FraudScore { min_score } => {
                let Some(store) = &self.detections else {
                    return Err(AlertError::Rules(format!(
                        "rule {:?} needs the fraud detections store",
                        rule.name
                    )));
                };
                let query = DetectionQuery {
                    min_score: Some(*min_score),
                    since: Some(now - rule.window),
                    // Not after `now` either: an evaluation at a past instant
                    // (a replay, `bench alerts`) must not see the future.
                    until: Some(now),
                    limit: 1000,
                    ..DetectionQuery::default()
                };
                let mut by_user: BTreeMap<String, u8> = BTreeMap::new();
                for d in store
                    .list(&query)
                    .await
                    .map_err(|e| AlertError::Unavailable(format!("fraud detections: {e}")))?
                {
                    let top = by_user.entry(d.user_id.clone()).or_default();
                    *top = (*top).max(d.score);
                }
                for (user, score) in by_user {
                    out.push(Sample {
                        labels: Labels::from([("user_id".to_owned(), user)]),
                        value: f64::from(score),
                        notes: Default::default(),
                    });
                }
            }
        }
        Ok(out)
    }
}
