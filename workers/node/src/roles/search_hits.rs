//! The search index as the alerts evaluator reads it (for the rules of the
//! index: saved searches, issues, patterns): opened on first use, read-only, at
//! the live version; reopened after a failure, so a rebuild's switch or an
//! index that did not exist yet at start is picked up.

use futures::future::BoxFuture;
use sightline_alerts::error::AlertError;
use std::collections::BTreeMap;

use sightline_alerts::measure::IndexReads;
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;
use sightline_search::query::{AggRequest, AggResult, SearchRequest, SearchResponse};
use sightline_search::store::configured::{Access, ConfiguredIndex};
use tokio::sync::Mutex;

pub struct LazyIndex {
    settings: Settings,
    open: Mutex<Option<ConfiguredIndex>>,
}

impl LazyIndex {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            open: Mutex::new(None),
        }
    }

    async fn index(&self) -> Result<ConfiguredIndex, AlertError> {
        let mut open = self.open.lock().await;
        if let Some(index) = open.as_ref() {
            return Ok(index.clone());
        }
        let unavailable = |e: String| AlertError::Unavailable(format!("search index: {e}"));
        let version = crate::stores::live_version(&self.settings, Target::Search)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let index = ConfiguredIndex::open(
            &self.settings.search,
            &self.settings.data_dir,
            version,
            Access::ReadOnly,
        )
        .await
        .map_err(|e| unavailable(e.to_string()))?;
        *open = Some(index.clone());
        Ok(index)
    }
}

impl LazyIndex {
    /// `read` of the index, which is opened again on the next read if it failed.
    async fn read<T, F, Fut>(&self, read: F) -> Result<T, AlertError>
    where
        F: FnOnce(ConfiguredIndex) -> Fut,
        Fut: std::future::Future<Output = Result<T, AlertError>>,
    {
        let index = self.index().await?;
        let result = read(index).await;
        if result.is_err() {
            *self.open.lock().await = None;
        }
        result
    }
}

impl IndexReads for LazyIndex {
    fn search<'a>(
        &'a self,
        request: &'a SearchRequest,
    ) -> BoxFuture<'a, Result<SearchResponse, AlertError>> {
        Box::pin(self.read(move |index| async move { IndexReads::search(&index, request).await }))
    }

    fn aggregate<'a>(
        &'a self,
        request: &'a AggRequest,
    ) -> BoxFuture<'a, Result<BTreeMap<String, AggResult>, AlertError>> {
        Box::pin(
            self.read(move |index| async move { IndexReads::aggregate(&index, request).await }),
        )
    }
}
