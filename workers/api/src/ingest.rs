//! HTTP ingest: a body becomes numbered records (one JSON event, a JSON array, or
//! NDJSON), each validated and published like `sightline publish` does. A bad
//! record is reported with its place and reason; the others still go through.

use serde::Serialize;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::ErrorKind;
use sightline_schemas::{decode, Encoding, Event, EventError};

use crate::error::ApiError;

/// Errors listed in one answer; the count of rejected records is always whole.
pub const MAX_LISTED_ERRORS: usize = 100;
/// Seconds a shipper is told to wait before retrying when the bus is down or slow.
pub const RETRY_AFTER_SECS: u64 = 5;

/// `response` to a publish that failed with `status`: a 503 (the bus cannot
/// take the records now) tells the shipper when to retry.
pub fn retry_later(
    status: axum::http::StatusCode,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(RETRY_AFTER_SECS),
        );
    }
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `application/x-ndjson`: one event per line.
    Lines,
    /// `application/json`: one event, or an array of them.
    Json,
}

impl Shape {
    pub fn from_content_type(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.starts_with("application/json") => Shape::Json,
            _ => Shape::Lines,
        }
    }
}

/// A record and where it was in the body (`line 3`, `item 2`, `body`).
#[derive(Debug, PartialEq)]
pub struct Record {
    pub place: String,
    pub bytes: Vec<u8>,
}

/// Splits a body into records. An array is recognised in either shape.
pub fn split(body: &[u8], shape: Shape) -> Result<Vec<Record>, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        // An empty batch, as shippers send when they flush nothing: nothing to do.
        None => Ok(Vec::new()),
        Some(b'[') => {
            // A body that is not an array after all is one bad record, named
            // and refused like any other (an uploaded file is any bytes).
            let Ok(items) = serde_json::from_slice::<Vec<serde_json::Value>>(body) else {
                return Ok(vec![Record {
                    place: "body".into(),
                    bytes: body.to_vec(),
                }]);
            };
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    Ok(Record {
                        place: format!("item {}", i + 1),
                        bytes: serde_json::to_vec(item)
                            .map_err(|e| ApiError::internal(e.to_string()))?,
                    })
                })
                .collect()
        }
        Some(_) if shape == Shape::Json => Ok(vec![Record {
            place: "body".into(),
            bytes: body.to_vec(),
        }]),
        Some(_) => Ok(body
            .split(|&b| b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.trim_ascii().is_empty())
            .map(|(i, line)| Record {
                place: format!("line {}", i + 1),
                bytes: line.to_vec(),
            })
            .collect()),
    }
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    /// Events newly stored in LOGS.
    pub published: u64,
    /// Events LOGS already held (same id within the dedup window).
    pub duplicates: u64,
    pub rejected: u64,
    /// The first rejected records, each with its place and reason.
    pub errors: Vec<RecordError>,
    /// The LOGS sequence of the last event: pass it as `Sightline-Wait-For` to
    /// read these events back.
    pub last_sequence: u64,
    /// Every rejected record's place and reason (`errors` lists the first only),
    /// for doors that answer per record (`_bulk`).
    #[serde(skip)]
    pub refused: std::collections::HashMap<String, String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordError {
    pub place: String,
    pub error: String,
}

/// Validates and publishes every record, waiting for LOGS to store them.
pub async fn publish(publisher: &Publisher, records: &[Record]) -> Result<IngestReport, ApiError> {
    publish_events(
        publisher,
        records
            .iter()
            .map(|r| (r.place.clone(), decode(&r.bytes, Encoding::Json)))
            .collect(),
    )
    .await
}

/// Validates and publishes events built elsewhere (an OTLP request, a bulk body),
/// each with its place, waiting for LOGS to store them. A bad event is counted and
/// named; a bus that fails stops the request (what was stored stays stored, and
/// the same request sent again is stored once: see `Event::set_content_id`).
pub async fn publish_events(
    publisher: &Publisher,
    events: Vec<(String, Result<Event, EventError>)>,
) -> Result<IngestReport, ApiError> {
    let mut report = IngestReport::default();
    let mut pipeline = publisher.pipeline();
    for (place, event) in events {
        let sent = match event {
            Ok(event) => pipeline.send(&event).await,
            Err(e) => Err(e.into()),
        };
        match sent {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Poison => {
                report.rejected += 1;
                if report.errors.len() < MAX_LISTED_ERRORS {
                    report.errors.push(RecordError {
                        place: place.clone(),
                        error: e.to_string(),
                    });
                }
                report.refused.insert(place, e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let summary = pipeline.finish().await?;
    report.published = summary.published;
    report.duplicates = summary.duplicates;
    report.last_sequence = summary.last_sequence;
    Ok(report)
}

/// Publishes a log file's records as `log` events (see
/// `sightline_ingest::file`); a record that cannot be read, or that is refused,
/// is named by its first line.
pub async fn publish_log_file(
    publisher: &Publisher,
    bytes: &[u8],
    format: sightline_ingest::file::Format,
    service: String,
    zone: time::UtcOffset,
) -> Result<IngestReport, ApiError> {
    use sightline_ingest::file::{numbered_event, records, Options};
    let options = Options {
        format,
        service,
        zone,
        received: sightline_schemas::OffsetDateTime::now_utc(),
    };
    let records = records(&String::from_utf8_lossy(bytes));
    let mut events = Vec::with_capacity(records.len());
    let mut unreadable = Vec::new();
    for (line, record) in records {
        match numbered_event(line, &record, &options) {
            Ok(event) => events.push((format!("line {line}"), Ok(event))),
            Err(reason) => unreadable.push(RecordError {
                place: format!("line {line}"),
                error: reason,
            }),
        }
    }
    let mut report = publish_events(publisher, events).await?;
    report.rejected += unreadable.len() as u64;
    let room = MAX_LISTED_ERRORS.saturating_sub(report.errors.len());
    report.errors.extend(unreadable.into_iter().take(room));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places(records: &[Record]) -> Vec<&str> {
        records.iter().map(|r| r.place.as_str()).collect()
    }

    #[test]
    fn bodies_split_into_numbered_records() {
        let lines = split(b"{\"a\":1}\n\n{\"b\":2}\n", Shape::Lines).unwrap();
        assert_eq!(places(&lines), ["line 1", "line 3"]);
        assert_eq!(lines[1].bytes, b"{\"b\":2}");
        let array = split(b"  [{\"a\":1},{\"b\":2}]", Shape::Lines).unwrap();
        assert_eq!(places(&array), ["item 1", "item 2"]);
        let one = split(b"{\n  \"a\": 1\n}", Shape::Json).unwrap();
        assert_eq!(places(&one), ["body"]);
        assert!(split(b" \n", Shape::Json).unwrap().is_empty());
        let broken = split(b"[{\"a\":1},", Shape::Json).unwrap();
        assert_eq!(places(&broken), ["body"]);
    }

    #[test]
    fn content_types_pick_the_shape() {
        assert_eq!(
            Shape::from_content_type(Some("application/json; charset=utf-8")),
            Shape::Json
        );
        assert_eq!(
            Shape::from_content_type(Some("application/x-ndjson")),
            Shape::Lines
        );
        assert_eq!(Shape::from_content_type(None), Shape::Lines);
    }
}
