//! /api/analytics: transactions, errors, user behaviour and trends over a window
//! ending now, read from the real-time counters.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sightline_counters::{Reader, Window};
use utoipa::{IntoParams, ToSchema};

use super::params::{ratio, CountersRead, WindowParams};
use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// One point of a time series: bucket start (Unix seconds) and value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Point {
    pub t: i64,
    pub v: f64,
}

/// A counter's buckets as points.
pub async fn series(
    reader: &Reader,
    selector: &str,
    window: Window,
) -> Result<Vec<Point>, ApiError> {
    Ok(reader
        .count(selector, window)
        .await?
        .series
        .into_iter()
        .map(|(t, v)| Point { t, v: v as f64 })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Transactions {
    pub count: u64,
    pub failed: u64,
    pub failure_rate: f64,
    /// Transactions per bucket.
    pub timeline: Vec<Point>,
    /// Failed transactions per bucket.
    pub failed_timeline: Vec<Point>,
    pub by_payment_method: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    /// Currency -> status -> amount (exact decimal strings).
    #[schema(value_type = Object)]
    pub revenue: BTreeMap<String, BTreeMap<String, Decimal>>,
}

/// Transactions over the window: timeline, payment methods, statuses, revenue.
#[utoipa::path(get, path = "/api/analytics/transactions", tag = "analytics",
    params(WindowParams), responses((status = 200, body = Transactions)))]
pub async fn transactions(
    State(state): State<AppState>,
    CountersRead { window, mark, .. }: CountersRead,
) -> Result<Response, ApiError> {
    let c = state.counters();
    let by_status = c.breakdown("status", window).await?;
    let count = by_status.values().sum();
    let failed = by_status.get("failed").copied().unwrap_or(0);
    let body = Transactions {
        count,
        failed,
        failure_rate: ratio(failed, count),
        timeline: series(&c.reader, "kind=transaction", window).await?,
        failed_timeline: series(&c.reader, "status=failed", window).await?,
        by_payment_method: c.breakdown("payment_method", window).await?,
        by_status,
        revenue: c.revenue(window).await?,
    };
    Ok(stamped(mark, body))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Errors {
    pub count: u64,
    /// Errors among all events.
    pub error_rate: f64,
    pub by_code: BTreeMap<String, u64>,
    pub by_type: BTreeMap<String, u64>,
    pub over_time: Vec<Point>,
}

/// Errors over the window: by code, by type, over time.
#[utoipa::path(get, path = "/api/analytics/errors", tag = "analytics",
    params(WindowParams), responses((status = 200, body = Errors)))]
pub async fn errors(
    State(state): State<AppState>,
    CountersRead { window, mark, .. }: CountersRead,
) -> Result<Response, ApiError> {
    let c = state.counters();
    let count = c.count("kind=error", window).await?.value;
    let total = c.count("total", window).await?.value;
    let body = Errors {
        count,
        error_rate: ratio(count, total),
        by_code: c.breakdown("error_code", window).await?,
        by_type: c.breakdown("error_type", window).await?,
        over_time: series(&c.reader, "kind=error", window).await?,
    };
    Ok(stamped(mark, body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FunnelParams {
    /// See WindowParams.
    #[param(pattern = r"^[1-9][0-9]{0,5}[smhd]$")]
    pub window: Option<String>,
    /// 2 to 10 comma-separated actions (default `view,add_to_cart,checkout,purchase`).
    #[param(pattern = r"^[a-z0-9_]+(,[a-z0-9_]+){1,9}$")]
    pub steps: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelStep {
    pub action: String,
    pub count: u64,
    /// Share of the previous step that reached this one (1 for the first).
    pub conversion: f64,
    /// Share of the first step that reached this one.
    pub of_first: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserBehavior {
    pub actions: BTreeMap<String, u64>,
    pub funnel: Vec<FunnelStep>,
    /// 1 - last step / second step: carts that never became purchases.
    pub cart_abandonment: f64,
    /// 1 - last step / second-to-last step.
    pub checkout_abandonment: f64,
    /// Distinct users seen in the window (approximate).
    pub unique_users: u64,
}

/// User behaviour: actions, the purchase funnel and abandonment.
#[utoipa::path(get, path = "/api/analytics/user-behavior", tag = "analytics",
    params(FunnelParams), responses((status = 200, body = UserBehavior)))]
pub async fn user_behavior(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<FunnelParams>,
) -> Result<Response, ApiError> {
    let mark = state.watermark_for(Projection::Counters, &headers).await?;
    let window = WindowParams { window: p.window }.window()?;
    let steps: Vec<String> = match p.steps.as_deref() {
        None => ["view", "add_to_cart", "checkout", "purchase"]
            .map(String::from)
            .to_vec(),
        // Exactly what the documented pattern says: 2-10 action tokens.
        Some(text) => {
            let steps: Vec<String> = text.split(',').map(String::from).collect();
            let token = |s: &String| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            };
            if !(2..=10).contains(&steps.len()) || !steps.iter().all(token) {
                return Err(ApiError::bad_request(
                    "steps: give 2 to 10 actions (a-z, 0-9, _), comma-separated",
                ));
            }
            steps
        }
    };
    let actions = state.counters().breakdown("action", window).await?;
    let counts: Vec<u64> = steps
        .iter()
        .map(|s| actions.get(s).copied().unwrap_or(0))
        .collect();
    let funnel = funnel(&steps, &counts);
    let n = counts.len();
    let body = UserBehavior {
        cart_abandonment: 1.0 - ratio(counts[n - 1], counts[1]).min(1.0),
        checkout_abandonment: 1.0 - ratio(counts[n - 1], counts[n - 2]).min(1.0),
        unique_users: state.counters().unique_users(window).await?,
        actions,
        funnel,
    };
    Ok(stamped(mark, body))
}

pub fn funnel(steps: &[String], counts: &[u64]) -> Vec<FunnelStep> {
    steps
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (action, &count))| FunnelStep {
            action: action.clone(),
            count,
            conversion: if i == 0 {
                1.0
            } else {
                ratio(count, counts[i - 1])
            },
            of_first: ratio(count, counts[0]),
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Trend {
    pub current: f64,
    pub previous: f64,
    /// (current - previous) / previous; absent when previous is 0.
    pub change: Option<f64>,
}

fn trend(current: f64, previous: f64) -> Trend {
    Trend {
        current,
        previous,
        change: (previous != 0.0).then(|| (current - previous) / previous),
    }
}

/// This window against the one before it: events per kind, error rate, failed
/// payments.
#[utoipa::path(get, path = "/api/analytics/trends", tag = "analytics",
    params(WindowParams), responses((status = 200, description = "name -> trend", body = Object)))]
pub async fn trends(
    State(state): State<AppState>,
    CountersRead {
        window: now,
        length,
        mark,
    }: CountersRead,
) -> Result<Response, ApiError> {
    let before = Window::ending_at(time::OffsetDateTime::now_utc() - length, length)?;
    let c = state.counters();
    let mut out: BTreeMap<String, Trend> = BTreeMap::new();
    let (kinds_now, kinds_before) = (
        c.breakdown("kind", now).await?,
        c.breakdown("kind", before).await?,
    );
    for kind in kinds_now.keys().chain(kinds_before.keys()) {
        let get = |m: &BTreeMap<String, u64>| m.get(kind).copied().unwrap_or(0) as f64;
        out.insert(
            format!("events.{kind}"),
            trend(get(&kinds_now), get(&kinds_before)),
        );
    }
    let rate = |m: &BTreeMap<String, u64>, part: &str| {
        ratio(m.get(part).copied().unwrap_or(0), m.values().sum::<u64>())
    };
    out.insert(
        "error_rate".into(),
        trend(rate(&kinds_now, "error"), rate(&kinds_before, "error")),
    );
    let (status_now, status_before) = (
        c.breakdown("status", now).await?,
        c.breakdown("status", before).await?,
    );
    out.insert(
        "payment_failure_rate".into(),
        trend(rate(&status_now, "failed"), rate(&status_before, "failed")),
    );
    Ok(stamped(mark, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funnels_convert_step_by_step() {
        let steps: Vec<String> = ["view", "cart", "buy"].map(String::from).to_vec();
        let f = funnel(&steps, &[100, 20, 5]);
        assert_eq!(f[0].conversion, 1.0);
        assert_eq!(f[1].conversion, 0.2);
        assert_eq!(f[2].conversion, 0.25);
        assert_eq!(f[2].of_first, 0.05);
        let empty = funnel(&steps, &[0, 0, 0]);
        assert_eq!(empty[1].conversion, 0.0, "no division by zero");
    }

    #[test]
    fn trends_compare_with_the_window_before() {
        assert_eq!(trend(15.0, 10.0).change, Some(0.5));
        assert_eq!(trend(3.0, 0.0).change, None);
    }
}
