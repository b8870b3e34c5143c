//! /api/patterns: the templates the messages of a window fall into, most
//! frequent first, each with its trend, when it was first and last seen, and
//! its latest event.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use sightline_search::query::{
    groups_of, Agg, AggRequest, Bucket, DocKind, Field, Hit, SearchRequest,
};
use time::OffsetDateTime;
use utoipa::IntoParams;

use super::params::parse_window;
use super::search::SearchParams;
use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// Bars of a pattern's trend over the window.
const TREND_BARS: u64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PatternsParams {
    /// How far back from now: a number and a unit (`s`, `m`, `h`, `d`); default `1h`.
    #[param(pattern = r"^[1-9][0-9]{0,5}[smhd]$")]
    pub window: Option<String>,
    /// Comma-separated services.
    pub service: Option<String>,
    /// Log records of this severity: trace, debug, info, warn, error or fatal.
    #[param(pattern = r"^(trace|debug|info|warn|error|fatal)$")]
    pub severity: Option<String>,
    /// Only messages matching this query, as in `/api/search` (docs/search.md).
    pub q: Option<String>,
    /// Patterns listed (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// One pattern of the window.
#[derive(Debug, Serialize)]
struct PatternSummary {
    /// The id: `pattern:<id>` in a query finds its events.
    id: String,
    /// The messages' shared words, values as `<*>`.
    template: String,
    /// Events of the window.
    count: u64,
    /// Its share of the window's matching events.
    share: f64,
    /// Events per bar over the window (bars with none left out).
    trend: Vec<Bucket>,
    /// When its first event ever happened (RFC 3339), as the index's miner
    /// recorded it.
    #[serde(with = "time::serde::rfc3339::option")]
    first_seen: Option<OffsetDateTime>,
    /// When its latest event of the window happened.
    #[serde(with = "time::serde::rfc3339")]
    last_seen: OffsetDateTime,
    /// Its latest event.
    sample: Hit,
}

/// The top patterns of a window.
///
/// Messages that share their wording (values aside) share a pattern. Each
/// pattern comes with its count and share of the window, its trend in
/// `bar_secs` bars, when it was first seen ever and last seen in the window,
/// and its latest event.
#[utoipa::path(get, path = "/api/patterns", tag = "search", params(PatternsParams),
    responses((status = 200, description = "`total` (matching events of the window, fraud detections aside), `bar_secs` and `patterns`: `id`, `template`, \
        `count`, `share`, `trend`, `first_seen`, `last_seen` and `sample`, most frequent first", body = Object),
        (status = 400, description = "a bad query or parameter, named")))]
pub async fn patterns(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<PatternsParams>,
) -> Result<Response, ApiError> {
    let length = parse_window(p.window.as_deref())?;
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-100"));
    }
    let bar_secs = (length.as_secs() / TREND_BARS).max(1);
    let now = OffsetDateTime::now_utc();
    let since = now - length;
    let query = SearchParams {
        q: p.q,
        service: p.service,
        severity: p.severity,
        ..SearchParams::default()
    }
    .request(None)?;
    let mut query = SearchRequest {
        highlight: false,
        ..query
    };
    query.filters.since = Some(since);
    // Events have patterns; fraud detections do not.
    query.filters.kinds = DocKind::ALL
        .into_iter()
        .filter(|k| *k != DocKind::FraudDetection)
        .collect();
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let trend = BTreeMap::from([(
        "trend".to_owned(),
        Agg::DateHistogram {
            interval_secs: bar_secs,
        },
    )]);
    let search = state.search();
    let request = AggRequest::grouped(query.clone(), Field::Pattern, limit, trend);
    let series = groups_of(search.aggregate(&request).await?);
    let total = search
        .search(&SearchRequest {
            size: 1,
            ..query.clone()
        })
        .await?
        .total;
    let registry = state.patterns();
    let samples = series.iter().map(|s| {
        let mut one = SearchRequest {
            size: 1,
            ..query.clone()
        };
        one.filters.pattern = Some(s.key.clone());
        let search = search.clone();
        let registry = registry.clone();
        async move {
            let hit = search.search(&one).await?.hits.into_iter().next();
            let record = registry.get(&s.key).await?;
            Ok::<_, ApiError>((hit, record))
        }
    });
    let found = try_join_all(samples).await?;
    let patterns: Vec<PatternSummary> = series
        .into_iter()
        .zip(found)
        .filter_map(|(mut s, (hit, record))| {
            // Counted, then deleted by retention before its sample was read.
            let sample = hit?;
            let trend = s.buckets("trend");
            Some(PatternSummary {
                template: record
                    .as_ref()
                    .map_or_else(|| sample.message.clone(), |r| r.cluster.template()),
                first_seen: record.and_then(|r| {
                    OffsetDateTime::from_unix_timestamp_nanos(r.first_seen_ns.into()).ok()
                }),
                last_seen: sample.occurred_at,
                share: if total == 0 {
                    0.0
                } else {
                    s.count as f64 / total as f64
                },
                id: s.key,
                count: s.count,
                trend,
                sample,
            })
        })
        .collect();
    Ok(stamped(
        mark,
        serde_json::json!({ "total": total, "bar_secs": bar_secs, "patterns": patterns }),
    ))
}
