//! /api/issues: errors grouped by fingerprint, like an error tracker's issues,
//! and the operators' decisions on them.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use sightline_issues::{Status, StatusChange};
use sightline_search::issues::{self, IssueQuery, IssueSort};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::params::{list, parse_window};
use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// Bars of an issue's trend over the window.
const TREND_BARS: u64 = 24;
/// Events shown on an issue's page.
const SAMPLES: usize = 10;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IssuesParams {
    /// unresolved (default), resolved, ignored or all. A resolved issue seen
    /// again is unresolved, with `regressed`.
    #[param(pattern = r"^(unresolved|resolved|ignored|all)$")]
    pub status: Option<String>,
    /// Comma-separated services.
    pub service: Option<String>,
    /// Issues with events in the last: a number and a unit (`s`, `m`, `h`,
    /// `d`); default `24h`.
    #[param(pattern = r"^[1-9][0-9]{0,5}[smhd]$")]
    pub window: Option<String>,
    /// last_seen (default), first_seen, count or users.
    #[param(pattern = r"^(last_seen|first_seen|count|users)$")]
    pub sort: Option<String>,
    /// Issues listed (default 25, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// The window `text` names (default 24 hours): its start, and a trend bar's seconds.
fn window(text: Option<&str>) -> Result<(OffsetDateTime, u64), ApiError> {
    let length = parse_window(Some(text.unwrap_or("24h")))?;
    let since = OffsetDateTime::now_utc() - length;
    Ok((since, (length.as_secs() / TREND_BARS).max(1)))
}

/// The issues of a window.
///
/// Each has its fingerprint (`id`), `title`, `error_type`, `culprit` (the
/// innermost in-app frame), `status` and `regressed`, its events in the window
/// (`count`) and in the index (`total`), `users` affected, `first_seen`,
/// `last_seen`, hourly `trend`, top `services`, `envs` and `hosts`, the last
/// decision (`decided`) and its `latest` event.
#[utoipa::path(get, path = "/api/issues", tag = "issues", params(IssuesParams),
    responses((status = 200, description = "`issues`, in the order asked", body = Object),
        (status = 400, description = "a bad parameter, named")))]
pub async fn list_issues(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<IssuesParams>,
) -> Result<Response, ApiError> {
    let status = match p.status.as_deref() {
        None => Some(Status::Unresolved),
        Some("all") => None,
        Some(s) => Some(s.parse::<Status>().map_err(ApiError::bad_request)?),
    };
    let sort = p
        .sort
        .as_deref()
        .map(str::parse::<IssueSort>)
        .transpose()
        .map_err(ApiError::bad_request)?
        .unwrap_or_default();
    let limit = p.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-100"));
    }
    let (since, bar_secs) = window(p.window.as_deref())?;
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let query = IssueQuery {
        since: Some(since),
        services: list(p.service.as_deref()),
        status,
        sort,
        limit,
        bar_secs,
    };
    let search = state.search();
    let index = search.index().await?;
    let found = issues::list(index, &state.issue_status, &query).await?;
    Ok(stamped(mark, serde_json::json!({ "issues": found })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IssueParams {
    /// The window `count`, `users`, `trend` and the breakdowns cover (default `24h`).
    #[param(pattern = r"^[1-9][0-9]{0,5}[smhd]$")]
    pub window: Option<String>,
}

/// An issue's fingerprint: 16 hex digits.
fn fingerprint(id: &str) -> Result<&str, ApiError> {
    super::params::fingerprint("id", id, "an issue")
}

/// One issue, with its latest events and every decision on it.
///
/// As in the list, plus `samples` (its latest events, newest first) and
/// `history` (the status changes, oldest first).
#[utoipa::path(get, path = "/api/issues/{id}", tag = "issues",
    params(("id" = String, Path, description = "The issue's fingerprint", pattern = r"^[0-9a-f]{16}$"), IssueParams),
    responses((status = 200, description = "the issue, its `samples` and `history`", body = Object),
        (status = 400, description = "a bad id or window"),
        (status = 404, description = "no event of this issue in the index")))]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<IssueParams>,
) -> Result<Response, ApiError> {
    let id = fingerprint(&id)?;
    let (since, bar_secs) = window(p.window.as_deref())?;
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let search = state.search();
    let index = search.index().await?;
    let issue = issues::one(index, &state.issue_status, id, Some(since), bar_secs)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no issue {id}")))?;
    let samples = issues::samples(index, id, SAMPLES).await?;
    let history = state.issue_status.history(id).await?;
    let json =
        |v: serde_json::Result<serde_json::Value>| v.map_err(|e| ApiError::internal(e.to_string()));
    let mut body = json(serde_json::to_value(issue))?;
    body["samples"] = json(serde_json::to_value(samples))?;
    body["history"] = json(serde_json::to_value(history))?;
    Ok(stamped(mark, body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStatus {
    /// unresolved, resolved or ignored.
    #[schema(pattern = r"^(unresolved|resolved|ignored)$")]
    pub status: String,
    /// Who decides (not blank).
    #[schema(pattern = r"\S", max_length = 200)]
    pub by: String,
    /// Why, for the next operator.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Sets an issue's status (operator role).
///
/// The change is an event on the bus (the `sightline_issue_status` bucket),
/// so a rebuild of the index keeps it. A resolved issue seen again after the
/// change is unresolved again, as a regression.
#[utoipa::path(post, path = "/api/issues/{id}/status", tag = "issues",
    params(("id" = String, Path, description = "The issue's fingerprint", pattern = r"^[0-9a-f]{16}$")),
    request_body = NewStatus,
    responses((status = 200, description = "the change (`decided`) and the status now (`status`, `regressed`)", body = Object),
        (status = 400, description = "a bad id, status, author or note"),
        (status = 404, description = "no event of this issue in the index")))]
pub async fn set_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(new): Json<NewStatus>,
) -> Result<Response, ApiError> {
    let id = fingerprint(&id)?;
    let status = new
        .status
        .parse::<Status>()
        .map_err(ApiError::bad_request)?;
    let change = StatusChange::decided(
        status,
        &new.by,
        new.note.as_deref(),
        OffsetDateTime::now_utc(),
    )
    .map_err(ApiError::bad_request)?;
    let search = state.search();
    let index = search.index().await?;
    let Some(latest) = issues::samples(index, id, 1).await?.into_iter().next() else {
        return Err(ApiError::not_found(format!("no issue {id}")));
    };
    state.issue_status.set(id, &change).await?;
    let now = sightline_issues::effective(Some(&change), Some(latest.occurred_at));
    let body = serde_json::json!({ "id": id, "decided": change, "status": now.status, "regressed": now.regressed });
    Ok(Json(body).into_response())
}
