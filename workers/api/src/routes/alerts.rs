//! /api/alerts: active alerts (the evaluator's state) and acknowledgements,
//! their history (the ALERTS stream), and silences.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sightline_alerts::ack::Ack;
use sightline_alerts::{Alert, Silence, Status, Transition};
use sightline_runtime::topology::ALERTS;
use time::OffsetDateTime;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The most history entries one request reads.
const MAX_HISTORY: u64 = 500;

#[derive(Debug, Serialize)]
struct Active<'a> {
    firing: usize,
    pending: usize,
    alerts: Vec<&'a Alert>,
    /// The acknowledgements that hold, by fingerprint.
    acknowledged: BTreeMap<&'a str, &'a Ack>,
}

/// Pending and firing alerts, firing first, then by severity, and who
/// acknowledged which.
#[utoipa::path(get, path = "/api/alerts/active", tag = "alerts",
    responses((status = 200, description = "counts, alerts and `acknowledged` (by fingerprint)", body = Object)))]
pub async fn active(State(state): State<AppState>) -> Result<Response, ApiError> {
    let saved = state.alerts.load().await?;
    let acks = sightline_alerts::ack::holding(state.alerts.acks().await?, &saved.book);
    let mut alerts: Vec<&Alert> = saved.book.active().collect();
    alerts.sort_by(|a, b| {
        (b.status == Status::Firing)
            .cmp(&(a.status == Status::Firing))
            .then(a.severity.cmp(&b.severity))
            .then(a.rule.cmp(&b.rule))
    });
    let firing = alerts.iter().filter(|a| a.status == Status::Firing).count();
    let acknowledged = acks
        .iter()
        .map(|ack| (ack.fingerprint.as_str(), ack))
        .collect();
    let body = Active {
        firing,
        pending: alerts.len() - firing,
        alerts,
        acknowledged,
    };
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAck {
    /// Who has it in hand (not blank).
    #[schema(pattern = r"\S")]
    pub by: String,
    #[serde(default)]
    pub comment: String,
}

/// Acknowledges an active alert (operator role): someone has it in hand; it is
/// not escalated further this episode.
#[utoipa::path(post, path = "/api/alerts/{fingerprint}/ack", tag = "alerts",
    params(("fingerprint" = String, Path, description = "The alert's fingerprint", pattern = r"^[0-9a-f]{16}$")),
    request_body = NewAck,
    responses((status = 200, description = "the acknowledgement", body = Object),
        (status = 400, description = "a bad fingerprint, or `by` blank"),
        (status = 404, description = "no pending or firing alert of this fingerprint")))]
pub async fn acknowledge(
    State(state): State<AppState>,
    Path(fingerprint): Path<String>,
    Json(new): Json<NewAck>,
) -> Result<Response, ApiError> {
    super::params::fingerprint("fingerprint", &fingerprint, "an alert")?;
    let (_, ack) = state
        .alerts
        .acknowledge(
            &fingerprint,
            &new.by,
            &new.comment,
            OffsetDateTime::now_utc(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no active alert {fingerprint}")))?;
    Ok(Json(ack).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Changes to return, newest first (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// Only this rule's.
    pub rule: Option<String>,
}

#[derive(Debug, Serialize)]
struct Change {
    seq: u64,
    #[serde(flatten)]
    transition: Transition,
}

/// Alert state changes as recorded on ALERTS, newest first.
#[utoipa::path(get, path = "/api/alerts/history", tag = "alerts", params(HistoryParams),
    responses((status = 200, description = "changes, newest first", body = [Object])))]
pub async fn history(
    State(state): State<AppState>,
    Query(p): Query<HistoryParams>,
) -> Result<Response, ApiError> {
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_HISTORY {
        return Err(ApiError::bad_request(format!(
            "limit must be 1-{MAX_HISTORY}"
        )));
    }
    let stream = state
        .bus
        .js
        .get_stream(ALERTS)
        .await
        .map_err(|e| ApiError::unavailable(format!("ALERTS stream: {e}")))?;
    let info = stream.cached_info().state.clone();
    let subject = match &p.rule {
        Some(rule) => format!("alerts.*.{rule}"),
        None => "alerts.>".into(),
    };
    // Newest first: read backwards from the end of the stream.
    let first = info.first_sequence.max(1);
    let seqs: Vec<u64> = (first..=info.last_sequence)
        .rev()
        .take(if p.rule.is_some() {
            MAX_HISTORY as usize * 4
        } else {
            limit as usize
        })
        .collect();
    let messages: Vec<_> = futures::stream::iter(seqs)
        .map(|seq| {
            let stream = stream.clone();
            async move { (seq, stream.get_raw_message(seq).await) }
        })
        .buffered(16)
        .map(Ok::<_, ApiError>)
        .try_collect()
        .await?;
    let mut changes = Vec::new();
    for (seq, message) in messages {
        let Ok(message) = message else { continue };
        if !matches_subject(&subject, &message.subject) {
            continue;
        }
        if let Ok(transition) = serde_json::from_slice::<Transition>(&message.payload) {
            changes.push(Change { seq, transition });
            if changes.len() as u64 >= limit {
                break;
            }
        }
    }
    Ok(Json(changes).into_response())
}

/// `alerts.*.<rule>` or `alerts.>` against a subject.
fn matches_subject(pattern: &str, subject: &str) -> bool {
    match pattern.strip_prefix("alerts.*.") {
        Some(rule) => subject
            .strip_prefix("alerts.")
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(_, r)| r == rule),
        None => subject.starts_with("alerts."),
    }
}

/// Silences that have not ended.
#[utoipa::path(get, path = "/api/alerts/silences", tag = "alerts",
    responses((status = 200, description = "active silences", body = [Object])))]
pub async fn silences(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = OffsetDateTime::now_utc();
    let active: Vec<Silence> = state
        .alerts
        .silences()
        .await?
        .into_iter()
        .filter(|s| s.ends_at > now)
        .collect();
    Ok(Json(active).into_response())
}

/// Labels an alert must have to be silenced: names as in Prometheus, values not
/// blank, at least one.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Matchers(BTreeMap<String, String>);

const LABEL_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl utoipa::PartialSchema for Matchers {
    fn schema() -> RefOr<Schema> {
        let text = |pattern: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern))
        };
        ObjectBuilder::new()
            .description(Some(
                "Labels an alert must have to be silenced (`alertname` is the rule).",
            ))
            .min_properties(Some(1))
            .property_names(Some(text(LABEL_NAME)))
            .additional_properties(Some(text(r"\S")))
            .into()
    }
}

impl ToSchema for Matchers {}

impl Matchers {
    /// `label=value` strings, or a 400 naming the matcher that is not one.
    fn parse(&self) -> Result<Vec<String>, ApiError> {
        self.0
            .iter()
            .map(|(label, value)| {
                if !is_label_name(label) {
                    Err(ApiError::bad_request(format!(
                        "matchers: {label:?} is not a label name ({LABEL_NAME})"
                    )))
                } else if value.trim().is_empty() {
                    Err(ApiError::bad_request(format!(
                        "matchers: {label} needs a value"
                    )))
                } else {
                    Ok(format!("{label}={value}"))
                }
            })
            .collect()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    pub matchers: Matchers,
    /// How long: a number (at most 4 digits) and one unit (`s`, `m`, `h`, `d`,
    /// `w`), e.g. `2h`.
    #[schema(pattern = r"^[1-9][0-9]{0,3}[smhdw]$")]
    pub duration: String,
    pub comment: String,
    /// Who silences (not blank).
    #[schema(pattern = r"\S")]
    pub created_by: String,
}

/// Creates a silence (operator role).
#[utoipa::path(post, path = "/api/alerts/silences", tag = "alerts", request_body = NewSilence,
    responses((status = 201, description = "the silence", body = Object)))]
pub async fn create_silence(
    State(state): State<AppState>,
    Json(new): Json<NewSilence>,
) -> Result<Response, ApiError> {
    // At most 9999 weeks: the end of a silence is a date people can write.
    let length: Duration = super::params::span_of("duration", &new.duration, "smhdw", 4)?;
    if new.created_by.trim().is_empty() {
        return Err(ApiError::bad_request("created_by must name who silences"));
    }
    let matchers = new.matchers.parse()?;
    let silence = Silence::new(
        &matchers,
        OffsetDateTime::now_utc(),
        length,
        &new.created_by,
        &new.comment,
    )?;
    state.alerts.add_silence(&silence).await?;
    Ok((StatusCode::CREATED, Json(silence)).into_response())
}

/// Ends a silence now (operator role).
#[utoipa::path(delete, path = "/api/alerts/silences/{id}", tag = "alerts",
    params(("id" = Uuid, Path, description = "the silence")),
    responses((status = 204), (status = 404, description = "no such silence")))]
pub async fn expire_silence(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    if state.alerts.remove_silence(id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no silence {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_are_label_names_with_values() {
        let parse = |json: &str| serde_json::from_str::<Matchers>(json).unwrap().parse();
        assert_eq!(
            parse(r#"{"alertname": "HighErrorRate", "service": "cart"}"#).unwrap(),
            ["alertname=HighErrorRate", "service=cart"]
        );
        for bad in [
            r#"{"a=b": "c"}"#,
            r#"{"": "c"}"#,
            r#"{"1x": "c"}"#,
            r#"{"a": " "}"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.message.starts_with("matchers: "),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn history_filters_by_rule() {
        assert!(matches_subject("alerts.>", "alerts.firing.HighErrorRate"));
        assert!(matches_subject(
            "alerts.*.HighErrorRate",
            "alerts.firing.HighErrorRate"
        ));
        assert!(!matches_subject(
            "alerts.*.HighErrorRate",
            "alerts.firing.High"
        ));
    }
}
