//! /api/logs/{id} and /api/logs/{id}/context: one event whole, and what happened
//! around it: the rest of its trace, or else its service's events just before
//! and just after it.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use sightline_search::query::{Filters, Hit, SearchRequest, Sort};
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// Events on each side of the one asked about, at most.
const MAX_CONTEXT: usize = 200;

fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_request(format!("id `{id}` is not an event id (a UUID)")))
}

async fn find(state: &AppState, id: uuid::Uuid) -> Result<Hit, ApiError> {
    let request = SearchRequest {
        filters: Filters {
            id: Some(id),
            ..Filters::default()
        },
        size: 1,
        ..SearchRequest::default()
    };
    let found = state.search().search(&request).await?;
    found.hits.into_iter().find(|h| h.id == id).ok_or_else(|| {
        ApiError::not_found(format!(
            "no event {id} in the search index (not indexed yet, past retention, or never sent)"
        ))
    })
}

/// One event (or fraud detection), whole.
///
/// Every field and attribute the event holds, with card fingerprints and IP
/// addresses only as their keyed references.
#[utoipa::path(get, path = "/api/logs/{id}", tag = "logs",
    params(("id" = Uuid, Path, description = "The event's id")),
    responses((status = 200, description = "the hit, with `event` whole", body = Object),
        (status = 400, description = "the id is not a UUID"),
        (status = 404, description = "no such event in the index")))]
pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    Ok(stamped(mark, find(&state, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContextParams {
    /// Events on each side (default 20, at most 200).
    #[param(minimum = 1, maximum = 200)]
    pub size: Option<usize>,
}

/// What happened around an event.
///
/// With a `trace_id` that other events share, the other events of that trace;
/// otherwise the events of the same service. `before` ends just before the event and `after` starts
/// just after it, both oldest first; `by` says which.
#[utoipa::path(get, path = "/api/logs/{id}/context", tag = "logs",
    params(("id" = Uuid, Path, description = "The event's id"), ContextParams),
    responses((status = 200, description = "`by`, `event`, `before` and `after`", body = Object),
        (status = 400, description = "a bad id or size"),
        (status = 404, description = "no such event in the index")))]
pub async fn context(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(p): Query<ContextParams>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let size = p.size.unwrap_or(20);
    if size == 0 || size > MAX_CONTEXT {
        return Err(ApiError::bad_request(format!(
            "size must be 1-{MAX_CONTEXT}"
        )));
    }
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let anchor = find(&state, id).await?;
    let cursor = anchor.cursor();
    let around = |filters: Filters| {
        let state = state.clone();
        async move {
            let side = |sort: Sort| SearchRequest {
                filters: filters.clone(),
                sort,
                size,
                search_after: Some(cursor),
                highlight: false,
                ..SearchRequest::default()
            };
            let mut before = state.search().search(&side(Sort::Newest)).await?.hits;
            before.reverse();
            let after = state.search().search(&side(Sort::Oldest)).await?.hits;
            Ok::<_, ApiError>((before, after))
        }
    };
    // A trace of one event says nothing: then the service's neighbours do.
    if let Some(trace_id) = anchor.event["trace_id"].as_str() {
        let (before, after) = around(Filters {
            trace_id: Some(trace_id.to_owned()),
            ..Filters::default()
        })
        .await?;
        if !before.is_empty() || !after.is_empty() {
            return Ok(context_answer(mark, "trace", anchor, before, after));
        }
    }
    let (before, after) = around(Filters {
        services: vec![anchor.service.clone()],
        ..Filters::default()
    })
    .await?;
    Ok(context_answer(mark, "service", anchor, before, after))
}

fn context_answer(
    mark: Option<u64>,
    by: &str,
    event: Hit,
    before: Vec<Hit>,
    after: Vec<Hit>,
) -> Response {
    stamped(
        mark,
        serde_json::json!({ "by": by, "event": event, "before": before, "after": after }),
    )
}
