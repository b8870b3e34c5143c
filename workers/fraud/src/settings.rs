//! Where the fraud worker keeps its files, and its rules, from the settings.

use std::path::PathBuf;

use sightline_runtime::Settings;

use crate::error::FraudError;
use crate::rules::Rules;

/// The embedded detections store.
pub fn sqlite_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("fraud").join("detections.sqlite")
}

/// The scorer's saved windows.
pub fn snapshot_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("fraud").join("scorer.state")
}

pub fn rules(settings: &Settings) -> Result<Rules, FraudError> {
    Rules::load_or_default(settings.fraud.rules_file.as_deref())
}
