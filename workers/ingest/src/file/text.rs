//! Text log lines: a timestamp (ISO 8601 with or without a zone, Python's comma
//! fraction, syslog's `Mmm dd hh:mm:ss`), a level, maybe a logger, the message;
//! and Apache / nginx access logs (common and combined).

use sightline_schemas::log::{clean_text, MAX_LOG_MESSAGE};
use sightline_schemas::{AttrValue, Body, Event, LogRecord, OffsetDateTime, Severity};
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use super::Options;

/// A timestamp at the start of `line` (after an optional `[`), and the bytes it
/// took (a closing `]` included).
pub(super) fn leading_time(
    line: &str,
    received: OffsetDateTime,
    zone: UtcOffset,
) -> Option<(OffsetDateTime, usize)> {
    let (inner, bracket) = match line.strip_prefix('[') {
        Some(inner) => (inner, 1),
        None => (line, 0),
    };
    let (at, used) = iso(inner, zone).or_else(|| {
        let at = crate::syslog::bsd_timestamp(inner.get(..15)?, received, zone)?;
        Some((at, 15))
    })?;
    let close = usize::from(bracket == 1 && inner[used..].starts_with(']'));
    Some((at, bracket + used + close))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.,fraction][Z|±HH:MM|±HHMM]`.
fn iso(text: &str, zone: UtcOffset) -> Option<(OffsetDateTime, usize)> {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = text.get(from..from + n)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b' '))
    {
        return None;
    }
    let (h, m, s) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let mut used = 19;
    let mut nanos = 0u32;
    if matches!(b.get(19), Some(b'.' | b',')) {
        let frac: String = text[20..]
            .chars()
            .take_while(char::is_ascii_digit)
            .take(9)
            .collect();
        let extra = text[20 + frac.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        used = 20 + frac.len() + extra;
        nanos = format!("{frac:0<9}").parse().ok()?;
    }
    let (offset, zone_len) = match b.get(used) {
        Some(b'Z') => (UtcOffset::UTC, 1),
        Some(b'+' | b'-') => {
            let sign = if b[used] == b'-' { -1 } else { 1 };
            let hh = digits(used + 1, 2)?;
            let (mm, len) = match b.get(used + 3) {
                Some(b':') => (digits(used + 4, 2)?, 6),
                _ => (
                    digits(used + 3, 2).unwrap_or(0),
                    if digits(used + 3, 2).is_some() { 5 } else { 3 },
                ),
            };
            let seconds = sign * i32::try_from(hh * 3600 + mm * 60).ok()?;
            (UtcOffset::from_whole_seconds(seconds).ok()?, len)
        }
        _ => (zone, 0),
    };
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::from_hms_nano(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(s).ok()?,
        nanos,
    )
    .ok()?;
    Some((
        PrimitiveDateTime::new(date, time).assume_offset(offset),
        used + zone_len,
    ))
}

/// A level word at the start (`ERROR`, `[warn]`, `INFO:`), and the bytes it took.
pub(super) fn leading_level(text: &str) -> Option<(Severity, &str, usize)> {
    let word_end = text.find([' ', '\t']).unwrap_or(text.len());
    let word = &text[..word_end];
    let bare = word
        .trim_start_matches('[')
        .trim_end_matches([']', ':', ','])
        .trim_end_matches(']');
    let severity = Severity::from_text(bare)?;
    Some((severity, bare, word_end))
}

/// `host ident user [dd/Mon/yyyy:hh:mm:ss zone] "request" status size ...`
pub(super) fn is_access_log(line: &str) -> bool {
    access_log(line).is_some()
}

struct Access<'a> {
    at: OffsetDateTime,
    method: &'a str,
    path: &'a str,
    status: u16,
    size: Option<i64>,
    referer: Option<&'a str>,
    agent: Option<&'a str>,
}

fn access_log(line: &str) -> Option<Access<'_>> {
    let open = line.find(" [")?;
    let close = open + line[open..].find("] \"")?;
    let at = clf_time(&line[open + 2..close])?;
    let rest = &line[close + 3..];
    let end = rest.find('"')?;
    let mut request = rest[..end].split(' ');
    let (method, path) = (request.next()?, request.next().unwrap_or(""));
    let mut after = rest[end + 1..].split_whitespace();
    let status: u16 = after
        .next()?
        .parse()
        .ok()
        .filter(|s| (100..=599).contains(s))?;
    let size = after.next().and_then(|s| s.parse().ok());
    let quoted: Vec<&str> = rest[end + 1..].split('"').skip(1).step_by(2).collect();
    Some(Access {
        at,
        method,
        path,
        status,
        size,
        referer: quoted.first().copied().filter(|r| *r != "-"),
        agent: quoted.get(1).copied().filter(|a| *a != "-"),
    })
}

/// `10/Oct/2000:13:55:36 -0700`
fn clf_time(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    );
    OffsetDateTime::parse(text, &format).ok()
}

/// A text record as an event.
pub(super) fn event(record: &str, options: &Options) -> Event {
    let first = record.lines().next().unwrap_or_default();
    if let Some(access) = access_log(first) {
        return access_event(record, access, options);
    }
    let (at, mut rest) = match leading_time(first, options.received, options.zone) {
        Some((at, used)) => (Some(at), &record[used..]),
        None => (None, record),
    };
    let mut severity = None;
    let mut logger = None;
    // Up to three tokens before the message: a level, a logger, a thread.
    for _ in 0..3 {
        rest = rest.trim_start_matches([' ', '\t', '-', '|', ':']);
        if let Some((level, _, used)) = leading_level(rest) {
            severity = Some(level);
            rest = &rest[used..];
            break;
        }
        let word_end = rest.find([' ', '\t']).unwrap_or(rest.len());
        let word = &rest[..word_end];
        let looks_like_name = word.len() <= 100
            && word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '[')
            && word
                .trim_matches(['[', ']', ':'])
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-$/".contains(c));
        let followed_by_separator = rest[word_end..].trim_start().starts_with(['-', '|', '['])
            || word.ends_with([']', ':']);
        if !(looks_like_name && followed_by_separator) {
            break;
        }
        if !word.starts_with('[') {
            logger.get_or_insert(word.trim_end_matches(':').to_owned());
        }
        rest = &rest[word_end..];
    }
    let message = rest.trim_start_matches([' ', '\t', '-', '|', ':']);
    let severity = severity.unwrap_or_else(|| guessed_severity(record));
    let mut log = LogRecord::new(severity, "");
    log.message = clean_text(message, MAX_LOG_MESSAGE);
    log.logger = logger.map(|l| clean_text(&l, 512));
    Event::at(
        at.unwrap_or(options.received),
        options.service.clone(),
        Body::Log(log),
    )
}

/// A record with no level: an error when it carries a stack trace, else info.
fn guessed_severity(record: &str) -> Severity {
    let traced = record.contains("Traceback (most recent call last)")
        || record.lines().skip(1).any(|l| {
            let l = l.trim_start();
            l.starts_with("at ") || l.starts_with("Caused by:")
        });
    if traced {
        Severity::Error
    } else {
        Severity::Info
    }
}

fn access_event(record: &str, a: Access<'_>, options: &Options) -> Event {
    let severity = match a.status {
        500.. => Severity::Error,
        400..=499 => Severity::Warn,
        _ => Severity::Info,
    };
    let mut log = LogRecord::new(severity, record);
    log.add_attribute("http.request.method", AttrValue::Text(a.method.into()));
    log.add_attribute("url.path", AttrValue::Text(a.path.into()));
    log.add_attribute("http.response.status_code", AttrValue::Int(a.status.into()));
    if let Some(size) = a.size {
        log.add_attribute("http.response.body.size", AttrValue::Int(size));
    }
    if let Some(referer) = a.referer {
        log.add_attribute(
            "http.request.header.referer",
            AttrValue::Text(referer.into()),
        );
    }
    if let Some(agent) = a.agent {
        log.add_attribute("user_agent.original", AttrValue::Text(agent.into()));
    }
    Event::at(a.at, options.service.clone(), Body::Log(log))
}
