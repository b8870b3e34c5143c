//! What every handler shares: connections to the projections, the publisher for
//! ingest, the cache and the watermarks. Built once from the settings.

use std::ops::Deref;
use std::sync::Arc;

use sightline_alerts::store::AlertStore;
use sightline_counters::{Layout, Reader, RedisStore};
use sightline_fraud::settings as fraud_settings;
use sightline_runtime::config::{FraudBackend, SearchBackend};
use sightline_runtime::consumer::Source;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::topology::{FRAUD, LOGS};
use sightline_runtime::{Bus, Settings};
use sightline_search::settings::tantivy_dir;
use sightline_search::store::elasticsearch::ElasticsearchStore;

use crate::assess::Assessor;
use crate::auth::Keys;
use crate::backends::{Detections, Search};
use crate::cache::Cache;
use crate::error::ApiError;
use crate::watermark::{Marks, Projection, Watermarks};

/// Durable consumers whose ack floor stands in for a projection without its own
/// watermark.
const INDEXER: &str = "indexer";
const FRAUD_STORE: &str = "fraud-store";

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub keys: Keys,
    pub bus: Bus,
    pub publisher: Publisher,
    pub search: Search,
    pub detections: Detections,
    pub counters_store: RedisStore,
    pub counters: Reader,
    pub alerts: AlertStore,
    pub cache: Cache,
    pub marks: Watermarks,
    pub assessor: Assessor,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Connects to NATS, Redis and the configured backends.
    pub async fn connect(settings: Settings) -> Result<Self, ApiError> {
        let keys = Keys::new(settings.api.keys.clone()).map_err(ApiError::internal)?;
        let bus = Bus::connect(&settings.nats, settings.publisher.max_in_flight).await?;
        let publisher = Publisher::new(&bus, &settings.publisher);
        let redis_url = settings
            .redis
            .url
            .as_ref()
            .map(|u| u.0.clone())
            .ok_or_else(|| ApiError::internal("redis.url is not configured"))?;
        let layout = Layout::new(&settings.counters)?;
        let counters_store = RedisStore::connect(&redis_url, layout).await?;
        let counters = Reader::new(&counters_store);
        let alerts = AlertStore::connect(&redis_url, &settings.counters.prefix).await?;
        let cache = Cache::new(
            counters_store.connection(),
            &settings.counters.prefix,
            settings.api.cache_ttl,
        );
        let search = match settings.search.backend {
            SearchBackend::Tantivy => Search::tantivy(tantivy_dir(&settings)),
            SearchBackend::Elasticsearch => Search::Elasticsearch(
                ElasticsearchStore::connect(&settings.search.elasticsearch).await?,
            ),
        };
        let detections = match settings.fraud.backend {
            FraudBackend::Sqlite => Detections::sqlite(fraud_settings::sqlite_path(&settings)),
            FraudBackend::Mongodb => Detections::Mongo(
                sightline_fraud::store::mongo::MongoStore::connect(&settings.fraud.mongodb).await?,
            ),
        };
        let assessor = Assessor::new(
            fraud_settings::rules(&settings)?,
            fraud_settings::snapshot_path(&settings),
        );
        Ok(Self(Arc::new(Inner {
            settings,
            keys,
            bus,
            publisher,
            search,
            detections,
            counters_store,
            counters,
            alerts,
            cache,
            marks: Watermarks::default(),
            assessor,
        })))
    }

    /// Reads every watermark once. A part that cannot be read keeps its last value.
    pub async fn refresh_marks(&self) {
        let mut marks: Marks = self.marks.current();
        if let Ok(stream) = self.bus.js.get_stream(LOGS).await {
            marks.logs = stream.cached_info().state.last_sequence;
            if !self.search_keeps_watermark() {
                if let Ok(info) = stream.consumer_info(INDEXER).await {
                    marks.search = Some(info.ack_floor.stream_sequence);
                }
            }
        }
        if let Ok(stream) = self.bus.js.get_stream(FRAUD).await {
            marks.fraud = stream.cached_info().state.last_sequence;
            if let Ok(info) = stream.consumer_info(FRAUD_STORE).await {
                marks.detections = Some(info.ack_floor.stream_sequence);
            }
        }
        if self.search_keeps_watermark() {
            if let Ok(w) = self.search.watermark().await {
                marks.search = w;
            }
        }
        if let Ok(shards) = self.counters_store.watermarks(Source::Logs).await {
            marks.counters = shards.into_iter().min();
        }
        if let Ok(shards) = self.counters_store.watermarks(Source::Fraud).await {
            marks.counters_fraud = shards.into_iter().min();
        }
        self.marks.set(marks);
    }

    /// Honours `Sightline-Wait-For` for `projection`, then gives the watermark to
    /// stamp the answer with.
    pub async fn watermark_for(
        &self,
        projection: Projection,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<u64>, ApiError> {
        self.marks
            .wait_for(projection, headers, self.settings.api.wait_timeout)
            .await?;
        Ok(projection.of(&self.marks.current()))
    }

    fn search_keeps_watermark(&self) -> bool {
        matches!(self.search, Search::Tantivy { .. })
    }

    /// Keeps the watermarks fresh until the process ends.
    pub fn spawn_refresh(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.settings.api.refresh_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                state.refresh_marks().await;
            }
        })
    }
}
