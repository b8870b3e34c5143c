//! Sightline's event model: the envelope every log event travels in, the typed
//! payloads (five commerce kinds and `log`), their validation rules, the wire codecs and the NATS subject layout.
//!
//! This crate sits at the bottom of the workspace and does no I/O.

mod codec;
mod content_id;
mod currency;
mod detection;
mod envelope;
mod error;
pub mod json_schema;
pub mod log;
pub mod mask;
mod message;
mod payload;
pub mod subject;
mod validate;
mod verdict;

pub use codec::{decode, encode, Encoding};
pub use currency::iso4217_codes;
pub use detection::{Detection, Indicator, Typology};
pub use envelope::{Body, Event, Kind, Tags, SCHEMA_VERSION};
pub use error::{EventError, EventErrorKind, FieldError};
pub use log::{AttrValue, Attributes, LogRecord, Severity};
pub use message::headline;
pub use payload::{ErrorEvent, Performance, Security, Transaction, TxStatus, UserBehavior};
pub use validate::{looks_like_card_number, Validate};
pub use verdict::{Verdict, VerdictKind, MAX_NOTE};

/// Re-exported so producers need not depend on these crates directly.
pub use rust_decimal::Decimal;
pub use time::OffsetDateTime;
pub use uuid::Uuid;
