//! The API in process, zero-to-production's `spawn_app` without the socket: the
//! router built from an [`AppState`] over real nats-server and redis-server on
//! random ports and the embedded stores in a temp dir, which a test fills through
//! the stores' own factories. Requests go through `tower::ServiceExt::oneshot`, so
//! a handler is tested without a worker or an API process.

use axum::body::Body;
use axum::http::{Method, Request};
use axum::Router;
use sightline_api::AppState;
use sightline_fraud::store::configured::{self as detections, ConfiguredDetections};
use sightline_fraud::store::DetectionStore;
use sightline_runtime::config::{ApiKey, Role, Secret};
use sightline_schemas::Detection;
use sightline_search::store::configured::{self as index, ConfiguredIndex};
use sightline_search::store::{SearchStore, Sequenced, Source};
use tower::ServiceExt;

use crate::api::{Reply, OPERATOR_KEY, READER_KEY};
use crate::{Redis, Stack};

/// The router and what it stands on.
pub struct App {
    pub stack: Stack,
    pub redis: Redis,
    pub state: AppState,
    router: Router,
}

impl App {
    /// The API over empty projections, with a reader and an operator key.
    pub async fn start() -> App {
        let mut stack = Stack::start().await;
        let redis = Redis::start(false);
        stack.settings.redis.url = Some(Secret(redis.url()));
        stack.settings.api.keys = vec![
            ApiKey {
                name: "dashboards".into(),
                key: Secret(READER_KEY.into()),
                role: Role::Reader,
            },
            ApiKey {
                name: "ops".into(),
                key: Secret(OPERATOR_KEY.into()),
                role: Role::Operator,
            },
        ];
        let state = AppState::connect(stack.settings.clone())
            .await
            .unwrap_or_else(|e| panic!("the API state: {}", e.message));
        let router = sightline_api::routes::router(state.clone());
        App {
            stack,
            redis,
            state,
            router,
        }
    }

    /// Writes `docs` into the live version of the index, as the indexer would.
    pub async fn index(&self, source: Source, docs: Vec<Sequenced>) {
        let s = &self.stack.settings;
        let store = ConfiguredIndex::open(&s.search, &s.data_dir, 0, index::Access::Live)
            .await
            .expect("the index opens");
        store.index(source, docs).await.expect("indexed");
    }

    /// Writes `batch` into the live version of the detections store.
    pub async fn store_detections(&self, batch: &[Detection]) {
        let s = &self.stack.settings;
        let access = detections::Access::Write;
        let store = ConfiguredDetections::open(&s.fraud, &s.data_dir, 0, access)
            .await
            .expect("the detections store opens");
        store.upsert(batch).await.expect("stored");
    }

    /// Sends one JSON request through the router; `key` as a bearer token.
    pub async fn call(&self, method: Method, uri: &str, key: Option<&str>, body: Body) -> Reply {
        self.send(method, uri, key, "application/json", body).await
    }

    /// Sends one request of `content_type` through the router.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        content_type: &str,
        body: Body,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let request = request
            .header("content-type", content_type)
            .body(body)
            .expect("a request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        Reply::new(
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// GET with the reader key.
    pub async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, Some(READER_KEY), Body::empty())
            .await
    }
}
