//! The registry that makes a projection's pattern ids outlive its process.
//!
//! A miner's ids depend on everything it has seen, so each projection that
//! mines (the search index, the counters) saves its clusters to one key-value
//! bucket, per version of the projection, before anything that carries their
//! ids is written. A restarted worker restores them and goes on with the same
//! ids; the registry may run ahead of the projection (a batch saved, not yet
//! written), which is harmless: the messages read again find the clusters they
//! made. A replay writes a new version from an empty registry, so the same
//! stream gives the same ids.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sightline_runtime::versions::Target;
use sightline_runtime::{Bus, ErrorKind};

use crate::SavedCluster;

/// The bucket of saved clusters, keyed `v<version>.<pattern id>` for the
/// search index and `<projection>.v<version>.<pattern id>` for the others.
pub const BUCKET: &str = "sightline_patterns";

/// A pattern as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternRecord {
    #[serde(flatten)]
    pub cluster: SavedCluster,
    /// When the first event of the pattern happened, in Unix nanoseconds.
    pub first_seen_ns: i64,
}

/// The registry failed: the bucket is unreachable, or holds what it should not.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("pattern registry: {what}: {source}")]
    Unavailable {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("pattern registry: pattern {id}: {source}")]
    Corrupt {
        id: String,
        #[source]
        source: serde_json::Error,
    },
}

impl RegistryError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Unavailable { .. } => ErrorKind::Transient,
            RegistryError::Corrupt { .. } => ErrorKind::Config,
        }
    }
}

impl From<RegistryError> for sightline_runtime::Error {
    fn from(e: RegistryError) -> Self {
        sightline_runtime::Error::store(e.kind(), e)
    }
}

fn unavailable(
    what: &'static str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> RegistryError {
    RegistryError::Unavailable {
        what,
        source: source.into(),
    }
}

/// The saved clusters of one version of one projection.
#[derive(Clone)]
pub struct Registry {
    kv: kv::Store,
    target: Target,
    version: u64,
}

impl Registry {
    pub async fn open(
        bus: &Bus,
        target: Target,
        version: u64,
    ) -> Result<Self, sightline_runtime::Error> {
        let description = "Sightline: log pattern clusters, per projection and version";
        let kv =
            sightline_runtime::nats::bucket(bus, BUCKET, description, Duration::ZERO, 1).await?;
        Ok(Self {
            kv,
            target,
            version,
        })
    }

    /// The same bucket, for another version of the projection.
    pub fn at(&self, version: u64) -> Self {
        Self {
            kv: self.kv.clone(),
            target: self.target,
            version,
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    fn prefix(&self) -> String {
        match self.target {
            // The index's keys were the bucket's first, and keep their form.
            Target::Search => format!("v{}.", self.version),
            other => format!("{}.v{}.", other.name(), self.version),
        }
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix())
    }

    /// The ids of this version's patterns.
    async fn ids(&self) -> Result<Vec<String>, RegistryError> {
        let prefix = self.prefix();
        let mut keys = self.kv.keys().await.map_err(|e| unavailable("list", e))?;
        let mut out = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| unavailable("list", e))?;
            if let Some(id) = key.strip_prefix(&prefix) {
                out.push(id.to_owned());
            }
        }
        Ok(out)
    }

    /// Every pattern of this version.
    pub async fn load(&self) -> Result<Vec<PatternRecord>, RegistryError> {
        let mut out = Vec::new();
        for id in self.ids().await? {
            if let Some(record) = self.get(&id).await? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Forgets this version's patterns (a version rebuilt or deleted).
    pub async fn clear(&self) -> Result<(), RegistryError> {
        for id in self.ids().await? {
            self.kv
                .purge(self.key(&id))
                .await
                .map_err(|e| unavailable("purge", e))?;
        }
        Ok(())
    }

    /// One pattern of this version.
    pub async fn get(&self, id: &str) -> Result<Option<PatternRecord>, RegistryError> {
        let Some(bytes) = self
            .kv
            .get(self.key(id))
            .await
            .map_err(|e| unavailable("read", e))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| RegistryError::Corrupt {
                id: id.to_owned(),
                source,
            })
    }

    /// Saves clusters created or generalized; a pattern keeps the first time it
    /// was seen.
    pub async fn save(
        &self,
        changed: Vec<SavedCluster>,
        first_seen: &HashMap<String, i64>,
    ) -> Result<(), RegistryError> {
        for cluster in changed {
            let seen = first_seen.get(&cluster.id).copied().unwrap_or(i64::MAX);
            let first_seen_ns = match self.get(&cluster.id).await? {
                Some(old) => old.first_seen_ns.min(seen),
                None => seen,
            };
            let record = PatternRecord {
                cluster,
                first_seen_ns,
            };
            let bytes = serde_json::to_vec(&record).map_err(|e| unavailable("encode", e))?;
            self.kv
                .put(self.key(&record.cluster.id), bytes.into())
                .await
                .map_err(|e| unavailable("write", e))?;
        }
        Ok(())
    }

    /// Templates by id, for the patterns a reader lists.
    pub async fn templates(
        &self,
        ids: impl IntoIterator<Item = &str>,
    ) -> Result<BTreeMap<String, PatternRecord>, RegistryError> {
        let mut out = BTreeMap::new();
        for id in ids {
            if let Some(record) = self.get(id).await? {
                out.insert(id.to_owned(), record);
            }
        }
        Ok(out)
    }
}
