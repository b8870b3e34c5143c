//! API keys with roles. A key comes as `Authorization: Bearer <key>` or
//! `X-Api-Key: <key>`; readers read every projection, operators also ingest and
//! manage silences. With no keys configured the API is open.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
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

fn presented_key(request: &Request) -> Option<&str> {
    let headers = request.headers();
    if let Some(v) = headers.get("x-api-key") {
        return v.to_str().ok();
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Middleware: the request's key must be one of `keys` with `role`.
pub async fn require(
    State((keys, role)): State<(Arc<Keys>, Role)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    keys.authorize(presented_key(&request), role)?;
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
