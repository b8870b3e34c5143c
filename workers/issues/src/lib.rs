//! Error issues, like an error tracker's: every error event and every log
//! record at error severity or worse belongs to one issue, found by a
//! fingerprint of the event alone ([`fingerprint`]), from its stack when it has
//! one ([`stack`]).

pub mod fingerprint;
pub mod stack;
pub mod status;

pub use fingerprint::{occurrence, Occurrence};
pub use status::{effective, Effective, Status, StatusChange, StatusError, StatusStore};
