//! The Elasticsearch-compatible door: `POST /_bulk` and `POST /{index}/_bulk`,
//! and the handshake shippers make before their first bulk (`GET /` for the
//! version, the license and x-pack checks, template and ILM installs), answered
//! harmlessly so Filebeat, Logstash, Fluent Bit, Vector and the Elasticsearch
//! clients work with their stock Elasticsearch output. Every answer carries
//! `X-Elastic-Product: Elasticsearch`, which the official clients require.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sightline_ingest::{bulk, decompress, ContentEncoding};
use sightline_schemas::OffsetDateTime;

use crate::error::ApiError;
use crate::ingest::{publish_events, retry_later};
use crate::state::AppState;

/// The Elasticsearch version Sightline answers as: shippers pick their wire
/// format from it (8.x: no mapping types, `_bulk` without `_type`).
pub const COMPATIBLE_VERSION: &str = "8.17.0";

const PRODUCT: (HeaderName, HeaderValue) = (
    HeaderName::from_static("x-elastic-product"),
    HeaderValue::from_static("Elasticsearch"),
);

/// Stores the documents of a bulk body as events.
///
/// NDJSON pairs of an action (`index` or `create`) and a document. A document with
/// Sightline's envelope is that event; any other is read as ECS and becomes a
/// `log` event. Answered like Elasticsearch: 200 with one item per action and its
/// own status (201, or 400 with the reason naming the line). An action line that
/// is not an action refuses the whole body, as Elasticsearch does.
#[utoipa::path(method(post, put), path = "/_bulk", tag = "logs",
    request_body(content = String, description = "Elasticsearch bulk NDJSON",
        content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "`{took, errors, items}`: one item per action with its \
            status; `errors` is true when any item failed", body = Object),
        (status = 400, description = "the body is empty, an action line is not an action (named by \
            its line), an index or create action has no document, or the compression is broken; \
            nothing was taken"),
        (status = 413, description = "the body, or the body once decompressed, is over the ingest limit"),
        (status = 415, description = "the content encoding is not gzip or deflate"),
        (status = 503, description = "the bus cannot take the documents now; retry after `Retry-After` seconds",
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    ))]
pub async fn bulk(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    run(&state, None, &headers, &body).await
}

/// Stores the documents of a bulk body, `index` naming the index of actions
/// that name none (and the service of ECS documents that name none).
#[utoipa::path(method(post, put), path = "/{index}/_bulk", tag = "logs",
    params(("index" = String, Path, description = "the default index of the actions")),
    request_body(content = String, description = "Elasticsearch bulk NDJSON",
        content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "`{took, errors, items}`, as for /_bulk", body = Object),
        (status = 400, description = "the body is empty, an action line is not an action (named by \
            its line), an index or create action has no document, or the compression is broken; \
            nothing was taken"),
        (status = 413, description = "the body, or the body once decompressed, is over the ingest limit"),
        (status = 415, description = "the content encoding is not gzip or deflate"),
        (status = 503, description = "the bus cannot take the documents now; retry after `Retry-After` seconds",
            headers(("Retry-After" = u64, description = "seconds to wait"))),
    ))]
pub async fn bulk_into(
    State(state): State<AppState>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    run(&state, Some(&index), &headers, &body).await
}

async fn run(state: &AppState, index: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Response {
    let started = Instant::now();
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let limit = state.settings.api.max_ingest_bytes;
    let body = match ContentEncoding::from_header(encoding).and_then(|e| decompress(body, e, limit))
    {
        Ok(body) => body,
        Err(e) => return product(ApiError::from(&e).into_response()),
    };
    if body.trim_ascii().is_empty() {
        // As Elasticsearch answers: a bulk needs at least one action.
        return product(
            ApiError::bad_request("the bulk body is empty: send NDJSON action and document lines")
                .into_response(),
        );
    }
    let mut items = match bulk::parse(&body, index, OffsetDateTime::now_utc()) {
        Ok(items) => items,
        // As Elasticsearch: a body whose actions cannot be read is refused whole.
        Err(reason) => return product(ApiError::bad_request(reason).into_response()),
    };
    // Moved out, not copied: the answer needs only each item's id.
    let events = items
        .iter_mut()
        .filter_map(|item| item.event.take().map(|e| (item.place.clone(), Ok(e))))
        .collect();
    let report = match publish_events(&state.publisher, events).await {
        Ok(report) => report,
        Err(e) => return product(retry_later(e.status, e.into_response())),
    };
    let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    product(Json(bulk::response(&items, &report.refused, took)).into_response())
}

/// `GET /` for an Elasticsearch client: who answers, and as which version.
pub fn info() -> Response {
    product(
        Json(json!({
            "name": "sightline",
            "cluster_name": "sightline",
            "cluster_uuid": "sightline",
            "version": {
                "number": COMPATIBLE_VERSION,
                "build_flavor": "default",
                "build_type": "sightline",
                "lucene_version": "9.12.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        }))
        .into_response(),
    )
}

/// Whether a `GET /` comes from an Elasticsearch client rather than a browser:
/// it asks for JSON, not HTML, or says which client it is.
pub fn is_elasticsearch_client(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    headers.contains_key("x-elastic-client-meta")
        || (accept.contains("json") && !accept.contains("text/html"))
}

/// The license check of Beats and Logstash: a basic license, active.
#[utoipa::path(get, path = "/_license", tag = "logs",
    responses((status = 200, description = "`{license: {status, type, ...}}`, for shippers' \
        start-up checks", body = Object)))]
pub async fn license() -> Response {
    product(Json(json!({ "license": basic_license() })).into_response())
}

/// The x-pack check of Beats and Logstash: no features.
#[utoipa::path(get, path = "/_xpack", tag = "logs",
    responses((status = 200, description = "`{build, license, features}`, for shippers' start-up \
        checks", body = Object)))]
pub async fn xpack() -> Response {
    product(
        Json(json!({ "build": {}, "license": basic_license(), "features": {} })).into_response(),
    )
}

fn basic_license() -> serde_json::Value {
    json!({ "status": "active", "uid": "sightline", "type": "basic", "mode": "basic" })
}

/// A shipper's index template: there is nothing to set up (the stream keeps
/// every event and the projections own their mappings), so a check says it
/// exists and an install succeeds.
#[utoipa::path(method(get, put), path = "/_index_template/{name}", tag = "logs",
    params(("name" = String, Path, description = "the template")),
    responses((status = 200, description = "`{}` to a check, `{acknowledged: true}` to an install",
        body = Object)))]
pub async fn index_template(method: Method) -> Response {
    setup(method)
}

/// A shipper's ILM policy, answered like its index template.
#[utoipa::path(method(get, put), path = "/_ilm/policy/{name}", tag = "logs",
    params(("name" = String, Path, description = "the policy")),
    responses((status = 200, description = "`{}` to a check, `{acknowledged: true}` to an install",
        body = Object)))]
pub async fn ilm_policy(method: Method) -> Response {
    setup(method)
}

fn setup(method: Method) -> Response {
    let body = match method {
        Method::PUT => json!({ "acknowledged": true }),
        _ => json!({}),
    };
    product(Json(body).into_response())
}

fn product(mut response: Response) -> Response {
    response.headers_mut().insert(PRODUCT.0, PRODUCT.1);
    response
}
