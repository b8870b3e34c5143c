use super::*;
use sightline_schemas::Validate;

fn start() -> OffsetDateTime {
    time::macros::datetime!(2026-01-01 00:00 UTC)
}

#[test]
fn same_seed_gives_same_events() {
    let a: Vec<_> = Generator::new(7, start(), 500).take(2000).collect();
    let b: Vec<_> = Generator::new(7, start(), 500).take(2000).collect();
    assert_eq!(a, b);
    let c: Vec<_> = Generator::new(8, start(), 500).take(2000).collect();
    assert_ne!(a, c);
}

#[test]
fn events_are_valid_time_ordered_and_unique() {
    let events: Vec<_> = Generator::new(1, start(), 500).take(20_000).collect();
    let mut ids = std::collections::HashSet::new();
    for pair in events.windows(2) {
        assert!(pair[0].occurred_at <= pair[1].occurred_at);
    }
    for e in &events {
        e.validate().unwrap_or_else(|err| panic!("{err}"));
        assert!(ids.insert(e.id));
    }
}

#[test]
fn traffic_mixes_every_kind_and_every_fraud_pattern() {
    let events: Vec<_> = Generator::new(3, start(), 1000)
        .with_fraud_rate(0.01)
        // Long enough for the second leg of an impossible journey (minutes later).
        .take(100_000)
        .collect();
    for kind in sightline_schemas::Kind::ALL {
        let share = events.iter().filter(|e| e.kind() == kind).count() as f64 / events.len() as f64;
        assert!(share > 0.03, "{kind} is {share}");
    }
    for pattern in Pattern::ALL {
        let labeled_tx = events
            .iter()
            .filter(|e| {
                label(e) == Some(pattern) && e.kind() == sightline_schemas::Kind::Transaction
            })
            .count();
        assert!(labeled_tx > 0, "{pattern:?} has no labeled transaction");
    }
    let labeled = events.iter().filter(|e| label(e).is_some()).count();
    assert!(
        labeled < events.len() / 5,
        "fraud must stay a minority: {labeled}"
    );
}

#[test]
fn latencies_are_heavy_tailed() {
    let mut times: Vec<f64> = Generator::new(5, start(), 500)
        .take(50_000)
        .filter_map(|e| match e.payload {
            Body::Performance(p) => Some(p.response_time_ms),
            _ => None,
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let p50 = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    assert!(p99 > 8.0 * p50, "p50 {p50} p99 {p99}");
}
