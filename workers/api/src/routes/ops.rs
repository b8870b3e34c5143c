//! Operations: consumers and their lag, projection watermarks, dead-letter counts,
//! health and readiness, and Prometheus metrics.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use sightline_runtime::topology;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::Marks;

/// Every stream, its consumers, and what each still has to process.
#[utoipa::path(get, path = "/api/ops/consumers", tag = "ops",
    responses((status = 200, description = "streams with their consumers", body = [Object])))]
pub async fn consumers(State(state): State<AppState>) -> Result<Response, ApiError> {
    let status = topology::status(&state.bus, &state.settings.streams).await?;
    Ok(Json(status).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Watermarks {
    #[serde(flatten)]
    pub marks: Marks,
    /// Stream sequences each projection is behind its stream's head.
    pub lag: BTreeMap<&'static str, Option<u64>>,
}

/// One projection's progress: its name, its watermark, its stream's head.
pub type Progress = (&'static str, Option<u64>, u64);

/// Every projection's progress: LOGS projections against the LOGS head, FRAUD
/// ones against the FRAUD head.
pub fn progress(marks: &Marks) -> [Progress; 6] {
    [
        ("scorer", marks.scorer, marks.logs),
        ("search", marks.search, marks.logs),
        ("search_fraud", marks.search_fraud, marks.fraud),
        ("counters", marks.counters, marks.logs),
        ("counters_fraud", marks.counters_fraud, marks.fraud),
        ("detections", marks.detections, marks.fraud),
    ]
}

/// How far each projection is behind its stream, in sequences (unknown: `None`).
pub fn behind((_, watermark, head): Progress) -> Option<u64> {
    watermark.map(|w| head.saturating_sub(w))
}

pub fn lag(marks: &Marks) -> BTreeMap<&'static str, Option<u64>> {
    progress(marks)
        .into_iter()
        .map(|p| (p.0, behind(p)))
        .collect()
}

/// Each projection's watermark and lag.
#[utoipa::path(get, path = "/api/ops/watermarks", tag = "ops",
    responses((status = 200, body = Watermarks)))]
pub async fn watermarks(State(state): State<AppState>) -> Response {
    let marks = state.marks.current();
    Json(Watermarks {
        lag: lag(&marks),
        marks,
    })
    .into_response()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetters {
    pub total: u64,
    /// Dead letters per consumer that gave up on them.
    pub by_consumer: BTreeMap<String, u64>,
}

/// Dead letters waiting in DLQ, per consumer.
#[utoipa::path(get, path = "/api/ops/dlq", tag = "ops",
    responses((status = 200, body = DeadLetters)))]
pub async fn dlq(State(state): State<AppState>) -> Result<Response, ApiError> {
    let by_consumer: BTreeMap<String, u64> =
        sightline_runtime::consumer::letters::held(&state.bus, None)
            .await?
            .into_iter()
            .map(|(consumer, n)| (consumer, n as u64))
            .collect();
    Ok(Json(DeadLetters {
        total: by_consumer.values().sum(),
        by_consumer,
    })
    .into_response())
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200)))]
pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// Ready to answer: NATS connected, Redis answering, the projections open.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200), (status = 503, description = "what is not ready")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let mut problems = Vec::new();
    if state.bus.client.connection_state() != async_nats::connection::State::Connected {
        problems.push("NATS is not connected".to_owned());
    }
    let mut conn = state.counters().store.connection();
    let ping: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
    if let Err(e) = ping {
        problems.push(format!("Redis: {e}"));
    }
    if let Err(e) = state.search().count().await {
        problems.push(e.message);
    }
    if problems.is_empty() {
        Json(serde_json::json!({ "status": "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "not_ready", "problems": problems })),
        )
            .into_response()
    }
}

/// Prometheus metrics of this process.
pub async fn metrics() -> Response {
    use prometheus::Encoder;
    let mut out = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(e) = encoder.encode(&sightline_runtime::metrics::registry().gather(), &mut out) {
        return ApiError::internal(format!("metrics: {e}")).into_response();
    }
    (
        [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
        out,
    )
        .into_response()
}
