//! Where the fraud worker keeps its files, and its rules, from the settings.

use std::path::PathBuf;

use sightline_runtime::config::MongoSettings;
use sightline_runtime::versions::versioned_name;
use sightline_runtime::Settings;

use crate::error::FraudError;
use crate::project::PayerIp;
use crate::rules::Rules;

/// The embedded detections store.
pub fn sqlite_path(settings: &Settings) -> PathBuf {
    sqlite_path_at(settings, 0)
}

/// `version` of the embedded store: a file of its own, tables and indexes together.
pub fn sqlite_path_at(settings: &Settings, version: u64) -> PathBuf {
    let name = versioned_name("detections", version, ".");
    settings
        .data_dir
        .join("fraud")
        .join(format!("{name}.sqlite"))
}

/// The MongoDB settings of `version` of the store: its own collection.
pub fn mongodb_at(settings: &Settings, version: u64) -> MongoSettings {
    let mut mongo = settings.fraud.mongodb.clone();
    mongo.collection = versioned_name(&mongo.collection, version, "_");
    mongo
}

/// The scorer's saved windows.
pub fn snapshot_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("fraud").join("scorer.state")
}

pub fn rules(settings: &Settings) -> Result<Rules, FraudError> {
    Rules::load_or_default(settings.fraud.rules_file.as_deref())
}

/// What detections carry of the payer's IP: the keyed reference the search index
/// uses (its key), or the address itself where `fraud.keep_raw_ip` asks for it.
pub fn payer_ip(settings: &Settings) -> Result<PayerIp, FraudError> {
    if settings.fraud.keep_raw_ip {
        return Ok(PayerIp::Clear);
    }
    sightline_runtime::pii::hasher(settings)
        .map(PayerIp::Referenced)
        .map_err(|e| FraudError::Backend(format!("the PII key: {e}")))
}
