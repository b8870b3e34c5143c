// Amounts are written in cents with the cents apart (`3_500_00` is 3,500.00).
#![allow(clippy::inconsistent_digit_grouping)]

use std::net::IpAddr;

use sightline_generator::{label, Generator, Pattern, DEFAULT_POPULATION};
use sightline_schemas::{Decimal, Kind, OffsetDateTime};
use time::macros::datetime;
use time::Duration;

use super::*;
use crate::state::State;

const T0: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

fn home_ip() -> IpAddr {
    "85.214.1.2".parse().unwrap()
}

fn payment(n: u32, user: &str, cents: i64, secs: i64) -> Event {
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

fn action(user: &str, session: &str, ip: IpAddr, millis: i64) -> Event {
    let body = Body::UserBehavior(UserBehavior {
        user_id: user.into(),
        session_id: session.into(),
        action: "view".into(),
        page: "/products/1".into(),
        ip: Some(ip),
        user_agent: None,
        product_id: None,
    });
    Event::at(T0 + Duration::milliseconds(millis), "catalog", body)
}

fn login_failure(user: &str, secs: i64) -> Event {
    at(
        secs,
        Body::Security(Security {
            action: "login_failure".into(),
            user_id: Some(user.into()),
            ip: Some(home_ip()),
            country: Some("DE".into()),
            reason: Some("wrong_password".into()),
            session_id: None,
            user_agent: None,
        }),
    )
}

/// A user with a few ordinary payments a day apart behind them.
fn with_history(scorer: &mut Scorer, user: &str) {
    for i in 0..4 {
        let out = scorer.observe(&payment(
            900 + i,
            user,
            5_000 + i64::from(i) * 100,
            -86_400 * (5 - i64::from(i)),
        ));
        assert!(out.is_empty(), "ordinary history scored: {out:?}");
    }
}

fn fired(detections: &[Detection], indicator: &str) -> bool {
    detections.iter().any(|d| d.has(indicator))
}

#[test]
fn ordinary_payments_score_zero() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u1");
    let d = s.assess(
        &payment(1, "u1", 4_990, 0),
        &tx_of(&payment(1, "u1", 4_990, 0)),
    );
    assert_eq!(d.score, 0, "{d:?}");
    assert!(s.observe(&payment(1, "u1", 4_990, 0)).is_empty());
}

fn tx_of(event: &Event) -> Transaction {
    match &event.payload {
        Body::Transaction(tx) => tx.clone(),
        _ => unreachable!("a payment"),
    }
}

#[test]
fn high_amount_fires_on_the_currency_ceiling_and_on_the_users_own_history() {
    let mut s = Scorer::new(Rules::default());
    let out = s.observe(&payment(1, "new", 3_500_00, 0));
    assert!(fired(&out, checks::HIGH_AMOUNT), "{out:?}");
    assert!(out[0].score >= 50);

    with_history(&mut s, "u1");
    let out = s.observe(&payment(2, "u1", 900_00, 10));
    assert!(
        fired(&out, checks::HIGH_AMOUNT),
        "18x the user's average: {out:?}"
    );
    assert!(out[0].indicators[0]
        .reason
        .contains("times this user's average"));

    // The same amount is ordinary for someone who always spends that much.
    let mut s = Scorer::new(Rules::default());
    for i in 0..4 {
        s.observe(&payment(i, "rich", 850_00, -86_400 * (5 - i64::from(i))));
    }
    assert!(s.observe(&payment(9, "rich", 900_00, 0)).is_empty());

    let jpy = edit(payment(3, "jp", 60_000_00, 0), |tx| {
        tx.currency = "JPY".into()
    });
    assert!(
        s.observe(&jpy).is_empty(),
        "60,000 JPY is under the JPY ceiling"
    );
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
        .all(|d| d.has(checks::VELOCITY) && d.score >= 50));
    let revised: Vec<_> = published.iter().filter(|d| d.revision == 1).collect();
    assert_eq!(revised.len(), 3);
    assert!(revised
        .iter()
        .all(|d| d.detected_at == T0 + Duration::seconds(30)));
    assert!(
        !published[0].indicators[0].reason.contains("fp_"),
        "no fingerprint in reasons"
    );

    // Spread over an hour the same six payments are ordinary.
    let mut s = Scorer::new(Rules::default());
    for i in 0..6 {
        assert!(s
            .observe(&payment(i, "u2", 40_00, i64::from(i) * 600))
            .is_empty());
    }
}

#[test]
fn impossible_travel_compares_with_the_last_trusted_place() {
    let mut s = Scorer::new(Rules::default());
    with_history(&mut s, "u1");
    s.observe(&payment(1, "u1", 50_00, 0));
    // Lagos twenty minutes after Berlin, billed to Germany.
    let far = edit(payment(2, "u1", 50_00, 1_200), |tx| {
        (tx.lat, tx.lon, tx.country) = (Some(6.52), Some(3.38), Some("NG".into()));
    });
    let out = s.observe(&far);
    assert!(fired(&out, checks::IMPOSSIBLE_TRAVEL), "{out:?}");
    assert!(fired(&out, checks::COUNTRY_MISMATCH));
    assert!(
        out[0].score >= 70,
        "two indicators together: {}",
        out[0].score
    );
    // The holder pays at home an hour later: Lagos was never trusted, so Berlin is
    // still where they were, and nothing fires.
    assert!(s.observe(&payment(3, "u1", 50_00, 4_800)).is_empty());
    // Berlin to Munich by train is fine.
    let munich = edit(payment(4, "u1", 50_00, 20_000), |tx| {
        (tx.lat, tx.lon) = (Some(48.14), Some(11.58))
    });
    assert!(s.observe(&munich).is_empty());
}

#[test]
fn repeated_failures_count_logins_and_payments() {
    let mut s = Scorer::new(Rules::default());
    for i in 0..3 {
        assert!(s.observe(&login_failure("u1", i * 5)).is_empty());
    }
    let failed = edit(payment(1, "u1", 40_00, 30), |tx| {
        tx.status = TxStatus::Failed
    });
    let out = s.observe(&failed);
    assert!(fired(&out, checks::REPEATED_FAILURES), "{out:?}");
    assert!(out[0].indicators[0].reason.starts_with("4 failed"));
    // Two failures an hour apart are bad luck, not an attack.
    let mut s = Scorer::new(Rules::default());
    s.observe(&login_failure("u2", 0));
    let failed = edit(payment(1, "u2", 40_00, 3_600), |tx| {
        tx.status = TxStatus::Failed
    });
    assert!(s.observe(&failed).is_empty());
}

#[test]
fn country_mismatch_fires_alone_strongly_enough() {
    let mut s = Scorer::new(Rules::default());
    let abroad = edit(payment(1, "u1", 40_00, 0), |tx| {
        tx.country = Some("RU".into())
    });
    let out = s.observe(&abroad);
    assert!(fired(&out, checks::COUNTRY_MISMATCH), "{out:?}");
    assert!(out[0].score >= s.rules().suspicious_score);
}

#[test]
fn a_session_that_switches_ip_marks_its_user() {
    let mut s = Scorer::new(Rules::default());
    s.observe(&action("u1", "s1", home_ip(), 0));
    s.observe(&action("u1", "s1", "197.210.4.4".parse().unwrap(), 60_000));
    let out = s.observe(&payment(1, "u1", 40_00, 120));
    assert!(fired(&out, checks::IP_CHANGE), "{out:?}");
    assert!(
        out[0].score < s.rules().suspicious_score,
        "a hint, not a verdict"
    );
    // Forty minutes later the mark has lapsed.
    assert!(s.observe(&payment(2, "u1", 40_00, 2_400)).is_empty());
}

#[test]
fn bot_sessions_flag_payments_from_their_ip_only() {
    let mut s = Scorer::new(Rules::default());
    let bot_ip: IpAddr = "95.165.7.7".parse().unwrap();
    for i in 0..20 {
        s.observe(&action("u1", "s-bot", bot_ip, i * 150));
    }
    let from_bot = edit(payment(1, "u1", 40_00, 10), |tx| tx.ip = Some(bot_ip));
    let out = s.observe(&from_bot);
    assert!(fired(&out, checks::BOT), "{out:?}");
    assert!(out[0].score >= s.rules().suspicious_score);
    // The holder's own payment from home is not the bot's.
    assert!(s.observe(&payment(2, "u1", 40_00, 20)).is_empty());
    // A human browsing one page every few seconds is not a bot.
    let mut s = Scorer::new(Rules::default());
    for i in 0..40 {
        s.observe(&action("u2", "s2", bot_ip, i * 4_000));
    }
    let out = s.observe(&edit(payment(1, "u2", 40_00, 200), |tx| {
        tx.ip = Some(bot_ip)
    }));
    assert!(out.is_empty(), "{out:?}");
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
    assert!(verdict.has(checks::VELOCITY));
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

/// Labeled generator traffic: each rule catches its pattern and honest payments
/// are left alone. The benchmark measures the same thing at scale.
#[test]
fn on_generated_traffic_each_pattern_is_caught_and_honest_payments_pass() {
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
    let mut honest = (0usize, 0usize);
    for pattern in Pattern::ALL {
        let (mut caught, mut total) = (0, 0);
        for e in events
            .iter()
            .filter(|e| e.kind() == Kind::Transaction && label(e) == Some(pattern))
        {
            total += 1;
            let tx = tx_of(e);
            caught += verdicts
                .get(&tx.transaction_id)
                .is_some_and(|d| d.score >= suspicious) as usize;
        }
        assert!(total > 0, "{pattern:?} occurred");
        assert!(
            caught as f64 >= 0.8 * total as f64,
            "{pattern:?}: {caught} of {total}"
        );
    }
    for e in events
        .iter()
        .filter(|e| e.kind() == Kind::Transaction && label(e).is_none())
    {
        honest.0 += 1;
        let tx = tx_of(e);
        honest.1 += verdicts
            .get(&tx.transaction_id)
            .is_some_and(|d| d.score >= suspicious) as usize;
    }
    assert!(
        (honest.1 as f64) < 0.01 * honest.0 as f64,
        "{} of {} honest payments flagged",
        honest.1,
        honest.0
    );
}
