//! Issues in the index: every error document carries its fingerprint, which
//! queries name (`issue:<id>`) and aggregations group, with the users, hosts,
//! environments and first and last times an error tracker shows.

use std::collections::BTreeMap;

use sightline_schemas::{Body, ErrorEvent, Event, LogRecord, Severity, Uuid};
use sightline_search::document::SearchDoc;
use sightline_search::query::{Agg, AggRequest, AggResult, Bucket, DocKind, Field, Filters};
use sightline_search::store::SearchStore;
use time::Duration;

use super::{ids, index_after_fixture, pii, request, T0};

const TRACE: &str = "Traceback (most recent call last):
  File \"/srv/releases/R/shop/views.py\", line 88, in checkout
    order = cart.place(user)
  File \"/srv/releases/R/shop/cart.py\", line L, in place
    total = self.total()
ValueError: cart is empty";

pub async fn issues_group_errors_by_fingerprint<S: SearchStore>(s: &S) {
    let later = T0 + Duration::hours(4);
    let error = |n: u32, secs: i64, trace: String, user: &str, host: &str, env: &str| {
        let body = Body::Error(ErrorEvent {
            error_code: 500,
            error_type: "ValueError".into(),
            error_message: "cart is empty".into(),
            endpoint: "/api/checkout".into(),
            stack: Some(trace),
            user_id: Some(user.into()),
        });
        let mut e = Event::at(later + Duration::seconds(secs), "shop", body);
        e.id = Uuid::parse_str(&format!("01900000-0000-7000-8000-{:012}", 7000 + n)).unwrap();
        e.host = Some(host.into());
        e.env = Some(env.into());
        e
    };
    let build = |release: &str, line: &str| TRACE.replace('R', release).replace('L', line);
    let mut events = vec![
        error(1, 1, build("2026-12-01", "42"), "u1", "web-1", "prod"),
        error(2, 2, build("2026-12-07", "47"), "u2", "web-2", "prod"),
        error(3, 3, build("2026-12-07", "47"), "u1", "web-1", "staging"),
        error(
            4,
            4,
            build("2026-12-07", "47").replace("in checkout", "in reorder"),
            "u3",
            "web-1",
            "prod",
        ),
    ];
    // A log record at error severity joins the issues; one at info does not.
    let mut log = Event::at(
        later + Duration::seconds(5),
        "shop",
        Body::Log(LogRecord::new(
            Severity::Error,
            "ledger write failed: deadlock detected",
        )),
    );
    log.id = Uuid::parse_str("01900000-0000-7000-8000-000000007005").unwrap();
    let mut info = Event::at(
        later + Duration::seconds(6),
        "shop",
        Body::Log(LogRecord::new(Severity::Info, "ledger written")),
    );
    info.id = Uuid::parse_str("01900000-0000-7000-8000-000000007006").unwrap();
    events.extend([log, info]);
    let docs: Vec<SearchDoc> = events
        .iter()
        .map(|e| SearchDoc::from_event(e, &pii()))
        .collect();
    let issue = |i: usize| docs[i].keywords.issue.clone();
    let (same, other, logged) = (issue(0).unwrap(), issue(3).unwrap(), issue(4).unwrap());
    assert_eq!(issue(1).as_ref(), Some(&same), "another build, one issue");
    assert_eq!(issue(2).as_ref(), Some(&same));
    assert!(same != other && other != logged);
    assert_eq!(issue(5), None, "info is no error");
    index_after_fixture(s, docs).await;

    let shop = Filters {
        services: vec!["shop".into()],
        ..Filters::default()
    };
    let by_filter = s
        .search(&request(
            None,
            Filters {
                issue: Some(same.clone()),
                ..shop.clone()
            },
        ))
        .await
        .unwrap();
    assert_eq!(ids(&by_filter), [7003, 7002, 7001]);
    assert!(by_filter
        .hits
        .iter()
        .all(|h| h.issue.as_ref() == Some(&same)));
    let q = format!("issue:{other} OR issue:{logged}");
    assert_eq!(
        ids(&s.search(&request(Some(&q), shop.clone())).await.unwrap()),
        [7005, 7004]
    );

    let aggs = BTreeMap::from([(
        "issues".to_owned(),
        Agg::Groups {
            field: Field::Issue,
            size: 10,
            aggs: BTreeMap::from([
                (
                    "users".to_owned(),
                    Agg::Cardinality {
                        field: Field::UserId,
                    },
                ),
                ("first".to_owned(), Agg::Earliest),
                ("last".to_owned(), Agg::Latest),
                (
                    "hosts".to_owned(),
                    Agg::Terms {
                        field: Field::Host,
                        size: 5,
                    },
                ),
                (
                    "envs".to_owned(),
                    Agg::Terms {
                        field: Field::Env,
                        size: 5,
                    },
                ),
            ]),
        },
    )]);
    let mut errors = request(None, shop);
    errors.filters.kinds = vec![DocKind::Error, DocKind::Log];
    let got = s
        .aggregate(&AggRequest {
            query: errors,
            aggs,
        })
        .await
        .unwrap()
        .remove("issues")
        .unwrap();
    let AggResult::Groups(mut groups) = got else {
        panic!("not groups: {got:?}")
    };
    assert_eq!(groups.len(), 3, "{groups:?}");
    let g = &mut groups[0];
    let b = |key: &str, count| Bucket {
        key: key.into(),
        count,
    };
    assert_eq!((g.key.as_str(), g.count), (same.as_str(), 3));
    assert_eq!(g.value("users"), Some(2.0));
    assert_eq!(g.time("first"), Some(later + Duration::seconds(1)));
    assert_eq!(g.time("last"), Some(later + Duration::seconds(3)));
    assert_eq!(g.buckets("hosts"), [b("web-1", 2), b("web-2", 1)]);
    assert_eq!(g.buckets("envs"), [b("prod", 2), b("staging", 1)]);
    let keys: Vec<(&str, u64)> = groups[1..]
        .iter()
        .map(|g| (g.key.as_str(), g.count))
        .collect();
    let mut want = vec![(other.as_str(), 1), (logged.as_str(), 1)];
    want.sort();
    assert_eq!(keys, want, "ties by key");
}
