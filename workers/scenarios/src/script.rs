//! The pen the scenarios write with: logins, page actions and payments as valid
//! events, each payment labeled with what it truly is.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rand::Rng;
use rand_chacha::ChaCha20Rng;
use serde::Serialize;
use sightline_schemas::{
    Body, Event, OffsetDateTime, Security, Transaction, TxStatus, UserBehavior,
};

use crate::world::{amount, Place};

/// What a payment truly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Made by a fraudster: the scenario and its variant.
    Fraud {
        scenario: &'static str,
        variant: &'static str,
    },
    /// Genuine, but shaped like fraud in one way: what must not be flagged.
    LookAlike(&'static str),
    /// An everyday payment.
    Ordinary,
}

/// Where a request comes from: who, from which address and place, on which device,
/// in which session.
#[derive(Debug, Clone)]
pub struct Origin {
    pub user: String,
    pub ip: IpAddr,
    pub place: Place,
    pub device: String,
    pub session: String,
}

/// A payment to write.
#[derive(Debug, Clone)]
pub struct Payment<'a> {
    pub card: &'a str,
    pub billing: &'static str,
    pub euros: f64,
    pub currency: &'static str,
    pub declined: Option<&'static str>,
    pub label: Label,
}

/// The events written so far, and the label of each payment among them.
pub struct Script {
    pub rng: ChaCha20Rng,
    events: Vec<Event>,
    labels: BTreeMap<String, Label>,
    written: u64,
}

impl Script {
    pub fn new(rng: ChaCha20Rng) -> Self {
        Self {
            rng,
            events: Vec::new(),
            labels: BTreeMap::new(),
            written: 0,
        }
    }

    /// The events in time order (written order among equal times), and the labels.
    pub fn finish(mut self) -> (Vec<Event>, BTreeMap<String, Label>) {
        self.events.sort_by_key(|e| e.occurred_at);
        (self.events, self.labels)
    }

    /// A session id no other session has.
    pub fn session(&mut self) -> String {
        self.written += 1;
        format!("s-{:x}-{}", self.rng.random::<u32>(), self.written)
    }

    fn push(&mut self, at: OffsetDateTime, service: &str, body: Body) {
        self.written += 1;
        let mut event = Event::at(at, service, body);
        let millis = (at.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        let random: [u8; 10] = self.rng.random();
        event.id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        event.env = Some("production".into());
        self.events.push(event);
    }

    /// A login attempt.
    pub fn login(&mut self, at: OffsetDateTime, from: &Origin, ok: bool) {
        let (action, reason) = if ok {
            ("login_success", None)
        } else {
            ("login_failure", Some("wrong password".to_owned()))
        };
        let body = Body::Security(Security {
            action: action.into(),
            user_id: Some(from.user.clone()),
            ip: Some(from.ip),
            country: Some(from.place.country.into()),
            reason,
            session_id: Some(from.session.clone()),
            user_agent: Some(from.device.clone()),
        });
        self.push(at, "auth", body);
    }

    /// `actions` page actions `gap_s` seconds apart (give or take half); returns
    /// when the last one happened.
    pub fn browse(
        &mut self,
        at: OffsetDateTime,
        from: &Origin,
        actions: usize,
        gap_s: f64,
    ) -> OffsetDateTime {
        const PAGES: [(&str, &str); 5] = [
            ("view", "/products"),
            ("view", "/product"),
            ("search", "/search"),
            ("add_to_cart", "/cart"),
            ("view", "/checkout"),
        ];
        let mut now = at;
        for i in 0..actions {
            let (action, page) = PAGES[(i + self.rng.random_range(0..2)) % PAGES.len()];
            let body = Body::UserBehavior(UserBehavior {
                user_id: from.user.clone(),
                session_id: from.session.clone(),
                action: action.into(),
                page: page.into(),
                ip: Some(from.ip),
                user_agent: Some(from.device.clone()),
                product_id: (page == "/product")
                    .then(|| format!("p-{}", self.rng.random_range(1..4000))),
            });
            self.push(now, "web", body);
            now += time::Duration::seconds_f64(gap_s * self.rng.random_range(0.5..1.5));
        }
        now
    }

    /// A payment; returns its transaction id.
    pub fn pay(&mut self, at: OffsetDateTime, from: &Origin, p: Payment<'_>) -> String {
        self.written += 1;
        let tx = format!("t-{}", self.written);
        let body = Body::Transaction(Transaction {
            transaction_id: tx.clone(),
            user_id: from.user.clone(),
            amount: amount(p.euros, p.currency),
            currency: p.currency.into(),
            payment_method: "card".into(),
            status: if p.declined.is_some() {
                TxStatus::Failed
            } else {
                TxStatus::Completed
            },
            order_id: Some(format!("o-{}", self.written)),
            ip: Some(from.ip),
            country: Some(from.place.country.into()),
            billing_country: Some(p.billing.into()),
            lat: Some(from.place.lat),
            lon: Some(from.place.lon),
            card_fingerprint: Some(p.card.into()),
            failure_reason: p.declined.map(Into::into),
        });
        self.push(at, "payments", body);
        self.labels.insert(tx.clone(), p.label);
        tx
    }
}

/// A card token as a payment provider would hand it over.
pub fn card_token(rng: &mut ChaCha20Rng) -> String {
    format!("tok_{:016x}", rng.random::<u64>())
}
