//! The indicators, one function each: rules + remembered state + a payment in,
//! an indicator (or nothing) out. None of them changes the state.

use sightline_schemas::{Indicator, Transaction, TxStatus};

use crate::rules::Rules;
use crate::state::{count_near, micros_of, Key, Micros, State};

pub const HIGH_AMOUNT: &str = "high_amount";
pub const VELOCITY: &str = "velocity";
pub const IMPOSSIBLE_TRAVEL: &str = "impossible_travel";
pub const REPEATED_FAILURES: &str = "repeated_failures";
pub const COUNTRY_MISMATCH: &str = "country_mismatch";
pub const IP_CHANGE: &str = "ip_change";
pub const BOT: &str = "bot";

/// Every indicator name, in the order reports list them.
pub const ALL: [&str; 7] = [
    HIGH_AMOUNT,
    VELOCITY,
    IMPOSSIBLE_TRAVEL,
    REPEATED_FAILURES,
    COUNTRY_MISMATCH,
    IP_CHANGE,
    BOT,
];

fn indicator(name: &str, weight: u8, reason: String) -> Indicator {
    Indicator {
        name: name.into(),
        weight,
        reason,
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

pub fn failure_keys(tx: &Transaction) -> Vec<Key> {
    let mut keys = vec![Key::User(tx.user_id.clone())];
    if let Some(card) = &tx.card_fingerprint {
        keys.push(Key::Card(card.clone()));
    }
    keys
}

pub fn high_amount(rules: &Rules, state: &State, tx: &Transaction) -> Option<Indicator> {
    let r = &rules.high_amount;
    let amount: f64 = tx.amount.try_into().unwrap_or(f64::MAX);
    if let Some(limit) = r.limit(&tx.currency).filter(|limit| amount > *limit) {
        let reason = format!("{} {} is above the {limit} ceiling", tx.amount, tx.currency);
        return Some(indicator(HIGH_AMOUNT, r.weight, reason));
    }
    let history = state.users.get(&tx.user_id)?.amounts.as_ref()?;
    let usual = history.currency == tx.currency && history.count >= r.min_history;
    if usual && history.mean > 0.0 && amount > r.user_multiple * history.mean {
        let reason = format!(
            "{} {} is {:.1} times this user's average of {:.2}",
            tx.amount,
            tx.currency,
            amount / history.mean,
            history.mean
        );
        return Some(indicator(HIGH_AMOUNT, r.weight, reason));
    }
    None
}

/// The velocity indicator and the keys whose window overflowed (the whole burst
/// under each key is flagged).
pub fn velocity(
    rules: &Rules,
    state: &State,
    tx: &Transaction,
    at: Micros,
) -> Option<(Indicator, Vec<Key>)> {
    let r = &rules.velocity;
    let span = micros_of(r.window);
    let mut fired = Vec::new();
    let mut worst: Option<(usize, &'static str)> = None;
    for key in payment_keys(tx) {
        let limit = match key {
            Key::Card(_) => r.max_per_card,
            Key::User(_) => r.max_per_user,
            Key::Ip(_) => r.max_per_ip,
        };
        let seen = state
            .payments
            .get(&key)
            .map_or(0, |w| count_near(w, at, span, |(t, _)| *t));
        let count = seen + 1;
        if count > limit {
            worst.get_or_insert((count, key.noun()));
            fired.push(key);
        }
    }
    let (count, noun) = worst?;
    let window = humantime::format_duration(r.window);
    let reason = format!("{count} payments on {noun} within {window}");
    Some((indicator(VELOCITY, r.weight, reason), fired))
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

pub fn impossible_travel(
    rules: &Rules,
    state: &State,
    tx: &Transaction,
    at: Micros,
) -> Option<Indicator> {
    let r = &rules.impossible_travel;
    let (lat, lon) = (tx.lat?, tx.lon?);
    let last = state.users.get(&tx.user_id)?.place?;
    let km = haversine_km(last.lat, last.lon, lat, lon);
    if km < r.min_distance_km {
        return None;
    }
    // At least a minute apart, so two payments at one instant give a finite speed.
    let hours = ((at - last.at).abs() as f64 / 3.6e9).max(1.0 / 60.0);
    let speed = km / hours;
    (speed > r.max_speed_kmh).then(|| {
        let reason = format!(
            "{km:.0} km from the previous payment {:.0} minutes earlier ({speed:.0} km/h)",
            hours * 60.0
        );
        indicator(IMPOSSIBLE_TRAVEL, r.weight, reason)
    })
}

pub fn repeated_failures(
    rules: &Rules,
    state: &State,
    tx: &Transaction,
    at: Micros,
) -> Option<Indicator> {
    let r = &rules.repeated_failures;
    let span = micros_of(r.window);
    let this = usize::from(tx.status == TxStatus::Failed);
    let (count, noun) = failure_keys(tx)
        .into_iter()
        .map(|key| {
            let seen = state
                .failures
                .get(&key)
                .map_or(0, |w| count_near(w, at, span, |t| *t));
            (seen + this, key.noun())
        })
        .max_by_key(|(count, _)| *count)?;
    (count > r.max_failures).then(|| {
        let window = humantime::format_duration(r.window);
        let reason = format!("{count} failed logins or payments for {noun} within {window}");
        indicator(REPEATED_FAILURES, r.weight, reason)
    })
}

pub fn country_mismatch(rules: &Rules, tx: &Transaction) -> Option<Indicator> {
    let (from, billing) = (tx.country.as_deref()?, tx.billing_country.as_deref()?);
    (!from.eq_ignore_ascii_case(billing)).then(|| {
        let reason = format!("paying from {from} with a billing address in {billing}");
        indicator(COUNTRY_MISMATCH, rules.country_mismatch.weight, reason)
    })
}

pub fn ip_change(rules: &Rules, state: &State, tx: &Transaction, at: Micros) -> Option<Indicator> {
    let r = &rules.ip_change;
    let changed = state.users.get(&tx.user_id)?.ip_changed_at?;
    let ago = at - changed;
    (ago >= 0 && ago < micros_of(r.window)).then(|| {
        let reason = format!(
            "a session of this user changed IP address {} minutes earlier",
            ago / 60_000_000
        );
        indicator(IP_CHANGE, r.weight, reason)
    })
}

pub fn bot(rules: &Rules, state: &State, tx: &Transaction, at: Micros) -> Option<Indicator> {
    let marked = |key: Key| state.bot_marks.get(&key).is_some_and(|until| *until > at);
    let via_ip = tx.ip.is_some_and(|ip| marked(Key::Ip(ip)));
    let via_user = marked(Key::User(tx.user_id.clone()));
    (via_ip || via_user).then(|| {
        let source = if via_ip { "IP address" } else { "user" };
        let reason = format!(
            "this {source} drove a session at more than {} actions in {}",
            rules.bot.max_actions,
            humantime::format_duration(rules.bot.window)
        );
        indicator(BOT, rules.bot.weight, reason)
    })
}

/// 100 x (1 - product of (1 - weight/100)): independent hints reinforce each other
/// and the score never passes 100.
pub fn combine(indicators: &[Indicator]) -> u8 {
    let clean: f64 = indicators
        .iter()
        .map(|i| 1.0 - f64::from(i.weight.min(100)) / 100.0)
        .product();
    ((1.0 - clean) * 100.0).round() as u8
}
