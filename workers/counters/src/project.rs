//! The counters projection: batches of LOGS events (or FRAUD detections) become one
//! script call per shard. Each shard keeps its own watermark, so a crash between
//! two shards' calls loses nothing and counts nothing twice: on restart the
//! consumer resumes after the lowest watermark and each shard skips what it holds.
//!
//! With a [`PatternStage`], each event is also counted under its message's
//! pattern (`pattern=<id>`, `service=..,pattern=<id>`, and for log records
//! `service=..,severity=..,pattern=<id>`). The counters mine the stream with the
//! same miner as the index, in the same order, so the ids agree; the stage's
//! registry keeps them across restarts, and a replay mines from empty.

use std::borrow::Cow;
use std::collections::BTreeSet;

use futures::future::try_join_all;
use sightline_patterns::PatternStage;
use sightline_runtime::consumer::{Decode, Outcome, Position, Projection, Record};
use sightline_runtime::versions::Versioned;
use sightline_runtime::Error;
use sightline_schemas::{Detection, Event, OffsetDateTime};

use crate::error::CountersError;
use crate::layout::Source;
use crate::plan::{Planner, ShardWrite};
use crate::store::{Applied, RedisStore};

/// What the counters count: log events and fraud detections.
pub trait Countable: Decode {
    const SOURCE: Source;
    /// The text the pattern miner groups and when it happened (Unix ns).
    fn message(&self) -> Option<(Cow<'_, str>, i64)>;
    fn add_to(&self, planner: &mut Planner<'_>, pattern: Option<&str>);
}

impl Countable for Event {
    const SOURCE: Source = Source::Logs;
    fn message(&self) -> Option<(Cow<'_, str>, i64)> {
        let at = i64::try_from(self.occurred_at.unix_timestamp_nanos()).unwrap_or(i64::MAX);
        Some((Event::message(self), at))
    }
    fn add_to(&self, planner: &mut Planner<'_>, pattern: Option<&str>) {
        planner.add_event(self, pattern);
    }
}

impl Countable for Detection {
    const SOURCE: Source = Source::Fraud;
    fn message(&self) -> Option<(Cow<'_, str>, i64)> {
        None
    }
    fn add_to(&self, planner: &mut Planner<'_>, _pattern: Option<&str>) {
        planner.add_detection(self);
    }
}

pub struct CounterProjection<T> {
    /// The store of the version in use, taken from `versions`.
    store: RedisStore,
    versions: Versioned<RedisStore>,
    /// Each shard's watermark as last read or written; `None` until read.
    floors: Option<Vec<u64>>,
    /// The miner of the counters' version, when patterns are counted.
    patterns: Option<Box<PatternStage>>,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<T: Countable> CounterProjection<T> {
    pub fn new(store: RedisStore) -> Self {
        Self {
            versions: Versioned::fixed(store.clone()),
            store,
            floors: None,
            patterns: None,
            _item: std::marker::PhantomData,
        }
    }

    /// A projection that follows the live version of the counters.
    pub async fn versioned(versions: Versioned<RedisStore>) -> Self {
        Self {
            store: versions.get().await,
            versions,
            floors: None,
            patterns: None,
            _item: std::marker::PhantomData,
        }
    }

    /// Counts each event under its message's pattern too, found by `stage`.
    pub fn with_patterns(mut self, stage: PatternStage) -> Self {
        self.patterns = Some(Box::new(stage));
        self
    }

    /// Each record's pattern, in order; every record is mined, those some
    /// shards already hold too, so the miner sees the stream as the index's does.
    async fn patterns_of(&mut self, batch: &[Record<T>]) -> Result<Vec<Option<String>>, Error> {
        let Some(stage) = &mut self.patterns else {
            return Ok(vec![None; batch.len()]);
        };
        let texts: Vec<_> = batch.iter().map(|r| r.item.message()).collect();
        let headlines = texts.iter().map(|t| {
            let (text, at) = t.as_ref()?;
            Some((sightline_schemas::headline(text)?, *at))
        });
        Ok(stage.assign(headlines).await?)
    }

    async fn floors(&mut self) -> Result<Vec<u64>, CountersError> {
        if let Some(f) = &self.floors {
            return Ok(f.clone());
        }
        let floors = self.store.watermarks(T::SOURCE).await?;
        self.floors = Some(floors.clone());
        Ok(floors)
    }

    /// The writes of the records above `floor`.
    fn plan(
        &self,
        batch: &[Record<T>],
        patterns: &[Option<String>],
        floor: u64,
    ) -> Vec<ShardWrite> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut planner = Planner::new(self.store.layout(), now);
        for (r, p) in batch.iter().zip(patterns) {
            if r.stream_seq > floor {
                r.item.add_to(&mut planner, p.as_deref());
            }
        }
        planner.finish()
    }

    /// Applies `batch` and moves every shard's watermark to `top`, at least the
    /// batch's last sequence (an empty batch moves the watermarks alone).
    async fn apply_batch(
        &mut self,
        batch: &[Record<T>],
        patterns: &[Option<String>],
        top: u64,
    ) -> Result<(), CountersError> {
        let mut floors = self.floors().await?;
        // A watermark found moved is taken as it is and the shard planned again:
        // above `top`, the batch is already in (a retried call whose answer was
        // lost); below, another writer interleaved, which the last round reports.
        for _round in 0..3 {
            // Shards normally share one watermark, so this is one plan; after a
            // crash between shards it is one plan per distinct watermark.
            let distinct: BTreeSet<u64> = floors.iter().copied().filter(|&f| f < top).collect();
            if distinct.is_empty() {
                self.floors = Some(floors);
                return Ok(());
            }
            for floor in distinct {
                let writes = self.plan(batch, patterns, floor);
                let shards: Vec<u16> = (0..self.store.layout().shards())
                    .filter(|&s| floors[usize::from(s)] == floor)
                    .collect();
                let calls = shards.iter().map(|&s| {
                    self.store
                        .apply(T::SOURCE, s, floor, top, &writes[usize::from(s)])
                });
                let results = match try_join_all(calls).await {
                    Ok(r) => r,
                    Err(e) => {
                        // Some shards may have applied: read the watermarks again.
                        self.floors = None;
                        return Err(e);
                    }
                };
                for (&s, applied) in shards.iter().zip(results) {
                    floors[usize::from(s)] = match applied {
                        Applied::Done => top,
                        Applied::Moved { found } => found,
                    };
                }
            }
        }
        self.floors = None;
        let (shard, found) = (0..)
            .zip(&floors)
            .find(|(_, f)| **f < top)
            .map_or((0, 0), |(s, f)| (s, *f));
        Err(CountersError::WatermarkMoved {
            shard,
            expected: top,
            found,
        })
    }
}

impl<T: Countable> Projection for CounterProjection<T> {
    type Item = T;

    async fn position(&mut self) -> Result<Position, Error> {
        self.floors = None;
        let lowest = self.floors().await?.into_iter().min().unwrap_or(0);
        if let Some(stage) = &mut self.patterns {
            if lowest == 0 {
                // Nothing counted (a new or emptied store): mine from empty too,
                // so the ids are those of one straight pass.
                stage.reset().await?;
            } else {
                // Taking up the stream (a start, a takeover, a retry): the miner
                // as the batches counted so far left it.
                stage.reload().await?;
            }
        }
        Ok(match lowest {
            0 => Position::Start,
            seq => Position::After(seq),
        })
    }

    /// Each shard's watermark moves in the script that applies its increments.
    fn durable_watermark(&self) -> bool {
        true
    }

    async fn apply(&mut self, batch: &[Record<T>]) -> Result<Outcome, Error> {
        if let Some(top) = batch.iter().map(|r| r.stream_seq).max() {
            let patterns = self.patterns_of(batch).await?;
            self.apply_batch(batch, &patterns, top).await?;
        }
        Ok(Outcome::default())
    }

    async fn pass(&mut self, through: u64) -> Result<(), Error> {
        Ok(self.apply_batch(&[], &[], through).await?)
    }

    async fn follow(&mut self, version: u64) -> Result<(), Error> {
        self.store = self.versions.switch_to(version).await?;
        self.floors = None;
        if let Some(stage) = &self.patterns {
            self.patterns = Some(Box::new(stage.for_version(version).await?));
        }
        Ok(())
    }
}
