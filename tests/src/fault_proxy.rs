//! A fault-injecting HTTP proxy in front of a search emulator, for the one fault the
//! emulators cannot be made to produce: a cluster under pressure answering 429 and 503.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Faults applied to `_bulk` requests, in order of arrival.
#[derive(Clone, Copy)]
pub struct BulkFaults {
    /// The first `_bulk` request is answered 503 without reaching the cluster.
    pub first_request_unavailable: bool,
    /// In the next this-many requests every `every`-th item is reported 429
    /// (it was stored: the client cannot know, and must retry it).
    pub throttled_requests: usize,
    pub every: usize,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    /// `_bulk` requests seen, faulted or not.
    pub bulk_requests: Arc<AtomicUsize>,
    /// Items reported 429.
    pub throttled_items: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    faults: BulkFaults,
    client: reqwest::Client,
    bulk_requests: Arc<AtomicUsize>,
    throttled_items: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub async fn start(upstream: String, faults: BulkFaults) -> FaultProxy {
        let bulk_requests = Arc::new(AtomicUsize::new(0));
        let throttled_items = Arc::new(AtomicUsize::new(0));
        let shared = Shared {
            upstream,
            faults,
            client: reqwest::Client::new(),
            bulk_requests: bulk_requests.clone(),
            throttled_items: throttled_items.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy {
            addr,
            bulk_requests,
            throttled_items,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn forward(State(s): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let bulk = parts.uri.path().ends_with("/_bulk");
    let n = if bulk {
        s.bulk_requests.fetch_add(1, Ordering::SeqCst)
    } else {
        usize::MAX
    };
    if bulk && n == 0 && s.faults.first_request_unavailable {
        let error = json!({ "error": { "type": "unavailable_shards_exception", "reason": "injected" }, "status": 503 });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(error)).into_response();
    }
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).expect("method");
    let mut upstream = s
        .client
        .request(method, format!("{}{path}", s.upstream))
        .body(body);
    if let Some(ct) = parts.headers.get("content-type") {
        upstream = upstream.header("content-type", ct.as_bytes());
    }
    let answer = match upstream.send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = answer.bytes().await.unwrap_or_default();
    let first_faulted = usize::from(s.faults.first_request_unavailable);
    if bulk && n >= first_faulted && n < first_faulted + s.faults.throttled_requests {
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            for (i, item) in v["items"].as_array_mut().into_iter().flatten().enumerate() {
                if i % s.faults.every.max(1) == 0 {
                    if let Some(op) = item.as_object_mut().and_then(|o| o.values_mut().next()) {
                        op["status"] = json!(429);
                        op["error"] = json!({ "type": "es_rejected_execution_exception", "reason": "injected: write queue full" });
                        s.throttled_items.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            v["errors"] = json!(true);
            return (status, axum::Json(v)).into_response();
        }
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(bytes))
        .expect("response")
}
