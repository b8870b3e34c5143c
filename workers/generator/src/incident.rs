//! Labeled operational incidents: a service failing, slowing down or going
//! silent, or the payment provider declining. Between them traffic is steady and
//! healthy, so an alert rule that fires outside an incident is a false alarm.
//! Incidents never overlap, and a quiet stretch follows each one so that alerts
//! resolve before the next begins: each alert belongs to at most one incident.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// One endpoint answers 503 to a large share of requests, each with an error event.
    ErrorBurst,
    /// One endpoint answers slowly (seconds instead of tens of milliseconds).
    LatencySpike,
    /// The payment provider declines a large share of payments.
    PaymentFailures,
    /// One service sends nothing at all.
    Silent,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 4] = [
        IncidentKind::ErrorBurst,
        IncidentKind::LatencySpike,
        IncidentKind::PaymentFailures,
        IncidentKind::Silent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::ErrorBurst => "error_burst",
            IncidentKind::LatencySpike => "latency_spike",
            IncidentKind::PaymentFailures => "payment_failures",
            IncidentKind::Silent => "silent_service",
        }
    }

    /// How long it lasts, in minutes: long enough for a rule with a 5-10 minute
    /// window and a `for` of a few minutes to see it, as real incidents are.
    fn minutes(self) -> std::ops::Range<i64> {
        match self {
            IncidentKind::ErrorBurst => 5..11,
            IncidentKind::LatencySpike => 9..16,
            IncidentKind::PaymentFailures => 11..17,
            IncidentKind::Silent => 13..21,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub kind: IncidentKind,
    /// The service affected (`payments` for payment failures).
    pub service: &'static str,
    /// The endpoint affected, for error bursts and latency spikes.
    pub endpoint: &'static str,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl Incident {
    pub fn covers(&self, at: OffsetDateTime) -> bool {
        self.start <= at && at < self.end
    }
}

/// When incidents happen: one at a time, on average `every` apart.
pub(crate) struct Schedule {
    /// Mean time from the end of one incident to the start of the next; None: never.
    every: Option<Duration>,
    next: Option<OffsetDateTime>,
    pub(crate) current: Option<Incident>,
    pub(crate) past: Vec<Incident>,
}

/// The least time between incidents: the longest rule window (10 minutes) plus
/// the time its alerts take to resolve.
const QUIET: Duration = Duration::minutes(20);

impl Schedule {
    pub(crate) fn new(every: Option<Duration>) -> Self {
        Self {
            every,
            next: None,
            current: None,
            past: Vec::new(),
        }
    }

    pub(crate) fn set_every(&mut self, every: Option<Duration>) {
        self.every = every;
        self.next = None;
    }

    /// Brings the schedule to `at`; `pick` chooses a service and endpoint for a
    /// new incident.
    pub(crate) fn advance(
        &mut self,
        rng: &mut ChaCha8Rng,
        at: OffsetDateTime,
        pick: impl FnOnce(&mut ChaCha8Rng) -> (&'static str, &'static str),
    ) {
        let Some(every) = self.every else { return };
        if self.current.as_ref().is_some_and(|i| i.end <= at) {
            let ended = self.current.take().expect("checked");
            self.next = Some(ended.end + QUIET + exponential(rng, every));
            self.past.push(ended);
        }
        let next = *self
            .next
            .get_or_insert_with(|| at + QUIET + exponential(rng, every));
        if self.current.is_some() || at < next {
            return;
        }
        let kind = IncidentKind::ALL[rng.random_range(0..IncidentKind::ALL.len())];
        let (service, endpoint) = match kind {
            IncidentKind::PaymentFailures => ("payments", "/api/payments"),
            _ => pick(rng),
        };
        let minutes = kind.minutes();
        let length = Duration::seconds(rng.random_range(minutes.start * 60..minutes.end * 60));
        self.current = Some(Incident {
            kind,
            service,
            endpoint,
            start: at,
            end: at + length,
        });
    }

    /// Every incident begun so far, the one in progress last.
    pub(crate) fn all(&self) -> Vec<Incident> {
        self.past.iter().chain(&self.current).cloned().collect()
    }

    /// True when `service` is silent at `at`. Events wait in the generator's
    /// queue (an episode schedules many at once), so `at` may belong to an
    /// incident that has just ended.
    pub(crate) fn silences(&self, service: &str, at: OffsetDateTime) -> bool {
        self.current
            .iter()
            .chain(self.past.iter().rev().take(2))
            .any(|i| i.kind == IncidentKind::Silent && i.service == service && i.covers(at))
    }

    pub(crate) fn current(&self, kind: IncidentKind) -> Option<&Incident> {
        self.current.as_ref().filter(|i| i.kind == kind)
    }
}

fn exponential(rng: &mut ChaCha8Rng, mean: Duration) -> Duration {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    Duration::seconds_f64(-u.ln() * mean.as_seconds_f64())
}
