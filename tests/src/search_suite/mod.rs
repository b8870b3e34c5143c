//! The one search suite every `SearchStore` backend runs: a small fixture with
//! results worked out by hand, then the same cases against each engine, one test
//! per case per backend ([`search_suite!`](crate::search_suite)). Engines lacking
//! an aggregation skip that case by name, and nothing else.

use std::collections::BTreeMap;

mod aggregations;
mod fixture;
mod issues;
mod language;
mod patterns;

pub use aggregations::{avg_sum_min_max, cardinality, date_histogram, percentiles, terms};
pub use fixture::{detections, documents, fixture, pii, sequenced, CARD, T0};
pub use issues::issues_group_errors_by_fingerprint;
pub use language::{
    attributes_are_fields_and_hits_carry_the_whole_event,
    query_language_fields_booleans_and_ranges, query_syntax_and_field_errors_are_invalid,
};
pub use patterns::patterns_are_keywords_grouped_and_trended;
use sightline_search::query::{Agg, AggRequest, Field, Filters, SearchRequest, Sort};
use sightline_search::store::{SearchStore, Source};
use time::Duration;

fn not_bench() -> Filters {
    Filters {
        until: Some(T0 + Duration::seconds(3600)),
        ..Filters::default()
    }
}

fn request(text: Option<&str>, filters: Filters) -> SearchRequest {
    SearchRequest {
        text: text.map(Into::into),
        filters,
        size: 20,
        ..SearchRequest::default()
    }
}

fn ids(response: &sightline_search::query::SearchResponse) -> Vec<u32> {
    response
        .hits
        .iter()
        .map(|h| (h.id.as_u128() & 0xffff_ffff_ffff) as u32)
        .map(|n| format!("{n:x}").parse().unwrap())
        .collect()
}

/// Indexes `docs` as the LOGS entries after the fixture's.
async fn index_after_fixture<S: SearchStore>(
    s: &S,
    docs: Vec<sightline_search::document::SearchDoc>,
) {
    let top = sequenced().iter().map(|d| d.seq).max().unwrap();
    let batch = docs
        .into_iter()
        .zip(top + 1..)
        .map(|(doc, seq)| sightline_search::store::Sequenced { seq, doc })
        .collect();
    s.index(Source::Logs, batch).await.unwrap();
}

/// What every case starts from: the fixture indexed into a fresh store.
pub async fn prepare<S: SearchStore>(store: &S) {
    store
        .index(Source::Logs, sequenced())
        .await
        .expect("fixture indexed");
    assert_eq!(store.count().await.unwrap(), 212, "count");
}

/// One test per case for a backend, each on a fresh store that `open` (an async
/// fn) gives, holding whatever keeps it alive; the first failure hides no other.
/// A backend that cannot do a case names it in a `skip` macro of its own, which
/// marks that test ignored with the reason:
///
/// ```ignore
/// macro_rules! skip {
///     (percentiles, $test:item) => { #[ignore = "no percentiles"] $test };
///     ($case:ident, $test:item) => { $test };
/// }
/// sightline_tests::search_suite!(open, skip);
/// ```
#[macro_export]
macro_rules! search_suite {
    ($open:path $(, $skip:ident)?) => {
        $crate::suite_cases!(search_suite, $open, [$($skip)?],
            full_text_newest_first_with_highlights,
            fuzzy_matching,
            filters,
            time_range,
            sorting_and_from_size,
            search_after_pages_through_everything_once,
            terms,
            date_histogram,
            avg_sum_min_max,
            percentiles,
            cardinality,
            autocomplete,
            card_fingerprints_are_not_searchable_in_clear,
            bad_requests_are_refused,
            indexing_again_is_idempotent,
            retention_deletes_old_documents,
            fraud_detections_are_searchable_and_revised,
            advancing_over_dead_letters_indexes_nothing,
            log_records_by_kind_severity_and_text,
            query_language_fields_booleans_and_ranges,
            query_syntax_and_field_errors_are_invalid,
            attributes_are_fields_and_hits_carry_the_whole_event,
            patterns_are_keywords_grouped_and_trended,
            issues_group_errors_by_fingerprint,
        );
    };
}

pub async fn full_text_newest_first_with_highlights<S: SearchStore>(s: &S) {
    let mut req = request(Some("database"), not_bench());
    req.highlight = true;
    let r = s.search(&req).await.unwrap();
    assert_eq!(r.total, 2);
    assert_eq!(ids(&r), [6, 4]);
    assert!(
        r.hits[0].highlights[0].contains("<em>database</em>"),
        "{:?}",
        r.hits[0].highlights
    );
    assert_eq!(r.hits[0].service, "checkout");
    assert_eq!(r.hits[0].occurred_at, T0 + Duration::seconds(61));
    let both = s
        .search(&request(Some("database timeout"), not_bench()))
        .await
        .unwrap();
    assert_eq!(ids(&both), [6], "all words must match");
}

pub async fn fuzzy_matching<S: SearchStore>(s: &S) {
    let exact = s
        .search(&request(Some("databse"), not_bench()))
        .await
        .unwrap();
    assert_eq!(exact.total, 0);
    let mut req = request(Some("databse"), not_bench());
    req.fuzzy = true;
    assert_eq!(ids(&s.search(&req).await.unwrap()), [6, 4]);
}

pub async fn filters<S: SearchStore>(s: &S) {
    let cases: Vec<(Filters, Vec<u32>)> = vec![
        (
            Filters {
                kinds: vec![sightline_search::query::DocKind::Error],
                ..not_bench()
            },
            vec![6, 5, 4],
        ),
        (
            Filters {
                error_code: Some(503),
                ..not_bench()
            },
            vec![6, 4],
        ),
        (
            Filters {
                status: Some("failed".into()),
                ..not_bench()
            },
            vec![2],
        ),
        (
            Filters {
                user_id: Some("u1".into()),
                ..not_bench()
            },
            vec![11, 4, 2, 1],
        ),
        (
            Filters {
                endpoint: Some("/api/checkout".into()),
                ..not_bench()
            },
            vec![6, 8, 4],
        ),
        (
            Filters {
                services: vec!["cart".into(), "auth".into()],
                ..not_bench()
            },
            vec![12, 5],
        ),
        (
            Filters {
                min_response_time_ms: Some(120.0),
                ..not_bench()
            },
            vec![10, 8, 7],
        ),
        (
            Filters {
                session_id: Some("s1".into()),
                ..not_bench()
            },
            vec![11],
        ),
        (
            Filters {
                host: Some("catalog-1".into()),
                ..not_bench()
            },
            vec![9, 7],
        ),
        // Every event of one card, and from one IP, through their references.
        (
            Filters {
                card_ref: Some(pii().reference("card", CARD)),
                ..not_bench()
            },
            vec![3, 2, 1],
        ),
        (
            Filters {
                ip_ref: Some(pii().reference("ip", "203.0.113.9")),
                ..not_bench()
            },
            vec![3, 2, 1],
        ),
    ];
    for (f, expected) in cases {
        let r = s.search(&request(None, f.clone())).await.unwrap();
        assert_eq!(ids(&r), expected, "{f:?}");
        assert_eq!(r.total as usize, expected.len());
    }
}

pub async fn time_range<S: SearchStore>(s: &S) {
    let f = Filters {
        since: Some(T0 + Duration::seconds(60)),
        until: Some(T0 + Duration::seconds(63)),
        ..Filters::default()
    };
    assert_eq!(
        ids(&s.search(&request(None, f)).await.unwrap()),
        [9, 6],
        "since inclusive, until exclusive"
    );
}

pub async fn sorting_and_from_size<S: SearchStore>(s: &S) {
    let mut req = request(None, not_bench());
    req.sort = Sort::Oldest;
    req.size = 5;
    assert_eq!(ids(&s.search(&req).await.unwrap()), [1, 2, 3, 4, 5]);
    req.from = 10;
    let last = s.search(&req).await.unwrap();
    assert_eq!(ids(&last), [9, 10]);
    assert_eq!(last.total, 12);
    let mut relevance = request(Some("checkout"), not_bench());
    relevance.sort = Sort::Relevance;
    let mut found = ids(&s.search(&relevance).await.unwrap());
    found.sort();
    assert_eq!(found, [4, 6, 8]);
}

pub async fn search_after_pages_through_everything_once<S: SearchStore>(s: &S) {
    let mut req = request(None, Filters::default());
    req.size = 37;
    let mut seen = Vec::new();
    loop {
        let page = s.search(&req).await.unwrap();
        assert_eq!(
            page.total, 212,
            "total counts every match, not what is left"
        );
        seen.extend(page.hits.iter().map(|h| (h.occurred_at, h.id)));
        match page.next {
            Some(cursor) => req.search_after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen.len(), 212);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeats");
}

pub async fn autocomplete<S: SearchStore>(s: &S) {
    assert_eq!(s.suggest("data", 5).await.unwrap(), ["database"]);
    let che = s.suggest("Che", 5).await.unwrap();
    assert_eq!(che.first().map(String::as_str), Some("checkout"), "{che:?}");
    assert!(s.suggest("zzz", 5).await.unwrap().is_empty());
    assert!(
        s.suggest("a.*", 5).await.is_err(),
        "patterns are not accepted as prefixes"
    );
}

pub async fn card_fingerprints_are_not_searchable_in_clear<S: SearchStore>(s: &S) {
    let r = s
        .search(&request(Some(CARD), Filters::default()))
        .await
        .unwrap();
    assert_eq!(r.total, 0);
    let doc = &documents()[0];
    assert!(!serde_json::to_string(doc).unwrap().contains(CARD));
    assert!(!serde_json::to_string(doc).unwrap().contains("203.0.113.9"));
    assert_eq!(
        doc.keywords.card_ref.as_deref(),
        Some(pii().reference("card", CARD).as_str())
    );
}

pub async fn bad_requests_are_refused<S: SearchStore>(s: &S) {
    let mut huge = request(None, Filters::default());
    huge.size = 100_000;
    assert!(s.search(&huge).await.is_err());
    let mut backwards = request(None, Filters::default());
    backwards.filters.since = Some(T0 + Duration::seconds(10));
    backwards.filters.until = Some(T0);
    // A range that ends before it starts holds nothing; it is not an error.
    let nothing = s.search(&backwards).await.expect("an empty answer");
    assert_eq!((nothing.total, nothing.hits.len()), (0, 0));
    let not_numeric = AggRequest {
        query: SearchRequest::default(),
        aggs: BTreeMap::from([(
            "x".into(),
            Agg::Avg {
                field: Field::Service,
            },
        )]),
    };
    assert!(s.aggregate(&not_numeric).await.is_err());
}

pub async fn indexing_again_is_idempotent<S: SearchStore>(s: &S) {
    s.index(Source::Logs, sequenced()).await.unwrap();
    assert_eq!(s.count().await.unwrap(), 212);
    assert_eq!(
        s.search(&request(Some("database"), not_bench()))
            .await
            .unwrap()
            .total,
        2
    );
}

/// Moving the watermark over dead letters indexes nothing; a store that keeps a
/// watermark then stands at the new sequence, and never moves back.
pub async fn advancing_over_dead_letters_indexes_nothing<S: SearchStore>(s: &S) {
    let before = s.count().await.unwrap();
    let top = sequenced().iter().map(|d| d.seq).max().unwrap();
    s.advance(Source::Logs, top + 10).await.unwrap();
    s.advance(Source::Logs, top + 5).await.unwrap();
    assert_eq!(s.count().await.unwrap(), before);
    let expected = s.keeps_watermark().then_some(top + 10);
    assert_eq!(s.watermark(Source::Logs).await.unwrap(), expected);
}

pub async fn retention_deletes_old_documents<S: SearchStore>(s: &S) {
    let removed = s.delete_before(T0 + Duration::seconds(60)).await.unwrap();
    assert_eq!(removed, 9);
    assert_eq!(s.count().await.unwrap(), 203);
    assert_eq!(
        s.search(&request(Some("database"), Filters::default()))
            .await
            .unwrap()
            .total,
        1
    );
}

pub async fn fraud_detections_are_searchable_and_revised<S: SearchStore>(s: &S) {
    let before = s.count().await.unwrap();
    s.index(Source::Fraud, detections()).await.unwrap();
    // Redelivered, and then the old revision alone, late: nothing changes.
    s.index(Source::Fraud, detections()).await.unwrap();
    s.index(Source::Fraud, detections()[..1].to_vec())
        .await
        .unwrap();
    assert_eq!(
        s.count().await.unwrap(),
        before + 2,
        "one document per detection"
    );
    let only = |text: Option<&str>| {
        request(
            text,
            Filters {
                kinds: vec![sightline_search::query::DocKind::FraudDetection],
                ..Filters::default()
            },
        )
    };
    let all = s.search(&only(None)).await.unwrap();
    assert_eq!(all.total, 2);
    let revised = all
        .hits
        .iter()
        .find(|h| h.message.contains("u-fraud-1"))
        .expect("the revised detection");
    assert!(
        revised.message.starts_with("fraud score 85"),
        "{}",
        revised.message
    );
    assert!(revised.message.contains("velocity"), "{}", revised.message);
    assert_eq!(
        s.search(&only(Some("high amount"))).await.unwrap().total,
        0,
        "the first revision is gone"
    );
    let travel = s.search(&only(Some("impossible travel"))).await.unwrap();
    assert_eq!(travel.total, 1);
    assert_eq!(
        travel.hits[0].kind,
        sightline_search::query::DocKind::FraudDetection
    );
    // Events are not detections.
    let mut events = request(Some("travel"), Filters::default());
    events.filters.kinds = vec![sightline_search::query::DocKind::Transaction];
    assert_eq!(s.search(&events).await.unwrap().total, 0);
}

/// Log records beside the commerce events: found by kind, severity and the words
/// of their message, and aggregated by severity and logger.
pub async fn log_records_by_kind_severity_and_text<S: SearchStore>(s: &S) {
    use sightline_schemas::{Body, Event, LogRecord, Severity, Uuid};
    use sightline_search::query::DocKind;
    let later = T0 + Duration::hours(2);
    let record = |n: u32, severity: Severity, message: &str, logger: &str| {
        let mut r = LogRecord::new(severity, message);
        r.logger = Some(logger.into());
        let mut e = Event::at(later + Duration::seconds(n.into()), "billing", Body::Log(r));
        e.id = Uuid::parse_str(&format!("01900000-0000-7000-8000-{:012}", 5000 + n)).unwrap();
        e
    };
    let events = [
        record(
            1,
            Severity::Info,
            "invoice 17 sent to customer",
            "app.invoices",
        ),
        record(
            2,
            Severity::Error,
            "ledger write failed: deadlock detected",
            "app.ledger",
        ),
        record(
            3,
            Severity::Error,
            "invoice 18 render failed",
            "app.invoices",
        ),
    ];
    let docs = events
        .iter()
        .map(|e| sightline_search::document::SearchDoc::from_event(e, &pii()))
        .collect();
    index_after_fixture(s, docs).await;
    let logs = |severity: Option<&str>| Filters {
        kinds: vec![DocKind::Log],
        severity: severity.map(Into::into),
        ..Filters::default()
    };
    assert_eq!(
        ids(&s.search(&request(None, logs(None))).await.unwrap()),
        [5003, 5002, 5001]
    );
    assert_eq!(
        ids(&s.search(&request(None, logs(Some("error")))).await.unwrap()),
        [5003, 5002]
    );
    assert_eq!(
        ids(&s
            .search(&request(Some("invoice failed"), logs(None)))
            .await
            .unwrap()),
        [5003]
    );
    let in_window = Filters {
        since: Some(later),
        ..Filters::default()
    };
    let aggs = AggRequest {
        query: request(None, in_window),
        aggs: BTreeMap::from([
            (
                "by_severity".into(),
                Agg::Terms {
                    field: Field::Severity,
                    size: 10,
                },
            ),
            (
                "by_logger".into(),
                Agg::Terms {
                    field: Field::Logger,
                    size: 10,
                },
            ),
        ]),
    };
    let out = s.aggregate(&aggs).await.unwrap();
    let buckets = |name: &str| match &out[name] {
        sightline_search::query::AggResult::Buckets(b) => b
            .iter()
            .map(|b| (b.key.clone(), b.count))
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        buckets("by_severity"),
        [("error".into(), 2), ("info".into(), 1)]
    );
    assert_eq!(
        buckets("by_logger"),
        [("app.invoices".into(), 2), ("app.ledger".into(), 1)]
    );
}
