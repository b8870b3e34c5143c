//! /api/search/facets: what the page's explorer draws beside the hits of a
//! query: their count over time and the top values of a few fields.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use sightline_search::query::{Agg, AggRequest, AggResult, Field};
use utoipa::IntoParams;

use super::params::list;
use super::search::SearchParams;
use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// Values shown per field.
const TOP: usize = 8;
/// Fields faceted when none are asked for.
const DEFAULT_FIELDS: &str = "kind,service,severity";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FacetsParams {
    /// The query, as in `/api/search` (docs/search.md).
    pub q: Option<String>,
    /// Comma-separated kinds, as in `/api/search`.
    #[param(
        pattern = r"^((transaction|error|user_behavior|performance|security|log|fraud_detection)(,(transaction|error|user_behavior|performance|security|log|fraud_detection))*)?$"
    )]
    pub kind: Option<String>,
    /// Comma-separated services.
    pub service: Option<String>,
    /// RFC 3339, inclusive.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Seconds per bar of the histogram (default 60).
    #[param(minimum = 1, maximum = 86400)]
    pub interval: Option<u64>,
    /// Comma-separated fields to give the top values of (default
    /// kind,service,severity): kind, service, status, user_id, endpoint,
    /// error_type, currency, payment_method, country, action, severity, logger,
    /// or a log attribute's text values (`attributes.http.route`).
    #[param(
        pattern = r"^((kind|service|status|user_id|endpoint|error_type|currency|payment_method|country|action|severity|logger|attributes(\.[a-z0-9_-]+)+)(,(kind|service|status|user_id|endpoint|error_type|currency|payment_method|country|action|severity|logger|attributes(\.[a-z0-9_-]+)+))*)?$"
    )]
    pub fields: Option<String>,
}

/// The aggregation giving the top values of `name`.
fn top_values(name: &str) -> Result<Agg, ApiError> {
    if let Some(attribute) = name.strip_prefix("attributes.") {
        if sightline_schemas::log::is_normalized_attribute_name(attribute) {
            return Ok(Agg::AttributeTerms {
                attribute: attribute.to_owned(),
                size: TOP,
            });
        }
    }
    serde_json::from_value::<Field>(serde_json::Value::String(name.to_owned()))
        .ok()
        .filter(|f| !f.is_numeric())
        .map(|field| Agg::Terms { field, size: TOP })
        .ok_or_else(|| ApiError::bad_request(format!("fields: `{name}` cannot be faceted")))
}

/// The hits of a query over time, and the top values of some fields.
///
/// `histogram` counts matching documents per `interval` seconds (bars with
/// none are left out); `facets` gives each field's most frequent values.
#[utoipa::path(get, path = "/api/search/facets", tag = "search", params(FacetsParams),
    responses((status = 200, description = "`total`, `histogram` and `facets`", body = Object),
        (status = 400, description = "a bad query or parameter, named")))]
pub async fn facets(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<FacetsParams>,
) -> Result<Response, ApiError> {
    let interval = p.interval.unwrap_or(60);
    if interval == 0 || interval > 86_400 {
        return Err(ApiError::bad_request("interval must be 1-86400 seconds"));
    }
    let fields = list(Some(p.fields.as_deref().unwrap_or(DEFAULT_FIELDS)))
        .into_iter()
        .map(|name| Ok((top_values(&name)?, name)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let query = SearchParams {
        q: p.q,
        kind: p.kind,
        service: p.service,
        since: p.since,
        until: p.until,
        ..SearchParams::default()
    }
    .request(None)?;
    let mut aggs = BTreeMap::from([(
        "histogram".to_owned(),
        Agg::DateHistogram {
            interval_secs: interval,
        },
    )]);
    for (agg, name) in &fields {
        aggs.insert(format!("field:{name}"), agg.clone());
    }
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let total = state
        .search()
        .search(&sightline_search::query::SearchRequest {
            size: 1,
            highlight: false,
            ..query.clone()
        })
        .await?
        .total;
    let mut results = state
        .search()
        .aggregate(&AggRequest { query, aggs })
        .await?;
    let buckets = |r: Option<AggResult>| match r {
        Some(AggResult::Buckets(b)) => b,
        _ => Vec::new(),
    };
    let histogram = buckets(results.remove("histogram"));
    let facets: BTreeMap<&str, _> = fields
        .iter()
        .map(|(_, name)| {
            (
                name.as_str(),
                buckets(results.remove(&format!("field:{name}"))),
            )
        })
        .collect();
    Ok(stamped(
        mark,
        serde_json::json!({ "total": total, "histogram": histogram, "facets": facets }),
    ))
}
