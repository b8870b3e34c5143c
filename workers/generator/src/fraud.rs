//! Fraud episodes: short sequences of events with a known pattern, scheduled among
//! normal traffic. Every episode contains at least one labeled transaction.

use std::str::FromStr;

use rand::Rng;
use sightline_schemas::{Body, Event, Security, TxStatus, UserBehavior};
use time::Duration;

use crate::population::{money, FRAUD_ORIGINS};
use crate::{Generator, LABEL_TAG};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Many payments by one user and card within a couple of minutes.
    Velocity,
    /// One payment far above the currency's norm and the user's own history.
    HighAmount,
    /// Two payments from places no one could travel between in the time between them.
    ImpossibleTravel,
    /// A string of failed logins and declined payments.
    RepeatedFailures,
    /// Connecting from one country while billing to another.
    CountryMismatch,
    /// Inhumanly fast clicking ending in a purchase.
    Bot,
}

impl Pattern {
    pub const ALL: [Pattern; 6] = [
        Pattern::Velocity,
        Pattern::HighAmount,
        Pattern::ImpossibleTravel,
        Pattern::RepeatedFailures,
        Pattern::CountryMismatch,
        Pattern::Bot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Velocity => "velocity",
            Pattern::HighAmount => "high_amount",
            Pattern::ImpossibleTravel => "impossible_travel",
            Pattern::RepeatedFailures => "repeated_failures",
            Pattern::CountryMismatch => "country_mismatch",
            Pattern::Bot => "bot",
        }
    }
}

impl FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pattern::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown pattern {s}"))
    }
}

/// The events of one episode, stamped from the generator's current instant on.
pub(crate) fn episode(g: &mut Generator, pattern: Pattern) -> Vec<Event> {
    let user = g.rng.random_range(0..g.users.len());
    let start = g.clock;
    let origin = &FRAUD_ORIGINS[g.rng.random_range(0..FRAUD_ORIGINS.len())];
    let fraud_ip = std::net::IpAddr::from([
        origin.ip_prefix[0],
        origin.ip_prefix[1],
        g.rng.random(),
        g.rng.random_range(1..255),
    ]);
    let mut out = Vec::new();
    let mut push = |g: &mut Generator, offset_ms: i64, service: &str, body: Body| {
        let mut event = g.envelope(start + Duration::milliseconds(offset_ms), service, body);
        event.tags.insert(LABEL_TAG.into(), pattern.as_str().into());
        out.push(event);
    };
    // The account holder's own events around an episode carry no label.
    let genuine = |g: &mut Generator, offset_ms: i64, service: &str, body: Body| {
        g.envelope(start + Duration::milliseconds(offset_ms), service, body)
    };
    match pattern {
        Pattern::Velocity => {
            let n = g.rng.random_range(8..15);
            for i in 0..n {
                let tx = g.transaction(user, TxStatus::Completed);
                let offset = i * g.rng.random_range(3_000..9_000);
                push(g, offset, "payments", Body::Transaction(tx));
            }
        }
        Pattern::HighAmount => {
            let mut tx = g.transaction(user, TxStatus::Completed);
            let typical = g.users[user].typical_amount;
            let amount = (typical * g.rng.random_range(25.0..60.0)).max(5_000.0);
            tx.amount = money(amount, &tx.currency);
            push(g, 0, "payments", Body::Transaction(tx));
        }
        Pattern::ImpossibleTravel => {
            // The holder pays at home, then the fraudster pays from far away.
            let first = g.transaction(user, TxStatus::Completed);
            let home = genuine(g, 0, "payments", Body::Transaction(first));
            let mut second = g.transaction(user, TxStatus::Completed);
            second.ip = Some(fraud_ip);
            second.country = Some(origin.country.into());
            (second.lat, second.lon) = (Some(origin.lat), Some(origin.lon));
            let offset = g.rng.random_range(2..10) * 60_000;
            push(g, offset, "payments", Body::Transaction(second));
            out.insert(0, home);
        }
        Pattern::RepeatedFailures => {
            let uid = g.users[user].id.clone();
            for i in 0..g.rng.random_range(4..8) {
                let body = Body::Security(Security {
                    action: "login_failure".into(),
                    user_id: Some(uid.clone()),
                    ip: Some(fraud_ip),
                    country: Some(origin.country.into()),
                    reason: Some("wrong_password".into()),
                    session_id: None,
                    user_agent: Some("python-requests/2.31".into()),
                });
                push(g, i * 4_000, "auth", body);
            }
            for i in 0..g.rng.random_range(4..7) {
                let mut tx = g.transaction(user, TxStatus::Failed);
                tx.status = TxStatus::Failed;
                tx.failure_reason = Some("card_declined".into());
                push(g, 40_000 + i * 15_000, "payments", Body::Transaction(tx));
            }
        }
        Pattern::CountryMismatch => {
            let mut tx = g.transaction(user, TxStatus::Completed);
            tx.ip = Some(fraud_ip);
            tx.country = Some(origin.country.into());
            (tx.lat, tx.lon) = (Some(origin.lat), Some(origin.lon));
            push(g, 0, "payments", Body::Transaction(tx));
        }
        Pattern::Bot => {
            let uid = g.users[user].id.clone();
            let session = format!("s-bot-{:x}", g.rng.random::<u32>());
            for i in 0..g.rng.random_range(25..40) {
                let body = Body::UserBehavior(UserBehavior {
                    user_id: uid.clone(),
                    session_id: session.clone(),
                    action: if i % 3 == 2 { "add_to_cart" } else { "view" }.into(),
                    page: format!("/products/{}", g.rng.random_range(1..500)),
                    ip: Some(fraud_ip),
                    user_agent: Some("HeadlessChrome/120.0".into()),
                    product_id: None,
                });
                let offset = i * g.rng.random_range(80..250);
                push(g, offset, "catalog", body);
            }
            let mut tx = g.transaction(user, TxStatus::Completed);
            tx.ip = Some(fraud_ip);
            push(g, 10_000, "payments", Body::Transaction(tx));
        }
    }
    out
}
