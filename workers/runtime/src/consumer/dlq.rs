//! Dead letters: a poison message is published to
//! `dlq.<consumer>.<origin sequence>.<subject>` with its payload (card numbers
//! masked) and where it came from, then terminated in its stream.

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::HeaderMap;
use bytes::Bytes;
use sightline_schemas::mask::mask_card_numbers;
use sightline_schemas::{encode, subject, Encoding, Event, Validate};

use crate::error::Error;
use crate::nats::Bus;

pub const ORIGINAL_SUBJECT: &str = "Sightline-Original-Subject";
pub const ORIGINAL_STREAM: &str = "Sightline-Original-Stream";
pub const ORIGINAL_SEQUENCE: &str = "Sightline-Original-Sequence";
pub const CONSUMER: &str = "Sightline-Consumer";
pub const ERROR: &str = "Sightline-Error";
pub const DELIVERY_COUNT: &str = "Sightline-Delivery-Count";
/// On a dead letter whose payload held card numbers: how many were masked.
pub const MASKED: &str = "Sightline-Masked-Card-Numbers";
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

/// Whether the letter was written now or had been already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    Now,
    Before,
}

/// Publishes the dead letter and waits until DLQ stored it. Each letter has a
/// subject of its own (consumer and origin sequence), published only if that subject
/// holds nothing yet: a message is dead-lettered once per consumer, however often it
/// is delivered again and whatever restarts come between, also past the DLQ's
/// duplicate window.
pub async fn publish(bus: &Bus, letter: DeadLetter<'_>) -> Result<Filed, Error> {
    let mut headers = HeaderMap::new();
    if let Some(content_type) = letter.headers.and_then(|h| h.get("Content-Type")) {
        headers.insert("Content-Type", content_type.as_str());
    }
    // Sightline writes no card number anywhere, a refused payload included.
    let mut payload = letter.payload.to_vec();
    let masked = mask_card_numbers(&mut payload);
    if masked > 0 {
        headers.insert(MASKED, masked.to_string().as_str());
    }
    headers.insert(ORIGINAL_SUBJECT, letter.subject);
    headers.insert(ORIGINAL_STREAM, letter.stream);
    headers.insert(ORIGINAL_SEQUENCE, letter.stream_seq.to_string().as_str());
    headers.insert(CONSUMER, letter.consumer);
    headers.insert(ERROR, header_safe(letter.reason).as_str());
    headers.insert(DELIVERY_COUNT, letter.delivered.to_string().as_str());
    let message = PublishMessage::build()
        .payload(Bytes::from(payload))
        .headers(headers)
        .message_id(format!(
            "{}.{}.{}",
            letter.stream, letter.stream_seq, letter.consumer
        ))
        .expected_last_subject_sequence(0);
    let subject = subject::dead_letter(letter.consumer, letter.stream_seq, letter.subject);
    let ack = bus
        .js
        .send_publish(subject, message)
        .await
        .map_err(|e| Error::nats("publish dead letter", e))?;
    match ack.await {
        Ok(ack) if ack.duplicate => Ok(Filed::Before),
        Ok(_) => Ok(Filed::Now),
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(Filed::Before),
        Err(e) => Err(Error::nats("dead letter ack", e)),
    }
}

/// Header values are one line of printable ASCII, card numbers masked; reasons
/// are capped at 1 KiB.
fn header_safe(reason: &str) -> String {
    sightline_schemas::mask::masked(reason)
        .0
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
