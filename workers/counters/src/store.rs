//! The Redis side of the counters: one script call per shard and batch, which
//! checks the shard's watermark, applies the increments and moves the watermark,
//! all in one atomic step.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redis::aio::ConnectionManager;
use redis::Script;

use crate::error::CountersError;
use crate::layout::{Layout, Source};
use crate::plan::{Op, ShardWrite};

static APPLY: &str = include_str!("apply.lua");

/// A multiplexed connection to the Redis at `url` that reconnects on its own.
pub async fn connection(url: &str) -> Result<ConnectionManager, CountersError> {
    let client = redis::Client::open(url)
        // The URL may hold a password: the error names only what is wrong.
        .map_err(|e| CountersError::Config(format!("redis.url is not usable ({:?})", e.kind())))?;
    Ok(ConnectionManager::new(client).await?)
}

/// What one shard's script did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// The shard's watermark was not the expected one; nothing was written.
    Moved {
        found: u64,
    },
}

/// A connection to the counters' Redis, with the key layout.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    layout: Arc<Layout>,
    script: Arc<Script>,
    round_trips: Arc<AtomicU64>,
}

impl RedisStore {
    /// Connects (and reconnects on its own after a dropped connection).
    pub async fn connect(url: &str, layout: Layout) -> Result<Self, CountersError> {
        Ok(Self {
            conn: connection(url).await?,
            layout: Arc::new(layout),
            script: Arc::new(Script::new(APPLY)),
            round_trips: Arc::default(),
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A multiplexed connection for reads: requests from clones are pipelined.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Deletes every counter key of this layout's prefix (a replaced or failed
    /// version of the counters); returns how many.
    pub async fn drop_keys(&self) -> Result<u64, CountersError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:{{*", self.layout.prefix());
        let mut cursor = 0u64;
        let mut deleted = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// Requests sent to Redis so far (a pipeline counts once).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub(crate) fn count_round_trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    /// The watermark of every shard for `source` (0 for none), in shard order.
    pub async fn watermarks(&self, source: Source) -> Result<Vec<u64>, CountersError> {
        let mut pipe = redis::pipe();
        for shard in 0..self.layout.shards() {
            pipe.get(self.layout.watermark_key(shard, source));
        }
        self.count_round_trip();
        let values: Vec<Option<u64>> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(values.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Applies one shard's writes if its watermark is still `expected`, moving it
    /// to `to`.
    pub async fn apply(
        &self,
        source: Source,
        shard: u16,
        expected: u64,
        to: u64,
        write: &ShardWrite,
    ) -> Result<Applied, CountersError> {
        let mut call = self.script.prepare_invoke();
        call.key(self.layout.watermark_key(shard, source))
            .arg(expected)
            .arg(to);
        for w in &write.keys {
            call.key(&w.key);
            match &w.op {
                Op::Incr(fields) => {
                    call.arg("h").arg(w.expire_at).arg(fields.len());
                    for (field, n) in fields {
                        call.arg(field).arg(n);
                    }
                }
                Op::Add(members) => {
                    call.arg("p").arg(w.expire_at).arg(members.len());
                    for m in members {
                        call.arg(m);
                    }
                }
                Op::Once { seen, fields } => {
                    call.key(seen);
                    call.arg("o").arg(w.expire_at).arg(fields.len());
                    for (member, field) in fields {
                        call.arg(member).arg(field);
                    }
                }
            }
        }
        self.count_round_trip();
        let (done, watermark): (i64, u64) = call.invoke_async(&mut self.conn.clone()).await?;
        Ok(if done == 1 {
            Applied::Done
        } else {
            Applied::Moved { found: watermark }
        })
    }
}
