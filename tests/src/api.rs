//! The whole system behind its API, spawn_app-style: NATS and Redis on random
//! ports, every worker as a real process, and `sightline api` on port 0, with a
//! reader key and an operator key configured.

use std::io::BufRead;
use std::process::Stdio;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::{Redis, Stack, WorkerProcess};

pub const READER_KEY: &str = "reader-key-for-tests-0001";
pub const OPERATOR_KEY: &str = "operator-key-for-tests-0001";

/// The worker processes, as `sightline up` runs them: the readers of LOGS share
/// one process and one consumer.
pub const WORKERS: [&str; 3] = ["indexer counters fraud", "fraud-store", "alerts"];

pub struct ApiStack {
    pub stack: Stack,
    pub redis: Redis,
    pub workers: Vec<WorkerProcess>,
    pub api: WorkerProcess,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub http: reqwest::Client,
}

/// An answer: status, headers and the body as JSON (`Value::Null` when not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// An answer whose body is `text` (parsed when it is JSON).
    pub fn new(status: u16, headers: HeaderMap, text: String) -> Self {
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    /// The `Sightline-Watermark` header.
    pub fn watermark(&self) -> Option<u64> {
        self.headers
            .get("sightline-watermark")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// The error code of a JSON error answer.
    pub fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn error_message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or_default()
    }
}

impl ApiStack {
    /// Starts everything with a reader and an operator key; `extra_config` is
    /// appended to the stack's sightline.toml.
    pub async fn start(extra_config: &str) -> ApiStack {
        let keys = format!(
            "[[api.keys]]\nname = \"dashboards\"\nkey = \"{READER_KEY}\"\nrole = \"reader\"\n\n\
             [[api.keys]]\nname = \"ops\"\nkey = \"{OPERATOR_KEY}\"\nrole = \"operator\"\n\n"
        );
        Self::start_with_config(&(keys + extra_config)).await
    }

    /// Starts everything with exactly `config` as sightline.toml (no keys: an open API).
    pub async fn start_with_config(config: &str) -> ApiStack {
        let stack = Stack::start().await;
        let redis = Redis::start(false);
        let config = format!("{config}\n");
        std::fs::write(stack.path("sightline.toml"), config).expect("config written");
        let url = redis.url();
        let env = [
            ("SIGHTLINE_REDIS__URL", url.as_str()),
            ("SIGHTLINE_ALERTS__INTERVAL", "1s"),
            ("SIGHTLINE_CONSUMER__BATCH_LINGER", "20ms"),
        ];
        let workers = WORKERS.into_iter().map(|w| stack.worker(w, &env)).collect();
        let mut api = stack.spawn(&["api", "--listen", "127.0.0.1:0"], &env, Stdio::piped());
        let stdout = api.0.stdout.take().expect("api stdout");
        let first_line = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                let _ = std::io::BufReader::new(stdout).read_line(&mut line);
                line
            }),
        )
        .await
        .expect("the API says where it listens within 30 s")
        .expect("reading the API's stdout");
        let base = first_line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the API: {first_line:?}"))
            .to_owned();
        ApiStack {
            stack,
            redis,
            workers,
            api,
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder, key: Option<&str>) -> Reply {
        let request = match key {
            Some(k) => request.bearer_auth(k),
            None => request,
        };
        let response = request.send().await.expect("the API answers");
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        Reply::new(status, headers, response.text().await.expect("a body"))
    }

    /// GET with the reader key.
    pub async fn get(&self, path: &str) -> Reply {
        self.get_as(path, Some(READER_KEY)).await
    }

    pub async fn get_as(&self, path: &str, key: Option<&str>) -> Reply {
        self.send(self.http.get(self.url(path)), key).await
    }

    /// GET with the reader key, answered once the projection holds `seq`.
    pub async fn get_after(&self, path: &str, seq: u64) -> Reply {
        let request = self
            .http
            .get(self.url(path))
            .header("Sightline-Wait-For", seq.to_string());
        self.send(request, Some(READER_KEY)).await
    }

    /// The answer to `path` (a search, with the reader key) once its `total` is
    /// `expect`; panics with the last answer after 30 s.
    pub async fn search_until(&self, path: &str, expect: u64) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.get(path).await.json;
            if found["total"].as_u64() == Some(expect) {
                return found;
            }
            assert!(std::time::Instant::now() < deadline, "{path}: {found}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many messages LOGS holds now.
    pub async fn logs_stored(&self) -> u64 {
        let mut logs = self.stack.bus.js.get_stream("LOGS").await.expect("LOGS");
        logs.info().await.expect("LOGS info").state.messages
    }

    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        key: Option<&str>,
    ) -> Reply {
        let request = self
            .http
            .post(self.url(path))
            .header("Content-Type", content_type)
            .body(body);
        self.send(request, key).await
    }

    pub async fn post_json(&self, path: &str, body: &Value, key: Option<&str>) -> Reply {
        self.post(path, "application/json", body.to_string().into_bytes(), key)
            .await
    }

    pub async fn delete(&self, path: &str, key: Option<&str>) -> Reply {
        self.send(self.http.delete(self.url(path)), key).await
    }

    pub async fn upload(&self, path: &str, file: Vec<u8>, key: Option<&str>) -> Reply {
        let part = reqwest::multipart::Part::bytes(file).file_name("events.ndjson");
        let form = reqwest::multipart::Form::new().part("file", part);
        self.send(self.http.post(self.url(path)).multipart(form), key)
            .await
    }
}
