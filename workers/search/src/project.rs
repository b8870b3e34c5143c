//! The indexer projection: events from LOGS become search documents.

use sightline_runtime::consumer::{Outcome, Position, Projection, Record, WorkerSpec};
use sightline_runtime::topology::LOGS;
use sightline_runtime::Error;
use sightline_schemas::Event;

use crate::document::{PiiHasher, SearchDoc};
use crate::store::{SearchStore, Sequenced};

/// Idempotency is the store's: it skips what its watermark covers, or upserts by id.
pub struct Indexer<S> {
    store: S,
    pii: PiiHasher,
}

/// The indexer's consumer: all of LOGS under the durable name `consumer`.
pub fn worker_spec(consumer: &str) -> WorkerSpec {
    WorkerSpec {
        stream: LOGS.into(),
        consumer: consumer.into(),
        filter_subjects: vec!["logs.>".into()],
    }
}

impl<S: SearchStore> Indexer<S> {
    pub fn new(store: S, pii: PiiHasher) -> Self {
        Self { store, pii }
    }
}

impl<S: SearchStore> Projection for Indexer<S> {
    type Item = Event;

    async fn position(&mut self) -> Result<Position, Error> {
        if !self.store.keeps_watermark() {
            return Ok(Position::Untracked);
        }
        Ok(self
            .store
            .watermark()
            .await?
            .map_or(Position::Start, Position::After))
    }

    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        let docs: Vec<Sequenced> = batch
            .iter()
            .map(|r| Sequenced {
                seq: r.stream_seq,
                doc: SearchDoc::from_event(&r.item, &self.pii),
            })
            .collect();
        let indexed = self.store.index(docs).await?;
        Ok(Outcome {
            rejected: indexed.rejected,
        })
    }
}
