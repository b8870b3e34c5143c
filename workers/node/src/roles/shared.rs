//! The LOGS readers that keep their position in their own store (the embedded
//! index, the counters, the scorer) run as one worker with one consumer, however
//! many of them a process runs: the bus then delivers each event once, not once
//! per projection, and it is decoded once. Alone, a role reads under its own name;
//! together, under their joined names, each role's lease held and progress kept.

use sightline_counters::project::CounterProjection;
use sightline_fraud::project::{scorer_spec, ScorerProjection};
use sightline_fraud::settings as fraud_settings;
use sightline_runtime::config::Settings;
use sightline_runtime::consumer::{
    names, Fanout, Outcome, Position, Projection, Record, Source, Worker, WorkerSpec,
};
use sightline_runtime::publisher::Publisher;
use sightline_runtime::versions::Target;
use sightline_runtime::Error as RuntimeError;
use sightline_schemas::{Detection, Event};
use sightline_search::project::Indexer;
use sightline_search::settings::pii_hasher;
use sightline_search::store::configured::{keeps_watermark, ConfiguredIndex};

use super::{follow, fraud_half, keep_retention, live_index, pattern_stage, versioned, Run};
use crate::{stores, Error, Role};

async fn counters(
    settings: Settings,
    version: u64,
) -> Result<sightline_counters::RedisStore, Error> {
    stores::counters(&settings, version).await
}

/// Whether `role` reads LOGS through a cursor here: the indexer only on a backend
/// that keeps its own watermark (Elasticsearch keeps none; its indexer acks).
pub(super) fn reads_logs_by_cursor(role: Role, settings: &Settings) -> bool {
    match role {
        Role::Fraud | Role::Counters => true,
        Role::Indexer => keeps_watermark(&settings.search),
        Role::FraudStore | Role::Alerts => false,
    }
}

/// One role's projection of LOGS; the enum makes them one type for a [`Fanout`].
enum LogsRole {
    Index(Indexer<ConfiguredIndex, Event>),
    Count(CounterProjection<Event>),
    Score(Box<ScorerProjection>),
}

impl Projection for LogsRole {
    type Item = Event;

    async fn position(&mut self) -> Result<Position, RuntimeError> {
        match self {
            LogsRole::Index(p) => p.position().await,
            LogsRole::Count(p) => p.position().await,
            LogsRole::Score(p) => p.position().await,
        }
    }

    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, RuntimeError> {
        match self {
            LogsRole::Index(p) => p.apply(batch).await,
            LogsRole::Count(p) => p.apply(batch).await,
            LogsRole::Score(p) => p.apply(batch).await,
        }
    }

    fn durable_watermark(&self) -> bool {
        match self {
            LogsRole::Index(p) => p.durable_watermark(),
            LogsRole::Count(p) => p.durable_watermark(),
            LogsRole::Score(p) => p.durable_watermark(),
        }
    }

    async fn pass(&mut self, through: u64) -> Result<(), RuntimeError> {
        match self {
            LogsRole::Index(p) => p.pass(through).await,
            LogsRole::Count(p) => p.pass(through).await,
            LogsRole::Score(p) => p.pass(through).await,
        }
    }

    fn saved_through(&self, part: usize) -> Option<u64> {
        match self {
            LogsRole::Index(p) => p.saved_through(part),
            LogsRole::Count(p) => p.saved_through(part),
            LogsRole::Score(p) => p.saved_through(part),
        }
    }

    async fn idle(&mut self) -> Result<bool, RuntimeError> {
        match self {
            LogsRole::Index(p) => p.idle().await,
            LogsRole::Count(p) => p.idle().await,
            LogsRole::Score(p) => p.idle().await,
        }
    }

    async fn follow(&mut self, version: u64) -> Result<(), RuntimeError> {
        match self {
            LogsRole::Index(p) => p.follow(version).await,
            LogsRole::Count(p) => p.follow(version).await,
            LogsRole::Score(p) => p.follow(version).await,
        }
    }
}

/// Runs `roles` (cursor readers of LOGS, see [`reads_logs_by_cursor`]) on one
/// consumer, and beside it the FRAUD halves of the index and the counters.
pub(super) async fn run(mut roles: Vec<Role>, settings: Settings, run: Run) -> Result<(), Error> {
    // One order, whatever order they were given in: the consumer's name (and so
    // where it stands) stays the same from one start to the next.
    roles.sort_by_key(|role| match role {
        Role::Indexer => 0,
        Role::Counters => 1,
        _ => 2,
    });
    let bus = crate::connect(&settings).await?;
    let mut parts = Vec::new();
    let mut consumer = settings.consumer.clone();
    consumer.batch_size = 0;
    consumer.batch_linger = Default::default();
    let mut followed = Vec::new();
    let mut fraud_halves = Vec::new();
    for role in roles {
        let part = parts.len();
        let settings_for_role = match role {
            Role::Indexer => {
                let mut current = follow(&bus, Target::Search).await?;
                let version = current.borrow_and_update().version;
                let store = versioned(&settings, version, live_index).await?;
                let pii = pii_hasher(&settings.search, &settings.data_dir)?;
                keep_retention(&store, &settings, &run);
                let patterns = pattern_stage(&bus, Target::Search, &store).await?;
                let logs = Indexer::<_, Event>::versioned(store.clone(), pii.clone())
                    .await
                    .with_patterns(patterns);
                let fraud = Indexer::<_, Detection>::versioned(store, pii).await;
                let role_consumer = settings.indexer_consumer();
                fraud_halves.push(fraud_half(
                    &bus,
                    names::INDEXER,
                    &role_consumer,
                    fraud,
                    &current,
                    &run,
                ));
                followed.push((part, current, Source::Logs));
                parts.push((names::INDEXER, LogsRole::Index(logs)));
                role_consumer
            }
            Role::Counters => {
                let mut current = follow(&bus, Target::Counters).await?;
                let version = current.borrow_and_update().version;
                let store = versioned(&settings, version, counters).await?;
                let patterns = pattern_stage(&bus, Target::Counters, &store).await?;
                let logs = CounterProjection::<Event>::versioned(store.clone())
                    .await
                    .with_patterns(patterns);
                let fraud = CounterProjection::<Detection>::versioned(store).await;
                let role_consumer = settings
                    .consumer
                    .with_batch_size(settings.counters.batch_size);
                fraud_halves.push(fraud_half(
                    &bus,
                    names::COUNTERS,
                    &role_consumer,
                    fraud,
                    &current,
                    &run,
                ));
                followed.push((part, current, Source::Logs));
                parts.push((names::COUNTERS, LogsRole::Count(logs)));
                role_consumer
            }
            Role::Fraud => {
                let scorer = ScorerProjection::new(
                    fraud_settings::rules(&settings.fraud)?,
                    Publisher::new(&bus, &settings.publisher),
                    fraud_settings::snapshot_path(&settings.data_dir),
                    settings.fraud.snapshot_every,
                    fraud_settings::payer_ip(
                        &settings.fraud,
                        settings.search.pii_key.as_ref(),
                        &settings.data_dir,
                    )?,
                );
                parts.push((names::SCORER, LogsRole::Score(Box::new(scorer))));
                settings.consumer.with_batch_size(settings.fraud.batch_size)
            }
            Role::FraudStore | Role::Alerts => {
                return Err(Error::config(format!(
                    "the {role:?} worker does not read LOGS"
                )))
            }
        };
        // Together, the roles take the largest batches and the longest linger any
        // of them asks for: the one that commits least often sets the pace.
        consumer.batch_size = consumer.batch_size.max(settings_for_role.batch_size);
        consumer.batch_linger = consumer.batch_linger.max(settings_for_role.batch_linger);
    }
    let names: Vec<&str> = parts.iter().map(|(name, _)| *name).collect();
    let spec = spec_for(&names);
    let parts = parts.into_iter().map(|(n, p)| (n.to_string(), p)).collect();
    let mut worker = Worker::new(&bus, spec, consumer, Fanout::new(parts));
    for (part, current, source) in followed {
        worker = worker.following_part(part, current, source);
    }
    let logs = async {
        let fanout = worker
            .with_health(run.health.clone())
            .run(run.shutdown.clone())
            .await?;
        // A clean stop saves the scorer's state, so the next start replays nothing.
        for part in fanout.into_parts() {
            if let LogsRole::Score(mut scorer) = part {
                scorer.save()?;
            }
        }
        Ok::<_, Error>(())
    };
    tokio::try_join!(logs, futures::future::try_join_all(fraud_halves))?;
    Ok(())
}

/// The consumer of `names`: a role alone reads under its own name (the scorer with
/// its kinds as the filter), several under their joined names.
pub(super) fn spec_for(names: &[&str]) -> WorkerSpec {
    match names {
        [names::SCORER] => scorer_spec(names::SCORER),
        [one] => Source::Logs.spec(one),
        several => Source::Logs.spec("").shared_by(several),
    }
}

#[cfg(test)]
mod tests {
    use super::spec_for;

    #[test]
    fn a_role_alone_reads_under_its_own_name_and_filter() {
        let scorer = spec_for(&["fraud"]);
        assert_eq!(scorer.consumer, "fraud");
        assert_eq!(scorer.filter_subjects.len(), 3);
        assert!(scorer.parts.is_empty());
        let counters = spec_for(&["counters"]);
        assert_eq!(
            (counters.consumer.as_str(), counters.filter_subjects),
            ("counters", vec!["logs.>".to_string()])
        );
    }

    #[test]
    fn roles_together_read_all_of_logs_under_their_joined_names() {
        let spec = spec_for(&["indexer", "counters", "fraud"]);
        assert_eq!(spec.consumer, "indexer+counters+fraud");
        assert_eq!(spec.filter_subjects, vec!["logs.>".to_string()]);
        assert_eq!(spec.parts, ["indexer", "counters", "fraud"]);
        assert_eq!(spec.roles(), ["indexer", "counters", "fraud"]);
    }
}
