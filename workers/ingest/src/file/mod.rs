//! Log files, as services write them: JSON lines, logfmt, or text (a timestamp, a
//! level, a message), with multi-line records (stack traces) kept together.
//! `sightline publish --format` and `/api/logs/upload?format=` read them.
//!
//! A record starts at a line that starts like one (a timestamp, a `{`, a level);
//! any other line (indented, `Caused by:`, `Traceback...`, a bare exception) is
//! the continuation of the record before. A file none of whose lines starts like
//! a record is read one line per record.

mod text;

use serde_json::{Map, Value};
use sightline_schemas::{Event, OffsetDateTime};
use time::UtcOffset;

use sightline_schemas::log::normalize_service;

use crate::bulk::{document, ecs_event};
use crate::UNKNOWN_SERVICE;

/// How the lines of a file are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Each record as it looks: JSON, logfmt or text.
    Auto,
    Json,
    Logfmt,
    Text,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Format::Auto),
            "json" => Ok(Format::Json),
            "logfmt" => Ok(Format::Logfmt),
            "text" => Ok(Format::Text),
            other => Err(format!(
                "unknown format `{other}` (expected auto, json, logfmt or text)"
            )),
        }
    }
}

/// What a file's records need besides their lines.
#[derive(Debug, Clone)]
pub struct Options {
    pub format: Format,
    /// The service of records that name none.
    pub service: String,
    /// The zone of timestamps written without one.
    pub zone: UtcOffset,
    /// Stamps records without a time, and gives syslog timestamps their year.
    pub received: OffsetDateTime,
}

/// Every record of a whole text, each with the number of its first line (a
/// stream is read with a [`Grouper`] instead).
pub fn records(text: &str) -> Vec<(usize, String)> {
    let mut grouper = Grouper::new();
    let mut out: Vec<_> = text.lines().filter_map(|l| grouper.push(l)).collect();
    out.extend(grouper.finish());
    out
}

/// The service of a file's records that name none and were given none: the
/// file's name without its extension (`billing.log` is `billing`), else
/// [`UNKNOWN_SERVICE`].
pub fn service_of_file(file_name: Option<&str>) -> String {
    file_name
        .and_then(|name| std::path::Path::new(name).file_stem())
        .and_then(|stem| normalize_service(&stem.to_string_lossy()))
        .unwrap_or_else(|| UNKNOWN_SERVICE.into())
}

/// Groups lines into records: push each line, take the records it completes.
#[derive(Debug, Default)]
pub struct Grouper {
    /// The record being read: its first line's number, its text, and whether
    /// its first line started like a record.
    current: Option<(usize, String, bool)>,
    line: usize,
}

impl Grouper {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next line (without its newline); returns the record it closes,
    /// with the number of its first line.
    pub fn push(&mut self, line: &str) -> Option<(usize, String)> {
        self.line += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return None;
        }
        let starts = starts_record(line);
        match &mut self.current {
            // After a line that started like a record, anything that does not is
            // its continuation; among bare lines, only indented ones and the
            // known continuations are.
            Some((_, record, structured)) if !starts && (*structured || continues(line)) => {
                record.push('\n');
                record.push_str(line);
                None
            }
            _ => self
                .current
                .replace((self.line, line.to_owned(), starts))
                .map(|(n, text, _)| (n, text)),
        }
    }

    /// The last record, at the end of the file.
    pub fn finish(self) -> Option<(usize, String)> {
        self.current.map(|(n, text, _)| (n, text))
    }
}

/// Lines that continue a record whatever it was: indented ones, and the
/// headers of chained exceptions and tracebacks.
fn continues(line: &str) -> bool {
    const CONTINUATIONS: [&str; 5] = [
        "Caused by:",
        "Traceback (",
        "During handling",
        "The above exception",
        "...",
    ];
    line.starts_with(char::is_whitespace) || CONTINUATIONS.iter().any(|c| line.starts_with(c))
}

/// Whether a line begins a record rather than continuing one.
fn starts_record(line: &str) -> bool {
    if continues(line) {
        return false;
    }
    line.starts_with('{')
        || text::leading_time(line, OffsetDateTime::UNIX_EPOCH, UtcOffset::UTC).is_some()
        || text::leading_level(line).is_some()
        || logfmt(line).is_some()
        || text::is_access_log(line)
}

/// The record starting at `line` of a file as an event, with an id derived
/// from its content and its line: publishing the same file again stores nothing
/// twice, and the same line twice in a file is two events.
pub fn numbered_event(line: usize, record: &str, options: &Options) -> Result<Event, String> {
    let mut event = event(record, options)?;
    event.set_content_id(u32::try_from(line).unwrap_or(u32::MAX));
    Ok(event)
}

/// One record (its lines joined) as an event.
pub fn event(record: &str, options: &Options) -> Result<Event, String> {
    let trimmed = record.trim_start();
    let format = match options.format {
        Format::Auto if trimmed.starts_with('{') => Format::Json,
        Format::Auto if logfmt(trimmed.lines().next().unwrap_or("")).is_some() => Format::Logfmt,
        Format::Auto => Format::Text,
        other => other,
    };
    let service = Some(options.service.clone());
    match format {
        Format::Json => {
            // A pretty JSON record spans lines; its continuation lines are part of it.
            document(trimmed.as_bytes(), service, options.received)
        }
        Format::Logfmt => {
            let (first, rest) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
            let mut map = logfmt(first).ok_or("the line is not logfmt (key=value pairs)")?;
            append_continuation(&mut map, rest);
            Ok(ecs_event(map, service, options.received))
        }
        Format::Text | Format::Auto => Ok(text::event(record, options)),
    }
}

/// Lines after a logfmt line (a stack trace) join its message.
fn append_continuation(map: &mut Map<String, Value>, rest: &str) {
    if rest.is_empty() {
        return;
    }
    let key = ["msg", "message"]
        .into_iter()
        .find(|k| map.contains_key(*k))
        .unwrap_or("msg");
    let mut message = map
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    message.push('\n');
    message.push_str(rest);
    map.insert(key.into(), Value::String(message));
}

/// `key=value key2="quoted value"` pairs (at least two, keys without spaces);
/// values that read as numbers or flags become them.
fn logfmt(line: &str) -> Option<Map<String, Value>> {
    let mut map = Map::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if key.is_empty() || key.contains([' ', '"', '{', '[']) {
            return None;
        }
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut end = None;
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, e)| e)),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (Value::String(value), &quoted[end?..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (scalar(&after[..end]), &after[end..])
        };
        map.insert(key.to_owned(), value);
        rest = next.trim_start();
    }
    (map.len() >= 2).then_some(map)
}

fn scalar(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(x) = text.parse::<f64>() {
        if x.is_finite() && text.contains('.') {
            return Value::from(x);
        }
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests;
