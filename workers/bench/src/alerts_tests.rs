use super::*;

fn at(minutes: i64) -> OffsetDateTime {
    time::macros::datetime!(2026-03-02 10:00 UTC) + Duration::minutes(minutes)
}

fn fired(rule: &str, labels: &[(&str, &str)], minute: i64) -> Fired {
    Fired {
        rule: rule.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        at: at(minute),
    }
}

fn report<'a>(reports: &'a [RuleReport], rule: &str) -> &'a RuleReport {
    reports
        .iter()
        .find(|r| r.rule == rule)
        .expect("a report per rule")
}

#[test]
fn alerts_belong_to_the_incident_of_their_kind_service_and_time() {
    let rules = Rules::load_or_default(None).unwrap().rules;
    let burst = Incident {
        kind: IncidentKind::ErrorBurst,
        service: "cart",
        endpoint: "/api/cart",
        start: at(0),
        end: at(8),
    };
    let silent = Incident {
        kind: IncidentKind::Silent,
        service: "search",
        endpoint: "/api/search",
        start: at(40),
        end: at(55),
    };
    let fired = [
        // During the burst, on its service: caught.
        fired("HighErrorRate", &[("service", "cart")], 3),
        // Same time, another service: a false alarm.
        fired("HighErrorRate", &[("service", "catalog")], 3),
        // Long after the burst left the 5-minute window.
        fired("HighErrorRate", &[("service", "cart")], 30),
        // A silent service alert during the error burst is not the burst's.
        fired("ServiceSilent", &[("service", "cart")], 4),
    ];
    let reports = classify(&rules, &fired, &[burst, silent], &[], at(120));
    let errors = report(&reports, "HighErrorRate");
    assert_eq!((errors.fired_inside, errors.fired_outside), (1, 2));
    assert_eq!((errors.incidents, errors.caught), (1, 1));
    assert_eq!(errors.outside.len(), 2);
    let silence = report(&reports, "ServiceSilent");
    assert_eq!((silence.fired_inside, silence.fired_outside), (0, 1));
    assert_eq!((silence.incidents, silence.caught), (1, 0), "missed");
}

#[test]
fn fraud_alerts_belong_to_the_episode_of_their_user() {
    let rules = Rules::load_or_default(None).unwrap().rules;
    let labeled = vec![
        ("u2".to_owned(), at(50)),
        ("u1".to_owned(), at(0)),
        ("u1".to_owned(), at(10)),
        // More than half an hour later: a second episode of the same user.
        ("u1".to_owned(), at(90)),
    ];
    let episodes = episodes(labeled);
    assert_eq!(episodes.len(), 3);
    assert_eq!((episodes[0].start, episodes[0].end), (at(0), at(10)));
    let fired = [
        fired("FraudScoreHigh", &[("user_id", "u1")], 11),
        fired("FraudScoreHigh", &[("user_id", "u3")], 11),
    ];
    let reports = classify(&rules, &fired, &[], &episodes, at(200));
    let fraud = report(&reports, "FraudScoreHigh");
    assert_eq!((fraud.fired_inside, fraud.fired_outside), (1, 1));
    assert_eq!((fraud.incidents, fraud.caught), (3, 1));
}
