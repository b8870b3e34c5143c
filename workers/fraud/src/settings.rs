//! Where the scorer keeps its state, and its rules, from its own settings (the
//! store itself is opened by [`crate::store::configured`]).

use std::path::{Path, PathBuf};

use sightline_runtime::config::{FraudSettings, Secret};

use crate::error::FraudError;
use crate::project::PayerIp;
use crate::rates::Rates;
use crate::rules::Rules;

/// The scorer's saved windows under `data_dir`.
pub fn snapshot_path(data_dir: &Path) -> PathBuf {
    data_dir.join("fraud").join("scorer.state")
}

/// The rules file, weighing amounts with the currency table (both from the settings,
/// or the built-in ones).
pub fn rules(settings: &FraudSettings) -> Result<Rules, FraudError> {
    let rates = Rates::load_or_default(settings.rates_file.as_deref())?;
    Rules::load_or_default(settings.rules_file.as_deref(), rates)
}

/// What detections carry of the payer's IP: the keyed reference the search index
/// uses (made with its key: `pii_key`, or the one kept under `data_dir`), or the
/// address itself where `fraud.keep_raw_ip` asks for it.
pub fn payer_ip(
    settings: &FraudSettings,
    pii_key: Option<&Secret>,
    data_dir: &Path,
) -> Result<PayerIp, FraudError> {
    if settings.keep_raw_ip {
        return Ok(PayerIp::Clear);
    }
    sightline_runtime::pii::hasher(pii_key, data_dir)
        .map(PayerIp::Referenced)
        .map_err(|e| FraudError::Backend(format!("the PII key: {e}")))
}
