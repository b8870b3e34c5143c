//! `sightline bench publish`: the Publisher against bare async-nats publishing.

use std::future::IntoFuture;
use std::time::Instant;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::Config;
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use sightline_generator::Generator;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::{topology, Bus, Settings};
use sightline_schemas::{encode, Event};
use time::OffsetDateTime;

use super::bench_bus;
use super::Report;

pub async fn run(mut settings: Settings, events: usize, rounds: usize) -> Report {
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    raw_stream(bus, &settings).await?;
    let publisher = Publisher::new(bus, &settings.publisher);
    let window = settings.publisher.max_in_flight;
    let (mut best_raw, mut best_raw_ids, mut best_pub, mut payload_bytes) =
        (0f64, 0f64, 0f64, 0usize);
    for round in 0..rounds {
        // Fresh ids every round, so no round is answered from the duplicate window.
        let batch: Vec<Event> = Generator::new(
            round as u64 + 1,
            OffsetDateTime::now_utc() - time::Duration::hours(1),
            5_000,
        )
        .take(events)
        .collect();
        let raw = RawBatch::new(&batch, &settings)?;
        payload_bytes = raw.payloads.iter().map(Bytes::len).sum::<usize>() / events.max(1);
        best_raw = best_raw.max(raw.publish(bus, false, window).await?);
        best_raw_ids = best_raw_ids.max(raw.publish(bus, true, window).await?);

        let started = Instant::now();
        let mut pipeline = publisher.pipeline();
        for event in &batch {
            pipeline.send(event).await?;
        }
        let summary = pipeline.finish().await?;
        anyhow::ensure!(
            summary.published as usize == events,
            "published {} of {events}",
            summary.published
        );
        best_pub = best_pub.max(events as f64 / started.elapsed().as_secs_f64());
    }
    let report = serde_json::json!({
        "bench": "publish",
        "events": events,
        "rounds": rounds,
        "payload_bytes": payload_bytes,
        "max_in_flight": window,
        "nats": if bench.embedded { "embedded" } else { "external" },
        "raw_msgs_per_s": best_raw.round(),
        "raw_with_ids_msgs_per_s": best_raw_ids.round(),
        "publisher_msgs_per_s": best_pub.round(),
        "publisher_vs_raw": (best_pub / best_raw * 100.0).round() / 100.0,
        "publisher_vs_raw_with_ids": (best_pub / best_raw_ids * 100.0).round() / 100.0,
    });
    Ok(report)
}

/// The raw side writes to a stream of its own with LOGS' limits and storage.
pub(super) async fn raw_stream(bus: &Bus, settings: &Settings) -> anyhow::Result<()> {
    let logs = topology::desired(&settings.streams).remove(0);
    let raw_stream = Config {
        name: "BENCH_RAW".into(),
        subjects: vec!["bench.raw.>".into()],
        ..logs
    };
    bus.js
        .get_or_create_stream(raw_stream)
        .await
        .map_err(|e| anyhow::anyhow!("creating BENCH_RAW: {e}"))?;
    Ok(())
}

/// Events encoded beforehand for bare publishing to BENCH_RAW.
pub(super) struct RawBatch {
    subjects: Vec<String>,
    payloads: Vec<Bytes>,
    ids: Vec<String>,
}

impl RawBatch {
    pub(super) fn new(events: &[Event], settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            payloads: events
                .iter()
                .map(|e| encode(e, settings.publisher.encoding).map(Bytes::from))
                .collect::<Result<_, _>>()?,
            ids: events.iter().map(|e| e.id.to_string()).collect(),
            // Same subject shape as LOGS (`<kind>.<service>` under the raw prefix).
            subjects: events
                .iter()
                .map(|e| format!("bench.raw.{}.{}", e.kind(), e.service))
                .collect(),
        })
    }

    /// Bare async-nats publishing with `window` acks in flight; with `ids`, each
    /// message also carries its `Nats-Msg-Id` (the stream's dedup cost).
    pub(super) async fn publish(&self, bus: &Bus, ids: bool, window: usize) -> anyhow::Result<f64> {
        let (subjects, payloads) = (&self.subjects, &self.payloads);
        let ids = ids.then_some(&self.ids);
        let started = Instant::now();
        let mut acks = FuturesUnordered::new();
        for (i, payload) in payloads.iter().enumerate() {
            if acks.len() >= window {
                acks.next()
                    .await
                    .transpose()
                    .map_err(|e| anyhow::anyhow!("raw ack: {e}"))?;
            }
            let mut message = PublishMessage::build().payload(payload.clone());
            if let Some(ids) = ids {
                message = message.message_id(&ids[i]);
            }
            let ack = bus
                .js
                .send_publish(subjects[i].clone(), message)
                .await
                .map_err(|e| anyhow::anyhow!("raw publish: {e}"))?;
            acks.push(ack.into_future());
        }
        while let Some(ack) = acks.next().await {
            ack.map_err(|e| anyhow::anyhow!("raw ack: {e}"))?;
        }
        Ok(payloads.len() as f64 / started.elapsed().as_secs_f64())
    }
}
