//! The four streams, declared from configuration and applied idempotently.

use async_nats::jetstream::stream::{Config, DiscardPolicy, StorageType};
use futures::TryStreamExt;
use serde::Serialize;
use sightline_schemas::subject;

use crate::config::{Storage, StreamLimits, StreamsSettings};
use crate::error::Error;
use crate::nats::Bus;

pub const LOGS: &str = "LOGS";
pub const FRAUD: &str = "FRAUD";
pub const ALERTS: &str = "ALERTS";
pub const DLQ: &str = "DLQ";

/// The desired configuration of every stream.
pub fn desired(settings: &StreamsSettings) -> Vec<Config> {
    [
        (
            LOGS,
            subject::LOGS_PREFIX,
            &settings.logs,
            "Log events from producers",
        ),
        (
            FRAUD,
            subject::FRAUD_PREFIX,
            &settings.fraud,
            "Fraud detections",
        ),
        (
            ALERTS,
            subject::ALERTS_PREFIX,
            &settings.alerts,
            "Alert state changes",
        ),
        (
            DLQ,
            subject::DLQ_PREFIX,
            &settings.dlq,
            "Dead letters with their reasons",
        ),
    ]
    .into_iter()
    .map(|(name, prefix, limits, description)| stream_config(name, prefix, limits, description))
    .collect()
}

fn stream_config(name: &str, prefix: &str, limits: &StreamLimits, description: &str) -> Config {
    Config {
        name: name.into(),
        description: Some(description.into()),
        subjects: vec![subject::all_under(prefix)],
        max_age: limits.max_age,
        max_bytes: limits.max_bytes,
        max_message_size: limits.max_msg_size,
        duplicate_window: limits.duplicate_window,
        storage: match limits.storage {
            Storage::File => StorageType::File,
            Storage::Memory => StorageType::Memory,
        },
        num_replicas: limits.replicas,
        // Old events age out; new ones are never refused because the stream is full.
        discard: DiscardPolicy::Old,
        allow_direct: true,
        ..Default::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Applied {
    Created,
    Unchanged,
    Updated { changes: Vec<String> },
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub stream: String,
    #[serde(flatten)]
    pub applied: Applied,
}

/// Creates missing streams and updates changed ones. A change that can drop data
/// (shorter retention, smaller limits, fewer subjects) needs `force`.
pub async fn apply(
    bus: &Bus,
    settings: &StreamsSettings,
    force: bool,
) -> Result<Vec<ApplyReport>, Error> {
    let mut reports = Vec::new();
    for want in desired(settings) {
        let name = want.name.clone();
        let topo = |message: String| Error::Topology {
            stream: name.clone(),
            message,
        };
        let applied = match bus.js.get_stream(&name).await {
            Err(e) if is_not_found(&e) => {
                bus.js
                    .create_stream(want)
                    .await
                    .map_err(|e| topo(e.to_string()))?;
                Applied::Created
            }
            Err(e) => return Err(Error::nats("get stream", e)),
            Ok(mut stream) => {
                let have = stream
                    .info()
                    .await
                    .map_err(|e| Error::nats("stream info", e))?
                    .config
                    .clone();
                let diff = diff(&have, &want);
                if diff.changes.is_empty() {
                    Applied::Unchanged
                } else if !diff.destructive.is_empty() && !force {
                    return Err(topo(format!(
                        "refusing destructive change ({}); re-run with --force",
                        diff.destructive.join(", ")
                    )));
                } else if have.storage != want.storage {
                    return Err(topo(
                        "storage type cannot change in place; create a new stream and migrate"
                            .into(),
                    ));
                } else {
                    bus.js
                        .update_stream(want)
                        .await
                        .map_err(|e| topo(e.to_string()))?;
                    Applied::Updated {
                        changes: diff.changes,
                    }
                }
            }
        };
        reports.push(ApplyReport {
            stream: name.clone(),
            applied,
        });
    }
    Ok(reports)
}

fn is_not_found(err: &async_nats::jetstream::context::GetStreamError) -> bool {
    use async_nats::jetstream::{context::GetStreamErrorKind, ErrorCode};
    matches!(err.kind(), GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

struct Diff {
    changes: Vec<String>,
    destructive: Vec<String>,
}

/// Compares the fields Sightline manages. Limits use -1/0 for "unlimited".
fn diff(have: &Config, want: &Config) -> Diff {
    let mut d = Diff {
        changes: Vec::new(),
        destructive: Vec::new(),
    };
    let mut note = |field: &str, from: String, to: String, destructive: bool| {
        if from != to {
            let text = format!("{field}: {from} -> {to}");
            if destructive {
                d.destructive.push(text.clone());
            }
            d.changes.push(text);
        }
    };
    let shrinks = |from: i64, to: i64| to > 0 && (from <= 0 || to < from);
    let age = |c: &Config| c.max_age.as_secs() as i64;
    note(
        "max_age",
        format!("{:?}", have.max_age),
        format!("{:?}", want.max_age),
        shrinks(age(have), age(want)),
    );
    note(
        "max_bytes",
        have.max_bytes.to_string(),
        want.max_bytes.to_string(),
        shrinks(have.max_bytes, want.max_bytes),
    );
    note(
        "max_msg_size",
        have.max_message_size.to_string(),
        want.max_message_size.to_string(),
        shrinks(have.max_message_size.into(), want.max_message_size.into()),
    );
    let dropped = have.subjects.iter().any(|s| !want.subjects.contains(s));
    note(
        "subjects",
        have.subjects.join(","),
        want.subjects.join(","),
        dropped,
    );
    note(
        "duplicate_window",
        format!("{:?}", have.duplicate_window),
        format!("{:?}", want.duplicate_window),
        false,
    );
    note(
        "storage",
        format!("{:?}", have.storage),
        format!("{:?}", want.storage),
        true,
    );
    note(
        "replicas",
        have.num_replicas.to_string(),
        want.num_replicas.to_string(),
        false,
    );
    note(
        "description",
        format!("{:?}", have.description),
        format!("{:?}", want.description),
        false,
    );
    d
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamStatus {
    pub stream: String,
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub consumers: Vec<ConsumerStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsumerStatus {
    pub name: String,
    /// Messages in the stream not yet delivered to this consumer.
    pub pending: u64,
    /// Delivered but not yet acknowledged.
    pub ack_pending: usize,
    pub redelivered: usize,
    pub ack_floor_seq: u64,
}

/// Message counts of every declared stream and pending counts of its consumers.
pub async fn status(bus: &Bus, settings: &StreamsSettings) -> Result<Vec<StreamStatus>, Error> {
    let mut out = Vec::new();
    for want in desired(settings) {
        let mut stream = bus
            .js
            .get_stream(&want.name)
            .await
            .map_err(|e| Error::Topology {
                stream: want.name.clone(),
                message: format!("{e} (run `sightline streams apply`)"),
            })?;
        let state = stream
            .info()
            .await
            .map_err(|e| Error::nats("stream info", e))?
            .state
            .clone();
        let consumers: Vec<_> = stream
            .consumers()
            .try_collect()
            .await
            .map_err(|e| Error::nats("list consumers", e))?;
        out.push(StreamStatus {
            stream: want.name.clone(),
            messages: state.messages,
            bytes: state.bytes,
            first_seq: state.first_sequence,
            last_seq: state.last_sequence,
            consumers: consumers
                .into_iter()
                .map(|c| ConsumerStatus {
                    name: c.name,
                    pending: c.num_pending,
                    ack_pending: c.num_ack_pending,
                    redelivered: c.num_redelivered,
                    ack_floor_seq: c.ack_floor.stream_sequence,
                })
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn logs() -> Config {
        desired(&StreamsSettings::default()).remove(0)
    }

    #[test]
    fn identical_configs_have_no_changes() {
        let d = diff(&logs(), &logs());
        assert!(d.changes.is_empty() && d.destructive.is_empty());
    }

    #[test]
    fn growing_limits_is_safe_and_shrinking_them_is_destructive() {
        let have = Config {
            max_bytes: 1 << 30,
            ..logs()
        };
        let grow = Config {
            max_bytes: 2 << 30,
            max_age: have.max_age * 2,
            ..have.clone()
        };
        let d = diff(&have, &grow);
        assert_eq!(d.changes.len(), 2);
        assert!(d.destructive.is_empty());

        let shrink = Config {
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(3600),
            ..have.clone()
        };
        let d = diff(&have, &shrink);
        assert_eq!(d.destructive.len(), 2, "{:?}", d.destructive);

        let unlimited_to_limited = Config {
            max_bytes: 1 << 30,
            ..logs()
        };
        assert_eq!(diff(&logs(), &unlimited_to_limited).destructive.len(), 1);
    }

    #[test]
    fn dropping_a_subject_or_changing_storage_is_destructive() {
        let have = Config {
            subjects: vec!["logs.>".into(), "legacy.>".into()],
            ..logs()
        };
        assert_eq!(diff(&have, &logs()).destructive.len(), 1);
        let memory = Config {
            storage: StorageType::Memory,
            ..logs()
        };
        assert_eq!(diff(&logs(), &memory).destructive.len(), 1);
        let window = Config {
            duplicate_window: Duration::from_secs(600),
            ..logs()
        };
        let d = diff(&logs(), &window);
        assert_eq!((d.changes.len(), d.destructive.len()), (1, 0));
    }

    #[test]
    fn every_stream_is_declared_with_its_prefix() {
        let names: Vec<_> = desired(&StreamsSettings::default())
            .into_iter()
            .map(|c| (c.name, c.subjects))
            .collect();
        assert_eq!(
            names,
            [
                ("LOGS".to_string(), vec!["logs.>".to_string()]),
                ("FRAUD".into(), vec!["fraud.>".into()]),
                ("ALERTS".into(), vec!["alerts.>".into()]),
                ("DLQ".into(), vec!["dlq.>".into()]),
            ]
        );
    }
}
