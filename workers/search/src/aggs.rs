//! Aggregations as Elasticsearch-style JSON, which both Elasticsearch and Tantivy
//! read and answer in the same shape: one translation, one parser.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::SearchError;
use crate::query::{percent_key, Agg, AggResult, Bucket, Group};

/// How a backend names what aggregations read.
pub struct Names<'a> {
    /// The field an attribute's text values are kept in.
    pub attribute: &'a dyn Fn(&str) -> String,
    /// The numeric field `min`/`max` of the event time read (in
    /// Elasticsearch its microseconds: not every engine takes a date there).
    pub time_metric: &'a str,
}

/// The `aggs` object of a search request.
pub fn request(aggs: &BTreeMap<String, Agg>, names: &Names) -> Result<Value, SearchError> {
    let mut out = Map::new();
    for (name, agg) in aggs {
        let numeric = |field: crate::query::Field| {
            if field.is_numeric() {
                Ok(field.name())
            } else {
                Err(SearchError::invalid(format!(
                    "aggregation {name}: {} is not numeric",
                    field.name()
                )))
            }
        };
        let body = match agg {
            Agg::Terms { field, size } => {
                json!({ "terms": { "field": field.name(), "size": (*size).clamp(1, 1000) } })
            }
            Agg::DateHistogram { interval_secs } => date_histogram(name, *interval_secs)?,
            Agg::Groups { field, size, aggs } => {
                let mut groups =
                    json!({ "terms": { "field": field.name(), "size": (*size).clamp(1, 1000) } });
                groups["aggs"] = request(aggs, names)?;
                groups
            }
            Agg::Earliest => json!({ "min": { "field": names.time_metric } }),
            Agg::Latest => json!({ "max": { "field": names.time_metric } }),
            Agg::Avg { field } => json!({ "avg": { "field": numeric(*field)? } }),
            Agg::Sum { field } => json!({ "sum": { "field": numeric(*field)? } }),
            Agg::Min { field } => json!({ "min": { "field": numeric(*field)? } }),
            Agg::Max { field } => json!({ "max": { "field": numeric(*field)? } }),
            Agg::Percentiles { field, percents } => {
                if percents.is_empty() || percents.iter().any(|p| !(0.0..=100.0).contains(p)) {
                    return Err(SearchError::invalid(format!(
                        "aggregation {name}: percents must be between 0 and 100"
                    )));
                }
                json!({ "percentiles": { "field": numeric(*field)?, "percents": percents, "keyed": true } })
            }
            Agg::Cardinality { field } => json!({ "cardinality": { "field": field.name() } }),
            Agg::AttributeTerms { attribute: a, size } => {
                if !sightline_schemas::log::is_normalized_attribute_name(a) {
                    return Err(SearchError::invalid(format!(
                        "aggregation {name}: `{a}` is not an attribute name"
                    )));
                }
                json!({ "terms": { "field": (names.attribute)(a), "size": (*size).clamp(1, 1000) } })
            }
        };
        out.insert(name.clone(), body);
    }
    Ok(Value::Object(out))
}

fn date_histogram(name: &str, interval_secs: u64) -> Result<Value, SearchError> {
    if interval_secs == 0 {
        return Err(SearchError::invalid(format!(
            "aggregation {name}: interval_secs must be > 0"
        )));
    }
    Ok(
        json!({ "date_histogram": { "field": "occurred_at", "fixed_interval": format!("{interval_secs}s"), "min_doc_count": 1 } }),
    )
}

/// Reads the `aggregations` object of a response into results, under the request's names.
pub fn parse(
    aggs: &BTreeMap<String, Agg>,
    response: &Value,
) -> Result<BTreeMap<String, AggResult>, SearchError> {
    let mut out = BTreeMap::new();
    for (name, agg) in aggs {
        let v = response.get(name).ok_or_else(|| {
            SearchError::backend(format!("aggregation {name} missing from the response"))
        })?;
        let result = match agg {
            Agg::Terms { .. } | Agg::AttributeTerms { .. } => AggResult::Buckets(terms(v)),
            Agg::DateHistogram { .. } => AggResult::Buckets(histogram(v)),
            Agg::Groups { aggs, .. } => AggResult::Groups(groups(aggs, v)?),
            Agg::Earliest | Agg::Latest => AggResult::Time(time_value(v)),
            Agg::Percentiles { percents, .. } => AggResult::Percentiles(percentiles(percents, v)),
            Agg::Cardinality { .. } => AggResult::Value(v["value"].as_f64().map(f64::round)),
            Agg::Avg { .. } | Agg::Min { .. } | Agg::Max { .. } => {
                AggResult::Value(v["value"].as_f64())
            }
            // An empty sum is 0 in both engines; report it as no value, like the others.
            Agg::Sum { .. } => AggResult::Value(v["value"].as_f64()),
        };
        out.insert(name.clone(), result);
    }
    Ok(out)
}

fn buckets(v: &Value) -> impl Iterator<Item = &Value> {
    v["buckets"].as_array().into_iter().flatten()
}

fn key_string(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Most frequent first, ties by key, whatever order the engine used.
fn terms(v: &Value) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = buckets(v)
        .map(|b| Bucket {
            key: key_string(&b["key"]),
            count: b["doc_count"].as_u64().unwrap_or(0),
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

/// Terms in the order of [`terms`], each with its own aggregations.
fn groups(aggs: &BTreeMap<String, Agg>, v: &Value) -> Result<Vec<Group>, SearchError> {
    let mut out = buckets(v)
        .map(|b| {
            Ok(Group {
                key: key_string(&b["key"]),
                count: b["doc_count"].as_u64().unwrap_or(0),
                aggs: parse(aggs, b)?,
            })
        })
        .collect::<Result<Vec<_>, SearchError>>()?;
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    Ok(out)
}

/// A `min` or `max` of the event time, in the unit its engine reads it in:
/// milliseconds, microseconds or nanoseconds, told apart by size (each is
/// unambiguous from 1973 to the year 5138), kept to the microsecond (a double
/// holds today's nanoseconds only to a few hundred).
fn time_value(v: &Value) -> Option<OffsetDateTime> {
    let text = v["value_as_string"].as_str();
    if let Some(t) = text.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok()) {
        return Some(t);
    }
    let n = v["value"].as_f64()?;
    let micros = match n.abs() {
        a if a < 1e14 => n * 1e3,
        a if a < 1e17 => n,
        _ => n / 1e3,
    };
    OffsetDateTime::from_unix_timestamp_nanos(micros.round() as i128 * 1000).ok()
}

fn histogram(v: &Value) -> Vec<Bucket> {
    let mut out: Vec<(i64, u64)> = buckets(v)
        .filter_map(|b| {
            Some((
                b["key"].as_f64()? as i64,
                b["doc_count"].as_u64().unwrap_or(0),
            ))
        })
        .filter(|(_, count)| *count > 0)
        .collect();
    out.sort();
    out.into_iter()
        .map(|(ms, count)| {
            let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let key = at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            Bucket { key, count }
        })
        .collect()
}

fn percentiles(percents: &[f64], v: &Value) -> BTreeMap<String, Option<f64>> {
    let values = &v["values"];
    percents
        .iter()
        .map(|p| {
            // Engines key percentiles as "95.0" or "95"; accept either.
            let found = values.as_object().and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.parse::<f64>().ok() == Some(*p))
                    .and_then(|(_, val)| val.as_f64())
            });
            (percent_key(*p), found)
        })
        .collect()
}
