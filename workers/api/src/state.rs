//! What every handler shares: connections to the projections, the publisher for
//! ingest, the cache and the watermarks. Built once from the settings.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::{Arc, RwLock};

use sightline_alerts::store::AlertStore;
use sightline_counters::{Layout, Reader, RedisStore};
use sightline_fraud::settings as fraud_settings;
use sightline_issues::StatusStore;
use sightline_runtime::consumer::{applied_through, Progress, Source};
use sightline_runtime::publisher::Publisher;
use sightline_runtime::topology::{FRAUD, LOGS};
use sightline_runtime::versions::{Current, Target, Versions};
use sightline_runtime::{Bus, Settings};
use sightline_search::patterns::Registry;
use sightline_search::store::configured::keeps_watermark;
use tokio::sync::watch;

use crate::assess::Assessor;
use crate::auth::Keys;
use crate::backends::{Detections, Search};
use crate::cache::Cache;
use crate::error::ApiError;
use crate::watermark::{Marks, Projection, Watermarks};

// Durable consumers whose ack floor stands in for a projection without its own
// watermark; the scorer acks nothing: where it stands is the progress it records.
use sightline_runtime::consumer::names::{FRAUD_STORE, INDEXER, INDEXER_FRAUD, SCORER};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub keys: Arc<Keys>,
    pub bus: Bus,
    pub publisher: Publisher,
    /// The live versions of the projections, swapped whole when a rebuild switches.
    search: Live<Search>,
    /// The pattern registry of the live search version.
    patterns: Live<Registry>,
    detections: Live<Detections>,
    counters: Live<Counters>,
    pub alerts: AlertStore,
    /// The alert rules the evaluator runs (`anomaly` rules are judged on request).
    pub alert_rules: sightline_alerts::Rules,
    /// Operators' decisions on error issues.
    pub issue_status: StatusStore,
    pub cache: Cache,
    pub marks: Watermarks,
    /// Where cursor consumers (the scorer) record what they applied.
    progress: Progress,
    pub assessor: Assessor,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The counters of one version: the store (for watermarks) and its reader.
pub struct Counters {
    pub store: RedisStore,
    pub reader: Reader,
}

impl Counters {
    /// What the counters have applied of `source`: the lowest of the shards' watermarks.
    pub async fn watermark(
        &self,
        source: Source,
    ) -> Result<Option<u64>, sightline_counters::CountersError> {
        Ok(self.store.watermarks(source).await?.into_iter().min())
    }
}

impl Deref for Counters {
    type Target = Reader;
    fn deref(&self) -> &Reader {
        &self.reader
    }
}

/// A projection's version in use, replaced whole when a rebuild switches.
struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    fn new(value: T) -> Self {
        Self(RwLock::new(Arc::new(value)))
    }

    fn get(&self) -> Arc<T> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

/// `version` of the index, opened on first use (see [`crate::backends`]).
fn open_search(settings: &Settings, version: u64) -> Search {
    Search::at(&settings.search, &settings.data_dir, version)
}

/// `version` of the detections store, opened on first use.
fn open_detections(settings: &Settings, version: u64) -> Detections {
    Detections::at(&settings.fraud, &settings.data_dir, version)
}

async fn open_counters(settings: &Settings, version: u64) -> Result<Counters, ApiError> {
    let layout = Layout::at_version(&settings.counters, version)?;
    let store = RedisStore::connect(&redis_url(settings)?, layout).await?;
    let reader = Reader::new(&store);
    Ok(Counters { store, reader })
}

fn redis_url(settings: &Settings) -> Result<String, ApiError> {
    settings
        .redis
        .url
        .as_ref()
        .map(|u| u.0.clone())
        .ok_or_else(|| ApiError::internal("redis.url is not configured"))
}

/// Waits (a bounded time) until the new version has applied at least what the old
/// one had, so a reader's watermark never goes back at the switch: the rebuild
/// hands over a moment before the live workers move, and they close the gap.
async fn caught_up<N, O, NF, OF, E>(new: N, old: O)
where
    N: Fn() -> NF,
    O: Fn() -> OF,
    NF: std::future::Future<Output = Result<Option<u64>, E>>,
    OF: std::future::Future<Output = Result<Option<u64>, E>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        match (new().await, old().await) {
            (Ok(n), Ok(o)) if n >= o => return,
            // The old version is gone or unreadable: nothing to wait for.
            (_, Err(_)) => return,
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    tracing::warn!(
        "the rebuilt version did not reach the old one's watermark in 30 s; switching anyway"
    );
}

impl AppState {
    /// Connects to NATS, Redis and the live versions of the configured backends.
    pub async fn connect(settings: Settings) -> Result<Self, ApiError> {
        let keys = Arc::new(Keys::new(settings.api.keys.clone()).map_err(ApiError::internal)?);
        let bus = Bus::connect(&settings.nats, settings.publisher.max_in_flight).await?;
        let publisher = Publisher::new(&bus, &settings.publisher);
        let versions = Versions::open(&bus).await?;
        let progress = Progress::open(&bus).await?;
        let mut live = BTreeMap::new();
        for target in Target::ALL {
            live.insert(target, versions.follow(target).await?);
        }
        let version = |t: Target| live.get(&t).map_or(0, |rx| rx.borrow().version);
        let counters = open_counters(&settings, version(Target::Counters)).await?;
        let alerts = AlertStore::connect(&redis_url(&settings)?, &settings.counters.prefix).await?;
        let alert_rules =
            sightline_alerts::Rules::load_or_default(settings.alerts.rules_file.as_deref())?;
        let cache = Cache::new(
            counters.store.connection(),
            &settings.counters.prefix,
            settings.api.cache_ttl,
        );
        let search = open_search(&settings, version(Target::Search));
        let patterns = Registry::open(&bus, Target::Search, version(Target::Search)).await?;
        let issue_status = StatusStore::open(&bus).await?;
        let detections = open_detections(&settings, version(Target::Fraud));
        let assessor = Assessor::new(
            fraud_settings::rules(&settings.fraud)?,
            fraud_settings::snapshot_path(&settings.data_dir),
        );
        let state = Self(Arc::new(Inner {
            settings,
            keys,
            bus,
            publisher,
            search: Live::new(search),
            patterns: Live::new(patterns),
            detections: Live::new(detections),
            counters: Live::new(counters),
            alerts,
            alert_rules,
            issue_status,
            cache,
            marks: Watermarks::default(),
            progress,
            assessor,
        }));
        for (target, rx) in live {
            state.follow(target, rx);
        }
        Ok(state)
    }

    /// The search index of the live version.
    pub fn search(&self) -> Arc<Search> {
        self.search.get()
    }

    /// The pattern registry of the live search version.
    pub fn patterns(&self) -> Arc<Registry> {
        self.patterns.get()
    }

    /// The detections store of the live version.
    pub fn detections(&self) -> Arc<Detections> {
        self.detections.get()
    }

    /// The counters of the live version.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.get()
    }

    /// Opens `version` of `target` and reads from it from now on.
    async fn move_to(&self, target: Target, version: u64) -> Result<(), ApiError> {
        let s = &self.settings;
        match target {
            Target::Search => {
                let new = open_search(s, version);
                let old = self.search();
                caught_up(
                    || new.watermark(Source::Logs),
                    || old.watermark(Source::Logs),
                )
                .await;
                self.search.set(new);
                self.patterns.set(self.patterns().at(version));
            }
            // Upserts by id: no watermark of its own to wait for.
            Target::Fraud => self.detections.set(open_detections(s, version)),
            Target::Counters => {
                let new = open_counters(s, version).await?;
                let old = self.counters();
                let logs = Source::Logs;
                caught_up(|| new.watermark(logs), || old.watermark(logs)).await;
                self.counters.set(new);
            }
        }
        Ok(())
    }

    /// Moves to each new version of `target` as rebuilds switch it. A request holds
    /// the version it started with, so it reads one version whole.
    fn follow(&self, target: Target, mut rx: watch::Receiver<Current>) {
        let state = self.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let version = rx.borrow_and_update().version;
                let moved = state.move_to(target, version).await;
                match moved {
                    Ok(()) => tracing::info!(
                        projection = target.name(),
                        version,
                        "reading the rebuilt version"
                    ),
                    Err(e) => {
                        tracing::error!(projection = target.name(), version, error = %e.message, "cannot open the rebuilt version")
                    }
                }
            }
        });
    }

    /// Reads every watermark once. A part that cannot be read keeps its last value.
    pub async fn refresh_marks(&self) {
        let mut marks: Marks = self.marks.current();
        if let Ok(stream) = self.bus.js.get_stream(LOGS).await {
            marks.logs = stream.cached_info().state.last_sequence;
            if let Ok(w) = applied_through(&self.progress, &stream, SCORER, marks.logs).await {
                marks.scorer = w;
            }
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
            if !self.search_keeps_watermark() {
                if let Ok(info) = stream.consumer_info(INDEXER_FRAUD).await {
                    marks.search_fraud = Some(info.ack_floor.stream_sequence);
                }
            }
        }
        if self.search_keeps_watermark() {
            let search = self.search();
            if let Ok(w) = search.watermark(Source::Logs).await {
                marks.search = w;
            }
            if let Ok(w) = search.watermark(Source::Fraud).await {
                marks.search_fraud = w;
            }
        }
        let counters = self.counters();
        if let Ok(w) = counters.watermark(Source::Logs).await {
            marks.counters = w;
        }
        if let Ok(w) = counters.watermark(Source::Fraud).await {
            marks.counters_fraud = w;
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
        keeps_watermark(&self.settings.search)
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
