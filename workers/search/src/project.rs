//! The indexer projection: events from LOGS become search documents.

use sightline_runtime::consumer::{Outcome, Position, Projection, Record};
use sightline_runtime::Error;
use sightline_schemas::Event;

use crate::document::{PiiHasher, SearchDoc};
use crate::store::SearchStore;

pub struct Indexer<S> {
    store: S,
    pii: PiiHasher,
    /// The store's watermark as last read or written; records at or below it are skipped.
    watermark: Option<u64>,
}

impl<S: SearchStore> Indexer<S> {
    pub fn new(store: S, pii: PiiHasher) -> Self {
        Self {
            store,
            pii,
            watermark: None,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: SearchStore> Projection for Indexer<S> {
    type Item = Event;

    async fn position(&mut self) -> Result<Position, Error> {
        if !self.store.keeps_watermark() {
            return Ok(Position::Untracked);
        }
        self.watermark = self.store.watermark().await?;
        Ok(self.watermark.map_or(Position::Start, Position::After))
    }

    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        let (positions, docs): (Vec<usize>, Vec<SearchDoc>) = batch
            .iter()
            .enumerate()
            .filter(|(_, r)| self.watermark.is_none_or(|w| r.stream_seq > w))
            .map(|(i, r)| (i, SearchDoc::from_event(&r.item, &self.pii)))
            .unzip();
        let Some(through) = batch.iter().map(|r| r.stream_seq).max() else {
            return Ok(Outcome::default());
        };
        if docs.is_empty() {
            return Ok(Outcome::default());
        }
        let indexed = self.store.index(docs, through).await?;
        if self.store.keeps_watermark() {
            self.watermark = Some(self.watermark.map_or(through, |w| w.max(through)));
        }
        let rejected = indexed
            .rejected
            .into_iter()
            .filter_map(|(i, reason)| Some((*positions.get(i)?, reason)))
            .collect();
        Ok(Outcome { rejected })
    }
}
