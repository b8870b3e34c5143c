//! Where a cursor consumer (one that acks nothing) stands. nats-server counts what
//! it delivered to such a consumer, not what the worker applied, so after each
//! batch the worker records the batch's last sequence in a key-value bucket, and
//! the position it rewinds to whenever it rewinds. Advisory: the projection's own
//! watermark stays what the worker resumes from.

use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::kv;
use async_nats::jetstream::stream::Stream;

use futures::StreamExt;

use super::WorkerSpec;
use crate::error::Error;
use crate::nats::Bus;

/// One key per consumer durable name; the value is a stream sequence in decimal.
pub const BUCKET: &str = "sightline_progress";

#[derive(Clone)]
pub struct Progress {
    kv: kv::Store,
}

impl Progress {
    pub async fn open(bus: &Bus) -> Result<Self, Error> {
        let description = "Sightline: the last sequence each cursor consumer applied";
        let kv = crate::nats::bucket(bus, BUCKET, description, Duration::ZERO, 1).await?;
        Ok(Self { kv })
    }

    pub async fn record(&self, consumer: &str, seq: u64) -> Result<(), Error> {
        self.kv
            .put(consumer, seq.to_string().into())
            .await
            .map(|_| ())
            .map_err(|e| Error::nats("record progress", e))
    }

    /// The last sequence `consumer` applied, if it recorded any.
    pub async fn applied(&self, consumer: &str) -> Result<Option<u64>, Error> {
        let value = self
            .kv
            .get(consumer)
            .await
            .map_err(|e| Error::nats("read progress", e))?;
        value
            .map(|v| {
                std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::Server(format!("progress of {consumer}: not a sequence")))
            })
            .transpose()
    }
}

/// The sequence of `stream` through which the cursor consumer `consumer` has
/// applied all its filter selects: the progress it recorded or, once nothing is
/// left for it, `head` (read before this call): a filtered consumer's last batch
/// may end below the head, on messages of kinds it does not take. `None` while
/// it has applied nothing and has something to apply.
pub async fn applied_through(
    progress: &Progress,
    stream: &Stream,
    consumer: &str,
    head: u64,
) -> Result<Option<u64>, Error> {
    let applied = progress.applied(consumer).await?;
    let info = reading_for(stream, consumer).await?;
    Ok(if cursor_idle(&info, applied) {
        Some(head.max(applied.unwrap_or(0)))
    } else {
        applied
    })
}

/// Whether the worker behind `consumer` on `stream` has applied everything the
/// stream holds for it now: nothing left to deliver, and what was delivered
/// acked or, for a cursor consumer, recorded as applied.
pub async fn caught_up(bus: &Bus, stream: &str, consumer: &str) -> Result<bool, Error> {
    let stream = bus
        .js
        .get_stream(stream)
        .await
        .map_err(|e| Error::nats("stream info", e))?;
    let info = reading_for(&stream, consumer).await?;
    if info.num_pending > 0 {
        return Ok(false);
    }
    if info.config.ack_policy != AckPolicy::None {
        return Ok(info.num_ack_pending == 0);
    }
    let applied = Progress::open(bus).await?.applied(consumer).await?;
    Ok(cursor_idle(&info, applied))
}

/// The consumer on `stream` that reads for `role`: its own or, when the role
/// runs in a [`super::Fanout`], the one it shares.
async fn reading_for(stream: &Stream, role: &str) -> Result<consumer::Info, Error> {
    let own = stream.consumer_info(role).await;
    match own {
        Err(e) if matches!(e.kind(), ConsumerInfoErrorKind::NotFound) => {}
        own => return own.map_err(|e| Error::nats("consumer info", e)),
    }
    let mut infos = stream.consumers();
    while let Some(info) = infos.next().await {
        let info = info.map_err(|e| Error::nats("list consumers", e))?;
        if WorkerSpec::reads_for(&info.name, role) {
            return Ok(info);
        }
    }
    Err(Error::Server(format!(
        "no consumer on the stream reads for {role}"
    )))
}

/// Whether a cursor consumer has nothing left to deliver and has recorded as
/// applied (`applied`) all that was delivered.
fn cursor_idle(info: &consumer::Info, applied: Option<u64>) -> bool {
    info.num_pending == 0 && applied.unwrap_or(0) >= info.delivered.stream_sequence
}

impl<P: super::Projection> super::Worker<P> {
    /// Records `seq` as applied, for a cursor consumer: for each role, what it
    /// holds durably of it (see [`super::Projection::saved_through`]). A failure
    /// is only logged: progress is for those watching, the watermark is what the
    /// worker resumes from.
    pub(super) async fn record_progress(&mut self, seq: u64) {
        self.applied = seq;
        if let Some(progress) = &self.progress {
            for (part, role) in self.spec.roles().iter().enumerate() {
                let at = self
                    .projection
                    .saved_through(part)
                    .map_or(seq, |saved| saved.min(seq));
                if let Err(e) = progress.record(role, at).await {
                    tracing::warn!(consumer = %role, error = %e, "cannot record progress");
                }
            }
        }
    }
}
