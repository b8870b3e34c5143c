//! What the scorer remembers between events: sliding windows per card, customer,
//! address and device, each customer's habits (spending, places, devices, cards),
//! where cards were last used, where customers were just seen, live sessions and
//! recent verdicts. Time is event time in microseconds, so a replay of the same
//! events rebuilds the same state.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sightline_schemas::{Detection, OffsetDateTime};

pub type Micros = i64;

pub fn micros(at: OffsetDateTime) -> Micros {
    (at.unix_timestamp_nanos() / 1_000) as Micros
}

pub fn micros_of(d: std::time::Duration) -> Micros {
    d.as_micros().min(i64::MAX as u128) as Micros
}

/// A stable 64-bit digest (FNV-1a) for what the state only compares: devices,
/// cards and customers inside small sets. Stable across builds, so a saved state
/// reads the same after an upgrade.
pub fn digest(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Who a window or mark is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Key {
    Card(String),
    User(String),
    Ip(IpAddr),
    /// A user agent on one network (/24 or /48): one browser or script.
    Device(u64),
    Session(String),
}

impl Key {
    /// How a reason names the key without repeating it (fingerprints stay out of reasons).
    pub fn noun(&self) -> &'static str {
        match self {
            Key::Card(_) => "one card",
            Key::User(_) => "this customer",
            Key::Ip(_) => "one IP address",
            Key::Device(_) => "one device",
            Key::Session(_) => "one session",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub lat: f64,
    pub lon: f64,
    pub at: Micros,
}

/// A customer's recent payments, as natural logs of their amount in the rates
/// table's base currency: enough for a median and a spread that one odd payment
/// does not move.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Spending {
    pub recent: VecDeque<f32>,
    pub count: u32,
}

/// How many payments a customer's usual spending is judged on.
const SPENDING_KEPT: usize = 15;

impl Spending {
    pub fn add(&mut self, base_amount: f64) {
        if self.recent.len() == SPENDING_KEPT {
            self.recent.pop_front();
        }
        self.recent.push_back(base_amount.max(0.01).ln() as f32);
        self.count = self.count.saturating_add(1);
    }

    /// The median and the spread (1.4826 x the median absolute deviation: a
    /// standard deviation that outliers do not inflate), in log units.
    pub fn median_and_spread(&self) -> Option<(f64, f64)> {
        let middle = median(self.recent.iter().map(|v| f64::from(*v)).collect())?;
        let deviations = self
            .recent
            .iter()
            .map(|v| (f64::from(*v) - middle).abs())
            .collect();
        Some((middle, 1.4826 * median(deviations)?))
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// A small set that keeps the most recently seen members.
pub fn remember<T: PartialEq>(set: &mut Vec<T>, item: T, keep: usize) {
    if let Some(i) = set.iter().position(|x| *x == item) {
        let item = set.remove(i);
        set.push(item);
        return;
    }
    if set.len() == keep {
        set.remove(0);
    }
    set.push(item);
}

/// How many places, devices and cards a customer is known by.
pub const KNOWN_KEPT: usize = 6;

// `serde(default)` on what is saved: a state written by an earlier version (with
// other fields) still loads, what it lacks starting empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserState {
    pub last_seen: Micros,
    /// Where the customer last paid from, learned only from payments not found suspicious.
    pub place: Option<Place>,
    pub spending: Spending,
    /// Countries (ISO codes) they paid or logged in from on a device of theirs.
    pub countries: Vec<[u8; 2]>,
    /// Digests of the user agents they paid from.
    pub devices: Vec<u64>,
    /// Digests of the cards they paid with.
    pub cards: Vec<u64>,
    /// When one of their sessions last switched IP address.
    pub ip_changed_at: Option<Micros>,
}

/// Where a card was last used without suspicion, and by whom.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CardState {
    pub last_seen: Micros,
    pub place: Option<Place>,
    /// Digests of the customers who paid with it, with when they last did.
    pub users: Vec<(u64, Micros)>,
}

/// A customer seen at an address (a page view or a login) with a device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub at: Micros,
    pub device: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    #[serde(default)]
    pub ip: Option<IpAddr>,
    pub last_seen: Micros,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// The latest event time seen: the clock windows and forgetting run on.
    pub now: Micros,
    pub users: HashMap<String, UserState>,
    pub cards: HashMap<String, CardState>,
    /// Payment attempts (time, transaction id) per card, customer and IP.
    pub payments: HashMap<Key, VecDeque<(Micros, String)>>,
    /// Failed payments per card, customer and IP.
    pub declines: HashMap<Key, VecDeque<Micros>>,
    /// Failed logins per customer, with the address they came from.
    pub login_failures: HashMap<String, VecDeque<(Micros, Option<IpAddr>)>>,
    /// Page actions per session, customer, device and IP (at most the bot limit plus one).
    pub actions: HashMap<Key, VecDeque<Micros>>,
    /// Where each customer (digest) was last seen at each address, and on what.
    pub presence: HashMap<(u64, IpAddr), Presence>,
    pub sessions: HashMap<String, Session>,
    /// IPs and customers that behaved like bots, until when.
    pub bot_marks: HashMap<Key, Micros>,
    /// Verdicts on payments still inside the burst windows, by transaction id, so
    /// a burst recognised later can revise the payments that started it.
    pub recent: HashMap<String, Detection>,
    pub recent_order: VecDeque<(Micros, String)>,
    /// When (in event time) state past its horizon was last dropped.
    pub forgot_at: Micros,
}

/// How long each kind of memory lasts, from the rules.
pub struct Horizons {
    pub payments: Micros,
    pub declines: Micros,
    pub logins: Micros,
    pub actions: Micros,
    pub presence: Micros,
    pub sessions: Micros,
    pub users: Micros,
}

impl State {
    /// Drops everything older than its horizon. Cheap enough to run every minute of event time.
    pub fn forget(&mut self, h: &Horizons) {
        let now = self.now;
        let fresh = |at: Micros, horizon: Micros| at > now - horizon;
        self.payments
            .retain(|_, w| w.back().is_some_and(|(at, _)| fresh(*at, h.payments)));
        self.declines
            .retain(|_, w| w.back().is_some_and(|at| fresh(*at, h.declines)));
        self.login_failures
            .retain(|_, w| w.back().is_some_and(|(at, _)| fresh(*at, h.logins)));
        self.actions
            .retain(|_, w| w.back().is_some_and(|at| fresh(*at, h.actions)));
        self.presence.retain(|_, p| fresh(p.at, h.presence));
        self.sessions.retain(|_, s| fresh(s.last_seen, h.sessions));
        self.bot_marks.retain(|_, until| *until > now);
        self.users.retain(|_, u| fresh(u.last_seen, h.users));
        self.cards.retain(|_, c| fresh(c.last_seen, h.users));
    }

    /// Keeps `recent` to the payments inside the burst windows.
    pub fn trim_recent(&mut self, horizon: Micros) {
        while let Some((at, _)) = self.recent_order.front() {
            if *at > self.now - horizon {
                break;
            }
            if let Some((_, id)) = self.recent_order.pop_front() {
                self.recent.remove(&id);
            }
        }
    }

    pub fn snapshot(&self) -> Result<Vec<u8>, String> {
        rmp_serde::to_vec_named(self).map_err(|e| e.to_string())
    }

    pub fn restore(bytes: &[u8]) -> Result<Self, String> {
        rmp_serde::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// Times in a window around `at` (events may arrive slightly out of order).
pub fn count_near<T>(
    window: &VecDeque<T>,
    at: Micros,
    span: Micros,
    time: impl Fn(&T) -> Micros,
) -> usize {
    window
        .iter()
        .filter(|e| (time(e) - at).abs() < span)
        .count()
}

/// Appends to a window and drops entries that fell out of it.
pub fn push_window<T>(
    window: &mut VecDeque<T>,
    entry: T,
    now: Micros,
    span: Micros,
    time: impl Fn(&T) -> Micros,
) {
    window.push_back(entry);
    while window.front().is_some_and(|e| time(e) <= now - span) {
        window.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state as the scorer saved it before typologies (rules 2026-11-21.1).
    #[derive(Serialize)]
    struct Earlier {
        now: Micros,
        users: HashMap<String, EarlierUser>,
        payments: HashMap<Key, VecDeque<(Micros, String)>>,
        failures: HashMap<Key, VecDeque<Micros>>,
        sessions: HashMap<String, EarlierSession>,
        bot_marks: HashMap<Key, Micros>,
        recent: HashMap<String, Detection>,
        recent_order: VecDeque<(Micros, String)>,
        forgot_at: Micros,
    }

    #[derive(Serialize)]
    struct EarlierUser {
        last_seen: Micros,
        place: Option<Place>,
        amounts: Option<(String, u32, f64)>,
        ip_changed_at: Option<Micros>,
    }

    #[derive(Serialize)]
    struct EarlierSession {
        user: String,
        ip: Option<IpAddr>,
        actions: VecDeque<Micros>,
        last_seen: Micros,
    }

    #[test]
    fn a_state_saved_by_the_earlier_scorer_still_loads() {
        let place = Place {
            lat: 52.5,
            lon: 13.4,
            at: 7,
        };
        let user = EarlierUser {
            last_seen: 9,
            place: Some(place),
            amounts: Some(("EUR".into(), 3, 40.0)),
            ip_changed_at: None,
        };
        let session = EarlierSession {
            user: "u1".into(),
            ip: None,
            actions: VecDeque::from([1, 2]),
            last_seen: 2,
        };
        let earlier = Earlier {
            now: 10,
            users: HashMap::from([("u1".to_owned(), user)]),
            payments: HashMap::from([(
                Key::User("u1".into()),
                VecDeque::from([(5, "tx".to_owned())]),
            )]),
            failures: HashMap::new(),
            sessions: HashMap::from([("s1".to_owned(), session)]),
            bot_marks: HashMap::new(),
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            forgot_at: 0,
        };
        let bytes = rmp_serde::to_vec_named(&earlier).unwrap();
        let state = State::restore(&bytes).expect("an earlier state loads");
        assert_eq!(state.now, 10);
        assert_eq!(state.users["u1"].place, Some(place), "what it knew is kept");
        assert_eq!(
            state.users["u1"].spending.count, 0,
            "what it lacked starts empty"
        );
        assert_eq!(state.payments.len(), 1);
        assert_eq!(state.sessions["s1"].user, "u1");
    }
}
