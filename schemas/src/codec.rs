//! Wire codecs. MessagePack with named fields is the default; JSON is read and
//! written when a message says `Content-Type: application/json`.

use crate::envelope::Event;
use crate::error::{EventError, EventErrorKind, FieldError};
use crate::validate::Validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    MsgPack,
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` header names; no header means MessagePack.
    pub fn from_content_type(value: Option<&str>) -> Result<Self, EventError> {
        let Some(raw) = value else {
            return Ok(Encoding::MsgPack);
        };
        let mime = raw
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "" | "application/msgpack" | "application/x-msgpack" | "application/vnd.msgpack" => {
                Ok(Encoding::MsgPack)
            }
            "application/json" => Ok(Encoding::Json),
            _ => Err(EventError::single(
                EventErrorKind::UnsupportedEncoding,
                "Content-Type",
                "must be application/msgpack or application/json",
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::MsgPack => "application/msgpack",
            Encoding::Json => "application/json",
        }
    }
}

/// Serializes an event. Validation is the caller's business (see [`Validate`]).
pub fn encode(event: &Event, encoding: Encoding) -> Result<Vec<u8>, EventError> {
    // Typical events are 300-500 bytes: one allocation instead of several regrowths.
    let mut out = Vec::with_capacity(512);
    let written = match encoding {
        Encoding::MsgPack => {
            rmp_serde::encode::write_named(&mut out, event).map_err(|e| e.to_string())
        }
        Encoding::Json => serde_json::to_writer(&mut out, event).map_err(|e| e.to_string()),
    };
    written.map_err(|e| EventError::single(EventErrorKind::Encode, "event", redact(&e)))?;
    Ok(out)
}

/// Decodes and validates an event.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<Event, EventError> {
    let event: Event = deserialize(bytes, encoding)?;
    event.validate()?;
    Ok(event)
}

/// Decodes any wire type (events, detections); errors name the failing field.
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    encoding: Encoding,
) -> Result<T, EventError> {
    // The fast path decodes without tracking field paths (that tracking allocates
    // for every key); only a failure is decoded again to name the field.
    let fast = match encoding {
        Encoding::MsgPack => rmp_serde::from_slice::<T>(bytes).ok(),
        Encoding::Json => serde_json::from_slice::<T>(bytes).ok(),
    };
    match fast {
        Some(value) => Ok(value),
        None => deserialize_tracked(bytes, encoding),
    }
}

/// Decodes with field paths, for the error message.
fn deserialize_tracked<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    encoding: Encoding,
) -> Result<T, EventError> {
    match encoding {
        Encoding::MsgPack => {
            let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
            serde_path_to_error::deserialize(&mut de)
                .map_err(|e| decode_error(e.path().to_string(), e.inner().to_string()))
        }
        Encoding::Json => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let value: T = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| decode_error(e.path().to_string(), e.inner().to_string()))?;
            de.end()
                .map_err(|e| decode_error(".".into(), e.to_string()))?;
            Ok(value)
        }
    }
}

fn decode_error(path: String, message: String) -> EventError {
    let message = redact(&message);
    let (field, reason) = if path != "." && !path.is_empty() {
        (path, message)
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        // serde reports a missing top-level field at the root path.
        let name = rest.split('`').next().unwrap_or("event");
        (name.to_owned(), "is required".to_owned())
    } else if let Some((field, reason)) = message
        .split_once(": ")
        .filter(|(f, _)| f.starts_with("payload."))
    {
        // A payload that arrived before `kind` is decoded late and reports its own path.
        (field.to_owned(), reason.to_owned())
    } else {
        ("event".to_owned(), message)
    };
    EventError::new(EventErrorKind::Decode, vec![FieldError { field, reason }])
}

/// Removes quoted values and long digit runs from a decoder message, so a card
/// number or secret sent in the wrong field is never echoed.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quotes = false;
    let mut digits = String::new();
    for ch in message.chars() {
        if ch == '"' {
            if !in_quotes {
                out.push_str("\"…\"");
            }
            in_quotes = !in_quotes;
            continue;
        }
        if in_quotes {
            continue;
        }
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        flush_digits(&mut out, &mut digits);
        out.push(ch);
    }
    flush_digits(&mut out, &mut digits);
    out
}

fn flush_digits(out: &mut String, digits: &mut String) {
    if digits.len() >= 8 {
        out.push_str("<redacted>");
    } else {
        out.push_str(digits);
    }
    digits.clear();
}
