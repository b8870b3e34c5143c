//! Blue/green versions of the projections. A rebuild writes a new version of a
//! projection (a new Tantivy directory, SQLite file, Mongo collection, Redis key
//! prefix or Elasticsearch index) while the live one keeps serving, then switches
//! by one compare-and-set of the projection's record in a NATS key-value bucket.
//! Live workers and readers watch that record and move to the new version.
//!
//! The record also carries, per source stream, the floor: the last sequence the
//! rebuild covered. A live worker that moves to the new version resumes right after
//! it, so the events that arrived during the rebuild are applied once, by the live
//! worker, and nothing before the floor is applied again.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sightline_schemas::OffsetDateTime;
use tokio::sync::{watch, Mutex};

use crate::error::{Error, ErrorKind};
use crate::lease::Lease;
use crate::nats::bucket;
use crate::nats::Bus;
use crate::source::Source;

/// The name of `version` of something called `base`: `base` itself for version 0
/// (so a deployment from before versions keeps its data), else `base<sep>v<N>`.
pub fn versioned_name(base: &str, version: u64, sep: &str) -> String {
    if version == 0 {
        base.to_owned()
    } else {
        format!("{base}{sep}v{version}")
    }
}

/// The bucket of version records, one key per projection.
pub const BUCKET: &str = "sightline_versions";
/// The bucket of rebuild locks; a lock not renewed expires after [`LOCK_TTL`].
pub const LOCKS: &str = "sightline_rebuilds";
const LOCK_TTL: Duration = Duration::from_secs(30);

/// How long a worker waits for its store to become ready at start.
pub const OPEN_PATIENCE: Duration = Duration::from_secs(60);

/// What a compare-and-set of a record did.
enum Cas {
    Stored,
    /// The record had moved on: nothing was written.
    Refused,
    /// The write failed ambiguously and the record could not be read back.
    Unknown(String),
}

/// A projection that can be rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The search index, from LOGS and FRAUD.
    Search,
    /// The fraud detections store, from FRAUD.
    Fraud,
    /// The real-time counters, from LOGS and FRAUD.
    Counters,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Search, Target::Fraud, Target::Counters];

    pub fn name(self) -> &'static str {
        match self {
            Target::Search => "search",
            Target::Fraud => "fraud",
            Target::Counters => "counters",
        }
    }

    /// The streams the projection is built from.
    pub fn sources(self) -> &'static [Source] {
        match self {
            Target::Search | Target::Counters => &[Source::Logs, Source::Fraud],
            Target::Fraud => &[Source::Fraud],
        }
    }
}

/// Which version of a projection is live, and since where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Current {
    /// 0 is the version every projection starts at.
    pub version: u64,
    /// Per source (`logs`, `fraud`): the last stream sequence the rebuild covered.
    #[serde(default)]
    pub floors: BTreeMap<String, u64>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub switched_at: Option<OffsetDateTime>,
}

impl Current {
    /// The sequence live workers of this version never go below.
    pub fn floor(&self, source: Source) -> u64 {
        self.floors.get(source.name()).copied().unwrap_or(0)
    }
}

/// The version records and rebuild locks.
#[derive(Clone)]
pub struct Versions {
    records: kv::Store,
    locks: kv::Store,
}

impl Versions {
    /// Opens both buckets, creating them on first use.
    pub async fn open(bus: &Bus) -> Result<Self, Error> {
        let records = bucket(bus, BUCKET, DESCRIPTION, Duration::ZERO, 5).await?;
        let locks = bucket(bus, LOCKS, DESCRIPTION, LOCK_TTL, 1).await?;
        Ok(Self { records, locks })
    }

    /// The live version of `target` and the record's revision (0 when never switched).
    pub async fn current(&self, target: Target) -> Result<(Current, u64), Error> {
        let entry = self
            .records
            .entry(target.name())
            .await
            .map_err(|e| Error::nats("read version", e))?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => Ok((decode(&e.value)?, e.revision)),
            Some(e) => Ok((Current::default(), e.revision)),
            None => Ok((Current::default(), 0)),
        }
    }

    /// A number no rebuild of `target` has used: a failed rebuild's leftovers are
    /// never mistaken for a fresh version.
    pub async fn next_version(&self, target: Target) -> Result<u64, Error> {
        let key = format!("{}.next", target.name());
        for _ in 0..20 {
            let entry = self
                .records
                .entry(key.as_str())
                .await
                .map_err(|e| Error::nats("read version counter", e))?;
            let (last, revision) = match entry {
                Some(e) => (
                    std::str::from_utf8(&e.value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0),
                    e.revision,
                ),
                None => (0, 0),
            };
            let live = self.current(target).await?.0.version;
            let next = last.max(live) + 1;
            let value = next.to_string();
            match self.compare_and_set(&key, value.as_bytes(), revision).await {
                Cas::Stored => return Ok(next),
                Cas::Refused => continue,
                // Read again: if the write did land, the next number is taken
                // instead; a number skipped is harmless, one used twice is not.
                Cas::Unknown(e) => {
                    tracing::warn!(error = %e, "reserving a version number; trying again")
                }
            }
        }
        Err(Error::Server(format!(
            "cannot reserve a version number for {}",
            target.name()
        )))
    }

    /// Makes `next` live, unless the record changed since `revision` was read (an
    /// error of kind [`crate::ErrorKind::Conflict`]). An error of that kind or of
    /// kind [`crate::ErrorKind::Config`] means nothing was switched; any other
    /// means the outcome is unknown (the record could not be read back), and
    /// the new version must be kept: readers may be on it.
    pub async fn switch(&self, target: Target, revision: u64, next: &Current) -> Result<(), Error> {
        let value =
            serde_json::to_vec(next).map_err(|e| Error::Server(format!("encode version: {e}")))?;
        match self.compare_and_set(target.name(), &value, revision).await {
            Cas::Stored => Ok(()),
            Cas::Refused => Err(Error::Conflict(format!(
                "the version of {} changed during the rebuild; nothing was switched",
                target.name()
            ))),
            Cas::Unknown(e) => Err(Error::Server(format!(
                "cannot tell whether {} switched to version {} ({e}); `sightline status` shows the live version",
                target.name(),
                next.version
            ))),
        }
    }

    /// Writes `value` under `key` if its revision is still `revision` (0: absent).
    /// After an ambiguous failure (a timeout, after which the write may have
    /// landed) the key is read back and what it holds decides.
    async fn compare_and_set(&self, key: &str, value: &[u8], revision: u64) -> Cas {
        let bytes = bytes::Bytes::copy_from_slice(value);
        let failed = if revision == 0 {
            match self.records.create(key, bytes).await {
                Ok(_) => return Cas::Stored,
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => return Cas::Refused,
                Err(e) => e.to_string(),
            }
        } else {
            match self.records.update(key, bytes, revision).await {
                Ok(_) => return Cas::Stored,
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    return Cas::Refused
                }
                Err(e) => e.to_string(),
            }
        };
        for attempt in 0..5u32 {
            match self.records.entry(key).await {
                Ok(Some(e)) if e.operation == kv::Operation::Put && e.revision > revision => {
                    return if e.value.as_ref() == value {
                        Cas::Stored
                    } else {
                        Cas::Refused
                    };
                }
                // Still at the revision read before: the write did not land.
                Ok(_) => return Cas::Refused,
                Err(e) => tracing::warn!(error = %e, key, "reading back a compare-and-set"),
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        Cas::Unknown(failed)
    }

    /// Watches `target`'s record: the receiver always holds the live version.
    pub async fn follow(&self, target: Target) -> Result<watch::Receiver<Current>, Error> {
        let (current, _) = self.current(target).await?;
        let (tx, rx) = watch::channel(current);
        let records = self.records.clone();
        tokio::spawn(async move {
            while !tx.is_closed() {
                match records.watch(target.name()).await {
                    Ok(mut updates) => {
                        while let Some(Ok(entry)) = updates.next().await {
                            if entry.operation != kv::Operation::Put {
                                continue;
                            }
                            match decode(&entry.value) {
                                Ok(current) => {
                                    tx.send_if_modified(|c| {
                                        let changed = *c != current;
                                        *c = current;
                                        changed
                                    });
                                }
                                Err(e) => tracing::warn!(error = %e, "unreadable version record"),
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot watch versions; retrying"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                // A record switched while the watch was down is read here.
                if let Ok(entry) = records.entry(target.name()).await {
                    if let Some(current) = entry.and_then(|e| decode(&e.value).ok()) {
                        tx.send_if_modified(|c| std::mem::replace(c, current.clone()) != current);
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Takes the rebuild lock of `target`, refused while another rebuild holds it.
    /// The lock is renewed until released or dropped, and expires if its holder dies.
    pub async fn lock(&self, target: Target, holder: &str) -> Result<Lock, Error> {
        let key = target.name();
        match Lease::take(&self.locks, key, holder, LOCK_TTL).await? {
            Ok(lease) => Ok(Lock(lease)),
            Err(by) => Err(Error::Config(format!(
                "a rebuild of {key} is already running ({by}); two rebuilds of one projection never run at once"
            ))),
        }
    }

    /// Who is rebuilding `target` now, if anyone: the holder of its rebuild lock.
    pub async fn rebuilding(&self, target: Target) -> Result<Option<String>, Error> {
        let held = self
            .locks
            .get(target.name())
            .await
            .map_err(|e| Error::nats("read a rebuild lock", e))?;
        Ok(held
            .filter(|h| !h.is_empty())
            .map(|h| String::from_utf8_lossy(&h).into_owned()))
    }
}

/// A held rebuild lock.
pub struct Lock(Lease);

impl Lock {
    pub async fn release(self) {
        self.0.release().await;
    }
}

const DESCRIPTION: &str = "Sightline projection versions";

fn decode(bytes: &[u8]) -> Result<Current, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Server(format!("version record: {e}")))
}

type Opener<S> =
    dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<S, Error>> + Send>> + Send + Sync;

/// A store that follows the live version: the projections of one worker share it,
/// so a version is opened once (Tantivy allows one writer per directory).
pub struct Versioned<S> {
    slot: Arc<Mutex<(u64, S)>>,
    open: Arc<Opener<S>>,
}

impl<S> Clone for Versioned<S> {
    fn clone(&self) -> Self {
        Self {
            slot: self.slot.clone(),
            open: self.open.clone(),
        }
    }
}

impl<S: Clone + Send + 'static> Versioned<S> {
    /// Opens `version` now, and any later one with `open`. A store that is not
    /// ready yet (a server still starting, Redis loading its data) is waited for,
    /// up to [`OPEN_PATIENCE`], rather than stopping the worker.
    pub async fn open<F, Fut>(version: u64, open: F) -> Result<Self, Error>
    where
        F: Fn(u64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S, Error>> + Send + 'static,
    {
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(100);
        let store = loop {
            match open(version).await {
                Err(e) if e.kind() == ErrorKind::Transient && started.elapsed() < OPEN_PATIENCE => {
                    tracing::warn!(error = %e, "the store is not ready; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                result => break result?,
            }
        };
        Ok(Self {
            slot: Arc::new(Mutex::new((version, store))),
            open: Arc::new(move |v| Box::pin(open(v))),
        })
    }

    /// A store that never changes version (benchmarks, tests, rebuilds).
    pub fn fixed(store: S) -> Self {
        Self {
            slot: Arc::new(Mutex::new((0, store))),
            open: Arc::new(|_| {
                Box::pin(async { Err(Error::Config("this store does not follow versions".into())) })
            }),
        }
    }

    /// The version in use (0 for a fixed store).
    pub async fn version(&self) -> u64 {
        self.slot.lock().await.0
    }

    /// The store of the version in use.
    pub async fn get(&self) -> S {
        self.slot.lock().await.1.clone()
    }

    /// Moves to `version`, opening it unless another holder already did.
    pub async fn switch_to(&self, version: u64) -> Result<S, Error> {
        let mut slot = self.slot.lock().await;
        if slot.0 != version {
            let store = (self.open)(version).await?;
            *slot = (version, store);
            tracing::info!(version, "moved to a new projection version");
        }
        Ok(slot.1.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_default_to_zero_and_records_round_trip() {
        let mut current = Current {
            version: 3,
            ..Default::default()
        };
        current.floors.insert("logs".into(), 42);
        let bytes = serde_json::to_vec(&current).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back, current);
        assert_eq!(back.floor(Source::Logs), 42);
        assert_eq!(back.floor(Source::Fraud), 0);
        assert!(decode(b"{").is_err());
    }

    #[tokio::test]
    async fn a_versioned_store_opens_each_version_once() {
        let opened = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = opened.clone();
        let store = Versioned::open(0, move |v| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { Ok(format!("v{v}")) }
        })
        .await
        .unwrap();
        let other = store.clone();
        assert_eq!(store.switch_to(2).await.unwrap(), "v2");
        assert_eq!(other.switch_to(2).await.unwrap(), "v2");
        assert_eq!(other.get().await, "v2");
        assert_eq!(opened.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(Versioned::fixed(1u8).switch_to(1).await.is_err());
    }
}
