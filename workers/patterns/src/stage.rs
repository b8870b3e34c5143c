//! A projection's miner and, where its ids must outlive the process, its
//! registry: messages in, pattern ids out, what was learned saved before the
//! caller writes anything that carries the ids.

use std::collections::HashMap;

use crate::registry::{Registry, RegistryError};
use crate::{Miner, MinerConfig};

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

    /// The stage of `registry`'s version, its clusters not read yet: a worker
    /// reads them with [`PatternStage::reload`] when it takes up the stream (a
    /// standby's would be stale by then).
    pub fn unloaded(registry: Registry) -> Self {
        Self {
            miner: Miner::new(MinerConfig::default()),
            registry: Some(registry),
        }
    }

    /// Takes back the registry's clusters, dropping what was learned and not
    /// saved: the projection is about to read its stream again from its
    /// watermark, and the registry is what the batches written so far used.
    pub async fn reload(&mut self) -> Result<(), RegistryError> {
        if let Some(registry) = &self.registry {
            *self = Self::restored(registry.clone()).await?;
        }
        Ok(())
    }

    /// The miner of `registry`'s version, as its saved clusters left it.
    pub async fn restored(registry: Registry) -> Result<Self, RegistryError> {
        let mut miner = Miner::new(MinerConfig::default());
        let saved = registry.load().await?;
        let count = saved.len();
        for record in saved {
            miner.restore(record.cluster);
        }
        tracing::info!(
            version = registry.version(),
            patterns = count,
            "restored the pattern miner"
        );
        Ok(Self {
            miner,
            registry: Some(registry),
        })
    }

    /// A replay's miner: `registry`'s version emptied first, so the same stream
    /// gives the same ids.
    pub async fn fresh(registry: Registry) -> Result<Self, RegistryError> {
        registry.clear().await?;
        Self::restored(registry).await
    }

    /// Forgets everything learned, saved clusters too: the projection is empty
    /// and reads its stream from the start, as a fresh pass would.
    pub async fn reset(&mut self) -> Result<(), RegistryError> {
        if let Some(registry) = &self.registry {
            registry.clear().await?;
        }
        self.miner = Miner::new(MinerConfig::default());
        Ok(())
    }

    /// The same stage for another version of the projection (after a switch).
    pub async fn for_version(&self, version: u64) -> Result<Self, RegistryError> {
        match &self.registry {
            Some(r) => Self::restored(r.at(version)).await,
            None => Ok(Self::in_memory()),
        }
    }

    /// The pattern id of each `(headline, occurred at in Unix ns)`, in order
    /// (`None` stays `None`), then saves the clusters it created or generalized.
    pub async fn assign<'a>(
        &mut self,
        messages: impl IntoIterator<Item = Option<(&'a str, i64)>>,
    ) -> Result<Vec<Option<String>>, RegistryError> {
        let mut first_seen: HashMap<String, i64> = HashMap::new();
        let ids = messages
            .into_iter()
            .map(|m| {
                let (line, at) = m?;
                let id = self.miner.assign(line).to_owned();
                match first_seen.get_mut(&id) {
                    Some(t) => *t = (*t).min(at),
                    None => {
                        first_seen.insert(id.clone(), at);
                    }
                }
                Some(id)
            })
            .collect();
        let changed = self.miner.take_changed();
        if let Some(registry) = &self.registry {
            registry.save(changed, &first_seen).await?;
        }
        Ok(ids)
    }

    /// Clusters dropped to keep within the miner's cap.
    pub fn evicted(&self) -> u64 {
        self.miner.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ids_come_back_in_order_and_none_stays_none() {
        let mut stage = PatternStage::in_memory();
        let ids = stage
            .assign([
                Some(("charge 17 failed", 5)),
                None,
                Some(("cache flushed", 3)),
                Some(("charge 18 failed", 1)),
            ])
            .await
            .unwrap();
        assert_eq!(ids.len(), 4);
        assert_eq!(ids[0], ids[3]);
        assert_eq!(ids[1], None);
        assert_ne!(ids[2], ids[0]);
        assert!(
            stage.miner.take_changed().is_empty(),
            "assign takes what it saves"
        );
    }
}
