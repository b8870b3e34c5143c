//! Publishing events to LOGS: validate, encode, publish with `Nats-Msg-Id` = event id,
//! and keep a bounded window of publish acks in flight.

use std::collections::VecDeque;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::publish::PublishAck;
use bytes::Bytes;
use serde::Serialize;
use sightline_schemas::mask::holds_card_number;
use sightline_schemas::{encode, subject, Encoding, Event, Validate};

use crate::config::PublisherSettings;
use crate::error::Error;
use crate::nats::Bus;

/// An event ready to go on the wire. Cheap to clone (the payload is shared).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub subject: String,
    pub message_id: String,
    pub encoding: Encoding,
    pub payload: Bytes,
}

impl Prepared {
    fn message(&self) -> Publish {
        let mut message = Publish::build()
            .payload(self.payload.clone())
            .message_id(&self.message_id);
        if self.encoding == Encoding::Json {
            message = message.header("Content-Type", Encoding::Json.content_type());
        }
        message
    }
}

/// Counts of a finished pipeline, printed by `sightline publish`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PublishSummary {
    pub published: u64,
    pub duplicates: u64,
    /// The highest LOGS sequence among the acks (a duplicate's is the original's):
    /// once a projection's watermark reaches it, it holds every event sent.
    pub last_sequence: u64,
}

#[derive(Clone)]
pub struct Publisher {
    bus: Bus,
    encoding: Encoding,
    max_in_flight: usize,
    retries: u32,
}

impl Publisher {
    pub fn new(bus: &Bus, settings: &PublisherSettings) -> Self {
        Self {
            bus: bus.clone(),
            encoding: settings.encoding,
            max_in_flight: settings.max_in_flight.max(1),
            retries: settings.retries,
        }
    }

    /// Validates and encodes an event. Invalid events never reach the bus, and
    /// card numbers in its free text are masked (a card number where the card
    /// fingerprint belongs is refused by validation).
    pub fn prepare(&self, event: &Event) -> Result<Prepared, Error> {
        event.validate()?;
        let mut payload = encode(event, self.encoding)?;
        if holds_card_number(&payload) {
            let mut clean = event.clone();
            let masked = clean.mask_card_numbers();
            if masked > 0 {
                crate::metrics::card_numbers_masked("publish", masked);
                payload = encode(&clean, self.encoding)?;
            }
        }
        Ok(Prepared {
            subject: subject::for_event(event),
            message_id: event.id.to_string(),
            encoding: self.encoding,
            payload: Bytes::from(payload),
        })
    }

    /// Publishes one event and waits for the stream to store it.
    pub async fn publish(&self, event: &Event) -> Result<PublishAck, Error> {
        let mut pipeline = self.pipeline();
        pipeline.send(event).await?;
        pipeline.drain_one().await?;
        pipeline
            .last_ack
            .take()
            .ok_or_else(|| Error::nats("publish", "no ack received"))
    }

    /// A pipeline for many events: sends without waiting, collects acks as they come.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            publisher: self,
            in_flight: VecDeque::new(),
            summary: PublishSummary::default(),
            last_ack: None,
        }
    }
}

/// A message whose ack is awaited, kept for a retry.
struct InFlight {
    ack: PublishAckFuture,
    prepared: Prepared,
    attempt: u32,
}

/// Publishes a stream of events with at most `max_in_flight` acks outstanding.
/// Acks come back in publish order, so the oldest is awaited first.
pub struct Pipeline<'a> {
    publisher: &'a Publisher,
    in_flight: VecDeque<InFlight>,
    summary: PublishSummary,
    last_ack: Option<PublishAck>,
}

impl Pipeline<'_> {
    /// Validates, encodes and sends one event. A validation error leaves the pipeline usable.
    pub async fn send(&mut self, event: &Event) -> Result<(), Error> {
        let prepared = self.publisher.prepare(event)?;
        self.send_prepared(prepared).await
    }

    /// Sends an already prepared message (used by replays and the HTTP ingest).
    pub async fn send_prepared(&mut self, prepared: Prepared) -> Result<(), Error> {
        while self.in_flight.len() >= self.publisher.max_in_flight {
            self.drain_one().await?;
        }
        self.dispatch(prepared, 0).await
    }

    async fn dispatch(&mut self, prepared: Prepared, attempt: u32) -> Result<(), Error> {
        let ack = self
            .publisher
            .bus
            .js
            .send_publish(prepared.subject.clone(), prepared.message())
            .await
            .map_err(|e| Error::nats("publish", e))?;
        self.in_flight.push_back(InFlight {
            ack,
            prepared,
            attempt,
        });
        Ok(())
    }

    /// Waits for one outstanding ack; a timed-out one is sent again (de-duplicated by id).
    async fn drain_one(&mut self) -> Result<(), Error> {
        let Some(InFlight {
            ack,
            prepared,
            attempt,
        }) = self.in_flight.pop_front()
        else {
            return Ok(());
        };
        match ack.await {
            Ok(ack) => {
                if ack.duplicate {
                    self.summary.duplicates += 1;
                } else {
                    self.summary.published += 1;
                }
                self.summary.last_sequence = self.summary.last_sequence.max(ack.sequence);
                self.last_ack = Some(ack);
                Ok(())
            }
            Err(e)
                if e.kind() == PublishErrorKind::TimedOut && attempt < self.publisher.retries =>
            {
                tracing::warn!(subject = %prepared.subject, attempt, "publish ack timed out; publishing again");
                self.dispatch(prepared, attempt + 1).await
            }
            Err(e) if e.kind() == PublishErrorKind::StreamNotFound => Err(Error::Topology {
                stream: prepared
                    .subject
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_uppercase(),
                message: format!(
                    "no stream stores {} (run `sightline streams apply`)",
                    prepared.subject
                ),
            }),
            Err(e) => Err(Error::nats("publish ack", e)),
        }
    }

    /// Waits for every outstanding ack and returns the counts.
    pub async fn finish(mut self) -> Result<PublishSummary, Error> {
        while !self.in_flight.is_empty() {
            self.drain_one().await?;
        }
        Ok(self.summary)
    }
}
