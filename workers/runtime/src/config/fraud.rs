//! Settings of the fraud scorer and the detections store.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FraudBackend {
    /// `<data_dir>/fraud/detections.sqlite` in WAL mode: one machine, no server.
    Sqlite,
    Mongodb,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FraudSettings {
    /// The rules file; unset means the built-in `config/fraud-rules.toml`.
    pub rules_file: Option<PathBuf>,
    /// The currency table amounts are weighed with; unset means the built-in
    /// `config/currency-rates.toml`.
    pub rates_file: Option<PathBuf>,
    pub backend: FraudBackend,
    /// How often the scorer saves its windows (a restart replays LOGS from the
    /// last save, so a burst that spans the restart is still seen whole).
    #[serde(with = "humantime_serde")]
    pub snapshot_every: Duration,
    /// Events per scorer batch (detections of a batch are published together).
    pub batch_size: usize,
    /// Keep the payer's IP in clear in detections (FRAUD, the detections store).
    /// Off: detections carry the keyed reference the search index uses (`ip_ref`).
    pub keep_raw_ip: bool,
    pub mongodb: MongoSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MongoSettings {
    /// `mongodb://user:password@host:27017/` (kept out of logs).
    pub uri: Secret,
    pub database: String,
    /// Detections go to `<collection>`.
    pub collection: String,
    /// Upserts in flight at once.
    pub in_flight: usize,
}

impl Default for FraudSettings {
    fn default() -> Self {
        Self {
            rules_file: None,
            rates_file: None,
            backend: FraudBackend::Sqlite,
            snapshot_every: Duration::from_secs(5),
            batch_size: 5000,
            keep_raw_ip: false,
            mongodb: MongoSettings::default(),
        }
    }
}

impl Default for MongoSettings {
    fn default() -> Self {
        Self {
            uri: Secret("mongodb://127.0.0.1:27017/".into()),
            database: "sightline".into(),
            collection: "detections".into(),
            in_flight: 32,
        }
    }
}
