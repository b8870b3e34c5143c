//! The scoring core: (state, event) -> detections, with no I/O. Payments are scored;
//! logins and page actions only teach the state.

pub mod checks;
#[cfg(test)]
mod tests;

use sightline_schemas::{Body, Detection, Event, Security, Transaction, TxStatus, UserBehavior};

use crate::rules::Rules;
use crate::state::{micros, micros_of, push_window, Horizons, Key, Micros, Place, Session, State};

/// How often, in event time, state past its horizon is dropped.
const FORGET_EVERY: Micros = 60_000_000;

pub struct Scorer {
    rules: Rules,
    state: State,
}

impl Scorer {
    pub fn new(rules: Rules) -> Self {
        Self::with_state(rules, State::default())
    }

    pub fn with_state(rules: Rules, state: State) -> Self {
        Self { rules, state }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Learns from one event. Returns the detections to publish: the verdict on a
    /// payment when it reaches the report score, and revised verdicts on earlier
    /// payments that a burst now implicates.
    pub fn observe(&mut self, event: &Event) -> Vec<Detection> {
        let at = micros(event.occurred_at);
        self.state.now = self.state.now.max(at);
        if self.state.now - self.state.forgot_at >= FORGET_EVERY {
            self.state.forgot_at = self.state.now;
            self.state.forget(&self.horizons());
        }
        match &event.payload {
            Body::Transaction(tx) => self.on_payment(event, tx, at),
            Body::Security(s) => {
                self.on_security(s, at);
                Vec::new()
            }
            Body::UserBehavior(b) => {
                self.on_behavior(b, at);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Scores a payment against what is known now, changing nothing: the answer to
    /// "what would this payment score?" (POST /api/fraud/detect).
    pub fn assess(&self, event: &Event, tx: &Transaction) -> Detection {
        self.verdict(event, tx, micros(event.occurred_at)).0
    }

    fn verdict(&self, event: &Event, tx: &Transaction, at: Micros) -> (Detection, Vec<Key>) {
        let (rules, state) = (&self.rules, &self.state);
        let velocity = checks::velocity(rules, state, tx, at);
        let mut indicators: Vec<_> = [
            checks::high_amount(rules, state, tx),
            velocity.as_ref().map(|(i, _)| i.clone()),
            checks::impossible_travel(rules, state, tx, at),
            checks::repeated_failures(rules, state, tx, at),
            checks::country_mismatch(rules, tx),
            checks::ip_change(rules, state, tx, at),
            checks::bot(rules, state, tx, at),
        ]
        .into_iter()
        .flatten()
        .collect();
        indicators.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.name.cmp(&b.name)));
        let detection = Detection {
            id: Detection::id_for(&tx.transaction_id, &rules.version),
            revision: 0,
            rules_version: rules.version.clone(),
            event_id: event.id,
            transaction_id: tx.transaction_id.clone(),
            user_id: tx.user_id.clone(),
            service: event.service.clone(),
            amount: tx.amount,
            currency: tx.currency.clone(),
            status: tx.status,
            payment_method: tx.payment_method.clone(),
            country: tx.country.clone(),
            ip: tx.ip,
            ip_ref: None,
            score: checks::combine(&indicators),
            indicators,
            occurred_at: event.occurred_at,
            detected_at: event.occurred_at,
        };
        (
            detection,
            velocity.map(|(_, keys)| keys).unwrap_or_default(),
        )
    }

    fn on_payment(&mut self, event: &Event, tx: &Transaction, at: Micros) -> Vec<Detection> {
        let (detection, burst_keys) = self.verdict(event, tx, at);
        let mut out = self.revise_burst(&detection, &burst_keys);
        self.learn_payment(tx, at, detection.score < self.rules.suspicious_score);
        let velocity_span = micros_of(self.rules.velocity.window);
        let state = &mut self.state;
        if detection.score >= self.rules.report_score {
            out.insert(0, detection.clone());
        }
        state
            .recent_order
            .push_back((at, tx.transaction_id.clone()));
        state.recent.insert(tx.transaction_id.clone(), detection);
        state.trim_recent(velocity_span);
        out
    }

    /// Adds the burst's velocity indicator to the earlier payments under the keys
    /// that overflowed, each once, as a new revision of their verdict.
    fn revise_burst(&mut self, current: &Detection, keys: &[Key]) -> Vec<Detection> {
        let Some(velocity) = current
            .indicators
            .iter()
            .find(|i| i.name == checks::VELOCITY)
        else {
            return Vec::new();
        };
        let span = micros_of(self.rules.velocity.window);
        let at = micros(current.detected_at);
        let mut ids: Vec<&String> = keys
            .iter()
            .filter_map(|k| self.state.payments.get(k))
            .flatten()
            .filter(|(t, _)| (t - at).abs() < span)
            .map(|(_, id)| id)
            .collect();
        ids.sort();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            let Some(earlier) = self.state.recent.get_mut(id.as_str()) else {
                continue;
            };
            if earlier.has(checks::VELOCITY) || earlier.transaction_id == current.transaction_id {
                continue;
            }
            earlier.indicators.push(velocity.clone());
            earlier
                .indicators
                .sort_by(|a, b| b.weight.cmp(&a.weight).then(a.name.cmp(&b.name)));
            earlier.score = checks::combine(&earlier.indicators);
            earlier.revision += 1;
            earlier.detected_at = current.detected_at;
            if earlier.score >= self.rules.report_score {
                out.push(earlier.clone());
            }
        }
        out
    }

    fn learn_payment(&mut self, tx: &Transaction, at: Micros, trusted: bool) {
        let r = &self.rules;
        let now = self.state.now;
        let (pay_span, fail_span) = (
            micros_of(r.velocity.window),
            micros_of(r.repeated_failures.window),
        );
        for key in checks::payment_keys(tx) {
            let w = self.state.payments.entry(key).or_default();
            push_window(
                w,
                (at, tx.transaction_id.clone()),
                now,
                pay_span,
                |(t, _)| *t,
            );
        }
        if tx.status == TxStatus::Failed {
            for key in checks::failure_keys(tx) {
                let w = self.state.failures.entry(key).or_default();
                push_window(w, at, now, fail_span, |t| *t);
            }
        }
        let user = user_entry(&mut self.state, &tx.user_id);
        user.last_seen = user.last_seen.max(at);
        // A suspicious payment teaches nothing about the holder's habits or
        // whereabouts: the next genuine payment is judged against the genuine past.
        if !trusted {
            return;
        }
        if let (Some(lat), Some(lon)) = (tx.lat, tx.lon) {
            user.place = Some(Place { lat, lon, at });
        }
        if matches!(tx.status, TxStatus::Completed | TxStatus::Pending) {
            let amount: f64 = tx.amount.try_into().unwrap_or(0.0);
            user.amounts
                .get_or_insert_with(|| crate::state::AmountHistory {
                    currency: tx.currency.clone(),
                    count: 0,
                    mean: 0.0,
                })
                .add(&tx.currency, amount);
        }
    }

    fn on_security(&mut self, s: &Security, at: Micros) {
        let Some(user) = &s.user_id else {
            return;
        };
        let failed = s.action.contains("fail");
        let now = self.state.now;
        if failed {
            let span = micros_of(self.rules.repeated_failures.window);
            let w = self
                .state
                .failures
                .entry(Key::User(user.clone()))
                .or_default();
            push_window(w, at, now, span, |t| *t);
        }
        let u = user_entry(&mut self.state, user);
        u.last_seen = u.last_seen.max(at);
    }

    fn on_behavior(&mut self, b: &UserBehavior, at: Micros) {
        let r = &self.rules.bot;
        let now = self.state.now;
        // Look up before inserting: most actions belong to a known session, and an
        // entry() call would allocate its key every time.
        if !self.state.sessions.contains_key(&b.session_id) {
            let session = Session {
                user: b.user_id.clone(),
                ip: b.ip,
                actions: Default::default(),
                last_seen: at,
            };
            self.state.sessions.insert(b.session_id.clone(), session);
        }
        let Some(session) = self.state.sessions.get_mut(&b.session_id) else {
            return;
        };
        session.last_seen = session.last_seen.max(at);
        let switched = matches!((session.ip, b.ip), (Some(old), Some(new)) if old != new);
        if b.ip.is_some() {
            session.ip = b.ip;
        }
        push_window(&mut session.actions, at, now, micros_of(r.window), |t| *t);
        while session.actions.len() > r.max_actions + 1 {
            session.actions.pop_front();
        }
        let bot = session.actions.len() > r.max_actions;
        let mark = session
            .ip
            .map_or_else(|| Key::User(session.user.clone()), Key::Ip);
        if bot {
            let until = at + micros_of(r.remember);
            let entry = self.state.bot_marks.entry(mark).or_insert(until);
            *entry = (*entry).max(until);
        }
        let user = user_entry(&mut self.state, &b.user_id);
        user.last_seen = user.last_seen.max(at);
        if switched {
            user.ip_changed_at = Some(at);
        }
    }

    fn horizons(&self) -> Horizons {
        let r = &self.rules;
        Horizons {
            payments: micros_of(r.velocity.window),
            failures: micros_of(r.repeated_failures.window),
            sessions: micros_of(r.bot.window.max(r.ip_change.window)),
            users: micros_of(r.forget_after),
        }
    }
}

/// The user's state, created on first sight without allocating a key for known users.
fn user_entry<'a>(state: &'a mut State, user: &str) -> &'a mut crate::state::UserState {
    if !state.users.contains_key(user) {
        state.users.insert(user.to_owned(), Default::default());
    }
    state
        .users
        .get_mut(user)
        .expect("the user was just inserted")
}
