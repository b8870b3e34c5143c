//! The document as this deployment answers: the handlers' annotations say what
//! each route answers when it succeeds and in its own words; every route can also
//! answer what the layers around it answer (a bad parameter, an unknown key, a
//! body too large, a store that is down), and that depends on the deployment
//! (API keys or none). Added here once, rather than on every annotation.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

use crate::http::{MAX_HEADERS, MAX_HEADER_BYTES, MAX_URI_BYTES};

/// Routes anyone may call, keys or not: health, the page's scripts, and the
/// constant answers of the Elasticsearch handshake (docs/ingest.md).
const PUBLIC: [&str; 8] = [
    "/healthz",
    "/explorer.js",
    "/issues.js",
    "/readyz",
    "/_license",
    "/_xpack",
    "/_index_template/{name}",
    "/_ilm/policy/{name}",
];

/// Routes that need the operator role when keys are configured.
const OPERATOR: [(&str, &str); 12] = [
    ("post", "/v1/logs"),
    ("post", "/_bulk"),
    ("put", "/_bulk"),
    ("post", "/{index}/_bulk"),
    ("put", "/{index}/_bulk"),
    ("post", "/api/fraud/detections/{id}/verdict"),
    ("post", "/api/logs/ingest"),
    ("post", "/api/logs/upload"),
    ("post", "/api/alerts/silences"),
    ("delete", "/api/alerts/silences/{id}"),
    ("post", "/api/alerts/{fingerprint}/ack"),
    ("post", "/api/issues/{id}/status"),
];

/// Every error body: `{"error": {"code", "message"}}`.
pub const ERROR_SCHEMA: &str = "Error";

/// `doc` as a deployment with (`keyed`) or without API keys answers.
pub fn for_deployment(mut doc: OpenApi, keyed: bool) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ERROR_SCHEMA.into(), error_schema());
    if !keyed {
        // Open: no route asks for a key, so none is declared.
        doc.security = None;
        components.security_schemes.clear();
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            let public = PUBLIC.contains(&path.as_str());
            if public || !keyed {
                op.security = Some(Vec::new());
            }
            let operator = OPERATOR.contains(&(method, path.as_str()));
            add_errors(op, keyed && !public, operator);
        }
    }
    doc
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("post", item.post.as_mut()),
        ("put", item.put.as_mut()),
        ("delete", item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// The answers of the layers around a handler, where they apply.
fn add_errors(op: &mut Operation, keyed: bool, operator: bool) {
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let body = op.request_body.as_ref().map(|b| {
        b.content
            .keys()
            .any(|content_type| content_type == "application/json")
    });
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.into())
            .or_insert_with(|| error_response(description));
    };
    if has_params || body.is_some() {
        add(
            "400",
            "a parameter or the body is invalid; the message names it",
        );
    }
    if keyed {
        add("401", "no API key, or an unknown one");
        if operator {
            add("403", "the key's role may not do this (operator needed)");
        }
    }
    if let Some(json) = body {
        add("413", "the body is over the configured limit");
        if json {
            add("415", "the body is not declared as application/json");
            add("422", "the JSON body does not have the documented shape");
        }
    }
    add(
        "414",
        &format!("the request target is over {} KiB", MAX_URI_BYTES / 1024),
    );
    add(
        "431",
        &format!(
            "over {MAX_HEADERS} headers, or over {} KiB of them",
            MAX_HEADER_BYTES / 1024
        ),
    );
    add("500", "the deployment is misconfigured");
    add("503", "a projection or server is not reachable, or not caught up with `Sightline-Wait-For`; try again");
    // Errors a handler declares in its own words have the same body (and OTLP's
    // protobuf requests get theirs in protobuf besides).
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(response) = response {
            if status.starts_with(['4', '5']) && !response.content.contains_key("application/json")
            {
                response.content.insert(
                    "application/json".into(),
                    Content::new(Some(Ref::from_schema_name(ERROR_SCHEMA))),
                );
            }
        }
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(ERROR_SCHEMA))),
        )
        .build()
        .into()
}

fn error_schema() -> RefOr<utoipa::openapi::schema::Schema> {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let detail = ObjectBuilder::new()
        .property(
            "code",
            text().description(Some(
                "a stable code: bad_request, unauthorized, not_found, unavailable, ...",
            )),
        )
        .property(
            "message",
            text().description(Some("what went wrong, naming the field or parameter")),
        )
        .required("code")
        .required("message");
    ObjectBuilder::new()
        .property("error", detail)
        .required("error")
        .into()
}
