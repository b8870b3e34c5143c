//! The versioned rules file: how each kind of evidence is found and weighed, and
//! the typologies that combine evidence into a verdict. The built-in default is
//! `config/fraud-rules.toml`; docs/fraud.md explains every part.

mod typology;

use std::path::Path;
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use typology::{TypologyRule, WEAK_HINTS};

use crate::error::FraudError;
use crate::rates::Rates;

const DEFAULT_RULES: &str = include_str!("../../../../config/fraud-rules.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Recorded in every detection and part of its id.
    pub version: String,
    pub report_score: u8,
    pub suspicious_score: u8,
    #[serde(with = "humantime_serde")]
    pub forget_after: Duration,
    #[serde(with = "humantime_serde")]
    pub presence_window: Duration,
    pub max_speed_kmh: f64,
    pub min_distance_km: f64,
    pub high_amount: HighAmount,
    pub velocity: Counted,
    pub ip_velocity: Counted,
    pub declines: Counted,
    pub login_failures: LoginFailures,
    pub bot: Bot,
    pub card_travel: Weight,
    pub user_travel: Weight,
    pub new_place: NewPlace,
    pub new_device: Weight,
    pub new_card: Weight,
    pub shared_card: Weight,
    pub country_mismatch: Weight,
    pub ip_change: Windowed,
    #[serde(rename = "typology")]
    pub typologies: Vec<TypologyRule>,
    /// The currency table amounts are weighed with (`fraud.rates_file`).
    #[serde(skip)]
    pub rates: Rates,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    pub weight: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPlace {
    pub weight: u8,
    /// When the customer could have travelled there since their last payment.
    pub reachable_weight: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Windowed {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighAmount {
    pub weight: u8,
    pub extreme_weight: u8,
    pub min_history: u32,
    pub unusual_multiple: f64,
    pub spread_z: f64,
    pub extreme_multiple: f64,
    /// In the rates table's base currency.
    pub new_customer_ceiling: f64,
}

/// Attempts counted within a window per card, customer and address, each where a
/// limit is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counted {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    #[serde(default)]
    pub max_per_card: Option<usize>,
    #[serde(default)]
    pub max_per_user: Option<usize>,
    #[serde(default)]
    pub max_per_ip: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginFailures {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    pub max: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bot {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    pub max_actions: usize,
    pub max_actions_per_ip: usize,
    #[serde(with = "humantime_serde")]
    pub remember: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self::parse(Toml::string(DEFAULT_RULES), Rates::default())
            .expect("the built-in rules file is valid")
    }
}

impl Rules {
    /// Reads a rules file; errors name the file and the offending key.
    pub fn load(path: &Path, rates: Rates) -> Result<Self, FraudError> {
        if !path.exists() {
            return Err(FraudError::Config(format!(
                "fraud rules file {} does not exist",
                path.display()
            )));
        }
        Self::parse(Toml::file(path), rates)
            .map_err(|e| FraudError::Config(format!("fraud rules {}: {e}", path.display())))
    }

    /// The file at `path`, or the built-in rules when none is configured.
    pub fn load_or_default(path: Option<&Path>, rates: Rates) -> Result<Self, FraudError> {
        match path {
            Some(path) => Self::load(path, rates),
            None => Ok(Self {
                rates,
                ..Self::default()
            }),
        }
    }

    fn parse(provider: figment::providers::Data<Toml>, rates: Rates) -> Result<Self, FraudError> {
        let mut rules: Rules = Figment::from(provider)
            .extract()
            .map_err(|e| FraudError::Config(e.to_string()))?;
        rules.rates = rates;
        rules.check()?;
        Ok(rules)
    }

    /// The weight of the evidence called `name`, if there is such evidence.
    pub fn weight_of(&self, name: &str) -> Option<u8> {
        Some(match name {
            "high_amount" => self.high_amount.weight,
            "velocity" => self.velocity.weight,
            "ip_velocity" => self.ip_velocity.weight,
            "declines" => self.declines.weight,
            "login_failures" => self.login_failures.weight,
            "bot" => self.bot.weight,
            "card_travel" => self.card_travel.weight,
            "user_travel" => self.user_travel.weight,
            "new_place" => self.new_place.weight,
            "new_device" => self.new_device.weight,
            "new_card" => self.new_card.weight,
            "shared_card" => self.shared_card.weight,
            "country_mismatch" => self.country_mismatch.weight,
            "ip_change" => self.ip_change.weight,
            _ => return None,
        })
    }

    fn check(&self) -> Result<(), FraudError> {
        let config = |m: String| Err(FraudError::Config(m));
        let scores = [
            ("report_score", self.report_score),
            ("suspicious_score", self.suspicious_score),
            (
                "high_amount.extreme_weight",
                self.high_amount.extreme_weight,
            ),
        ];
        let weights = crate::score::evidence::ALL
            .iter()
            .map(|name| (*name, self.weight_of(name).unwrap_or(0)));
        if let Some((name, _)) = scores.into_iter().chain(weights).find(|(_, w)| *w > 100) {
            return config(format!("{name} must be 0-100"));
        }
        if self.version.trim().is_empty() {
            return config("version must not be empty".into());
        }
        let a = &self.high_amount;
        if a.unusual_multiple <= 1.0 || a.extreme_multiple < a.unusual_multiple {
            return config(
                "high_amount: unusual_multiple must be above 1 and extreme_multiple at least it"
                    .into(),
            );
        }
        if a.new_customer_ceiling.is_nan() || a.new_customer_ceiling <= 0.0 {
            return config("high_amount.new_customer_ceiling must be positive".into());
        }
        typology::check(self)
    }
}

#[cfg(test)]
mod tests;
