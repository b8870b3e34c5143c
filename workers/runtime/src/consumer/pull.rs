//! Pulling batches. Every pull request is bounded and completes: a no-wait fetch
//! when messages are waiting, else a long poll for a single message. No request
//! is left open to deliver into a subscription that is gone, so on shutdown every
//! received message can be handed back.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::stream::Stream;
use async_nats::jetstream::Message;
use futures::StreamExt;

use crate::error::Error;

/// How long an idle worker's long poll waits before checking in again.
const IDLE_POLL: Duration = Duration::from_secs(1);

pub(super) struct Puller {
    consumer: PullConsumer,
    batch_size: usize,
    linger: Duration,
}

impl Puller {
    pub(super) fn new(consumer: PullConsumer, batch_size: usize, linger: Duration) -> Self {
        Self {
            consumer,
            batch_size: batch_size.max(1),
            linger,
        }
    }

    /// The next batch; empty when nothing arrived within the idle poll.
    pub(super) async fn next(&self) -> Result<Vec<Message>, Error> {
        let mut batch = self.fetch(self.batch_size).await?;
        if batch.is_empty() {
            batch = self.wait_for_one().await?;
            if batch.is_empty() {
                return Ok(batch);
            }
        }
        // A partial batch waits a moment to fill: under steady traffic that makes
        // fewer, larger writes (commits, scripts, acks) for a bounded delay.
        if batch.len() < self.batch_size {
            tokio::time::sleep(self.linger).await;
            // Messages in hand are never dropped for a failed top-up: they would sit
            // unacked until ack_wait.
            match self.fetch(self.batch_size - batch.len()).await {
                Ok(more) => batch.extend(more),
                Err(e) => {
                    tracing::debug!(error = %e, "topping up a batch failed; applying what arrived")
                }
            }
        }
        Ok(batch)
    }

    /// Whatever is available now, up to `max`, without waiting.
    async fn fetch(&self, max: usize) -> Result<Vec<Message>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let messages = self
            .consumer
            .fetch()
            .max_messages(max)
            .messages()
            .await
            .map_err(|e| Error::nats("fetch", e))?;
        collect(messages, max).await
    }

    async fn wait_for_one(&self) -> Result<Vec<Message>, Error> {
        let messages = self
            .consumer
            .batch()
            .max_messages(1)
            .expires(IDLE_POLL)
            .messages()
            .await
            .map_err(|e| Error::nats("poll", e))?;
        collect(messages, 1).await
    }
}

/// `capacity` is the most the pull asked for: a batch grown message by message
/// was copied over and over in the scorer's profile.
async fn collect<S, E>(mut messages: S, capacity: usize) -> Result<Vec<Message>, Error>
where
    S: futures::Stream<Item = Result<Message, E>> + Unpin,
    E: Into<crate::error::Source> + std::fmt::Display,
{
    let mut out = Vec::with_capacity(capacity);
    while let Some(next) = messages.next().await {
        match next {
            Ok(m) => out.push(m),
            // A pull that ends in an error still hands over what it delivered.
            Err(e) if !out.is_empty() => {
                tracing::debug!(error = %e, "pull ended early");
                break;
            }
            Err(e) => return Err(Error::nats("pull", e)),
        }
    }
    Ok(out)
}

/// The filter to give nats-server for `filter` on `stream`: none when it selects
/// the whole stream. A filter is matched against every message's subject as it
/// is loaded, even one that matches them all (`logs.>` on LOGS): that matching
/// was a twentieth of the server's work under load.
pub(super) fn server_filter(stream: &Stream, filter: &[String]) -> Vec<String> {
    whole_stream_dropped(&stream.cached_info().config.subjects, filter)
}

fn whole_stream_dropped(stream_subjects: &[String], filter: &[String]) -> Vec<String> {
    if filter == stream_subjects {
        Vec::new()
    } else {
        filter.to_vec()
    }
}

/// Naks received but unapplied messages so they are redelivered now, not after ack_wait.
pub(super) async fn hand_back(messages: Vec<Message>) {
    let n = messages.len();
    for msg in messages {
        let _ = msg.ack_with(AckKind::Nak(None)).await;
    }
    if n > 0 {
        tracing::info!(
            messages = n,
            "handed unapplied messages back for redelivery"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::whole_stream_dropped;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_filter_that_selects_the_whole_stream_is_not_sent() {
        let logs = strings(&["logs.>"]);
        assert!(whole_stream_dropped(&logs, &logs).is_empty());
    }

    #[test]
    fn a_filter_that_selects_part_of_the_stream_is_kept() {
        let logs = strings(&["logs.>"]);
        let scorer = strings(&["logs.transaction.>", "logs.security.>"]);
        assert_eq!(whole_stream_dropped(&logs, &scorer), scorer);
        // A stream with more subjects than the filter: the filter narrows it.
        let wider = strings(&["logs.>", "legacy.>"]);
        assert_eq!(whole_stream_dropped(&wider, &logs), logs);
    }
}
