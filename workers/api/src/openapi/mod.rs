//! The OpenAPI document the API serves at /api/openapi.json, generated from the
//! handlers' annotations so it cannot drift from the routes, then completed with
//! what the layers around them answer in this deployment (see [`contract`]).

pub mod contract;
mod events;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    alerts, analytics, anomalies, bulk, dashboard, event, facets, fraud, issues, logs, ops, otlp,
    patterns, performance, search, tail,
};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sightline",
        description = "Query API over Sightline's projections. Errors are \
            `{\"error\": {\"code\", \"message\"}}`. Responses carry `Sightline-Watermark`, the \
            stream sequence the projection had applied; send `Sightline-Wait-For: <sequence>` \
            (e.g. the `last_sequence` of an ingest) to read your own writes."
    ),
    paths(
        logs::ingest, logs::upload, logs::recent, logs::stats, event::one, event::context, tail::tail, otlp::export,
        bulk::bulk, bulk::bulk_into, bulk::license, bulk::xpack, bulk::index_template,
        bulk::ilm_policy,
        search::search, search::autocomplete, facets::facets, patterns::patterns,
        issues::list_issues, issues::show, issues::set_status,
        analytics::transactions, analytics::errors, analytics::user_behavior, analytics::trends,
        performance::metrics, performance::api_response_times, performance::database_latency,
        performance::slow_requests,
        fraud::detect, fraud::suspicious, fraud::stats, fraud::verdict,
        dashboard::overview, dashboard::metrics, dashboard::charts, dashboard::stream,
        alerts::active, alerts::history, alerts::silences, alerts::create_silence,
        alerts::expire_silence, alerts::acknowledge, anomalies::anomalies,
        ops::consumers, ops::watermarks, ops::dlq, ops::healthz, ops::readyz,
        crate::page::explorer, crate::page::issues,
    ),
    modifiers(&ApiKeys),
    security(("api_key" = [])),
    tags(
        (name = "logs", description = "Ingest and the latest events"),
        (name = "search", description = "Full-text search over the search projection"),
        (name = "issues", description = "Errors grouped into issues, and operators' decisions on them"),
        (name = "analytics", description = "Counters over a window ending now"),
        (name = "performance", description = "Latency and slow requests"),
        (name = "fraud", description = "Fraud detections"),
        (name = "dashboard", description = "What the built-in page shows"),
        (name = "page", description = "The built-in page's own files"),
        (name = "alerts", description = "Alerts and silences"),
        (name = "ops", description = "Consumers, watermarks, dead letters, health"),
    )
)]
pub struct ApiDoc;

struct ApiKeys;

impl Modify for ApiKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as a deployment with (`keyed`) or without API keys answers.
pub fn for_deployment(keyed: bool) -> serde_json::Value {
    let doc = contract::for_deployment(ApiDoc::openapi(), keyed);
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    events::add(&mut doc);
    doc
}

pub async fn document(State(state): State<AppState>) -> Response {
    Json(for_deployment(!state.keys.is_open())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_path_is_documented() {
        let doc = ApiDoc::openapi();
        let source = include_str!("../routes/mod.rs");
        let mut checked = 0;
        for call in source.split(".route(").skip(1) {
            let path = call.split('"').nth(1).expect("a quoted path");
            if path == "/" || path == "/api/openapi.json" || path == "/metrics" {
                continue;
            }
            assert!(
                doc.paths.paths.contains_key(path),
                "{path} is not documented"
            );
            checked += 1;
        }
        assert!(checked >= 31, "every route was found ({checked})");
    }

    #[test]
    fn an_open_deployment_declares_no_key_and_every_route_its_errors() {
        let doc = for_deployment(false);
        assert!(doc.get("security").is_none(), "no key asked for");
        let paths = doc["paths"].as_object().unwrap();
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                assert_eq!(op["security"], serde_json::json!([]), "{method} {path}");
                assert!(op["responses"]["503"].is_object(), "{method} {path}");
                assert!(op["responses"].get("401").is_none(), "{method} {path}");
            }
        }
    }
}
