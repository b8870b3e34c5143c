//! Rebuilding a projection from its stream: an ordered consumer (no acks, flow
//! controlled) reads a range of the stream into a fresh version of the store,
//! through the same [`Projection`] the live worker uses, until it has caught up.
//!
//! Nothing is published and nothing is dead-lettered: what did not decode or was
//! refused went to the DLQ when the live worker met it, so it is only counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use async_nats::jetstream::Message;
use futures::StreamExt;
use sightline_schemas::OffsetDateTime;

use super::decode::Decoded;
use super::{Projection, WorkerSpec};
use crate::error::{Error, ErrorKind};
use crate::nats::Bus;
use crate::shutdown::Shutdown;

/// Where a rebuild starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    All,
    Seq(u64),
    Time(OffsetDateTime),
}

/// Where a rebuild stops: at the stream's head once caught up, or before the
/// first message past a sequence or a publish time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Head,
    Seq(u64),
    Time(OffsetDateTime),
}

/// What one source of a rebuild reads.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The live worker's stream, durable name and subjects. The name is needed to
    /// tell which messages replayed from the DLQ were addressed to this projection.
    pub spec: WorkerSpec,
    pub from: From,
    pub until: Until,
    pub batch_size: usize,
    /// At most this many messages per second.
    pub rate: Option<u32>,
}

/// Counts a rebuild shares with whoever draws its progress.
#[derive(Debug, Default)]
pub struct Progress {
    /// Messages read so far.
    pub read: AtomicU64,
    /// Messages read plus those the server says are still pending.
    pub total: AtomicU64,
    /// Set once the rebuild has reached the stream's head: from then on it follows
    /// new messages until handed over.
    pub caught_up: AtomicBool,
}

/// The end of one source's rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rebuilt {
    /// The last stream sequence covered; the live worker resumes after it.
    pub floor: u64,
    pub applied: u64,
    /// Poison or refused messages, dead-lettered by the live worker already.
    pub skipped: u64,
}

/// How long a rebuild waits for the next message before checking if it is done.
const IDLE: Duration = Duration::from_millis(500);
/// How long a rebuild at the head waits for new messages before checking in.
const FOLLOW: Duration = Duration::from_millis(50);
/// How long a partial batch waits to fill.
const LINGER: Duration = Duration::from_millis(20);

/// How many messages of the stream `plan` would read now.
pub async fn pending(bus: &Bus, plan: &Plan) -> Result<u64, Error> {
    Ok(ordered(bus, plan).await?.pending)
}

type Ordered = async_nats::jetstream::consumer::Consumer<OrderedConfig>;

/// An ordered consumer over `plan`'s range, with the stream's head when it was
/// made and how many messages it has to deliver.
struct Opened {
    consumer: Ordered,
    head: u64,
    pending: u64,
}

async fn ordered(bus: &Bus, plan: &Plan) -> Result<Opened, Error> {
    let stream = bus
        .js
        .get_stream(&plan.spec.stream)
        .await
        .map_err(|e| Error::Topology {
            stream: plan.spec.stream.clone(),
            message: e.to_string(),
        })?;
    let head = stream.cached_info().state.last_sequence;
    let deliver_policy = match plan.from {
        From::All => DeliverPolicy::All,
        From::Seq(start_sequence) => DeliverPolicy::ByStartSequence { start_sequence },
        From::Time(start_time) => DeliverPolicy::ByStartTime { start_time },
    };
    let mut consumer = stream
        .create_consumer(OrderedConfig {
            description: Some(format!("Sightline rebuild for {}", plan.spec.consumer)),
            filter_subjects: super::pull::server_filter(&stream, &plan.spec.filter_subjects),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::nats("create rebuild consumer", e))?;
    let pending = consumer
        .info()
        .await
        .map_err(|e| Error::nats("consumer info", e))?
        .num_pending;
    Ok(Opened {
        consumer,
        head,
        pending,
    })
}

/// Reads `plan`'s range into `projection`. With [`Until::Head`] it reads to the
/// stream's head, then keeps following new messages until `handover` trips, so
/// the version it builds is as fresh as the live one when the switch is made;
/// otherwise it stops before the first message past `until`.
pub async fn rebuild<P: Projection>(
    bus: &Bus,
    plan: &Plan,
    projection: &mut P,
    progress: Arc<Progress>,
    handover: Shutdown,
    shutdown: Shutdown,
) -> Result<Rebuilt, Error> {
    let Opened {
        consumer,
        head,
        pending,
    } = ordered(bus, plan).await?;
    progress.total.fetch_add(pending, Ordering::Relaxed);
    let mut done = Rebuilt {
        // Nothing matched up to `head`: the live worker carries on after it.
        floor: match plan.until {
            Until::Seq(end) => end.min(head),
            _ => head,
        },
        applied: 0,
        skipped: 0,
    };
    if pending == 0 && plan.until != Until::Head {
        return Ok(done);
    }
    if pending == 0 {
        progress.caught_up.store(true, Ordering::Relaxed);
    }
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| Error::nats("rebuild messages", e))?;
    let started = Instant::now();
    let mut read = 0u64;
    loop {
        if shutdown.is_tripped() {
            return Err(Error::Config("the rebuild was interrupted".into()));
        }
        let caught_up = progress.caught_up.load(Ordering::Relaxed);
        if caught_up && handover.is_tripped() {
            return Ok(done);
        }
        let mut batch: Vec<Message> = Vec::with_capacity(plan.batch_size);
        let mut finished = false;
        while batch.len() < plan.batch_size.max(1) {
            let wait = match (batch.is_empty(), caught_up) {
                (true, false) => IDLE,
                (true, true) => FOLLOW,
                (false, _) => LINGER,
            };
            let message = match tokio::time::timeout(wait, messages.next()).await {
                Err(_) => break,
                Ok(None) => return Err(Error::nats("rebuild", "the consumer ended")),
                Ok(Some(Err(e))) => return Err(Error::nats("rebuild", e)),
                Ok(Some(Ok(m))) => m,
            };
            let info = message
                .info()
                .map_err(|e| Error::nats("message metadata", e))?;
            let (seq, pending) = (info.stream_sequence, info.pending);
            let past = match plan.until {
                Until::Head => false,
                Until::Seq(end) => seq > end,
                Until::Time(end) => info.published > end,
            };
            if past {
                // With a subject filter the first message past the end may be
                // well after it: the messages between belong to the live worker.
                done.floor = match plan.until {
                    Until::Seq(end) => end.min(head),
                    _ => seq - 1,
                };
                finished = true;
                break;
            }
            progress
                .total
                .store(read + batch.len() as u64 + 1 + pending, Ordering::Relaxed);
            done.floor = seq;
            batch.push(message);
            if pending == 0 {
                // At the head: a bounded rebuild ends; a rebuild to the head follows.
                progress.caught_up.store(true, Ordering::Relaxed);
                finished = plan.until != Until::Head;
                // The last match may be well before the end of a sequence range:
                // what lies between was not selected and is not the live worker's.
                if let Until::Seq(end) = plan.until {
                    done.floor = end.min(head).max(seq);
                }
                break;
            }
        }
        read += batch.len() as u64;
        apply(plan, projection, batch, &mut done, &shutdown).await?;
        progress.read.store(read, Ordering::Relaxed);
        if finished {
            return Ok(done);
        }
        if let Some(rate) = plan.rate.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(read as f64 / f64::from(rate));
            tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        }
    }
}

/// Applies one batch, retrying while the store is unavailable.
async fn apply<P: Projection>(
    plan: &Plan,
    projection: &mut P,
    batch: Vec<Message>,
    done: &mut Rebuilt,
    shutdown: &Shutdown,
) -> Result<(), Error> {
    if batch.is_empty() {
        return Ok(());
    }
    let decoded = Decoded::<P::Item>::new(batch, &plan.spec)?;
    done.skipped += decoded.poison.len() as u64;
    let mut attempt = 0u32;
    loop {
        match projection.apply(&decoded.records).await {
            Ok(outcome) => {
                done.skipped += outcome.rejected.len() as u64;
                done.applied += (decoded.records.len() - outcome.rejected.len()) as u64;
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::Transient && !shutdown.is_tripped() => {
                attempt += 1;
                tracing::warn!(consumer = %plan.spec.consumer, attempt, error = %e, "rebuild batch failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt.min(25)))).await;
            }
            Err(e) => return Err(e),
        }
    }
}
