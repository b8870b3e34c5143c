//! Patterns as a test compares them: how many events each pattern id holds,
//! in an index and in one uninterrupted pass of the miner over the events.

use std::collections::BTreeMap;

use sightline_schemas::Event;
use sightline_search::document::SearchDoc;
use sightline_search::patterns::{assign, PatternStage};
use sightline_search::query::{Agg, AggRequest, AggResult, Field, SearchRequest};
use sightline_search::store::SearchStore;

/// Events per pattern id in `store` (at most 1,000 patterns).
pub async fn index_counts<S: SearchStore>(store: &S) -> BTreeMap<String, u64> {
    field_counts(store, Field::Pattern).await
}

/// Documents per value of `field` in `store` (at most 1,000 values).
pub async fn field_counts<S: SearchStore>(store: &S, field: Field) -> BTreeMap<String, u64> {
    let request = AggRequest {
        query: SearchRequest::default(),
        aggs: BTreeMap::from([("p".to_owned(), Agg::Terms { field, size: 1000 })]),
    };
    match store
        .aggregate(&request)
        .await
        .expect("aggregate")
        .remove("p")
    {
        Some(AggResult::Buckets(b)) => b.into_iter().map(|b| (b.key, b.count)).collect(),
        other => panic!("not buckets: {other:?}"),
    }
}

/// Events per pattern id when a fresh miner reads `events` in order.
pub async fn mined_counts(events: &[Event]) -> BTreeMap<String, u64> {
    let pii = crate::search_suite::pii();
    let mut docs: Vec<SearchDoc> = events
        .iter()
        .map(|e| SearchDoc::from_event(e, &pii))
        .collect();
    assign(&mut PatternStage::in_memory(), &mut docs)
        .await
        .expect("in memory");
    let mut counts = BTreeMap::new();
    for pattern in docs.into_iter().filter_map(|d| d.keywords.pattern) {
        *counts.entry(pattern).or_insert(0) += 1;
    }
    counts
}
