//! /api/performance: request latency percentiles (overall, per endpoint, database)
//! from the counters' histograms, and slow requests from the search index.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use sightline_counters::latency::{Percentiles, BUCKETS};
use sightline_counters::layout::Family;
use sightline_counters::read::latency_field;
use sightline_search::query::{DocKind, Filters, SearchRequest};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::analytics::Point;
use super::params::{ratio, CountersRead, WindowParams};
use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// Latency percentiles in milliseconds (each within one 25% bucket of the truth).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Latency {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

impl From<Percentiles> for Latency {
    fn from(p: Percentiles) -> Self {
        Self {
            count: p.count,
            p50: p.p50,
            p90: p.p90,
            p95: p.p95,
            p99: p.p99,
        }
    }
}

/// The p95 of one latency series per bucket of the window.
pub async fn p95_series(
    state: &AppState,
    series: &str,
    window: sightline_counters::Window,
) -> Result<Vec<Point>, ApiError> {
    let hashes = state
        .counters()
        .bucket_hashes(Family::Latency, window)
        .await?;
    Ok(hashes
        .buckets
        .into_iter()
        .map(|(t, hash)| {
            let mut counts = [0u64; BUCKETS];
            for (field, n) in hash {
                if let Some((s, i)) = latency_field(&field) {
                    if s == series {
                        counts[i] += u64::try_from(n).unwrap_or(0);
                    }
                }
            }
            Point {
                t,
                v: Percentiles::from_counts(&counts).p95.unwrap_or(0.0),
            }
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Metrics {
    pub requests: u64,
    pub requests_per_second: f64,
    /// `2xx`, `4xx`, `5xx`... -> requests.
    pub by_status_class: BTreeMap<String, u64>,
    /// 5xx among all requests.
    pub server_error_rate: f64,
    pub latency: Latency,
    pub database: Latency,
}

/// Request volume, status classes and latency over the window.
#[utoipa::path(get, path = "/api/performance/metrics", tag = "performance",
    params(WindowParams), responses((status = 200, body = Metrics)))]
pub async fn metrics(
    State(state): State<AppState>,
    CountersRead { window, mark, .. }: CountersRead,
) -> Result<Response, ApiError> {
    let by_class = state.counters().breakdown("status_class", window).await?;
    let requests: u64 = by_class.values().sum();
    let all = state.counters().latency_by_series(window).await?;
    let latency = |name: &str| {
        Latency::from(Percentiles::from_counts(
            &all.get(name).copied().unwrap_or([0; BUCKETS]),
        ))
    };
    let body = Metrics {
        requests,
        requests_per_second: requests as f64 / window.secs as f64,
        server_error_rate: ratio(by_class.get("5xx").copied().unwrap_or(0), requests),
        by_status_class: by_class,
        latency: latency("all"),
        database: latency("db"),
    };
    Ok(stamped(mark, body))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointLatency {
    pub endpoint: String,
    #[serde(flatten)]
    pub latency: Latency,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EndpointParams {
    /// See WindowParams.
    #[param(pattern = r"^[1-9][0-9]{0,5}[smhd]$")]
    pub window: Option<String>,
    /// Endpoints listed, slowest p95 first (default 20, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
}

/// P50/P90/P95/P99 per endpoint, slowest p95 first.
#[utoipa::path(get, path = "/api/performance/api-response-times", tag = "performance",
    params(EndpointParams), responses((status = 200, body = Vec<EndpointLatency>)))]
pub async fn api_response_times(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<EndpointParams>,
) -> Result<Response, ApiError> {
    let mark = state.watermark_for(Projection::Counters, &headers).await?;
    let window = WindowParams { window: p.window }.window()?;
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > 500 {
        return Err(ApiError::bad_request("limit must be 1-500"));
    }
    let mut rows: Vec<EndpointLatency> = state
        .counters()
        .latency_by_series(window)
        .await?
        .into_iter()
        .filter(|(name, _)| name != "all" && name != "db")
        .map(|(endpoint, counts)| EndpointLatency {
            endpoint,
            latency: Percentiles::from_counts(&counts).into(),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.latency
            .p95
            .unwrap_or(0.0)
            .total_cmp(&a.latency.p95.unwrap_or(0.0))
            .then_with(|| a.endpoint.cmp(&b.endpoint))
    });
    rows.truncate(limit);
    Ok(stamped(mark, rows))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseLatency {
    #[serde(flatten)]
    pub latency: Latency,
    /// p95 per bucket.
    pub p95_over_time: Vec<Point>,
}

/// Database query time percentiles, and p95 over time.
#[utoipa::path(get, path = "/api/performance/database-latency", tag = "performance",
    params(WindowParams), responses((status = 200, body = DatabaseLatency)))]
pub async fn database_latency(
    State(state): State<AppState>,
    CountersRead { window, mark, .. }: CountersRead,
) -> Result<Response, ApiError> {
    let body = DatabaseLatency {
        latency: state.counters().latency("db", window).await?.into(),
        p95_over_time: p95_series(&state, "db", window).await?,
    };
    Ok(stamped(mark, body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlowParams {
    /// See WindowParams.
    #[param(pattern = r"^[1-9][0-9]{0,5}[smhd]$")]
    pub window: Option<String>,
    /// Slower than this many milliseconds (default 1000).
    #[param(minimum = 0)]
    pub threshold_ms: Option<f64>,
    pub endpoint: Option<String>,
    /// How many, newest first (default 50, at most 1000; 0 means the default).
    #[param(minimum = 0, maximum = 1000)]
    pub limit: Option<usize>,
}

/// Requests slower than a threshold, newest first (from the search index).
#[utoipa::path(get, path = "/api/performance/slow-requests", tag = "performance",
    params(SlowParams), responses((status = 200, description = "total and hits", body = Object)))]
pub async fn slow_requests(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<SlowParams>,
) -> Result<Response, ApiError> {
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let length = WindowParams { window: p.window }.length()?;
    let threshold = p.threshold_ms.unwrap_or(1000.0);
    if !threshold.is_finite() || threshold < 0.0 {
        return Err(ApiError::bad_request("threshold_ms must be a number ≥ 0"));
    }
    let request = SearchRequest {
        filters: Filters {
            kinds: vec![DocKind::Performance],
            endpoint: p.endpoint,
            min_response_time_ms: Some(threshold),
            since: Some(OffsetDateTime::now_utc() - length),
            ..Filters::default()
        },
        size: p.limit.unwrap_or(50),
        ..SearchRequest::default()
    };
    request.checked_size().map_err(ApiError::bad_request)?;
    let response = state.search().search(&request).await?;
    Ok(stamped(
        mark,
        serde_json::json!({ "total": response.total, "hits": response.hits }),
    ))
}
