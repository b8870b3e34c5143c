//! Each event's pattern, found by the indexer's one miner and kept with the
//! document (`pattern:<id>`), and the registry that makes the ids outlive the
//! process.
//!
//! A miner's ids depend on everything it has seen, so the clusters are saved to
//! a key-value bucket, per version of the index, before any document that
//! carries their ids is written. A restarted indexer restores them and goes on
//! with the same ids; the registry may run ahead of the index (a batch saved,
//! not yet indexed), which is harmless: the messages indexed again find the
//! clusters they made. A replay writes a new version from an empty registry, so
//! the same stream gives the same ids.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sightline_patterns::{Miner, MinerConfig, SavedCluster};
use sightline_runtime::Bus;

use crate::document::SearchDoc;
use crate::error::SearchError;
use crate::query::DocKind;

/// The bucket of saved clusters, keyed `v<version>.<pattern id>`.
pub const BUCKET: &str = "sightline_patterns";

/// A pattern as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternRecord {
    #[serde(flatten)]
    pub cluster: SavedCluster,
    /// When the first event of the pattern happened, in Unix nanoseconds.
    pub first_seen_ns: i64,
}

/// The saved clusters of one version of the index.
#[derive(Clone)]
pub struct Registry {
    kv: kv::Store,
    version: u64,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> SearchError {
    SearchError::Unavailable(format!("pattern registry: {what}: {e}"))
}

impl Registry {
    pub async fn open(bus: &Bus, version: u64) -> Result<Self, sightline_runtime::Error> {
        let description = "Sightline: log pattern clusters, per version of the search index";
        let kv =
            sightline_runtime::nats::bucket(bus, BUCKET, description, Duration::ZERO, 1).await?;
        Ok(Self { kv, version })
    }

    /// The same bucket, for another version of the index.
    pub fn at(&self, version: u64) -> Self {
        Self {
            kv: self.kv.clone(),
            version,
        }
    }

    fn key(&self, id: &str) -> String {
        format!("v{}.{id}", self.version)
    }

    /// The ids of this version's patterns.
    async fn ids(&self) -> Result<Vec<String>, SearchError> {
        let prefix = format!("v{}.", self.version);
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
    pub async fn load(&self) -> Result<Vec<PatternRecord>, SearchError> {
        let mut out = Vec::new();
        for id in self.ids().await? {
            if let Some(record) = self.get(&id).await? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Forgets this version's patterns (a version rebuilt or deleted).
    pub async fn clear(&self) -> Result<(), SearchError> {
        for id in self.ids().await? {
            self.kv
                .purge(self.key(&id))
                .await
                .map_err(|e| unavailable("purge", e))?;
        }
        Ok(())
    }

    /// One pattern of this version.
    pub async fn get(&self, id: &str) -> Result<Option<PatternRecord>, SearchError> {
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
            .map_err(|e| SearchError::backend(format!("pattern {id}: {e}")))
    }

    /// Saves clusters created or generalized; a pattern keeps the first time it
    /// was seen.
    pub async fn save(
        &self,
        changed: Vec<SavedCluster>,
        first_seen: &HashMap<String, i64>,
    ) -> Result<(), SearchError> {
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
}

/// The miner and, where ids must outlive the process, its registry.
pub struct PatternStage {
    miner: Miner,
    registry: Option<Registry>,
}

impl PatternStage {
    /// A miner from an empty state whose ids live as long as it does
    /// (benchmarks, `sightline patterns group`).
    pub fn in_memory() -> Self {
        Self {
            miner: Miner::new(MinerConfig::default()),
            registry: None,
        }
    }

    /// The miner of `registry`'s version, as its saved clusters left it.
    pub async fn restored(registry: Registry) -> Result<Self, SearchError> {
        let mut miner = Miner::new(MinerConfig::default());
        let saved = registry.load().await?;
        let count = saved.len();
        for record in saved {
            miner.restore(record.cluster);
        }
        tracing::info!(
            version = registry.version,
            patterns = count,
            "restored the pattern miner"
        );
        Ok(Self {
            miner,
            registry: Some(registry),
        })
    }

    /// The same stage for another version of the index (after a switch).
    pub async fn for_version(&self, version: u64) -> Result<Self, SearchError> {
        match &self.registry {
            Some(r) if r.version != version => Self::restored(r.at(version)).await,
            Some(r) => Self::restored(r.clone()).await,
            None => Ok(Self::in_memory()),
        }
    }

    /// Sets each document's pattern (fraud detections have none) and saves what
    /// the miner learned before the documents are written.
    pub async fn assign(&mut self, docs: &mut [SearchDoc]) -> Result<(), SearchError> {
        let mut first_seen: HashMap<String, i64> = HashMap::new();
        for doc in docs.iter_mut() {
            // A message's first line says what happened; a stack trace below it
            // is its issue's business, not its wording's.
            let first_line = doc.message.lines().find(|l| !l.trim().is_empty());
            let Some(line) = first_line.filter(|_| doc.kind != DocKind::FraudDetection.as_str())
            else {
                continue;
            };
            let id = self.miner.assign(line).to_owned();
            if let Some(t) = first_seen.get_mut(&id) {
                *t = (*t).min(doc.occurred_at_ns);
            } else {
                first_seen.insert(id.clone(), doc.occurred_at_ns);
            }
            doc.keywords.pattern = Some(id);
        }
        let changed = self.miner.take_changed();
        if let Some(registry) = &self.registry {
            registry.save(changed, &first_seen).await?;
        }
        Ok(())
    }
}

/// Templates by id, for the patterns a reader lists.
pub async fn templates(
    registry: &Registry,
    ids: impl IntoIterator<Item = &str>,
) -> Result<BTreeMap<String, PatternRecord>, SearchError> {
    let mut out = BTreeMap::new();
    for id in ids {
        if let Some(record) = registry.get(id).await? {
            out.insert(id.to_owned(), record);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_schemas::{Body, Event, LogRecord, Severity};

    fn doc(message: &str) -> SearchDoc {
        let event = Event::new("api", Body::Log(LogRecord::new(Severity::Error, message)));
        SearchDoc::from_event(&event, &crate::document::PiiHasher::new([1; 32]))
    }

    #[tokio::test]
    async fn a_message_is_grouped_by_its_first_line_and_detections_get_none() {
        let mut docs = vec![
            doc("charge 17 failed\nTraceback (most recent call last):\n  File \"a.py\", line 3, in f"),
            doc("charge 18 failed\n  at Pay.charge(Pay.java:42)\n  at Main.main(Main.java:7)"),
            doc("\n\ncache flushed"),
        ];
        let mut fraud = doc("x");
        fraud.kind = DocKind::FraudDetection.as_str().into();
        docs.push(fraud);
        let mut stage = PatternStage::in_memory();
        stage.assign(&mut docs).await.unwrap();
        assert_eq!(docs[0].keywords.pattern, docs[1].keywords.pattern);
        assert!(docs[2].keywords.pattern.is_some());
        assert_ne!(docs[2].keywords.pattern, docs[0].keywords.pattern);
        assert_eq!(docs[3].keywords.pattern, None);
        let changed = stage.miner.take_changed();
        assert!(changed.is_empty(), "assign takes what it saves");
    }
}
