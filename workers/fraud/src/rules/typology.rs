//! Typologies: the patterns fraud teams name, each a combination of evidence.
//! A typology matches when all of its `all` evidence and one of its `any` evidence
//! are present; its score combines every piece it matched, `support` included.

use serde::{Deserialize, Serialize};
use sightline_schemas::{Indicator, Typology};

use super::Rules;
use crate::error::FraudError;

/// Evidence that says little on its own: travellers, VPN users, new phones, second
/// cards and offices or mobile networks behind one address produce it every day. Its weight must stay below the suspicious
/// score, so no typology can be met by one of them alone.
pub const WEAK_HINTS: [&str; 7] = [
    "country_mismatch",
    "ip_velocity",
    "ip_change",
    "user_travel",
    "new_place",
    "new_device",
    "new_card",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypologyRule {
    pub name: String,
    /// One sentence an analyst reads with every detection it matches.
    pub explain: String,
    pub all: Vec<String>,
    #[serde(default)]
    pub any: Vec<String>,
    #[serde(default)]
    pub support: Vec<String>,
}

impl TypologyRule {
    /// The typology as matched by `evidence`, or `None` when it does not match.
    pub fn matched(&self, evidence: &[Indicator]) -> Option<Typology> {
        let find = |name: &String| evidence.iter().find(|i| &i.name == name);
        let mut used: Vec<&Indicator> = Vec::with_capacity(evidence.len());
        for name in &self.all {
            used.push(find(name)?);
        }
        let any: Vec<&Indicator> = self.any.iter().filter_map(find).collect();
        if !self.any.is_empty() && any.is_empty() {
            return None;
        }
        used.extend(any);
        used.extend(self.support.iter().filter_map(find));
        let names: Vec<&str> = used.iter().map(|i| i.name.as_str()).collect();
        Some(Typology {
            name: self.name.clone(),
            score: combine(used.iter().map(|i| i.weight)),
            reason: format!("{} ({})", self.explain, names.join(", ")),
        })
    }
}

/// 100 x (1 - product of (1 - weight/100)): pieces of evidence reinforce each other
/// and the score never passes 100.
pub fn combine(weights: impl IntoIterator<Item = u8>) -> u8 {
    let clean: f64 = weights
        .into_iter()
        .map(|w| 1.0 - f64::from(w.min(100)) / 100.0)
        .product();
    ((1.0 - clean) * 100.0).round() as u8
}

/// Every typology names known evidence, has something it requires, and no weak
/// hint weighs enough to be suspicious alone.
pub(super) fn check(rules: &Rules) -> Result<(), FraudError> {
    let config = |m: String| Err(FraudError::Config(m));
    if rules.typologies.is_empty() {
        return config("at least one [[typology]] is needed".into());
    }
    for (n, t) in rules.typologies.iter().enumerate() {
        let at = format!("typology[{n}] ({})", t.name);
        if t.name.trim().is_empty() || t.explain.trim().is_empty() {
            return config(format!("{at}: name and explain must not be empty"));
        }
        if t.all.is_empty() {
            return config(format!("{at}: `all` must name at least one evidence"));
        }
        let names = t.all.iter().chain(&t.any).chain(&t.support);
        if let Some(unknown) = names.into_iter().find(|e| rules.weight_of(e).is_none()) {
            return config(format!(
                "{at}: no evidence is called `{unknown}` (known: {})",
                crate::score::evidence::ALL.join(", ")
            ));
        }
    }
    for hint in WEAK_HINTS {
        let weight = rules.weight_of(hint).unwrap_or(0);
        if weight >= rules.suspicious_score {
            return config(format!(
                "{hint}.weight is {weight}: a weak hint must weigh less than suspicious_score ({})",
                rules.suspicious_score
            ));
        }
    }
    Ok(())
}
