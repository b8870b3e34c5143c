//! Dead letters: a poison message is published to `dlq.<consumer>.<subject>` with
//! its original payload and where it came from, then terminated in its stream.

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::HeaderMap;
use bytes::Bytes;
use sightline_schemas::{encode, subject, Encoding, Event, Validate};

use crate::error::Error;
use crate::nats::Bus;

pub const ORIGINAL_SUBJECT: &str = "Sightline-Original-Subject";
pub const ORIGINAL_STREAM: &str = "Sightline-Original-Stream";
pub const ORIGINAL_SEQUENCE: &str = "Sightline-Original-Sequence";
pub const CONSUMER: &str = "Sightline-Consumer";
pub const ERROR: &str = "Sightline-Error";
pub const DELIVERY_COUNT: &str = "Sightline-Delivery-Count";
/// On a message replayed from the DLQ: the one consumer that applies it; every
/// other consumer of the stream acks it without applying (they had it already).
pub const REPLAY_FOR: &str = "Sightline-Replay-For";

/// A message that failed for good, with why.
pub struct DeadLetter<'a> {
    pub stream: &'a str,
    pub consumer: &'a str,
    pub subject: &'a str,
    pub stream_seq: u64,
    pub delivered: u64,
    pub reason: &'a str,
    pub headers: Option<&'a HeaderMap>,
    pub payload: Bytes,
}

/// Publishes the dead letter and waits until DLQ stored it. The message id makes a
/// redelivered poison message land in the DLQ once.
pub async fn publish(bus: &Bus, letter: DeadLetter<'_>) -> Result<(), Error> {
    let mut headers = HeaderMap::new();
    if let Some(content_type) = letter.headers.and_then(|h| h.get("Content-Type")) {
        headers.insert("Content-Type", content_type.as_str());
    }
    headers.insert(ORIGINAL_SUBJECT, letter.subject);
    headers.insert(ORIGINAL_STREAM, letter.stream);
    headers.insert(ORIGINAL_SEQUENCE, letter.stream_seq.to_string().as_str());
    headers.insert(CONSUMER, letter.consumer);
    headers.insert(ERROR, header_safe(letter.reason).as_str());
    headers.insert(DELIVERY_COUNT, letter.delivered.to_string().as_str());
    let message = PublishMessage::build()
        .payload(letter.payload)
        .headers(headers)
        .message_id(format!(
            "{}.{}.{}",
            letter.stream, letter.stream_seq, letter.consumer
        ));
    let ack = bus
        .js
        .send_publish(
            subject::dead_letter(letter.consumer, letter.subject),
            message,
        )
        .await
        .map_err(|e| Error::nats("publish dead letter", e))?;
    ack.await.map_err(|e| Error::nats("dead letter ack", e))?;
    Ok(())
}

/// Header values are one line of printable ASCII; reasons are capped at 1 KiB.
fn header_safe(reason: &str) -> String {
    reason
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(1024)
        .collect()
}

/// Replays a dead letter's event, fixed or not, to the consumer that gave up on
/// it: validated again, published to its LOGS subject for that consumer alone, with
/// a message id made from the dead letter's DLQ sequence so a repeated replay is
/// stored once.
pub async fn replay(
    bus: &Bus,
    event: &Event,
    consumer: &str,
    dlq_seq: u64,
) -> Result<PublishAck, Error> {
    event.validate()?;
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", Encoding::Json.content_type());
    headers.insert(REPLAY_FOR, consumer);
    let message = PublishMessage::build()
        .payload(Bytes::from(encode(event, Encoding::Json)?))
        .headers(headers)
        .message_id(format!("replay.{dlq_seq}"));
    bus.js
        .send_publish(subject::for_event(event), message)
        .await
        .map_err(|e| Error::nats("publish replay", e))?
        .await
        .map_err(|e| Error::nats("replay ack", e))
}
