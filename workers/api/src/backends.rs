//! The projections the API reads, whichever backend is configured. Embedded stores
//! are files another process writes: they are opened read-only on first use, so the
//! API can start before the workers have created them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sightline_fraud::store::mongo::MongoStore;
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_fraud::store::{DetectionQuery, DetectionStats, DetectionStore, StatsQuery};
use sightline_runtime::consumer::Source;
use sightline_schemas::Detection;
use sightline_search::query::{AggRequest, AggResult, SearchRequest, SearchResponse};
use sightline_search::store::elasticsearch::ElasticsearchStore;
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::SearchStore;
use tokio::sync::OnceCell;

use crate::error::ApiError;

pub enum Search {
    Tantivy {
        dir: PathBuf,
        store: OnceCell<TantivyStore>,
    },
    Elasticsearch(ElasticsearchStore),
}

impl Search {
    pub fn tantivy(dir: PathBuf) -> Self {
        Search::Tantivy {
            dir,
            store: OnceCell::new(),
        }
    }

    async fn tantivy_store<'a>(
        dir: &Path,
        store: &'a OnceCell<TantivyStore>,
    ) -> Result<&'a TantivyStore, ApiError> {
        store
            .get_or_try_init(|| async {
                TantivyStore::open_read_only(dir)
                    .map_err(|e| ApiError::unavailable(format!("search index: {e}")))
            })
            .await
    }
}

/// Runs one store call on whichever backend is configured.
macro_rules! on_search {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            Search::Tantivy { dir, store } => {
                let $store = Search::tantivy_store(dir, store).await?;
                Ok($call.await?)
            }
            Search::Elasticsearch($store) => Ok($call.await?),
        }
    };
}

impl Search {
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, ApiError> {
        on_search!(self, s => s.search(request))
    }

    pub async fn aggregate(
        &self,
        request: &AggRequest,
    ) -> Result<BTreeMap<String, AggResult>, ApiError> {
        on_search!(self, s => s.aggregate(request))
    }

    pub async fn suggest(&self, prefix: &str, size: usize) -> Result<Vec<String>, ApiError> {
        on_search!(self, s => s.suggest(prefix, size))
    }

    pub async fn count(&self) -> Result<u64, ApiError> {
        on_search!(self, s => s.count())
    }

    /// The `source` sequence the index has applied and made searchable; `None` for
    /// a backend without a watermark (Elasticsearch: the consumer's ack floor stands in).
    pub async fn watermark(&self, source: Source) -> Result<Option<u64>, ApiError> {
        on_search!(self, s => s.watermark(source))
    }
}

pub enum Detections {
    Sqlite {
        path: PathBuf,
        store: OnceCell<SqliteStore>,
    },
    Mongo(MongoStore),
}

impl Detections {
    pub fn sqlite(path: PathBuf) -> Self {
        Detections::Sqlite {
            path,
            store: OnceCell::new(),
        }
    }

    async fn sqlite_store<'a>(
        path: &Path,
        store: &'a OnceCell<SqliteStore>,
    ) -> Result<&'a SqliteStore, ApiError> {
        store
            .get_or_try_init(|| async {
                SqliteStore::open_read_only(path)
                    .map_err(|e| ApiError::unavailable(format!("detections store: {e}")))
            })
            .await
    }
}

macro_rules! on_detections {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            Detections::Sqlite { path, store } => {
                let $store = Detections::sqlite_store(path, store).await?;
                Ok($call.await?)
            }
            Detections::Mongo($store) => Ok($call.await?),
        }
    };
}

impl Detections {
    pub async fn list(&self, query: &DetectionQuery) -> Result<Vec<Detection>, ApiError> {
        on_detections!(self, s => s.list(query))
    }

    pub async fn stats(&self, query: &StatsQuery) -> Result<DetectionStats, ApiError> {
        on_detections!(self, s => s.stats(query))
    }

    pub async fn count(&self) -> Result<u64, ApiError> {
        on_detections!(self, s => s.count())
    }
}
