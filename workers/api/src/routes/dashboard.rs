//! /api/dashboard: the key figures and charts of the page (cached, keyed by
//! watermark), system metrics, and a live stream of all of it (SSE).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::Stream;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use sightline_counters::layout::Family;
use sightline_counters::read::{revenue_amount, revenue_field};
use sightline_counters::Window;
use sightline_fraud::store::DetectionQuery;
use utoipa::ToSchema;

use super::analytics::Point;
use super::params::{ratio, CountersRead, WindowParams};
use super::performance::p95_series;
use crate::error::{json_bytes, ApiError};
use crate::state::AppState;
use crate::watermark::{stamp, Marks};

#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    pub window_s: i64,
    pub events: u64,
    /// Averaged over the whole window.
    pub events_per_second: f64,
    /// Over the last minute: the current rate, whatever the window.
    pub events_per_second_1m: f64,
    /// Error events among the commerce events (`log` records aside: they have
    /// their own severities, below).
    pub error_rate: f64,
    /// `log` records by severity (`error`, `warn`, ...).
    pub logs_by_severity: BTreeMap<String, u64>,
    pub transactions: u64,
    pub failed_payments: u64,
    pub payment_failure_rate: f64,
    /// Completed revenue per currency (exact decimal strings).
    #[schema(value_type = Object)]
    pub revenue: BTreeMap<String, Decimal>,
    /// Request latency p95 in milliseconds.
    pub p95_ms: Option<f64>,
    pub unique_users: u64,
    pub fraud_detections: u64,
    pub alerts_firing: usize,
    pub alerts_pending: usize,
    pub watermarks: Marks,
}

async fn compute_overview(
    state: &AppState,
    window: Window,
    marks: Marks,
) -> Result<Overview, ApiError> {
    let c = state.counters();
    let kinds = c.breakdown("kind", window).await?;
    let events: u64 = kinds.values().sum();
    let commerce = events - kinds.get("log").copied().unwrap_or(0);
    let logs_by_severity = c.breakdown("severity", window).await?;
    let status = c.breakdown("status", window).await?;
    let transactions: u64 = status.values().sum();
    let failed = status.get("failed").copied().unwrap_or(0);
    let revenue = c
        .revenue(window)
        .await?
        .into_iter()
        .filter_map(|(currency, by_status)| by_status.get("completed").map(|a| (currency, *a)))
        .collect();
    let events_per_second_1m = rate_last_minute(state).await?;
    let saved = state.alerts.load().await?;
    let firing = saved
        .book
        .active()
        .filter(|a| a.status == sightline_alerts::Status::Firing)
        .count();
    Ok(Overview {
        window_s: window.secs,
        events,
        events_per_second: events as f64 / window.secs as f64,
        events_per_second_1m,
        error_rate: ratio(kinds.get("error").copied().unwrap_or(0), commerce),
        logs_by_severity,
        transactions,
        failed_payments: failed,
        payment_failure_rate: ratio(failed, transactions),
        revenue,
        p95_ms: c.latency("all", window).await?.p95,
        unique_users: c.unique_users(window).await?,
        fraud_detections: c.count("fraud=detection", window).await?.value,
        alerts_firing: firing,
        alerts_pending: saved.book.active().count() - firing,
        watermarks: marks,
    })
}

/// `compute`'s answer as JSON, from the cache when `key` is there.
async fn cached<T: Serialize>(
    state: &AppState,
    key: &str,
    compute: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<Bytes, ApiError> {
    state
        .cache
        .get_or_compute(key, || async {
            serde_json::to_vec(&compute.await?)
                .map(Bytes::from)
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await
}

/// A cached answer, stamped with the counters watermark it was read at.
fn stamped_bytes((bytes, marks): (Bytes, Marks)) -> Response {
    let mut response = json_bytes(bytes);
    stamp(&mut response, marks.counters);
    response
}

/// The overview as cached JSON: one computation per window, watermark and TTL.
pub async fn overview_bytes(state: &AppState, window: Window) -> Result<(Bytes, Marks), ApiError> {
    let marks = state.marks.current();
    let key = format!(
        "overview:{}:{}:{}",
        window.secs,
        marks.counters.unwrap_or(0),
        marks.counters_fraud.unwrap_or(0)
    );
    let bytes = cached(state, &key, compute_overview(state, window, marks)).await?;
    Ok((bytes, marks))
}

/// Key figures over the window: events, error rate, payments, revenue, latency,
/// users, fraud and alerts. Cached; the watermark is part of the cache key.
#[utoipa::path(get, path = "/api/dashboard/overview", tag = "dashboard",
    params(WindowParams), responses((status = 200, body = Overview)))]
pub async fn overview(
    State(state): State<AppState>,
    CountersRead { window, .. }: CountersRead,
) -> Result<Response, ApiError> {
    Ok(stamped_bytes(overview_bytes(&state, window).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Charts {
    /// Bucket width of every series, seconds.
    pub step_s: i64,
    pub events_by_kind: BTreeMap<String, Vec<Point>>,
    pub error_rate: Vec<Point>,
    pub p95_ms: Vec<Point>,
    /// Completed revenue per currency and bucket.
    pub revenue: BTreeMap<String, Vec<Point>>,
}

async fn compute_charts(state: &AppState, window: Window) -> Result<Charts, ApiError> {
    let counts = state
        .counters()
        .bucket_hashes(Family::Counts, window)
        .await?;
    let mut events_by_kind: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    let mut error_rate = Vec::with_capacity(counts.buckets.len());
    for (t, hash) in &counts.buckets {
        for kind in sightline_schemas::Kind::ALL {
            let n = hash
                .get(&format!("kind={}", kind.as_str()))
                .copied()
                .unwrap_or(0);
            events_by_kind
                .entry(kind.as_str().to_owned())
                .or_default()
                .push(Point { t: *t, v: n as f64 });
        }
        // Over the commerce events, as the overview's error rate.
        let count = |field: &str| hash.get(field).copied().unwrap_or(0).max(0) as u64;
        let commerce = count("total").saturating_sub(count("kind=log"));
        error_rate.push(Point {
            t: *t,
            v: ratio(count("kind=error"), commerce),
        });
    }
    let revenue_hashes = state
        .counters()
        .bucket_hashes(Family::Revenue, window)
        .await?;
    let zeros: Vec<Point> = revenue_hashes
        .buckets
        .iter()
        .map(|(t, _)| Point { t: *t, v: 0.0 })
        .collect();
    let mut revenue: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for (i, (_, hash)) in revenue_hashes.buckets.iter().enumerate() {
        for (field, stored) in hash {
            if let Some(("completed", currency)) = revenue_field(field) {
                let series = revenue
                    .entry(currency.to_owned())
                    .or_insert_with(|| zeros.clone());
                series[i].v = revenue_amount(*stored).to_f64().unwrap_or(0.0);
            }
        }
    }
    Ok(Charts {
        step_s: counts.step_s,
        events_by_kind,
        error_rate,
        p95_ms: p95_series(state, "all", window).await?,
        revenue,
    })
}

pub async fn charts_bytes(state: &AppState, window: Window) -> Result<(Bytes, Marks), ApiError> {
    let marks = state.marks.current();
    let key = format!("charts:{}:{}", window.secs, marks.counters.unwrap_or(0));
    let bytes = cached(state, &key, compute_charts(state, window)).await?;
    Ok((bytes, marks))
}

/// Time series for the page: events by kind, error rate, p95 latency, revenue.
#[utoipa::path(get, path = "/api/dashboard/charts", tag = "dashboard",
    params(WindowParams), responses((status = 200, body = Charts)))]
pub async fn charts(
    State(state): State<AppState>,
    CountersRead { window, .. }: CountersRead,
) -> Result<Response, ApiError> {
    Ok(stamped_bytes(charts_bytes(&state, window).await?))
}

/// Events per second over the last minute: the current rate, whatever a window says.
async fn rate_last_minute(state: &AppState) -> Result<f64, ApiError> {
    let minute = Window::ending_now(Duration::from_secs(60))?;
    Ok(state.counters().count("total", minute).await?.value as f64 / 60.0)
}

/// The system's own figures: ingest rate over the last minute, projection lag,
/// dead letters.
#[utoipa::path(get, path = "/api/dashboard/metrics", tag = "dashboard",
    responses((status = 200, description = "rate, watermarks and lag", body = Object)))]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let marks = state.marks.current();
    Ok(Json(serde_json::json!({
        "events_per_second_1m": rate_last_minute(&state).await?,
        "watermarks": marks,
        "lag": super::ops::lag(&marks),
    }))
    .into_response())
}

/// Everything the page shows, as one JSON document.
async fn update(state: &AppState, p: &WindowParams) -> Result<String, ApiError> {
    let window = p.window()?;
    let (overview, _) = overview_bytes(state, window).await?;
    let (charts, _) = charts_bytes(state, window).await?;
    let detections = state
        .detections()
        .list(&DetectionQuery {
            min_score: Some(state.assessor.suspicious_score()),
            limit: 10,
            ..DetectionQuery::default()
        })
        .await
        .unwrap_or_default();
    let precision = state.detections().verdicts().await.unwrap_or_default();
    let saved = state.alerts.load().await.unwrap_or_default();
    let alerts: Vec<&sightline_alerts::Alert> = saved.book.active().collect();
    let acknowledged: std::collections::BTreeMap<String, sightline_alerts::ack::Ack> =
        sightline_alerts::ack::holding(state.alerts.acks().await.unwrap_or_default(), &saved.book)
            .into_iter()
            .map(|ack| (ack.fingerprint.clone(), ack))
            .collect();
    let raw = |b: &Bytes| serde_json::from_slice::<serde_json::Value>(b).unwrap_or_default();
    Ok(serde_json::json!({
        "overview": raw(&overview),
        "charts": raw(&charts),
        "detections": detections,
        "fraud_precision": precision,
        "alerts": alerts,
        "acknowledged": acknowledged,
        "watermarks": state.marks.current(),
    })
    .to_string())
}

/// Server-sent events: an `update` with the overview, charts, latest suspicious
/// detections, the precision analysts' verdicts give each typology, and active
/// alerts with their acknowledgements, now and then every couple of seconds.
#[utoipa::path(get, path = "/api/dashboard/stream", tag = "dashboard", params(WindowParams),
    responses((status = 200, description = "text/event-stream of `update` events", content_type = "text/event-stream")))]
pub async fn stream(
    State(state): State<AppState>,
    Query(p): Query<WindowParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    p.window()?;
    let every = (state.settings.api.refresh_interval * 8).max(Duration::from_secs(1));
    let events = futures::stream::unfold((state, p, true), move |(state, p, first)| async move {
        if !first {
            tokio::time::sleep(every).await;
        }
        let event = match update(&state, &p).await {
            Ok(json) => SseEvent::default().event("update").data(json),
            Err(e) => SseEvent::default().event("problem").data(e.message),
        };
        Some((Ok(event), (state, p, false)))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
