//! Reading the DLQ: the letters held now, attributed to the consumers that filed
//! them, and the newest of them as listed. `sightline dlq` and `/api/ops/dlq` read
//! it through these, so both attribute a shared consumer's letters the same way.

use std::collections::{BTreeMap, VecDeque};

use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::HeaderMap;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sightline_schemas::subject;
use time::format_description::well_known::Rfc3339;

use super::dlq::{
    CONSUMER, DELIVERY_COUNT, ERROR, ORIGINAL_SEQUENCE, ORIGINAL_STREAM, ORIGINAL_SUBJECT,
};
use super::WorkerSpec;
use crate::error::Error;
use crate::nats::Bus;
use crate::topology::DLQ;

/// A dead letter as listed: where it came from, who gave up on it, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Letter {
    pub seq: u64,
    pub stored_at: String,
    pub consumer: String,
    pub original_stream: String,
    pub original_subject: String,
    pub original_seq: String,
    pub deliveries: String,
    pub error: String,
    pub payload_bytes: usize,
}

impl Letter {
    /// The letter at DLQ sequence `seq`, from its headers.
    pub fn read(
        seq: u64,
        stored_at: time::OffsetDateTime,
        headers: Option<&HeaderMap>,
        payload_bytes: usize,
    ) -> Self {
        let header = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default()
        };
        Letter {
            seq,
            stored_at: stored_at.format(&Rfc3339).unwrap_or_default(),
            consumer: header(CONSUMER),
            original_stream: header(ORIGINAL_STREAM),
            original_subject: header(ORIGINAL_SUBJECT),
            original_seq: header(ORIGINAL_SEQUENCE),
            deliveries: header(DELIVERY_COUNT),
            error: header(ERROR),
            payload_bytes,
        }
    }
}

/// The dead letters DLQ holds now, counted per consumer that filed them; with
/// `asked`, only those of the consumers that read for it (its own, and those of a
/// shared consumer it is a role of: [`WorkerSpec::reads_for`]). Both
/// `sightline dlq` and `/api/ops/dlq` attribute letters through this.
pub async fn held(bus: &Bus, asked: Option<&str>) -> Result<BTreeMap<String, usize>, Error> {
    let stream = bus
        .js
        .get_stream(DLQ)
        .await
        .map_err(|e| Error::nats("DLQ stream", e))?;
    let mut subjects = stream
        .info_with_subjects(subject::all_under(subject::DLQ_PREFIX))
        .await
        .map_err(|e| Error::nats("DLQ subjects", e))?;
    let mut held = BTreeMap::new();
    while let Some((subject, n)) = subjects
        .try_next()
        .await
        .map_err(|e| Error::nats("DLQ subjects", e))?
    {
        let Some(consumer) = subject::dead_letter_consumer(&subject) else {
            continue;
        };
        if asked.is_none_or(|role| WorkerSpec::reads_for(consumer, role)) {
            *held.entry(consumer.to_owned()).or_default() += n;
        }
    }
    Ok(held)
}

/// The filters that select the letters `asked` answers for (all of them without),
/// and how many there are now.
pub async fn selection(bus: &Bus, asked: Option<&str>) -> Result<(Vec<String>, usize), Error> {
    let held = held(bus, asked).await?;
    let filters = match asked {
        None => vec![subject::all_under(subject::DLQ_PREFIX)],
        Some(_) => held
            .keys()
            .map(|name| subject::dead_letters_of(name))
            .collect(),
    };
    Ok((filters, held.values().sum()))
}

/// The newest `limit` letters `asked` answers for (all without), newest first,
/// read with an ordered consumer: nothing is acked or changed.
pub async fn newest(bus: &Bus, asked: Option<&str>, limit: usize) -> Result<Vec<Letter>, Error> {
    let (filters, count) = selection(bus, asked).await?;
    if count == 0 || limit == 0 {
        return Ok(Vec::new());
    }
    let stream = bus
        .js
        .get_stream(DLQ)
        .await
        .map_err(|e| Error::nats("DLQ stream", e))?;
    let reader = stream
        .create_consumer(OrderedConfig {
            filter_subjects: filters,
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::nats("DLQ reader", e))?;
    let mut messages = reader
        .messages()
        .await
        .map_err(|e| Error::nats("DLQ reader", e))?;
    let mut kept: VecDeque<Letter> = VecDeque::with_capacity(limit);
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| Error::nats("DLQ letter", e))?;
        let info = message.info().map_err(|e| Error::nats("DLQ letter", e))?;
        if kept.len() == limit {
            kept.pop_front();
        }
        kept.push_back(Letter::read(
            info.stream_sequence,
            info.published,
            message.headers.as_ref(),
            message.payload.len(),
        ));
        if info.pending == 0 {
            break;
        }
    }
    Ok(kept.into_iter().rev().collect())
}
