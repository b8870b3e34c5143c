//! The query language's tree as Elasticsearch query DSL. Pure: tested without a
//! server. Free words and phrases match `message`; a field's clause takes the
//! field's type (a number where a number is stored, a time as the stored
//! microseconds). Attributes live in two dynamic objects, text and numbers
//! apart, so no value can ever clash with the type another record gave the same
//! name; their names spell `.` as `:` so that `http` and `http.status` are two
//! fields rather than a value and an object.

use std::ops::Bound;

use serde_json::{json, Value};

use crate::lang::fields::{attribute_name, field_type, FieldType};
use crate::lang::{
    attribute_number, decimal, describe, integer, numeric_range, parse_time, Match, Query,
};

/// The objects attributes are indexed under, by the type of their values.
pub const ATTRIBUTES_TEXT: &str = "attributes_text";
pub const ATTRIBUTES_NUMBER: &str = "attributes_number";

/// An attribute's name as a field of those objects.
pub fn attribute_key(name: &str) -> String {
    name.replace('.', ":")
}

/// `q` as a query, or why a clause cannot be one (naming the field or value).
/// `fuzzy` lets free words match with typos.
pub fn to_query(q: &Query, fuzzy: bool) -> Result<Value, String> {
    let all = |parts: &[Query]| -> Result<Vec<Value>, String> {
        parts.iter().map(|p| to_query(p, fuzzy)).collect()
    };
    Ok(match q {
        Query::All => json!({ "match_all": {} }),
        Query::And(parts) => json!({ "bool": { "must": all(parts)? } }),
        Query::Or(parts) => json!({ "bool": { "should": all(parts)?, "minimum_should_match": 1 } }),
        Query::Not(inner) => json!({ "bool": { "must_not": [to_query(inner, fuzzy)?] } }),
        Query::Word(w) => {
            let mut m = json!({ "query": w, "operator": "and" });
            if fuzzy {
                m["fuzziness"] = json!("AUTO");
            }
            json!({ "match": { "message": m } })
        }
        Query::Phrase(p) => json!({ "match_phrase": { "message": p } }),
        Query::Exists(f) => match (field_type(f)?, attribute_name(f)) {
            (FieldType::Attribute, Some(name)) => either(
                json!({ "exists": { "field": format!("{ATTRIBUTES_TEXT}.{}", attribute_key(name)) } }),
                Some(
                    json!({ "exists": { "field": format!("{ATTRIBUTES_NUMBER}.{}", attribute_key(name)) } }),
                ),
            ),
            _ => json!({ "exists": { "field": stored_name(f) } }),
        },
        Query::Field { field, value } => clause(field, value)?,
    })
}

/// One clause, or either of two.
fn either(a: Value, b: Option<Value>) -> Value {
    match b {
        Some(b) => json!({ "bool": { "should": [a, b], "minimum_should_match": 1 } }),
        None => a,
    }
}

/// The stored field a query field reads: times are compared as microseconds.
fn stored_name(field: &str) -> &str {
    if field == "occurred_at" {
        "occurred_at_us"
    } else {
        field
    }
}

fn clause(field: &str, value: &Match) -> Result<Value, String> {
    let kind = field_type(field)?;
    if let (FieldType::Attribute, Some(attribute)) = (kind, attribute_name(field)) {
        return attribute_clause(attribute, value);
    }
    let name = stored_name(field);
    Ok(match (kind, value) {
        (FieldType::Text, Match::Term(t)) => {
            json!({ "match": { name: { "query": t, "operator": "and" } } })
        }
        (FieldType::Text, Match::Phrase(p)) => json!({ "match_phrase": { name: p } }),
        // Text is matched on its words, which the analyser lower-cased.
        (FieldType::Text, Match::Prefix(p)) => json!({ "prefix": { name: p.to_lowercase() } }),
        (FieldType::Text, Match::Wildcard(w)) => {
            json!({ "wildcard": { name: w.to_lowercase() } })
        }
        (FieldType::Keyword, Match::Prefix(p)) => json!({ "prefix": { name: p } }),
        (FieldType::Keyword, Match::Wildcard(w)) => json!({ "wildcard": { name: w } }),
        (FieldType::Keyword | FieldType::Identifier, Match::Term(t) | Match::Phrase(t)) => {
            json!({ "term": { name: t } })
        }
        (FieldType::Keyword, Match::Range { lower, upper }) => {
            range(name, lower, upper, |v| Ok(json!(v)))?
        }
        (FieldType::Integer, Match::Term(t)) => json!({ "term": { name: integer(field, t)? } }),
        (FieldType::Decimal, Match::Term(t)) => json!({ "term": { name: decimal(field, t)? } }),
        (FieldType::Integer, Match::Range { lower, upper }) => {
            range(name, lower, upper, |v| integer(field, v).map(|n| json!(n)))?
        }
        (FieldType::Decimal, Match::Range { lower, upper }) => {
            range(name, lower, upper, |v| decimal(field, v).map(|n| json!(n)))?
        }
        (FieldType::Time, Match::Range { lower, upper }) => {
            range(name, lower, upper, |v| micros(field, v).map(|n| json!(n)))?
        }
        (FieldType::Time, Match::Term(t)) => json!({ "term": { name: micros(field, t)? } }),
        (_, other) => {
            return Err(format!(
                "`{field}` cannot be matched by {}",
                describe(other)
            ))
        }
    })
}

/// An attribute: its text, or its number when the value is one.
fn attribute_clause(attribute: &str, value: &Match) -> Result<Value, String> {
    let text = format!("{ATTRIBUTES_TEXT}.{}", attribute_key(attribute));
    let number = format!("{ATTRIBUTES_NUMBER}.{}", attribute_key(attribute));
    Ok(match value {
        Match::Term(t) | Match::Phrase(t) => either(
            json!({ "term": { text: t } }),
            attribute_number(t).map(|n| json!({ "term": { number: n } })),
        ),
        Match::Prefix(p) => json!({ "prefix": { text: p } }),
        Match::Wildcard(w) => json!({ "wildcard": { text: w } }),
        Match::Range { lower, upper } => {
            if numeric_range(lower, upper) {
                range(&number, lower, upper, |v| Ok(json!(attribute_number(v))))?
            } else {
                range(&text, lower, upper, |v| Ok(json!(v)))?
            }
        }
    })
}

fn range(
    name: &str,
    lower: &Bound<String>,
    upper: &Bound<String>,
    value: impl Fn(&str) -> Result<Value, String>,
) -> Result<Value, String> {
    let mut r = serde_json::Map::new();
    match lower {
        Bound::Included(v) => drop(r.insert("gte".into(), value(v)?)),
        Bound::Excluded(v) => drop(r.insert("gt".into(), value(v)?)),
        Bound::Unbounded => {}
    }
    match upper {
        Bound::Included(v) => drop(r.insert("lte".into(), value(v)?)),
        Bound::Excluded(v) => drop(r.insert("lt".into(), value(v)?)),
        Bound::Unbounded => {}
    }
    Ok(json!({ "range": { name: r } }))
}

fn micros(field: &str, text: &str) -> Result<i64, String> {
    let at = parse_time(field, text)?;
    i64::try_from(at.unix_timestamp_nanos() / 1000).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::parse;

    fn es(q: &str) -> Value {
        to_query(&parse(q).unwrap(), false).unwrap()
    }

    #[test]
    fn clauses_take_their_field_types() {
        assert_eq!(
            es("kind:error AND service:checkout"),
            json!({ "bool": { "must": [{ "term": { "kind": "error" } }, { "term": { "service": "checkout" } }] } })
        );
        assert_eq!(
            es("response_time_ms:>500"),
            json!({ "range": { "response_time_ms": { "gt": 500.0 } } })
        );
        assert_eq!(
            es("status_code:[500 TO 599]"),
            json!({ "range": { "status_code": { "gte": 500, "lte": 599 } } })
        );
        assert_eq!(
            es("occurred_at:>=2026-12-07T10:00:00Z"),
            json!({ "range": { "occurred_at_us": { "gte": 1_796_637_600_000_000_i64 } } })
        );
        assert_eq!(
            es("NOT severity:info OR \"pool exhausted\""),
            json!({ "bool": { "should": [
                { "bool": { "must_not": [{ "term": { "severity": "info" } }] } },
                { "match_phrase": { "message": "pool exhausted" } }
            ], "minimum_should_match": 1 } })
        );
        assert_eq!(
            es("endpoint:/api/c*"),
            json!({ "prefix": { "endpoint": "/api/c" } })
        );
        assert_eq!(
            es("_exists_:trace_id"),
            json!({ "exists": { "field": "trace_id" } })
        );
        assert_eq!(
            es("message:Time*"),
            json!({ "prefix": { "message": "time" } })
        );
    }

    #[test]
    fn attributes_match_as_text_or_as_numbers() {
        assert_eq!(
            es("attributes.http.status:500"),
            json!({ "bool": { "should": [
                { "term": { "attributes_text.http:status": "500" } },
                { "term": { "attributes_number.http:status": 500.0 } }
            ], "minimum_should_match": 1 } })
        );
        assert_eq!(
            es("attributes.user:alice"),
            json!({ "term": { "attributes_text.user": "alice" } })
        );
        assert_eq!(
            es("attributes.http.status:>=500"),
            json!({ "range": { "attributes_number.http:status": { "gte": 500.0 } } })
        );
        assert_eq!(
            es("attributes.version:[a TO c]"),
            json!({ "range": { "attributes_text.version": { "gte": "a", "lte": "c" } } })
        );
        assert_eq!(
            es("_exists_:attributes.user"),
            json!({ "bool": { "should": [
                { "exists": { "field": "attributes_text.user" } },
                { "exists": { "field": "attributes_number.user" } }
            ], "minimum_should_match": 1 } })
        );
    }

    #[test]
    fn values_that_cannot_be_of_their_field_are_named() {
        for (q, says) in [
            ("status_code:abc", "`status_code` holds whole numbers"),
            ("occurred_at:>yesterday", "not RFC 3339"),
            ("colour:red", "unknown field `colour`"),
            ("amount:12*", "cannot be matched by a prefix"),
        ] {
            let err = to_query(&parse(q).unwrap(), false).unwrap_err();
            assert!(err.contains(says), "{q}: {err}");
        }
    }
}
