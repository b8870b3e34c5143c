use sightline_schemas::Validate;
use time::macros::datetime;

use super::*;

fn small() -> Mix {
    Mix {
        customers: 300,
        hours: 24.0,
        visits: 4.0,
        fraud: 6,
        lookalikes: 4,
    }
}

#[test]
fn a_seed_gives_the_same_suite_and_another_seed_another() {
    let start = datetime!(2026-03-02 00:00 UTC);
    let a = Suite::new(7, start, &small());
    let b = Suite::new(7, start, &small());
    let c = Suite::new(8, start, &small());
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.events.len(), b.events.len());
    assert_ne!(a.events.len(), c.events.len());
}

#[test]
fn every_event_is_valid_and_in_time_order_and_every_payment_is_labeled() {
    let suite = Suite::new(3, datetime!(2026-03-02 00:00 UTC), &small());
    let mut payments = 0;
    for pair in suite.events.windows(2) {
        assert!(pair[0].occurred_at <= pair[1].occurred_at);
    }
    for event in &suite.events {
        event
            .validate()
            .unwrap_or_else(|e| panic!("{e}: {event:?}"));
        if let sightline_schemas::Body::Transaction(tx) = &event.payload {
            payments += 1;
            assert!(suite.labels.contains_key(&tx.transaction_id));
        }
    }
    assert_eq!(payments, suite.labels.len());
}

#[test]
fn every_scenario_variant_and_lookalike_appears_in_a_default_suite() {
    let suite = Suite::new(1, datetime!(2026-03-02 00:00 UTC), &Mix::default());
    let mut fraud = std::collections::BTreeSet::new();
    let mut lookalikes = std::collections::BTreeSet::new();
    for label in suite.labels.values() {
        match label {
            Label::Fraud { scenario, variant } => {
                fraud.insert(format!("{scenario}/{variant}"));
            }
            Label::LookAlike(kind) => {
                lookalikes.insert(*kind);
            }
            Label::Ordinary => {}
        }
    }
    assert_eq!(fraud.len(), 9, "{fraud:?}");
    assert_eq!(lookalikes.len(), 7, "{lookalikes:?}");
    let share = suite
        .labels
        .values()
        .filter(|l| matches!(l, Label::Fraud { .. }))
        .count() as f64
        / suite.labels.len() as f64;
    assert!((0.02..0.08).contains(&share), "fraud share {share}");
}

#[test]
fn grading_counts_each_payment_once_in_its_group() {
    let suite = Suite::new(5, datetime!(2026-03-02 00:00 UTC), &small());
    let e = evaluate(&suite, sightline_fraud::Rules::default());
    assert_eq!(e.payments as usize, suite.labels.len());
    assert_eq!(e.fraud.payments + e.genuine.payments, e.payments);
    let by_scenario: u64 = e.per_scenario.values().map(|t| t.payments).sum();
    assert_eq!(by_scenario, e.fraud.payments);
    let by_kind: u64 = e.per_lookalike.values().map(|t| t.payments).sum();
    assert_eq!(by_kind + e.ordinary.payments, e.genuine.payments);
}
