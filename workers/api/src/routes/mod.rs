//! The routes, grouped by projection, and the one place they are wired with
//! their roles and body limits.

pub mod alerts;
pub mod analytics;
pub mod anomalies;
pub mod bulk;
pub mod dashboard;
pub mod event;
pub mod facets;
pub mod fraud;
pub mod issues;
pub mod logs;
pub mod ops;
pub mod otlp;
pub mod params;
pub mod patterns;
pub mod performance;
pub mod search;
pub mod tail;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};

use crate::auth::require;
use crate::error::json_errors;
use crate::state::AppState;
use sightline_runtime::config::Role;

pub fn router(state: AppState) -> Router {
    let limits = &state.settings.api;
    let reads = Router::new()
        .route("/api/logs/recent", get(logs::recent))
        .route("/api/logs/stats", get(logs::stats))
        .route("/api/logs/tail", get(tail::tail))
        .route("/api/logs/{id}", get(event::one))
        .route("/api/logs/{id}/context", get(event::context))
        .route("/api/search", get(search::search))
        .route("/api/search/autocomplete", get(search::autocomplete))
        .route("/api/search/facets", get(facets::facets))
        .route("/api/patterns", get(patterns::patterns))
        .route("/api/issues", get(issues::list_issues))
        .route("/api/issues/{id}", get(issues::show))
        .route("/api/analytics/transactions", get(analytics::transactions))
        .route("/api/analytics/errors", get(analytics::errors))
        .route(
            "/api/analytics/user-behavior",
            get(analytics::user_behavior),
        )
        .route("/api/analytics/trends", get(analytics::trends))
        .route("/api/performance/metrics", get(performance::metrics))
        .route(
            "/api/performance/api-response-times",
            get(performance::api_response_times),
        )
        .route(
            "/api/performance/database-latency",
            get(performance::database_latency),
        )
        .route(
            "/api/performance/slow-requests",
            get(performance::slow_requests),
        )
        .route("/api/fraud/detect", post(fraud::detect))
        .route("/api/fraud/suspicious-activities", get(fraud::suspicious))
        .route("/api/fraud/stats", get(fraud::stats))
        .route("/api/dashboard/overview", get(dashboard::overview))
        .route("/api/dashboard/metrics", get(dashboard::metrics))
        .route("/api/dashboard/charts", get(dashboard::charts))
        .route("/api/dashboard/stream", get(dashboard::stream))
        .route("/api/alerts/active", get(alerts::active))
        .route("/api/anomalies", get(anomalies::anomalies))
        .route("/api/alerts/history", get(alerts::history))
        .route("/api/alerts/silences", get(alerts::silences))
        .route("/api/ops/consumers", get(ops::consumers))
        .route("/api/ops/watermarks", get(ops::watermarks))
        .route("/api/ops/dlq", get(ops::dlq))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .route_layer(middleware::from_fn_with_state(
            (state.keys.clone(), Role::Reader),
            require,
        ));
    let ingest = Router::new()
        .route("/api/logs/ingest", post(logs::ingest))
        .route("/api/logs/upload", post(logs::upload))
        .route("/v1/logs", post(otlp::export))
        .route("/_bulk", post(bulk::bulk).put(bulk::bulk))
        .route("/{index}/_bulk", post(bulk::bulk_into).put(bulk::bulk_into))
        .layer(DefaultBodyLimit::max(limits.max_ingest_bytes));
    let operations = Router::new()
        .route("/api/alerts/silences", post(alerts::create_silence))
        .route("/api/alerts/silences/{id}", delete(alerts::expire_silence))
        .route("/api/alerts/{fingerprint}/ack", post(alerts::acknowledge))
        .route("/api/fraud/detections/{id}/verdict", post(fraud::verdict))
        .route("/api/issues/{id}/status", post(issues::set_status))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .merge(ingest)
        .route_layer(middleware::from_fn_with_state(
            (state.keys.clone(), Role::Operator),
            require,
        ));
    let open = Router::new()
        .route("/", get(crate::page::index))
        .route("/explorer.js", get(crate::page::explorer))
        .route("/issues.js", get(crate::page::issues))
        // The handshake of Elasticsearch shippers (docs/ingest.md): constant answers.
        .route("/_license", get(bulk::license))
        .route("/_xpack", get(bulk::xpack))
        .route(
            "/_index_template/{name}",
            get(bulk::index_template).put(bulk::index_template),
        )
        .route(
            "/_ilm/policy/{name}",
            get(bulk::ilm_policy).put(bulk::ilm_policy),
        )
        .route("/api/openapi.json", get(crate::openapi::document))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics));
    Router::new()
        .merge(reads)
        .merge(operations)
        .merge(open)
        .layer(middleware::map_response(json_errors))
        .layer(middleware::from_fn(crate::http::check_size))
        .layer(middleware::from_fn(record))
        .with_state(state)
}

struct RequestMetrics {
    requests: IntCounterVec,
    seconds: HistogramVec,
}

fn request_metrics() -> &'static RequestMetrics {
    static METRICS: OnceLock<RequestMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let registry = sightline_runtime::metrics::registry();
        let requests = IntCounterVec::new(
            Opts::new(
                "sightline_api_requests_total",
                "API requests by route and status",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        let seconds = HistogramVec::new(
            HistogramOpts::new("sightline_api_request_seconds", "API request latency")
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0]),
            &["route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("metric registered once");
        registry
            .register(Box::new(seconds.clone()))
            .expect("metric registered once");
        RequestMetrics { requests, seconds }
    })
}

/// Counts and times every request by its route pattern (never the raw path,
/// whose ids would make a series each).
async fn record(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = request_metrics();
    m.requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    m.seconds
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
