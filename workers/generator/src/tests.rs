use super::*;
use sightline_schemas::{Severity, Validate};
use std::collections::HashMap;

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
    // Commerce traffic: `log` records come from shippers, not from the generator.
    for kind in sightline_schemas::Kind::ALL
        .into_iter()
        .filter(|k| *k != sightline_schemas::Kind::Log)
    {
        let share = events.iter().filter(|e| e.kind() == kind).count() as f64 / events.len() as f64;
        // Errors report failed requests: a few in a thousand events.
        let least = if kind == sightline_schemas::Kind::Error {
            0.001
        } else {
            0.03
        };
        assert!(share > least, "{kind} is {share}");
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

/// Per service and 5-minute window: (error events, performance events).
fn error_ratios(events: &[Event]) -> HashMap<(String, i64), (u32, u32)> {
    let mut windows: HashMap<(String, i64), (u32, u32)> = HashMap::new();
    for e in events {
        let key = (e.service.clone(), e.occurred_at.unix_timestamp() / 300);
        let entry = windows.entry(key).or_default();
        match e.payload {
            Body::Error(_) => entry.0 += 1,
            Body::Performance(_) => entry.1 += 1,
            _ => {}
        }
    }
    windows
}

#[test]
fn steady_traffic_is_healthy_in_every_window() {
    let events: Vec<_> = Generator::new(4, start(), 20_000)
        .with_incidents(None)
        .with_rate(50.0)
        .take(200_000)
        .collect();
    let span = events.last().unwrap().occurred_at - events[0].occurred_at;
    assert!(span > Duration::minutes(60), "{span}");
    for ((service, window), (errors, requests)) in error_ratios(&events) {
        if requests >= 200 {
            let ratio = f64::from(errors) / f64::from(requests);
            assert!(ratio < 0.04, "{service} at {window}: {errors}/{requests}");
        }
    }
    let failed = events
        .iter()
        .filter(|e| matches!(&e.payload, Body::Transaction(t) if t.status == TxStatus::Failed))
        .count();
    let payments = events
        .iter()
        .filter(|e| e.kind() == sightline_schemas::Kind::Transaction)
        .count();
    assert!(
        (failed as f64) < 0.05 * payments as f64,
        "{failed}/{payments}"
    );
}

#[test]
fn incidents_are_labeled_apart_and_show_in_the_traffic() {
    let mut generator = Generator::new(9, start(), 20_000)
        .with_rate(20.0)
        .with_incidents(Some(std::time::Duration::from_secs(600)));
    // About six hours: an incident and its quiet stretch take 40 minutes or so.
    let events: Vec<_> = generator.by_ref().take(450_000).collect();
    let incidents = generator.incidents();
    assert!(incidents.len() >= 8, "{}", incidents.len());
    for kind in IncidentKind::ALL {
        assert!(incidents.iter().any(|i| i.kind == kind), "no {kind:?}");
    }
    for pair in incidents.windows(2) {
        assert!(
            pair[0].end + Duration::minutes(20) <= pair[1].start,
            "{pair:?}"
        );
    }
    for incident in incidents
        .iter()
        .filter(|i| i.end < events.last().unwrap().occurred_at)
    {
        let inside: Vec<&Event> = events
            .iter()
            .filter(|e| incident.covers(e.occurred_at))
            .collect();
        match incident.kind {
            IncidentKind::Silent => {
                let heard: Vec<_> = inside
                    .iter()
                    .filter(|e| e.service == incident.service)
                    .collect();
                assert!(heard.is_empty(), "{incident:?}: {heard:?}");
            }
            IncidentKind::ErrorBurst => {
                let errors = inside
                    .iter()
                    .filter(|e| {
                        e.service == incident.service && e.kind() == sightline_schemas::Kind::Error
                    })
                    .count();
                let requests = inside
                    .iter()
                    .filter(|e| {
                        e.service == incident.service
                            && e.kind() == sightline_schemas::Kind::Performance
                    })
                    .count();
                assert!(errors * 5 > requests, "{incident:?}: {errors}/{requests}");
            }
            IncidentKind::LatencySpike => {
                let slow = inside.iter().filter(|e| {
                    matches!(&e.payload, Body::Performance(p) if p.endpoint == incident.endpoint && p.response_time_ms > 700.0)
                });
                assert!(slow.count() > 20, "{incident:?}");
            }
            IncidentKind::PaymentFailures => {
                let failed = inside.iter().filter(
                    |e| matches!(&e.payload, Body::Transaction(t) if t.status == TxStatus::Failed),
                );
                assert!(failed.count() > 20, "{incident:?}");
            }
        }
    }
    let mut again = Generator::new(9, start(), 20_000)
        .with_rate(20.0)
        .with_incidents(Some(std::time::Duration::from_secs(600)));
    again.by_ref().take(450_000).for_each(drop);
    assert_eq!(
        again.incidents(),
        incidents,
        "the same seed gives the same incidents"
    );
}

#[test]
fn log_records_come_between_the_same_commerce_events() {
    let plain: Vec<_> = Generator::new(5, start(), 500).take(4000).collect();
    let mixed: Vec<_> = Generator::new(5, start(), 500)
        .with_log_share(0.5)
        .take(8000)
        .collect();
    let (logs, commerce): (Vec<_>, Vec<_>) = mixed
        .iter()
        .partition(|e| matches!(e.payload, Body::Log(_)));
    let share = logs.len() as f64 / mixed.len() as f64;
    assert!((0.45..0.55).contains(&share), "{share}");
    let n = commerce.len().min(plain.len());
    assert!(n > 3000);
    assert!(
        commerce[..n].iter().copied().eq(plain[..n].iter()),
        "the commerce events are the ones without logs"
    );
    let mut ids = std::collections::HashSet::new();
    for pair in mixed.windows(2) {
        assert!(pair[0].occurred_at <= pair[1].occurred_at);
    }
    let traces: std::collections::HashSet<_> =
        commerce.iter().filter_map(|e| e.trace_id.clone()).collect();
    let mut severities = HashMap::new();
    for e in &mixed {
        e.validate().unwrap_or_else(|err| panic!("{err}"));
        assert!(ids.insert(e.id));
        if let Body::Log(l) = &e.payload {
            *severities.entry(l.severity).or_insert(0) += 1;
            if let Some(trace) = &e.trace_id {
                assert!(traces.contains(trace), "a request's line");
            }
        }
    }
    for level in [
        Severity::Debug,
        Severity::Info,
        Severity::Warn,
        Severity::Error,
    ] {
        assert!(
            severities.get(&level).copied().unwrap_or(0) > 0,
            "{level:?}: {severities:?}"
        );
    }
}
