//! The search index as the alerts evaluator reads it (for `query` rules): opened
//! on first use, read-only, at the live version; reopened after a failure, so a
//! rebuild's switch or an index that did not exist yet at start is picked up.

use futures::future::BoxFuture;
use sightline_alerts::error::AlertError;
use sightline_alerts::measure::HitCount;
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;
use sightline_search::store::configured::{Access, ConfiguredIndex};
use time::OffsetDateTime;
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

impl HitCount for LazyIndex {
    fn hits<'a>(
        &'a self,
        query: &'a str,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> BoxFuture<'a, Result<u64, AlertError>> {
        Box::pin(async move {
            let index = self.index().await?;
            let counted = index.hits(query, since, until).await;
            if counted.is_err() {
                *self.open.lock().await = None;
            }
            counted
        })
    }
}
