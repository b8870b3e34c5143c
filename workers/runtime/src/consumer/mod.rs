//! The consumer loop every worker runs: a durable pull consumer, batches applied to
//! a [`Projection`], settled (acked, or for a cursor consumer nothing more than the
//! watermark the write carried) only after the projection write is durable.

mod acking;
mod decode;
mod dlq;
mod follow;
mod progress;
mod projection;
mod pull;
pub mod rebuild;

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull as js_pull, DeliverPolicy, PullConsumer};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{stream::Stream, Message};
use sightline_schemas::OffsetDateTime;
use tokio::sync::watch;

use acking::Acking;
use decode::{position_of, Decoded};
pub use dlq::{
    replay, DeadLetter, CONSUMER, DELIVERY_COUNT, ERROR, ORIGINAL_SEQUENCE, ORIGINAL_STREAM,
    ORIGINAL_SUBJECT, REPLAY_FOR,
};
pub use progress::{applied_through, caught_up, Progress};
pub use projection::{Decode, Outcome, Position, Projection, Record};
use pull::Puller;

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
}

/// The streams projections read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Every log event on LOGS.
    Logs,
    /// The fraud detections on FRAUD.
    Fraud,
}

impl Source {
    /// `logs` or `fraud`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Logs => "logs",
            Source::Fraud => "fraud",
        }
    }

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
        }
    }
}

pub struct Worker<P: Projection> {
    bus: Bus,
    spec: WorkerSpec,
    settings: ConsumerSettings,
    projection: P,
    health: Health,
    /// The live version of the projection, when it follows blue/green rebuilds.
    version: Option<(watch::Receiver<Current>, Source)>,
    /// Set when the worker moved to a new version: an untracked projection then
    /// repositions once, after the version's floor.
    switched: bool,
    /// Where a cursor consumer's worker records what it applied.
    progress: Option<Progress>,
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
            version: None,
            switched: false,
            progress: None,
        }
    }

    /// Follows the live version of the projection: when a rebuild switches it, the
    /// worker finishes its batch, moves its store to the new version and resumes
    /// after that version's floor for `source`. The store must be at the version
    /// last seen through `current` (read it with `borrow_and_update`), so a switch
    /// made since is not missed.
    pub fn following(mut self, current: watch::Receiver<Current>, source: Source) -> Self {
        self.version = Some((current, source));
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
        let name = self.spec.consumer.clone();
        let mut prefetched: Option<Decoded<P::Item>> = None;
        let mut restart = true;
        while !shutdown.is_tripped() {
            if self.version_changed() {
                if let Some(batch) = prefetched.take() {
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
                Some(batch) => Ok(batch),
                None => puller
                    .next()
                    .await
                    .and_then(|batch| Decoded::new(batch, &name)),
            };
            let batch = match batch {
                Ok(batch) if shutdown.is_tripped() => {
                    acking.hand_back(batch.messages).await;
                    break;
                }
                Ok(batch) if batch.messages.is_empty() => continue,
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
                    .and_then(|batch| Decoded::new(batch, &name))
            };
            let (flow, next) =
                tokio::join!(self.process(&stream, batch, acking, &shutdown), next_batch);
            match next {
                Ok(next) if shutdown.is_tripped() => acking.hand_back(next.messages).await,
                Ok(next) => prefetched = Some(next),
                Err(e) => {
                    tracing::debug!(consumer = %self.spec.consumer, error = %e, "prefetch failed")
                }
            }
            if let Flow::Restart = flow? {
                self.pause(&mut shutdown).await;
                restart = true;
            }
        }
        drop(monitor);
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

    async fn process(
        &mut self,
        stream: &Stream,
        decoded: Decoded<P::Item>,
        acking: Acking,
        shutdown: &Shutdown,
    ) -> Result<Flow, Error> {
        let started = Instant::now();
        let consumer = self.spec.consumer.clone();
        let m = metrics::worker();
        let Decoded {
            messages: batch,
            positions,
            records,
            sources,
            poison,
        } = decoded;
        m.received(&consumer, batch.len());
        self.health.holding(&consumer, batch.len());
        let mut done = vec![false; batch.len()];
        for (i, reason) in &poison {
            if !self.dead_letter(stream, &batch[*i], reason).await {
                return Ok(Flow::Restart);
            }
            done[*i] = true;
        }
        let mut attempt = 0;
        let outcome = loop {
            match self.projection.apply(&records).await {
                Ok(outcome) => break outcome,
                Err(e) if e.kind() == ErrorKind::Transient => {
                    attempt += 1;
                    m.batch_failed(&consumer, attempt, &e);
                    if attempt > self.settings.retry_attempts || shutdown.is_tripped() {
                        return self
                            .give_back(stream, &batch, &positions, &done, acking, &e)
                            .await;
                    }
                    if acking != Acking::None {
                        for (msg, _) in batch.iter().zip(&done).filter(|(_, d)| !**d) {
                            let _ = msg.ack_with(AckKind::Progress).await;
                        }
                    }
                    let mut shutdown = shutdown.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(backoff(&self.settings, attempt)) => {}
                        _ = shutdown.tripped() => {}
                    }
                }
                Err(e) => return Err(e),
            }
        };
        for (index, reason) in &outcome.rejected {
            let Some(&i) = sources.get(*index) else {
                continue;
            };
            if !self.dead_letter(stream, &batch[i], reason).await {
                return Ok(Flow::Restart);
            }
            done[i] = true;
        }
        acking.settle(&self.bus, &batch, &positions, &done).await?;
        if let Some(newest) = positions.iter().map(|p| p.0).max() {
            self.record_progress(newest).await;
        }
        let now = OffsetDateTime::now_utc();
        for r in &records {
            if let Some(at) = r.item.occurred_at() {
                m.event_lag(&consumer, (now - at).as_seconds_f64());
            }
        }
        m.applied(
            &consumer,
            records.len() - outcome.rejected.len(),
            started.elapsed(),
        );
        self.health.progressed(&consumer);
        Ok(Flow::Continue)
    }

    /// Retries ran out. A watermark projection restarts from its watermark; an
    /// untracked one hands the batch back for redelivery, dead-lettering messages
    /// that reached max_deliver.
    async fn give_back(
        &mut self,
        stream: &Stream,
        batch: &[Message],
        positions: &[(u64, u64)],
        done: &[bool],
        acking: Acking,
        error: &Error,
    ) -> Result<Flow, Error> {
        if acking == Acking::None {
            // The rewind to the watermark delivers the batch again.
            return Ok(Flow::Restart);
        }
        for ((msg, &(_, delivered)), _) in
            batch.iter().zip(positions).zip(done).filter(|(_, d)| !**d)
        {
            if acking == Acking::Each && delivered as i64 >= self.settings.max_deliver {
                let reason = format!("gave up after {delivered} deliveries: {error}");
                self.dead_letter(stream, msg, &reason).await;
            } else {
                let _ = msg
                    .ack_with(AckKind::Nak(Some(self.settings.retry_backoff_max)))
                    .await;
            }
        }
        Ok(if acking == Acking::Newest {
            Flow::Restart
        } else {
            Flow::Continue
        })
    }

    /// Publishes to the DLQ, then terminates the message. False when the DLQ could
    /// not be written: the message stays unacked and is redelivered.
    async fn dead_letter(&self, stream: &Stream, msg: &Message, reason: &str) -> bool {
        let Ok((seq, delivered)) = position_of(msg) else {
            return false;
        };
        let letter = DeadLetter {
            stream: &stream.cached_info().config.name,
            consumer: &self.spec.consumer,
            subject: msg.subject.as_str(),
            stream_seq: seq,
            delivered,
            reason,
            headers: msg.headers.as_ref(),
            payload: msg.payload.clone(),
        };
        if let Err(e) = dlq::publish(&self.bus, letter).await {
            tracing::error!(consumer = %self.spec.consumer, error = %e, "cannot write the DLQ; will retry");
            return false;
        }
        metrics::worker().dead_lettered(&self.spec.consumer, msg.subject.as_str(), seq, reason);
        let _ = msg.ack_with(AckKind::Term).await;
        true
    }
}

/// Jittered exponential backoff for the n-th attempt.
fn backoff(settings: &ConsumerSettings, attempt: u32) -> Duration {
    let base = settings.retry_backoff.saturating_mul(1 << attempt.min(16));
    let capped = base.min(settings.retry_backoff_max);
    capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_stays_capped() {
        let settings = ConsumerSettings {
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(2),
            ..Default::default()
        };
        for attempt in 1..30 {
            let full = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(2));
            let b = backoff(&settings, attempt);
            assert!(
                b >= full / 2 && b <= full,
                "attempt {attempt}: {b:?} vs {full:?}"
            );
        }
    }
}
