//! The projections the API reads, whichever backend is configured (the stores'
//! own factories choose it). Embedded stores are files another process writes:
//! a store is opened on first use, and again on a later request while it fails,
//! so the API can start before the workers have created them.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use sightline_fraud::store::configured::{self as detections, ConfiguredDetections};
use sightline_fraud::store::verdicts::VerdictStats;
use sightline_fraud::store::{DetectionQuery, DetectionStats, DetectionStore, StatsQuery};
use sightline_runtime::config::{FraudSettings, SearchSettings};
use sightline_runtime::consumer::Source;
use sightline_schemas::{Detection, Uuid};
use sightline_search::query::{AggRequest, AggResult, SearchRequest, SearchResponse};
use sightline_search::store::configured::{self as index, ConfiguredIndex};
use sightline_search::store::SearchStore;
use tokio::sync::OnceCell;

use crate::error::ApiError;

type Opening<S> = Pin<Box<dyn Future<Output = Result<S, ApiError>> + Send>>;

/// A store of one version, opened by `open` on first use.
pub struct OnFirstUse<S> {
    open: Box<dyn Fn() -> Opening<S> + Send + Sync>,
    store: OnceCell<S>,
}

impl<S> OnFirstUse<S> {
    fn new(open: impl Fn() -> Opening<S> + Send + Sync + 'static) -> Self {
        Self {
            open: Box::new(open),
            store: OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&S, ApiError> {
        self.store.get_or_try_init(|| (self.open)()).await
    }
}

/// The search index of one version.
pub type Search = OnFirstUse<ConfiguredIndex>;

impl Search {
    /// The index itself, for readers built on the store trait (issues).
    pub async fn index(&self) -> Result<&ConfiguredIndex, ApiError> {
        self.get().await
    }

    pub fn at(settings: &SearchSettings, data_dir: &std::path::Path, version: u64) -> Self {
        let (settings, data_dir) = (settings.clone(), data_dir.to_owned());
        Self::new(move || {
            let (settings, data_dir) = (settings.clone(), data_dir.clone());
            Box::pin(async move {
                ConfiguredIndex::open(&settings, &data_dir, version, index::Access::ReadOnly)
                    .await
                    .map_err(|e| ApiError::unavailable(format!("search index: {e}")))
            })
        })
    }

    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, ApiError> {
        Ok(self.get().await?.search(request).await?)
    }

    pub async fn aggregate(
        &self,
        request: &AggRequest,
    ) -> Result<BTreeMap<String, AggResult>, ApiError> {
        Ok(self.get().await?.aggregate(request).await?)
    }

    pub async fn suggest(&self, prefix: &str, size: usize) -> Result<Vec<String>, ApiError> {
        Ok(self.get().await?.suggest(prefix, size).await?)
    }

    pub async fn count(&self) -> Result<u64, ApiError> {
        Ok(self.get().await?.count().await?)
    }

    /// The `source` sequence the index has applied and made searchable; `None` for
    /// a backend without a watermark (Elasticsearch: the consumer's ack floor stands in).
    pub async fn watermark(&self, source: Source) -> Result<Option<u64>, ApiError> {
        Ok(self.get().await?.watermark(source).await?)
    }
}

/// The detections store of one version.
pub type Detections = OnFirstUse<ConfiguredDetections>;

impl Detections {
    pub fn at(settings: &FraudSettings, data_dir: &std::path::Path, version: u64) -> Self {
        let (settings, data_dir) = (settings.clone(), data_dir.to_owned());
        Self::new(move || {
            let (settings, data_dir) = (settings.clone(), data_dir.clone());
            Box::pin(async move {
                let access = detections::Access::ReadOnly;
                ConfiguredDetections::open(&settings, &data_dir, version, access)
                    .await
                    .map_err(|e| ApiError::unavailable(format!("detections store: {e}")))
            })
        })
    }

    pub async fn detection(&self, id: &Uuid) -> Result<Option<Detection>, ApiError> {
        Ok(self.get().await?.get(id).await?)
    }

    /// What analysts' verdicts say of every typology and evidence, all time.
    pub async fn verdicts(&self) -> Result<VerdictStats, ApiError> {
        let store = self.get().await?;
        Ok(sightline_fraud::store::verdicts::stats(store, None, None).await?)
    }

    pub async fn list(&self, query: &DetectionQuery) -> Result<Vec<Detection>, ApiError> {
        Ok(self.get().await?.list(query).await?)
    }

    pub async fn stats(&self, query: &StatsQuery) -> Result<DetectionStats, ApiError> {
        Ok(self.get().await?.stats(query).await?)
    }

    pub async fn count(&self) -> Result<u64, ApiError> {
        Ok(self.get().await?.count().await?)
    }
}
