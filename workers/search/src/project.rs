//! The indexer projections: events from LOGS and fraud detections from FRAUD
//! become search documents, each source under its own consumer and watermark.

use sightline_runtime::consumer::{Decode, Outcome, Position, Projection, Record};
use sightline_runtime::versions::Versioned;
use sightline_runtime::Error;
use sightline_schemas::{Detection, Event};

use crate::document::{PiiHasher, SearchDoc};
use crate::store::{SearchStore, Sequenced, Source};

/// What the indexer indexes: log events and fraud detections.
pub trait Indexable: Decode {
    const SOURCE: Source;
    fn document(&self, pii: &PiiHasher) -> SearchDoc;
}

impl Indexable for Event {
    const SOURCE: Source = Source::Logs;
    fn document(&self, pii: &PiiHasher) -> SearchDoc {
        SearchDoc::from_event(self, pii)
    }
}

impl Indexable for Detection {
    const SOURCE: Source = Source::Fraud;
    fn document(&self, pii: &PiiHasher) -> SearchDoc {
        SearchDoc::from_detection(self, pii)
    }
}

/// Idempotency is the store's: it skips what its watermark covers, or upserts by id.
pub struct Indexer<S, T> {
    store: Versioned<S>,
    pii: PiiHasher,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<S: SearchStore + Clone, T: Indexable> Indexer<S, T> {
    pub fn new(store: S, pii: PiiHasher) -> Self {
        Self::versioned(Versioned::fixed(store), pii)
    }

    /// An indexer that follows the live version of the index.
    pub fn versioned(store: Versioned<S>, pii: PiiHasher) -> Self {
        Self {
            store,
            pii,
            _item: std::marker::PhantomData,
        }
    }
}

impl<S: SearchStore + Clone, T: Indexable> Projection for Indexer<S, T> {
    type Item = T;

    async fn position(&mut self) -> Result<Position, Error> {
        let store = self.store.get().await;
        if !store.keeps_watermark() {
            return Ok(Position::Untracked);
        }
        Ok(store
            .watermark(T::SOURCE)
            .await?
            .map_or(Position::Start, Position::After))
    }

    async fn apply(&mut self, batch: &[Record<T>]) -> Result<Outcome, Error> {
        let docs: Vec<Sequenced> = batch
            .iter()
            .map(|r| Sequenced {
                seq: r.stream_seq,
                doc: r.item.document(&self.pii),
            })
            .collect();
        let indexed = self.store.get().await.index(T::SOURCE, docs).await?;
        Ok(Outcome {
            rejected: indexed.rejected,
        })
    }

    async fn follow(&mut self, version: u64) -> Result<(), Error> {
        self.store.switch_to(version).await.map(drop)
    }
}
