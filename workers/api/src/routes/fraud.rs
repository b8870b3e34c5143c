//! /api/fraud: score a payment without persisting it, list suspicious activity,
//! detection statistics from the detections store, and analysts' verdicts.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sightline_fraud::store::{DetectionQuery, StatsQuery};
use sightline_fraud::verdict::decide;
use sightline_schemas::{Event, OffsetDateTime, Uuid};
use utoipa::{IntoParams, ToSchema};

use super::params::instant;
use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// Scores a transaction event against the scorer's current state.
///
/// Nothing is published or stored; the answer is the detection the scorer would
/// reach (`persisted` is false) and the LOGS sequence of the state it used.
#[utoipa::path(post, path = "/api/fraud/detect", tag = "fraud",
    request_body(content = Object, description = "a transaction event, as published to LOGS"),
    responses((status = 200, description = "the detection, with score and indicators", body = Object),
        (status = 422, description = "not a valid transaction event")))]
pub async fn detect(
    State(state): State<AppState>,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let event: Event = sightline_schemas::decode(&body, sightline_schemas::Encoding::Json)
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let assessment = state.assessor.assess(&event).await?;
    Ok(Json(assessment).into_response())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuspiciousParams {
    /// Lowest score (default: the rules' suspicious score).
    #[param(minimum = 0, maximum = 100)]
    pub min_score: Option<u8>,
    pub user: Option<String>,
    /// An indicator that must be among the detection's.
    #[param(
        pattern = r"^(velocity|ip_velocity|declines|login_failures|bot|high_amount|card_travel|user_travel|new_place|new_device|new_card|shared_card|country_mismatch|ip_change)$"
    )]
    pub indicator: Option<String>,
    /// RFC 3339, by detection time.
    #[param(format = DateTime)]
    pub since: Option<String>,
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Default 50, at most 1000.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// Detections at or above a score, newest first.
#[utoipa::path(get, path = "/api/fraud/suspicious-activities", tag = "fraud",
    params(SuspiciousParams), responses((status = 200, description = "detections", body = [Object])))]
pub async fn suspicious(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<SuspiciousParams>,
) -> Result<Response, ApiError> {
    let mark = state
        .watermark_for(Projection::Detections, &headers)
        .await?;
    let query = DetectionQuery {
        min_score: Some(p.min_score.unwrap_or(state.assessor.suspicious_score())),
        user: p.user,
        indicator: p.indicator,
        since: instant("since", p.since.as_deref())?,
        until: instant("until", p.until.as_deref())?,
        limit: p.limit.unwrap_or(50),
    };
    if query.limit == 0 || query.limit > sightline_fraud::store::MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be 1-{}",
            sightline_fraud::store::MAX_LIMIT
        )));
    }
    query.check()?;
    let detections = state.detections().list(&query).await?;
    Ok(stamped(mark, detections))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// RFC 3339, by detection time.
    #[param(format = DateTime)]
    pub since: Option<String>,
    #[param(format = DateTime)]
    pub until: Option<String>,
}

/// Detections, suspicious ones, indicators, score histogram and amount at risk.
#[utoipa::path(get, path = "/api/fraud/stats", tag = "fraud", params(StatsParams),
    responses((status = 200, description = "detection statistics", body = Object)))]
pub async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<StatsParams>,
) -> Result<Response, ApiError> {
    let mark = state
        .watermark_for(Projection::Detections, &headers)
        .await?;
    let query = StatsQuery {
        since: instant("since", p.since.as_deref())?,
        until: instant("until", p.until.as_deref())?,
        suspicious_score: state.assessor.suspicious_score(),
    };
    let stats = state.detections().stats(&query).await?;
    Ok(stamped(mark, stats))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVerdict {
    /// `confirmed` (it was fraud) or `false_positive` (it was the customer).
    #[schema(pattern = r"^(confirmed|false_positive)$")]
    pub verdict: String,
    /// Who decides (not blank).
    #[schema(pattern = r"\S", max_length = 200)]
    pub analyst: String,
    /// Why, for the next analyst (card numbers in it are masked).
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Records an analyst's verdict on a detection (operator role).
///
/// The verdict goes to FRAUD as an event of its own, so a rebuild of the store
/// keeps it; it belongs to the transaction, and carries over to later revisions
/// and to the transaction's detection under new rules. The store shows it once
/// the fraud-store worker has read it (`Sightline-Wait-For` with the returned
/// `seq` waits for that).
#[utoipa::path(post, path = "/api/fraud/detections/{id}/verdict", tag = "fraud",
    params(("id" = Uuid, Path, description = "the detection")),
    request_body = NewVerdict,
    responses((status = 202, description = "the verdict, published (`verdict`) at FRAUD sequence `seq`", body = Object),
        (status = 404, description = "no such detection")))]
pub async fn verdict(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(new): Json<NewVerdict>,
) -> Result<Response, ApiError> {
    let kind = sightline_fraud::verdict::kind(&new.verdict)?;
    let detection = state
        .detections()
        .detection(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no detection {id}")))?;
    let now = OffsetDateTime::now_utc();
    let verdict = decide(&detection, kind, &new.analyst, new.note.as_deref(), now)?;
    let seq = sightline_fraud::verdict::publish(&state.publisher, &verdict).await?;
    let body = serde_json::json!({ "verdict": verdict, "seq": seq });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
