//! Every failure the API answers is `{"error": {"code", "message"}}` with the
//! status that says whose fault it is: 4xx names the bad parameter or field,
//! 503 says a projection or server is not reachable (try again).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sightline_runtime::ErrorKind;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_events", message)
    }

    pub fn uri_too_long(message: impl Into<String>) -> Self {
        Self::new(StatusCode::URI_TOO_LONG, "uri_too_long", message)
    }

    pub fn headers_too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            message,
        )
    }

    /// A projection has not reached the watermark a client asked to wait for.
    pub fn not_caught_up(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_caught_up", message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// From a library error: bad input is the client's, the rest is a store or
    /// server that could not answer.
    fn from_kind(kind: ErrorKind, message: String) -> Self {
        match kind {
            ErrorKind::Poison => Self::bad_request(message),
            // Another writer got there first: asking again reads the new state.
            ErrorKind::Transient | ErrorKind::Conflict => Self::unavailable(message),
            ErrorKind::Config => Self::internal(message),
        }
    }
}

macro_rules! from_library_error {
    ($($error:ty),*) => {$(
        impl From<$error> for ApiError {
            fn from(e: $error) -> Self {
                Self::from_kind(e.kind(), e.to_string())
            }
        }
    )*};
}

from_library_error!(
    sightline_search::SearchError,
    sightline_fraud::FraudError,
    sightline_counters::CountersError,
    sightline_alerts::AlertError,
    sightline_issues::StatusError,
    sightline_search::patterns::RegistryError,
    sightline_runtime::Error
);

/// A request a log shipper's door refused whole: a body it cannot read (400),
/// one over the limit (413), or a content type or encoding it does not take (415).
impl From<&sightline_ingest::IngestError> for ApiError {
    fn from(e: &sightline_ingest::IngestError) -> Self {
        use sightline_ingest::IngestErrorKind;
        let (status, code) = match e.kind() {
            IngestErrorKind::Malformed => (StatusCode::BAD_REQUEST, "bad_request"),
            IngestErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            IngestErrorKind::Unsupported => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
        };
        Self::new(status, code, e.to_string())
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, message = %self.message, "request failed");
        }
        let body = Envelope {
            error: Detail {
                code: self.code,
                message: &self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// The code of a status for errors axum itself produces (a query string that does
/// not parse, an unknown route, a body over its limit).
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Rewrites plain-text error responses (axum's extractor rejections, the 404
/// fallback) into the JSON error shape, keeping their message, so every error
/// a client sees has one form.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    // JSON is already in shape; protobuf is OTLP's google.rpc.Status, which its
    // clients read.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/json")
                || v.as_bytes().starts_with(b"application/x-protobuf")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.trim().to_owned()
    };
    let mut out = ApiError::new(status, code_of(status), message).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The body was left unread, so the connection cannot carry another request:
        // say so, or a client may reuse it and lose its next request.
        out.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    out
}

/// A JSON response from bytes already serialized (cached answers).
pub fn json_bytes(bytes: bytes::Bytes) -> Response {
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
