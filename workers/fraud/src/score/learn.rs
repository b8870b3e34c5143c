//! What the scorer learns from each event: a payment teaches the customer's habits
//! (only when it was not found suspicious), a login or page view where they are
//! and on what, and the pace of page views who is a script.

use std::net::IpAddr;

use sightline_schemas::{Security, Transaction, TxStatus, UserBehavior};

use super::evidence::{country_code, payment_keys};
use super::Scorer;
use crate::state::{
    digest, micros_of, push_window, remember, CardState, Key, Micros, Place, Presence, Session,
    State, UserState, KNOWN_KEPT,
};

impl Scorer {
    /// `trusted`: the payment was not found suspicious. `placed`: it shows where the
    /// customer is (paid from the billing country, or seen here on a device of
    /// theirs), so its place may be learned.
    pub(super) fn learn_payment(
        &mut self,
        tx: &Transaction,
        at: Micros,
        trusted: bool,
        placed: bool,
    ) {
        let r = &self.rules;
        let now = self.state.now;
        let (pay_span, decline_span) = (super::burst_span(r), micros_of(r.declines.window));
        for key in payment_keys(tx) {
            if tx.status == TxStatus::Failed {
                let w = self.state.declines.entry(key.clone()).or_default();
                push_window(w, at, now, decline_span, |t| *t);
            }
            let w = self.state.payments.entry(key).or_default();
            let entry = (at, tx.transaction_id.clone());
            push_window(w, entry, now, pay_span, |(t, _)| *t);
        }
        let user_digest = digest(&[tx.user_id.as_bytes()]);
        let device = tx
            .ip
            .and_then(|ip| self.state.presence.get(&(user_digest, ip)))
            .filter(|p| p.at <= at && at - p.at < micros_of(r.presence_window))
            .map(|p| p.device);
        let base = tx
            .amount
            .try_into()
            .ok()
            .and_then(|a: f64| r.rates.to_base(a, &tx.currency));
        let user = user_entry(&mut self.state, &tx.user_id);
        user.last_seen = user.last_seen.max(at);
        // A suspicious payment teaches nothing about the holder's habits or
        // whereabouts: the next genuine payment is judged against the genuine past.
        if !trusted {
            return;
        }
        let place = match (tx.lat, tx.lon) {
            (Some(lat), Some(lon)) if placed => Some(Place { lat, lon, at }),
            _ => None,
        };
        user.place = place.or(user.place);
        if let (Some(base), TxStatus::Completed | TxStatus::Pending) = (base, tx.status) {
            user.spending.add(base);
        }
        if let Some(code) = tx
            .country
            .as_deref()
            .and_then(country_code)
            .filter(|_| placed)
        {
            remember(&mut user.countries, code, KNOWN_KEPT);
        }
        if let Some(device) = device {
            remember(&mut user.devices, device, KNOWN_KEPT);
        }
        let Some(card) = &tx.card_fingerprint else {
            return;
        };
        remember(&mut user.cards, digest(&[card.as_bytes()]), KNOWN_KEPT);
        if !self.state.cards.contains_key(card) {
            self.state.cards.insert(card.clone(), CardState::default());
        }
        let Some(state) = self.state.cards.get_mut(card) else {
            return;
        };
        state.last_seen = state.last_seen.max(at);
        state.place = place.or(state.place);
        state.users.retain(|(u, _)| *u != user_digest);
        if state.users.len() == KNOWN_KEPT {
            state.users.remove(0);
        }
        state.users.push((user_digest, at));
    }

    pub(super) fn on_security(&mut self, s: &Security, at: Micros) {
        let Some(user) = &s.user_id else {
            return;
        };
        let r = &self.rules;
        let now = self.state.now;
        let span = micros_of(r.login_failures.window);
        if s.action.contains("fail") {
            let w = self.state.login_failures.entry(user.clone()).or_default();
            push_window(w, (at, s.ip), now, span, |(t, _)| *t);
        }
        let attacked = self
            .state
            .login_failures
            .get(user)
            .is_some_and(|w| w.iter().any(|(t, _)| *t <= at && at - *t < span));
        let logged_in = s.action.contains("login") && !s.action.contains("fail");
        let seen = logged_in
            .then(|| self.see(user, s.ip, s.user_agent.as_deref(), at))
            .flatten();
        let u = user_entry(&mut self.state, user);
        u.last_seen = u.last_seen.max(at);
        // A login not under attack teaches a place on a device of theirs, and a
        // first device from a place of theirs; a new account learns both from its
        // first login. Someone else's login from elsewhere teaches nothing.
        let Some(device) = seen.filter(|_| !attacked) else {
            return;
        };
        let country = s.country.as_deref().and_then(country_code);
        let new_account = u.devices.is_empty() && u.countries.is_empty();
        let known_place = country.is_some_and(|c| u.countries.contains(&c));
        if u.devices.is_empty() && (new_account || known_place) {
            u.devices.push(device);
        }
        if let Some(code) = country.filter(|_| u.devices.contains(&device)) {
            remember(&mut u.countries, code, KNOWN_KEPT);
        }
    }

    pub(super) fn on_behavior(&mut self, b: &UserBehavior, at: Micros) {
        let now = self.state.now;
        // Look up before inserting: most actions belong to a known session, and an
        // entry() call would allocate its key every time.
        if !self.state.sessions.contains_key(&b.session_id) {
            let session = Session {
                user: b.user_id.clone(),
                ip: b.ip,
                last_seen: at,
            };
            self.state.sessions.insert(b.session_id.clone(), session);
        }
        let mut switched = false;
        if let Some(session) = self.state.sessions.get_mut(&b.session_id) {
            session.last_seen = session.last_seen.max(at);
            switched = matches!((session.ip, b.ip), (Some(old), Some(new)) if old != new);
            session.ip = b.ip.or(session.ip);
        }
        self.see(&b.user_id, b.ip, b.user_agent.as_deref(), at);
        self.count_actions(b, at, now);
        let user = user_entry(&mut self.state, &b.user_id);
        user.last_seen = user.last_seen.max(at);
        if switched {
            user.ip_changed_at = Some(at);
        }
    }

    /// Records the customer at an address with a device; returns the device.
    fn see(
        &mut self,
        user: &str,
        ip: Option<IpAddr>,
        agent: Option<&str>,
        at: Micros,
    ) -> Option<u64> {
        let (ip, agent) = (ip?, agent?);
        let device = digest(&[agent.as_bytes()]);
        let presence = Presence { at, device };
        self.state
            .presence
            .insert((digest(&[user.as_bytes()]), ip), presence);
        Some(device)
    }

    /// Counts a page action per session, customer, device and address; past the
    /// limit the address and the customer are marked as a bot for a while.
    fn count_actions(&mut self, b: &UserBehavior, at: Micros, now: Micros) {
        let r = &self.rules.bot;
        let span = micros_of(r.window);
        let mut keys = vec![
            Key::Session(b.session_id.clone()),
            Key::User(b.user_id.clone()),
        ];
        if let (Some(ip), Some(agent)) = (b.ip, &b.user_agent) {
            keys.push(Key::Device(digest(&[agent.as_bytes(), &network(ip)])));
        }
        keys.extend(b.ip.map(Key::Ip));
        let mut bot = false;
        for key in keys {
            let limit = match key {
                Key::Ip(_) => r.max_actions_per_ip,
                _ => r.max_actions,
            };
            let w = self.state.actions.entry(key).or_default();
            push_window(w, at, now, span, |t| *t);
            while w.len() > limit + 1 {
                w.pop_front();
            }
            bot |= w.len() > limit;
        }
        if bot {
            // The address, not the account: a script often drives a stolen account,
            // whose holder keeps paying from home. Without an address, the account.
            let until = at + micros_of(r.remember);
            let mark = b.ip.map_or_else(|| Key::User(b.user_id.clone()), Key::Ip);
            let entry = self.state.bot_marks.entry(mark).or_insert(until);
            *entry = (*entry).max(until);
        }
    }
}

/// The /24 (IPv4) or /48 (IPv6) network of an address: one household or office.
fn network(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3].to_vec(),
        IpAddr::V6(v6) => v6.octets()[..6].to_vec(),
    }
}

/// The customer's state, created on first sight without allocating a key for known users.
fn user_entry<'a>(state: &'a mut State, user: &str) -> &'a mut UserState {
    if !state.users.contains_key(user) {
        state.users.insert(user.to_owned(), Default::default());
    }
    state
        .users
        .get_mut(user)
        .expect("the user was just inserted")
}
