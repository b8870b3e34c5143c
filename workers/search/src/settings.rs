//! The key the index's PII references are made with (the store itself is opened
//! by [`crate::store::configured`]).

use std::path::Path;

use sightline_runtime::config::SearchSettings;

use crate::document::PiiHasher;
use crate::error::SearchError;

/// The configured key, or the one kept beside the index under `data_dir` (created
/// on first use).
pub fn pii_hasher(settings: &SearchSettings, data_dir: &Path) -> Result<PiiHasher, SearchError> {
    sightline_runtime::pii::hasher(settings.pii_key.as_ref(), data_dir)
        .map_err(|e| SearchError::invalid(e.to_string()))
}

/// The key the index's references were made with, for readers that look a card or
/// an IP up; `None` when none exists yet. Never creates one.
pub fn existing_pii_hasher(
    settings: &SearchSettings,
    data_dir: &Path,
) -> Result<Option<PiiHasher>, SearchError> {
    sightline_runtime::pii::existing_hasher(settings.pii_key.as_ref(), data_dir)
        .map_err(|e| SearchError::invalid(e.to_string()))
}
