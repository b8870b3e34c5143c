//! /api/logs/tail: matching events as they are published, as server-sent events.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use sightline_search::tail::{self, TailFilter, TailItem, MAX_RATE};
use utoipa::IntoParams;

use super::search::SearchParams;
use crate::error::ApiError;
use crate::state::AppState;

/// Tails open at once, at most, in one API process: each holds a subscription
/// and tests every event published.
const MAX_TAILS: usize = 64;
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// One open tail; closing the connection drops it.
struct Slot;

impl Slot {
    fn take() -> Option<Slot> {
        OPEN.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_TAILS).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TailParams {
    /// The query, as in `/api/search` (docs/search.md); none shows everything.
    pub q: Option<String>,
    /// Comma-separated kinds, as in `/api/search`.
    #[param(
        pattern = r"^((transaction|error|user_behavior|performance|security|log|fraud_detection)(,(transaction|error|user_behavior|performance|security|log|fraud_detection))*)?$"
    )]
    pub kind: Option<String>,
    /// Comma-separated services.
    pub service: Option<String>,
    /// Log records of this severity.
    #[param(pattern = r"^(trace|debug|info|warn|error|fatal)$")]
    pub severity: Option<String>,
    /// Events shown per second at most (default 100, at most 1000); the rest are
    /// counted in `skipped` events.
    #[param(minimum = 1, maximum = 1000)]
    pub rate: Option<u32>,
}

/// Follows matching events as they are published.
///
/// A `text/event-stream`: `log` events carry a hit as `/api/search` shows it
/// (whole, with references for cards and IPs); past `rate` a second, events are
/// skipped and a `skipped` event says how many, once a second. Events are
/// tested as they arrive, before any projection; fuzziness does not apply.
#[utoipa::path(get, path = "/api/logs/tail", tag = "logs", params(TailParams),
    responses((status = 200, description = "text/event-stream of `log` and `skipped` events",
            content_type = "text/event-stream"),
        (status = 400, description = "a bad query or parameter, named"),
        (status = 503, description = "too many tails open, or the bus is unreachable")))]
pub async fn tail(
    State(state): State<AppState>,
    Query(p): Query<TailParams>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let rate = p.rate.unwrap_or(100);
    if rate == 0 || rate > MAX_RATE {
        return Err(ApiError::bad_request(format!("rate must be 1-{MAX_RATE}")));
    }
    let search = SearchParams {
        q: p.q,
        kind: p.kind,
        service: p.service,
        severity: p.severity,
        ..SearchParams::default()
    };
    let filter = TailFilter::new(&search.request(None)?)?;
    let slot = Slot::take().ok_or_else(|| {
        ApiError::unavailable(format!("{MAX_TAILS} tails are open; close one and retry"))
    })?;
    let pii = tail::hasher(&state.settings.search, &state.settings.data_dir)?;
    let items = tail::follow(&state.bus.client, filter, pii, rate).await?;
    let events = items.map(move |item| {
        let _open = &slot;
        Ok(match item {
            TailItem::Hit(hit) => SseEvent::default()
                .event("log")
                .json_data(&hit)
                .unwrap_or_else(|e| SseEvent::default().event("problem").data(e.to_string())),
            TailItem::Skipped(n) => SseEvent::default()
                .event("skipped")
                .data(serde_json::json!({ "skipped": n }).to_string()),
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
