//! The scoring core: (state, event) -> detections, with no I/O. Payments are scored;
//! logins and page views teach the state (where a customer is, on what device, at
//! what pace). A payment's evidence is weighed by the rules' typologies.

pub mod evidence;
mod learn;
#[cfg(test)]
pub(crate) mod tests;

use sightline_schemas::{Body, Detection, Event, Indicator, Transaction, TxStatus, Typology};

use crate::rules::Rules;
use crate::state::{micros, micros_of, Horizons, Key, Micros, State};
use evidence::Payer;

/// How often, in event time, state past its horizon is dropped.
const FORGET_EVERY: Micros = 60_000_000;

pub struct Scorer {
    rules: Rules,
    state: State,
}

/// Evidence that spans several payments, with the keys it was counted under: the
/// earlier payments under those keys get it too.
type Burst = (Indicator, Vec<Key>);

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

    fn verdict(&self, event: &Event, tx: &Transaction, at: Micros) -> (Detection, Vec<Burst>) {
        let (rules, state) = (&self.rules, &self.state);
        let payer = Payer::of(rules, state, tx, at);
        let bursts: Vec<Burst> = [
            evidence::velocity((evidence::VELOCITY, &rules.velocity), state, tx, at),
            evidence::velocity((evidence::IP_VELOCITY, &rules.ip_velocity), state, tx, at),
            evidence::declines(rules, state, tx, at),
        ]
        .into_iter()
        .flatten()
        .collect();
        let indicators: Vec<Indicator> = bursts
            .iter()
            .map(|(i, _)| Some(i.clone()))
            .chain([
                evidence::login_failures(rules, state, tx, at),
                evidence::bot(rules, state, tx, at),
                evidence::high_amount(rules, &payer, tx),
                evidence::card_travel(rules, &payer, tx, at),
                evidence::user_travel(rules, &payer, tx, at),
                evidence::new_place(rules, &payer, tx, at),
                evidence::new_device(rules, &payer),
                evidence::new_card(rules, &payer, tx),
                evidence::shared_card(rules, &payer),
                evidence::country_mismatch(rules, tx),
                evidence::ip_change(rules, &payer, at),
            ])
            .flatten()
            .collect();
        let mut detection = Detection {
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
            score: 0,
            indicators,
            typologies: Vec::new(),
            verdict: None,
            occurred_at: event.occurred_at,
            detected_at: event.occurred_at,
        };
        judge(rules, &mut detection);
        (detection, bursts)
    }

    fn on_payment(&mut self, event: &Event, tx: &Transaction, at: Micros) -> Vec<Detection> {
        let (detection, bursts) = self.verdict(event, tx, at);
        let mut out = self.revise_bursts(&detection, &bursts);
        let trusted = detection.score < self.rules.suspicious_score;
        // A first payment from abroad billed at home, with no sign of the customer
        // there, may be the fraudster's: it must not become where the holder lives.
        let placed = !detection.has(evidence::COUNTRY_MISMATCH)
            || Payer::of(&self.rules, &self.state, tx, at).at_home_here;
        self.learn_payment(tx, at, trusted, placed);
        if detection.score >= self.rules.report_score {
            out.insert(0, detection.clone());
        }
        let state = &mut self.state;
        state
            .recent_order
            .push_back((at, tx.transaction_id.clone()));
        state.recent.insert(tx.transaction_id.clone(), detection);
        state.trim_recent(burst_span(&self.rules));
        out
    }

    /// Adds each burst's indicator to the earlier payments under the keys that
    /// overflowed, each once, as a new revision of their verdict.
    fn revise_bursts(&mut self, current: &Detection, bursts: &[Burst]) -> Vec<Detection> {
        let at = micros(current.detected_at);
        let mut revised: Vec<String> = Vec::new();
        for (indicator, keys) in bursts {
            // A weak hint cannot make an earlier verdict: only strong bursts revise.
            if crate::rules::WEAK_HINTS.contains(&indicator.name.as_str()) {
                continue;
            }
            let span = micros_of(match indicator.name.as_str() {
                evidence::DECLINES => self.rules.declines.window,
                evidence::IP_VELOCITY => self.rules.ip_velocity.window,
                _ => self.rules.velocity.window,
            });
            let mut ids: Vec<String> = keys
                .iter()
                .filter_map(|k| self.state.payments.get(k))
                .flatten()
                .filter(|(t, _)| (t - at).abs() < span)
                .map(|(_, id)| id.clone())
                .collect();
            // A run of declines implicates the declined attempts before it, not a
            // payment the holder made on the same card before the run began.
            if indicator.name == evidence::DECLINES {
                let recent = &self.state.recent;
                ids.retain(|id| recent.get(id).is_some_and(|d| d.status == TxStatus::Failed));
            }
            ids.sort();
            ids.dedup();
            for id in ids {
                let Some(earlier) = self.state.recent.get_mut(id.as_str()) else {
                    continue;
                };
                if earlier.has(&indicator.name) || earlier.transaction_id == current.transaction_id
                {
                    continue;
                }
                earlier.indicators.push(indicator.clone());
                judge(&self.rules, earlier);
                earlier.revision += 1;
                earlier.detected_at = current.detected_at;
                if !revised.contains(&id) {
                    revised.push(id);
                }
            }
        }
        revised
            .iter()
            .filter_map(|id| self.state.recent.get(id))
            .filter(|d| d.score >= self.rules.report_score)
            .cloned()
            .collect()
    }

    fn horizons(&self) -> Horizons {
        let r = &self.rules;
        Horizons {
            payments: burst_span(r),
            declines: micros_of(r.declines.window),
            logins: micros_of(r.login_failures.window),
            actions: micros_of(r.bot.window),
            presence: micros_of(r.presence_window),
            sessions: micros_of(r.ip_change.window),
            users: micros_of(r.forget_after),
        }
    }
}

/// How long payments stay where a burst found later can revise them.
fn burst_span(rules: &Rules) -> Micros {
    let r = rules;
    micros_of(
        r.velocity
            .window
            .max(r.ip_velocity.window)
            .max(r.declines.window),
    )
}

/// Orders the evidence, matches the typologies and scores the detection by the
/// strongest: evidence outside every typology adds nothing.
pub fn judge(rules: &Rules, detection: &mut Detection) {
    let indicators = &mut detection.indicators;
    indicators.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.name.cmp(&b.name)));
    let mut typologies: Vec<Typology> = rules
        .typologies
        .iter()
        .filter_map(|t| t.matched(indicators))
        .collect();
    typologies.sort_by(|a, b| b.score.cmp(&a.score).then(a.name.cmp(&b.name)));
    detection.score = typologies.first().map_or(0, |t| t.score);
    detection.typologies = typologies;
}
