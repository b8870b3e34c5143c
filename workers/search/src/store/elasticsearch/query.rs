//! The shared query model as Elasticsearch JSON, and hits read back. Pure: tested
//! without a server.

use serde_json::{json, Value};

use super::lang::{ATTRIBUTES_NUMBER, ATTRIBUTES_TEXT};
use crate::document::{DECIMAL_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS};
use crate::error::SearchError;
use crate::query::{Cursor, Hit, SearchRequest, Sort};

/// Sort keys: time, then the id's low bits stored as a signed long.
pub fn tiebreak_long(id: &uuid::Uuid) -> i64 {
    crate::document::tiebreak(id) as i64
}

fn nanos(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// Elasticsearch sorts and filters on microseconds: exact in any engine that
/// compares numbers as doubles (nanosecond epochs are not), fine-grained enough.
pub fn micros(ns: i64) -> i64 {
    ns.div_euclid(1000)
}

/// The first whole microsecond at or after `ns`: bounds keep their meaning.
fn micros_ceil(ns: i64) -> i64 {
    -(-ns).div_euclid(1000)
}

/// The `query` part: the query language's `q` (free words with AUTO fuzziness
/// on request) and the filters.
pub fn query(request: &SearchRequest) -> Result<Value, SearchError> {
    let mut must = Vec::new();
    if let Some(q) = crate::lang::of_request(request)? {
        must.push(super::lang::to_query(&q, request.fuzzy).map_err(SearchError::Invalid)?);
    }
    let f = &request.filters;
    let mut filter = Vec::new();
    if !f.kinds.is_empty() {
        let kinds: Vec<&str> = f.kinds.iter().map(|k| k.as_str()).collect();
        filter.push(json!({ "terms": { "kind": kinds } }));
    }
    if !f.services.is_empty() {
        filter.push(json!({ "terms": { "service": f.services } }));
    }
    for (field, value) in f.keyword_terms() {
        if let Some(v) = value {
            filter.push(json!({ "term": { field: v } }));
        }
    }
    if let Some(id) = f.id {
        filter.push(json!({ "term": { "id": id.to_string() } }));
    }
    if let Some(code) = f.error_code {
        filter.push(json!({ "term": { "error_code": code } }));
    }
    if let Some(ms) = f.min_response_time_ms {
        filter.push(json!({ "range": { "response_time_ms": { "gte": ms } } }));
    }
    if f.since.is_some() || f.until.is_some() {
        let mut range = serde_json::Map::new();
        if let Some(t) = f.since {
            range.insert("gte".into(), json!(micros_ceil(nanos(t))));
        }
        if let Some(t) = f.until {
            range.insert("lt".into(), json!(micros_ceil(nanos(t))));
        }
        filter.push(json!({ "range": { "occurred_at_us": range } }));
    }
    Ok(json!({ "bool": { "must": must, "filter": filter } }))
}

/// The whole `_search` body for a page of hits.
pub fn search_body(request: &SearchRequest, size: usize) -> Result<Value, SearchError> {
    let order = if request.sort == Sort::Oldest {
        "asc"
    } else {
        "desc"
    };
    let sort = match request.sort {
        Sort::Relevance => json!(["_score", { "occurred_at_us": "desc" }, { "tiebreak": "desc" }]),
        _ => json!([{ "occurred_at_us": order }, { "tiebreak": order }]),
    };
    let mut body = json!({
        "query": query(request)?,
        "sort": sort,
        "size": size,
        "track_total_hits": true,
        "_source": ["id", "kind", "service", "occurred_at", "occurred_at_ns", "message", "pattern", "issue", "event"],
    });
    match request.search_after {
        Some(c) => body["search_after"] = json!([micros(c.occurred_at_ns), tiebreak_long(&c.id)]),
        None => body["from"] = json!(request.from),
    }
    if request.highlight && request.text.is_some() {
        body["highlight"] = json!({
            "fields": { "message": { "number_of_fragments": 1, "fragment_size": 200 } },
            "pre_tags": ["<em>"],
            "post_tags": ["</em>"],
            "encoder": "html",
        });
    }
    Ok(body)
}

/// Reads hits and the total; `next` when the page was full and time-sorted.
pub fn parse_hits(
    request: &SearchRequest,
    size: usize,
    response: &Value,
) -> Result<(u64, Vec<Hit>, Option<Cursor>), SearchError> {
    let total = response["hits"]["total"]["value"].as_u64().unwrap_or(0);
    let mut hits = Vec::new();
    for h in response["hits"]["hits"].as_array().into_iter().flatten() {
        let src = &h["_source"];
        let field = |name: &str| src[name].as_str().unwrap_or_default().to_owned();
        let ns = src["occurred_at_ns"]
            .as_i64()
            .ok_or_else(|| SearchError::backend("hit without occurred_at_ns"))?;
        let occurred_at = time::OffsetDateTime::from_unix_timestamp_nanos(ns.into())
            .map_err(|e| SearchError::backend(e.to_string()))?;
        let highlights = h["highlight"]["message"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        hits.push(Hit {
            id: field("id")
                .parse()
                .map_err(|e| SearchError::backend(format!("hit id: {e}")))?,
            kind: field("kind").parse().map_err(SearchError::backend)?,
            service: field("service"),
            occurred_at,
            message: field("message"),
            pattern: src["pattern"].as_str().map(str::to_owned),
            issue: src["issue"].as_str().map(str::to_owned),
            highlights,
            event: match &src["event"] {
                Value::String(text) => serde_json::from_str(text)
                    .map_err(|e| SearchError::backend(format!("stored event: {e}")))?,
                other => other.clone(),
            },
        });
    }
    let next = match (request.sort, hits.last()) {
        (Sort::Newest | Sort::Oldest, Some(last)) if hits.len() == size => Some(last.cursor()),
        _ => None,
    };
    Ok((total, hits, next))
}

/// Fields a daily index may have: the fixed ones and attributes' names up to
/// this. A record that would add past it is indexed without its attributes
/// (still shown whole); see `bulk`.
pub const TOTAL_FIELDS: u32 = 2000;

/// How attribute values are mapped: text as keywords (long values kept in the
/// event, not indexed), numbers as doubles.
pub fn attribute_templates() -> Value {
    json!([
        { "attribute_text": {
            "path_match": format!("{ATTRIBUTES_TEXT}.*"),
            "mapping": { "type": "keyword", "ignore_above": 1024 },
        } },
        { "attribute_number": {
            "path_match": format!("{ATTRIBUTES_NUMBER}.*"),
            "mapping": { "type": "double" },
        } },
    ])
}

/// The index template: daily indices join the read alias `prefix` and `also` (the
/// public alias, on the live version); `message` and `stack` are analysed text, every
/// other string a keyword.
pub fn template(prefix: &str, also: Option<&str>, shards: u32, replicas: u32) -> Value {
    let keyword = json!({ "type": "keyword" });
    let mut properties = serde_json::Map::new();
    for name in KEYWORD_FIELDS.iter().chain(&["id", "words"]) {
        properties.insert((*name).into(), keyword.clone());
    }
    properties.insert("message".into(), json!({ "type": "text" }));
    properties.insert("stack".into(), json!({ "type": "text" }));
    properties.insert("occurred_at".into(), json!({ "type": "date" }));
    for name in INTEGER_FIELDS
        .iter()
        .chain(&["occurred_at_ns", "occurred_at_us", "tiebreak"])
    {
        properties.insert((*name).into(), json!({ "type": "long" }));
    }
    for name in DECIMAL_FIELDS {
        properties.insert((*name).into(), json!({ "type": "double" }));
    }
    // Attributes are the one dynamic part: their names come from the sources.
    for object in [ATTRIBUTES_TEXT, ATTRIBUTES_NUMBER] {
        properties.insert(object.into(), json!({ "type": "object", "dynamic": true }));
    }
    // Kept for hits to show, never indexed: as JSON text, so that the event
    // comes back exactly as written (engines rewrite dotted names in objects).
    properties.insert(
        "event".into(),
        json!({ "type": "keyword", "index": false, "doc_values": false }),
    );
    let mut aliases = serde_json::Map::new();
    for alias in std::iter::once(prefix).chain(also) {
        aliases.insert(alias.into(), json!({}));
    }
    json!({
        "index_patterns": [format!("{prefix}-*")],
        "priority": 100,
        "template": {
            "settings": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "index.mapping.total_fields.limit": TOTAL_FIELDS,
            },
            "mappings": {
                "dynamic": "strict",
                "dynamic_templates": attribute_templates(),
                "properties": properties,
            },
            "aliases": aliases,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Filters;

    #[test]
    fn text_and_filters_translate() {
        let mut r = SearchRequest::text("database pool");
        r.fuzzy = true;
        r.filters = Filters {
            kinds: vec![crate::query::DocKind::Error],
            error_code: Some(503),
            ..Filters::default()
        };
        let q = query(&r).unwrap();
        let word = |w: &str| json!({ "match": { "message": { "query": w, "operator": "and", "fuzziness": "AUTO" } } });
        assert_eq!(
            q["bool"]["must"][0],
            json!({ "bool": { "must": [word("database"), word("pool")] } })
        );
        assert_eq!(
            q["bool"]["filter"][0],
            json!({ "terms": { "kind": ["error"] } })
        );
        assert_eq!(
            q["bool"]["filter"][1],
            json!({ "term": { "error_code": 503 } })
        );
    }

    #[test]
    fn cursors_replace_from_and_sort_by_time_then_tiebreak() {
        let id = uuid::Uuid::from_u64_pair(1, u64::MAX);
        let mut r = SearchRequest {
            size: 5,
            from: 30,
            ..SearchRequest::default()
        };
        assert_eq!(search_body(&r, 5).unwrap()["from"], 30);
        r.search_after = Some(Cursor {
            occurred_at_ns: 420,
            id,
        });
        let body = search_body(&r, 5).unwrap();
        assert!(body.get("from").is_none());
        assert_eq!(body["search_after"], json!([0, -1]));
        assert_eq!(
            body["sort"],
            json!([{ "occurred_at_us": "desc" }, { "tiebreak": "desc" }])
        );
    }

    #[test]
    fn the_template_is_strict_and_joins_the_alias() {
        let t = template("sightline-logs", None, 1, 0);
        assert_eq!(t["index_patterns"], json!(["sightline-logs-*"]));
        assert_eq!(t["template"]["mappings"]["dynamic"], "strict");
        assert_eq!(t["template"]["aliases"], json!({ "sightline-logs": {} }));
        let live = template("sightline-logs_v2", Some("sightline-logs"), 1, 0);
        assert_eq!(live["index_patterns"], json!(["sightline-logs_v2-*"]));
        assert_eq!(
            live["template"]["aliases"],
            json!({ "sightline-logs_v2": {}, "sightline-logs": {} })
        );
        assert_eq!(
            t["template"]["mappings"]["properties"]["message"]["type"],
            "text"
        );
    }
}

#[cfg(test)]
mod micros_tests {
    use super::*;

    #[test]
    fn bounds_round_up_to_whole_microseconds() {
        assert_eq!(micros_ceil(2_000), 2);
        assert_eq!(micros_ceil(2_001), 3);
        assert_eq!(micros(2_999), 2);
        assert_eq!(micros_ceil(-1_500), -1);
    }
}
