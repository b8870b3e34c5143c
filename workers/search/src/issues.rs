//! Issues as an error tracker shows them, read from the index: every error
//! document carries its issue's fingerprint (`issue`), so an issue's count,
//! users, trend, services, environments, hosts, first and last events are
//! aggregations over its documents, exact under redelivery and replay because
//! the index is. Only the operators' decisions live elsewhere
//! ([`sightline_issues::StatusStore`]), and the status now follows from both.

use std::collections::{BTreeMap, HashMap};

use futures::future::try_join_all;
use serde::Serialize;
use sightline_issues::{effective, occurrence, Effective, Status, StatusChange, StatusStore};
use sightline_schemas::Event;
use time::OffsetDateTime;

use crate::error::SearchError;
use crate::query::{groups_of, Agg, AggRequest, Bucket, DocKind, Field, Group, Hit, SearchRequest};
use crate::store::SearchStore;

/// Issues considered per list, at most (the most frequent of the window).
const CANDIDATES: usize = 1000;
/// Values listed per breakdown (services, environments, hosts).
const TOP_VALUES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueSort {
    /// Most recently seen first.
    #[default]
    LastSeen,
    /// Newest issues first.
    FirstSeen,
    /// Most events in the window first.
    Count,
    /// Most users affected in the window first.
    Users,
}

impl std::str::FromStr for IssueSort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "last_seen" => IssueSort::LastSeen,
            "first_seen" => IssueSort::FirstSeen,
            "count" => IssueSort::Count,
            "users" => IssueSort::Users,
            other => {
                return Err(format!(
                    "sort `{other}`: expected last_seen, first_seen, count or users"
                ))
            }
        })
    }
}

/// Which issues to list.
#[derive(Debug, Clone, Default)]
pub struct IssueQuery {
    /// Issues with events since then.
    pub since: Option<OffsetDateTime>,
    pub services: Vec<String>,
    /// Issues whose status is this now (any when `None`).
    pub status: Option<Status>,
    pub sort: IssueSort,
    pub limit: usize,
    /// Seconds per bar of each issue's trend.
    pub bar_secs: u64,
}

/// One issue.
#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    /// The fingerprint: `issue:<id>` in a query finds its events.
    pub id: String,
    /// The latest event's message, first line.
    pub title: String,
    pub error_type: String,
    /// Where it happened: the innermost in-app frame of the latest event's stack.
    pub culprit: Option<String>,
    pub status: Status,
    /// Resolved, then seen again.
    pub regressed: bool,
    /// Events of the window.
    pub count: u64,
    /// Events the index holds, all times.
    pub total: u64,
    /// Distinct users of the window's events (approximate).
    pub users: u64,
    /// Its first event the index holds.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_seen: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    /// Events per bar over the window.
    pub trend: Vec<Bucket>,
    pub services: Vec<Bucket>,
    pub envs: Vec<Bucket>,
    pub hosts: Vec<Bucket>,
    /// The operators' last decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<StatusChange>,
    pub latest: Hit,
}

/// The documents of errors: events with an issue.
fn errors(since: Option<OffsetDateTime>, services: &[String]) -> SearchRequest {
    let mut request = SearchRequest {
        text: Some("_exists_:issue".into()),
        size: 1,
        ..SearchRequest::default()
    };
    request.filters.kinds = vec![DocKind::Error, DocKind::Log];
    request.filters.services = services.to_vec();
    request.filters.since = since;
    request
}

fn per_issue(bar_secs: u64) -> BTreeMap<String, Agg> {
    let top = |field| Agg::Terms {
        field,
        size: TOP_VALUES,
    };
    BTreeMap::from([
        (
            "users".to_owned(),
            Agg::Cardinality {
                field: Field::UserId,
            },
        ),
        ("last".to_owned(), Agg::Latest),
        (
            "trend".to_owned(),
            Agg::DateHistogram {
                interval_secs: bar_secs.max(1),
            },
        ),
        ("services".to_owned(), top(Field::Service)),
        ("envs".to_owned(), top(Field::Env)),
        ("hosts".to_owned(), top(Field::Host)),
    ])
}

async fn groups<S: SearchStore>(
    store: &S,
    query: SearchRequest,
    size: usize,
    aggs: BTreeMap<String, Agg>,
) -> Result<Vec<Group>, SearchError> {
    let request = AggRequest::grouped(query, Field::Issue, size, aggs);
    Ok(groups_of(store.aggregate(&request).await?))
}

/// The issues of `query`, in its order.
pub async fn list<S: SearchStore>(
    store: &S,
    statuses: &StatusStore,
    query: &IssueQuery,
) -> Result<Vec<Issue>, SearchError> {
    let window = errors(query.since, &query.services);
    let found = groups(store, window, CANDIDATES, per_issue(query.bar_secs)).await?;
    let decided = statuses.all().await.map_err(status_error)?;
    let firsts = all_time(store, found.iter().map(|g| g.key.as_str())).await?;
    let mut listed: Vec<(Group, Option<StatusChange>, Effective)> = found
        .into_iter()
        .map(|g| {
            let change = decided.get(&g.key).cloned();
            let now = effective(change.as_ref(), g.time("last"));
            (g, change, now)
        })
        .filter(|(_, _, now)| query.status.is_none_or(|s| s == now.status))
        .collect();
    let first = |g: &Group| firsts.get(&g.key).and_then(|(t, _)| *t);
    match query.sort {
        IssueSort::LastSeen => listed.sort_by_key(|(g, ..)| std::cmp::Reverse(g.time("last"))),
        IssueSort::FirstSeen => listed.sort_by_key(|(g, ..)| std::cmp::Reverse(first(g))),
        IssueSort::Count => listed.sort_by_key(|(g, ..)| std::cmp::Reverse(g.count)),
        IssueSort::Users => {
            listed.sort_by_key(|(g, ..)| std::cmp::Reverse(g.value("users").unwrap_or(0.0) as u64))
        }
    }
    listed.truncate(query.limit.clamp(1, 100));
    let issues = listed.into_iter().map(|(g, change, now)| {
        let (first_seen, total) = firsts.get(&g.key).copied().unwrap_or((None, g.count));
        async move {
            // Deleted by retention between the two reads: nothing left to show.
            let latest = latest(store, &g.key).await?;
            Ok::<_, SearchError>(latest.map(|l| issue(g, l, change, now, first_seen, total)))
        }
    });
    Ok(try_join_all(issues).await?.into_iter().flatten().collect())
}

/// Issue `id` over the window `since`, or `None` when the index holds no event of it.
pub async fn one<S: SearchStore>(
    store: &S,
    statuses: &StatusStore,
    id: &str,
    since: Option<OffsetDateTime>,
    bar_secs: u64,
) -> Result<Option<Issue>, SearchError> {
    let mut window = errors(since, &[]);
    window.filters.issue = Some(id.to_owned());
    let firsts = all_time(store, [id]).await?;
    let Some((first_seen, total)) = firsts.get(id).copied() else {
        return Ok(None);
    };
    let group = groups(store, window, 1, per_issue(bar_secs))
        .await?
        .into_iter()
        .next()
        .unwrap_or(Group {
            key: id.to_owned(),
            count: 0,
            aggs: BTreeMap::new(),
        });
    let change = statuses.get(id).await.map_err(status_error)?;
    let Some(latest) = latest(store, id).await? else {
        return Ok(None);
    };
    let now = effective(change.as_ref(), Some(latest.occurred_at));
    Ok(Some(issue(group, latest, change, now, first_seen, total)))
}

/// The latest `size` events of issue `id`.
pub async fn samples<S: SearchStore>(
    store: &S,
    id: &str,
    size: usize,
) -> Result<Vec<Hit>, SearchError> {
    let mut request = errors(None, &[]);
    request.filters.issue = Some(id.to_owned());
    request.size = size;
    Ok(store.search(&request).await?.hits)
}

async fn latest<S: SearchStore>(store: &S, id: &str) -> Result<Option<Hit>, SearchError> {
    Ok(samples(store, id, 1).await?.into_iter().next())
}

/// Each issue's first event and its number of events, over all the index holds.
async fn all_time<S: SearchStore>(
    store: &S,
    ids: impl IntoIterator<Item = &str>,
) -> Result<HashMap<String, (Option<OffsetDateTime>, u64)>, SearchError> {
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut out = HashMap::new();
    // A query of at most a few hundred clauses each.
    for chunk in ids.chunks(200) {
        let mut query = errors(None, &[]);
        let any: Vec<String> = chunk.iter().map(|id| format!("issue:{id}")).collect();
        query.text = Some(any.join(" OR "));
        let aggs = BTreeMap::from([("first".to_owned(), Agg::Earliest)]);
        for g in groups(store, query, chunk.len(), aggs).await? {
            out.insert(g.key.clone(), (g.time("first"), g.count));
        }
    }
    Ok(out)
}

fn issue(
    mut g: Group,
    latest: Hit,
    decided: Option<StatusChange>,
    now: Effective,
    first_seen: Option<OffsetDateTime>,
    total: u64,
) -> Issue {
    let event: Option<Event> = serde_json::from_value(latest.event.clone()).ok();
    let described = event.as_ref().and_then(occurrence);
    let title = described.as_ref().map_or_else(
        || latest.message.lines().next().unwrap_or("").to_owned(),
        |o| o.title.clone(),
    );
    Issue {
        id: g.key.clone(),
        title,
        error_type: described
            .as_ref()
            .map(|o| o.error_type.clone())
            .unwrap_or_default(),
        culprit: described.and_then(|o| o.culprit),
        status: now.status,
        regressed: now.regressed,
        count: g.count,
        total,
        users: g.value("users").unwrap_or(0.0).round() as u64,
        // The aggregation's time is kept to the microsecond, the event's is exact.
        first_seen: first_seen.map(|t| t.min(latest.occurred_at)),
        last_seen: Some(latest.occurred_at),
        trend: g.buckets("trend"),
        services: g.buckets("services"),
        envs: g.buckets("envs"),
        hosts: g.buckets("hosts"),
        decided,
        latest,
    }
}

fn status_error(e: sightline_issues::StatusError) -> SearchError {
    SearchError::Unavailable(e.to_string())
}
