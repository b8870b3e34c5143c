//! The aggregation cases: terms, date histograms, metrics, percentiles and
//! cardinality, each worked out by hand from the fixture.

use std::collections::BTreeMap;

use sightline_search::query::{Agg, AggRequest, AggResult, Bucket, Field, Filters, SearchRequest};
use sightline_search::store::SearchStore;

use super::{not_bench, request};

async fn agg<S: SearchStore>(s: &S, query: SearchRequest, agg: Agg) -> AggResult {
    let req = AggRequest {
        query,
        aggs: BTreeMap::from([("a".to_string(), agg)]),
    };
    s.aggregate(&req).await.unwrap().remove("a").unwrap()
}

fn b(key: &str, count: u64) -> Bucket {
    Bucket {
        key: key.into(),
        count,
    }
}

pub async fn terms<S: SearchStore>(s: &S) {
    let r = agg(
        s,
        request(None, not_bench()),
        Agg::Terms {
            field: Field::Kind,
            size: 10,
        },
    )
    .await;
    let expected = vec![
        b("performance", 4),
        b("error", 3),
        b("transaction", 3),
        b("security", 1),
        b("user_behavior", 1),
    ];
    assert_eq!(r, AggResult::Buckets(expected));
    let top = agg(
        s,
        request(None, not_bench()),
        Agg::Terms {
            field: Field::Service,
            size: 2,
        },
    )
    .await;
    assert_eq!(
        top,
        AggResult::Buckets(vec![b("catalog", 3), b("checkout", 3)])
    );
    let codes = agg(
        s,
        request(None, not_bench()),
        Agg::Terms {
            field: Field::ErrorCode,
            size: 5,
        },
    )
    .await;
    assert_eq!(codes, AggResult::Buckets(vec![b("503", 2), b("500", 1)]));
}

pub async fn date_histogram<S: SearchStore>(s: &S) {
    let r = agg(
        s,
        request(None, not_bench()),
        Agg::DateHistogram { interval_secs: 60 },
    )
    .await;
    assert_eq!(
        r,
        AggResult::Buckets(vec![
            b("2026-01-01T10:00:00Z", 9),
            b("2026-01-01T10:01:00Z", 3)
        ])
    );
}

pub async fn avg_sum_min_max<S: SearchStore>(s: &S) {
    let q = || request(None, not_bench());
    assert_eq!(
        agg(
            s,
            q(),
            Agg::Avg {
                field: Field::ResponseTimeMs
            }
        )
        .await,
        AggResult::Value(Some(670.0))
    );
    assert_eq!(
        agg(
            s,
            q(),
            Agg::Sum {
                field: Field::Amount
            }
        )
        .await,
        AggResult::Value(Some(400.0))
    );
    assert_eq!(
        agg(
            s,
            q(),
            Agg::Min {
                field: Field::Amount
            }
        )
        .await,
        AggResult::Value(Some(50.0))
    );
    assert_eq!(
        agg(
            s,
            q(),
            Agg::Max {
                field: Field::Amount
            }
        )
        .await,
        AggResult::Value(Some(250.0))
    );
    let none = request(
        None,
        Filters {
            status: Some("refunded".into()),
            ..not_bench()
        },
    );
    assert_eq!(
        agg(
            s,
            none,
            Agg::Max {
                field: Field::Amount
            }
        )
        .await,
        AggResult::Value(None)
    );
}

pub async fn percentiles<S: SearchStore>(s: &S) {
    let bench = request(
        None,
        Filters {
            endpoint: Some("/api/bench".into()),
            ..Filters::default()
        },
    );
    let r = agg(
        s,
        bench,
        Agg::Percentiles {
            field: Field::ResponseTimeMs,
            percents: vec![50.0, 90.0, 95.0, 99.0],
        },
    )
    .await;
    let AggResult::Percentiles(values) = r else {
        panic!("{r:?}")
    };
    // 1..=200 ms: engines estimate (t-digest, DDSketch); allow 3%.
    for (p, truth) in [
        ("50.0", 100.0),
        ("90.0", 180.0),
        ("95.0", 190.0),
        ("99.0", 198.0),
    ] {
        let got = values[p].unwrap_or_else(|| panic!("no p{p}"));
        assert!(
            (got - truth).abs() <= truth * 0.03,
            "p{p}: {got} vs {truth}"
        );
    }
}

pub async fn cardinality<S: SearchStore>(s: &S) {
    assert_eq!(
        agg(
            s,
            request(None, not_bench()),
            Agg::Cardinality {
                field: Field::UserId
            }
        )
        .await,
        AggResult::Value(Some(3.0))
    );
}
