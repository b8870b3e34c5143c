//! Schedules of one rule, driven by injected time: fires after `for`, repeats,
//! resolves, groups and silences, exactly on time.

use std::time::Duration;

use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::group::Grouper;
use crate::route::Routing;
use crate::rules::Rules;
use crate::silence::Silence;

const T0: OffsetDateTime = datetime!(2026-11-21 10:00 UTC);

fn at(secs: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(secs)
}

fn rules() -> Rules {
    Rules::default()
}

/// The HighErrorRate rule: ratio above 5%, for 2 minutes.
fn error_rule(rules: &Rules) -> &Rule {
    &rules.rules[0]
}

fn sample(service: &str, value: f64) -> Sample {
    Sample {
        labels: Labels::from([("service".into(), service.into())]),
        value,
        notes: Default::default(),
    }
}

#[test]
fn an_alert_is_pending_then_fires_after_its_for_duration() {
    let rules = rules();
    let rule = error_rule(&rules);
    let mut book = AlertBook::default();
    let t = book.evaluate(rule, &[sample("api", 0.10), sample("web", 0.01)], at(0));
    assert_eq!(t.len(), 1, "only the alarming series");
    assert_eq!((t[0].from, t[0].alert.status), (None, Status::Pending));
    assert_eq!(t[0].alert.labels["alertname"], "HighErrorRate");
    assert_eq!(t[0].alert.summary, "errors are 10.0% of requests on api");
    assert!(book
        .evaluate(rule, &[sample("api", 0.09)], at(60))
        .is_empty());
    let t = book.evaluate(rule, &[sample("api", 0.08)], at(120));
    assert_eq!(
        (t[0].from, t[0].alert.status),
        (Some(Status::Pending), Status::Firing)
    );
    assert_eq!(t[0].alert.firing_since, Some(at(120)));
    assert_eq!(t[0].alert.active_since, at(0));
}

#[test]
fn a_pending_alert_that_clears_never_fires_and_a_firing_one_resolves() {
    let rules = rules();
    let rule = error_rule(&rules);
    let mut book = AlertBook::default();
    book.evaluate(rule, &[sample("api", 0.10)], at(0));
    let t = book.evaluate(rule, &[sample("api", 0.01)], at(60));
    assert_eq!(
        (t[0].from, t[0].alert.status),
        (Some(Status::Pending), Status::Resolved)
    );
    assert!(book.alerts.is_empty(), "forgotten: it never fired");

    book.evaluate(rule, &[sample("api", 0.10)], at(100));
    book.evaluate(rule, &[sample("api", 0.10)], at(220));
    let t = book.evaluate(rule, &[], at(300));
    assert_eq!(
        (t[0].from, t[0].alert.status),
        (Some(Status::Firing), Status::Resolved)
    );
    assert_eq!(t[0].alert.resolved_at, Some(at(300)));
    // Back again: a new episode, pending from now.
    let t = book.evaluate(rule, &[sample("api", 0.2)], at(400));
    assert_eq!(
        (t[0].from, t[0].alert.status),
        (Some(Status::Resolved), Status::Pending)
    );
    assert_eq!(t[0].alert.active_since, at(400));
}

#[test]
fn fingerprints_are_stable_and_transitions_have_stable_ids() {
    let rules = rules();
    let rule = error_rule(&rules);
    let mut a = AlertBook::default();
    let mut b = AlertBook::default();
    let ta = a.evaluate(rule, &[sample("api", 0.10)], at(0));
    let tb = b.evaluate(rule, &[sample("api", 0.30)], at(0));
    assert_eq!(ta[0].alert.fingerprint, tb[0].alert.fingerprint);
    assert_eq!(ta[0].message_id(), tb[0].message_id());
    assert_eq!(ta[0].subject(), "alerts.pending.HighErrorRate");
    let other = a.evaluate(rule, &[sample("api", 0.1), sample("web", 0.1)], at(10));
    assert_ne!(other[0].alert.fingerprint, ta[0].alert.fingerprint);
}

/// Runs the rule and the grouper every 10 s from `from` to `to`, returning the
/// instants (seconds) at which a notification went out, with its status.
fn schedule(
    rules: &Rules,
    book: &mut AlertBook,
    grouper: &mut Grouper,
    silences: &[Silence],
    value: impl Fn(i64) -> Option<f64>,
    from: i64,
    to: i64,
) -> Vec<(i64, Status)> {
    let mut sent = Vec::new();
    for s in (from..=to).step_by(10) {
        let samples: Vec<Sample> = value(s).map(|v| sample("api", v)).into_iter().collect();
        book.evaluate(error_rule(rules), &samples, at(s));
        let routing = Routing::every_receiver(rules.timing);
        for n in grouper.due(book, rules, &routing, silences, at(s)) {
            sent.push((s, n.status));
        }
    }
    sent
}

#[test]
fn notifications_wait_repeat_and_resolve_on_schedule() {
    let mut rules = rules();
    rules.timing.group_wait = Duration::from_secs(30);
    rules.timing.group_interval = Duration::from_secs(300);
    rules.timing.repeat_interval = Duration::from_secs(3600);
    let mut book = AlertBook::default();
    let mut grouper = Grouper::default();
    // Alarming from 0 to 4,000 s, then quiet.
    let sent = schedule(
        &rules,
        &mut book,
        &mut grouper,
        &[],
        |s| Some(if s < 4000 { 0.2 } else { 0.0 }),
        0,
        4600,
    );
    // Fires at 120 (for = 2 min), notified after group_wait (150), repeated an
    // hour later (3,750), resolved at 4,000 and told once group_interval has passed
    // since the repeat (4,050).
    assert_eq!(
        sent,
        vec![
            (150, Status::Firing),
            (3750, Status::Firing),
            (4050, Status::Resolved)
        ]
    );
    assert!(book.alerts.is_empty(), "resolved and notified: forgotten");
}

#[test]
fn a_silenced_alert_is_not_notified_but_still_tracked() {
    let rules = rules();
    let mut book = AlertBook::default();
    let mut grouper = Grouper::default();
    let silence = Silence::new(
        &["alertname=HighErrorRate".into(), "service=api".into()],
        at(0),
        Duration::from_secs(600),
        "ops",
        "deploy",
    )
    .unwrap();
    let silences = [silence];
    let sent = schedule(
        &rules,
        &mut book,
        &mut grouper,
        &silences,
        |_| Some(0.5),
        0,
        590,
    );
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(book.active().count(), 1);
    // The silence ends at 600: the firing alert is notified after group_wait.
    let sent = schedule(
        &rules,
        &mut book,
        &mut grouper,
        &silences,
        |_| Some(0.5),
        600,
        700,
    );
    assert_eq!(sent, vec![(630, Status::Firing)]);
}

#[test]
fn silences_need_matchers_and_a_duration() {
    let bad = |m: &[&str], secs| {
        let m: Vec<String> = m.iter().map(|s| s.to_string()).collect();
        Silence::new(&m, at(0), Duration::from_secs(secs), "x", "")
            .unwrap_err()
            .to_string()
    };
    assert!(bad(&[], 60).contains("at least one matcher"));
    assert!(bad(&["service"], 60).contains("label=value"));
    assert!(bad(&["service=api"], 0).contains("1s"));
}

/// Routes with their own receivers: checkout pages and (continue) also goes to
/// email with every other P2; email is muted on Saturdays, so its groups wait,
/// and a resolved alert is kept until the muted route has said so too.
#[test]
fn routes_send_each_group_to_its_receiver_and_a_muted_one_catches_up() {
    use sightline_runtime::config::{RouteSettings, TimeIntervalSettings};
    let rules = rules();
    let rule = error_rule(&rules);
    let route = |m: &str, receiver: &str| RouteSettings {
        matchers: vec![m.to_owned()],
        receiver: Some(receiver.to_owned()),
        ..RouteSettings::default()
    };
    let root = RouteSettings {
        receiver: Some("ops".into()),
        routes: vec![
            RouteSettings {
                continue_matching: true,
                group_by: Some(vec!["service".into()]),
                ..route("service=checkout", "pager")
            },
            RouteSettings {
                mute_time_intervals: vec!["saturdays".into()],
                ..route("severity=P2", "email")
            },
        ],
        ..RouteSettings::default()
    };
    let saturdays = TimeIntervalSettings {
        name: "saturdays".into(),
        weekdays: vec!["saturday".into()],
        times: vec![],
    };
    let receivers = ["ops", "pager", "email"].map(String::from);
    let routing = Routing::new(Some(&root), &[], &[saturdays], &receivers, rules.timing).unwrap();
    let mut book = AlertBook::default();
    let mut grouper = Grouper::default();
    let mut tick = |book: &mut AlertBook, s: i64, firing: bool| {
        let samples = if firing {
            vec![sample("checkout", 0.2), sample("api", 0.2)]
        } else {
            vec![]
        };
        book.evaluate(rule, &samples, at(s));
        grouper
            .due(book, &rules, &routing, &[], at(s))
            .into_iter()
            .map(|n| (s, n.receiver.unwrap_or_default(), n.status, n.alerts.len()))
            .collect::<Vec<_>>()
    };
    // T0 is a Saturday, 10:00 UTC.
    let mut sent = Vec::new();
    for s in (0..=900).step_by(10) {
        sent.extend(tick(&mut book, s, s <= 600));
    }
    let receivers: Vec<&str> = sent.iter().map(|(_, r, _, _)| r.as_str()).collect();
    assert!(receivers.iter().all(|r| *r == "pager"), "{sent:?}");
    assert_eq!(
        sent.iter()
            .map(|(_, _, st, n)| (*st, *n))
            .collect::<Vec<_>>(),
        vec![(Status::Firing, 1), (Status::Resolved, 1)],
        "checkout alone, grouped by service: {sent:?}"
    );
    assert_eq!(book.alerts.len(), 2, "email has not said they resolved");
    // Sunday: email is no longer muted and says what it held, once.
    let sunday = 14 * 3600 + 600;
    let mut sent = tick(&mut book, sunday, false);
    sent.extend(tick(&mut book, sunday + 10, false));
    assert_eq!(
        sent,
        vec![(sunday, "email".to_owned(), Status::Resolved, 2)]
    );
    assert!(book.alerts.is_empty(), "every route has said so");
}
