//! The evidence, one function each: rules + remembered state + a payment in, an
//! indicator (or nothing) out. None of them changes the state; none decides alone
//! (the typologies in the rules do).

use sightline_schemas::{Indicator, Transaction, TxStatus};

use crate::rules::{Counted, Rules};
use crate::state::{count_near, digest, micros_of, CardState, Key, Micros, State, UserState};

pub const VELOCITY: &str = "velocity";
pub const IP_VELOCITY: &str = "ip_velocity";
pub const DECLINES: &str = "declines";
pub const LOGIN_FAILURES: &str = "login_failures";
pub const BOT: &str = "bot";
pub const HIGH_AMOUNT: &str = "high_amount";
pub const CARD_TRAVEL: &str = "card_travel";
pub const USER_TRAVEL: &str = "user_travel";
pub const NEW_PLACE: &str = "new_place";
pub const NEW_DEVICE: &str = "new_device";
pub const NEW_CARD: &str = "new_card";
pub const SHARED_CARD: &str = "shared_card";
pub const COUNTRY_MISMATCH: &str = "country_mismatch";
pub const IP_CHANGE: &str = "ip_change";

/// Every kind of evidence, in the order reports list them.
pub const ALL: [&str; 14] = [
    VELOCITY,
    IP_VELOCITY,
    DECLINES,
    LOGIN_FAILURES,
    BOT,
    HIGH_AMOUNT,
    CARD_TRAVEL,
    USER_TRAVEL,
    NEW_PLACE,
    NEW_DEVICE,
    NEW_CARD,
    SHARED_CARD,
    COUNTRY_MISMATCH,
    IP_CHANGE,
];

fn indicator(name: &str, weight: u8, reason: String) -> Indicator {
    Indicator {
        name: name.into(),
        weight,
        reason,
    }
}

/// What is known about the payer at the moment of the payment.
pub struct Payer<'a> {
    pub user: Option<&'a UserState>,
    pub user_digest: u64,
    pub card: Option<&'a CardState>,
    /// The device of the session behind the payment (the customer's latest page
    /// view or login from this address), when there was one.
    pub device: Option<u64>,
    /// The customer was just seen at this address on a device they paid from
    /// before: a new place is travel or a VPN, not someone else.
    pub at_home_here: bool,
}

impl<'a> Payer<'a> {
    pub fn of(rules: &Rules, state: &'a State, tx: &Transaction, at: Micros) -> Self {
        let user = state.users.get(&tx.user_id);
        let user_digest = digest(&[tx.user_id.as_bytes()]);
        let window = micros_of(rules.presence_window);
        let device = tx
            .ip
            .and_then(|ip| state.presence.get(&(user_digest, ip)))
            .filter(|p| p.at <= at && at - p.at < window)
            .map(|p| p.device);
        let at_home_here = matches!((user, device), (Some(u), Some(d)) if u.devices.contains(&d));
        let card = tx
            .card_fingerprint
            .as_ref()
            .and_then(|c| state.cards.get(c));
        Self {
            user,
            user_digest,
            card,
            device,
            at_home_here,
        }
    }
}

/// The keys a payment is counted under.
pub fn payment_keys(tx: &Transaction) -> Vec<Key> {
    let mut keys = Vec::with_capacity(3);
    if let Some(card) = &tx.card_fingerprint {
        keys.push(Key::Card(card.clone()));
    }
    keys.push(Key::User(tx.user_id.clone()));
    if let Some(ip) = tx.ip {
        keys.push(Key::Ip(ip));
    }
    keys
}

/// Counts under each payment key (`seen` counts a key's window) and fires for the
/// keys past their limit: the indicator, and the keys whose window overflowed (the
/// whole burst is flagged).
fn counted(
    (name, what): (&str, &str),
    r: &Counted,
    tx: &Transaction,
    seen: impl Fn(&Key, Micros) -> usize,
) -> Option<(Indicator, Vec<Key>)> {
    let span = micros_of(r.window);
    let mut fired = Vec::new();
    let mut worst: Option<(usize, &'static str)> = None;
    for key in payment_keys(tx) {
        let limit = match key {
            Key::Card(_) => r.max_per_card,
            Key::User(_) => r.max_per_user,
            _ => r.max_per_ip,
        };
        let Some(limit) = limit else {
            continue;
        };
        let count = seen(&key, span);
        if count > limit {
            worst.get_or_insert((count, key.noun()));
            fired.push(key);
        }
    }
    let (count, noun) = worst?;
    let window = humantime::format_duration(r.window);
    let reason = format!("{count} {what} on {noun} within {window}");
    Some((indicator(name, r.weight, reason), fired))
}

/// Payment attempts per card and customer (`velocity`) or per address (`ip_velocity`).
pub fn velocity(
    (name, r): (&str, &Counted),
    state: &State,
    tx: &Transaction,
    at: Micros,
) -> Option<(Indicator, Vec<Key>)> {
    counted((name, "payments"), r, tx, |key, span| {
        let window = state.payments.get(key);
        1 + window.map_or(0, |w| count_near(w, at, span, |(t, _)| *t))
    })
}

pub fn declines(
    rules: &Rules,
    state: &State,
    tx: &Transaction,
    at: Micros,
) -> Option<(Indicator, Vec<Key>)> {
    let this = usize::from(tx.status == TxStatus::Failed);
    counted(
        (DECLINES, "declined payments"),
        &rules.declines,
        tx,
        |key, span| {
            let window = state.declines.get(key);
            this + window.map_or(0, |w| count_near(w, at, span, |t| *t))
        },
    )
}

pub fn login_failures(
    rules: &Rules,
    state: &State,
    tx: &Transaction,
    at: Micros,
) -> Option<Indicator> {
    let r = &rules.login_failures;
    let span = micros_of(r.window);
    let failures = state.login_failures.get(&tx.user_id)?;
    let recent = || failures.iter().filter(|(t, _)| *t <= at && at - *t < span);
    // The attacker is the one who paid: the holder paying from home after someone
    // else failed at their password elsewhere has not been taken over.
    let from_here = recent().any(|(_, ip)| ip.is_none() || *ip == tx.ip);
    let count = recent().count();
    (count > r.max && from_here).then(|| {
        let window = humantime::format_duration(r.window);
        let reason = format!(
            "{count} failed logins on this account within {window} before, from where it paid"
        );
        indicator(LOGIN_FAILURES, r.weight, reason)
    })
}

pub fn bot(rules: &Rules, state: &State, tx: &Transaction, at: Micros) -> Option<Indicator> {
    let marked = |key: Key| state.bot_marks.get(&key).is_some_and(|until| *until > at);
    let via_ip = tx.ip.is_some_and(|ip| marked(Key::Ip(ip)));
    let via_user = marked(Key::User(tx.user_id.clone()));
    (via_ip || via_user).then(|| {
        let source = if via_ip { "IP address" } else { "customer" };
        let reason = format!(
            "this {source} browsed at machine speed (more than {} page actions in {})",
            rules.bot.max_actions,
            humantime::format_duration(rules.bot.window)
        );
        indicator(BOT, rules.bot.weight, reason)
    })
}

/// The amount against the customer's own spending once they have a history, else
/// against the new-customer ceiling; both in the rates table's base currency.
pub fn high_amount(rules: &Rules, payer: &Payer, tx: &Transaction) -> Option<Indicator> {
    let r = &rules.high_amount;
    let rates = &rules.rates;
    let amount: f64 = tx.amount.try_into().ok()?;
    let base = rates.to_base(amount, &tx.currency)?;
    let shown = format!("{} {}", tx.amount, tx.currency);
    let (cur, as_of) = (&rates.base, &rates.as_of);
    let spending = payer.user.map(|u| &u.spending);
    let history = spending.filter(|s| s.count >= r.min_history);
    let Some((median, spread)) = history.and_then(|s| s.median_and_spread()) else {
        return (base > r.new_customer_ceiling).then(|| {
            let reason = format!(
                "{shown} (about {base:.0} {cur} at {as_of} rates) is above the \
                 {:.0} {cur} a new customer is trusted with",
                r.new_customer_ceiling
            );
            indicator(HIGH_AMOUNT, r.weight, reason)
        });
    };
    let above = base.ln() - median;
    let multiple = above.exp();
    let unusual = multiple >= r.unusual_multiple && above >= r.spread_z * spread;
    unusual.then(|| {
        let weight = if multiple >= r.extreme_multiple {
            r.extreme_weight
        } else {
            r.weight
        };
        let reason = format!(
            "{shown} (about {base:.0} {cur}) is {multiple:.1} times this customer's usual \
             {:.0} {cur}",
            median.exp()
        );
        indicator(HIGH_AMOUNT, weight, reason)
    })
}

/// Great-circle distance in kilometres.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().clamp(-1.0, 1.0).asin()
}

/// Distance and minutes from `from`, when nobody could have travelled it in the time.
fn too_fast(
    rules: &Rules,
    from: &crate::state::Place,
    tx: &Transaction,
    at: Micros,
) -> Option<(f64, f64)> {
    let (lat, lon) = (tx.lat?, tx.lon?);
    let km = haversine_km(from.lat, from.lon, lat, lon);
    // At least a minute apart, so two payments at one instant give a finite speed.
    let hours = ((at - from.at).abs() as f64 / 3.6e9).max(1.0 / 60.0);
    (km >= rules.min_distance_km && km / hours > rules.max_speed_kmh).then_some((km, hours * 60.0))
}

pub fn card_travel(
    rules: &Rules,
    payer: &Payer,
    tx: &Transaction,
    at: Micros,
) -> Option<Indicator> {
    let card = payer.card?;
    let (km, minutes) = too_fast(rules, card.place.as_ref()?, tx, at)?;
    let last_user = card.users.iter().max_by_key(|(_, at)| *at).map(|(u, _)| *u);
    let same_user = last_user == Some(payer.user_digest);
    if same_user && payer.at_home_here {
        return None;
    }
    let whose = if same_user {
        ""
    } else {
        " by another customer"
    };
    let reason = format!("the card was used{whose} {km:.0} km away {minutes:.0} minutes earlier");
    Some(indicator(CARD_TRAVEL, rules.card_travel.weight, reason))
}

pub fn user_travel(
    rules: &Rules,
    payer: &Payer,
    tx: &Transaction,
    at: Micros,
) -> Option<Indicator> {
    if payer.at_home_here {
        return None;
    }
    let (km, minutes) = too_fast(rules, payer.user?.place.as_ref()?, tx, at)?;
    let reason = format!(
        "this customer paid {km:.0} km away {minutes:.0} minutes earlier, and was not seen \
         here on a device of theirs"
    );
    Some(indicator(USER_TRAVEL, rules.user_travel.weight, reason))
}

/// A country the customer was never seen in. Weaker when they could have flown
/// there since their last payment: travel, most likely.
pub fn new_place(rules: &Rules, payer: &Payer, tx: &Transaction, at: Micros) -> Option<Indicator> {
    let user = payer.user?;
    let country = tx.country.as_deref()?;
    let code = country_code(country)?;
    let new = !user.countries.is_empty() && !user.countries.contains(&code);
    if !new || payer.at_home_here {
        return None;
    }
    let reachable = match (user.place.as_ref(), tx.lat, tx.lon) {
        (Some(last), Some(_), Some(_)) => too_fast(rules, last, tx, at).is_none(),
        _ => false,
    };
    let (weight, since) = match reachable {
        true => (
            rules.new_place.reachable_weight,
            ", though reachable since their last payment",
        ),
        false => (rules.new_place.weight, ""),
    };
    let reason = format!(
        "this customer never paid or logged in from {country}, and was not seen here on a \
         device of theirs{since}"
    );
    Some(indicator(NEW_PLACE, weight, reason))
}

pub fn new_device(rules: &Rules, payer: &Payer) -> Option<Indicator> {
    let (user, device) = (payer.user?, payer.device?);
    (!user.devices.is_empty() && !user.devices.contains(&device)).then(|| {
        let reason = "the session behind it used a device this customer never paid from".into();
        indicator(NEW_DEVICE, rules.new_device.weight, reason)
    })
}

pub fn new_card(rules: &Rules, payer: &Payer, tx: &Transaction) -> Option<Indicator> {
    let user = payer.user?;
    let card = digest(&[tx.card_fingerprint.as_ref()?.as_bytes()]);
    (!user.cards.is_empty() && !user.cards.contains(&card)).then(|| {
        let reason = "a card this customer never paid with".into();
        indicator(NEW_CARD, rules.new_card.weight, reason)
    })
}

pub fn shared_card(rules: &Rules, payer: &Payer) -> Option<Indicator> {
    let others = payer
        .card?
        .users
        .iter()
        .filter(|(u, _)| *u != payer.user_digest)
        .count();
    (others > 0).then(|| {
        let forget = humantime::format_duration(rules.forget_after);
        let reason = format!("{others} other customer(s) paid with this card within {forget}");
        indicator(SHARED_CARD, rules.shared_card.weight, reason)
    })
}

pub fn country_mismatch(rules: &Rules, tx: &Transaction) -> Option<Indicator> {
    let (from, billing) = (tx.country.as_deref()?, tx.billing_country.as_deref()?);
    (!from.eq_ignore_ascii_case(billing)).then(|| {
        let reason = format!("paying from {from} with a billing address in {billing}");
        indicator(COUNTRY_MISMATCH, rules.country_mismatch.weight, reason)
    })
}

pub fn ip_change(rules: &Rules, payer: &Payer, at: Micros) -> Option<Indicator> {
    let r = &rules.ip_change;
    let changed = payer.user?.ip_changed_at?;
    let ago = at - changed;
    (ago >= 0 && ago < micros_of(r.window)).then(|| {
        let reason = format!(
            "a session of this customer changed IP address {} minutes earlier",
            ago / 60_000_000
        );
        indicator(IP_CHANGE, r.weight, reason)
    })
}

/// A two-letter country code as stored in a customer's places.
pub fn country_code(country: &str) -> Option<[u8; 2]> {
    let b = country.as_bytes();
    (b.len() == 2).then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}
