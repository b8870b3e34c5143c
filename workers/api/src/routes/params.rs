//! Query parameters several routes share, each checked with an error naming it.

use std::time::Duration;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::Deserialize;
use sightline_counters::Window;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::state::AppState;
use crate::watermark::Projection;

/// The longest window a counters query may cover (the coarsest resolution's life).
const MAX_WINDOW: Duration = Duration::from_secs(90 * 86_400);

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowParams {
    /// How far back from now: a number and a unit (`s`, `m`, `h`, `d`), e.g. `15m`,
    /// `1h`, `7d`; default `1h`; a longer one than `90d` is cut to `90d`.
    #[param(pattern = r"^[1-9][0-9]{0,5}[smhd]$")]
    pub window: Option<String>,
}

impl WindowParams {
    pub fn length(&self) -> Result<Duration, ApiError> {
        parse_window(self.window.as_deref())
    }

    pub fn window(&self) -> Result<Window, ApiError> {
        Ok(Window::ending_now(self.length()?)?)
    }
}

/// A read of the counters over `?window=`: the window (ending once any
/// `Sightline-Wait-For` is honoured) and the watermark to stamp the answer with.
pub struct CountersRead {
    pub window: Window,
    pub length: Duration,
    pub mark: Option<u64>,
}

impl FromRequestParts<AppState> for CountersRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Query(p) = Query::<WindowParams>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let length = p.length()?;
        let mark = state
            .watermark_for(Projection::Counters, &parts.headers)
            .await?;
        Ok(Self {
            window: Window::ending_now(length)?,
            length,
            mark,
        })
    }
}

pub fn parse_window(text: Option<&str>) -> Result<Duration, ApiError> {
    let Some(text) = text else {
        return Ok(Duration::from_secs(3600));
    };
    Ok(span("window", text, "smhd")?.min(MAX_WINDOW))
}

/// An IPv4 or IPv6 address, in the document as the two formats JSON Schema has.
pub struct IpAddress;

impl utoipa::PartialSchema for IpAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        let format = |f| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(f)))
        };
        AnyOfBuilder::new()
            .item(format(KnownFormat::Ipv4))
            .item(format(KnownFormat::Ipv6))
            .into()
    }
}

impl utoipa::ToSchema for IpAddress {}

/// A span written as the documents' patterns say: 1-6 digits, not starting with 0,
/// and one unit of `units` (`s`, `m`, `h`, `d`, `w`). Exactly what the pattern
/// accepts is accepted, so the OpenAPI document and the answers agree.
pub fn span(name: &str, text: &str, units: &str) -> Result<Duration, ApiError> {
    span_of(name, text, units, 6)
}

/// [`span`] with at most `max_digits` digits.
pub fn span_of(
    name: &str,
    text: &str,
    units: &str,
    max_digits: usize,
) -> Result<Duration, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{name} `{text}`: a number and one unit of {units} (e.g. 15m, 1h, 7d)"
        ))
    };
    // The last character, not byte: any text may arrive here.
    let Some((cut, _)) = text.char_indices().last() else {
        return Err(bad());
    };
    let (digits, unit) = text.split_at(cut);
    let well_formed = (1..=max_digits).contains(&digits.len())
        && !digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
        && unit.len() == 1
        && units.contains(unit);
    if !well_formed {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 7 * 86_400,
    };
    Ok(Duration::from_secs(n * unit_secs))
}

/// An RFC 3339 instant from parameter `name`.
pub fn instant(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|e| {
                ApiError::bad_request(format!(
                    "{name} `{v}` is not an RFC 3339 time ({e}); e.g. 2026-01-31T12:00:00Z"
                ))
            })
        })
        .transpose()
}

/// A comma-separated list parameter.
pub fn list(value: Option<&str>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A share, 0 when there is nothing to share.
pub fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A fingerprint (an issue's, an alert's): 16 lower-case hex digits.
pub fn fingerprint<'a>(field: &str, id: &'a str, of: &str) -> Result<&'a str, ApiError> {
    let valid = id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if valid {
        Ok(id)
    } else {
        Err(ApiError::bad_request(format!(
            "{field} `{id}` is not {of} fingerprint (16 lower-case hex digits)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked_and_named() {
        assert_eq!(parse_window(None).unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_window(Some("15m")).unwrap(), Duration::from_secs(900));
        let e = parse_window(Some("soon")).unwrap_err();
        assert!(e.message.contains("window `soon`"), "{}", e.message);
        assert_eq!(
            parse_window(Some("100d")).unwrap(),
            MAX_WINDOW,
            "cut to 90d"
        );
        for bad in [
            "0s",
            "1h30m",
            "15min",
            "1",
            "h",
            "01m",
            "1234567s",
            "1w",
            "",
            "\u{99}",
            "h\u{c6}\u{b1}",
        ] {
            assert!(parse_window(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            span("for", "2w", "smhdw").unwrap(),
            Duration::from_secs(14 * 86_400)
        );
    }

    #[test]
    fn instants_and_lists() {
        assert!(instant("since", Some("2026-01-31T12:00:00Z"))
            .unwrap()
            .is_some());
        let e = instant("since", Some("yesterday")).unwrap_err();
        assert!(e.message.starts_with("since `yesterday`"), "{}", e.message);
        assert_eq!(list(Some("a, b,,c")), ["a", "b", "c"]);
        assert!(list(None).is_empty());
        assert_eq!(ratio(1, 4), 0.25);
        assert_eq!(ratio(1, 0), 0.0);
    }
}
