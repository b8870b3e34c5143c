//! /api/search: full text with filters, sorting, pagination, highlighting and
//! fuzzy matching, and autocomplete, over the search projection.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::net::IpAddr;

use sightline_search::document::{lookup_reference, PiiHasher};
use sightline_search::query::{Cursor, DocKind, Filters, SearchRequest, Sort};
use sightline_search::settings::existing_pii_hasher;
use utoipa::IntoParams;

use super::params::{instant, list};
use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query: words of the message (all must match), `"phrases"`,
    /// `field:value`, `field:pre*`, `field:>500`, `field:[a TO b]`,
    /// `_exists_:field`, `attributes.<name>:value`, with `AND`, `OR`, `NOT` (or
    /// `-`) and parentheses (docs/search.md). A syntax error is a 400 naming its
    /// position; at most 4,096 bytes.
    pub q: Option<String>,
    /// Tolerate typos.
    pub fuzzy: Option<bool>,
    /// Wrap matches in `<em>` in `highlights` (default true).
    pub highlight: Option<bool>,
    /// Comma-separated kinds: transaction, error, user_behavior, performance,
    /// security, log, fraud_detection.
    #[param(
        pattern = r"^((transaction|error|user_behavior|performance|security|log|fraud_detection)(,(transaction|error|user_behavior|performance|security|log|fraud_detection))*)?$"
    )]
    pub kind: Option<String>,
    /// Comma-separated services.
    pub service: Option<String>,
    /// Transaction status (`failed`...).
    pub status: Option<String>,
    pub user: Option<String>,
    pub endpoint: Option<String>,
    pub session: Option<String>,
    pub host: Option<String>,
    /// Log records of this severity: trace, debug, info, warn, error or fatal.
    #[param(pattern = r"^(trace|debug|info|warn|error|fatal)$")]
    pub severity: Option<String>,
    /// A card fingerprint: every event of that card. The index holds only a keyed
    /// hash of it, which the API computes with the indexer's key.
    pub card: Option<String>,
    /// An IP address: every event from it (also matched through its keyed hash).
    #[param(inline, value_type = Option<super::params::IpAddress>)]
    pub ip: Option<String>,
    #[param(minimum = 0, maximum = 65535)]
    pub error_code: Option<u16>,
    /// Requests that took at least this many milliseconds.
    pub min_response_time_ms: Option<f64>,
    /// RFC 3339, inclusive.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// newest (default), oldest or relevance.
    #[param(pattern = r"^(newest|oldest|relevance)$")]
    pub sort: Option<String>,
    /// Hits to skip (at most 10,000; deeper pages continue with `after`).
    #[param(maximum = 10000)]
    pub from: Option<usize>,
    /// Hits per page (default 10, at most 1000).
    #[param(maximum = 1000)]
    pub size: Option<usize>,
    /// The `next` cursor of the previous page (`<nanoseconds>_<id>`); pages in
    /// time order (newest first unless `sort=oldest`).
    #[param(
        pattern = r"^(-?[0-9]{1,18}|[1-8][0-9]{18})_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub after: Option<String>,
}

impl SearchParams {
    /// `pii` turns `card` and `ip` into the references the index holds; without
    /// a key nothing was indexed with one, and those filters match nothing.
    pub fn request(&self, pii: Option<&PiiHasher>) -> Result<SearchRequest, ApiError> {
        let ip = self
            .ip
            .as_deref()
            .map(|ip| {
                ip.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| ApiError::bad_request(format!("ip `{ip}` is not an IP address")))
            })
            .transpose()?;
        let reference = |kind: &str, value: &str| lookup_reference(pii, kind, value);
        let kinds = list(self.kind.as_deref())
            .iter()
            .map(|k| {
                k.parse::<DocKind>()
                    .map_err(|e| ApiError::bad_request(format!("kind: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let severity = self
            .severity
            .as_deref()
            .map(|s| {
                sightline_schemas::Severity::ALL
                    .into_iter()
                    .find(|level| level.as_str() == s)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "severity `{s}`: expected trace, debug, info, warn, error or fatal"
                        ))
                    })
            })
            .transpose()?;
        let sort = match self.sort.as_deref() {
            None | Some("newest") => Sort::Newest,
            Some("oldest") => Sort::Oldest,
            // A cursor is a place in time order: with `after`, relevance
            // pages newest first (no schema can tie one parameter to another).
            Some("relevance") if self.after.is_some() => Sort::Newest,
            Some("relevance") => Sort::Relevance,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "sort `{other}`: expected newest, oldest or relevance"
                )))
            }
        };
        let request = SearchRequest {
            text: self
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            fuzzy: self.fuzzy.unwrap_or(false),
            filters: Filters {
                kinds,
                services: list(self.service.as_deref()),
                status: self.status.clone(),
                user_id: self.user.clone(),
                endpoint: self.endpoint.clone(),
                session_id: self.session.clone(),
                host: self.host.clone(),
                severity: severity.map(|s| s.as_str().to_owned()),
                card_ref: self.card.as_deref().map(|c| reference("card", c.trim())),
                ip_ref: ip.map(|ip| reference("ip", &ip.to_string())),
                error_code: self.error_code,
                min_response_time_ms: self.min_response_time_ms,
                since: instant("since", self.since.as_deref())?,
                until: instant("until", self.until.as_deref())?,
                trace_id: None,
                pattern: None,
                issue: None,
                id: None,
            },
            sort,
            from: self.from.unwrap_or(0),
            size: self.size.unwrap_or(10),
            search_after: self.after.as_deref().map(parse_cursor).transpose()?,
            highlight: self.highlight.unwrap_or(true),
        };
        request.checked_size().map_err(ApiError::bad_request)?;
        Ok(request)
    }
}

/// A cursor as the API writes it: `<occurred_at nanoseconds>_<event id>`.
pub fn cursor_token(c: &Cursor) -> String {
    format!("{}_{}", c.occurred_at_ns, c.id)
}

fn parse_cursor(token: &str) -> Result<Cursor, ApiError> {
    let bad = || ApiError::bad_request(format!("after `{token}` is not a cursor from `next`"));
    let (ns, id) = token.split_once('_').ok_or_else(bad)?;
    // Only the form `next` writes (and the document's pattern allows): no `+`,
    // the hyphenated UUID.
    if ns.starts_with('+') || id.len() != 36 {
        return Err(bad());
    }
    Ok(Cursor {
        occurred_at_ns: ns.parse().map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

/// Searches events and fraud detections.
///
/// Returns the exact total, the page of hits with highlighted fragments, and
/// `next`, the cursor of the following page (time sorts).
#[utoipa::path(get, path = "/api/search", tag = "search", params(SearchParams),
    responses((status = 200, description = "total, hits and next cursor", body = Object),
        (status = 400, description = "a bad parameter, named")))]
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<SearchParams>,
) -> Result<Response, ApiError> {
    let pii = if p.card.is_some() || p.ip.is_some() {
        existing_pii_hasher(&state.settings.search, &state.settings.data_dir)
            .map_err(|e| ApiError::unavailable(e.to_string()))?
    } else {
        None
    };
    let request = p.request(pii.as_ref())?;
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let response = state.search().search(&request).await?;
    let next = response.next.as_ref().map(cursor_token);
    Ok(stamped(
        mark,
        serde_json::json!({
            "total": response.total,
            "hits": response.hits,
            "next": next,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AutocompleteParams {
    /// The start of a word (1-32 letters or digits).
    #[param(min_length = 1, max_length = 32, pattern = r"^[\p{L}\p{N}]+$")]
    pub prefix: String,
    /// Suggestions (default 10, at most 50).
    #[param(minimum = 1, maximum = 50)]
    pub size: Option<usize>,
}

/// Words of recent messages starting with `prefix`, most frequent first.
#[utoipa::path(get, path = "/api/search/autocomplete", tag = "search",
    params(AutocompleteParams), responses((status = 200, body = Vec<String>)))]
pub async fn autocomplete(
    State(state): State<AppState>,
    Query(p): Query<AutocompleteParams>,
) -> Result<Response, ApiError> {
    let size = p.size.unwrap_or(10);
    if size == 0 || size > 50 {
        return Err(ApiError::bad_request("size must be 1-50"));
    }
    let mark = state.marks.current().search;
    let words = state.search().suggest(&p.prefix, size).await?;
    Ok(stamped(mark, words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_a_checked_request() {
        let p = SearchParams {
            q: Some(" payment failed ".into()),
            kind: Some("transaction,error".into()),
            sort: Some("oldest".into()),
            size: Some(5),
            ..SearchParams::default()
        };
        let r = p.request(None).unwrap();
        assert_eq!(r.text.as_deref(), Some("payment failed"));
        assert_eq!(r.filters.kinds, [DocKind::Transaction, DocKind::Error]);
        assert_eq!(r.sort, Sort::Oldest);
        assert!(r.highlight);
        let bad = |p: SearchParams| p.request(None).unwrap_err().message;
        assert!(bad(SearchParams {
            kind: Some("txn".into()),
            ..SearchParams::default()
        })
        .starts_with("kind:"));
        assert!(bad(SearchParams {
            size: Some(5000),
            ..SearchParams::default()
        })
        .contains("size"));
        assert!(bad(SearchParams {
            after: Some("nope".into()),
            ..SearchParams::default()
        })
        .starts_with("after"));
    }

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            occurred_at_ns: 1_700_000_000_123_456_789,
            id: uuid::Uuid::now_v7(),
        };
        assert_eq!(parse_cursor(&cursor_token(&c)).unwrap(), c);
    }
}
