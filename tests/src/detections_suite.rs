//! The one suite every `DetectionStore` backend runs: forty detections whose
//! expected answers follow from plain filtering of the fixture, plus the revision
//! rules that make redelivery and replay safe; one test per case per backend
//! ([`detections_suite!`](crate::detections_suite)).

use std::collections::BTreeMap;

use sightline_fraud::store::{DetectionQuery, DetectionStore, StatsQuery, Written};
use sightline_schemas::{
    Decimal, Detection, Indicator, OffsetDateTime, TxStatus, Typology, Uuid, Verdict, VerdictKind,
};
use time::macros::datetime;
use time::Duration;

pub const T0: OffsetDateTime = datetime!(2026-02-01 08:00 UTC);

fn indicator(name: &str) -> Indicator {
    Indicator {
        name: name.into(),
        weight: 50,
        reason: format!("{name} fired"),
    }
}

/// Detection `i`: user `u{i % 4}`, score `(i * 7) % 101`, a minute apart.
pub fn detection(i: u32) -> Detection {
    let mut indicators = Vec::new();
    if i.is_multiple_of(2) {
        indicators.push(indicator("velocity"));
    }
    if i.is_multiple_of(3) {
        indicators.push(indicator("bot"));
    }
    if i.is_multiple_of(5) {
        indicators.push(indicator("high_amount"));
    }
    let tx = format!("tx-{i:03}");
    let at = T0 + Duration::minutes(i.into());
    Detection {
        id: Detection::id_for(&tx, "suite"),
        revision: 0,
        rules_version: "suite".into(),
        event_id: Uuid::from_u128(i.into()),
        transaction_id: tx,
        user_id: format!("u{}", i % 4),
        service: "payments".into(),
        amount: Decimal::new(1000 + i64::from(i) * 101, 2),
        currency: if i.is_multiple_of(2) { "EUR" } else { "USD" }.into(),
        status: TxStatus::Completed,
        payment_method: "card".into(),
        country: Some("DE".into()),
        ip: Some(std::net::IpAddr::from([10, 0, 0, i as u8])),
        ip_ref: None,
        score: ((i * 7) % 101) as u8,
        indicators,
        typologies: Vec::new(),
        verdict: None,
        occurred_at: at,
        detected_at: at,
    }
}

pub fn fixture() -> Vec<Detection> {
    (0..40).map(detection).collect()
}

fn ids(list: &[Detection]) -> Vec<String> {
    list.iter().map(|d| d.transaction_id.clone()).collect()
}

/// The fixture filtered and ordered as a store must: newest first.
fn expected(keep: impl Fn(&Detection) -> bool, limit: usize) -> Vec<String> {
    let mut list: Vec<Detection> = fixture().into_iter().filter(keep).collect();
    list.sort_by_key(|d| std::cmp::Reverse(d.detected_at));
    list.truncate(limit);
    ids(&list)
}

async fn list<S: DetectionStore>(store: &S, query: DetectionQuery) -> Vec<String> {
    ids(&store.list(&query).await.expect("list"))
}

/// What every case starts from: the fixture stored in a fresh store.
pub async fn prepare<S: DetectionStore>(store: &S) {
    let first = store.upsert(&fixture()).await.expect("fixture stored");
    assert_eq!(
        first,
        Written {
            written: 40,
            stale: 0
        }
    );
    assert_eq!(store.count().await.unwrap(), 40);
}

/// One test per case for a backend, each on a fresh store that `open` (an async
/// fn) gives; skips as in [`search_suite!`](crate::search_suite).
#[macro_export]
macro_rules! detections_suite {
    ($open:path $(, $skip:ident)?) => {
        $crate::suite_cases!(detections_suite, $open, [$($skip)?],
            idempotent_and_revision_guarded, listing, stats, bad_queries, analyst_verdicts);
    };
}

pub async fn idempotent_and_revision_guarded<S: DetectionStore>(store: &S) {
    let again = store.upsert(&fixture()).await.unwrap();
    assert_eq!(
        again,
        Written {
            written: 0,
            stale: 40
        },
        "a redelivered batch changes nothing"
    );
    assert_eq!(store.count().await.unwrap(), 40);

    // Revision 1 of detection 7 adds velocity and raises the score.
    let mut revised = detection(7);
    revised.revision = 1;
    revised.indicators.push(indicator("velocity"));
    revised.score = 90;
    // A batch may hold both revisions; order must not matter.
    let w = store
        .upsert(&[revised.clone(), detection(7)])
        .await
        .unwrap();
    assert_eq!(
        w,
        Written {
            written: 1,
            stale: 1
        }
    );
    assert_eq!(store.get(&revised.id).await.unwrap(), Some(revised.clone()));
    // The older revision arriving later (a replay of an old message) is skipped.
    let w = store.upsert(&[detection(7)]).await.unwrap();
    assert_eq!(
        w,
        Written {
            written: 0,
            stale: 1
        }
    );
    assert_eq!(store.get(&revised.id).await.unwrap().unwrap().score, 90);
    assert_eq!(store.get(&Uuid::nil()).await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 40);
}

pub async fn listing<S: DetectionStore>(store: &S) {
    let all = DetectionQuery {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        list(store, all).await,
        expected(|_| true, 10),
        "newest first, limited"
    );
    assert_eq!(
        list(store, DetectionQuery::default()).await.len(),
        40,
        "the default limit (50) covers the fixture"
    );

    let q = DetectionQuery {
        min_score: Some(60),
        limit: 100,
        ..Default::default()
    };
    let want = expected(|d| d.score >= 60, 100);
    assert_eq!(
        want.len(),
        14,
        "worked by hand: i*7 mod 101 >= 60 for i in 9-14, 23-28, 38-39"
    );
    assert_eq!(list(store, q).await, want, "min_score");

    let q = DetectionQuery {
        user: Some("u3".into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        list(store, q).await,
        expected(|d| d.user_id == "u3", 100),
        "user"
    );

    let q = DetectionQuery {
        indicator: Some("bot".into()),
        min_score: Some(30),
        limit: 100,
        ..Default::default()
    };
    let want = expected(|d| d.has("bot") && d.score >= 30, 100);
    assert_eq!(list(store, q).await, want, "indicator and score");

    let q = DetectionQuery {
        since: Some(T0 + Duration::minutes(10)),
        until: Some(T0 + Duration::minutes(20)),
        limit: 100,
        ..Default::default()
    };
    let want = expected(
        |d| {
            d.detected_at >= T0 + Duration::minutes(10)
                && d.detected_at < T0 + Duration::minutes(20)
        },
        100,
    );
    assert_eq!(want.len(), 10);
    assert_eq!(
        list(store, q).await,
        want,
        "since inclusive, until exclusive"
    );
}

pub async fn stats<S: DetectionStore>(store: &S) {
    let q = StatsQuery {
        since: None,
        until: None,
        suspicious_score: 50,
    };
    let got = store.stats(&q).await.expect("stats");
    let fixture = fixture();
    assert_eq!(got.detections, 40);
    assert_eq!(
        got.suspicious,
        fixture.iter().filter(|d| d.score >= 50).count() as u64
    );
    let mut histogram = [0u64; 10];
    for d in &fixture {
        histogram[usize::from(d.score.min(99) / 10)] += 1;
    }
    assert_eq!(got.score_histogram, histogram);
    let by_indicator: BTreeMap<String, u64> = [("velocity", 20), ("bot", 14), ("high_amount", 8)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(
        got.by_indicator, by_indicator,
        "worked by hand from i mod 2, 3, 5"
    );
    let mut at_risk: BTreeMap<String, Decimal> = BTreeMap::new();
    for d in fixture.iter().filter(|d| d.score >= 50) {
        *at_risk.entry(d.currency.clone()).or_default() += d.amount;
    }
    assert_eq!(
        got.amount_at_risk, at_risk,
        "exact decimal sums per currency"
    );

    let windowed = store
        .stats(&StatsQuery {
            since: Some(T0 + Duration::minutes(30)),
            until: None,
            suspicious_score: 50,
        })
        .await
        .unwrap();
    assert_eq!(windowed.detections, 10);
    assert_eq!(windowed.by_indicator.get("velocity"), Some(&5));
}

pub async fn bad_queries<S: DetectionStore>(store: &S) {
    let bad = [
        DetectionQuery {
            indicator: Some("astrology".into()),
            ..Default::default()
        },
        DetectionQuery {
            min_score: Some(101),
            ..Default::default()
        },
    ];
    for q in bad {
        let err = store.list(&q).await.expect_err("refused");
        assert_eq!(err.kind(), sightline_runtime::ErrorKind::Poison, "{err}");
    }
    // A range that ends before it starts is empty, not an error.
    let inverted = DetectionQuery {
        since: Some(T0 + Duration::hours(1)),
        until: Some(T0),
        ..Default::default()
    };
    assert!(store.list(&inverted).await.unwrap().is_empty());
}

fn verdict_on(i: u32, verdict: VerdictKind, minutes: i64) -> Verdict {
    let d = detection(i);
    Verdict {
        transaction_id: d.transaction_id,
        detection_id: d.id,
        service: d.service,
        verdict,
        analyst: Some("ana".into()),
        note: None,
        decided_at: T0 + Duration::hours(2) + Duration::minutes(minutes),
    }
}

/// Verdicts belong to the transaction: read back with its detection, the latest
/// decision kept whatever the order they arrive in, kept across a new revision,
/// and counted into the precision of the detection's typologies and indicators.
pub async fn analyst_verdicts<S: DetectionStore>(store: &S) {
    use VerdictKind::{Confirmed, FalsePositive};
    let first = verdict_on(4, FalsePositive, 0);
    let later = verdict_on(4, Confirmed, 5);
    assert_eq!(
        store
            .record_verdicts(std::slice::from_ref(&first))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .record_verdicts(std::slice::from_ref(&later))
            .await
            .unwrap(),
        1
    );
    // Redelivered, or the older one arriving late: nothing changes.
    assert_eq!(
        store
            .record_verdicts(&[later.clone(), first])
            .await
            .unwrap(),
        0
    );
    let got = store.get(&detection(4).id).await.unwrap().expect("stored");
    assert_eq!(got.verdict.as_ref(), Some(&later));
    assert_eq!(
        store.get(&detection(5).id).await.unwrap().unwrap().verdict,
        None
    );
    // A new revision of the detection keeps its transaction's verdict.
    let mut revised = detection(4);
    revised.revision = 1;
    revised.typologies = vec![Typology {
        name: "payment_burst".into(),
        score: 70,
        reason: "a burst".into(),
    }];
    store.upsert(&[revised]).await.unwrap();
    let query = DetectionQuery {
        user: Some("u0".into()),
        limit: 50,
        ..Default::default()
    };
    let listed = store.list(&query).await.unwrap();
    let four = listed
        .iter()
        .find(|d| d.transaction_id == "tx-004")
        .expect("listed");
    assert_eq!((four.revision, four.verdict.as_ref()), (1, Some(&later)));
    assert!(listed
        .iter()
        .filter(|d| d.transaction_id != "tx-004")
        .all(|d| d.verdict.is_none()));
    // Two more: tx-006 (velocity, bot) confirmed, tx-010 (velocity, high_amount) not.
    let more = [
        verdict_on(6, Confirmed, 0),
        verdict_on(10, FalsePositive, 0),
    ];
    store.record_verdicts(&more).await.unwrap();
    let stats = store.stats(&StatsQuery::default()).await.unwrap().verdicts;
    assert_eq!((stats.all.confirmed, stats.all.false_positive), (2, 1));
    let velocity = &stats.by_indicator["velocity"];
    assert_eq!((velocity.confirmed, velocity.false_positive), (2, 1));
    assert_eq!(stats.by_indicator["bot"].precision, Some(1.0));
    assert_eq!(stats.by_indicator["high_amount"].precision, Some(0.0));
    assert_eq!(stats.by_typology["payment_burst"].precision, Some(1.0));
    // The period is the detections': verdicts on detections outside it are not counted.
    let before = StatsQuery {
        until: Some(T0 + Duration::minutes(5)),
        ..Default::default()
    };
    let early = store.stats(&before).await.unwrap().verdicts;
    assert_eq!((early.all.confirmed, early.all.false_positive), (1, 0));
}

/// Overwrites one stored detection with a wrong score under a higher revision, as a
/// bad write would: a corruption the live workers never repair.
pub async fn corrupt_one<S: DetectionStore>(store: &S) {
    let query = DetectionQuery {
        limit: 1,
        ..Default::default()
    };
    let mut wrong = store.list(&query).await.expect("listed").remove(0);
    wrong.revision += 1;
    wrong.score = 100 - wrong.score;
    store.upsert(&[wrong]).await.expect("upserted");
}

/// Every detection a store holds (up to 1,000), as id -> (revision, score): what two
/// builds of a store are compared by.
pub async fn verdicts<S: DetectionStore>(store: &S) -> BTreeMap<String, (u32, u8)> {
    let query = DetectionQuery {
        limit: 1000,
        ..Default::default()
    };
    let list = store.list(&query).await.expect("detections listed");
    list.into_iter()
        .map(|d| (d.id.to_string(), (d.revision, d.score)))
        .collect()
}
