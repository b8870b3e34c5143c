//! The configured index backend, opened at a version: the one place that chooses
//! between the embedded index and Elasticsearch. Everything that opens the index
//! (the live indexer, a rebuild, the API, `sightline search`) opens this type, so a
//! new backend is a module under `store/` and one arm in each match below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sightline_runtime::config::{ElasticsearchSettings, SearchBackend, SearchSettings};
use sightline_runtime::versions::versioned_name;
use sightline_schemas::OffsetDateTime;

use super::elasticsearch::ElasticsearchStore;
use super::tantivy::TantivyStore;
use super::{Indexed, SearchStore, Sequenced, Source};
use crate::error::SearchError;
use crate::query::{AggRequest, AggResult, SearchRequest, SearchResponse};

/// What the opener means to do with the version it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Write the version readers read: on Elasticsearch its daily indices also join
    /// the public alias (`index_prefix`, what Kibana and other outside readers use),
    /// which is pointed at it.
    Live,
    /// Write a version outside the public alias: one being rebuilt, or dropped.
    Unlisted,
    /// Read what another process writes. The embedded index must exist already.
    ReadOnly,
}

/// The index of the configured backend at one version.
#[derive(Clone)]
pub enum ConfiguredIndex {
    Tantivy(TantivyStore),
    Elasticsearch(ElasticsearchStore),
}

/// Where `version` of the embedded index lives under `data_dir`.
pub fn tantivy_dir_at(data_dir: &Path, version: u64) -> PathBuf {
    data_dir
        .join("search")
        .join(versioned_name("tantivy", version, "."))
}

/// The Elasticsearch settings of `version` of the index: its own index prefix,
/// template and read alias (`<prefix>_v<N>`).
pub fn elasticsearch_at(settings: &ElasticsearchSettings, version: u64) -> ElasticsearchSettings {
    let mut es = settings.clone();
    es.index_prefix = versioned_name(&es.index_prefix, version, "_");
    es
}

/// Whether the configured backend keeps its own watermark, so its indexer may read
/// LOGS by cursor beside the other cursor readers (Elasticsearch keeps none: its
/// indexer acks).
pub fn keeps_watermark(settings: &SearchSettings) -> bool {
    match settings.backend {
        SearchBackend::Tantivy => true,
        SearchBackend::Elasticsearch => false,
    }
}

impl ConfiguredIndex {
    /// Opens `version` of the configured index for `access`.
    pub async fn open(
        settings: &SearchSettings,
        data_dir: &Path,
        version: u64,
        access: Access,
    ) -> Result<Self, SearchError> {
        match settings.backend {
            SearchBackend::Tantivy => {
                let dir = tantivy_dir_at(data_dir, version);
                Ok(Self::Tantivy(match access {
                    Access::ReadOnly => TantivyStore::open_read_only(&dir)?,
                    Access::Live | Access::Unlisted => TantivyStore::open(&dir)?,
                }))
            }
            SearchBackend::Elasticsearch => {
                let at = elasticsearch_at(&settings.elasticsearch, version);
                let public = &settings.elasticsearch.index_prefix;
                let store = match access {
                    Access::Unlisted => ElasticsearchStore::connect(&at).await?,
                    Access::ReadOnly => ElasticsearchStore::connect_live(&at, public).await?,
                    Access::Live => {
                        let store = ElasticsearchStore::connect_live(&at, public).await?;
                        // Readers still get the index by its versioned alias; only
                        // outside readers lag until the next start or switch.
                        if let Err(e) = store.take_public_alias().await {
                            tracing::warn!(error = %e, version, "cannot point the public alias at the live version");
                        }
                        store
                    }
                };
                Ok(Self::Elasticsearch(store))
            }
        }
    }

    /// Points the readers outside Sightline at `version`, on a backend that has
    /// them (Elasticsearch's public alias, which Kibana reads); nothing to do for
    /// the embedded index, which is not opened (its writer lock stays free for the
    /// live indexer).
    pub async fn publish(settings: &SearchSettings, version: u64) -> Result<(), SearchError> {
        match settings.backend {
            SearchBackend::Tantivy => Ok(()),
            SearchBackend::Elasticsearch => {
                let at = elasticsearch_at(&settings.elasticsearch, version);
                let public = &settings.elasticsearch.index_prefix;
                ElasticsearchStore::connect_live(&at, public)
                    .await?
                    .take_public_alias()
                    .await
            }
        }
    }

    /// Deletes `version` of the configured index for good: a replaced version once
    /// its readers have moved, or what a failed rebuild left.
    pub async fn drop_version(
        settings: &SearchSettings,
        data_dir: &Path,
        version: u64,
    ) -> Result<(), SearchError> {
        match settings.backend {
            SearchBackend::Tantivy => {
                let dir = tantivy_dir_at(data_dir, version);
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(
                        SearchError::Unavailable(format!("removing {}: {e}", dir.display())),
                    ),
                    _ => Ok(()),
                }
            }
            SearchBackend::Elasticsearch => {
                let at = elasticsearch_at(&settings.elasticsearch, version);
                ElasticsearchStore::connect(&at)
                    .await?
                    .drop_indices()
                    .await?;
                Ok(())
            }
        }
    }
}

impl SearchStore for ConfiguredIndex {
    async fn index(&self, source: Source, batch: Vec<Sequenced>) -> Result<Indexed, SearchError> {
        match self {
            Self::Tantivy(s) => s.index(source, batch).await,
            Self::Elasticsearch(s) => s.index(source, batch).await,
        }
    }

    async fn advance(&self, source: Source, seq: u64) -> Result<(), SearchError> {
        match self {
            Self::Tantivy(s) => s.advance(source, seq).await,
            Self::Elasticsearch(s) => s.advance(source, seq).await,
        }
    }

    async fn watermark(&self, source: Source) -> Result<Option<u64>, SearchError> {
        match self {
            Self::Tantivy(s) => s.watermark(source).await,
            Self::Elasticsearch(s) => s.watermark(source).await,
        }
    }

    fn keeps_watermark(&self) -> bool {
        match self {
            Self::Tantivy(s) => s.keeps_watermark(),
            Self::Elasticsearch(s) => s.keeps_watermark(),
        }
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        match self {
            Self::Tantivy(s) => s.search(request).await,
            Self::Elasticsearch(s) => s.search(request).await,
        }
    }

    async fn aggregate(
        &self,
        request: &AggRequest,
    ) -> Result<BTreeMap<String, AggResult>, SearchError> {
        match self {
            Self::Tantivy(s) => s.aggregate(request).await,
            Self::Elasticsearch(s) => s.aggregate(request).await,
        }
    }

    async fn suggest(&self, prefix: &str, size: usize) -> Result<Vec<String>, SearchError> {
        match self {
            Self::Tantivy(s) => s.suggest(prefix, size).await,
            Self::Elasticsearch(s) => s.suggest(prefix, size).await,
        }
    }

    async fn count(&self) -> Result<u64, SearchError> {
        match self {
            Self::Tantivy(s) => s.count().await,
            Self::Elasticsearch(s) => s.count().await,
        }
    }

    async fn delete_before(&self, cutoff: OffsetDateTime) -> Result<u64, SearchError> {
        match self {
            Self::Tantivy(s) => s.delete_before(cutoff).await,
            Self::Elasticsearch(s) => s.delete_before(cutoff).await,
        }
    }
}
