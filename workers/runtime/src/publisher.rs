//! Publishing events to LOGS: validate, encode, publish with `Nats-Msg-Id` = event id,
//! and keep a bounded window of publish acks in flight.

use std::future::IntoFuture;
use std::pin::Pin;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::publish::PublishAck;
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{Future, StreamExt};
use serde::Serialize;
use sightline_schemas::{encode, subject, Encoding, Event, Validate};

use crate::config::PublisherSettings;
use crate::error::Error;
use crate::nats::Bus;

/// An event ready to go on the wire.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub subject: String,
    pub message_id: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
}

impl Prepared {
    fn publish(&self) -> Publish {
        Publish::build()
            .payload(self.payload.clone())
            .headers(self.headers.clone())
            .message_id(&self.message_id)
    }
}

/// Counts of a finished pipeline, printed by `sightline publish`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PublishSummary {
    pub published: u64,
    pub duplicates: u64,
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

    /// Validates and encodes an event. Invalid events never reach the bus.
    pub fn prepare(&self, event: &Event) -> Result<Prepared, Error> {
        event.validate()?;
        let payload = Bytes::from(encode(event, self.encoding)?);
        let mut headers = HeaderMap::new();
        if self.encoding == Encoding::Json {
            headers.insert("Content-Type", Encoding::Json.content_type());
        }
        Ok(Prepared {
            subject: subject::for_event(event),
            message_id: event.id.to_string(),
            headers,
            payload,
        })
    }

    /// Publishes one event and waits for the stream to store it.
    pub async fn publish(&self, event: &Event) -> Result<PublishAck, Error> {
        let mut pipeline = self.pipeline();
        pipeline.send(event).await?;
        pipeline.drain_one().await?;
        pipeline.last_ack.take().ok_or_else(|| Error::nats("publish", "no ack received"))
    }

    /// A pipeline for many events: sends without waiting, collects acks as they come.
    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            publisher: self,
            in_flight: FuturesUnordered::new(),
            summary: PublishSummary::default(),
            last_ack: None,
        }
    }
}

type AckFuture = Pin<Box<dyn Future<Output = (Prepared, u32, Result<PublishAck, async_nats::jetstream::context::PublishError>)> + Send>>;

/// Publishes a stream of events with at most `max_in_flight` acks outstanding.
pub struct Pipeline<'a> {
    publisher: &'a Publisher,
    in_flight: FuturesUnordered<AckFuture>,
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
            .send_publish(prepared.subject.clone(), prepared.publish())
            .await
            .map_err(|e| Error::nats("publish", e))?;
        self.in_flight.push(Box::pin(async move {
            let result = ack.into_future().await;
            (prepared, attempt, result)
        }));
        Ok(())
    }

    /// Waits for one outstanding ack; a timed-out one is sent again (de-duplicated by id).
    async fn drain_one(&mut self) -> Result<(), Error> {
        let Some((prepared, attempt, result)) = self.in_flight.next().await else {
            return Ok(());
        };
        match result {
            Ok(ack) => {
                if ack.duplicate {
                    self.summary.duplicates += 1;
                } else {
                    self.summary.published += 1;
                }
                self.last_ack = Some(ack);
                Ok(())
            }
            Err(e) if e.kind() == PublishErrorKind::TimedOut && attempt < self.publisher.retries => {
                tracing::warn!(subject = %prepared.subject, attempt, "publish ack timed out; publishing again");
                self.dispatch(prepared, attempt + 1).await
            }
            Err(e) if e.kind() == PublishErrorKind::StreamNotFound => Err(Error::Topology {
                stream: "LOGS".into(),
                message: format!("no stream stores {} (run `sightline streams apply`)", prepared.subject),
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
