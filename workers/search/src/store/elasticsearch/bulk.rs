//! `_bulk` indexing: NDJSON capped by bytes, a bounded number of requests in flight,
//! every item's status read. Items answered 429 or 5xx are retried with jittered
//! backoff; other 4xx items are refused for good (the caller dead-letters them).

use bytes::{BufMut, Bytes, BytesMut};
use futures::{stream, StreamExt};
use serde_json::Value;

use sightline_schemas::AttrValue;

use crate::document::SearchDoc;
use crate::error::SearchError;
use crate::store::suggestion_words;

/// One document ready for `_bulk`: its place in the caller's batch and its two lines.
pub struct Item {
    pub index: usize,
    pub lines: Bytes,
}

/// What became of one item.
#[derive(Debug, PartialEq)]
pub enum ItemResult {
    Done,
    Retry(String),
    Refused(String),
}

/// The daily index an event belongs to.
pub fn index_name(prefix: &str, occurred_at_ns: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(occurred_at_ns.into())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{prefix}-{:04}.{:02}.{:02}",
        at.year(),
        u8::from(at.month()),
        at.day()
    )
}

/// The document as Elasticsearch stores it: suggestion words added, the tie-break as a long.
pub fn source(doc: &SearchDoc) -> Result<Value, SearchError> {
    let mut v = serde_json::to_value(doc).map_err(|e| SearchError::backend(e.to_string()))?;
    v["words"] = serde_json::json!(suggestion_words(&doc.message));
    v["tiebreak"] = serde_json::json!(doc.tiebreak as i64);
    v["occurred_at_us"] = serde_json::json!(super::query::micros(doc.occurred_at_ns));
    if !doc.event.is_null() {
        v["event"] = Value::String(doc.event.to_string());
    }
    if !doc.attributes.is_empty() {
        let (text, number) = attribute_objects(&doc.attributes);
        v[super::lang::ATTRIBUTES_TEXT] = text;
        v[super::lang::ATTRIBUTES_NUMBER] = number;
    }
    Ok(v)
}

/// Attributes split by the type of their values (flags as `true`/`false` text),
/// named as [`super::lang::attribute_key`] spells them.
fn attribute_objects(attrs: &[(String, AttrValue)]) -> (Value, Value) {
    let mut text = serde_json::Map::new();
    let mut number = serde_json::Map::new();
    for (name, value) in attrs {
        let key = super::lang::attribute_key(name);
        match value {
            AttrValue::Int(i) => drop(number.insert(key, serde_json::json!(*i as f64))),
            AttrValue::Float(x) => drop(number.insert(key, serde_json::json!(x))),
            AttrValue::Bool(b) => drop(text.insert(key, serde_json::json!(b.to_string()))),
            AttrValue::Text(t) => drop(text.insert(key, serde_json::json!(t))),
        }
    }
    (Value::Object(text), Value::Object(number))
}

pub fn item(index: usize, prefix: &str, doc: &SearchDoc) -> Result<Item, SearchError> {
    let mut action = serde_json::json!({ "index": { "_index": index_name(prefix, doc.occurred_at_ns), "_id": doc.id } });
    // A revised document (a fraud detection) carries its revision as an external
    // version: a redelivered older revision cannot replace a newer one.
    if let Some(revision) = doc.revision {
        action["index"]["version"] = serde_json::json!(revision);
        action["index"]["version_type"] = serde_json::json!("external_gte");
    }
    let mut buf = BytesMut::with_capacity(512);
    let mut w = (&mut buf).writer();
    serde_json::to_writer(&mut w, &action).map_err(|e| SearchError::backend(e.to_string()))?;
    buf.put_u8(b'\n');
    let mut w = (&mut buf).writer();
    serde_json::to_writer(&mut w, &source(doc)?)
        .map_err(|e| SearchError::backend(e.to_string()))?;
    buf.put_u8(b'\n');
    Ok(Item {
        index,
        lines: buf.freeze(),
    })
}

/// Groups items into request bodies of at most `max_bytes` (a larger single item goes alone).
pub fn chunks(items: &[Item], max_bytes: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut size = 0;
    for (i, item) in items.iter().enumerate() {
        if out.is_empty() || size + item.lines.len() > max_bytes && size > 0 {
            out.push(Vec::new());
            size = 0;
        }
        size += item.lines.len();
        out.last_mut().expect("a chunk was pushed").push(i);
    }
    out
}

/// Reads a `_bulk` response: one result per item, in request order.
pub fn classify(response: &Value, expected: usize) -> Vec<ItemResult> {
    let items = response["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    (0..expected)
        .map(|i| {
            let Some(op) = items
                .get(i)
                .and_then(|it| it.as_object())
                .and_then(|o| o.values().next())
            else {
                return ItemResult::Retry("item missing from the bulk response".into());
            };
            let status = op["status"].as_u64().unwrap_or(0);
            let reason = || {
                let e = &op["error"];
                format!(
                    "{} {}: {}",
                    status,
                    e["type"].as_str().unwrap_or("error"),
                    e["reason"].as_str().unwrap_or("no reason given")
                )
            };
            let stale = status == 409
                && op["error"]["type"].as_str() == Some("version_conflict_engine_exception");
            match status {
                200..=299 => ItemResult::Done,
                // A newer revision is already indexed: nothing to do.
                409 if stale => ItemResult::Done,
                429 | 500..=599 => ItemResult::Retry(reason()),
                _ => ItemResult::Refused(reason()),
            }
        })
        .collect()
}

/// Whether an item was refused for its attributes: the index's field limit, or
/// a value its mapping cannot take.
pub fn refused_for_attributes(reason: &str) -> bool {
    reason.contains("Limit of total fields")
        || reason.contains(super::lang::ATTRIBUTES_TEXT)
        || reason.contains(super::lang::ATTRIBUTES_NUMBER)
}

/// Sends one `_bulk` body; a failed or throttled request marks every item for retry.
pub type SendBulk<'a> =
    &'a (dyn Fn(Bytes) -> futures::future::BoxFuture<'static, Result<Value, SearchError>> + Sync);

/// Indexes `items`, retrying what the cluster asks to retry; returns the refused ones.
pub async fn run(
    mut items: Vec<Item>,
    max_bytes: usize,
    in_flight: usize,
    retries: u32,
    backoff: std::time::Duration,
    send: SendBulk<'_>,
) -> Result<Vec<(usize, String)>, SearchError> {
    let mut refused = Vec::new();
    let mut attempt = 0;
    while !items.is_empty() {
        let groups = chunks(&items, max_bytes);
        let bodies: Vec<(Vec<usize>, Bytes)> = groups
            .into_iter()
            .map(|g| {
                let mut body = BytesMut::new();
                for &i in &g {
                    body.extend_from_slice(&items[i].lines);
                }
                (g, body.freeze())
            })
            .collect();
        let results: Vec<(Vec<usize>, Result<Value, SearchError>)> = stream::iter(bodies)
            .map(|(g, body)| async move { (g, send(body).await) })
            .buffer_unordered(in_flight.max(1))
            .collect()
            .await;
        let mut again = Vec::new();
        let mut last_reason = String::new();
        for (group, result) in results {
            let outcomes = match result {
                Ok(response) => classify(&response, group.len()),
                Err(e) => group
                    .iter()
                    .map(|_| ItemResult::Retry(e.to_string()))
                    .collect(),
            };
            for (i, outcome) in group.into_iter().zip(outcomes) {
                match outcome {
                    ItemResult::Done => {}
                    ItemResult::Refused(reason) => refused.push((items[i].index, reason)),
                    ItemResult::Retry(reason) => {
                        last_reason = reason;
                        again.push(i);
                    }
                }
            }
        }
        if again.is_empty() {
            break;
        }
        attempt += 1;
        if attempt > retries {
            return Err(SearchError::Unavailable(format!(
                "{} documents still failing after {retries} retries: {last_reason}",
                again.len()
            )));
        }
        tracing::warn!(items = again.len(), attempt, reason = %last_reason, "bulk items throttled or failed; retrying");
        let capped = backoff.saturating_mul(1 << attempt.min(10));
        tokio::time::sleep(capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)).await;
        let mut keep = vec![false; items.len()];
        for i in again {
            keep[i] = true;
        }
        items = items
            .into_iter()
            .zip(keep)
            .filter_map(|(item, k)| k.then_some(item))
            .collect();
    }
    Ok(refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(sizes: &[usize]) -> Vec<Item> {
        sizes
            .iter()
            .enumerate()
            .map(|(index, &n)| Item {
                index,
                lines: Bytes::from(vec![b'x'; n]),
            })
            .collect()
    }

    #[test]
    fn chunks_respect_the_byte_cap() {
        assert_eq!(
            chunks(&items(&[40, 40, 40]), 100),
            vec![vec![0, 1], vec![2]]
        );
        assert_eq!(
            chunks(&items(&[150, 10]), 100),
            vec![vec![0], vec![1]],
            "an oversized item goes alone"
        );
        assert!(chunks(&items(&[]), 100).is_empty());
    }

    #[test]
    fn item_statuses_are_read_one_by_one() {
        let response = json!({ "errors": true, "items": [
            { "index": { "status": 201 } },
            { "index": { "status": 429, "error": { "type": "es_rejected_execution_exception", "reason": "queue full" } } },
            { "index": { "status": 400, "error": { "type": "mapper_parsing_exception", "reason": "failed to parse field [error_code]" } } },
            { "index": { "status": 503, "error": { "type": "unavailable_shards_exception", "reason": "primary shard is not active" } } },
        ]});
        let r = classify(&response, 5);
        assert_eq!(r[0], ItemResult::Done);
        assert!(matches!(&r[1], ItemResult::Retry(m) if m.starts_with("429")));
        assert_eq!(
            r[2],
            ItemResult::Refused(
                "400 mapper_parsing_exception: failed to parse field [error_code]".into()
            )
        );
        assert!(matches!(&r[3], ItemResult::Retry(_)));
        assert!(matches!(&r[4], ItemResult::Retry(m) if m.contains("missing")));
    }

    #[test]
    fn refusals_for_attributes_are_told_apart() {
        assert!(refused_for_attributes("400 illegal_argument_exception: Limit of total fields [2000] has been exceeded while adding new fields [1]"));
        assert!(refused_for_attributes(
            "400 mapper_parsing_exception: failed to parse field [attributes_number.n]"
        ));
        assert!(!refused_for_attributes(
            "400 mapper_parsing_exception: failed to parse field [error_code]"
        ));
    }

    #[test]
    fn a_stale_revision_is_done_and_other_conflicts_are_refused() {
        let response = json!({ "errors": true, "items": [
            { "index": { "status": 409, "error": { "type": "version_conflict_engine_exception", "reason": "current version [2] is higher" } } },
            { "index": { "status": 409, "error": { "type": "resource_already_exists_exception", "reason": "exists" } } },
        ]});
        let r = classify(&response, 2);
        assert_eq!(r[0], ItemResult::Done);
        assert!(matches!(&r[1], ItemResult::Refused(m) if m.starts_with("409")));
    }

    #[test]
    fn revised_documents_carry_their_revision_as_an_external_version() {
        let mut doc: SearchDoc = serde_json::from_value(json!({
            "id": "0190b8a8-7f5e-7000-8000-000000000001", "kind": "fraud_detection",
            "service": "checkout", "occurred_at": "2026-01-01T00:00:00Z",
            "occurred_at_ns": 1_767_225_600_000_000_000i64, "tiebreak": 1,
            "message": "fraud score 90"
        }))
        .unwrap();
        let action = |doc: &SearchDoc| -> Value {
            let item = item(0, "sightline-logs", doc).unwrap();
            let first = item.lines.split(|b| *b == b'\n').next().unwrap().to_vec();
            serde_json::from_slice(&first).unwrap()
        };
        assert!(
            action(&doc)["index"].get("version").is_none(),
            "events are not versioned"
        );
        doc.revision = Some(2);
        let a = action(&doc);
        assert_eq!(a["index"]["version"], 2);
        assert_eq!(a["index"]["version_type"], "external_gte");
    }

    #[test]
    fn daily_index_names() {
        assert_eq!(
            index_name("sightline-logs", 1_767_225_600_000_000_000),
            "sightline-logs-2026.01.01"
        );
    }
}
