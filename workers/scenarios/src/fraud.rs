//! The fraud, as fraud teams describe it, each scenario in several variants. Only
//! the fraudster's payments are labeled fraud; what the victim does stays ordinary.

use rand::Rng;
use sightline_schemas::OffsetDateTime;
use time::Duration;

use crate::people::Person;
use crate::script::{card_token, Label, Origin, Payment, Script};
use crate::world::{address, device, exit_node, km, script_agent, Place, PLACES};

/// A place at least `min_km` from `home`.
fn far_from(script: &mut Script, home: &Place, min_km: f64) -> Place {
    loop {
        let p = PLACES[script.rng.random_range(0..PLACES.len())];
        if km(home, &p) >= min_km {
            return p;
        }
    }
}

fn label(scenario: &'static str, variant: &'static str) -> Label {
    Label::Fraud { scenario, variant }
}

/// Account takeover: a burst of failed logins from abroad, a success, then a large
/// payment. `victim_card`: on the victim's card, billed at home; `new_card`: on a
/// card the fraudster adds, billed where they are.
pub fn account_takeover(script: &mut Script, victim: &Person, at: OffsetDateTime) {
    let variant = if script.rng.random_bool(0.5) {
        "victim_card"
    } else {
        "new_card"
    };
    let there = far_from(script, &victim.home, 800.0);
    let ip = if script.rng.random_bool(0.5) {
        exit_node(&mut script.rng, &there)
    } else {
        address(&mut script.rng, &there)
    };
    let from = Origin {
        user: victim.id.clone(),
        ip,
        place: there,
        device: device(&mut script.rng),
        session: script.session(),
    };
    let mut now = at;
    for _ in 0..script.rng.random_range(4..9) {
        script.login(now, &from, false);
        now += Duration::seconds(script.rng.random_range(3..25));
    }
    script.login(now, &from, true);
    let actions = script.rng.random_range(2..6);
    now = script.browse(now + Duration::seconds(5), &from, actions, 8.0);
    let (card, billing) = match variant {
        "victim_card" => (victim.cards[0].clone(), victim.home.country),
        _ => (card_token(&mut script.rng), there.country),
    };
    for _ in 0..script.rng.random_range(1..3) {
        let euros = victim.typical * script.rng.random_range(5.0..15.0);
        let payment = Payment {
            card: &card,
            billing,
            euros,
            currency: victim.home.currency,
            declined: None,
            label: label("account_takeover", variant),
        };
        script.pay(now, &from, payment);
        now += Duration::seconds(script.rng.random_range(30..240));
    }
}

/// Card testing: many small attempts on stolen cards, most declined, a few that
/// pass. `one_account`: one account tries them all; `many_accounts`: a fresh
/// account per attempt, from one address.
pub fn card_testing(script: &mut Script, n: usize, at: OffsetDateTime) {
    let variant = if script.rng.random_bool(0.5) {
        "one_account"
    } else {
        "many_accounts"
    };
    let there = PLACES[script.rng.random_range(0..PLACES.len())];
    let ip = exit_node(&mut script.rng, &there);
    let agent = script_agent(&mut script.rng);
    let cards: Vec<String> = (0..script.rng.random_range(1..4))
        .map(|_| card_token(&mut script.rng))
        .collect();
    let mut now = at;
    let mut from = Origin {
        user: format!("tester-{n}"),
        ip,
        place: there,
        device: agent,
        session: script.session(),
    };
    for attempt in 0..script.rng.random_range(8..20) {
        if variant == "many_accounts" {
            from.user = format!("tester-{n}-{attempt}");
            from.session = script.session();
        }
        let card = cards[attempt % cards.len()].clone();
        let declined = script
            .rng
            .random_bool(0.8)
            .then(|| ["card_declined", "incorrect_cvc", "expired_card"][attempt % 3]);
        let payment = Payment {
            card: &card,
            billing: there.country,
            euros: script.rng.random_range(0.5..3.0),
            currency: there.currency,
            declined,
            label: label("card_testing", variant),
        };
        script.pay(now, &from, payment);
        now += Duration::seconds(script.rng.random_range(8..45));
    }
}

/// Bot checkout: a script browses at machine speed and buys with stolen cards.
/// `one_session`; `many_sessions`: its actions spread over 4-8 sessions;
/// `no_cookies`: a new session for every request.
pub fn bot_checkout(script: &mut Script, n: usize, at: OffsetDateTime) {
    let variant = ["one_session", "many_sessions", "no_cookies"][script.rng.random_range(0..3)];
    let there = PLACES[script.rng.random_range(0..PLACES.len())];
    let mut from = Origin {
        user: format!("shopper-{n}"),
        ip: exit_node(&mut script.rng, &there),
        place: there,
        device: script_agent(&mut script.rng),
        session: script.session(),
    };
    let actions = script.rng.random_range(30..60);
    let sessions = match variant {
        "one_session" => 1,
        "many_sessions" => script.rng.random_range(4..9),
        _ => actions,
    };
    let mut now = at;
    for s in 0..sessions {
        if s > 0 {
            from.session = script.session();
        }
        let share = actions / sessions + usize::from(s < actions % sessions);
        let gap = script.rng.random_range(0.2..0.9);
        now = script.browse(now, &from, share, gap);
    }
    for _ in 0..script.rng.random_range(1..4) {
        if variant == "no_cookies" {
            from.session = script.session();
        }
        let card = card_token(&mut script.rng);
        let payment = Payment {
            card: &card,
            billing: there.country,
            euros: script.rng.random_range(80.0..600.0),
            currency: there.currency,
            declined: None,
            label: label("bot_checkout", variant),
        };
        script.pay(now, &from, payment);
        now += Duration::seconds(script.rng.random_range(2..12));
    }
}

/// A stolen card used far from where its holder is using it, within the hour.
/// `own_account_local_billing`: through the fraudster's own account, billed where
/// they are; `victim_account_home_billing`: through the victim's account, billed at
/// the victim's home.
pub fn stolen_card(script: &mut Script, victim: &Person, n: usize, at: OffsetDateTime) {
    let variant = if script.rng.random_bool(0.5) {
        "own_account_local_billing"
    } else {
        "victim_account_home_billing"
    };
    let home = victim.at_home(script);
    let euros = victim.usual_amount(&mut script.rng);
    let own = Payment {
        card: &victim.cards[0],
        billing: victim.home.country,
        euros,
        currency: victim.home.currency,
        declined: None,
        label: Label::Ordinary,
    };
    script.pay(at, &home, own);
    let there = far_from(script, &victim.home, 3000.0);
    let (user, billing) = match variant {
        "own_account_local_billing" => (format!("reseller-{n}"), there.country),
        _ => (victim.id.clone(), victim.home.country),
    };
    let from = Origin {
        user,
        ip: address(&mut script.rng, &there),
        place: there,
        device: device(&mut script.rng),
        session: script.session(),
    };
    let mut now = at + Duration::minutes(script.rng.random_range(10..45));
    script.login(now, &from, true);
    let actions = script.rng.random_range(2..6);
    now = script.browse(now, &from, actions, 15.0);
    let payment = Payment {
        card: &victim.cards[0],
        billing,
        euros: script.rng.random_range(60.0..900.0),
        currency: there.currency,
        declined: None,
        label: label("stolen_card", variant),
    };
    script.pay(now, &from, payment);
}
