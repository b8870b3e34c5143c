//! How a worker acks, chosen from how its projection keeps its position, and the
//! acks that settle an applied batch.

use async_nats::jetstream::consumer::AckPolicy;
use async_nats::jetstream::Message;

use super::pull;
use crate::error::Error;
use crate::nats::Bus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Acking {
    /// Upserts by key, no watermark: every message (AckPolicy::Explicit); the ack
    /// floor is the position.
    Each,
    /// A watermark kept apart from the state it covers: the newest message acks
    /// the whole batch (AckPolicy::All).
    Newest,
    /// A watermark written with each batch: nothing to ack (AckPolicy::None). The
    /// consumer is a cursor the worker positions from the watermark on start and
    /// after a failure, so what was delivered but not applied is delivered again.
    None,
}

impl Acking {
    pub(super) fn policy(self) -> AckPolicy {
        match self {
            Acking::Each => AckPolicy::Explicit,
            Acking::Newest => AckPolicy::All,
            Acking::None => AckPolicy::None,
        }
    }

    /// Acks what an applied batch holds besides the messages already settled
    /// (`done`: dead-lettered), then flushes, so the acks are on the wire before
    /// the next batch is applied.
    pub(super) async fn settle(
        self,
        bus: &Bus,
        batch: &[Message],
        positions: &[(u64, u64)],
        done: &[bool],
    ) -> Result<(), Error> {
        match self {
            Acking::None => return Ok(()),
            Acking::Newest => {
                if let Some(last) = newest(batch, positions, done) {
                    last.ack().await.map_err(|e| Error::nats("ack", e))?;
                }
            }
            Acking::Each => {
                for (msg, _) in batch.iter().zip(done).filter(|(_, d)| !**d) {
                    msg.ack().await.map_err(|e| Error::nats("ack", e))?;
                }
            }
        }
        bus.client
            .flush()
            .await
            .map_err(|e| Error::nats("flush acks", e))
    }

    /// Hands received but unapplied messages back. Without acks there is nothing
    /// to hand back: the rewind to the watermark delivers them again.
    pub(super) async fn hand_back(self, messages: Vec<Message>) {
        if self != Acking::None {
            pull::hand_back(messages).await;
        }
    }
}

/// The not-yet-settled message with the highest stream sequence.
fn newest<'a>(
    batch: &'a [Message],
    positions: &[(u64, u64)],
    done: &[bool],
) -> Option<&'a Message> {
    batch
        .iter()
        .zip(positions)
        .zip(done)
        .filter(|(_, d)| !**d)
        .max_by_key(|((_, (seq, _)), _)| *seq)
        .map(|((m, _), _)| m)
}
