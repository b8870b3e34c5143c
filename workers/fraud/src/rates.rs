//! The currency table: how many units of each currency a unit of the base currency
//! bought on a given date, so amounts in any currency are weighed on one scale.
//! The built-in table is `config/currency-rates.toml`.

use std::collections::HashMap;
use std::path::Path;

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::error::FraudError;

const DEFAULT_RATES: &str = include_str!("../../../config/currency-rates.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// The date the rates are of (`2025-07-01`): shown with every amount judged.
    pub as_of: String,
    /// The currency amounts are converted to.
    pub base: String,
    /// Units of each currency per unit of `base`.
    pub per_base: HashMap<String, f64>,
}

impl Default for Rates {
    fn default() -> Self {
        Self::parse(Toml::string(DEFAULT_RATES)).expect("the built-in rates table is valid")
    }
}

impl Rates {
    /// The table at `path`, or the built-in one.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, FraudError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        if !path.exists() {
            return Err(FraudError::Config(format!(
                "currency rates file {} does not exist",
                path.display()
            )));
        }
        Self::parse(Toml::file(path))
            .map_err(|e| FraudError::Config(format!("currency rates {}: {e}", path.display())))
    }

    fn parse(provider: figment::providers::Data<Toml>) -> Result<Self, FraudError> {
        let rates: Rates = Figment::from(provider)
            .extract()
            .map_err(|e| FraudError::Config(e.to_string()))?;
        rates.check()?;
        Ok(rates)
    }

    /// Every currency a payment may carry has a positive rate, and the base is 1.
    fn check(&self) -> Result<(), FraudError> {
        let missing: Vec<&str> = sightline_schemas::iso4217_codes()
            .filter(|code| !self.per_base.contains_key(*code))
            .collect();
        if !missing.is_empty() {
            return Err(FraudError::Config(format!(
                "per_base has no rate for {} (every ISO 4217 code events may carry needs one)",
                missing.join(", ")
            )));
        }
        if let Some((code, _)) = self
            .per_base
            .iter()
            .find(|(_, r)| !(r.is_finite() && **r > 0.0))
        {
            return Err(FraudError::Config(format!(
                "per_base.{code} must be a positive number"
            )));
        }
        if self.per_base.get(&self.base) != Some(&1.0) {
            return Err(FraudError::Config(format!(
                "per_base.{} must be 1 (it is the base)",
                self.base
            )));
        }
        Ok(())
    }

    /// `amount` of `currency` in the base currency; `None` for a currency the table
    /// does not know (the validator refuses those, so only a custom table can miss one).
    pub fn to_base(&self, amount: f64, currency: &str) -> Option<f64> {
        self.per_base.get(currency).map(|rate| amount / rate)
    }

    /// `base_amount` of the base currency in `currency`.
    pub fn from_base(&self, base_amount: f64, currency: &str) -> Option<f64> {
        self.per_base.get(currency).map(|rate| base_amount * rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_table_covers_every_accepted_currency() {
        let rates = Rates::default();
        assert_eq!(rates.base, "EUR");
        for code in sightline_schemas::iso4217_codes() {
            let euro = rates.to_base(rates.per_base[code], code).unwrap();
            assert!((euro - 1.0).abs() < 1e-9, "{code}");
        }
        let inr = rates.to_base(3000.0, "INR").unwrap();
        assert!(
            (20.0..50.0).contains(&inr),
            "3,000 INR is tens of euros: {inr}"
        );
    }

    #[test]
    fn a_table_missing_a_currency_or_with_a_bad_rate_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rates.toml");
        std::fs::write(&path, DEFAULT_RATES.replace("INR = 100.0\n", "")).unwrap();
        let err = Rates::load_or_default(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("INR"), "{err}");
        std::fs::write(&path, DEFAULT_RATES.replace("INR = 100.0", "INR = -1")).unwrap();
        let err = Rates::load_or_default(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("per_base.INR"), "{err}");
    }
}
