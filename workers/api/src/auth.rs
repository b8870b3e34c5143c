//! API keys with roles. A key comes as `Authorization: Bearer <key>`,
//! `X-Api-Key: <key>`, or as the password of `Authorization: Basic` (what log
//! shippers' Elasticsearch outputs send); readers read every projection, operators also ingest and
//! manage silences. With no keys configured the API is open.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::prelude::{Engine, BASE64_STANDARD};
use sightline_runtime::config::{ApiKey, Role};
use std::sync::Arc;

use crate::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct Keys {
    keys: Vec<ApiKey>,
}

impl Keys {
    pub fn new(keys: Vec<ApiKey>) -> Result<Self, String> {
        for k in &keys {
            if k.key.0.len() < 16 {
                return Err(format!(
                    "api.keys: the key of `{}` is shorter than 16 characters",
                    k.name
                ));
            }
        }
        Ok(Self { keys })
    }

    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// The holder of `presented` and its role. Every key is compared in full, in
    /// constant time, so timing says nothing about which prefix matched.
    fn find(&self, presented: &str) -> Option<&ApiKey> {
        let mut found = None;
        for k in &self.keys {
            if constant_time_eq(k.key.0.as_bytes(), presented.as_bytes()) {
                found = Some(k);
            }
        }
        found
    }

    /// Checks a request's key against the role a route needs.
    pub fn authorize(&self, presented: Option<&str>, needs: Role) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        let presented = presented.ok_or_else(|| {
            ApiError::unauthorized("an API key is required (Authorization: Bearer <key>)")
        })?;
        let key = self
            .find(presented)
            .ok_or_else(|| ApiError::unauthorized("the API key is not valid"))?;
        if key.role < needs {
            return Err(ApiError::forbidden(
                format!(
                    "this route needs the {needs:?} role; the key of `{}` is a {:?}",
                    key.name, key.role
                )
                .to_lowercase(),
            ));
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presented_key(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok().map(str::to_owned);
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(bearer) = auth.strip_prefix("Bearer ") {
        return Some(bearer.to_owned());
    }
    // Shippers that speak Elasticsearch (Beats, Logstash, Fluent Bit, Vector) sign
    // in with a user and a password: the password is the key, the user a label.
    let basic = auth.strip_prefix("Basic ")?;
    let decoded = BASE64_STANDARD.decode(basic.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, key)| key.to_owned())
}

/// Middleware: the request's key must be one of `keys` with `role`.
pub async fn require(
    State((keys, role)): State<(Arc<Keys>, Role)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    keys.authorize(presented_key(request.headers()).as_deref(), role)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use sightline_runtime::config::Secret;

    use super::*;

    fn keys() -> Keys {
        Keys::new(vec![
            ApiKey {
                name: "grafana".into(),
                key: Secret("reader-key-0123456789".into()),
                role: Role::Reader,
            },
            ApiKey {
                name: "ops".into(),
                key: Secret("operator-key-0123456789".into()),
                role: Role::Operator,
            },
        ])
        .unwrap()
    }

    #[test]
    fn roles_are_ordered_and_keys_checked_whole() {
        let k = keys();
        assert!(k
            .authorize(Some("reader-key-0123456789"), Role::Reader)
            .is_ok());
        let e = k
            .authorize(Some("reader-key-0123456789"), Role::Operator)
            .unwrap_err();
        assert_eq!(e.status, 403);
        assert!(e.message.contains("grafana"), "{}", e.message);
        assert!(k
            .authorize(Some("operator-key-0123456789"), Role::Operator)
            .is_ok());
        assert!(k
            .authorize(Some("operator-key-0123456789"), Role::Reader)
            .is_ok());
        assert_eq!(k.authorize(None, Role::Reader).unwrap_err().status, 401);
        assert_eq!(
            k.authorize(Some("reader-key-012345678"), Role::Reader)
                .unwrap_err()
                .status,
            401,
            "a prefix of a key is not the key"
        );
    }

    #[test]
    fn a_key_comes_as_bearer_api_key_header_or_basic_password() {
        let with = |name: &'static str, value: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(name, value.parse().unwrap());
            presented_key(&h)
        };
        assert_eq!(with("authorization", "Bearer k-1").as_deref(), Some("k-1"));
        assert_eq!(with("x-api-key", "k-2").as_deref(), Some("k-2"));
        let basic = BASE64_STANDARD.encode("filebeat:k-3:with-colon");
        assert_eq!(
            with("authorization", &format!("Basic {basic}")).as_deref(),
            Some("k-3:with-colon")
        );
        assert_eq!(with("authorization", "Basic !!!"), None);
        assert_eq!(with("authorization", "Digest x"), None);
    }

    #[test]
    fn no_keys_means_open_and_short_keys_are_refused() {
        assert!(Keys::default().authorize(None, Role::Operator).is_ok());
        let err = Keys::new(vec![ApiKey {
            name: "x".into(),
            key: Secret("short".into()),
            role: Role::Reader,
        }])
        .unwrap_err();
        assert!(err.contains("`x`"), "{err}");
    }
}
