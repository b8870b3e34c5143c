//! Settling a batch: applying it to the projection with retries, dead-lettering
//! what cannot be applied, then acking (or, for a cursor, moving its watermark).

use std::time::{Duration, Instant};

use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{stream::Stream, Message};
use sightline_schemas::OffsetDateTime;

use super::acking::Acking;
use super::decode::{position_of, Decoded};
use super::dlq::{self, DeadLetter};
use super::{Decode, Flow, Projection, Record, Worker};
use crate::config::ConsumerSettings;
use crate::error::{Error, ErrorKind};
use crate::metrics;
use crate::shutdown::Shutdown;

impl<P: Projection> Worker<P> {
    pub(super) async fn process(
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
        if acking == Acking::None && !self.pass_dead_letters(&positions, &records).await {
            return Ok(Flow::Restart);
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

    /// Moves a cursor projection's watermark over dead letters that end the batch,
    /// so they are not delivered (and dead-lettered) again after a restart. False
    /// when the projection could not record it: the rewind then delivers them again,
    /// and the DLQ's duplicate window drops the second letters.
    async fn pass_dead_letters(
        &mut self,
        positions: &[(u64, u64)],
        records: &[Record<P::Item>],
    ) -> bool {
        let Some(last) = positions.iter().map(|p| p.0).max() else {
            return true;
        };
        if records.iter().any(|r| r.stream_seq >= last) {
            return true;
        }
        match self.projection.pass(last).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(consumer = %self.spec.consumer, error = %e, through = last, "cannot move the watermark over dead letters");
                false
            }
        }
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
        match dlq::publish(&self.bus, letter).await {
            Ok(dlq::Filed::Now) => metrics::worker().dead_lettered(
                &self.spec.consumer,
                msg.subject.as_str(),
                seq,
                reason,
            ),
            Ok(dlq::Filed::Before) => {
                tracing::debug!(consumer = %self.spec.consumer, stream_seq = seq, "dead-lettered before; not filed again")
            }
            Err(e) => {
                tracing::error!(consumer = %self.spec.consumer, error = %e, "cannot write the DLQ; will retry");
                return false;
            }
        }
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
