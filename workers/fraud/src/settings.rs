//! Where the scorer keeps its state, and its rules, from the settings (the store
//! itself is opened by [`crate::store::configured`]).

use std::path::PathBuf;

use sightline_runtime::Settings;

use crate::error::FraudError;
use crate::project::PayerIp;
use crate::rules::Rules;

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
