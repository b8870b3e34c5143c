//! The consumer loop every worker runs: a durable pull consumer, batches applied to
//! a [`Projection`], settled (acked, or for a cursor consumer nothing more than the
//! watermark the write carried) only after the projection write is durable.

mod acking;
mod decode;
pub mod dlq;
mod follow;
pub mod letters;
pub mod names;
mod progress;
mod projection;
mod pull;
pub mod rebuild;
mod settle;
mod shared;

use std::time::Duration;

use async_nats::jetstream::consumer::{pull as js_pull, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::Stream;
use tokio::sync::watch;

pub use crate::lease::{holders, Lease, LEASES, LEASE_TTL};
pub use crate::source::Source;
use acking::Acking;
use decode::Decoded;
pub use dlq::{
    replay, DeadLetter, Filed, CONSUMER, DELIVERY_COUNT, ERROR, MASKED, ORIGINAL_SEQUENCE,
    ORIGINAL_STREAM, ORIGINAL_SUBJECT, REPLAY_FOR,
};
pub use progress::{applied_through, caught_up, Progress};
pub use projection::{encoding, Decode, Outcome, Position, Projection, Record};
use pull::Puller;
pub use shared::Fanout;

use crate::config::ConsumerSettings;
use crate::error::{Error, ErrorKind};
use crate::metrics::{self, Health};
use crate::nats::Bus;
use crate::shutdown::Shutdown;
use crate::versions::Current;

/// Which stream a worker reads, under which durable name, and which subjects.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub stream: String,
    pub consumer: String,
    pub filter_subjects: Vec<String>,
    /// For a consumer read by a [`Fanout`]: the consumer names of its parts, in
    /// order. The worker holds each one's lease and records each one's progress,
    /// so a worker running one of them alone stands by, and readers of a part's
    /// progress find it under the usual name. Empty for a consumer of its own.
    pub parts: Vec<String>,
}

/// Joins the names of a [`Fanout`]'s parts into its consumer's name.
const PART_SEPARATOR: char = '+';

impl WorkerSpec {
    /// This spec's stream and filter read for all of `parts` at once, by one
    /// consumer named after them all.
    pub fn shared_by(self, parts: &[&str]) -> Self {
        Self {
            consumer: parts.join(&PART_SEPARATOR.to_string()),
            parts: parts.iter().map(|p| p.to_string()).collect(),
            ..self
        }
    }

    /// Whether the consumer named `consumer` reads for `role`: it is the role's
    /// own, or a [`Fanout`]'s with the role among its parts.
    pub fn reads_for(consumer: &str, role: &str) -> bool {
        consumer == role || Self::roles_of(consumer).any(|part| part == role)
    }

    /// The roles the consumer named `consumer` reads for: its parts when a
    /// [`Fanout`] reads it, else the name itself.
    pub fn roles_of(consumer: &str) -> impl Iterator<Item = &str> {
        consumer.split(PART_SEPARATOR)
    }

    /// The names whose leases and progress this worker holds.
    pub fn roles(&self) -> &[String] {
        if self.parts.is_empty() {
            std::slice::from_ref(&self.consumer)
        } else {
            &self.parts
        }
    }

    /// Whether a message replayed from the DLQ for `consumer` is for this worker:
    /// for one of its roles, alone or together with others.
    pub fn answers_to(&self, consumer: &str) -> bool {
        consumer == self.consumer || self.roles().iter().any(|r| Self::reads_for(consumer, r))
    }
}

impl Source {
    /// The consumer of this source under the durable name `consumer`.
    pub fn spec(self, consumer: &str) -> WorkerSpec {
        let (stream, subject) = match self {
            Source::Logs => (crate::topology::LOGS, "logs.>".to_owned()),
            Source::Fraud => (
                crate::topology::FRAUD,
                format!("{}.detection.>", sightline_schemas::subject::FRAUD_PREFIX),
            ),
        };
        WorkerSpec {
            stream: stream.into(),
            consumer: consumer.into(),
            filter_subjects: vec![subject],
            parts: Vec::new(),
        }
    }
}

pub struct Worker<P: Projection> {
    bus: Bus,
    spec: WorkerSpec,
    settings: ConsumerSettings,
    projection: P,
    health: Health,
    /// The live versions the projection follows through blue/green rebuilds: per
    /// part (0 for a projection of one), its target's and the source it reads.
    versions: Vec<(usize, watch::Receiver<Current>, Source)>,
    /// Set when the worker moved to a new version: an untracked projection then
    /// repositions once, after the version's floor.
    switched: bool,
    /// Where a cursor consumer's worker records what it applied.
    progress: Option<Progress>,
    /// The last sequence recorded as applied (or positioned after).
    applied: u64,
}

/// What the loop does after a batch.
enum Flow {
    Continue,
    /// Drop the message stream and start again from the projection's position.
    Restart,
}

impl<P: Projection> Worker<P> {
    pub fn new(bus: &Bus, spec: WorkerSpec, settings: ConsumerSettings, projection: P) -> Self {
        Self {
            bus: bus.clone(),
            spec,
            settings,
            projection,
            health: Health::default(),
            versions: Vec::new(),
            switched: false,
            progress: None,
            applied: 0,
        }
    }

    /// Follows the live version of the projection: when a rebuild switches it, the
    /// worker finishes its batch, moves its store to the new version and resumes
    /// after that version's floor for `source`. The store must be at the version
    /// last seen through `current` (read it with `borrow_and_update`), so a switch
    /// made since is not missed.
    pub fn following(self, current: watch::Receiver<Current>, source: Source) -> Self {
        self.following_part(0, current, source)
    }

    /// [`Worker::following`] for part `part` of a [`Fanout`].
    pub fn following_part(
        mut self,
        part: usize,
        current: watch::Receiver<Current>,
        source: Source,
    ) -> Self {
        self.versions.push((part, current, source));
        self
    }

    /// Reports into a shared [`Health`] (the one behind the process's /healthz).
    pub fn with_health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }

    /// Consumes until `shutdown` trips. The batch being applied then is finished and
    /// acked; messages received but not yet applied are left to redelivery.
    pub async fn run(mut self, mut shutdown: Shutdown) -> Result<P, Error> {
        let stream = self
            .bus
            .js
            .get_stream(&self.spec.stream)
            .await
            .map_err(|e| Error::Topology {
                stream: self.spec.stream.clone(),
                message: format!("{e} (run `sightline streams apply`)"),
            })?;
        // Only one instance applies a cursor projection's batches; the others stand
        // by. Taken before the position is read, so a standby reads it when it
        // takes over, not when it started.
        let mut leases = Vec::new();
        if self.projection.durable_watermark() {
            leases = match self.leases(&mut shutdown).await? {
                Some(leases) => leases,
                None => return Ok(self.projection),
            };
        }
        // A projection with a watermark says itself where it stands: acks then only
        // back what the watermark cannot say, and tracking every delivered message
        // for acks is a large share of the bus's work per event.
        let acking = match self.read_position(&mut shutdown).await? {
            Position::Untracked => Acking::Each,
            _ if self.projection.durable_watermark() => Acking::None,
            _ => Acking::Newest,
        };
        if acking == Acking::None {
            self.progress = Some(Progress::open(&self.bus).await?);
        }
        let consumer = self.ensure_consumer(&stream, acking).await?;
        self.health
            .register(&self.spec.consumer, self.settings.stall_after);
        let monitor = AbortOnDrop(tokio::spawn(monitor_pending(
            stream.clone(),
            self.spec.consumer.clone(),
            self.health.clone(),
        )));
        tracing::info!(stream = %self.spec.stream, consumer = %self.spec.consumer, "worker started");
        let puller = Puller::new(
            consumer,
            self.settings.batch_size,
            self.settings.batch_linger,
        );
        let spec = self.spec.clone();
        // The next batch, pulled and decoded while the last one was applied; a
        // failed pull is kept as it is, to be handled as one on the main path.
        let mut prefetched: Option<Result<Decoded<P::Item>, Error>> = None;
        let mut restart = true;
        while !shutdown.is_tripped() {
            if leases.iter().any(Lease::lost) {
                if let Some(Ok(batch)) = prefetched.take() {
                    acking.hand_back(batch.messages).await;
                }
                release(std::mem::take(&mut leases)).await;
                leases = match self.leases(&mut shutdown).await? {
                    Some(leases) => leases,
                    None => break,
                };
                restart = true;
            }
            if self.version_changed() {
                if let Some(Ok(batch)) = prefetched.take() {
                    acking.hand_back(batch.messages).await;
                }
                self.follow_version(&mut shutdown).await?;
                restart = true;
            }
            if std::mem::take(&mut restart) {
                // Anything prefetched is cleared by the rewind and delivered again.
                prefetched = None;
                self.rewind(&stream, &mut shutdown).await?;
            }
            let batch = match prefetched.take() {
                Some(batch) => batch,
                None => puller
                    .next()
                    .await
                    .and_then(|batch| Decoded::new(batch, &spec)),
            };
            let batch = match batch {
                Ok(batch) if shutdown.is_tripped() => {
                    acking.hand_back(batch.messages).await;
                    break;
                }
                Ok(batch) if batch.messages.is_empty() => {
                    self.idle().await;
                    continue;
                }
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(consumer = %self.spec.consumer, error = %e, "pull failed; retrying");
                    self.pause(&mut shutdown).await;
                    restart = true;
                    continue;
                }
            };
            // The next batch is fetched and decoded while this one is applied.
            let next_batch = async {
                puller
                    .next()
                    .await
                    .and_then(|batch| Decoded::new(batch, &spec))
            };
            let (flow, next) =
                tokio::join!(self.process(&stream, batch, acking, &shutdown), next_batch);
            match next {
                Ok(next) if shutdown.is_tripped() => acking.hand_back(next.messages).await,
                next => prefetched = Some(next),
            }
            if let Flow::Restart = flow? {
                self.pause(&mut shutdown).await;
                restart = true;
            }
        }
        drop(monitor);
        release(leases).await;
        tracing::info!(consumer = %self.spec.consumer, "worker stopped");
        Ok(self.projection)
    }

    async fn ensure_consumer(
        &self,
        stream: &Stream,
        acking: Acking,
    ) -> Result<PullConsumer, Error> {
        let config = js_pull::Config {
            durable_name: Some(self.spec.consumer.clone()),
            description: Some(format!("Sightline {} worker", self.spec.consumer)),
            filter_subjects: pull::server_filter(stream, &self.spec.filter_subjects),
            deliver_policy: DeliverPolicy::All,
            ack_policy: acking.policy(),
            ack_wait: self.settings.ack_wait,
            max_deliver: self.settings.max_deliver,
            // Without acks the pulls alone bound what a worker holds.
            max_ack_pending: match acking {
                Acking::None => 0,
                _ => self.prefetch() as i64,
            },
            ..Default::default()
        };
        let created = match stream.create_consumer(config.clone()).await {
            // The ack policy cannot be changed in place. A watermark projection
            // loses nothing when its consumer is recreated: it is positioned
            // from the projection's watermark right after.
            Err(_) if acking != Acking::Each => {
                let _ = stream.delete_consumer(&self.spec.consumer).await;
                stream.create_consumer(config).await
            }
            other => other,
        };
        created.map_err(|e| Error::Topology {
            stream: self.spec.stream.clone(),
            message: format!("consumer {}: {e}", self.spec.consumer),
        })
    }

    /// The lease of every role this worker plays, or none when shutdown tripped
    /// while standing by.
    async fn leases(&self, shutdown: &mut Shutdown) -> Result<Option<Vec<Lease>>, Error> {
        let mut leases = Vec::new();
        for role in self.spec.roles() {
            match Lease::acquire(&self.bus, &self.spec.stream, role, shutdown).await? {
                Some(lease) => leases.push(lease),
                None => {
                    release(leases).await;
                    return Ok(None);
                }
            }
        }
        Ok(Some(leases))
    }

    /// The projection's position, retrying while its store is unavailable.
    async fn read_position(&mut self, shutdown: &mut Shutdown) -> Result<Position, Error> {
        loop {
            match self.projection.position().await {
                Err(e) if e.kind() == ErrorKind::Transient && !shutdown.is_tripped() => {
                    tracing::warn!(consumer = %self.spec.consumer, error = %e, "cannot read the projection position; retrying");
                    self.pause(shutdown).await;
                }
                other => return other,
            }
        }
    }

    /// Moves the consumer to just after the projection's watermark, clearing what an
    /// earlier instance left pending, so records are applied in stream order. Never
    /// below the version's floor: what the rebuild covered is not applied again.
    async fn rewind(&mut self, stream: &Stream, shutdown: &mut Shutdown) -> Result<(), Error> {
        loop {
            self.raise_floors(shutdown).await?;
            let floor = self.floor();
            let seq = match self.read_position(shutdown).await? {
                // Upserts by key: the ack floor stands, unless the version changed.
                Position::Untracked if !self.switched => return Ok(()),
                Position::Untracked => floor + 1,
                Position::Start => floor + 1,
                Position::After(w) => w.max(floor) + 1,
            };
            match stream.reset_consumer(&self.spec.consumer, Some(seq)).await {
                Ok(_) => {
                    self.switched = false;
                    self.record_progress(seq - 1).await;
                    tracing::info!(consumer = %self.spec.consumer, from_seq = seq, "consumer positioned after the projection watermark");
                    return Ok(());
                }
                Err(e) if !shutdown.is_tripped() => {
                    tracing::warn!(consumer = %self.spec.consumer, error = %e, "cannot reposition the consumer; retrying");
                    self.pause(shutdown).await;
                }
                Err(e) => return Err(Error::nats("reset consumer", e)),
            }
        }
    }

    /// Nothing to deliver: a cursor projection saves what it holds in memory, and
    /// the progress it reports moves to what it saved.
    async fn idle(&mut self) {
        if self.progress.is_none() {
            return;
        }
        match self.projection.idle().await {
            Ok(true) => self.record_progress(self.applied).await,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(consumer = %self.spec.consumer, error = %e, "cannot save the projection while idle; retrying when next idle")
            }
        }
    }

    /// Bounds what one worker holds unacked: a few batches of prefetch.
    fn prefetch(&self) -> usize {
        self.settings.batch_size * 4
    }

    async fn pause(&self, shutdown: &mut Shutdown) {
        tokio::select! {
            _ = tokio::time::sleep(self.settings.retry_backoff_max) => {}
            _ = shutdown.tripped() => {}
        }
    }
}

async fn release(leases: Vec<Lease>) {
    for lease in leases {
        lease.release().await;
    }
}

async fn monitor_pending(stream: Stream, consumer: String, health: Health) {
    loop {
        if let Ok(info) = stream.consumer_info(&consumer).await {
            let pending = info.num_pending + info.num_ack_pending as u64;
            metrics::worker().pending(&consumer, pending);
            health.pending(&consumer, pending);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
