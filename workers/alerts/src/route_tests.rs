use std::time::Duration;

use time::macros::datetime;

use super::*;
use crate::rules::Severity;

fn timing() -> Timing {
    Timing {
        group_wait: Duration::from_secs(30),
        group_interval: Duration::from_secs(300),
        repeat_interval: Duration::from_secs(4 * 3600),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn route(matchers: &[&str], receiver: Option<&str>) -> RouteSettings {
    RouteSettings {
        matchers: matchers.iter().map(|m| (*m).to_owned()).collect(),
        receiver: receiver.map(str::to_owned),
        ..RouteSettings::default()
    }
}

fn receivers() -> Vec<String> {
    ["ops", "pager", "db-team", "email"]
        .iter()
        .map(|r| (*r).to_owned())
        .collect()
}

/// The tree of the docs' example: P1 pages (and goes on), database alerts go to
/// their team and within it checkout's to email, the rest to ops.
fn tree() -> Routing {
    let mut db = route(&["service=~db|postgres.*"], Some("db-team"));
    db.group_by = Some(vec!["service".into()]);
    db.repeat_interval = Some(Duration::from_secs(3600));
    db.routes = vec![route(&["alertname=CheckoutDbSlow"], Some("email"))];
    let mut pager = route(&["severity=P1"], Some("pager"));
    pager.continue_matching = true;
    let mut root = route(&[], Some("ops"));
    root.routes = vec![pager, db, route(&["service!~.+"], Some("email"))];
    Routing::new(Some(&root), &[], &[], &receivers(), timing()).unwrap()
}

fn handled(routing: &Routing, l: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
    routing
        .routes_for(&labels(l))
        .into_iter()
        .map(|r| (r.id.clone(), r.receiver.clone()))
        .collect()
}

#[test]
fn matchers_parse_all_four_operators_and_anchor_regexes() {
    let l = labels(&[("service", "checkout"), ("severity", "P2")]);
    for (m, want) in [
        ("service=checkout", true),
        ("service!=checkout", false),
        ("service=~check.*", true),
        ("service=~check", false),
        ("service!~pay.*", true),
        ("env=", true),
        ("env=~.+", false),
        ("severity=~\"P1|P2\"", true),
    ] {
        assert_eq!(Matcher::parse(m).unwrap().matches(&l), want, "{m}");
    }
    for bad in ["service", "=x", "service=~(", "ser vice=x"] {
        let e = Matcher::parse(bad).unwrap_err().to_string();
        assert!(e.contains(bad), "{e}");
    }
}

#[test]
fn an_alert_goes_to_the_deepest_matching_route_and_on_only_after_continue() {
    let r = tree();
    let some = |id: &str, rcv: &str| (id.to_owned(), Some(rcv.to_owned()));
    // A P1 on the database pages, then (continue) reaches the database team.
    assert_eq!(
        handled(&r, &[("severity", "P1"), ("service", "postgres-main")]),
        vec![some("0", "pager"), some("1", "db-team")]
    );
    // Deeper: the checkout database alert goes to email, not to the team.
    assert_eq!(
        handled(
            &r,
            &[
                ("alertname", "CheckoutDbSlow"),
                ("service", "db"),
                ("severity", "P3")
            ]
        ),
        vec![some("1.0", "email")]
    );
    // No child takes it: the root does.
    assert_eq!(
        handled(&r, &[("service", "api"), ("severity", "P3")]),
        vec![some("", "ops")]
    );
    // A missing label is the empty value.
    assert_eq!(handled(&r, &[("severity", "P4")]), vec![some("2", "email")]);
}

#[test]
fn children_inherit_what_they_leave_unset() {
    let r = tree();
    let db = r.routes_for(&labels(&[("service", "db")]))[0];
    assert_eq!(db.group_by, GroupBy::Labels(vec!["service".into()]));
    assert_eq!(db.timing.repeat_interval, Duration::from_secs(3600));
    assert_eq!(db.timing.group_wait, Duration::from_secs(30));
    let email = r.routes_for(&labels(&[
        ("service", "db"),
        ("alertname", "CheckoutDbSlow"),
    ]))[0];
    assert_eq!(email.group_by, db.group_by, "from its parent");
    assert_eq!(email.timing.repeat_interval, Duration::from_secs(3600));
    let root = r.routes_for(&labels(&[("service", "api")]))[0];
    assert_eq!(root.group_by, GroupBy::Rule);
    // No route configured: one route, every receiver.
    let plain = Routing::every_receiver(timing());
    let all = plain.routes_for(&labels(&[("service", "api")]));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].receiver, None);
}

#[test]
fn a_route_naming_an_unknown_receiver_interval_or_root_matcher_is_refused() {
    let unknown = route(&[], Some("nobody"));
    let e = Routing::new(Some(&unknown), &[], &[], &receivers(), timing()).unwrap_err();
    assert!(e.to_string().contains("\"nobody\""), "{e}");
    let mut muted = route(&[], None);
    muted.routes = vec![RouteSettings {
        mute_time_intervals: vec!["nights".into()],
        ..route(&["severity=P4"], Some("ops"))
    }];
    let e = Routing::new(Some(&muted), &[], &[], &receivers(), timing()).unwrap_err();
    assert!(
        e.to_string().contains("route 0") && e.to_string().contains("nights"),
        "{e}"
    );
    let picky = route(&["severity=P1"], Some("ops"));
    assert!(Routing::new(Some(&picky), &[], &[], &receivers(), timing()).is_err());
    let bad_time = TimeIntervalSettings {
        name: "nights".into(),
        weekdays: vec![],
        times: vec!["22:00-25:00".into()],
    };
    let e = Routing::new(None, &[], &[bad_time], &receivers(), timing()).unwrap_err();
    assert!(e.to_string().contains("22:00-25:00"), "{e}");
}

fn alert(fingerprint: &str, status: Status, l: &[(&str, &str)]) -> Alert {
    Alert {
        fingerprint: fingerprint.into(),
        rule: "r".into(),
        severity: Severity::P3,
        labels: labels(l),
        summary: String::new(),
        value: 1.0,
        status,
        active_since: datetime!(2026-12-07 10:00 UTC),
        firing_since: None,
        resolved_at: None,
    }
}

#[test]
fn a_firing_p1_inhibits_the_p3_of_its_service_only() {
    let rule = InhibitSettings {
        source_matchers: vec!["severity=P1".into()],
        target_matchers: vec!["severity=~P3|P4".into()],
        equal: vec!["service".into()],
    };
    let r = Routing::new(None, &[rule], &[], &receivers(), timing()).unwrap();
    let p1 = alert(
        "a",
        Status::Firing,
        &[("severity", "P1"), ("service", "checkout")],
    );
    let p3 = alert(
        "b",
        Status::Firing,
        &[("severity", "P3"), ("service", "checkout")],
    );
    let other = alert(
        "c",
        Status::Firing,
        &[("severity", "P3"), ("service", "search")],
    );
    let all = [p1.clone(), p3.clone(), other.clone()];
    assert!(r.inhibited(&p3, all.iter()));
    assert!(!r.inhibited(&other, all.iter()), "another service");
    assert!(!r.inhibited(&p1, all.iter()), "not a target");
    let resolved = alert(
        "a",
        Status::Resolved,
        &[("severity", "P1"), ("service", "checkout")],
    );
    assert!(
        !r.inhibited(&p3, [resolved, p3.clone()].iter()),
        "only while it fires"
    );
}

#[test]
fn a_route_is_muted_within_its_time_intervals() {
    let nights = TimeIntervalSettings {
        name: "nights".into(),
        weekdays: vec![],
        times: vec!["22:00-06:00".into()],
    };
    let weekend = TimeIntervalSettings {
        name: "weekend".into(),
        weekdays: vec!["Saturday".into(), "sunday".into()],
        times: vec![],
    };
    let mut root = route(&[], Some("ops"));
    root.routes = vec![RouteSettings {
        mute_time_intervals: vec!["nights".into(), "weekend".into()],
        ..route(&["severity=P4"], Some("email"))
    }];
    let r = Routing::new(Some(&root), &[], &[nights, weekend], &receivers(), timing()).unwrap();
    let p4 = r.routes_for(&labels(&[("severity", "P4")]))[0];
    let root = r.routes_for(&labels(&[("severity", "P1")]))[0];
    // 2026-12-07 is a Monday.
    assert!(r.muted(p4, datetime!(2026-12-07 23:30 UTC)));
    assert!(r.muted(p4, datetime!(2026-12-08 05:59 UTC)));
    assert!(!r.muted(p4, datetime!(2026-12-08 06:00 UTC)));
    assert!(r.muted(p4, datetime!(2026-12-12 12:00 UTC)), "Saturday");
    assert!(!r.muted(root, datetime!(2026-12-07 23:30 UTC)));
}
