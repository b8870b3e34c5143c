// Amounts are written in cents with the cents apart (`3_500_00` is 3,500.00).
#![allow(clippy::inconsistent_digit_grouping)]

mod typologies;

use std::net::IpAddr;

use sightline_generator::{label, Generator, Pattern, DEFAULT_POPULATION};
use sightline_schemas::{Decimal, Kind, OffsetDateTime, Security, TxStatus, UserBehavior};
use time::macros::datetime;
use time::Duration;

use super::*;
use crate::state::State;

const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);
const PHONE: &str = "Mozilla/5.0 (iPhone) Mobile/15E148";

fn home_ip() -> IpAddr {
    "85.214.1.2".parse().unwrap()
}

pub(crate) fn payment(n: u32, user: &str, cents: i64, secs: i64) -> Event {
    let tx = Transaction {
        transaction_id: format!("tx-{user}-{n}"),
        user_id: user.into(),
        amount: Decimal::new(cents, 2),
        currency: "EUR".into(),
        payment_method: "card".into(),
        status: TxStatus::Completed,
        order_id: None,
        ip: Some(home_ip()),
        country: Some("DE".into()),
        billing_country: Some("DE".into()),
        lat: Some(52.52),
        lon: Some(13.40),
        card_fingerprint: Some(format!("fp_{user}")),
        failure_reason: None,
    };
    at(secs, Body::Transaction(tx))
}

fn at(secs: i64, body: Body) -> Event {
    Event::at(T0 + Duration::seconds(secs), "payments", body)
}

fn edit(mut event: Event, f: impl FnOnce(&mut Transaction)) -> Event {
    if let Body::Transaction(tx) = &mut event.payload {
        f(tx);
    }
    event
}

/// Paying from Lagos, billed to Germany.
fn from_lagos(tx: &mut Transaction) {
    (tx.lat, tx.lon, tx.country) = (Some(6.52), Some(3.38), Some("NG".into()));
    tx.ip = Some(lagos_ip());
}

fn lagos_ip() -> IpAddr {
    "197.210.4.4".parse().unwrap()
}

fn view(user: &str, session: &str, ip: IpAddr, agent: &str, millis: i64) -> Event {
    let body = Body::UserBehavior(UserBehavior {
        user_id: user.into(),
        session_id: session.into(),
        action: "view".into(),
        page: "/products/1".into(),
        ip: Some(ip),
        user_agent: Some(agent.into()),
        product_id: None,
    });
    Event::at(T0 + Duration::milliseconds(millis), "catalog", body)
}

fn login(user: &str, ok: bool, ip: IpAddr, agent: &str, secs: i64) -> Event {
    let action = if ok { "login_success" } else { "login_failure" };
    at(
        secs,
        Body::Security(Security {
            action: action.into(),
            user_id: Some(user.into()),
            ip: Some(ip),
            country: Some(if ip == home_ip() { "DE" } else { "NG" }.into()),
            reason: None,
            session_id: None,
            user_agent: Some(agent.into()),
        }),
    )
}

/// A customer with a few ordinary payments a day apart, each after a page view
/// on their phone at home.
fn with_history(scorer: &mut Scorer, user: &str) {
    for i in 0..4 {
        let secs = -86_400 * (5 - i64::from(i));
        scorer.observe(&view(
            user,
            &format!("s{i}"),
            home_ip(),
            PHONE,
            secs * 1000 - 60_000,
        ));
        let out = scorer.observe(&payment(900 + i, user, 50_00 + i64::from(i) * 100, secs));
        assert!(out.is_empty(), "ordinary history scored: {out:?}");
    }
}

pub(crate) fn tx_of(event: &Event) -> Transaction {
    match &event.payload {
        Body::Transaction(tx) => tx.clone(),
        _ => unreachable!("a payment"),
    }
}

fn suspicious(s: &Scorer, out: &[Detection]) -> bool {
    out.iter().any(|d| d.score >= s.rules().suspicious_score)
}

fn typology(out: &[Detection]) -> Option<&str> {
    out.first()?.typologies.first().map(|t| t.name.as_str())
}

#[test]
fn ordinary_payments_score_zero() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u1");
    let probe = payment(1, "u1", 49_90, 0);
    let d = s.assess(&probe, &tx_of(&probe));
    assert_eq!((d.score, d.indicators.len()), (0, 0), "{d:?}");
    assert!(s.observe(&probe).is_empty());
}

#[test]
fn amounts_are_judged_on_one_scale_against_the_customers_own_spending() {
    let mut s = Scorer::new(Rules::default());
    // 3,000 INR is a few tens of euros: nothing, where a fixed ceiling of 3,000 flagged it.
    let inr = edit(payment(1, "in", 3_000_00, 0), |tx| {
        tx.currency = "INR".into()
    });
    assert!(s.observe(&inr).is_empty());
    // A new customer's 3,500 EUR is reported for a look, and is not called suspicious.
    let out = s.observe(&payment(1, "new", 3_500_00, 0));
    assert!(out[0].has(evidence::HIGH_AMOUNT), "{out:?}");
    assert!(!suspicious(&s, &out), "one large first payment: {out:?}");
    // Twenty times a customer's usual spending is.
    with_history(&mut s, "u1");
    let out = s.observe(&payment(2, "u1", 1_100_00, 10));
    assert!(suspicious(&s, &out), "{out:?}");
    assert_eq!(typology(&out), Some("unusual_amount"));
    assert!(out[0].indicators[0]
        .reason
        .contains("times this customer's usual"));
    // The same amount from someone who always spends that much is ordinary.
    let mut s = Scorer::new(Rules::default());
    for i in 0..4 {
        s.observe(&payment(i, "rich", 4_850_00, -86_400 * (5 - i64::from(i))));
    }
    assert!(s.observe(&payment(9, "rich", 5_200_00, 0)).is_empty());
    // Their usual amount paid in yen (5,000 EUR at about 170 JPY) is ordinary too.
    let yen = edit(payment(10, "rich", 850_000_00, 60), |tx| {
        tx.currency = "JPY".into()
    });
    assert!(s.observe(&yen).is_empty());
}

#[test]
fn velocity_flags_the_whole_burst_once_it_overflows() {
    let mut s = Scorer::new(Rules::default());
    let mut published = Vec::new();
    for i in 0..6 {
        published.extend(s.observe(&payment(i, "u1", 40_00, i64::from(i) * 10)));
    }
    // The fourth payment overflows max_per_card = 3: it is flagged, and the three
    // before it are revised; the fifth and sixth are flagged as they come.
    let flagged: std::collections::BTreeSet<_> =
        published.iter().map(|d| d.transaction_id.clone()).collect();
    assert_eq!(flagged.len(), 6, "{published:#?}");
    assert!(published
        .iter()
        .all(|d| d.has(evidence::VELOCITY) && d.score >= 50));
    assert!(published
        .iter()
        .all(|d| d.typologies[0].name == "payment_burst"));
    let revised: Vec<_> = published.iter().filter(|d| d.revision == 1).collect();
    assert_eq!(revised.len(), 3);
    assert!(revised
        .iter()
        .all(|d| d.detected_at == T0 + Duration::seconds(30)));
    // Spread over an hour the same six payments are ordinary.
    let mut s = Scorer::new(Rules::default());
    for i in 0..6 {
        assert!(s
            .observe(&payment(i, "u2", 40_00, i64::from(i) * 600))
            .is_empty());
    }
}

#[test]
fn one_address_shared_by_many_customers_is_a_hint_not_a_burst() {
    let mut s = Scorer::new(Rules::default());
    let mut out = Vec::new();
    for i in 0..8 {
        out.extend(s.observe(&payment(
            i,
            &format!("colleague-{i}"),
            12_00,
            i64::from(i) * 10,
        )));
    }
    assert!(out.is_empty(), "an office at lunch: {out:?}");
    let ninth = payment(9, "colleague-9", 12_00, 90);
    let d = s.assess(&ninth, &tx_of(&ninth));
    assert!(d.has(evidence::IP_VELOCITY) && d.score == 0, "{d:?}");
}

#[test]
fn a_run_of_declines_is_card_testing_and_takes_the_declined_attempts_before_it() {
    let mut s = Scorer::new(Rules::default());
    let declined = |n: u32, secs: i64| {
        edit(payment(n, &format!("tester-{n}"), 1_00, secs), |tx| {
            tx.status = TxStatus::Failed;
            tx.card_fingerprint = Some("fp_stolen".into());
        })
    };
    let mut out = Vec::new();
    for n in 0..4 {
        out.extend(s.observe(&declined(n, i64::from(n) * 30)));
    }
    let flagged: std::collections::BTreeSet<_> = out
        .iter()
        .filter(|d| d.score >= 50)
        .map(|d| d.transaction_id.clone())
        .collect();
    assert_eq!(flagged.len(), 4, "{out:#?}");
    assert!(out.iter().all(|d| d.typologies[0].name == "card_testing"));
    // A payment that passes on the tested card is flagged too.
    let passed = edit(payment(9, "tester-9", 1_00, 150), |tx| {
        tx.card_fingerprint = Some("fp_stolen".into())
    });
    let out = s.observe(&passed);
    assert!(suspicious(&s, &out), "{out:?}");
    // One decline then a success with another card is a customer, not a test.
    let mut s = Scorer::new(Rules::default());
    let first = edit(payment(1, "u3", 80_00, 0), |tx| {
        tx.status = TxStatus::Failed
    });
    assert!(s.observe(&first).is_empty());
    let second = edit(payment(2, "u3", 80_00, 90), |tx| {
        tx.card_fingerprint = Some("fp_u3_other".into())
    });
    let out = s.observe(&second);
    assert!(!suspicious(&s, &out), "{out:?}");
}

#[test]
fn assess_changes_nothing() {
    let mut s = Scorer::new(Rules::default());
    for i in 0..3 {
        s.observe(&payment(i, "u1", 40_00, i64::from(i)));
    }
    let probe = payment(7, "u1", 40_00, 5);
    let before = s.state().snapshot().unwrap();
    let verdict = s.assess(&probe, &tx_of(&probe));
    assert!(verdict.has(evidence::VELOCITY));
    assert_eq!(s.state().snapshot().unwrap(), before);
}

#[test]
fn a_restored_snapshot_scores_exactly_like_the_original() {
    let events: Vec<Event> = Generator::new(11, T0, 2_000)
        .with_fraud_rate(0.02)
        .take(20_000)
        .collect();
    let mut straight = Scorer::new(Rules::default());
    let mut split = Scorer::new(Rules::default());
    let (a, b) = events.split_at(9_000);
    let mut expected = Vec::new();
    for e in &events {
        expected.extend(straight.observe(e));
    }
    let mut got = Vec::new();
    for e in a {
        got.extend(split.observe(e));
    }
    let bytes = split.state().snapshot().unwrap();
    let mut resumed = Scorer::with_state(Rules::default(), State::restore(&bytes).unwrap());
    for e in b {
        got.extend(resumed.observe(e));
    }
    assert!(
        expected.len() > 50,
        "the traffic has fraud: {}",
        expected.len()
    );
    assert_eq!(got, expected);
}

/// Labeled generator traffic: the patterns the issue does not rule out as weak
/// hints alone are caught, honest payments are left alone, and no reason repeats
/// a card fingerprint. The benchmark measures the same at scale.
#[test]
fn on_generated_traffic_the_patterns_are_caught_and_honest_payments_pass() {
    let rules = Rules::default();
    let suspicious = rules.suspicious_score;
    let mut s = Scorer::new(rules);
    let events: Vec<Event> = Generator::new(5, T0, DEFAULT_POPULATION)
        .with_fraud_rate(0.004)
        .take(150_000)
        .collect();
    let mut verdicts = std::collections::HashMap::new();
    for e in &events {
        for d in s.observe(e) {
            verdicts.insert(d.transaction_id.clone(), d);
        }
    }
    let caught = |want: Option<Pattern>| {
        let (mut caught, mut total) = (0usize, 0usize);
        for e in events
            .iter()
            .filter(|e| e.kind() == Kind::Transaction && label(e) == want)
        {
            total += 1;
            let tx = tx_of(e);
            caught += verdicts
                .get(&tx.transaction_id)
                .is_some_and(|d| d.score >= suspicious) as usize;
        }
        (caught, total)
    };
    for pattern in [
        Pattern::Velocity,
        Pattern::ImpossibleTravel,
        Pattern::RepeatedFailures,
        Pattern::Bot,
    ] {
        let (caught, total) = caught(Some(pattern));
        assert!(total > 0, "{pattern:?} occurred");
        assert!(
            caught as f64 >= 0.9 * total as f64,
            "{pattern:?}: {caught} of {total}"
        );
    }
    let (flagged, honest) = caught(None);
    assert!(
        (flagged as f64) < 0.005 * honest as f64,
        "{flagged} of {honest} honest payments flagged"
    );
    for d in verdicts.values() {
        let reasons = d
            .indicators
            .iter()
            .map(|i| &i.reason)
            .chain(d.typologies.iter().map(|t| &t.reason));
        assert!(reasons.into_iter().all(|r| !r.contains("fp_")), "{d:?}");
    }
}
