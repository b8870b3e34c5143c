//! The alert evaluator against real redis-server and nats-server, counters written
//! by the real counters projection, and local HTTP receivers. Time is injected:
//! each tick is evaluated at a chosen instant, so the schedule runs without sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use sightline_alerts::evaluate::Evaluator;
use sightline_alerts::measure::Sources;
use sightline_alerts::notify::{Delivery, Notifier};
use sightline_alerts::route::Routing;
use sightline_alerts::store::AlertStore;
use sightline_alerts::{Rules, Silence, Status};
use sightline_counters::project::CounterProjection;
use sightline_counters::{Layout, Reader, RedisStore};
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_fraud::store::DetectionStore;
use sightline_runtime::config::{
    AlertsSettings, CountersSettings, ReceiverFormat, ReceiverSettings, Secret,
};
use sightline_runtime::consumer::{Projection, Record};
use sightline_schemas::{Body, ErrorEvent, Event, OffsetDateTime, Performance};
use sightline_tests::{Redis, Stack};

/// What a receiver was sent: (path, idempotency key, body, status answered).
type Received = Arc<Mutex<Vec<(String, String, serde_json::Value, u16)>>>;

/// Local receivers: `/webhook`, `/slack`, `/am`, `/pd`, `/teams` answer 200; `/flaky` answers 500
/// to its first two requests.
async fn receivers() -> (String, Received) {
    let received: Received = Arc::default();
    async fn take(
        path: &'static str,
        State(r): State<Received>,
        headers: HeaderMap,
        Json(body): Json<serde_json::Value>,
    ) -> StatusCode {
        let mut r = r.lock().unwrap();
        let failures = r
            .iter()
            .filter(|(p, ..)| p == path && path == "/flaky")
            .count();
        let status = if path == "/flaky" && failures < 2 {
            500
        } else {
            200
        };
        let key = headers
            .get("Idempotency-Key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        r.push((path.to_owned(), key, body, status));
        StatusCode::from_u16(status).unwrap()
    }
    let app = Router::new()
        .route("/webhook", post(|s, h, b| take("/webhook", s, h, b)))
        .route("/slack", post(|s, h, b| take("/slack", s, h, b)))
        .route("/am", post(|s, h, b| take("/am", s, h, b)))
        .route("/flaky", post(|s, h, b| take("/flaky", s, h, b)))
        .route("/pd", post(|s, h, b| take("/pd", s, h, b)))
        .route("/teams", post(|s, h, b| take("/teams", s, h, b)))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

pub(crate) fn receiver(name: &str, url: String, format: ReceiverFormat) -> ReceiverSettings {
    ReceiverSettings {
        name: name.into(),
        url: Secret(url),
        format,
        timeout: Duration::from_secs(5),
        retries: 3,
        retry_backoff: Duration::from_millis(10),
        max_per_minute: 60,
        routing_key: Some(Secret("pd-integration-key".into())),
        from: None,
        to: Vec::new(),
        ca_file: None,
        template: None,
    }
}

/// `errors` errors and `requests` requests of `service`, in the minute before `now`.
pub(crate) fn traffic(
    service: &str,
    requests: usize,
    errors: usize,
    now: OffsetDateTime,
) -> Vec<Event> {
    let at = |i: usize| now - Duration::from_millis(60_000 * i as u64 / requests as u64 + 1);
    let mut events: Vec<Event> = (0..requests)
        .map(|i| {
            Event::at(
                at(i),
                service,
                Body::Performance(Performance {
                    endpoint: "/api/cart".into(),
                    method: "POST".into(),
                    response_time_ms: 40.0,
                    db_query_time_ms: None,
                    status_code: if i < errors { 500 } else { 200 },
                }),
            )
        })
        .collect();
    events.extend((0..errors).map(|i| {
        Event::at(
            at(i),
            service,
            Body::Error(ErrorEvent {
                error_code: 500,
                error_type: "DatabaseError".into(),
                error_message: "connection pool exhausted".into(),
                endpoint: "/api/cart".into(),
                stack: None,
                user_id: None,
            }),
        )
    }));
    events
}

/// Applies `events` to the counters as the projection would, from `first_seq`.
pub(crate) async fn count(store: &RedisStore, events: Vec<Event>, first_seq: u64) {
    let records: Vec<Record<Event>> = events
        .into_iter()
        .zip(first_seq..)
        .map(|(item, stream_seq)| Record {
            stream_seq,
            delivered: 1,
            item,
            replay_for: None,
        })
        .collect();
    let mut p = CounterProjection::<Event>::new(store.clone());
    p.position().await.unwrap();
    p.apply(&records).await.unwrap();
}

pub(crate) async fn evaluator(
    stack: &Stack,
    redis: &Redis,
    counters: &RedisStore,
    settings: &AlertsSettings,
) -> Evaluator<Sources<SqliteStore>> {
    let sources = Sources {
        counters: Reader::new(counters),
        detections: None,
        search: None,
        statuses: None,
    };
    evaluator_of(stack, redis, Rules::default(), sources, settings).await
}

/// An evaluator of `rules` over `sources`, its state in `redis`.
pub(crate) async fn evaluator_of<D: DetectionStore>(
    stack: &Stack,
    redis: &Redis,
    rules: Rules,
    sources: Sources<D>,
    settings: &AlertsSettings,
) -> Evaluator<Sources<D>> {
    let store = AlertStore::connect(&redis.url(), "sightline")
        .await
        .unwrap();
    let routing = Routing::configured(settings, rules.timing).unwrap();
    Evaluator::new(
        rules,
        routing,
        sources,
        store,
        stack.bus.clone(),
        Notifier::new(settings).unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_notify_repeat_resolve_and_respect_silences_and_replays() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let (url, received) = receivers().await;
    let settings = AlertsSettings {
        receivers: vec![
            receiver("hook", format!("{url}/webhook"), ReceiverFormat::Webhook),
            receiver("slack", format!("{url}/slack"), ReceiverFormat::Slack),
            receiver("am", format!("{url}/am"), ReceiverFormat::Alertmanager),
            receiver("flaky", format!("{url}/flaky"), ReceiverFormat::Webhook),
            receiver("pd", format!("{url}/pd"), ReceiverFormat::Pagerduty),
            receiver("teams", format!("{url}/teams"), ReceiverFormat::Teams),
        ],
        ..AlertsSettings::default()
    };
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let t0 = OffsetDateTime::now_utc();
    // api: 20% errors; web: 30% errors, but silenced; shop: healthy.
    let mut events = traffic("api", 100, 20, t0);
    events.extend(traffic("web", 100, 30, t0));
    events.extend(traffic("shop", 100, 0, t0));
    count(&counters, events, 1).await;
    let store = AlertStore::connect(&redis.url(), "sightline")
        .await
        .unwrap();
    let silence = Silence::new(
        &["alertname=HighErrorRate".into(), "service=web".into()],
        t0,
        Duration::from_secs(3600),
        "test",
        "known incident",
    )
    .unwrap();
    store.add_silence(&silence).await.unwrap();

    let mut eval = evaluator(&stack, &redis, &counters, &settings).await;
    let tick = eval.tick(t0).await.unwrap();
    let pending: Vec<_> = tick
        .transitions
        .iter()
        .map(|t| (t.alert.labels["service"].as_str(), t.alert.status))
        .collect();
    assert_eq!(
        pending,
        [("api", Status::Pending), ("web", Status::Pending)]
    );
    let at = |secs: i64| t0 + time::Duration::seconds(secs);
    let tick = eval.tick(at(120)).await.unwrap();
    assert_eq!(tick.transitions.len(), 2, "both fire after `for` (2 min)");
    assert!(tick.notifications.is_empty(), "group_wait (30 s) first");
    assert!(received.lock().unwrap().is_empty());

    let tick = eval.tick(at(150)).await.unwrap();
    assert_eq!(tick.notifications.len(), 1, "web is silenced");
    assert_eq!(tick.notifications[0].alerts[0].labels["service"], "api");
    for d in &tick.deliveries {
        let Delivery::Delivered { receiver, attempts } = d else {
            panic!("{d:?}");
        };
        assert_eq!(
            *attempts,
            if receiver == "flaky" { 3 } else { 1 },
            "{receiver}"
        );
    }
    {
        let r = received.lock().unwrap();
        let at_path = |p: &str| r.iter().filter(|x| x.0 == p).collect::<Vec<_>>();
        assert_eq!(at_path("/webhook")[0].2["status"], "firing");
        assert_eq!(at_path("/slack")[0].2["text"], "[FIRING:1] HighErrorRate");
        assert_eq!(at_path("/am")[0].2[0]["labels"]["service"], "api");
        let pd = &at_path("/pd")[0].2;
        assert_eq!(pd["routing_key"], "pd-integration-key");
        assert_eq!(pd["event_action"], "trigger");
        assert_eq!(pd["payload"]["source"], "api");
        let card = &at_path("/teams")[0].2["attachments"][0]["content"];
        assert_eq!(card["body"][0]["text"], "[FIRING:1] HighErrorRate");
        let flaky = at_path("/flaky");
        assert_eq!(flaky.len(), 3, "two failures, then the delivery");
        assert_eq!(
            flaky.iter().filter(|x| x.3 == 200).count(),
            1,
            "delivered once"
        );
        assert!(flaky.iter().all(|x| x.1 == flaky[0].1 && !x.1.is_empty()));
    }

    // A restarted evaluator resumes from Redis: nothing new to say.
    drop(eval);
    let mut eval = evaluator(&stack, &redis, &counters, &settings).await;
    let tick = eval.tick(at(180)).await.unwrap();
    assert!(tick.transitions.is_empty() && tick.notifications.is_empty());
    assert_eq!(received.lock().unwrap().len(), 8, "no duplicate deliveries");
    assert_eq!(
        stack.stream_messages("ALERTS").await,
        4,
        "pending and firing of api and web"
    );

    // The errors leave the 5-minute window while a replay runs: the alerts
    // resolve (recorded on ALERTS) but nobody is told until it ends.
    store
        .set_replaying(Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let tick = eval.tick(at(420)).await.unwrap();
    assert_eq!(tick.transitions.len(), 2);
    assert!(tick.suppressed && tick.notifications.is_empty());
    store.set_replaying(None).await.unwrap();
    // The group changed; it was last told at 150, so group_interval (5 min) runs to 450.
    let tick = eval.tick(at(440)).await.unwrap();
    assert!(tick.notifications.is_empty());
    let tick = eval.tick(at(450)).await.unwrap();
    assert_eq!(tick.notifications.len(), 1);
    assert_eq!(tick.notifications[0].status, Status::Resolved);
    assert!(tick.notifications[0].alerts[0].resolved_at.is_some());
    assert_eq!(stack.stream_messages("ALERTS").await, 6);
    let r = received.lock().unwrap();
    let resolved = r.iter().filter(|x| x.0 == "/am").nth(1).unwrap();
    assert!(resolved.2[0]["endsAt"].is_string());
    let pd: Vec<_> = r.iter().filter(|x| x.0 == "/pd").collect();
    assert_eq!(pd[1].2["event_action"], "resolve");
    assert_eq!(
        pd[1].2["dedup_key"], pd[0].2["dedup_key"],
        "closes what it opened"
    );
}

/// The grouper's timers are in the evaluator's saved state; the notification log
/// is what keeps evaluators that read that state before a send (a standby taking
/// over, a restart after a crash between sending and saving, two evaluators
/// running at once) from saying it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_evaluators_and_a_stale_restart_notify_each_change_once() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let (url, received) = receivers().await;
    let settings = AlertsSettings {
        receivers: vec![
            receiver("hook", format!("{url}/webhook"), ReceiverFormat::Webhook),
            receiver("slack", format!("{url}/slack"), ReceiverFormat::Slack),
        ],
        ..AlertsSettings::default()
    };
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let t0 = OffsetDateTime::now_utc();
    count(&counters, traffic("api", 100, 20, t0), 1).await;
    let at = |secs: i64| t0 + time::Duration::seconds(secs);
    let mut first = evaluator(&stack, &redis, &counters, &settings).await;
    first.tick(t0).await.unwrap();
    let tick = first.tick(at(120)).await.unwrap();
    assert_eq!(tick.transitions.len(), 1, "firing, group_wait running");
    // Three evaluators resume from this state: none has notified yet.
    let mut second = evaluator(&stack, &redis, &counters, &settings).await;
    let mut stale = evaluator(&stack, &redis, &counters, &settings).await;
    let (a, b) = tokio::join!(first.tick(at(150)), second.tick(at(150)));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        (a.notifications.len(), b.notifications.len()),
        (1, 1),
        "both find the group due"
    );
    assert_eq!(
        a.deliveries.len() + b.deliveries.len(),
        2,
        "one delivery per receiver between them: {a:?} {b:?}"
    );
    assert_eq!(a.already_said.len() + b.already_said.len(), 2);
    // The one that read the state before both sent (a restart that lost its
    // save) finds the group due, and the log says it was said.
    let tick = stale.tick(at(160)).await.unwrap();
    assert_eq!(tick.notifications.len(), 1);
    assert!(tick.deliveries.is_empty(), "{tick:?}");
    assert_eq!(tick.already_said.len(), 2);
    let seen = |path: &str| {
        let r = received.lock().unwrap();
        r.iter().filter(|x| x.0 == path).count()
    };
    assert_eq!((seen("/webhook"), seen("/slack")), (1, 1));

    // The errors leave the window: each resolves it; one says so.
    let mut stale = evaluator(&stack, &redis, &counters, &settings).await;
    let tick = first.tick(at(460)).await.unwrap();
    assert_eq!(tick.notifications[0].status, Status::Resolved);
    assert_eq!(tick.deliveries.len(), 2);
    let tick = stale.tick(at(470)).await.unwrap();
    assert_eq!(tick.transitions.len(), 1, "it resolves too");
    assert_eq!(tick.notifications.len(), 1);
    assert!(tick.deliveries.is_empty(), "{tick:?}");
    assert_eq!((seen("/webhook"), seen("/slack")), (2, 2));
    let said: Vec<_> = received
        .lock()
        .unwrap()
        .iter()
        .filter(|x| x.0 == "/webhook")
        .map(|x| x.2["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(said, ["firing", "resolved"]);
}

/// A firing alert nobody acknowledges goes up to the escalation's receiver after
/// `after` (a shortened timer), once, and its resolution follows; an alert
/// acknowledged in time does not go up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_alert_escalates_and_an_acknowledged_one_does_not() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let (url, received) = receivers().await;
    let settings = AlertsSettings {
        receivers: vec![
            receiver("team", format!("{url}/slack"), ReceiverFormat::Slack),
            receiver("lead", format!("{url}/webhook"), ReceiverFormat::Webhook),
        ],
        route: Some(sightline_runtime::config::RouteSettings {
            receiver: Some("team".into()),
            ..Default::default()
        }),
        escalations: vec![sightline_runtime::config::EscalationSettings {
            matchers: vec!["alertname=HighErrorRate".into()],
            after: Duration::from_secs(60),
            receiver: "lead".into(),
        }],
        ..AlertsSettings::default()
    };
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let t0 = OffsetDateTime::now_utc();
    let mut events = traffic("api", 100, 20, t0);
    events.extend(traffic("web", 100, 30, t0));
    count(&counters, events, 1).await;
    let at = |secs: i64| t0 + time::Duration::seconds(secs);
    let store = AlertStore::connect(&redis.url(), "sightline")
        .await
        .unwrap();
    let mut eval = evaluator(&stack, &redis, &counters, &settings).await;
    eval.tick(t0).await.unwrap();
    eval.tick(at(120)).await.unwrap();
    // web's is acknowledged while it fires; api's is not.
    let saved = store.load().await.unwrap();
    let web = saved
        .book
        .active()
        .find(|a| a.labels["service"] == "web")
        .unwrap();
    let ack = sightline_alerts::ack::Ack::of(web, "ana", "on it", at(130)).unwrap();
    store.add_ack(&ack).await.unwrap();
    let tick = eval.tick(at(150)).await.unwrap();
    assert_eq!(tick.notifications.len(), 1, "the team's group");
    assert_eq!(tick.notifications[0].receiver.as_deref(), Some("team"));
    let tick = eval.tick(at(170)).await.unwrap();
    assert!(tick.notifications.is_empty(), "firing 50 s: not yet");
    let tick = eval.tick(at(180)).await.unwrap();
    let up: Vec<_> = tick
        .notifications
        .iter()
        .map(|n| {
            (
                n.receiver.clone().unwrap(),
                n.alerts[0].labels["service"].clone(),
            )
        })
        .collect();
    assert_eq!(up, [("lead".to_owned(), "api".to_owned())], "api only");
    assert!(matches!(tick.deliveries[0], Delivery::Delivered { .. }));
    assert!(
        eval.tick(at(240)).await.unwrap().notifications.is_empty(),
        "once"
    );
    // A restart keeps what was escalated.
    let mut eval = evaluator(&stack, &redis, &counters, &settings).await;
    assert!(eval.tick(at(250)).await.unwrap().notifications.is_empty());
    // Both resolve: the lead hears of api's resolution, not of web's.
    let tick = eval.tick(at(460)).await.unwrap();
    let told: Vec<_> = tick
        .notifications
        .iter()
        .map(|n| (n.receiver.clone().unwrap(), n.status, n.alerts.len()))
        .collect();
    assert_eq!(
        told,
        [
            ("lead".to_owned(), Status::Resolved, 1),
            ("team".to_owned(), Status::Resolved, 2)
        ]
    );
    assert!(
        store.acks().await.unwrap().is_empty(),
        "web's ack is let go"
    );
    let r = received.lock().unwrap();
    let lead: Vec<_> = r.iter().filter(|x| x.0 == "/webhook").collect();
    assert_eq!(lead.len(), 2);
    assert_eq!(lead[0].2["status"], "firing");
    assert_eq!(lead[0].2["alerts"][0]["labels"]["service"], "api");
    assert_eq!(lead[1].2["status"], "resolved");
}

#[tokio::test]
async fn silences_are_managed_from_the_cli() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(sightline_tests::sightline_bin())
            .args(args)
            .env("SIGHTLINE_REDIS__URL", redis.url())
            .env(
                "SIGHTLINE_NATS__URL",
                stack.settings.nats.url.clone().unwrap(),
            )
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, id, _) = run(&[
        "alerts",
        "silence",
        "service=web",
        "--for",
        "2h",
        "--comment",
        "deploy",
    ]);
    assert!(ok);
    let (ok, listed, _) = run(&["alerts", "list", "--json"]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(listed["silences"][0]["id"], id.trim());
    assert_eq!(listed["silences"][0]["matchers"]["service"], "web");
    let (ok, _, err) = run(&["alerts", "silence", "service"]);
    assert!(!ok && err.contains("label=value"), "{err}");
    let (ok, _, _) = run(&["alerts", "unsilence", id.trim()]);
    assert!(ok);
    let (ok, _, _) = run(&["alerts", "unsilence", id.trim()]);
    assert!(!ok, "already ended");
}

fn payment(service: &str, user: &str, failed: bool, at: OffsetDateTime) -> Event {
    Event::at(
        at,
        service,
        Body::Transaction(sightline_schemas::Transaction {
            transaction_id: format!("tx-{}", at.unix_timestamp_nanos()),
            user_id: user.into(),
            amount: sightline_schemas::Decimal::new(1999, 2),
            currency: "EUR".into(),
            payment_method: "card".into(),
            status: if failed {
                sightline_schemas::TxStatus::Failed
            } else {
                sightline_schemas::TxStatus::Completed
            },
            order_id: None,
            ip: None,
            country: None,
            billing_country: None,
            lat: None,
            lon: None,
            card_fingerprint: None,
            failure_reason: None,
        }),
    )
}

fn detection(user: &str, score: u8, at: OffsetDateTime) -> sightline_schemas::Detection {
    sightline_schemas::Detection {
        id: sightline_schemas::Uuid::new_v4(),
        revision: 0,
        rules_version: "test".into(),
        event_id: sightline_schemas::Uuid::nil(),
        transaction_id: "tx-risky".into(),
        user_id: user.into(),
        service: "pay".into(),
        amount: sightline_schemas::Decimal::new(99_900, 2),
        currency: "EUR".into(),
        status: sightline_schemas::TxStatus::Completed,
        payment_method: "card".into(),
        country: None,
        ip: None,
        ip_ref: None,
        score,
        indicators: Vec::new(),
        typologies: Vec::new(),
        verdict: None,
        occurred_at: at,
        detected_at: at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_built_in_rule_fires_on_its_pattern() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let t0 = OffsetDateTime::now_utc();
    // Spread over the six minutes before t0, so the windows ending at t0 - 5 min
    // and at t0 both see it: the rules with `for = 5m` fire at t0.
    let spread = |i: usize, n: usize| t0 - Duration::from_millis(360_000 * i as u64 / n as u64);
    let mut events = Vec::new();
    for i in 0..600 {
        // One request in five fails, evenly over the six minutes.
        let failing = usize::from(i % 5 == 0);
        events.extend(traffic("api", 1, failing, spread(i, 600)));
    }
    for i in 0..200 {
        let mut slow = traffic("api", 1, 0, spread(i, 200)).remove(0);
        if let Body::Performance(p) = &mut slow.payload {
            p.response_time_ms = 2_500.0;
        }
        events.push(slow);
        events.push(payment("pay", "u-1", i % 2 == 0, spread(i, 200)));
    }
    events.extend(traffic("legacy", 10, 0, t0 - Duration::from_secs(1800)));
    // Payments on `pay` usually fail 2% of the time (a thousand, two hours ago);
    // in the last six minutes half of them failed.
    for i in 0..1000 {
        let at = t0 - Duration::from_secs(7200) + Duration::from_millis(i * 100);
        events.push(payment("pay", "u-1", i % 50 == 0, at));
    }
    count(&counters, events, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let detections = SqliteStore::open(&dir.path().join("d.sqlite")).unwrap();
    detections
        .upsert(&[
            detection("u-risky", 90, t0 - Duration::from_secs(60)),
            detection("u-fine", 40, t0 - Duration::from_secs(60)),
        ])
        .await
        .unwrap();

    let sources = Sources {
        counters: Reader::new(&counters),
        detections: Some(detections),
        search: None,
        statuses: None,
    };
    let settings = AlertsSettings::default();
    let mut eval = evaluator_of(&stack, &redis, Rules::default(), sources, &settings).await;
    let first = eval.tick(t0 - Duration::from_secs(300)).await.unwrap();
    assert!(first.unmeasured.is_empty(), "{:?}", first.unmeasured);
    eval.tick(t0).await.unwrap();
    let mut firing: Vec<(String, String)> = eval
        .saved()
        .book
        .active()
        .filter(|a| a.status == Status::Firing)
        .map(|a| {
            let label = ["service", "series", "user_id"]
                .iter()
                .find_map(|l| a.labels.get(*l))
                .cloned()
                .unwrap_or_default();
            (a.rule.clone(), label)
        })
        .collect();
    firing.sort();
    assert_eq!(
        firing,
        [
            ("FailedPaymentSpike".to_owned(), "pay".to_owned()),
            ("FraudScoreHigh".to_owned(), "u-risky".to_owned()),
            ("HighErrorRate".to_owned(), "api".to_owned()),
            ("ServiceSilent".to_owned(), "legacy".to_owned()),
            ("SlowResponses".to_owned(), "all".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alerts_worker_notifies_the_receiver_its_route_names() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let (url, received) = receivers().await;
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    count(
        &counters,
        traffic("api", 100, 30, OffsetDateTime::now_utc()),
        1,
    )
    .await;
    // The built-in rules, told to fire and notify at once.
    let rules = include_str!("../../../config/alert-rules.toml")
        .replace("group_wait = \"30s\"", "group_wait = \"0s\"")
        .replacen("for = \"2m\"", "for = \"0s\"", 1);
    std::fs::write(stack.path("rules.toml"), rules).unwrap();
    let config = format!(
        "[redis]\nurl = \"{}\"\n[alerts]\ninterval = \"200ms\"\nrules_file = \"{}\"\n\
         [[alerts.receivers]]\nname = \"hook\"\nurl = \"{url}/webhook\"\nformat = \"webhook\"\n\
         [[alerts.receivers]]\nname = \"chat\"\nurl = \"{url}/slack\"\nformat = \"slack\"\n\
         [alerts.route]\nreceiver = \"hook\"\n\
         [[alerts.route.routes]]\nmatchers = [\"service=~check.*\"]\nreceiver = \"chat\"\n",
        redis.url(),
        stack.path("rules.toml").display()
    );
    std::fs::write(stack.path("sightline.toml"), config).unwrap();
    let evaluator = |metrics: std::net::SocketAddr| {
        let worker = std::process::Command::new(sightline_tests::sightline_bin())
            .args(["worker", "alerts"])
            .env("SIGHTLINE_CONSUMER__METRICS_ADDR", metrics.to_string())
            .env(
                "SIGHTLINE_NATS__URL",
                stack.settings.nats.url.clone().unwrap(),
            )
            .env("SIGHTLINE_DATA_DIR", stack.path("data"))
            .current_dir(stack.dir.path())
            .spawn()
            .unwrap();
        sightline_tests::WorkerProcess(worker)
    };
    // Two instances: one evaluates, the other stands by.
    let port = || sightline_runtime::servers::free_port().unwrap();
    let addrs = [port(), port()].map(|p| std::net::SocketAddr::from(([127, 0, 0, 1], p)));
    let (first, second) = (evaluator(addrs[0]), evaluator(addrs[1]));
    let notified = sightline_tests::eventually(Duration::from_secs(20), || async {
        !received.lock().unwrap().is_empty()
    })
    .await;
    // Five more evaluations: the group is unchanged, so nothing more is sent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Each says on /metrics whether it is the active one; only that one evaluates.
    let mut scraped = Vec::new();
    for addr in addrs {
        let body = sightline_tests::http_get(addr, "/metrics").await.1;
        let read = |name| sightline_tests::metric_value(&body, name);
        scraped.push((
            read("sightline_alerts_evaluator_active"),
            read("sightline_alerts_evaluations_total{outcome=\"ok\"}"),
        ));
    }
    scraped.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert_eq!(
        scraped[0],
        (Some(0.0), Some(0.0)),
        "the standby: {scraped:?}"
    );
    assert_eq!(scraped[1].0, Some(1.0), "the active one: {scraped:?}");
    assert!(scraped[1].1 >= Some(5.0), "it evaluates: {scraped:?}");
    let status = stack.sightline(&["status", "--json"], None);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&status.stderr)));
    let holder = status["leases"]["ALERTS.evaluator"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let pids = [first.0.id(), second.0.id()];
    first.stop();
    second.stop();
    assert!(
        pids.iter().any(|p| holder.contains(&format!("/{p}/"))),
        "the evaluator's lease is held by one of them: {holder}"
    );
    assert!(notified, "the receiver was notified");
    let r = received.lock().unwrap();
    assert_eq!(
        r.len(),
        1,
        "once, not at every evaluation nor by each instance"
    );
    assert_eq!(r[0].2["alerts"][0]["rule"], "HighErrorRate");
    assert_eq!(r[0].2["alerts"][0]["labels"]["service"], "api");
    assert_eq!(
        r[0].0, "/webhook",
        "routed to the root's receiver, not checkout's"
    );
}
