//! The dashboard page: an HTML file (styles, script and charts inline) and the
//! explorer's and the issues' scripts, compiled into the binary so no build server or CDN is
//! needed.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("page/index.html");
const EXPLORER: &str = include_str!("page/explorer.js");
const ISSUES: &str = include_str!("page/issues.js");

/// The page, or for an Elasticsearch client (a log shipper's handshake) who
/// answers and as which version: both come to `GET /`.
pub async fn index(headers: axum::http::HeaderMap) -> Response {
    if crate::routes::bulk::is_elasticsearch_client(&headers) {
        return crate::routes::bulk::info();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // Everything the page loads is its own; inline code is the page itself.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        PAGE,
    )
        .into_response()
}

fn script(text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        text,
    )
        .into_response()
}

/// The page's log explorer (its query bar, histogram, facets, hits, live tail
/// and patterns).
#[utoipa::path(get, path = "/explorer.js", tag = "page",
    responses((status = 200, description = "the explorer's script", content_type = "text/javascript")))]
pub async fn explorer() -> Response {
    script(EXPLORER)
}

/// The page's issues (their list and an issue's page).
#[utoipa::path(get, path = "/issues.js", tag = "page",
    responses((status = 200, description = "the issues' script", content_type = "text/javascript")))]
pub async fn issues() -> Response {
    script(ISSUES)
}
