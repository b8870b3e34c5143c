//! The query language's tree as Elasticsearch query DSL. Pure: tested without a
//! server. Free words and phrases match `message`; a field's clause takes the
//! field's type (a number where a number is stored, a time as the stored
//! microseconds).

use std::ops::Bound;

use serde_json::{json, Value};

use crate::lang::fields::{field_type, FieldType};
use crate::lang::{Match, Query};

/// `q` as a query, or why a clause cannot be one (naming the field or value).
pub fn to_query(q: &Query) -> Result<Value, String> {
    Ok(match q {
        Query::All => json!({ "match_all": {} }),
        Query::And(parts) => json!({ "bool": { "must": all(parts)? } }),
        Query::Or(parts) => json!({ "bool": { "should": all(parts)?, "minimum_should_match": 1 } }),
        Query::Not(inner) => json!({ "bool": { "must_not": [to_query(inner)?] } }),
        Query::Word(w) => json!({ "match": { "message": { "query": w, "operator": "and" } } }),
        Query::Phrase(p) => json!({ "match_phrase": { "message": p } }),
        Query::Exists(f) => {
            field_type(f)?;
            json!({ "exists": { "field": stored_name(f) } })
        }
        Query::Field { field, value } => clause(field, value)?,
    })
}

fn all(parts: &[Query]) -> Result<Vec<Value>, String> {
    parts.iter().map(to_query).collect()
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
    let name = stored_name(field);
    Ok(match (kind, value) {
        (FieldType::Text, Match::Term(t)) => {
            json!({ "match": { name: { "query": t, "operator": "and" } } })
        }
        (FieldType::Text, Match::Phrase(p)) => json!({ "match_phrase": { name: p } }),
        (_, Match::Prefix(p)) if kind == FieldType::Keyword || kind == FieldType::Text => {
            json!({ "prefix": { name: p } })
        }
        (_, Match::Wildcard(w)) if kind == FieldType::Keyword || kind == FieldType::Text => {
            json!({ "wildcard": { name: w } })
        }
        (FieldType::Keyword, Match::Term(t) | Match::Phrase(t)) => json!({ "term": { name: t } }),
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

fn describe(m: &Match) -> &'static str {
    match m {
        Match::Term(_) => "a value",
        Match::Phrase(_) => "a phrase",
        Match::Prefix(_) => "a prefix",
        Match::Wildcard(_) => "a wildcard",
        Match::Range { .. } => "a range",
    }
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

fn integer(field: &str, text: &str) -> Result<i64, String> {
    text.parse()
        .map_err(|_| format!("`{field}` holds whole numbers; `{text}` is not one"))
}

fn decimal(field: &str, text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("`{field}` holds numbers; `{text}` is not one"))
}

fn micros(field: &str, text: &str) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        format!("`{field}` is a time; `{text}` is not RFC 3339 (2026-12-07T10:00:00Z)")
    })?;
    i64::try_from(at.unix_timestamp_nanos() / 1000).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::parse;

    fn es(q: &str) -> Value {
        to_query(&parse(q).unwrap()).unwrap()
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
    }

    #[test]
    fn values_that_cannot_be_of_their_field_are_named() {
        for (q, says) in [
            ("status_code:abc", "`status_code` holds whole numbers"),
            ("occurred_at:>yesterday", "not RFC 3339"),
            ("colour:red", "unknown field `colour`"),
            ("amount:12*", "cannot be matched by a prefix"),
        ] {
            let err = to_query(&parse(q).unwrap()).unwrap_err();
            assert!(err.contains(says), "{q}: {err}");
        }
    }
}
