//! Syslog: RFC 5424 and RFC 3164 (BSD) messages, and the framings of RFC 6587 for
//! TCP (octet counting, or one message per line). A message becomes a `log`
//! event: the app name is the service (and the logger), the hostname the host,
//! the severity maps to the OpenTelemetry scale (notice is a second info), and the
//! facility, process id, message id and structured data become attributes.
//! Whatever a sender writes, a message is never refused for its shape: a line
//! that follows neither RFC is kept whole as the message of the `syslog` service.

mod frame;

pub use frame::Framer;
use sightline_schemas::log::{clean_text, normalize_service, MAX_LOG_MESSAGE};
use sightline_schemas::{AttrValue, Body, Event, LogRecord, OffsetDateTime, Severity};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// The service of messages that name no app.
pub const DEFAULT_SERVICE: &str = "syslog";
/// RFC 3164 §4.3.3: a message without a priority is user.notice.
const DEFAULT_PRI: u8 = 13;

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// One message as a `log` event. `received` stamps messages without a usable
/// time and gives the year RFC 3164 timestamps lack; `zone` is the offset of
/// RFC 3164 timestamps (which carry none).
pub fn event(message: &[u8], received: OffsetDateTime, zone: UtcOffset) -> Event {
    let text = String::from_utf8_lossy(message);
    let text = text.trim_end_matches(['\n', '\r', '\0']);
    let (pri, rest) = priority(text).unwrap_or((DEFAULT_PRI, text));
    let parsed = rest
        .strip_prefix("1 ")
        .and_then(rfc5424)
        .or_else(|| rfc3164(rest, received, zone))
        .unwrap_or_else(|| Parsed {
            message: rest.to_owned(),
            ..Parsed::default()
        });
    let (severity, number) = Severity::from_syslog(pri % 8).unwrap_or((Severity::Info, 9));
    let mut log = LogRecord::new(severity, "");
    log.message = clean_text(&parsed.message, MAX_LOG_MESSAGE);
    log.severity_number = Some(number);
    log.severity_text = Some(SEVERITIES[usize::from(pri % 8)].to_owned());
    log.logger = parsed.app.clone().map(|a| clean_text(&a, 512));
    let facility = FACILITIES
        .get(usize::from(pri / 8))
        .copied()
        .unwrap_or("unknown");
    log.add_attribute("syslog.facility", AttrValue::Text(facility.into()));
    if let Some(procid) = parsed.procid {
        log.add_attribute("syslog.procid", AttrValue::Text(procid));
    }
    if let Some(msgid) = parsed.msgid {
        log.add_attribute("syslog.msgid", AttrValue::Text(msgid));
    }
    for (id, name, value) in parsed.data {
        log.add_attribute(&format!("{id}.{name}"), AttrValue::Text(value));
    }
    let service = parsed
        .app
        .as_deref()
        .and_then(normalize_service)
        .unwrap_or_else(|| DEFAULT_SERVICE.into());
    let mut event = Event::at(parsed.at.unwrap_or(received), service, Body::Log(log));
    event.host = parsed.host.map(|h| clean_text(&h, 512));
    event
}

#[derive(Default)]
struct Parsed {
    at: Option<OffsetDateTime>,
    host: Option<String>,
    app: Option<String>,
    procid: Option<String>,
    msgid: Option<String>,
    /// Structured data: (SD-ID, param name, value).
    data: Vec<(String, String, String)>,
    message: String,
}

/// `<PRI>` at the start: its value (0-191) and what follows.
fn priority(text: &str) -> Option<(u8, &str)> {
    let rest = text.strip_prefix('<')?;
    let end = rest.find('>')?;
    let pri: u8 = rest[..end].parse().ok().filter(|p| *p <= 191)?;
    (end <= 3).then(|| (pri, &rest[end + 1..]))
}

/// `-` is nil in RFC 5424.
fn field(token: &str) -> Option<String> {
    (token != "-" && !token.is_empty()).then(|| token.to_owned())
}

/// RFC 5424 after `<PRI>1 `: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG].
fn rfc5424(rest: &str) -> Option<Parsed> {
    let mut parts = rest.splitn(6, ' ');
    let timestamp = parts.next()?;
    let host = parts.next()?;
    let app = parts.next()?;
    let procid = parts.next()?;
    let msgid = parts.next()?;
    let tail = parts.next().unwrap_or("");
    let (data, message) = structured_data(tail)?;
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    Some(Parsed {
        at: OffsetDateTime::parse(timestamp, &Rfc3339).ok(),
        host: field(host),
        app: field(app),
        procid: field(procid),
        msgid: field(msgid),
        data,
        message: message.to_owned(),
    })
}

/// `-` or `[id k="v" ...]...`, then the message after one space.
#[allow(clippy::type_complexity)]
fn structured_data(tail: &str) -> Option<(Vec<(String, String, String)>, &str)> {
    if let Some(message) = tail.strip_prefix('-') {
        return Some((Vec::new(), message.strip_prefix(' ').unwrap_or(message)));
    }
    let mut data = Vec::new();
    let mut rest = tail;
    while let Some(element) = rest.strip_prefix('[') {
        let (id, mut params) = element.split_at(element.find([' ', ']'])?);
        loop {
            params = params.trim_start_matches(' ');
            if let Some(after) = params.strip_prefix(']') {
                rest = after;
                break;
            }
            let eq = params.find('=')?;
            let name = &params[..eq];
            let quoted = params[eq + 1..].strip_prefix('"')?;
            let (value, after) = quoted_value(quoted)?;
            data.push((id.to_owned(), name.to_owned(), value));
            params = after;
        }
    }
    Some((data, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// A PARAM-VALUE up to its closing quote, with `\"`, `\\` and `\]` unescaped.
fn quoted_value(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\' | ']'))) => value.push(e),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => return None,
            },
            c => value.push(c),
        }
    }
    None
}

/// RFC 3164: `Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG` (the TAG and PID optional).
fn rfc3164(rest: &str, received: OffsetDateTime, zone: UtcOffset) -> Option<Parsed> {
    if rest.len() < 16 {
        return None;
    }
    let at = bsd_timestamp(rest.get(..15)?, received, zone)?;
    let after = rest.get(15..)?.strip_prefix(' ')?;
    let (host, body) = after.split_once(' ').unwrap_or((after, ""));
    let (app, procid, message) = match tag(body) {
        Some((app, procid, message)) => (Some(app.to_owned()), procid.map(str::to_owned), message),
        None => (None, None, body),
    };
    Some(Parsed {
        at: Some(at),
        host: field(host),
        app,
        procid,
        message: message.to_owned(),
        ..Parsed::default()
    })
}

/// `TAG[PID]: rest` or `TAG: rest`: a tag is up to 48 characters of a word.
fn tag(body: &str) -> Option<(&str, Option<&str>, &str)> {
    let end = body.find([':', '[', ' '])?;
    let app = &body[..end];
    if app.is_empty() || app.len() > 48 {
        return None;
    }
    let rest = &body[end..];
    let (procid, rest) = match rest.strip_prefix('[') {
        Some(inner) => {
            let close = inner.find(']')?;
            (Some(&inner[..close]), &inner[close + 1..])
        }
        None => (None, rest),
    };
    let message = rest.strip_prefix(':')?;
    Some((app, procid, message.strip_prefix(' ').unwrap_or(message)))
}

/// `Dec  7 11:00:00` in `zone`, in the year that puts it closest before
/// `received` (a December message read on 1 January is last year's).
pub(crate) fn bsd_timestamp(
    text: &str,
    received: OffsetDateTime,
    zone: UtcOffset,
) -> Option<OffsetDateTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| text.get(..3) == Some(*m))?;
    let month = Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let day: u8 = text.get(4..6)?.trim_start().parse().ok()?;
    let mut clock = text.get(7..15)?.split(':').map(|p| p.parse::<u8>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    let time = Time::from_hms(h, m, s).ok()?;
    let at = |year: i32| {
        Date::from_calendar_date(year, month, day)
            .ok()
            .map(|d| PrimitiveDateTime::new(d, time).assume_offset(zone))
    };
    let year = received.to_offset(zone).year();
    let this_year = at(year)?;
    // A day of slack for clocks that run ahead.
    if this_year > received + time::Duration::days(1) {
        at(year - 1)
    } else {
        Some(this_year)
    }
}

#[cfg(test)]
mod tests;
