//! The indexer projections: events from LOGS and fraud detections from FRAUD
//! become search documents, each source under its own consumer and watermark.

use sightline_runtime::consumer::{Decode, Outcome, Position, Projection, Record};
use sightline_runtime::versions::Versioned;
use sightline_runtime::Error;
use sightline_schemas::{Detection, Event};

use crate::document::{PiiHasher, SearchDoc};
use crate::patterns::PatternStage;
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
    /// The version this projection writes, until it follows a switch itself: the
    /// other source's projection may move `versions` first, before this one has
    /// repositioned its consumer.
    store: S,
    versions: Versioned<S>,
    pii: PiiHasher,
    /// Log events carry their message's pattern; detections have none.
    patterns: Option<Box<PatternStage>>,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<S: SearchStore + Clone, T: Indexable> Indexer<S, T> {
    pub fn new(store: S, pii: PiiHasher) -> Self {
        Self {
            versions: Versioned::fixed(store.clone()),
            store,
            pii,
            patterns: None,
            _item: std::marker::PhantomData,
        }
    }

    /// Gives each document its message's pattern, from `stage`'s miner.
    pub fn with_patterns(mut self, stage: PatternStage) -> Self {
        self.patterns = Some(Box::new(stage));
        self
    }

    /// An indexer that follows the live version of the index.
    pub async fn versioned(versions: Versioned<S>, pii: PiiHasher) -> Self {
        Self {
            store: versions.get().await,
            versions,
            pii,
            patterns: None,
            _item: std::marker::PhantomData,
        }
    }
}

impl<S: SearchStore + Clone, T: Indexable> Projection for Indexer<S, T> {
    type Item = T;

    async fn position(&mut self) -> Result<Position, Error> {
        let position = if !self.store.keeps_watermark() {
            Position::Untracked
        } else {
            self.store
                .watermark(T::SOURCE)
                .await?
                .map_or(Position::Start, Position::After)
        };
        if let Some(stage) = &mut self.patterns {
            // Taking up the stream (a start, a takeover, a retry): the miner as the
            // batches indexed so far left it; an empty index mines from empty.
            match position {
                Position::Start => stage.reset().await?,
                _ => stage.reload().await?,
            }
        }
        Ok(position)
    }

    /// The Tantivy watermark is the commit's payload.
    fn durable_watermark(&self) -> bool {
        self.store.keeps_watermark()
    }

    async fn apply(&mut self, batch: &[Record<T>]) -> Result<Outcome, Error> {
        let mut docs: Vec<SearchDoc> = batch.iter().map(|r| r.item.document(&self.pii)).collect();
        if let Some(stage) = &mut self.patterns {
            crate::patterns::assign(stage, &mut docs).await?;
        }
        let docs = batch
            .iter()
            .zip(docs)
            .map(|(r, doc)| Sequenced {
                seq: r.stream_seq,
                doc,
            })
            .collect();
        let indexed = self.store.index(T::SOURCE, docs).await?;
        Ok(Outcome {
            rejected: indexed.rejected,
        })
    }

    async fn pass(&mut self, through: u64) -> Result<(), Error> {
        Ok(self.store.advance(T::SOURCE, through).await?)
    }

    async fn follow(&mut self, version: u64) -> Result<(), Error> {
        self.store = self.versions.switch_to(version).await?;
        if let Some(stage) = &self.patterns {
            self.patterns = Some(Box::new(stage.for_version(version).await?));
        }
        Ok(())
    }
}
