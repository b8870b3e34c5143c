//! /api/anomalies: what the streaming detector says now of every series of the
//! `anomaly` alert rules, read from the counters as the evaluator reads them
//! (docs/anomaly.md): the value observed, the band expected, the score, and
//! whether the series is still warming up.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sightline_alerts::anomaly_rules::{verdicts, SeriesVerdict};
use sightline_alerts::{Condition, Severity};
use time::OffsetDateTime;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnomaliesParams {
    /// Only this rule's series.
    pub rule: Option<String>,
    /// Only series scoring at least their rule's `min_score` (default false).
    pub anomalous: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Series {
    rule: String,
    severity: Severity,
    /// At or above the rule's `min_score`, and warm.
    anomalous: bool,
    #[serde(flatten)]
    verdict: SeriesVerdict,
}

/// Every series of the `anomaly` rules, most unusual first.
#[utoipa::path(get, path = "/api/anomalies", tag = "alerts", params(AnomaliesParams),
    responses((status = 200, description = "`series`: per rule and series, `warm`, `score`, `observed`, `expected`, `low`, `high`, `at`, `sentence`", body = Object),
        (status = 404, description = "no anomaly rule of that name")))]
pub async fn anomalies(
    State(state): State<AppState>,
    Query(p): Query<AnomaliesParams>,
) -> Result<Response, ApiError> {
    let rules: Vec<_> = state
        .alert_rules
        .rules
        .iter()
        .filter(|r| matches!(r.when, Condition::Anomaly { .. }))
        .filter(|r| p.rule.as_ref().is_none_or(|name| *name == r.name))
        .collect();
    if let (Some(name), true) = (&p.rule, rules.is_empty()) {
        return Err(ApiError::not_found(format!(
            "rule: no anomaly rule is named {name:?}"
        )));
    }
    let counters = state.counters();
    let now = OffsetDateTime::now_utc();
    let mut series = Vec::new();
    for rule in rules {
        for verdict in verdicts(&counters, rule, now).await? {
            let anomalous = verdict.warm && rule.when.alarming(verdict.score);
            if p.anomalous == Some(true) && !anomalous {
                continue;
            }
            series.push(Series {
                rule: rule.name.clone(),
                severity: rule.severity,
                anomalous,
                verdict,
            });
        }
    }
    series.sort_by(|a, b| b.verdict.score.total_cmp(&a.verdict.score));
    Ok(Json(serde_json::json!({ "series": series })).into_response())
}
