//! `POST /v1/logs`: OTLP/HTTP logs, as an OpenTelemetry SDK or Collector exports
//! them (protobuf or JSON, optionally gzip). Answers as the OTLP specification
//! says: 200 with a partial success naming the records refused, 400 for a body
//! that cannot be read (not retryable), 503 with `Retry-After` when the bus cannot
//! take the records now, 413 over the body limit, 415 for another content type.
//! Failures of a protobuf request carry a protobuf `google.rpc.Status`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sightline_ingest::otlp::{self, Format};
use sightline_ingest::{decompress, ContentEncoding, IngestError};
use sightline_schemas::OffsetDateTime;

use crate::error::ApiError;
use crate::ingest::{publish_events, retry_later, IngestReport, MAX_LISTED_ERRORS};
use crate::state::AppState;

/// Refused records named in a partial success's message (the report keeps more).
const NAMED_IN_MESSAGE: usize = 5;
const _: () = assert!(NAMED_IN_MESSAGE <= MAX_LISTED_ERRORS);

/// Receives OpenTelemetry log records.
///
/// The body is an `ExportLogsServiceRequest` in protobuf (`application/x-protobuf`)
/// or JSON (`application/json`), optionally with `Content-Encoding: gzip`. Every
/// record becomes a `log` event; records that fail validation are counted in
/// `partialSuccess.rejectedLogRecords` and the first are named in its
/// `errorMessage`. The same request sent again is stored once.
#[utoipa::path(post, path = "/v1/logs", tag = "logs",
    request_body(description = "An OTLP ExportLogsServiceRequest",
        content((Vec<u8> = "application/x-protobuf"), (Object = "application/json"))),
    responses(
        (status = 200, description = "An ExportLogsServiceResponse, in the request's format; \
            `partialSuccess` says how many records were refused and why",
            content((Vec<u8> = "application/x-protobuf"), (Object = "application/json"))),
        (status = 400, description = "the body is not an ExportLogsServiceRequest (do not retry); \
            a protobuf request gets a protobuf google.rpc.Status",
            content((Vec<u8> = "application/x-protobuf"))),
        (status = 413, description = "the body, or the body once decompressed, is over the ingest limit",
            content((Vec<u8> = "application/x-protobuf"))),
        (status = 415, description = "the content type is neither application/x-protobuf nor \
            application/json, or the content encoding is not gzip or deflate"),
        (status = 503, description = "the bus cannot take the records now; retry after `Retry-After` seconds",
            headers(("Retry-After" = u64, description = "seconds to wait")),
            content((Vec<u8> = "application/x-protobuf"))),
    ))]
pub async fn export(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let format = match Format::from_content_type(header(header::CONTENT_TYPE)) {
        Ok(format) => format,
        Err(e) => return refused(None, &e),
    };
    let encoding = match ContentEncoding::from_header(header(header::CONTENT_ENCODING)) {
        Ok(encoding) => encoding,
        Err(e) => return refused(Some(format), &e),
    };
    let limit = state.settings.api.max_ingest_bytes;
    let request = decompress(&body, encoding, limit).and_then(|b| otlp::decode(&b, format));
    let request = match request {
        Ok(request) => request,
        Err(e) => return refused(Some(format), &e),
    };
    let events = otlp::events(&request, OffsetDateTime::now_utc())
        .into_iter()
        .map(|p| (p.place, Ok(p.event)))
        .collect();
    match publish_events(&state.publisher, events).await {
        Ok(report) => answer(format, &report),
        Err(e) => failed(format, e),
    }
}

fn answer(format: Format, report: &IngestReport) -> Response {
    let mut reasons: Vec<String> = report
        .errors
        .iter()
        .take(NAMED_IN_MESSAGE)
        .map(|e| format!("{}: {}", e.place, e.error))
        .collect();
    let unnamed = report.rejected.saturating_sub(reasons.len() as u64);
    if unnamed > 0 {
        reasons.push(format!("and {unnamed} more"));
    }
    let body = otlp::response(report.rejected, reasons.join("; "), format);
    with_type(StatusCode::OK, format, body)
}

/// A request refused as a whole.
fn refused(format: Option<Format>, e: &IngestError) -> Response {
    let error = ApiError::from(e);
    match format {
        Some(Format::Protobuf) => with_type(
            error.status,
            Format::Protobuf,
            otlp::status(false, &error.message),
        ),
        _ => error.into_response(),
    }
}

/// The bus (or something past it) failed: retryable unless it was our own fault.
fn failed(format: Format, e: ApiError) -> Response {
    let status = e.status;
    let response = match format {
        Format::Protobuf => with_type(
            status,
            format,
            otlp::status(status == StatusCode::SERVICE_UNAVAILABLE, &e.message),
        ),
        Format::Json => e.into_response(),
    };
    retry_later(status, response)
}

fn with_type(status: StatusCode, format: Format, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
}
