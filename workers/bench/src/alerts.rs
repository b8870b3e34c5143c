//! `sightline bench alerts`: do the alert rules fire on incidents, and only on
//! them? Hours of generated traffic with labeled incidents (a failing, slow or
//! silent service, a payment provider declining) and fraud episodes go through
//! the real workers into the counters and the detections store. The rules
//! (built-in, or `alerts.rules_file`) are then evaluated every 30 s of that
//! traffic's time, as the alerts worker would have, and each alert that fired is
//! matched with the incident it belongs to.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use sightline_alerts::measure::{Measure, Sources};
use sightline_alerts::{AlertBook, Condition, Rule, Rules, Status};
use sightline_api::AppState;
use sightline_counters::Reader;
use sightline_fraud::store::DetectionStore;
use sightline_generator::{label, Generator, Incident, IncidentKind, DEFAULT_POPULATION};
use sightline_runtime::publisher::Publisher;
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;
use sightline_schemas::{Body, Event};
use time::{Duration, OffsetDateTime};

use super::pipeline::{wait_for_consumers, wait_until_applied};
use super::{bench_bus, bench_redis, spawn_workers, Report};
use sightline_fraud::store::configured::{Access, ConfiguredDetections};
use sightline_node::stores;

/// How often the rules are evaluated over the traffic's time.
const STEP: Duration = Duration::seconds(30);

pub struct Traffic {
    pub hours: f64,
    pub rate: f64,
    pub incident_every: std::time::Duration,
    pub seed: u64,
}

/// One user's fraud: labeled events no more than [`EPISODE_GAP`] apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub user: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

const EPISODE_GAP: Duration = Duration::minutes(30);

/// An alert that went to firing.
#[derive(Debug, Clone)]
pub struct Fired {
    pub rule: String,
    pub labels: BTreeMap<String, String>,
    pub at: OffsetDateTime,
}

pub async fn run(mut settings: Settings, traffic: Traffic) -> Report {
    // Minute buckets are kept 48 h: older traffic could not be read back.
    anyhow::ensure!(
        traffic.hours > 0.0 && traffic.hours <= 47.0,
        "--hours must be more than 0 and at most 47"
    );
    anyhow::ensure!(traffic.rate > 0.0, "--rate must be more than 0");
    let rules = Rules::load_or_default(settings.alerts.rules_file.as_deref())?;
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    let data = tempfile::tempdir()?;
    settings.data_dir = data.path().to_owned();
    let _redis = bench_redis(&mut settings, data.path())?;
    let workers = spawn_workers(&settings, &["indexer counters fraud", "fraud-store"])?;
    let state = AppState::connect(settings.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    wait_for_consumers(bus).await?;

    let end = OffsetDateTime::now_utc() - Duration::minutes(1);
    let start = end - Duration::seconds_f64(traffic.hours * 3600.0);
    let mut generator = Generator::new(traffic.seed, start, DEFAULT_POPULATION)
        .with_rate(traffic.rate)
        .with_incidents(Some(traffic.incident_every));
    let publisher = Publisher::new(bus, &settings.publisher);
    let mut pipeline = publisher.pipeline();
    let mut fraud = Vec::new();
    let started = Instant::now();
    let mut events = 0u64;
    loop {
        let event = generator.next_event();
        if event.occurred_at > end {
            break;
        }
        if let (Some(_), Some(user)) = (label(&event), user_of(&event)) {
            fraud.push((user.to_owned(), event.occurred_at));
        }
        pipeline.send(&event).await?;
        events += 1;
    }
    pipeline.finish().await?;
    wait_until_applied(bus, &state, events, started).await?;
    let applied_s = started.elapsed().as_secs_f64();
    drop(workers);

    let incidents: Vec<Incident> = generator
        .incidents()
        .into_iter()
        .filter(|i| i.end <= end)
        .collect();
    let episodes = episodes(fraud);
    let version = stores::live_version(&settings, Target::Counters).await?;
    let counters = stores::counters(&settings, version).await?;
    let version = stores::live_version(&settings, Target::Fraud).await?;
    let (fraud, dir) = (&settings.fraud, &settings.data_dir);
    let detections = ConfiguredDetections::open(fraud, dir, version, Access::Write).await?;
    let fired = evaluate(&rules.rules, &counters, detections, start, end).await?;
    let report = serde_json::json!({
        "bench": "alerts",
        "events": events,
        "hours": traffic.hours,
        "rate_per_s": traffic.rate,
        "seed": traffic.seed,
        "applied_s": applied_s.round(),
        "incidents": incidents.len(),
        "fraud_episodes": episodes.len(),
        "rules": classify(&rules.rules, &fired, &incidents, &episodes, end),
    });
    Ok(report)
}

fn user_of(event: &Event) -> Option<&str> {
    match &event.payload {
        Body::Transaction(t) => Some(&t.user_id),
        Body::Security(s) => s.user_id.as_deref(),
        Body::UserBehavior(b) => Some(&b.user_id),
        Body::Error(e) => e.user_id.as_deref(),
        Body::Performance(_) | Body::Log(_) => None,
    }
}

/// Labeled events grouped per user into episodes.
fn episodes(mut labeled: Vec<(String, OffsetDateTime)>) -> Vec<Episode> {
    labeled.sort();
    let mut out: Vec<Episode> = Vec::new();
    for (user, at) in labeled {
        match out.last_mut() {
            Some(e) if e.user == user && at - e.end <= EPISODE_GAP => e.end = at,
            _ => out.push(Episode {
                user,
                start: at,
                end: at,
            }),
        }
    }
    out
}

/// Every rule evaluated every [`STEP`] from `start` to `end`: the alerts that
/// went to firing.
async fn evaluate<D: DetectionStore>(
    rules: &[Rule],
    counters: &sightline_counters::RedisStore,
    detections: D,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> anyhow::Result<Vec<Fired>> {
    let sources = Sources {
        counters: Reader::new(counters),
        detections: Some(detections),
        search: None,
        statuses: None,
    };
    let mut book = AlertBook::default();
    let mut fired = Vec::new();
    let mut now = start + STEP;
    while now <= end {
        for rule in rules {
            let samples = sources.measure(rule, now).await?;
            for t in book.evaluate(rule, &samples, now) {
                if t.alert.status == Status::Firing {
                    fired.push(Fired {
                        rule: rule.name.clone(),
                        labels: t.alert.labels,
                        at: now,
                    });
                }
            }
        }
        now += STEP;
    }
    Ok(fired)
}

/// What a rule is meant to catch.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Catches {
    Incident(IncidentKind),
    Fraud,
    /// A rule of a type no incident is labeled for: every incident is its own.
    Anything,
}

fn catches(rule: &Rule) -> Catches {
    match rule.when {
        Condition::Ratio { .. } => Catches::Incident(IncidentKind::ErrorBurst),
        Condition::RatioSpike { .. } => Catches::Incident(IncidentKind::PaymentFailures),
        Condition::Latency { .. } => Catches::Incident(IncidentKind::LatencySpike),
        Condition::Silent { .. } => Catches::Incident(IncidentKind::Silent),
        Condition::FraudScore { .. } => Catches::Fraud,
        Condition::Count { .. }
        | Condition::SeverityRate { .. }
        | Condition::Query { .. }
        | Condition::NewIssue { .. }
        | Condition::Regression
        | Condition::NewPattern { .. }
        | Condition::PatternSpike { .. }
        | Condition::Anomaly { .. } => Catches::Anything,
    }
}

#[derive(Debug, Serialize, PartialEq)]
pub struct RuleReport {
    pub rule: String,
    pub catches: String,
    pub fired_inside: usize,
    pub fired_outside: usize,
    pub incidents: usize,
    pub caught: usize,
    /// The first few alerts outside any incident, to look into.
    pub outside: Vec<String>,
}

/// A labeled stretch of time an alert may belong to: an incident or an episode.
struct Span<'a> {
    service: Option<&'a str>,
    user: Option<&'a str>,
    start: OffsetDateTime,
    end: OffsetDateTime,
}

impl Span<'_> {
    /// `f` belongs to this span: its labels agree, and it fired after the span
    /// began and before the rule's window stopped seeing it.
    fn owns(&self, f: &Fired, window: Duration) -> bool {
        let agree = |key: &str, value: Option<&str>| {
            value.is_none() || f.labels.get(key).is_none_or(|v| Some(v.as_str()) == value)
        };
        agree("service", self.service)
            && agree("user_id", self.user)
            && self.start <= f.at
            && f.at <= self.end + window + STEP
    }
}

/// Per rule: alerts inside and outside the spans it is meant to catch, and how
/// many of those (ended before `end`) it caught.
pub fn classify(
    rules: &[Rule],
    fired: &[Fired],
    incidents: &[Incident],
    episodes: &[Episode],
    end: OffsetDateTime,
) -> Vec<RuleReport> {
    rules
        .iter()
        .map(|rule| {
            let window = Duration::try_from(rule.window).unwrap_or(Duration::ZERO);
            let what = catches(rule);
            let spans: Vec<Span> = match what {
                Catches::Fraud => episodes
                    .iter()
                    .map(|e| Span {
                        service: None,
                        user: Some(&e.user),
                        start: e.start,
                        end: e.end,
                    })
                    .collect(),
                Catches::Incident(_) | Catches::Anything => incidents
                    .iter()
                    .filter(|i| what == Catches::Anything || what == Catches::Incident(i.kind))
                    .map(|i| Span {
                        // Payment failures are the provider's, seen on payments.
                        service: (what != Catches::Anything).then_some(i.service),
                        user: None,
                        start: i.start,
                        end: i.end,
                    })
                    .collect(),
            };
            let mine: Vec<&Fired> = fired.iter().filter(|f| f.rule == rule.name).collect();
            let (inside, outside): (Vec<&Fired>, Vec<&Fired>) = mine
                .into_iter()
                .partition(|f| spans.iter().any(|s| s.owns(f, window)));
            let due: Vec<&Span> = spans.iter().filter(|s| s.end + window <= end).collect();
            let caught = due
                .iter()
                .filter(|s| inside.iter().any(|f| s.owns(f, window)))
                .count();
            RuleReport {
                rule: rule.name.clone(),
                catches: match what {
                    Catches::Incident(kind) => kind.as_str().into(),
                    Catches::Fraud => "fraud_episode".into(),
                    Catches::Anything => "any".into(),
                },
                fired_inside: inside.len(),
                fired_outside: outside.len(),
                incidents: due.len(),
                caught,
                outside: outside
                    .iter()
                    .take(5)
                    .map(|f| format!("{} {:?}", f.at, f.labels))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
