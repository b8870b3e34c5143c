//! The counters projection: batches of LOGS events (or FRAUD detections) become one
//! script call per shard. Each shard keeps its own watermark, so a crash between
//! two shards' calls loses nothing and counts nothing twice: on restart the
//! consumer resumes after the lowest watermark and each shard skips what it holds.

use std::collections::BTreeSet;

use futures::future::try_join_all;
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
    fn add_to(&self, planner: &mut Planner<'_>);
}

impl Countable for Event {
    const SOURCE: Source = Source::Logs;
    fn add_to(&self, planner: &mut Planner<'_>) {
        planner.add_event(self);
    }
}

impl Countable for Detection {
    const SOURCE: Source = Source::Fraud;
    fn add_to(&self, planner: &mut Planner<'_>) {
        planner.add_detection(self);
    }
}

pub struct CounterProjection<T> {
    /// The store of the version in use, taken from `versions`.
    store: RedisStore,
    versions: Versioned<RedisStore>,
    /// Each shard's watermark as last read or written; `None` until read.
    floors: Option<Vec<u64>>,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<T: Countable> CounterProjection<T> {
    pub fn new(store: RedisStore) -> Self {
        Self {
            versions: Versioned::fixed(store.clone()),
            store,
            floors: None,
            _item: std::marker::PhantomData,
        }
    }

    /// A projection that follows the live version of the counters.
    pub async fn versioned(versions: Versioned<RedisStore>) -> Self {
        Self {
            store: versions.get().await,
            versions,
            floors: None,
            _item: std::marker::PhantomData,
        }
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
    fn plan(&self, batch: &[Record<T>], floor: u64) -> Vec<ShardWrite> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut planner = Planner::new(self.store.layout(), now);
        for r in batch.iter().filter(|r| r.stream_seq > floor) {
            r.item.add_to(&mut planner);
        }
        planner.finish()
    }

    /// Applies `batch` and moves every shard's watermark to `top`, at least the
    /// batch's last sequence (an empty batch moves the watermarks alone).
    async fn apply_batch(&mut self, batch: &[Record<T>], top: u64) -> Result<(), CountersError> {
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
                let writes = self.plan(batch, floor);
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
            self.apply_batch(batch, top).await?;
        }
        Ok(Outcome::default())
    }

    async fn pass(&mut self, through: u64) -> Result<(), Error> {
        Ok(self.apply_batch(&[], through).await?)
    }

    async fn follow(&mut self, version: u64) -> Result<(), Error> {
        self.store = self.versions.switch_to(version).await?;
        self.floors = None;
        Ok(())
    }
}
