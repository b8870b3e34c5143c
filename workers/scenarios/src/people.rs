//! The customers, and how an ordinary one shops: a visit is a login (most of the
//! time), some browsing, and often a payment, sometimes declined and retried.

use std::net::IpAddr;

use rand::Rng;
use rand_chacha::ChaCha20Rng;
use sightline_schemas::OffsetDateTime;
use time::Duration;

use crate::script::{card_token, Label, Origin, Payment, Script};
use crate::world::{address, device, Place, PLACES};

/// One customer: where they live, the device and address they use, their cards,
/// and what they usually spend (a log-normal around `typical` euros).
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub home: Place,
    pub device: String,
    pub ip: IpAddr,
    pub cards: Vec<String>,
    pub typical: f64,
    pub spread: f64,
    /// What their everyday payments are.
    pub label: Label,
}

impl Person {
    pub fn new(rng: &mut ChaCha20Rng, n: usize) -> Self {
        let home = PLACES[rng.random_range(0..PLACES.len())];
        let cards = (0..rng.random_range(1..=2))
            .map(|_| card_token(rng))
            .collect();
        Self {
            id: format!("cust-{n:05}"),
            home,
            device: device(rng),
            ip: address(rng, &home),
            cards,
            typical: 15.0 * (rng.random_range(0.0..2.5f64)).exp(),
            spread: rng.random_range(0.25..0.6),
            label: Label::Ordinary,
        }
    }

    /// A visit from home on the usual device, in a new session.
    pub fn at_home(&self, script: &mut Script) -> Origin {
        Origin {
            user: self.id.clone(),
            ip: self.ip,
            place: self.home,
            device: self.device.clone(),
            session: script.session(),
        }
    }

    /// An amount like the ones they usually pay.
    pub fn usual_amount(&self, rng: &mut ChaCha20Rng) -> f64 {
        let z: f64 = (0..6).map(|_| rng.random_range(-1.0..1.0)).sum::<f64>() / 2.0;
        (self.typical * (self.spread * z).exp()).max(1.0)
    }
}

/// One ordinary visit at `at`: returns when it ended.
pub fn visit(
    script: &mut Script,
    person: &Person,
    from: &Origin,
    at: OffsetDateTime,
    label: Label,
) -> OffsetDateTime {
    let mut now = at;
    if script.rng.random_bool(0.7) {
        // A mistyped password now and then, at most twice.
        let typos = if script.rng.random_bool(0.1) {
            script.rng.random_range(1..=2)
        } else {
            0
        };
        for _ in 0..typos {
            script.login(now, from, false);
            now += Duration::seconds(script.rng.random_range(4..20));
        }
        script.login(now, from, true);
        now += Duration::seconds(script.rng.random_range(2..10));
    }
    let actions = script.rng.random_range(2..14);
    now = script.browse(now, from, actions, 20.0);
    if script.rng.random_bool(0.6) {
        let card = person.cards[script.rng.random_range(0..person.cards.len())].clone();
        let euros = person.usual_amount(&mut script.rng);
        let declined = script.rng.random_bool(0.03).then_some("insufficient_funds");
        let mut basket = Some((euros, declined));
        while let Some((euros, declined)) = basket {
            let payment = Payment {
                card: &card,
                billing: person.home.country,
                euros,
                currency: person.home.currency,
                declined,
                label,
            };
            script.pay(now, from, payment);
            // A declined basket is, half the time, paid a little later with the same
            // card, smaller.
            basket = (declined.is_some() && script.rng.random_bool(0.5)).then(|| {
                now += Duration::seconds(script.rng.random_range(40..300));
                (euros * 0.7, None)
            });
        }
    }
    now
}

/// Everyday traffic of `people` over `hours` from `start`: about `visits` visits
/// each, at random times.
pub fn everyday(
    script: &mut Script,
    people: &[Person],
    start: OffsetDateTime,
    hours: f64,
    visits: f64,
) {
    for person in people {
        let n = poisson(&mut script.rng, visits);
        for _ in 0..n {
            let at = start + Duration::seconds_f64(script.rng.random_range(0.0..hours * 3600.0));
            let from = person.at_home(script);
            visit(script, person, &from, at, person.label);
        }
    }
}

/// A Poisson draw (Knuth's method; means here are small).
pub fn poisson(rng: &mut ChaCha20Rng, mean: f64) -> usize {
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.random_range(0.0..1.0f64);
        if p <= limit {
            return k;
        }
        k += 1;
    }
}
