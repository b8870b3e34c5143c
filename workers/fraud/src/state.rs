//! What the scorer remembers between events: sliding windows per card, user and IP,
//! users' habits, live sessions and recent verdicts. Time is event time in
//! microseconds, so a replay of the same events rebuilds the same state.

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

/// Who a window or mark is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Key {
    Card(String),
    User(String),
    Ip(IpAddr),
}

impl Key {
    /// How a reason names the key without repeating it (fingerprints stay out of reasons).
    pub fn noun(&self) -> &'static str {
        match self {
            Key::Card(_) => "one card",
            Key::User(_) => "this user",
            Key::Ip(_) => "one IP address",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub lat: f64,
    pub lon: f64,
    pub at: Micros,
}

/// A running mean of a user's payments in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmountHistory {
    pub currency: String,
    pub count: u32,
    pub mean: f64,
}

impl AmountHistory {
    pub fn add(&mut self, currency: &str, amount: f64) {
        if self.currency != currency {
            *self = AmountHistory {
                currency: currency.to_owned(),
                count: 0,
                mean: 0.0,
            };
        }
        self.count = self.count.saturating_add(1);
        self.mean += (amount - self.mean) / f64::from(self.count);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    pub last_seen: Micros,
    /// Where the user last paid from, learned only from payments not found suspicious.
    pub place: Option<Place>,
    pub amounts: Option<AmountHistory>,
    /// When one of the user's sessions last switched IP address.
    pub ip_changed_at: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    pub ip: Option<IpAddr>,
    /// Recent action times, at most the bot threshold plus one.
    pub actions: VecDeque<Micros>,
    pub last_seen: Micros,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The latest event time seen: the clock windows and forgetting run on.
    pub now: Micros,
    pub users: HashMap<String, UserState>,
    /// Payment attempts (time, transaction id) per card, user and IP.
    pub payments: HashMap<Key, VecDeque<(Micros, String)>>,
    /// Failed logins and payments per user and card.
    pub failures: HashMap<Key, VecDeque<Micros>>,
    pub sessions: HashMap<String, Session>,
    /// IPs (or users, when a session had no IP) that behaved like bots, until when.
    pub bot_marks: HashMap<Key, Micros>,
    /// Verdicts on payments still inside the velocity window, by transaction id, so
    /// a burst recognised later can revise the payments that started it.
    pub recent: HashMap<String, Detection>,
    pub recent_order: VecDeque<(Micros, String)>,
    /// When (in event time) state past its horizon was last dropped.
    pub forgot_at: Micros,
}

/// How long each kind of memory lasts, from the rules.
pub struct Horizons {
    pub payments: Micros,
    pub failures: Micros,
    pub sessions: Micros,
    pub users: Micros,
}

impl State {
    /// Drops everything older than its horizon. Cheap enough to run every few thousand events.
    pub fn forget(&mut self, h: &Horizons) {
        let now = self.now;
        self.payments
            .retain(|_, w| w.back().is_some_and(|(at, _)| *at > now - h.payments));
        self.failures
            .retain(|_, w| w.back().is_some_and(|at| *at > now - h.failures));
        self.sessions.retain(|_, s| s.last_seen > now - h.sessions);
        self.bot_marks.retain(|_, until| *until > now);
        self.users.retain(|_, u| u.last_seen > now - h.users);
    }

    /// Keeps `recent` to the payments inside the velocity window.
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
