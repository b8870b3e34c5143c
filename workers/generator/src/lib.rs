//! Realistic e-commerce traffic for demos, tests and detector scoring. The same seed
//! and start time give the same events, ids included. Events of a fraud episode
//! carry the tag `synthetic_fraud=<pattern>` so detectors can be scored; detectors
//! must never read it.

mod fraud;
mod incident;
mod logs;
mod population;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sightline_schemas::{
    Body, ErrorEvent, Event, Performance, Security, Transaction, TxStatus, UserBehavior, Uuid,
};
use time::{Duration, OffsetDateTime};

pub use fraud::Pattern;
use incident::Schedule;
pub use incident::{Incident, IncidentKind};
use population::{lognormal, money, users, weighted, User};

/// Users in the default simulated shop. At 200 events/s each user is active about
/// once in five minutes, so honest users seldom look like a burst; a small
/// population squeezed into a short run would make every user hyperactive.
pub const DEFAULT_POPULATION: usize = 60_000;

/// The tag that labels events of a fraud episode.
pub const LABEL_TAG: &str = "synthetic_fraud";

const SERVICES: &[(&str, &str)] = &[
    ("/api/checkout", "checkout"),
    ("/api/cart", "cart"),
    ("/api/products", "catalog"),
    ("/api/search", "search"),
    ("/api/login", "auth"),
    ("/api/payments", "payments"),
];
const ACTIONS: &[(&str, u32)] = &[
    ("view", 55),
    ("search", 15),
    ("add_to_cart", 14),
    ("checkout", 7),
    ("purchase", 5),
    ("abandon", 4),
];
/// Errors are not drawn on their own: a failed request (a performance event
/// with a 4xx or 5xx status) reports one, as services do.
const KINDS: &[(u8, u32)] = &[(0, 40), (1, 30), (2, 15), (3, 8)];

/// Mean simulated events per second unless set otherwise.
pub const SIMULATED_RATE: f64 = 200.0;

/// Mean time between labeled incidents unless set otherwise.
pub const DEFAULT_INCIDENT_EVERY: std::time::Duration = std::time::Duration::from_secs(40 * 60);

pub struct Generator {
    rng: ChaCha8Rng,
    clock: OffsetDateTime,
    /// Mean simulated events per second.
    rate: f64,
    users: Vec<User>,
    /// Events waiting for their instant, by (instant, insertion order).
    scheduled: BinaryHeap<Reverse<(OffsetDateTime, u64)>>,
    held: HashMap<u64, Event>,
    order: u64,
    /// Labeled incidents: failing, slow or silent services, declined payments.
    incidents: Schedule,
    /// Chance that an event starts a fraud episode.
    fraud_rate: f64,
    /// Share of events that are log records, drawn from `log_rng`.
    log_share: f64,
    log_rng: ChaCha8Rng,
    /// The last commerce event given out, which log records describe.
    last: Option<Event>,
}

impl Generator {
    /// A generator whose simulated clock starts at `start`.
    pub fn new(seed: u64, start: OffsetDateTime, population: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let users = users(&mut rng, population.max(10));
        Self {
            rng,
            clock: start,
            rate: SIMULATED_RATE,
            users,
            scheduled: BinaryHeap::new(),
            held: HashMap::new(),
            order: 0,
            incidents: Schedule::new(Some(
                Duration::try_from(DEFAULT_INCIDENT_EVERY).expect("fits"),
            )),
            fraud_rate: 0.004,
            log_share: 0.0,
            log_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6c6f_6773),
            last: None,
        }
    }

    /// Sets the share of events that are application log records (0 unless
    /// set): the request lines, errors and housekeeping of the services. The
    /// commerce events stay the same ones, with the records between them.
    pub fn with_log_share(mut self, share: f64) -> Self {
        self.log_share = share.clamp(0.0, 0.95);
        self
    }

    /// Sets the chance that any one event starts a fraud episode (0 disables fraud).
    pub fn with_fraud_rate(mut self, rate: f64) -> Self {
        self.fraud_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Sets the mean simulated events per second (200 unless set).
    pub fn with_rate(mut self, per_second: f64) -> Self {
        self.rate = per_second.max(0.001);
        self
    }

    /// Sets the mean time between labeled incidents; None: steady traffic only.
    pub fn with_incidents(mut self, every: Option<std::time::Duration>) -> Self {
        self.incidents
            .set_every(every.and_then(|d| Duration::try_from(d).ok()));
        self
    }

    /// Every incident begun so far, in order; the last may be in progress.
    pub fn incidents(&self) -> Vec<Incident> {
        self.incidents.all()
    }

    fn silenced(&self, service: &str, at: OffsetDateTime) -> bool {
        self.incidents.silences(service, at)
    }

    /// The next event in time order.
    pub fn next_event(&mut self) -> Event {
        if self.log_share > 0.0 && self.log_rng.random_bool(self.log_share) {
            if let Some(last) = &self.last {
                // At the instant of the event it describes: time order holds.
                return logs::record(&mut self.log_rng, last);
            }
        }
        loop {
            let event = self.draw();
            // A fraud episode scheduled earlier keeps quiet while its service does.
            if !self.silenced(&event.service, event.occurred_at) {
                if self.log_share > 0.0 {
                    self.last = Some(event.clone());
                }
                return event;
            }
        }
    }

    fn draw(&mut self) -> Event {
        self.clock +=
            Duration::seconds_f64(-self.rng.random_range(f64::EPSILON..1.0f64).ln() / self.rate);
        if self.rng.random_bool(self.fraud_rate) {
            let pattern = Pattern::ALL[self.rng.random_range(0..Pattern::ALL.len())];
            for event in fraud::episode(self, pattern) {
                self.schedule(event);
            }
        }
        let normal = self.normal_event();
        self.schedule(normal);
        let Reverse((_, order)) = self.scheduled.pop().expect("an event was just scheduled");
        self.held
            .remove(&order)
            .expect("every scheduled event is held")
    }

    fn schedule(&mut self, event: Event) {
        self.order += 1;
        self.scheduled
            .push(Reverse((event.occurred_at, self.order)));
        self.held.insert(self.order, event);
    }

    /// A UUIDv7 for `at` whose random bits come from the seed.
    fn id(&mut self, at: OffsetDateTime) -> Uuid {
        let millis = (at.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        uuid::Builder::from_unix_timestamp_millis(millis, &self.rng.random()).into_uuid()
    }

    fn envelope(&mut self, at: OffsetDateTime, service: &str, body: Body) -> Event {
        let mut event = Event::at(at, service, body);
        event.id = self.id(at);
        event.env = Some("production".into());
        event.host = Some(format!("{service}-{}", self.rng.random_range(1..=4)));
        event.trace_id = Some(format!("{:032x}", self.rng.random::<u128>()));
        event
    }

    fn normal_event(&mut self) -> Event {
        let at = self.clock;
        self.incidents.advance(&mut self.rng, at, |rng| {
            let (endpoint, service) = SERVICES[rng.random_range(0..SERVICES.len())];
            (service, endpoint)
        });
        loop {
            let user = self.rng.random_range(0..self.users.len());
            let (endpoint, service) = SERVICES[self.rng.random_range(0..SERVICES.len())];
            let body = match weighted(&mut self.rng, KINDS) {
                0 => self.behavior(user),
                1 => self.performance(endpoint),
                2 => Body::Transaction(self.transaction(user, TxStatus::Completed)),
                _ => self.security(user),
            };
            let service = match &body {
                Body::Transaction(_) => "payments",
                Body::Security(_) => "auth",
                _ => service,
            };
            if self.silenced(service, at) {
                continue;
            }
            if let Body::Performance(p) = &body {
                if p.status_code >= 400 {
                    let error = self.error(endpoint, p.status_code, user);
                    let error = self.envelope(at, service, error);
                    self.schedule(error);
                }
            }
            return self.envelope(at, service, body);
        }
    }

    fn behavior(&mut self, user: usize) -> Body {
        let u = &self.users[user];
        let action = weighted(&mut self.rng, ACTIONS);
        Body::UserBehavior(UserBehavior {
            user_id: u.id.clone(),
            session_id: format!("s-{}-{}", u.id, self.clock.unix_timestamp() / 1800),
            action: action.into(),
            page: format!("/products/{}", self.rng.random_range(1..500)),
            ip: Some(population::ip_string(u.ip)),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".into()),
            product_id: Some(format!("p{}", self.rng.random_range(1..500))),
        })
    }

    fn latency(&mut self, slow: bool) -> f64 {
        let base = lognormal(&mut self.rng, 80f64.ln(), 0.6);
        // A heavy tail: one request in a hundred waits on something slow.
        let tail = if slow || self.rng.random_bool(0.01) {
            lognormal(&mut self.rng, 1500f64.ln(), 0.5)
        } else {
            0.0
        };
        ((base + tail) * 100.0).round() / 100.0
    }

    fn performance(&mut self, endpoint: &'static str) -> Body {
        let at = self.clock;
        let hit = |kind| {
            self.incidents
                .current(kind)
                .is_some_and(|i| i.endpoint == endpoint && i.covers(at))
        };
        let (failing, slow) = (
            hit(IncidentKind::ErrorBurst),
            hit(IncidentKind::LatencySpike),
        );
        let response_time_ms = self.latency(slow);
        // Healthy: about one request in a hundred fails, mostly the client's fault.
        let status_code = if failing && self.rng.random_bool(0.4) {
            503
        } else if self.rng.random_bool(0.003) {
            [500, 502, 503, 504][self.rng.random_range(0..4)]
        } else if self.rng.random_bool(0.006) {
            [400, 404][self.rng.random_range(0..2)]
        } else {
            200
        };
        Body::Performance(Performance {
            endpoint: endpoint.into(),
            method: if endpoint == "/api/products" || endpoint == "/api/search" {
                "GET"
            } else {
                "POST"
            }
            .into(),
            db_query_time_ms: Some(
                (response_time_ms * self.rng.random_range(0.1..0.6) * 100.0).round() / 100.0,
            ),
            response_time_ms,
            status_code,
        })
    }

    /// The error event a request answered with `status` reports.
    fn error(&self, endpoint: &'static str, status: u16, user: usize) -> Body {
        let (code, kind, message) = [
            (
                500,
                "InternalServerError",
                "unexpected error while rendering the response",
            ),
            (
                502,
                "BadGateway",
                "upstream inventory service returned an invalid response",
            ),
            (
                503,
                "ServiceUnavailable",
                "database connection pool exhausted",
            ),
            (
                504,
                "GatewayTimeout",
                "payment provider did not answer in time",
            ),
            (400, "ValidationError", "request body failed validation"),
            (404, "NotFound", "product not found"),
        ]
        .into_iter()
        .find(|(code, ..)| *code == status)
        .unwrap_or((status, "HttpError", "the request failed"));
        Body::Error(ErrorEvent {
            error_code: code,
            error_type: kind.into(),
            error_message: message.into(),
            endpoint: endpoint.into(),
            stack: (code >= 500).then(|| format!("at handler ({endpoint})\nat router\nat server")),
            user_id: Some(self.users[user].id.clone()),
        })
    }

    fn security(&mut self, user: usize) -> Body {
        let u = &self.users[user];
        let ok = self.rng.random_bool(0.93);
        Body::Security(Security {
            action: if ok { "login_success" } else { "login_failure" }.into(),
            user_id: Some(u.id.clone()),
            ip: Some(population::ip_string(u.ip)),
            country: Some(u.home.country.into()),
            reason: (!ok).then(|| "wrong_password".into()),
            session_id: None,
            user_agent: Some("Mozilla/5.0 (Macintosh) Safari/605.1".into()),
        })
    }

    fn transaction(&mut self, user: usize, status: TxStatus) -> Transaction {
        let u = &self.users[user];
        let amount = lognormal(&mut self.rng, u.typical_amount.ln(), 0.35);
        let at = self.clock;
        let provider_down = self
            .incidents
            .current(IncidentKind::PaymentFailures)
            .is_some_and(|i| i.covers(at));
        let failure = if provider_down { 0.45 } else { 0.03 };
        let status = if status == TxStatus::Completed && self.rng.random_bool(failure) {
            TxStatus::Failed
        } else {
            status
        };
        Transaction {
            transaction_id: format!("tx-{:016x}", self.rng.random::<u64>()),
            user_id: u.id.clone(),
            amount: money(amount, u.home.currency),
            currency: u.home.currency.into(),
            payment_method: u.payment_method.into(),
            status,
            order_id: Some(format!("ord-{:012x}", self.rng.random::<u64>() >> 16)),
            ip: Some(population::ip_string(u.ip)),
            country: Some(u.home.country.into()),
            billing_country: Some(u.home.country.into()),
            lat: Some(u.home.lat),
            lon: Some(u.home.lon),
            card_fingerprint: (u.payment_method == "card").then(|| u.cards[0].clone()),
            failure_reason: (status == TxStatus::Failed).then(|| {
                if provider_down {
                    "processor_unavailable"
                } else {
                    "insufficient_funds"
                }
                .into()
            }),
        }
    }
}

impl Iterator for Generator {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        Some(self.next_event())
    }
}

/// The label of a generated event, if it belongs to a fraud episode.
pub fn label(event: &Event) -> Option<Pattern> {
    event.tags.get(LABEL_TAG).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests;
