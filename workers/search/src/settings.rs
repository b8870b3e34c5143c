//! Opening the configured store and its PII key.

use std::path::PathBuf;

use sightline_runtime::config::ElasticsearchSettings;
use sightline_runtime::versions::versioned_name;
use sightline_runtime::Settings;

use crate::document::PiiHasher;
use crate::error::SearchError;
use crate::store::elasticsearch::ElasticsearchStore;

/// Where the embedded index lives.
pub fn tantivy_dir(settings: &Settings) -> PathBuf {
    tantivy_dir_at(settings, 0)
}

/// Where `version` of the embedded index lives (see [`versioned_name`]).
pub fn tantivy_dir_at(settings: &Settings, version: u64) -> PathBuf {
    settings
        .data_dir
        .join("search")
        .join(versioned_name("tantivy", version, "."))
}

/// The Elasticsearch settings of `version` of the index: its own index prefix,
/// template and read alias (`<prefix>_v<N>`).
pub fn elasticsearch_at(settings: &Settings, version: u64) -> ElasticsearchSettings {
    let mut es = settings.search.elasticsearch.clone();
    es.index_prefix = versioned_name(&es.index_prefix, version, "_");
    es
}

/// Opens `version` of the Elasticsearch index as the live one: its daily indices
/// also join the configured `index_prefix` alias, the one outside readers use.
pub async fn live_elasticsearch(
    settings: &Settings,
    version: u64,
) -> Result<ElasticsearchStore, SearchError> {
    let public = &settings.search.elasticsearch.index_prefix;
    ElasticsearchStore::connect_live(&elasticsearch_at(settings, version), public).await
}

/// The configured key, or the one kept beside the index (created on first use).
pub fn pii_hasher(settings: &Settings) -> Result<PiiHasher, SearchError> {
    sightline_runtime::pii::hasher(settings).map_err(|e| SearchError::invalid(e.to_string()))
}

/// The key the index's references were made with, for readers that look a card or
/// an IP up; `None` when none exists yet. Never creates one.
pub fn existing_pii_hasher(settings: &Settings) -> Result<Option<PiiHasher>, SearchError> {
    sightline_runtime::pii::existing_hasher(settings)
        .map_err(|e| SearchError::invalid(e.to_string()))
}
