//! The cache of heavy dashboard answers. Keys carry the watermarks of the
//! projections an answer was computed from, so a new event invalidates it by
//! moving the watermark; the TTL bounds how stale a window "ending now" gets
//! when no events arrive. Redis shares answers between API instances; a small
//! in-process map in front of it serves repeated hits without a round trip.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prometheus::IntCounterVec;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::error::ApiError;

/// Entries the in-process map holds before it starts over.
const LOCAL_ENTRIES: usize = 4096;
/// The in-process map never keeps an entry longer than this, so API instances
/// agree within it.
const LOCAL_TTL: Duration = Duration::from_secs(1);

pub struct Cache {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
    local: Mutex<HashMap<String, (Instant, Bytes)>>,
}

fn lookups() -> &'static IntCounterVec {
    static METRIC: OnceLock<IntCounterVec> = OnceLock::new();
    METRIC.get_or_init(|| {
        let c = IntCounterVec::new(
            prometheus::Opts::new(
                "sightline_api_cache_lookups_total",
                "Dashboard cache lookups by where the answer came from",
            ),
            &["result"],
        )
        .expect("valid metric");
        sightline_runtime::metrics::registry()
            .register(Box::new(c.clone()))
            .expect("metric registered once");
        c
    })
}

impl Cache {
    pub fn new(conn: ConnectionManager, prefix: &str, ttl: Duration) -> Self {
        Self {
            conn,
            prefix: format!("{prefix}:api:cache:"),
            ttl,
            local: Mutex::new(HashMap::new()),
        }
    }

    /// The cached answer for `key`, or `compute`'s, stored for the next caller.
    /// A Redis that cannot answer is a miss, never an error: the cache only saves work.
    pub async fn get_or_compute<F, Fut>(&self, key: &str, compute: F) -> Result<Bytes, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        let local_ttl = self.ttl.min(LOCAL_TTL);
        if let Some((at, bytes)) = self.local.lock().expect("cache lock").get(key) {
            if at.elapsed() < local_ttl {
                lookups().with_label_values(&["local"]).inc();
                return Ok(bytes.clone());
            }
        }
        let redis_key = format!("{}{key}", self.prefix);
        let shared: Option<Vec<u8>> = self.conn.clone().get(&redis_key).await.unwrap_or(None);
        let bytes = match shared {
            Some(b) => {
                lookups().with_label_values(&["redis"]).inc();
                Bytes::from(b)
            }
            None => {
                lookups().with_label_values(&["miss"]).inc();
                let bytes = compute().await?;
                let secs = self.ttl.as_secs().max(1);
                let stored: Result<(), _> = self
                    .conn
                    .clone()
                    .set_ex(&redis_key, bytes.as_ref(), secs)
                    .await;
                if let Err(e) = stored {
                    tracing::debug!(error = %e, "dashboard cache not written");
                }
                bytes
            }
        };
        let mut local = self.local.lock().expect("cache lock");
        if local.len() >= LOCAL_ENTRIES {
            local.clear();
        }
        local.insert(key.to_owned(), (Instant::now(), bytes.clone()));
        Ok(bytes)
    }
}
