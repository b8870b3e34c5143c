//! /api/logs: ingest (a body or an uploaded file) and the latest events.

use axum::extract::{Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sightline_search::query::{DocKind, Filters, SearchRequest, SearchResponse};
use utoipa::{IntoParams, ToSchema};

use super::params::{list, CountersRead, WindowParams};
use crate::error::ApiError;
use crate::ingest::{self, IngestReport, Shape};
use crate::state::AppState;
use crate::watermark::{stamped, Projection};

/// Answers an ingest: 200 when anything was taken (or nothing was refused),
/// 422 when every record was refused.
fn report_response(report: IngestReport) -> Response {
    let status = if report.rejected > 0 && report.published + report.duplicates == 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    (status, Json(report)).into_response()
}

/// Publishes events to LOGS.
///
/// The body is one JSON event or a JSON array (`application/json`), or NDJSON
/// (`application/x-ndjson`). Records are validated like `sightline publish`: a bad
/// one is listed with its line or item and the reason, and the rest go through.
#[utoipa::path(post, path = "/api/logs/ingest", tag = "logs",
    request_body(content = String, description = "JSON event, JSON array or NDJSON",
        content_type = "application/x-ndjson"),
    responses((status = 200, body = IngestReport), (status = 422, body = IngestReport,
        description = "every record was refused"), (status = 413, description = "body too large")))]
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Result<Response, ApiError> {
    let shape = Shape::from_content_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let records = ingest::split(&body, shape)?;
    let report = ingest::publish(&state.publisher, &records).await?;
    Ok(report_response(report))
}

/// What an uploaded file holds: events (the default), or log records.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// Read a log file rather than events: auto, json, logfmt or text. Each record
    /// (stack traces kept with their line) becomes a `log` event.
    #[param(pattern = r"^(auto|json|logfmt|text)$")]
    pub format: Option<String>,
    /// The service of log records that name none (read with `format` only;
    /// default: the uploaded file's name).
    pub service: Option<String>,
    /// The zone of timestamps written without one (`+01:00`; read with `format` only).
    #[param(pattern = r"^([+-](0[0-9]|1[0-4]):[0-5][0-9]|Z)$")]
    pub tz: Option<String>,
}

/// Publishes the events of an uploaded file (multipart field `file`): NDJSON or a
/// JSON array, with the same per-record errors as ingest; or, with `format`, a
/// log file whose records become `log` events, each bad one named by its line.
#[utoipa::path(post, path = "/api/logs/upload", tag = "logs", params(UploadParams),
    request_body(content = String, description = "multipart/form-data with a `file` part",
        content_type = "multipart/form-data"),
    responses((status = 200, body = IngestReport), (status = 422, body = IngestReport)))]
pub async fn upload(
    State(state): State<AppState>,
    Query(params): Query<UploadParams>,
    mut multipart: Multipart,
) -> Result<Response, ApiError> {
    let log_file = params.log_options()?;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("multipart body: {e}")))?
    {
        match field.name() {
            Some("file") if file.is_none() => {
                let name = field.file_name().map(str::to_owned);
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::bad_request(format!("the `file` part: {e}")))?;
                file = Some((name, bytes));
            }
            Some("file") => return Err(ApiError::bad_request("send one `file` part, not several")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "the multipart body has a part `{}`; send only `file`",
                    other.unwrap_or_default()
                )))
            }
        }
    }
    let Some((name, bytes)) = file else {
        return Err(ApiError::bad_request(
            "the multipart body has no `file` part",
        ));
    };
    let report = match log_file {
        Some((format, zone)) => {
            let service = params.service_or(name.as_deref());
            ingest::publish_log_file(&state.publisher, &bytes, format, service, zone).await?
        }
        None => {
            let records = ingest::split(&bytes, Shape::Lines)?;
            ingest::publish(&state.publisher, &records).await?
        }
    };
    Ok(report_response(report))
}

/// A zone written as the document's pattern allows: `Z`, or `+hh:mm` / `-hh:mm`
/// up to 14 hours (the CLI's `--tz` is more forgiving).
fn offset(tz: &str) -> Option<time::UtcOffset> {
    let b = tz.as_bytes();
    let strict = tz == "Z"
        || (b.len() == 6
            && (b[0] == b'+' || b[0] == b'-')
            && b[1..3].iter().all(u8::is_ascii_digit)
            && b[3] == b':'
            && b[4..6].iter().all(u8::is_ascii_digit)
            && &tz[1..3] <= "14"
            && b[4] <= b'5');
    strict.then(|| sightline_ingest::parse_utc_offset(tz))?
}

impl UploadParams {
    /// The log file's format and zone, when `format` asks for one.
    fn log_options(
        &self,
    ) -> Result<Option<(sightline_ingest::file::Format, time::UtcOffset)>, ApiError> {
        // `service` and `tz` mean nothing to events, which carry their own; they
        // are used only with `format` (no schema can tie one parameter to
        // another), but a malformed `tz` is refused either way.
        let tz = self.tz.as_deref().unwrap_or("+00:00");
        let zone = offset(tz).ok_or_else(|| {
            ApiError::bad_request(format!(
                "tz `{tz}`: expected an offset such as +01:00 (-14:00 to +14:00) or Z"
            ))
        })?;
        let Some(format) = &self.format else {
            return Ok(None);
        };
        let format = format
            .parse()
            .map_err(|e| ApiError::bad_request(format!("format: {e}")))?;
        Ok(Some((format, zone)))
    }

    fn service_or(&self, file_name: Option<&str>) -> String {
        self.service
            .as_deref()
            .and_then(sightline_schemas::log::normalize_service)
            .unwrap_or_else(|| sightline_ingest::file::service_of_file(file_name))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecentParams {
    /// Comma-separated kinds (`transaction,error`...).
    #[param(
        pattern = r"^((transaction|error|user_behavior|performance|security|log|fraud_detection)(,(transaction|error|user_behavior|performance|security|log|fraud_detection))*)?$"
    )]
    pub kind: Option<String>,
    /// Comma-separated services.
    pub service: Option<String>,
    /// How many (default 50, at most 1000; 0 means the default).
    #[param(minimum = 0, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The newest events in the index.
#[utoipa::path(get, path = "/api/logs/recent", tag = "logs", params(RecentParams),
    responses((status = 200, description = "hits, newest first", body = Object)))]
pub async fn recent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<RecentParams>,
) -> Result<Response, ApiError> {
    let mark = state.watermark_for(Projection::Search, &headers).await?;
    let kinds = list(p.kind.as_deref())
        .iter()
        .map(|k| {
            k.parse::<DocKind>()
                .map_err(|e| ApiError::bad_request(format!("kind: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = SearchRequest {
        filters: Filters {
            kinds,
            services: list(p.service.as_deref()),
            ..Filters::default()
        },
        size: p.limit.unwrap_or(50),
        ..SearchRequest::default()
    };
    request.checked_size().map_err(ApiError::bad_request)?;
    let response: SearchResponse = state.search().search(&request).await?;
    Ok(stamped(mark, response))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogStats {
    /// Events in the window (by occurrence time).
    pub total: u64,
    pub per_second: f64,
    pub by_kind: std::collections::BTreeMap<String, u64>,
    pub by_service: std::collections::BTreeMap<String, u64>,
    /// Events stored in LOGS now, and its last sequence.
    pub stream_messages: u64,
    pub stream_last_sequence: u64,
}

/// Event counts over a window, by kind and service (from the counters).
#[utoipa::path(get, path = "/api/logs/stats", tag = "logs", params(WindowParams),
    responses((status = 200, body = LogStats)))]
pub async fn stats(
    State(state): State<AppState>,
    CountersRead { window, mark, .. }: CountersRead,
) -> Result<Response, ApiError> {
    let total = state.counters().count("total", window).await?.value;
    let stream = state
        .bus
        .js
        .get_stream(sightline_runtime::topology::LOGS)
        .await
        .map_err(|e| ApiError::unavailable(format!("LOGS stream: {e}")))?;
    let info = stream.cached_info().state.clone();
    let stats = LogStats {
        total,
        per_second: total as f64 / window.secs as f64,
        by_kind: state.counters().breakdown("kind", window).await?,
        by_service: state.counters().breakdown("service", window).await?,
        stream_messages: info.messages,
        stream_last_sequence: info.last_sequence,
    };
    Ok(stamped(mark, stats))
}

#[cfg(test)]
mod tests {
    use super::offset;

    #[test]
    fn zones_are_read_exactly_as_documented() {
        assert_eq!(offset("Z"), Some(time::UtcOffset::UTC));
        assert_eq!(offset("-05:30"), time::UtcOffset::from_hms(-5, -30, 0).ok());
        assert!(offset("+14:00").is_some());
        for bad in [
            "utc",
            "z",
            "+15:00",
            "+01:60",
            " +01:00",
            "+1:00",
            "+01:00:00",
        ] {
            assert!(offset(bad).is_none(), "{bad}");
        }
    }
}
