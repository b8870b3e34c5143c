//! The workers of each role, wired to the bus and the configured stores: what
//! `sightline worker <role>...` runs in its own process and `sightline up` beside
//! the API. Each stops gracefully (finishing its batch) on the shutdown it is given.

mod search_hits;
mod shared;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};

use sightline_alerts::evaluate::{Evaluator, SystemClock};
use sightline_alerts::measure::Sources;
use sightline_alerts::notify::Notifier;
use sightline_alerts::store::AlertStore;
use sightline_alerts::Rules;
use sightline_counters::Reader;
use sightline_fraud::project::{store_spec, DetectionProjection};
use sightline_fraud::store::configured::{self as detections, ConfiguredDetections};
use sightline_patterns::{PatternStage, Registry};
use sightline_runtime::config::ConsumerSettings;
use sightline_runtime::consumer::{names, Lease, Projection, Source, Worker};
use sightline_runtime::metrics::{self, Health};
use sightline_runtime::versions::{Current, Target, Versioned, Versions};
use sightline_runtime::{Bus, Settings, Shutdown};
use sightline_schemas::{Detection, Event};
use sightline_search::project::Indexer;
use sightline_search::settings::pii_hasher;
use sightline_search::store::configured::{Access, ConfiguredIndex};
use sightline_search::store::SearchStore;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::{stores, Error, ResultExt, Role, UP_METRICS_PORT};

/// The metrics port of a process that runs `roles`: the lowest of theirs.
pub fn metrics_port(roles: &[Role]) -> u16 {
    roles
        .iter()
        .map(|r| r.metrics_port())
        .min()
        .unwrap_or(UP_METRICS_PORT)
}

/// Runs the workers of `roles` until `shutdown`, reporting to `health`. The cursor
/// readers of LOGS among them share one consumer (see [`shared`]); the others run
/// side by side.
pub async fn run(
    roles: &[Role],
    settings: Settings,
    health: Health,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let mut unique: Vec<Role> = Vec::new();
    for role in roles {
        if !unique.contains(role) {
            unique.push(*role);
        }
    }
    let (cursors, others): (Vec<_>, Vec<_>) = unique
        .into_iter()
        .partition(|k| shared::reads_logs_by_cursor(*k, &settings));
    let run = |health: &Health, shutdown: &Shutdown| Run {
        health: health.clone(),
        shutdown: shutdown.clone(),
    };
    let mut workers: Vec<BoxFuture<'static, Result<(), Error>>> = Vec::new();
    if !cursors.is_empty() {
        let run = run(&health, &shutdown);
        workers.push(shared::run(cursors, settings.clone(), run).boxed());
    }
    for kind in others {
        let (settings, run) = (settings.clone(), run(&health, &shutdown));
        workers.push(
            async move {
                match kind {
                    Role::Indexer => indexer(settings, run).await,
                    Role::FraudStore => fraud_store(settings, run).await,
                    Role::Alerts => alerts(settings, run).await,
                    Role::Fraud | Role::Counters => Err(Error::config(format!(
                        "the {kind:?} worker reads LOGS by cursor"
                    ))),
                }
            }
            .boxed(),
        );
    }
    futures::future::try_join_all(workers).await?;
    Ok(())
}

/// The consumer on LOGS that the cursor-reading `roles` share in one process.
pub fn logs_consumer(roles: &[&str]) -> String {
    shared::spec_for(roles).consumer
}

/// Whether `role` reads LOGS by cursor under the configured backends (and so
/// shares one consumer with the other cursor readers of its process).
pub fn reads_logs_by_cursor(role: Role, settings: &Settings) -> bool {
    shared::reads_logs_by_cursor(role, settings)
}

/// The lease the one active alert evaluator holds.
const EVALUATOR: &str = "evaluator";

/// What a worker reports to and stops on.
struct Run {
    health: Health,
    shutdown: Shutdown,
}

/// Serves /metrics and /healthz on `consumer.metrics_addr`, or by default on
/// 127.0.0.1:`default_port` (another free port, with a warning, when a second
/// process of the same role on this host holds it). Prints where.
pub async fn serve_metrics(settings: &Settings, default_port: u16) -> Result<Health, Error> {
    let health = Health::default();
    let bound = match settings.consumer.metrics_addr {
        Some(addr) => {
            metrics::serve(addr, health.clone())
                .await
                .context("consumer.metrics_addr")?
                .0
        }
        None => {
            let preferred = SocketAddr::from(([127, 0, 0, 1], default_port));
            match metrics::serve(preferred, health.clone()).await {
                Ok((bound, _)) => bound,
                Err(e) => {
                    tracing::warn!(error = %e, "the default metrics port is taken; using a free one (set consumer.metrics_addr)");
                    let any = SocketAddr::from(([127, 0, 0, 1], 0));
                    metrics::serve(any, health.clone()).await?.0
                }
            }
        }
    };
    println!("metrics: http://{bound}/metrics");
    Ok(health)
}

/// The live version of `target`, followed from now on.
async fn follow(bus: &Bus, target: Target) -> Result<watch::Receiver<Current>, Error> {
    Ok(Versions::open(bus).await?.follow(target).await?)
}

/// The indexer on Elasticsearch (on the embedded index it reads LOGS by cursor,
/// see [`shared`]).
async fn indexer(settings: Settings, run: Run) -> Result<(), Error> {
    let bus = crate::connect(&settings).await?;
    let mut current = follow(&bus, Target::Search).await?;
    let version = current.borrow_and_update().version;
    let store = versioned(&settings, version, live_index).await?;
    let pii = pii_hasher(&settings.search, &settings.data_dir)?;
    keep_retention(&store, &settings, &run);
    let consumer = settings.indexer_consumer();
    let patterns = pattern_stage(&bus, Target::Search, &store).await?;
    run_logs_and_fraud(
        &bus,
        names::INDEXER,
        consumer,
        Indexer::<_, Event>::versioned(store.clone(), pii.clone())
            .await
            .with_patterns(patterns),
        Indexer::<_, Detection>::versioned(store, pii).await,
        current,
        run,
    )
    .await
}

/// The pattern miner of `target`'s live version, read from its registry when the
/// worker takes up the stream.
pub(crate) async fn pattern_stage<S: Clone + Send + 'static>(
    bus: &Bus,
    target: Target,
    store: &Versioned<S>,
) -> Result<PatternStage, Error> {
    let registry = Registry::open(bus, target, store.version().await).await?;
    Ok(PatternStage::unloaded(registry))
}

/// `version` of a store, opened by `open` now and again at each switch of version
/// the worker is told of.
pub(crate) async fn versioned<S, Fut>(
    settings: &Settings,
    version: u64,
    open: fn(Settings, u64) -> Fut,
) -> Result<Versioned<S>, Error>
where
    S: Clone + Send + 'static,
    Fut: Future<Output = Result<S, Error>> + Send + 'static,
{
    let settings = settings.clone();
    let open = move |v| {
        let opening = open(settings.clone(), v);
        async move { opening.await.map_err(runtime_error) }
    };
    Ok(Versioned::open(version, open).await?)
}

/// The live index, as the indexer writes it.
async fn live_index(settings: Settings, version: u64) -> Result<ConfiguredIndex, Error> {
    let (search, dir) = (&settings.search, &settings.data_dir);
    Ok(ConfiguredIndex::open(search, dir, version, Access::Live).await?)
}

async fn detections(settings: Settings, version: u64) -> Result<ConfiguredDetections, Error> {
    let (fraud, dir) = (&settings.fraud, &settings.data_dir);
    Ok(ConfiguredDetections::open(fraud, dir, version, detections::Access::Write).await?)
}

/// What a store opened on a switch of version failed with, as the consumer loop
/// reports it (with the kind that says whether to retry).
fn runtime_error(e: Error) -> sightline_runtime::Error {
    sightline_runtime::Error::store(e.kind(), e)
}

async fn fraud_store(settings: Settings, run: Run) -> Result<(), Error> {
    let bus = crate::connect(&settings).await?;
    let mut current = follow(&bus, Target::Fraud).await?;
    let version = current.borrow_and_update().version;
    let store = versioned(&settings, version, detections).await?;
    Worker::new(
        &bus,
        store_spec(names::FRAUD_STORE),
        settings.consumer.clone(),
        DetectionProjection::versioned(store).await,
    )
    .following(current, Source::Fraud)
    .with_health(run.health)
    .run(run.shutdown)
    .await?;
    Ok(())
}

/// Runs a projection's two consumers in one process: LOGS events under `name`,
/// FRAUD detections under `<name>-fraud`, each with its own position, sharing
/// the health report and the shutdown.
async fn run_logs_and_fraud(
    bus: &Bus,
    name: &str,
    consumer: ConsumerSettings,
    logs: impl Projection<Item = Event>,
    fraud: impl Projection<Item = Detection> + Sync,
    current: watch::Receiver<Current>,
    run: Run,
) -> Result<(), Error> {
    let logs = Worker::new(bus, Source::Logs.spec(name), consumer.clone(), logs)
        .following(current.clone(), Source::Logs)
        .with_health(run.health.clone())
        .run(run.shutdown.clone());
    let fraud = fraud_half(bus, name, &consumer, fraud, &current, &run);
    tokio::try_join!(async { Ok(logs.await.map(drop)?) }, fraud)?;
    Ok(())
}

/// A role's worker on FRAUD, under `<name>-fraud`, following the role's versions.
fn fraud_half<P: Projection<Item = Detection> + Sync>(
    bus: &Bus,
    name: &str,
    consumer: &ConsumerSettings,
    projection: P,
    current: &watch::Receiver<Current>,
    run: &Run,
) -> BoxFuture<'static, Result<(), Error>> {
    let worker = Worker::new(
        bus,
        Source::Fraud.spec(&names::on_fraud(name)),
        consumer.clone(),
        projection,
    )
    .following(current.clone(), Source::Fraud)
    .with_health(run.health.clone());
    let shutdown = run.shutdown.clone();
    async move {
        worker.run(shutdown).await?;
        Ok(())
    }
    .boxed()
}

/// Evaluates the alert rules on the counters (and fraud detections) and notifies.
/// Reads the live versions: when a rebuild switches one, the evaluator starts
/// again on the new version (its state is in Redis, so nothing is lost).
async fn alerts(settings: Settings, run: Run) -> Result<(), Error> {
    let bus = crate::connect(&settings).await?;
    let versions = Versions::open(&bus).await?;
    let mut counters = versions.follow(Target::Counters).await?;
    let mut fraud = versions.follow(Target::Fraud).await?;
    // Two evaluators would notify twice: one runs, the others stand by.
    let active = &sightline_alerts::metrics::alerts().active;
    active.set(0);
    let mut shutdown = run.shutdown.clone();
    let Some(mut lease) = Lease::acquire(&bus, "ALERTS", EVALUATOR, &mut shutdown).await? else {
        return Ok(());
    };
    active.set(1);
    loop {
        let counters_version = counters.borrow_and_update().version;
        let fraud_version = fraud.borrow_and_update().version;
        let (trigger, until_switch) = Shutdown::new();
        let (mut stop, mut c, mut f) = (run.shutdown.clone(), counters.clone(), fraud.clone());
        let lost = lease.until_lost();
        let watcher = tokio::spawn(async move {
            tokio::select! {
                _ = stop.tripped() => {}
                _ = c.changed() => {}
                _ = f.changed() => {}
                _ = lost => {}
            }
            trigger.trip();
        });
        // Opened (and created when missing) like the fraud-store worker does, so
        // the evaluator may start first; it only ever reads.
        let detections = self::detections(settings.clone(), fraud_version).await?;
        run_alerts(detections, counters_version, &bus, &settings, until_switch).await?;
        watcher.abort();
        if run.shutdown.is_tripped() {
            active.set(0);
            lease.release().await;
            return Ok(());
        }
        if lease.lost() {
            active.set(0);
            let mut shutdown = run.shutdown.clone();
            match Lease::acquire(&bus, "ALERTS", EVALUATOR, &mut shutdown).await? {
                Some(again) => lease = again,
                None => return Ok(()),
            }
            active.set(1);
            continue;
        }
        tracing::info!("a projection the alerts read was rebuilt; reading its new version");
    }
}

async fn run_alerts(
    detections: ConfiguredDetections,
    counters_version: u64,
    bus: &Bus,
    settings: &Settings,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let url = crate::redis_url(settings)?;
    let counters = stores::counters(settings, counters_version).await?;
    let rules = Rules::load_or_default(settings.alerts.rules_file.as_deref())?;
    let store = AlertStore::connect(url, &settings.counters.prefix).await?;
    let notifier = Notifier::new(&settings.alerts)?;
    use sightline_alerts::Condition as C;
    let wants_search = rules.rules.iter().any(|r| {
        matches!(
            r.when,
            C::Query { .. }
                | C::NewIssue { .. }
                | C::Regression
                | C::NewPattern { .. }
                | C::PatternSpike { .. }
        )
    });
    let wants_statuses = rules.rules.iter().any(|r| r.when == C::Regression);
    let statuses = match wants_statuses {
        true => Some(sightline_issues::StatusStore::open(bus).await?),
        false => None,
    };
    let sources = Sources {
        counters: Reader::new(&counters),
        detections: Some(detections),
        search: wants_search.then(|| {
            std::sync::Arc::new(search_hits::LazyIndex::new(settings.clone()))
                as std::sync::Arc<dyn sightline_alerts::measure::IndexReads>
        }),
        statuses,
    };
    let routing = sightline_alerts::route::Routing::configured(&settings.alerts, rules.timing)?;
    Evaluator::new(rules, routing, sources, store, bus.clone(), notifier)
        .await?
        .run(SystemClock, settings.alerts.interval, shutdown)
        .await;
    Ok(())
}

/// Runs retention on the index, when `search.retention_days` asks for it.
fn keep_retention<S: SearchStore + Clone>(store: &Versioned<S>, settings: &Settings, run: &Run) {
    if settings.search.retention_days > 0 {
        tokio::spawn(retention(
            store.clone(),
            settings.search.retention_days,
            run.shutdown.clone(),
        ));
    }
}

/// Deletes documents past retention once a minute after start, then hourly.
async fn retention<S: SearchStore + Clone>(store: Versioned<S>, days: u32, mut shutdown: Shutdown) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.tripped() => return,
        }
        wait = Duration::from_secs(3600);
        let cutoff = OffsetDateTime::now_utc() - time::Duration::days(days.into());
        match store.get().await.delete_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, days, "retention removed old documents"),
            Err(e) => tracing::warn!(error = %e, "retention failed; will retry"),
        }
    }
}
