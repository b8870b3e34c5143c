//! The search and analytics projection. Events become flat documents
//! ([`document`]), stored by a [`store::SearchStore`] backend and read through one
//! query model ([`query`]) that the API and the CLI share.

mod aggs;
pub mod document;
mod error;
pub mod issues;
pub mod lang;
pub mod patterns;
pub mod project;
pub mod query;
pub mod redact;
pub mod settings;
pub mod store;
pub mod tail;

pub use error::SearchError;
