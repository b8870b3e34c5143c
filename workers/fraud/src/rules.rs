//! The versioned rules file: which indicators exist, their weights, windows and
//! thresholds. The built-in default is `config/fraud-rules.toml`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::FraudError;

const DEFAULT_RULES: &str = include_str!("../../../config/fraud-rules.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Recorded in every detection and part of its id.
    pub version: String,
    pub report_score: u8,
    pub suspicious_score: u8,
    #[serde(with = "humantime_serde")]
    pub forget_after: Duration,
    pub high_amount: HighAmount,
    pub velocity: Velocity,
    pub impossible_travel: ImpossibleTravel,
    pub repeated_failures: RepeatedFailures,
    pub country_mismatch: Weight,
    pub ip_change: IpChange,
    pub bot: Bot,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weight {
    pub weight: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighAmount {
    pub weight: u8,
    /// Per ISO currency code, in major units; the key `default` covers the rest.
    pub limits: BTreeMap<String, f64>,
    pub user_multiple: f64,
    pub min_history: u32,
}

impl HighAmount {
    pub fn limit(&self, currency: &str) -> Option<f64> {
        self.limits
            .get(currency)
            .or_else(|| self.limits.get("default"))
            .copied()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Velocity {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    pub max_per_card: usize,
    pub max_per_user: usize,
    pub max_per_ip: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpossibleTravel {
    pub weight: u8,
    pub max_speed_kmh: f64,
    pub min_distance_km: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatedFailures {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    pub max_failures: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpChange {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bot {
    pub weight: u8,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    pub max_actions: usize,
    #[serde(with = "humantime_serde")]
    pub remember: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self::parse(Toml::string(DEFAULT_RULES)).expect("the built-in rules file is valid")
    }
}

impl Rules {
    /// Reads a rules file; errors name the file and the offending key.
    pub fn load(path: &Path) -> Result<Self, FraudError> {
        if !path.exists() {
            return Err(FraudError::Config(format!(
                "fraud rules file {} does not exist",
                path.display()
            )));
        }
        Self::parse(Toml::file(path))
            .map_err(|e| FraudError::Config(format!("fraud rules {}: {e}", path.display())))
    }

    /// The file at `path`, or the built-in rules when none is configured.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, FraudError> {
        path.map_or_else(|| Ok(Self::default()), Self::load)
    }

    fn parse(provider: figment::providers::Data<Toml>) -> Result<Self, FraudError> {
        let rules: Rules = Figment::from(provider)
            .extract()
            .map_err(|e| FraudError::Config(e.to_string()))?;
        rules.check()?;
        Ok(rules)
    }

    fn check(&self) -> Result<(), FraudError> {
        let weights = [
            ("high_amount.weight", self.high_amount.weight),
            ("velocity.weight", self.velocity.weight),
            ("impossible_travel.weight", self.impossible_travel.weight),
            ("repeated_failures.weight", self.repeated_failures.weight),
            ("country_mismatch.weight", self.country_mismatch.weight),
            ("ip_change.weight", self.ip_change.weight),
            ("bot.weight", self.bot.weight),
            ("report_score", self.report_score),
            ("suspicious_score", self.suspicious_score),
        ];
        if let Some((name, _)) = weights.iter().find(|(_, w)| *w > 100) {
            return Err(FraudError::Config(format!("{name} must be 0-100")));
        }
        if self.version.trim().is_empty() {
            return Err(FraudError::Config("version must not be empty".into()));
        }
        if self.high_amount.limit("default").is_none() {
            return Err(FraudError::Config(
                "high_amount.limits needs a `default` entry".into(),
            ));
        }
        if self.high_amount.user_multiple <= 1.0 {
            return Err(FraudError::Config(
                "high_amount.user_multiple must be above 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rules_parse() {
        let rules = Rules::default();
        assert_eq!(rules.velocity.window, Duration::from_secs(120));
        assert_eq!(rules.high_amount.limit("JPY"), Some(480_000.0));
        assert_eq!(rules.high_amount.limit("XYZ"), Some(3000.0));
    }

    #[test]
    fn a_bad_file_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        let text = DEFAULT_RULES.replace("max_per_card = 3", "max_per_card = \"three\"");
        std::fs::write(&path, text).unwrap();
        let err = Rules::load(&path).unwrap_err().to_string();
        assert!(err.contains("max_per_card"), "{err}");

        let text = DEFAULT_RULES.replace("[bot]\nweight = 65", "[bot]\nweight = 165");
        std::fs::write(&path, text).unwrap();
        let err = Rules::load(&path).unwrap_err().to_string();
        assert!(err.contains("bot.weight"), "{err}");

        let text = DEFAULT_RULES.replace("weight = 55", "weight = 55\ncolour = 1");
        std::fs::write(&path, text).unwrap();
        let err = Rules::load(&path).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }
}
