//! The `log` kind: any log record, whatever shipped it (an OpenTelemetry SDK, a
//! Filebeat, a syslog daemon, a file). Shippers disagree on names and scales, so
//! everything that builds one goes through the normalizers here: severities on the
//! OpenTelemetry scale, attribute names in one spelling, service names that are
//! subject tokens, text without terminal escapes, sizes within bounds.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most attributes a record keeps; the rest are dropped and counted.
pub const MAX_ATTRIBUTES: usize = 128;
/// Longest attribute name, after normalization.
pub const MAX_ATTRIBUTE_NAME: usize = 128;
/// Longest text attribute value; longer ones are cut.
pub const MAX_ATTRIBUTE_VALUE: usize = 4096;
/// Longest message (a record with its stack trace); longer ones are cut.
pub const MAX_LOG_MESSAGE: usize = 64 * 1024;
/// What a cut text ends with, so a reader knows it was cut.
pub const CUT_MARK: &str = "…[cut]";

/// How serious a record is, in the six levels every logging library maps to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Trace,
        Severity::Debug,
        Severity::Info,
        Severity::Warn,
        Severity::Error,
        Severity::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "trace",
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
            Severity::Fatal => "fatal",
        }
    }

    /// The first OpenTelemetry SeverityNumber of the level (TRACE=1 ... FATAL=21).
    pub fn number(self) -> u8 {
        match self {
            Severity::Trace => 1,
            Severity::Debug => 5,
            Severity::Info => 9,
            Severity::Warn => 13,
            Severity::Error => 17,
            Severity::Fatal => 21,
        }
    }

    /// The level of an OpenTelemetry SeverityNumber (1-24); `None` for 0
    /// (unspecified) and anything outside the scale.
    pub fn from_otel(number: i32) -> Option<Severity> {
        Some(match number {
            1..=4 => Severity::Trace,
            5..=8 => Severity::Debug,
            9..=12 => Severity::Info,
            13..=16 => Severity::Warn,
            17..=20 => Severity::Error,
            21..=24 => Severity::Fatal,
            _ => return None,
        })
    }

    /// The level and OpenTelemetry number of a syslog severity (RFC 5424 §6.2.1:
    /// 0 emergency ... 7 debug). Notice is a second info (INFO2), the three levels
    /// above error are fatal ones of rising rank.
    pub fn from_syslog(code: u8) -> Option<(Severity, u8)> {
        Some(match code {
            0 => (Severity::Fatal, 24),
            1 => (Severity::Fatal, 23),
            2 => (Severity::Fatal, 21),
            3 => (Severity::Error, 17),
            4 => (Severity::Warn, 13),
            5 => (Severity::Info, 10),
            6 => (Severity::Info, 9),
            7 => (Severity::Debug, 5),
            _ => return None,
        })
    }

    /// The level a logging library's name for it means (`WARNING`, `err`,
    /// `Information`, `CRITICAL`, `panic`, ...), whatever its case.
    pub fn from_text(text: &str) -> Option<Severity> {
        let word = text.trim().to_ascii_lowercase();
        Some(match word.as_str() {
            "trace" | "finest" | "finer" | "verbose" => Severity::Trace,
            "debug" | "dbg" | "fine" | "config" => Severity::Debug,
            "info" | "information" | "informational" | "notice" | "inf" => Severity::Info,
            "warn" | "warning" | "wrn" => Severity::Warn,
            "error" | "err" | "severe" | "eror" => Severity::Error,
            "fatal" | "critical" | "crit" | "alert" | "emerg" | "emergency" | "panic" | "ftl"
            | "dpanic" => Severity::Fatal,
            _ => return None,
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::from_text(s).ok_or_else(|| {
            format!("unknown severity `{s}` (expected trace, debug, info, warn, error or fatal)")
        })
    }
}

/// One attribute value: logs carry strings, numbers and flags; anything nested is
/// flattened into dotted names by whoever builds the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AttrValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Float(x) => write!(f, "{x}"),
            AttrValue::Text(s) => f.write_str(s),
        }
    }
}

/// Attributes by normalized name, in name order.
pub type Attributes = BTreeMap<String, AttrValue>;

/// Any log record. The envelope holds what describes its source: `service`
/// (from `service.name`), `host` (`host.name`), `env` (`deployment.environment`)
/// and `trace_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogRecord {
    pub severity: Severity,
    /// The OpenTelemetry SeverityNumber (1-24); the level's first number when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_number: Option<u8>,
    /// The level as the source wrote it (`WARNING`, `notice`), when that differs
    /// from `severity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_text: Option<String>,
    /// The body: the line, with its stack trace when it had one. May be empty
    /// when the attributes say everything.
    #[serde(default)]
    pub message: String,
    /// The logger, instrumentation scope or syslog app that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// 16 hex digits: the span the record was written in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Names are lower case `a-z 0-9 _ . -` (see [`normalize_attribute_name`]).
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// How many attributes the source sent beyond [`MAX_ATTRIBUTES`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_attributes: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LogRecord {
    /// A record of `severity` saying `message`, cleaned and cut to bounds.
    pub fn new(severity: Severity, message: &str) -> Self {
        Self {
            severity,
            severity_number: None,
            severity_text: None,
            message: clean_text(message, MAX_LOG_MESSAGE),
            logger: None,
            span_id: None,
            attributes: Attributes::new(),
            dropped_attributes: 0,
        }
    }

    /// The OpenTelemetry SeverityNumber, given or implied by the level.
    pub fn number(&self) -> u8 {
        self.severity_number
            .unwrap_or_else(|| self.severity.number())
    }

    /// Adds an attribute under its normalized name, cleaning and cutting text;
    /// past [`MAX_ATTRIBUTES`] it is counted as dropped. An attribute already
    /// there keeps its value (the record's own attributes are added before the
    /// resource's).
    pub fn add_attribute(&mut self, name: &str, value: AttrValue) {
        let Some(name) = normalize_attribute_name(name) else {
            self.dropped_attributes += 1;
            return;
        };
        if self.attributes.contains_key(&name) {
            return;
        }
        if self.attributes.len() >= MAX_ATTRIBUTES {
            self.dropped_attributes += 1;
            return;
        }
        let value = match value {
            AttrValue::Text(s) => AttrValue::Text(clean_text(&s, MAX_ATTRIBUTE_VALUE)),
            AttrValue::Float(x) if !x.is_finite() => AttrValue::Text(x.to_string()),
            other => other,
        };
        self.attributes.insert(name, value);
    }
}

/// The one spelling of an attribute name: ASCII lower case, `a-z 0-9 _ . -`, any
/// other character (space, `/`, `:`, a letter with an accent) becoming `_`, no
/// empty path segment, at most [`MAX_ATTRIBUTE_NAME`] bytes. `HTTP Status`,
/// `http_status` and `http.status` stay distinct; `Http.Status` and `http.status`
/// are one. `None` when nothing is left.
pub fn normalize_attribute_name(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len().min(MAX_ATTRIBUTE_NAME));
    for c in name.trim().chars() {
        let c = match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            '.' if out.is_empty() || out.ends_with('.') => continue,
            '.' => '.',
            _ => '_',
        };
        if out.len() >= MAX_ATTRIBUTE_NAME {
            break;
        }
        out.push(c);
    }
    while out.ends_with('.') {
        out.pop();
    }
    (!out.is_empty()).then_some(out)
}

/// Whether `name` is already in its normalized spelling.
pub fn is_normalized_attribute_name(name: &str) -> bool {
    normalize_attribute_name(name).as_deref() == Some(name)
}

/// A service name as a subject token: ASCII lower case `a-z 0-9 _ -`, any run of
/// other characters (`.`, space, `:`, `/`) becoming one `-`, at most 64 bytes.
/// `Checkout Service` is `checkout-service`, `unknown_service:python` is
/// `unknown_service-python`. `None` when nothing is left.
pub fn normalize_service(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len().min(64));
    for c in name.trim().chars() {
        match c {
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            'a'..='z' | '0'..='9' | '_' | '-' => out.push(c),
            _ if out.is_empty() || out.ends_with('-') => {}
            _ => out.push('-'),
        }
        if out.len() >= 64 {
            break;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    (!out.is_empty()).then_some(out)
}

/// Text as a record keeps it: terminal colour and cursor escapes removed, `\r\n`
/// as `\n`, other control characters (but newline and tab) as spaces, trailing
/// whitespace trimmed, and at most `max` bytes (cut on a character boundary,
/// ending with [`CUT_MARK`]).
pub fn clean_text(text: &str, max: usize) -> String {
    let needs_work = text.len() > max
        || text
            .bytes()
            .any(|b| b < 0x20 && b != b'\n' && b != b'\t' || b == 0x7f);
    let mut out = if needs_work {
        let mut out = String::with_capacity(text.len().min(max));
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\u{1b}' => skip_escape(&mut chars),
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\t' => out.push(c),
                c if c.is_control() => out.push(' '),
                c => out.push(c),
            }
        }
        out
    } else {
        text.to_owned()
    };
    out.truncate(out.trim_end().len());
    if out.len() > max {
        let mut cut = max.saturating_sub(CUT_MARK.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(CUT_MARK);
    }
    out
}

/// Skips one ANSI escape after its ESC: a CSI (`ESC [ ... final`), an OSC
/// (`ESC ] ... BEL`) or a two-character escape.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
