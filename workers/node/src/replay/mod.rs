//! Rebuilds (`sightline replay`): a projection from its streams into a new version
//! (a new Tantivy directory or Elasticsearch index, SQLite file or Mongo collection,
//! Redis key prefix) while the live version keeps serving, then switches readers
//! and live workers to it with one compare-and-set.
//!
//! One rebuild per projection at a time (a lock in NATS); alert notifications are
//! held while it runs; the replaced version is deleted once readers have moved.

mod plan;
mod progress;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressDrawTarget};
use serde::Serialize;
use sightline_alerts::store::AlertStore;
use sightline_counters::project::CounterProjection;
use sightline_fraud::project::DetectionProjection;
use sightline_fraud::rescore::Rescore;
use sightline_fraud::store::configured::{Access::Write, ConfiguredDetections};
use sightline_patterns::{PatternStage, Registry};
use sightline_runtime::consumer::rebuild::{self, Plan, Progress, Rebuilt};
use sightline_runtime::consumer::{Projection, Source};
use sightline_runtime::versions::{Current, Target, Versions};
use sightline_runtime::{Bus, ErrorKind, Settings, Shutdown};
use sightline_schemas::{Detection, Event, OffsetDateTime};
use sightline_search::project::Indexer;
use sightline_search::settings::pii_hasher;
use sightline_search::store::configured::{Access, ConfiguredIndex};
use sightline_search::store::SearchStore;

use crate::{stores, Error, ResultExt};
pub use plan::{Range, RangeArgs};

/// How long readers and live workers get to move off a replaced version before
/// its data is deleted.
const GRACE: Duration = Duration::from_secs(5);

/// How one projection's rebuild went.
#[derive(Debug, Serialize)]
pub struct Report {
    pub projection: Target,
    pub previous_version: u64,
    pub version: u64,
    pub sources: BTreeMap<&'static str, Rebuilt>,
    pub seconds: f64,
    /// Messages applied per second.
    pub per_s: f64,
}

/// What rebuilding `targets` over `range` would read, per source, changing nothing.
pub async fn dry_run(
    targets: &[Target],
    range: &Range,
    settings: &Settings,
) -> Result<serde_json::Value, Error> {
    let bus = crate::connect(settings).await?;
    let versions = Versions::open(&bus).await?;
    let mut report = Vec::new();
    for &target in targets {
        let mut sources = BTreeMap::new();
        for (source, plan) in range.plans(target, settings)? {
            sources.insert(source.name(), rebuild::pending(&bus, &plan).await?);
        }
        let (live, _) = versions.current(target).await?;
        report.push(serde_json::json!({
            "projection": target,
            "live_version": live.version,
            "messages": sources,
        }));
    }
    Ok(serde_json::json!({ "dry_run": true, "projections": report }))
}

/// Rebuilds each of `targets` over `range` at once, each switched and cleaned up
/// as soon as it is done (its old version kept with `keep_old`), alert
/// notifications held meanwhile; stops early on `shutdown`. Gives what each did,
/// the ones that switched included when another failed, and the errors.
pub async fn replay(
    targets: &[Target],
    range: &Range,
    keep_old: bool,
    settings: &Settings,
    shutdown: Shutdown,
) -> Result<(serde_json::Value, Vec<Error>), Error> {
    for &target in targets {
        range.plans(target, settings)?;
    }
    let bus = crate::connect(settings).await?;
    let versions = Versions::open(&bus).await?;
    let quiet = HoldAlerts::start(settings).await?;
    let replay = Replay {
        bus: &bus,
        versions: &versions,
        settings,
        range,
        shutdown,
        bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
    };
    let replay = &replay;
    let rebuilds = targets.iter().map(|&target| async move {
        replay
            .run(target, keep_old)
            .await
            .with_context(|| format!("replay of {}", target.name()))
    });
    let outcomes = futures::future::join_all(rebuilds).await;
    quiet.release().await;
    Ok(summarize(targets, outcomes))
}

/// What every projection's replay did, the ones that switched included when
/// another failed, and the errors.
fn summarize(
    targets: &[Target],
    outcomes: Vec<Result<Report, Error>>,
) -> (serde_json::Value, Vec<Error>) {
    let mut summaries = Vec::new();
    let mut errors = Vec::new();
    for (target, outcome) in targets.iter().zip(outcomes) {
        match outcome {
            Ok(report) => summaries.push(serde_json::json!(report)),
            Err(e) => {
                summaries.push(serde_json::json!({ "projection": target, "error": e.to_string() }));
                errors.push(e);
            }
        }
    }
    (serde_json::json!({ "projections": summaries }), errors)
}

/// Everything one rebuild needs.
pub struct Replay<'a> {
    pub bus: &'a Bus,
    pub versions: &'a Versions,
    pub settings: &'a Settings,
    pub range: &'a Range,
    pub shutdown: Shutdown,
    pub bars: MultiProgress,
}

impl Replay<'_> {
    /// Locks `target`, builds its next version, switches to it and deletes the
    /// replaced one (unless `keep_old`).
    pub async fn run(&self, target: Target, keep_old: bool) -> Result<Report, Error> {
        let how = match (target, self.range.rescore) {
            (Target::Fraud, true) => " --rescore",
            _ => "",
        };
        let holder = format!("sightline replay{how}, pid {}", std::process::id());
        let lock = self.versions.lock(target, &holder).await?;
        let result = self.locked(target, keep_old).await;
        lock.release().await;
        result
    }

    async fn locked(&self, target: Target, keep_old: bool) -> Result<Report, Error> {
        let (live, revision) = self.versions.current(target).await?;
        let next = self.versions.next_version(target).await?;
        tracing::info!(
            projection = target.name(),
            live = live.version,
            next,
            "rebuilding"
        );
        let started = Instant::now();
        let sources = match self.build(target, next).await {
            Ok(sources) => sources,
            Err(e) => return Err(self.discard(target, next, e).await),
        };
        let seconds = started.elapsed().as_secs_f64();
        let record = Current {
            version: next,
            floors: sources
                .iter()
                .map(|(name, r)| ((*name).to_owned(), r.floor))
                .collect(),
            switched_at: Some(OffsetDateTime::now_utc()),
        };
        match self.versions.switch(target, revision, &record).await {
            Ok(()) => {}
            // Nothing was switched (another rebuild switched first, or the record
            // could not be written): the new version will never be live.
            Err(e) if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::Config) => {
                return Err(self.discard(target, next, e.into()).await)
            }
            // It may be live: readers could be on it, so it stays.
            Err(e) => {
                return Err(Error::Context {
                    context: format!("version {next} of {} was kept", target.name()),
                    source: Box::new(e.into()),
                });
            }
        }
        tracing::info!(projection = target.name(), version = next, "switched");
        self.reposition_live(target, &record).await;
        if target == Target::Search {
            // Outside readers move with the switch, not when the indexer next opens
            // it. The switch stands either way: the indexer takes the alias when it opens.
            if let Err(e) = ConfiguredIndex::publish(&self.settings.search, next).await {
                tracing::warn!(error = %e, version = next, "cannot move the public alias yet");
            }
        }
        if !keep_old {
            tokio::time::sleep(GRACE).await;
            if let Err(e) = stores::drop_version(self.settings, target, live.version).await {
                tracing::warn!(error = %e, version = live.version, "cannot delete the replaced version");
            }
            self.forget_patterns(target, live.version).await;
        }
        let applied: u64 = sources.values().map(|r| r.applied + r.skipped).sum();
        Ok(Report {
            projection: target,
            previous_version: live.version,
            version: next,
            sources,
            seconds,
            per_s: applied as f64 / seconds.max(1e-6),
        })
    }

    /// Deletes a version that will never be live, then gives back `error`.
    async fn discard(&self, target: Target, version: u64, error: Error) -> Error {
        if let Err(e) = stores::drop_version(self.settings, target, version).await {
            tracing::warn!(error = %e, version, "cannot delete the unfinished version");
        }
        self.forget_patterns(target, version).await;
        error
    }

    /// Deletes the pattern registry of a version no longer kept.
    async fn forget_patterns(&self, target: Target, version: u64) {
        if target == Target::Fraud {
            return;
        }
        let cleared = match Registry::open(self.bus, target, version).await {
            Ok(registry) => registry.clear().await.map_err(Error::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = cleared {
            tracing::warn!(error = %e, version, "cannot delete the version's patterns");
        }
    }

    /// Moves the live workers' consumers to just after the floors. A running worker
    /// does so itself when it sees the switch; this covers one that is down now and
    /// had applied past the floor into the old version, which would otherwise resume
    /// from its ack floor and leave that stretch out of the new version.
    async fn reposition_live(&self, target: Target, record: &Current) {
        for &source in target.sources() {
            let name = sightline_runtime::consumer::names::live(target, source);
            let stream = source.spec(name).stream;
            let seq = record.floor(source) + 1;
            let moved = match self.bus.js.get_stream(&stream).await {
                Ok(stream) => stream.reset_consumer(name, Some(seq)).await.map(drop),
                Err(e) => {
                    tracing::warn!(consumer = %name, error = %e, "cannot reposition");
                    continue;
                }
            };
            // No consumer yet: its worker creates one and starts from the store's
            // watermark and the floor, or (an upsert store) from the start, idempotently.
            if let Err(e) = moved {
                tracing::debug!(consumer = %name, error = %e, "not repositioned");
            }
        }
    }

    /// Writes version `next` of `target` from its streams.
    async fn build(
        &self,
        target: Target,
        next: u64,
    ) -> Result<BTreeMap<&'static str, Rebuilt>, Error> {
        let s = self.settings;
        match target {
            Target::Search => {
                let store =
                    ConfiguredIndex::open(&s.search, &s.data_dir, next, Access::Unlisted).await?;
                self.index(store, next).await
            }
            Target::Fraud => {
                let store = ConfiguredDetections::open(&s.fraud, &s.data_dir, next, Write).await?;
                let keep = DetectionProjection::new(store.clone());
                if !self.range.rescore {
                    return self.sources(target, None::<NoLogs>, keep).await;
                }
                let rules = sightline_fraud::settings::rules(&s.fraud)?;
                let pii_key = s.search.pii_key.as_ref();
                let payer_ip = sightline_fraud::settings::payer_ip(&s.fraud, pii_key, &s.data_dir)?;
                tracing::info!(rules = %rules.version, "re-scoring LOGS");
                let scoring = Rescore::new(rules, payer_ip, store);
                self.sources(target, Some(scoring), keep).await
            }
            Target::Counters => {
                let store = stores::counters(s, next).await?;
                let patterns = self.fresh_patterns(target, next).await?;
                let logs = CounterProjection::<Event>::new(store.clone()).with_patterns(patterns);
                let fraud = CounterProjection::<Detection>::new(store);
                self.sources(target, Some(logs), fraud).await
            }
        }
    }

    async fn index<S: SearchStore + Clone>(
        &self,
        store: S,
        version: u64,
    ) -> Result<BTreeMap<&'static str, Rebuilt>, Error> {
        let pii = pii_hasher(&self.settings.search, &self.settings.data_dir)?;
        let patterns = self.fresh_patterns(Target::Search, version).await?;
        let logs = Indexer::<_, Event>::new(store.clone(), pii.clone()).with_patterns(patterns);
        let fraud = Indexer::<_, Detection>::new(store, pii);
        self.sources(Target::Search, Some(logs), fraud).await
    }

    /// The miner of a new version: from an empty state, so the same stream gives
    /// the same ids.
    async fn fresh_patterns(&self, target: Target, version: u64) -> Result<PatternStage, Error> {
        let registry = Registry::open(self.bus, target, version).await?;
        Ok(PatternStage::fresh(registry).await?)
    }

    /// Rebuilds each source of `target` at once, drawing their progress together.
    async fn sources<L: Projection<Item = Event>, F: Projection>(
        &self,
        target: Target,
        logs: Option<L>,
        mut fraud: F,
    ) -> Result<BTreeMap<&'static str, Rebuilt>, Error> {
        let plans = self.range.plans(target, self.settings)?;
        let progress: Vec<Arc<Progress>> = plans.iter().map(|_| Arc::default()).collect();
        let plan_of = |source: Source| {
            plans
                .iter()
                .zip(&progress)
                .find(|((s, _), _)| *s == source)
                .map(|((_, plan), p)| (plan, p.clone()))
                .ok_or_else(|| {
                    Error::config(format!("{} does not read {}", target.name(), source.name()))
                })
        };
        let bar = progress::Bar::start(&self.bars, target.name(), progress.clone());
        // Once every source has reached its stream's head, they stop together, so
        // the switch happens with all of them as fresh as the live version.
        let (trigger, handover) = Shutdown::new();
        let hand_over = async {
            while !progress.iter().all(|p| p.caught_up.load(Ordering::Relaxed)) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            trigger.trip();
            Ok::<_, sightline_runtime::Error>(())
        };
        let mut done = BTreeMap::new();
        let (plan, p) = plan_of(Source::Fraud)?;
        let fraud_run = self.source(plan, &mut fraud, p, &handover);
        match logs {
            Some(mut logs) => {
                let (plan, p) = plan_of(Source::Logs)?;
                let logs_run = self.source(plan, &mut logs, p, &handover);
                let (l, f, ()) = tokio::try_join!(logs_run, fraud_run, hand_over)?;
                done.insert(Source::Logs.name(), l);
                done.insert(Source::Fraud.name(), f);
            }
            None => {
                let (f, ()) = tokio::try_join!(fraud_run, hand_over)?;
                done.insert(Source::Fraud.name(), f);
            }
        }
        bar.finish();
        Ok(done)
    }
}

impl Replay<'_> {
    /// Rebuilds one source; once it returns it counts as caught up, so the others
    /// are not held waiting for it.
    async fn source<P: Projection>(
        &self,
        plan: &Plan,
        projection: &mut P,
        progress: Arc<Progress>,
        handover: &Shutdown,
    ) -> Result<Rebuilt, sightline_runtime::Error> {
        let rebuilt = rebuild::rebuild(
            self.bus,
            plan,
            projection,
            progress.clone(),
            handover.clone(),
            self.shutdown.clone(),
        )
        .await;
        progress.caught_up.store(true, Ordering::Relaxed);
        rebuilt
    }
}

/// The fraud store has no LOGS side: a type for its `None`.
type NoLogs = CounterProjection<Event>;

/// Holds alert notifications while projections are rebuilt: the mark expires on
/// its own if this process dies. Without Redis there are no alerts to hold.
struct HoldAlerts(Option<(AlertStore, tokio::task::JoinHandle<()>)>);

impl HoldAlerts {
    async fn start(settings: &Settings) -> Result<Self, Error> {
        const TTL: Duration = Duration::from_secs(60);
        let Ok(url) = crate::redis_url(settings) else {
            return Ok(Self(None));
        };
        let store = AlertStore::connect(url, &settings.counters.prefix).await?;
        store.set_replaying(Some(TTL)).await?;
        let renewing = store.clone();
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TTL / 3).await;
                let _ = renewing.set_replaying(Some(TTL)).await;
            }
        });
        Ok(Self(Some((store, renew))))
    }

    async fn release(self) {
        if let Some((store, renew)) = self.0 {
            renew.abort();
            let _ = store.set_replaying(None).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_projection_does_not_hide_the_ones_that_switched() {
        let switched = Report {
            projection: Target::Search,
            previous_version: 0,
            version: 1,
            sources: BTreeMap::from([(
                "LOGS",
                Rebuilt {
                    floor: 42,
                    applied: 40,
                    skipped: 2,
                },
            )]),
            seconds: 1.5,
            per_s: 28.0,
        };
        let outcomes = vec![
            Ok(switched),
            Err(Error::config("replay of counters: redis is down")),
        ];
        let (summary, errors) = summarize(&[Target::Search, Target::Counters], outcomes);
        let projections = summary["projections"].as_array().unwrap();
        assert_eq!(projections.len(), 2);
        assert_eq!(projections[0]["version"], 1);
        assert_eq!(projections[0]["sources"]["LOGS"]["floor"], 42);
        assert_eq!(projections[1]["projection"], "counters");
        assert_eq!(projections[1]["error"], "replay of counters: redis is down");
        assert_eq!(errors.len(), 1);
    }
}
