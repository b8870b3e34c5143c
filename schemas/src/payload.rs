//! The typed payloads. Optional fields may be added in later schema versions;
//! unknown fields are ignored on read.

use std::net::IpAddr;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The settlement state of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    Completed,
    Failed,
    Refunded,
    Pending,
}

impl TxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Completed => "completed",
            TxStatus::Failed => "failed",
            TxStatus::Refunded => "refunded",
            TxStatus::Pending => "pending",
        }
    }
}

/// A payment attempt. Cards are identified by a fingerprint, never by number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Transaction {
    pub transaction_id: String,
    pub user_id: String,
    /// A decimal amount in major units (`"129.99"` or `129.99`), never negative.
    #[schemars(with = "DecimalDoc")]
    pub amount: Decimal,
    /// ISO 4217 alphabetic code, upper case (`EUR`).
    pub currency: String,
    /// Lower-case token: `card`, `paypal`, `apple_pay`, `bank_transfer`, ...
    pub payment_method: String,
    pub status: TxStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// ISO 3166-1 alpha-2 country the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 country of the billing address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// An opaque, stable token for the card (a hash from the PSP); a value that
    /// looks like a card number is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_fingerprint: Option<String>,
    /// Machine-readable decline or failure reason (`insufficient_funds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

/// How decimals look in JSON Schema: a number or a decimal string.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum DecimalDoc {
    Number(f64),
    #[schemars(extend("pattern" = r"^[0-9]+(\.[0-9]+)?$"))]
    Text(String),
}

/// An application error, typically one failed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorEvent {
    /// HTTP status code (100-599).
    pub error_code: u16,
    pub error_type: String,
    pub error_message: String,
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A step in a user's session: `view`, `search`, `add_to_cart`, `checkout`, `purchase`, `abandon`...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserBehavior {
    pub user_id: String,
    pub session_id: String,
    /// Lower-case token; see docs/events.md for the standard funnel actions.
    pub action: String,
    pub page: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
}

/// The timing of one served request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Performance {
    pub endpoint: String,
    /// HTTP method, upper case.
    pub method: String,
    pub response_time_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_query_time_ms: Option<f64>,
    /// HTTP status code (100-599).
    pub status_code: u16,
}

/// An authentication or abuse signal: `login_success`, `login_failure`, `account_locked`,
/// `bot_suspected`, `card_blocked`...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Security {
    /// Lower-case token naming what happened.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}
