//! What a worker plugs into the runtime: a [`Projection`] that applies batches of
//! decoded [`Record`]s and says where it stands.

use std::future::Future;

use async_nats::HeaderMap;
use sightline_schemas::{Detection, Encoding, Event, EventError, OffsetDateTime};

use crate::error::Error;

/// Turns a message into the type a projection consumes. Errors are poison: the
/// message goes to the DLQ with the error as its reason.
pub trait Decode: Sized + Send + Sync + 'static {
    /// Decodes the message read from `subject`.
    fn decode(
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Self, EventError>;

    /// When the thing happened, for the occurred_at-to-applied latency metric.
    fn occurred_at(&self) -> Option<OffsetDateTime> {
        None
    }
}

impl Decode for Event {
    /// A valid event on the subject of its kind and service, card numbers in its
    /// free text masked.
    fn decode(
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Self, EventError> {
        let mut event = sightline_schemas::decode(payload, encoding(headers)?)?;
        sightline_schemas::subject::check_event_subject(&event, subject)?;
        // A producer that published to the bus directly may have sent one: no
        // projection writes it.
        if sightline_schemas::mask::holds_card_number(payload) {
            let masked = event.mask_card_numbers();
            if masked > 0 {
                crate::metrics::card_numbers_masked("consume", masked);
            }
        }
        Ok(event)
    }

    fn occurred_at(&self) -> Option<OffsetDateTime> {
        Some(self.occurred_at)
    }
}

/// The encoding a message declares in its headers (MessagePack when it declares none).
pub fn encoding(headers: Option<&HeaderMap>) -> Result<Encoding, EventError> {
    let content_type = headers
        .and_then(|h| h.get("Content-Type"))
        .map(|v| v.as_str());
    Encoding::from_content_type(content_type)
}

impl Decode for Detection {
    fn decode(
        _subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Self, EventError> {
        Detection::decode(payload, encoding(headers)?)
    }

    fn occurred_at(&self) -> Option<OffsetDateTime> {
        Some(self.detected_at)
    }
}

/// One decoded message and where it sits in its stream.
#[derive(Debug, Clone)]
pub struct Record<T> {
    pub stream_seq: u64,
    /// 1 on first delivery.
    pub delivered: u64,
    pub item: T,
    /// For a message replayed from the DLQ: the consumer it is replayed for
    /// (see [`super::dlq::REPLAY_FOR`]); only the projections reading for that
    /// consumer apply it.
    pub replay_for: Option<String>,
}

/// Where a projection stands in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The projection is idempotent by key (upserts) and keeps no sequence:
    /// the consumer's ack floor is its position.
    Untracked,
    /// The projection keeps a watermark and has applied nothing yet.
    Start,
    /// Everything up to and including this stream sequence is applied durably.
    After(u64),
}

/// The result of applying a batch: records the projection refused for good
/// (by index in the batch) go to the DLQ with their reason; the rest are acked.
#[derive(Debug, Default)]
pub struct Outcome {
    pub rejected: Vec<(usize, String)>,
}

/// A projection applies batches durably, then the runtime acks them.
///
/// Watermark projections must store the highest applied stream sequence in the
/// same atomic write as the batch and skip records at or below it: that, plus
/// the runtime rewinding the consumer to the watermark on start and after a
/// failure, is what makes redelivery and replay count every event exactly once.
pub trait Projection: Send + 'static {
    type Item: Decode;

    /// Where the projection stands, read from its durable store.
    fn position(&mut self) -> impl Future<Output = Result<Position, Error>> + Send;

    /// Applies a batch durably. A transient error makes the runtime retry the same
    /// batch with backoff; any other error stops the worker.
    fn apply(
        &mut self,
        batch: &[Record<Self::Item>],
    ) -> impl Future<Output = Result<Outcome, Error>> + Send;

    /// Whether the watermark is written in the same atomic write as the state it
    /// covers (each batch's commit, or a snapshot of state and sequence together),
    /// so that [`Projection::position`] after a restart is exactly where the state
    /// stands. The projection alone then says where it stands, and its consumer is a
    /// cursor the runtime positions from the watermark: no acks (AckPolicy::None),
    /// which spares the bus tracking every delivered message. The worker records
    /// what it applied in [`super::Progress`] for those watching.
    fn durable_watermark(&self) -> bool {
        false
    }

    /// Moves the watermark to `through`, the last stream sequence of a batch whose
    /// last messages went to the DLQ instead of being applied. Without it the
    /// watermark stops before them, and the next start, positioned from it, delivers
    /// them again: dead-lettered twice once the DLQ's duplicate window has passed.
    /// Called only for projections with a [`Projection::durable_watermark`].
    fn pass(&mut self, _through: u64) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// The last stream sequence part `part` holds durably, when that is behind what
    /// it has applied: a projection that keeps its state in memory and saves it
    /// from time to time (a snapshot with its sequence). The worker reports this,
    /// not what was applied, as the part's progress: it is where a restart resumes.
    /// `None`: everything applied is durable.
    fn saved_through(&self, _part: usize) -> Option<u64> {
        None
    }

    /// The consumer has nothing to deliver: a projection holding applied work in
    /// memory saves it now, so a crash while traffic is stopped replays nothing.
    /// True when it saved something (its [`Projection::saved_through`] moved).
    fn idle(&mut self) -> impl Future<Output = Result<bool, Error>> + Send {
        async { Ok(false) }
    }

    /// Moves to another version of the projection's store: a rebuild switched it
    /// (see [`crate::versions`]). The runtime then resumes after the version's floor.
    fn follow(&mut self, _version: u64) -> impl Future<Output = Result<(), Error>> + Send {
        async { Err(Error::Config("this projection has no versions".into())) }
    }

    /// Moves part `part` of a fan-out that stands below `floor` (its version's
    /// floor) to it, as if it had applied everything through it. A projection of
    /// one part has nothing to do: the runtime positions it above its floor.
    fn raise_part(
        &mut self,
        _part: usize,
        _floor: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async { Ok(()) }
    }

    /// How many projections this one is made of (see [`super::Fanout`]).
    fn parts(&self) -> usize {
        1
    }

    /// Moves part `part` of a projection made of several (a [`super::Fanout`]) to
    /// another version; a projection of one part follows with [`Projection::follow`].
    fn follow_part(
        &mut self,
        part: usize,
        version: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async move {
            match part {
                0 => self.follow(version).await,
                _ => Err(Error::Config(format!("no part {part} to follow a version"))),
            }
        }
    }
}
