//! The doors log shippers already know, as pure conversions from what they send to
//! Sightline events: OTLP/HTTP (protobuf and JSON), the Elasticsearch `_bulk` API,
//! syslog and files. No I/O here: the API and the syslog listener read the bytes,
//! these modules say which events they hold and which records are bad and why,
//! and the Publisher does the rest.

mod body;
pub mod bulk;
mod error;
pub mod file;
pub mod otlp;
pub mod syslog;

use std::collections::HashMap;

pub use body::{decompress, ContentEncoding};
pub use error::{IngestError, IngestErrorKind};
use sightline_schemas::{Event, Uuid};

/// One event a request held, with where it was (`resourceLogs[0].scopeLogs[0].logRecords[3]`,
/// `line 7`) so that a record refused later is named.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub place: String,
    pub event: Event,
}

/// The service of records that name none, as OpenTelemetry SDKs call it.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// A UTC offset as written in settings and flags: `+01:00`, `-05:30`, `Z`.
pub fn parse_utc_offset(text: &str) -> Option<time::UtcOffset> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") {
        return Some(time::UtcOffset::UTC);
    }
    let format = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    time::UtcOffset::parse(text, &format).ok()
}

/// Gives every event its content id (see [`Event::set_content_id`]), numbering
/// identical events so that a request holding one line twice keeps both.
pub fn assign_content_ids<'a>(events: impl IntoIterator<Item = &'a mut Event>) {
    let mut seen: HashMap<Uuid, u32> = HashMap::new();
    for event in events {
        event.set_content_id(0);
        let count = seen.entry(event.id).or_insert(0);
        if *count > 0 {
            event.set_content_id(*count);
        }
        *count += 1;
    }
}
