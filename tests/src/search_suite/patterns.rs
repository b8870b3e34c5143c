//! Patterns in the index: the indexer's miner sets each log's pattern, which
//! queries name (`pattern:<id>`) and aggregations group and trend by.

use std::collections::BTreeMap;

use sightline_schemas::{Body, Event, LogRecord, Severity, Uuid};
use sightline_search::document::SearchDoc;
use sightline_search::patterns::{assign, PatternStage};
use sightline_search::query::{Agg, AggRequest, AggResult, Bucket, DocKind, Field, Filters};
use sightline_search::store::SearchStore;
use time::format_description::well_known::Rfc3339;
use time::Duration;

use super::{ids, index_after_fixture, pii, request, T0};

pub async fn patterns_are_keywords_grouped_and_trended<S: SearchStore>(s: &S) {
    // A whole minute, so that the second minute starts a bar of its own.
    let later = T0 + Duration::hours(3);
    let log = |n: u32, secs: i64, message: &str| {
        let r = LogRecord::new(Severity::Info, message);
        let mut e = Event::at(later + Duration::seconds(secs), "web", Body::Log(r));
        e.id = Uuid::parse_str(&format!("01900000-0000-7000-8000-{:012}", 6000 + n)).unwrap();
        e
    };
    let events = [
        log(1, 1, "cache warmed in 30 ms"),
        log(2, 2, "session opened for user alice"),
        log(3, 3, "session opened for user bob"),
        log(4, 4, "cache warmed in 45 ms"),
        log(5, 61, "session opened for user carol"),
        log(6, 62, "disk /dev/sda1 is full"),
    ];
    let mut docs: Vec<SearchDoc> = events
        .iter()
        .map(|e| SearchDoc::from_event(e, &pii()))
        .collect();
    assign(&mut PatternStage::in_memory(), &mut docs)
        .await
        .unwrap();
    let pattern = |i: usize| docs[i].keywords.pattern.clone().expect("a pattern");
    let (cache, user, disk) = (pattern(0), pattern(1), pattern(5));
    assert_eq!(pattern(2), user);
    assert_eq!(pattern(4), user);
    assert_eq!(pattern(3), cache);
    assert!(cache != user && user != disk && disk != cache);
    index_after_fixture(s, docs).await;

    let logs = Filters {
        kinds: vec![DocKind::Log],
        ..Filters::default()
    };
    let by_filter = s
        .search(&request(
            None,
            Filters {
                pattern: Some(user.clone()),
                ..logs.clone()
            },
        ))
        .await
        .unwrap();
    assert_eq!(ids(&by_filter), [6005, 6003, 6002]);
    assert!(by_filter
        .hits
        .iter()
        .all(|h| h.pattern.as_ref() == Some(&user)));
    let q = format!("pattern:{cache} OR pattern:{disk}");
    let by_query = s.search(&request(Some(&q), logs.clone())).await.unwrap();
    assert_eq!(ids(&by_query), [6006, 6004, 6001]);

    let aggs = BTreeMap::from([(
        "p".to_owned(),
        Agg::Groups {
            field: Field::Pattern,
            size: 2,
            aggs: BTreeMap::from([
                ("trend".to_owned(), Agg::DateHistogram { interval_secs: 60 }),
                ("first".to_owned(), Agg::Earliest),
                ("last".to_owned(), Agg::Latest),
            ]),
        },
    )]);
    let got = s
        .aggregate(&AggRequest {
            query: request(None, logs),
            aggs,
        })
        .await
        .unwrap()
        .remove("p")
        .unwrap();
    let minute = |m: i64, count: u64| Bucket {
        key: (later + Duration::minutes(m)).format(&Rfc3339).unwrap(),
        count,
    };
    let AggResult::Groups(groups) = got else {
        panic!("not groups: {got:?}")
    };
    let at = |secs: i64| Some(later + Duration::seconds(secs));
    let shown: Vec<_> = groups
        .into_iter()
        .map(|mut g| {
            let (first, last) = (g.time("first"), g.time("last"));
            (g.key.clone(), g.count, g.buckets("trend"), first, last)
        })
        .collect();
    assert_eq!(
        shown,
        [
            (user, 3, vec![minute(0, 2), minute(1, 1)], at(2), at(61)),
            (cache, 2, vec![minute(0, 2)], at(1), at(4)),
        ]
    );
}
