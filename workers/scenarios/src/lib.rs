//! Labeled traffic for judging the fraud scorer on what it was not tuned on:
//! everyday shoppers, the fraud fraud teams see (account takeover, card testing,
//! bot checkout, stolen cards used far away), each in several variants, and
//! genuine customers who look like fraud in one way (travellers, VPN users, large
//! spenders, frequent buyers, shoppers in many currencies, a declined payment
//! paid again, colleagues behind one office address). Written apart from the
//! generator (`sightline-generator`), whose episodes the rules were tuned with:
//! other code, other places and devices, other habits. A seed fixes everything.

mod evaluate;
mod fraud;
mod lookalike;
mod people;
mod script;
pub mod world;

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sightline_schemas::{Event, OffsetDateTime};
use time::Duration;

pub use evaluate::{evaluate, Evaluation};
pub use script::Label;

use people::{everyday, Person};
use script::Script;

/// How much of everything a suite holds.
#[derive(Debug, Clone)]
pub struct Mix {
    pub customers: usize,
    pub hours: f64,
    /// Everyday visits per customer over the whole span.
    pub visits: f64,
    /// Instances of each fraud scenario.
    pub fraud: usize,
    /// Customers of each look-alike kind.
    pub lookalikes: usize,
}

impl Default for Mix {
    /// About 3,000 customers over three days: some 10,000 payments, a few percent
    /// of them fraud.
    fn default() -> Self {
        Self {
            customers: 3000,
            hours: 72.0,
            visits: 5.0,
            fraud: 25,
            lookalikes: 25,
        }
    }
}

/// The events of one suite, in time order, and the truth about every payment.
pub struct Suite {
    pub events: Vec<Event>,
    pub labels: BTreeMap<String, Label>,
}

impl Suite {
    /// The suite of `seed`, its traffic spanning `mix.hours` from `start`.
    pub fn new(seed: u64, start: OffsetDateTime, mix: &Mix) -> Self {
        let mut script = Script::new(ChaCha20Rng::seed_from_u64(seed));
        let mut people: Vec<Person> = (0..mix.customers)
            .map(|n| Person::new(&mut script.rng, n))
            .collect();
        let customers = people.len();
        let pick = |script: &mut Script| script.rng.random_range(0..customers);
        // Large spenders are large from their first payment: their history is theirs.
        let spenders: Vec<usize> = (0..mix.lookalikes).map(|_| pick(&mut script)).collect();
        for &n in &spenders {
            lookalike::make_large_spender(&mut script, &mut people[n]);
        }
        everyday(&mut script, &people, start, mix.hours, mix.visits);
        let span = mix.hours * 3600.0;
        let when = |script: &mut Script| {
            // Late enough that the victims have a history, early enough to play out.
            start + Duration::seconds_f64(script.rng.random_range(0.2 * span..0.85 * span))
        };
        for n in 0..mix.fraud {
            let victim = pick(&mut script);
            let at = when(&mut script);
            fraud::account_takeover(&mut script, &people[victim], at);
            let at = when(&mut script);
            fraud::card_testing(&mut script, n, at);
            let at = when(&mut script);
            fraud::bot_checkout(&mut script, n, at);
            let victim = pick(&mut script);
            let at = when(&mut script);
            fraud::stolen_card(&mut script, &people[victim], n, at);
        }
        for &n in &spenders {
            let at = start + Duration::seconds_f64(script.rng.random_range(0.0..0.3 * span));
            lookalike::large_spender(&mut script, &people[n], at);
        }
        type Writes = fn(&mut Script, &Person, OffsetDateTime);
        let kinds: [Writes; 6] = [
            lookalike::traveller,
            lookalike::vpn_user,
            lookalike::frequent_buyer,
            lookalike::many_currencies,
            lookalike::failed_then_success,
            lookalike::shared_office,
        ];
        for _ in 0..mix.lookalikes {
            for write in kinds {
                let at = when(&mut script);
                let n = pick(&mut script);
                write(&mut script, &people[n], at);
            }
        }
        let (events, labels) = script.finish();
        Self { events, labels }
    }
}

#[cfg(test)]
mod tests;
