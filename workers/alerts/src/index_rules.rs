//! The rules measured in the search index: saved searches, new issues,
//! regressions, new patterns and pattern spikes. Each is aggregations over a
//! time range ending at the evaluation's instant, so an evaluation at a past
//! instant (a replay, `bench alerts`) does not see the future.

use std::collections::BTreeMap;

use sightline_issues::{Status, StatusStore};
use sightline_search::query::{groups_of, Agg, AggRequest, DocKind, Field, Group, SearchRequest};
use time::OffsetDateTime;

use crate::error::AlertError;
use crate::measure::IndexReads;
use crate::rules::{Condition, Rule};
use crate::state::{Labels, Sample};

/// Groups listed per rule at most.
const MAX_GROUPS: usize = 100;
/// A label's text at most (a title, a message).
const MAX_LABEL: usize = 120;

pub struct IndexRules<'a> {
    pub index: &'a dyn IndexReads,
    pub statuses: Option<&'a StatusStore>,
}

fn request(text: &str, since: OffsetDateTime, until: OffsetDateTime) -> SearchRequest {
    let mut request = SearchRequest {
        text: Some(text.to_owned()),
        size: 1,
        highlight: false,
        ..SearchRequest::default()
    };
    request.filters.since = Some(since);
    request.filters.until = Some(until);
    request
}

fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(MAX_LABEL) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

impl IndexRules<'_> {
    pub async fn measure(
        &self,
        rule: &Rule,
        now: OffsetDateTime,
    ) -> Result<Vec<Sample>, AlertError> {
        let since = now - rule.window;
        match &rule.when {
            Condition::Query { query, .. } => {
                let n = self.index.search(&request(query, since, now)).await?.total;
                Ok(vec![Sample {
                    labels: Labels::from([("query".to_owned(), query.clone())]),
                    value: n as f64,
                    notes: Default::default(),
                }])
            }
            Condition::NewIssue { .. } => {
                self.new_groups(Field::Issue, "_exists_:issue", since, now)
                    .await
            }
            Condition::NewPattern { severity } => {
                let worse: Vec<String> = sightline_schemas::Severity::ALL
                    .iter()
                    .filter(|level| *level >= severity)
                    .map(|level| format!("severity:{}", level.as_str()))
                    .collect();
                let query = format!("_exists_:pattern AND ({})", worse.join(" OR "));
                self.new_groups(Field::Pattern, &query, since, now).await
            }
            Condition::Regression => self.regressions(now).await,
            Condition::PatternSpike {
                baseline,
                factor,
                min_count,
            } => {
                self.spikes(since, now, *baseline, *factor, *min_count)
                    .await
            }
            _ => Err(AlertError::Rules(format!(
                "rule {:?} is not measured in the index",
                rule.name
            ))),
        }
    }

    async fn groups(
        &self,
        query: SearchRequest,
        field: Field,
        aggs: BTreeMap<String, Agg>,
    ) -> Result<Vec<Group>, AlertError> {
        let request = AggRequest::grouped(query, field, MAX_GROUPS, aggs);
        Ok(groups_of(self.index.aggregate(&request).await?))
    }

    /// The latest document of `field:value` up to `until`.
    async fn latest(
        &self,
        field: Field,
        value: &str,
        until: OffsetDateTime,
    ) -> Result<Option<sightline_search::query::Hit>, AlertError> {
        let query = request(
            &format!("{}:{value}", field.name()),
            OffsetDateTime::UNIX_EPOCH,
            until,
        );
        Ok(self.index.search(&query).await?.hits.into_iter().next())
    }

    /// Values of `field` among the documents of `query` in the window whose
    /// first document ever is in the window.
    async fn new_groups(
        &self,
        field: Field,
        query: &str,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Vec<Sample>, AlertError> {
        let recent = self
            .groups(request(query, since, now), field, BTreeMap::new())
            .await?;
        if recent.is_empty() {
            return Ok(Vec::new());
        }
        let any: Vec<String> = recent
            .iter()
            .map(|g| format!("{}:{}", field.name(), g.key))
            .collect();
        let first = BTreeMap::from([("first".to_owned(), Agg::Earliest)]);
        let ever = self
            .groups(
                request(&any.join(" OR "), OffsetDateTime::UNIX_EPOCH, now),
                field,
                first,
            )
            .await?;
        let mut out = Vec::new();
        for g in recent {
            let first = ever
                .iter()
                .find(|e| e.key == g.key)
                .and_then(|e| e.time("first"));
            if first.is_none_or(|t| t < since) {
                continue;
            }
            out.push(self.sample(field, &g.key, g.count as f64, now).await?);
        }
        Ok(out)
    }

    /// One series of `field:key`, labelled with its service and first line.
    async fn sample(
        &self,
        field: Field,
        key: &str,
        value: f64,
        now: OffsetDateTime,
    ) -> Result<Sample, AlertError> {
        let mut labels = Labels::from([(field.name().to_owned(), key.to_owned())]);
        if let Some(hit) = self.latest(field, key, now).await? {
            labels.insert("service".to_owned(), hit.service);
            labels.insert("message".to_owned(), short(&hit.message));
        }
        Ok(Sample {
            labels,
            value,
            notes: Default::default(),
        })
    }

    /// Resolved issues with events after their resolution.
    async fn regressions(&self, now: OffsetDateTime) -> Result<Vec<Sample>, AlertError> {
        let Some(statuses) = self.statuses else {
            return Err(AlertError::Rules(
                "regression rules need the issue status store".into(),
            ));
        };
        let decided = statuses
            .all()
            .await
            .map_err(|e| AlertError::Unavailable(e.to_string()))?;
        let mut out = Vec::new();
        for (id, change) in decided {
            if change.status != Status::Resolved || change.at >= now {
                continue;
            }
            let mut since_resolved = request(&format!("issue:{id}"), change.at, now);
            // After the decision, not at it.
            since_resolved.filters.since = Some(change.at + time::Duration::nanoseconds(1));
            since_resolved.filters.kinds = vec![DocKind::Error, DocKind::Log];
            let seen = self.index.search(&since_resolved).await?.total;
            if seen > 0 {
                out.push(self.sample(Field::Issue, &id, seen as f64, now).await?);
            }
        }
        Ok(out)
    }

    /// Patterns of the window against their usual number per window over the
    /// baseline before it.
    async fn spikes(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
        baseline: std::time::Duration,
        factor: f64,
        min_count: u64,
    ) -> Result<Vec<Sample>, AlertError> {
        let recent: Vec<Group> = self
            .groups(
                request("_exists_:pattern", since, now),
                Field::Pattern,
                BTreeMap::new(),
            )
            .await?
            .into_iter()
            .filter(|g| g.count >= min_count)
            .collect();
        if recent.is_empty() {
            return Ok(Vec::new());
        }
        let window = (now - since).as_seconds_f64();
        let before = now - baseline;
        let any: Vec<String> = recent
            .iter()
            .map(|g| format!("pattern:{}", g.key))
            .collect();
        let usual = self
            .groups(
                request(&any.join(" OR "), before, since),
                Field::Pattern,
                BTreeMap::new(),
            )
            .await?;
        let windows = ((since - before).as_seconds_f64() / window).max(1.0);
        let mut out = Vec::new();
        for g in recent {
            let base = usual.iter().find(|u| u.key == g.key).map_or(0, |u| u.count);
            // A floor on the usual level: from nothing, `min_count` is `factor` times usual.
            let per_window = (base as f64 / windows).max(min_count as f64 / factor);
            out.push(
                self.sample(Field::Pattern, &g.key, g.count as f64 / per_window, now)
                    .await?,
            );
        }
        Ok(out)
    }
}
