//! Genuine customers who look like fraud in one way: a rule that flags them for
//! that one hint is wrong. Each writes its own history first where the point is
//! that it has one.

use rand::Rng;
use sightline_schemas::OffsetDateTime;
use time::Duration;

use crate::people::{visit, Person};
use crate::script::{Label, Origin, Payment, Script};
use crate::world::{address, exit_node, km, PLACES};

/// Flies somewhere far (taking as long as a flight takes), logs in there on the
/// usual device, and shops as usual.
pub fn traveller(script: &mut Script, person: &Person, at: OffsetDateTime) {
    let home = person.at_home(script);
    let left = visit(script, person, &home, at, Label::Ordinary);
    let there = PLACES[script.rng.random_range(0..PLACES.len())];
    let hours = km(&person.home, &there) / 800.0 + script.rng.random_range(2.0..12.0);
    let from = Origin {
        ip: address(&mut script.rng, &there),
        place: there,
        session: script.session(),
        ..home
    };
    let arrived = left + Duration::seconds_f64(hours * 3600.0);
    for day in 0..script.rng.random_range(1..3) {
        let at = arrived + Duration::hours(day * 20 + script.rng.random_range(1..6));
        visit_paying(script, person, &from, at, "traveller");
    }
}

/// Shops from home through a VPN that exits in another country.
pub fn vpn_user(script: &mut Script, person: &Person, at: OffsetDateTime) {
    let exit = PLACES[script.rng.random_range(0..PLACES.len())];
    let from = Origin {
        ip: exit_node(&mut script.rng, &exit),
        place: exit,
        ..person.at_home(script)
    };
    for i in 0..script.rng.random_range(1..4) {
        let at = at + Duration::hours(i * 9);
        visit_paying(script, person, &from, at, "vpn_user");
    }
}

/// Makes `person` one who buys for a business: every payment of theirs is large,
/// and labeled so.
pub fn make_large_spender(script: &mut Script, person: &mut Person) {
    person.typical = script.rng.random_range(1500.0..6000.0);
    person.spread = 0.3;
    person.label = Label::LookAlike("large_spender");
}

/// A large spender's regular orders, on top of their everyday visits.
pub fn large_spender(script: &mut Script, person: &Person, at: OffsetDateTime) {
    for i in 0..script.rng.random_range(12..25) {
        let at = at + Duration::hours(i * script.rng.random_range(8..30));
        let from = person.at_home(script);
        visit_paying(script, person, &from, at, "large_spender");
    }
}

/// Buys many small things through the day, every half hour or so.
pub fn frequent_buyer(script: &mut Script, person: &Person, at: OffsetDateTime) {
    let mut now = at;
    for _ in 0..script.rng.random_range(8..16) {
        let from = person.at_home(script);
        now = visit_paying(script, person, &from, now, "frequent_buyer");
        now += Duration::minutes(script.rng.random_range(20..90));
    }
}

/// Shops on marketplaces priced in other currencies, from home.
pub fn many_currencies(script: &mut Script, person: &Person, at: OffsetDateTime) {
    for i in 0..script.rng.random_range(3..6) {
        let currency = PLACES[script.rng.random_range(0..PLACES.len())].currency;
        let from = person.at_home(script);
        let card = person.cards[0].clone();
        let euros = person.usual_amount(&mut script.rng);
        let payment = Payment {
            card: &card,
            billing: person.home.country,
            euros,
            currency,
            declined: None,
            label: Label::LookAlike("many_currencies"),
        };
        let at = at + Duration::hours(i * 5);
        let at = script.browse(at, &from, 4, 15.0);
        script.pay(at, &from, payment);
    }
}

/// Colleagues behind one office address, several browsing at once around lunch
/// and some paying: many sessions and actions from one IP, every one of them a
/// person. What a bot signal keyed by address must not take for a bot.
pub fn shared_office(script: &mut Script, person: &Person, at: OffsetDateTime) {
    let office = crate::world::address(&mut script.rng, &person.home);
    for n in 0..script.rng.random_range(8..16) {
        let colleague = Person {
            id: format!("{}-colleague-{n}", person.id),
            ip: office,
            device: crate::world::device(&mut script.rng),
            cards: vec![crate::script::card_token(&mut script.rng)],
            ..person.clone()
        };
        let from = colleague.at_home(script);
        let at = at + Duration::seconds(script.rng.random_range(0..900));
        visit_paying(script, &colleague, &from, at, "shared_office");
    }
}

/// A declined payment, then the same basket paid with another card.
pub fn failed_then_success(script: &mut Script, person: &Person, at: OffsetDateTime) {
    let from = person.at_home(script);
    let at = script.browse(at, &from, 5, 15.0);
    let euros = person.usual_amount(&mut script.rng);
    let first = person.cards[0].clone();
    let other = person
        .cards
        .last()
        .cloned()
        .unwrap_or_else(|| first.clone());
    for (card, declined, after) in [
        (&first, Some("insufficient_funds"), 0),
        (&other, None, script.rng.random_range(40..200)),
    ] {
        let payment = Payment {
            card,
            billing: person.home.country,
            euros,
            currency: person.home.currency,
            declined,
            label: Label::LookAlike("failed_then_success"),
        };
        script.pay(at + Duration::seconds(after), &from, payment);
    }
}

/// A visit that ends in a payment labeled `name`; returns when it ended.
fn visit_paying(
    script: &mut Script,
    person: &Person,
    from: &Origin,
    at: OffsetDateTime,
    name: &'static str,
) -> OffsetDateTime {
    let mut now = at;
    if script.rng.random_bool(0.8) {
        script.login(now, from, true);
        now += Duration::seconds(script.rng.random_range(2..10));
    }
    let actions = script.rng.random_range(2..10);
    now = script.browse(now, from, actions, 20.0);
    let card = person.cards[script.rng.random_range(0..person.cards.len())].clone();
    let euros = person.usual_amount(&mut script.rng);
    let payment = Payment {
        card: &card,
        billing: person.home.country,
        euros,
        currency: person.home.currency,
        declined: None,
        label: Label::LookAlike(name),
    };
    script.pay(now, from, payment);
    now
}
