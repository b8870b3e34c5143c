//! Routing, pure: which receivers an alert reaches and how it is grouped there,
//! in the manner of Alertmanager's route tree; which alerts another one
//! inhibits; when a route is muted.
//!
//! An alert enters at the root and goes down into the first child whose
//! matchers it meets, then on to later siblings only while the matched child
//! says `continue`; where no child takes it, the node it is at handles it. A
//! node inherits its receiver, grouping and timers from its parent.

use regex::Regex;
use sightline_runtime::config::{InhibitSettings, RouteSettings, TimeIntervalSettings};
use time::{OffsetDateTime, Weekday};

use crate::error::AlertError;
use crate::rules::Timing;
use crate::state::{Alert, Labels, Status};

/// One condition on a label: `=`, `!=`, `=~`, `!~`.
#[derive(Debug, Clone)]
pub struct Matcher {
    label: String,
    negated: bool,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    Equal(String),
    Regex(Regex),
}

impl Matcher {
    /// `label=value`, `label!=value`, `label=~regex`, `label!~regex`; a regex
    /// must match the whole value, and a missing label is the empty value.
    pub fn parse(text: &str) -> Result<Self, AlertError> {
        let bad = |why: &str| {
            AlertError::Invalid(format!(
                "matcher {text:?}: {why} (expected label=value, label!=value, label=~regex or label!~regex)"
            ))
        };
        let at = text.find(['=', '!']).ok_or_else(|| bad("no operator"))?;
        let (label, rest) = text.split_at(at);
        let label = label.trim();
        if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad("the label must be letters, digits and `_`"));
        }
        let (negated, regex, value) = if let Some(v) = rest.strip_prefix("=~") {
            (false, true, v)
        } else if let Some(v) = rest.strip_prefix("!~") {
            (true, true, v)
        } else if let Some(v) = rest.strip_prefix("!=") {
            (true, false, v)
        } else if let Some(v) = rest.strip_prefix('=') {
            (false, false, v)
        } else {
            return Err(bad("no operator"));
        };
        let value = value.trim().trim_matches('"');
        let test = if regex {
            let anchored = format!("^(?:{value})$");
            Test::Regex(Regex::new(&anchored).map_err(|e| bad(&format!("bad regex: {e}")))?)
        } else {
            Test::Equal(value.to_owned())
        };
        Ok(Self {
            label: label.to_owned(),
            negated,
            test,
        })
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.label).map_or("", String::as_str);
        let hit = match &self.test {
            Test::Equal(v) => v == value,
            Test::Regex(r) => r.is_match(value),
        };
        hit != self.negated
    }
}

pub(crate) fn parse_all(texts: &[String]) -> Result<Vec<Matcher>, AlertError> {
    texts.iter().map(|t| Matcher::parse(t)).collect()
}

fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// How a route groups its alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// `alertname` and the rule's own `group_by` (no route configured).
    Rule,
    Labels(Vec<String>),
    /// Every label: one notification per alert.
    All,
}

/// A route with what it inherited filled in.
#[derive(Debug, Clone)]
pub struct Route {
    /// Its place in the tree: `""` for the root, `"0.2"` for the root's first
    /// child's third child.
    pub id: String,
    matchers: Vec<Matcher>,
    /// `None`: every receiver.
    pub receiver: Option<String>,
    pub group_by: GroupBy,
    pub timing: Timing,
    continue_matching: bool,
    pub mute_time_intervals: Vec<String>,
    routes: Vec<Route>,
}

/// The route tree, the inhibition rules and the named time intervals.
#[derive(Debug, Clone)]
pub struct Routing {
    root: Route,
    inhibit: Vec<Inhibit>,
    intervals: Vec<TimeInterval>,
    /// Steps unacknowledged alerts go up by ([`crate::escalate`]).
    pub escalations: Vec<crate::escalate::Escalation>,
}

impl Routing {
    /// Every alert to every receiver, grouped by rule: no route configured.
    pub fn every_receiver(timing: Timing) -> Self {
        Self {
            root: Route {
                id: String::new(),
                matchers: Vec::new(),
                receiver: None,
                group_by: GroupBy::Rule,
                timing,
                continue_matching: false,
                mute_time_intervals: Vec::new(),
                routes: Vec::new(),
            },
            inhibit: Vec::new(),
            intervals: Vec::new(),
            escalations: Vec::new(),
        }
    }

    /// The routing `settings` configure, the root's timers from the rules file.
    pub fn configured(
        settings: &sightline_runtime::config::AlertsSettings,
        timing: Timing,
    ) -> Result<Self, AlertError> {
        let receivers: Vec<String> = settings.receivers.iter().map(|r| r.name.clone()).collect();
        let mut routing = Self::new(
            settings.route.as_ref(),
            &settings.inhibit_rules,
            &settings.time_intervals,
            &receivers,
            timing,
        )?;
        routing.escalations =
            crate::escalate::Escalation::configured(&settings.escalations, &receivers)?;
        Ok(routing)
    }

    /// The configured routing, checked: receivers exist, matchers and times parse,
    /// muting names a defined interval.
    pub fn new(
        route: Option<&RouteSettings>,
        inhibit: &[InhibitSettings],
        intervals: &[TimeIntervalSettings],
        receivers: &[String],
        timing: Timing,
    ) -> Result<Self, AlertError> {
        let intervals: Vec<TimeInterval> = intervals
            .iter()
            .map(TimeInterval::new)
            .collect::<Result<_, _>>()?;
        let mut routing = Self::every_receiver(timing);
        routing.intervals = intervals;
        if let Some(settings) = route {
            routing.root = routing.build(settings, &routing.root, String::new(), receivers)?;
            if !routing.root.matchers.is_empty() {
                return Err(AlertError::Invalid(
                    "the root route takes every alert: it has no matchers".into(),
                ));
            }
        }
        routing.inhibit = inhibit
            .iter()
            .map(|i| {
                Ok(Inhibit {
                    source: parse_all(&i.source_matchers)?,
                    target: parse_all(&i.target_matchers)?,
                    equal: i.equal.clone(),
                })
            })
            .collect::<Result<_, AlertError>>()?;
        Ok(routing)
    }

    fn build(
        &self,
        s: &RouteSettings,
        parent: &Route,
        id: String,
        receivers: &[String],
    ) -> Result<Route, AlertError> {
        if let Some(r) = &s.receiver {
            if !receivers.contains(r) {
                return Err(AlertError::Invalid(format!(
                    "route {}: no receiver is named {r:?}",
                    shown(&id)
                )));
            }
        }
        for name in &s.mute_time_intervals {
            if !self.intervals.iter().any(|i| &i.name == name) {
                return Err(AlertError::Invalid(format!(
                    "route {}: no time interval is named {name:?}",
                    shown(&id)
                )));
            }
        }
        let group_by = match &s.group_by {
            None => parent.group_by.clone(),
            Some(labels) if labels.iter().any(|l| l == "...") => GroupBy::All,
            Some(labels) => GroupBy::Labels(labels.clone()),
        };
        let mut route = Route {
            id: id.clone(),
            matchers: parse_all(&s.matchers)?,
            receiver: s.receiver.clone().or_else(|| parent.receiver.clone()),
            group_by,
            timing: Timing {
                group_wait: s.group_wait.unwrap_or(parent.timing.group_wait),
                group_interval: s.group_interval.unwrap_or(parent.timing.group_interval),
                repeat_interval: s.repeat_interval.unwrap_or(parent.timing.repeat_interval),
            },
            continue_matching: s.continue_matching,
            mute_time_intervals: s.mute_time_intervals.clone(),
            routes: Vec::new(),
        };
        for (i, child) in s.routes.iter().enumerate() {
            let child_id = if id.is_empty() {
                i.to_string()
            } else {
                format!("{id}.{i}")
            };
            let built = self.build(child, &route, child_id, receivers)?;
            route.routes.push(built);
        }
        Ok(route)
    }

    /// The routes that handle an alert of these labels, in tree order.
    pub fn routes_for(&self, labels: &Labels) -> Vec<&Route> {
        let mut out = Vec::new();
        descend(&self.root, labels, &mut out);
        out
    }

    /// Whether a firing alert of `firing` inhibits `alert`.
    pub fn inhibited<'a>(&self, alert: &Alert, firing: impl Iterator<Item = &'a Alert>) -> bool {
        let rules: Vec<&Inhibit> = self
            .inhibit
            .iter()
            .filter(|r| all_match(&r.target, &alert.labels))
            .collect();
        if rules.is_empty() {
            return false;
        }
        firing
            .filter(|s| s.status == Status::Firing && s.fingerprint != alert.fingerprint)
            .any(|source| {
                rules.iter().any(|r| {
                    all_match(&r.source, &source.labels)
                        && r.equal
                            .iter()
                            .all(|l| source.labels.get(l) == alert.labels.get(l))
                })
            })
    }

    /// Whether `route` is muted at `now`.
    pub fn muted(&self, route: &Route, now: OffsetDateTime) -> bool {
        route.mute_time_intervals.iter().any(|name| {
            self.intervals
                .iter()
                .any(|i| &i.name == name && i.contains(now))
        })
    }
}

fn shown(id: &str) -> &str {
    if id.is_empty() {
        "root"
    } else {
        id
    }
}

/// Collects the routes of `node`'s subtree that handle `labels` (`node` itself
/// when none of its children takes them).
fn descend<'r>(node: &'r Route, labels: &Labels, out: &mut Vec<&'r Route>) {
    let before = out.len();
    for child in &node.routes {
        if all_match(&child.matchers, labels) {
            descend(child, labels, out);
            if !child.continue_matching {
                break;
            }
        }
    }
    if out.len() == before {
        out.push(node);
    }
}

#[derive(Debug, Clone)]
struct Inhibit {
    source: Vec<Matcher>,
    target: Vec<Matcher>,
    equal: Vec<String>,
}

/// Times of the week in UTC.
#[derive(Debug, Clone)]
struct TimeInterval {
    name: String,
    weekdays: Vec<Weekday>,
    /// Minutes of the day, start inclusive, end exclusive; end < start spans midnight.
    times: Vec<(u16, u16)>,
}

impl TimeInterval {
    fn new(s: &TimeIntervalSettings) -> Result<Self, AlertError> {
        let bad = |why: String| AlertError::Invalid(format!("time interval {:?}: {why}", s.name));
        if s.name.is_empty() {
            return Err(bad("it needs a name".into()));
        }
        let weekdays = s
            .weekdays
            .iter()
            .map(|d| weekday(d).ok_or_else(|| bad(format!("{d:?} is not a day of the week"))))
            .collect::<Result<_, _>>()?;
        let times = s
            .times
            .iter()
            .map(|t| {
                let (a, b) = t
                    .split_once('-')
                    .ok_or_else(|| bad(format!("{t:?}: expected HH:MM-HH:MM")))?;
                match (minute_of_day(a), minute_of_day(b)) {
                    (Some(a), Some(b)) if a != b => Ok((a, b)),
                    _ => Err(bad(format!(
                        "{t:?}: expected HH:MM-HH:MM, two different times"
                    ))),
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: s.name.clone(),
            weekdays,
            times,
        })
    }

    fn contains(&self, now: OffsetDateTime) -> bool {
        let now = now.to_offset(time::UtcOffset::UTC);
        let minute = u16::from(now.hour()) * 60 + u16::from(now.minute());
        let day_ok = self.weekdays.is_empty() || self.weekdays.contains(&now.weekday());
        let time_ok = self.times.is_empty()
            || self.times.iter().any(|&(a, b)| {
                if a < b {
                    (a..b).contains(&minute)
                } else {
                    minute >= a || minute < b
                }
            });
        day_ok && time_ok
    }
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn minute_of_day(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    // 24:00 is the end of the day.
    (h < 24 && m < 60 || h == 24 && m == 0).then_some(h * 60 + m)
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
