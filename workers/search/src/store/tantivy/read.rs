//! Reading: the shared query model translated to Tantivy queries and collectors.

use std::collections::BTreeMap;
use std::ops::Bound;

use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::agg_result::AggregationResults;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::collector::sort_key::SortByStaticFastValue;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DateTime, DocAddress, Order, Searcher, TantivyDocument, Term};

use super::Inner;
use crate::error::SearchError;
use crate::query::{AggRequest, AggResult, Cursor, Hit, SearchRequest, SearchResponse, Sort};
use crate::store::prefix_pattern;

fn keyword(inner: &Inner, field: &str, value: &str) -> Box<dyn Query> {
    if crate::lang::fields::IDENTIFIERS.contains(&field) {
        return super::lang::identifier(inner.fields.field(field), value);
    }
    Box::new(TermQuery::new(
        Term::from_field_text(inner.fields.field(field), value),
        IndexRecordOption::Basic,
    ))
}

fn any_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn time_term(inner: &Inner, nanos: i64) -> Term {
    Term::from_field_date(
        inner.fields.occurred_at,
        DateTime::from_timestamp_nanos(nanos),
    )
}

fn nanos(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// The query language's part alone (also used to highlight), if the request has `q`.
fn text_query(
    inner: &Inner,
    request: &SearchRequest,
) -> Result<Option<Box<dyn Query>>, SearchError> {
    crate::lang::of_request(request)?
        .map(|q| super::lang::to_query(inner, &q, request.fuzzy).map_err(SearchError::Invalid))
        .transpose()
}

fn full_query(
    inner: &Inner,
    request: &SearchRequest,
    text: Option<Box<dyn Query>>,
) -> Box<dyn Query> {
    let f = &request.filters;
    let mut must: Vec<Box<dyn Query>> = text.into_iter().collect();
    if !f.kinds.is_empty() {
        must.push(any_of(
            f.kinds
                .iter()
                .map(|k| keyword(inner, "kind", k.as_str()))
                .collect(),
        ));
    }
    if !f.services.is_empty() {
        must.push(any_of(
            f.services
                .iter()
                .map(|s| keyword(inner, "service", s))
                .collect(),
        ));
    }
    for (field, value) in f.keyword_terms() {
        if let Some(v) = value {
            must.push(keyword(inner, field, v));
        }
    }
    if let Some(id) = f.id {
        // The id is stored, not indexed; its low 64 bits (62 of them random in
        // a UUIDv7) are the tie-break column, which finds it without a term
        // per document.
        let bits = Term::from_field_u64(inner.fields.tiebreak, crate::document::tiebreak(&id));
        must.push(Box::new(RangeQuery::new(
            Bound::Included(bits.clone()),
            Bound::Included(bits),
        )));
    }
    if let Some(code) = f.error_code {
        let term = Term::from_field_u64(inner.fields.field("error_code"), code.into());
        must.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
    }
    if let Some(ms) = f.min_response_time_ms {
        let term = Term::from_field_f64(inner.fields.field("response_time_ms"), ms);
        must.push(Box::new(RangeQuery::new(
            Bound::Included(term),
            Bound::Unbounded,
        )));
    }
    if f.since.is_some() || f.until.is_some() {
        let lower = f.since.map_or(Bound::Unbounded, |t| {
            Bound::Included(time_term(inner, nanos(t)))
        });
        let upper = f.until.map_or(Bound::Unbounded, |t| {
            Bound::Excluded(time_term(inner, nanos(t)))
        });
        must.push(Box::new(RangeQuery::new(lower, upper)));
    }
    if let Some(cursor) = request.search_after {
        must.push(after(inner, cursor, request.sort == Sort::Oldest));
    }
    if must.is_empty() {
        return Box::new(AllQuery);
    }
    Box::new(BooleanQuery::new(
        must.into_iter().map(|q| (Occur::Must, q)).collect(),
    ))
}

/// Documents strictly after the cursor in (time, id) order, going down or up.
fn after(inner: &Inner, cursor: Cursor, ascending: bool) -> Box<dyn Query> {
    let at = time_term(inner, cursor.occurred_at_ns);
    let id = Term::from_field_u64(inner.fields.tiebreak, crate::document::tiebreak(&cursor.id));
    let (time_past, id_past) = if ascending {
        (
            RangeQuery::new(Bound::Excluded(at.clone()), Bound::Unbounded),
            RangeQuery::new(Bound::Excluded(id), Bound::Unbounded),
        )
    } else {
        (
            RangeQuery::new(Bound::Unbounded, Bound::Excluded(at.clone())),
            RangeQuery::new(Bound::Unbounded, Bound::Excluded(id)),
        )
    };
    let same_time = RangeQuery::new(Bound::Included(at.clone()), Bound::Included(at));
    let tie: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(same_time) as Box<dyn Query>),
        (Occur::Must, Box::new(id_past)),
    ]));
    any_of(vec![Box::new(time_past), tie])
}

pub(super) fn search(
    inner: &Inner,
    request: &SearchRequest,
) -> Result<SearchResponse, SearchError> {
    let size = request.checked_size().map_err(SearchError::Invalid)?;
    let searcher = inner.reader.searcher();
    let text = text_query(inner, request)?;
    let highlight_query = match (&text, request.highlight) {
        (Some(q), true) => Some(q.box_clone()),
        _ => None,
    };
    let query = full_query(inner, request, text);
    let top = TopDocs::with_limit(size).and_offset(if request.search_after.is_some() {
        0
    } else {
        request.from
    });
    let (addresses, total): (Vec<DocAddress>, usize) = match request.sort {
        Sort::Relevance => {
            let (docs, total) = searcher.search(&query, &(top.order_by_score(), Count))?;
            (docs.into_iter().map(|(_, a)| a).collect(), total)
        }
        Sort::Newest | Sort::Oldest => {
            let order = if request.sort == Sort::Oldest {
                Order::Asc
            } else {
                Order::Desc
            };
            let keys = (
                (
                    SortByStaticFastValue::<DateTime>::for_field("occurred_at"),
                    order,
                ),
                (SortByStaticFastValue::<u64>::for_field("tiebreak"), order),
            );
            let (docs, total) = searcher.search(&query, &(top.order_by(keys), Count))?;
            (docs.into_iter().map(|(_, a)| a).collect(), total)
        }
    };
    let snippets = match highlight_query {
        Some(q) => {
            let mut generator = SnippetGenerator::create(&searcher, &*q, inner.fields.message)?;
            generator.set_max_num_chars(200);
            Some(generator)
        }
        None => None,
    };
    let mut hits = Vec::with_capacity(addresses.len());
    for address in addresses {
        let doc: TantivyDocument = searcher.doc(address)?;
        hits.push(hit(inner, &doc, snippets.as_ref())?);
    }
    // Counting from the cursor would only count what is left: report the full total.
    let total = if request.search_after.is_some() {
        let unpaged = SearchRequest {
            search_after: None,
            ..request.clone()
        };
        let base = full_query(inner, &unpaged, text_query(inner, &unpaged)?);
        searcher.search(&base, &Count)?
    } else {
        total
    };
    let next = match (request.sort, hits.last()) {
        (Sort::Newest | Sort::Oldest, Some(last)) if hits.len() == size => Some(last.cursor()),
        _ => None,
    };
    Ok(SearchResponse {
        total: total as u64,
        hits,
        next,
    })
}

fn hit(
    inner: &Inner,
    doc: &TantivyDocument,
    snippets: Option<&SnippetGenerator>,
) -> Result<Hit, SearchError> {
    let text = |name: &str| {
        doc.get_first(inner.fields.field(name))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let id = text("id")
        .parse()
        .map_err(|e| SearchError::backend(format!("stored id: {e}")))?;
    let kind = text("kind").parse().map_err(SearchError::backend)?;
    let at = doc
        .get_first(inner.fields.occurred_at)
        .and_then(|v| v.as_datetime())
        .ok_or_else(|| SearchError::backend("stored document without occurred_at"))?;
    let occurred_at =
        time::OffsetDateTime::from_unix_timestamp_nanos(at.into_timestamp_nanos().into())
            .map_err(|e| SearchError::backend(e.to_string()))?;
    let event = doc
        .get_first(inner.fields.event)
        .and_then(|v| v.as_str())
        .map_or(Ok(serde_json::Value::Null), serde_json::from_str)
        .map_err(|e| SearchError::backend(format!("stored event: {e}")))?;
    let highlights = match snippets {
        Some(g) => {
            let snippet = with_em(g.snippet_from_doc(doc));
            if snippet.is_empty() {
                Vec::new()
            } else {
                vec![snippet]
            }
        }
        None => Vec::new(),
    };
    Ok(Hit {
        id,
        kind,
        service: text("service"),
        occurred_at,
        message: text("message"),
        pattern: Some(text("pattern")).filter(|p| !p.is_empty()),
        issue: Some(text("issue")).filter(|p| !p.is_empty()),
        highlights,
        event,
    })
}

fn with_em(mut snippet: tantivy::snippet::Snippet) -> String {
    if snippet.highlighted().is_empty() {
        return String::new();
    }
    snippet.set_snippet_prefix_postfix("<em>", "</em>");
    snippet.to_html()
}

fn run_aggs(
    searcher: &Searcher,
    query: &dyn Query,
    aggs: serde_json::Value,
) -> Result<serde_json::Value, SearchError> {
    let request: Aggregations =
        serde_json::from_value(aggs).map_err(|e| SearchError::invalid(e.to_string()))?;
    let collector = AggregationCollector::from_aggs(request, AggContextParams::default());
    let results: AggregationResults = searcher.search(query, &collector)?;
    serde_json::to_value(results).map_err(|e| SearchError::backend(e.to_string()))
}

pub(super) fn aggregate(
    inner: &Inner,
    request: &AggRequest,
) -> Result<BTreeMap<String, AggResult>, SearchError> {
    let searcher = inner.reader.searcher();
    let query = full_query(inner, &request.query, text_query(inner, &request.query)?);
    let json = run_aggs(
        &searcher,
        &*query,
        crate::aggs::request(
            &request.aggs,
            &crate::aggs::Names {
                attribute: &|a| format!("attributes.{a}"),
                time_metric: "occurred_at",
            },
        )?,
    )?;
    crate::aggs::parse(&request.aggs, &json)
}

/// Terms of one segment looked at per suggestion request, at most: a one-letter
/// prefix must not walk a whole dictionary.
const SUGGEST_SCAN: usize = 20_000;

/// Autocomplete from the message field's own term dictionary: words starting with
/// the prefix, by how many documents hold them. Nothing extra is indexed for it.
pub(super) fn suggest(
    inner: &Inner,
    prefix: &str,
    size: usize,
) -> Result<Vec<String>, SearchError> {
    prefix_pattern(prefix)?;
    let prefix = prefix.trim().to_lowercase();
    let searcher = inner.reader.searcher();
    let mut counts: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for segment in searcher.segment_readers() {
        let index = segment.inverted_index(inner.fields.message)?;
        let mut terms = index
            .terms()
            .range()
            .ge(prefix.as_bytes())
            .into_stream()
            .map_err(|e| SearchError::backend(format!("message terms: {e}")))?;
        let mut scanned = 0;
        while terms.advance() && scanned < SUGGEST_SCAN {
            let Ok(word) = std::str::from_utf8(terms.key()) else {
                continue;
            };
            if !word.starts_with(&prefix) {
                break;
            }
            scanned += 1;
            if suggestible(word) {
                *counts.entry(word.to_owned()).or_default() += u64::from(terms.value().doc_freq);
            }
        }
    }
    let mut words: Vec<(u64, String)> = counts.into_iter().map(|(w, n)| (n, w)).collect();
    words.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(words
        .into_iter()
        .take(size.clamp(1, 50))
        .map(|(_, w)| w)
        .collect())
}

/// The words worth suggesting, as [`crate::store::suggestion_words`] keeps them.
fn suggestible(word: &str) -> bool {
    (3..=32).contains(&word.chars().count()) && word.chars().any(char::is_alphabetic)
}
