//! The configured detections backend, opened at a version: the one place that
//! chooses between the embedded SQLite file and MongoDB. The store worker, a
//! rebuild, the alert evaluator, the API and `sightline fraud` all open this type,
//! so a new backend is a module under `store/` and one arm in each match below.

use std::path::{Path, PathBuf};

use sightline_runtime::config::{FraudBackend, FraudSettings, MongoSettings};
use sightline_runtime::versions::versioned_name;
use sightline_schemas::{Detection, Uuid, Verdict};

use super::mongo::MongoStore;
use super::sqlite::SqliteStore;
use super::{DetectionQuery, DetectionStats, DetectionStore, StatsQuery, Written};
use crate::error::FraudError;

/// What the opener means to do with the version it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Write (and read) it; the embedded file is created when missing.
    Write,
    /// Read what another process writes. The embedded file must exist already.
    ReadOnly,
}

/// The detections store of the configured backend at one version.
#[derive(Clone)]
pub enum ConfiguredDetections {
    Sqlite(SqliteStore),
    Mongo(MongoStore),
}

/// `version` of the embedded store under `data_dir`: a file of its own, tables and
/// indexes together.
pub fn sqlite_path_at(data_dir: &Path, version: u64) -> PathBuf {
    let name = versioned_name("detections", version, ".");
    data_dir.join("fraud").join(format!("{name}.sqlite"))
}

/// The MongoDB settings of `version` of the store: its own collection.
pub fn mongodb_at(settings: &MongoSettings, version: u64) -> MongoSettings {
    let mut mongo = settings.clone();
    mongo.collection = versioned_name(&mongo.collection, version, "_");
    mongo
}

impl ConfiguredDetections {
    /// Opens `version` of the configured store for `access`.
    pub async fn open(
        settings: &FraudSettings,
        data_dir: &Path,
        version: u64,
        access: Access,
    ) -> Result<Self, FraudError> {
        match settings.backend {
            FraudBackend::Sqlite => {
                let path = sqlite_path_at(data_dir, version);
                Ok(Self::Sqlite(match access {
                    Access::ReadOnly => SqliteStore::open_read_only(&path)?,
                    Access::Write => SqliteStore::open(&path)?,
                }))
            }
            FraudBackend::Mongodb => Ok(Self::Mongo(
                MongoStore::connect(&mongodb_at(&settings.mongodb, version)).await?,
            )),
        }
    }

    /// Deletes `version` of the configured store for good: a replaced version once
    /// its readers have moved, or what a failed rebuild left.
    pub async fn drop_version(
        settings: &FraudSettings,
        data_dir: &Path,
        version: u64,
    ) -> Result<(), FraudError> {
        match settings.backend {
            FraudBackend::Sqlite => {
                let path = sqlite_path_at(data_dir, version);
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    match std::fs::remove_file(&file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(FraudError::Backend(format!(
                                "removing {}: {e}",
                                Path::new(&file).display()
                            )))
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            FraudBackend::Mongodb => {
                let at = mongodb_at(&settings.mongodb, version);
                MongoStore::connect(&at).await?.drop_collection().await
            }
        }
    }
}

impl DetectionStore for ConfiguredDetections {
    async fn upsert(&self, batch: &[Detection]) -> Result<Written, FraudError> {
        match self {
            Self::Sqlite(s) => s.upsert(batch).await,
            Self::Mongo(s) => s.upsert(batch).await,
        }
    }

    async fn get(&self, id: &Uuid) -> Result<Option<Detection>, FraudError> {
        match self {
            Self::Sqlite(s) => s.get(id).await,
            Self::Mongo(s) => s.get(id).await,
        }
    }

    async fn list(&self, query: &DetectionQuery) -> Result<Vec<Detection>, FraudError> {
        match self {
            Self::Sqlite(s) => s.list(query).await,
            Self::Mongo(s) => s.list(query).await,
        }
    }

    async fn stats(&self, query: &StatsQuery) -> Result<DetectionStats, FraudError> {
        match self {
            Self::Sqlite(s) => s.stats(query).await,
            Self::Mongo(s) => s.stats(query).await,
        }
    }

    async fn count(&self) -> Result<u64, FraudError> {
        match self {
            Self::Sqlite(s) => s.count().await,
            Self::Mongo(s) => s.count().await,
        }
    }

    async fn record_verdicts(&self, batch: &[Verdict]) -> Result<usize, FraudError> {
        match self {
            Self::Sqlite(s) => s.record_verdicts(batch).await,
            Self::Mongo(s) => s.record_verdicts(batch).await,
        }
    }

    async fn verdicts(
        &self,
        transactions: Option<Vec<String>>,
    ) -> Result<Vec<Verdict>, FraudError> {
        match self {
            Self::Sqlite(s) => s.verdicts(transactions).await,
            Self::Mongo(s) => s.verdicts(transactions).await,
        }
    }

    async fn of_transactions(
        &self,
        transactions: Vec<String>,
    ) -> Result<Vec<Detection>, FraudError> {
        match self {
            Self::Sqlite(s) => s.of_transactions(transactions).await,
            Self::Mongo(s) => s.of_transactions(transactions).await,
        }
    }
}
