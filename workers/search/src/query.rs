//! One query model for every search backend and for the API: full text with
//! highlighting and fuzzy matching, filters, sorting, pagination, autocomplete and
//! aggregations. Backends translate it; they never invent their own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sightline_schemas::{Kind, OffsetDateTime};

/// What a search document is: an event of one of the six kinds, or a fraud
/// detection from FRAUD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Transaction,
    Error,
    UserBehavior,
    Performance,
    Security,
    Log,
    FraudDetection,
}

impl DocKind {
    pub const ALL: [DocKind; 7] = [
        DocKind::Transaction,
        DocKind::Error,
        DocKind::UserBehavior,
        DocKind::Performance,
        DocKind::Security,
        DocKind::Log,
        DocKind::FraudDetection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Transaction => Kind::Transaction.as_str(),
            DocKind::Error => Kind::Error.as_str(),
            DocKind::UserBehavior => Kind::UserBehavior.as_str(),
            DocKind::Performance => Kind::Performance.as_str(),
            DocKind::Security => Kind::Security.as_str(),
            DocKind::Log => Kind::Log.as_str(),
            DocKind::FraudDetection => "fraud_detection",
        }
    }
}

impl From<Kind> for DocKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Transaction => DocKind::Transaction,
            Kind::Error => DocKind::Error,
            Kind::UserBehavior => DocKind::UserBehavior,
            Kind::Performance => DocKind::Performance,
            Kind::Security => DocKind::Security,
            Kind::Log => DocKind::Log,
        }
    }
}

impl std::str::FromStr for DocKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown kind `{s}` (expected one of transaction, error, user_behavior, performance, security, log, fraud_detection)")
            })
    }
}

/// Largest page a single request may ask for.
pub const MAX_PAGE: usize = 1000;
/// Deepest `from` offset; deeper pages use `search_after`.
pub const MAX_FROM: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchRequest {
    /// Words to find in the event's message; all must match.
    pub text: Option<String>,
    /// Tolerate typos (edit distance 1 on words of 4+ letters, 2 on 8+).
    pub fuzzy: bool,
    pub filters: Filters,
    pub sort: Sort,
    pub from: usize,
    pub size: usize,
    /// Continue after this hit (time sorts only); use the `next` of the previous page.
    pub search_after: Option<Cursor>,
    pub highlight: bool,
}

/// Exact-match filters; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filters {
    pub kinds: Vec<DocKind>,
    pub services: Vec<String>,
    /// Transaction status (`failed`...).
    pub status: Option<String>,
    pub user_id: Option<String>,
    pub endpoint: Option<String>,
    pub session_id: Option<String>,
    pub host: Option<String>,
    /// Log records of this severity (`error`...).
    pub severity: Option<String>,
    /// Events of one trace.
    pub trace_id: Option<String>,
    /// The one document with this id.
    pub id: Option<uuid::Uuid>,
    /// The keyed hash that stands for a card fingerprint in the index (see
    /// [`crate::document::PiiHasher`]): every event of one card.
    pub card_ref: Option<String>,
    /// The keyed hash that stands for an IP address in the index.
    pub ip_ref: Option<String>,
    pub pattern: Option<String>,
    pub issue: Option<String>,
    pub error_code: Option<u16>,
    /// Requests (performance events) that took at least this long.
    pub min_response_time_ms: Option<f64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// Exclusive upper bound.
    #[serde(with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
}

impl Filters {
    /// The keyword fields matched exactly, with the value asked for, if any.
    pub fn keyword_terms(&self) -> [(&'static str, Option<&str>); 11] {
        [
            ("trace_id", self.trace_id.as_deref()),
            ("status", self.status.as_deref()),
            ("user_id", self.user_id.as_deref()),
            ("endpoint", self.endpoint.as_deref()),
            ("session_id", self.session_id.as_deref()),
            ("host", self.host.as_deref()),
            ("severity", self.severity.as_deref()),
            ("card_ref", self.card_ref.as_deref()),
            ("ip_ref", self.ip_ref.as_deref()),
            ("pattern", self.pattern.as_deref()),
            ("issue", self.issue.as_deref()),
        ]
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Newest first (the default for logs).
    #[default]
    Newest,
    Oldest,
    /// Best match first; ties newest first.
    Relevance,
}

/// Where a time-sorted page ended: the last hit's time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub occurred_at_ns: i64,
    pub id: uuid::Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Matching documents in all (exact).
    pub total: u64,
    pub hits: Vec<Hit>,
    /// Pass as `search_after` for the next page; absent when this page was the last.
    pub next: Option<Cursor>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: uuid::Uuid,
    pub kind: DocKind,
    pub service: String,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub message: String,
    /// The id of the message's pattern (`pattern:<id>`); none on fraud
    /// detections and on documents indexed before patterns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The fingerprint of its issue, on errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// Message fragments with matches wrapped in `<em>...</em>` (HTML-escaped otherwise).
    pub highlights: Vec<String>,
    /// The whole event (or fraud detection), every field and attribute, with
    /// cards and IP addresses only as their keyed references; `null` for a
    /// document indexed before events were kept whole.
    #[serde(default)]
    pub event: serde_json::Value,
}

impl Hit {
    /// Where this hit stands in time order: a page that ends with it continues
    /// from here.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            occurred_at_ns: i64::try_from(self.occurred_at.unix_timestamp_nanos())
                .unwrap_or(i64::MAX),
            id: self.id,
        }
    }
}

impl SearchRequest {
    pub fn text(text: &str) -> Self {
        Self {
            text: Some(text.into()),
            size: 10,
            ..Self::default()
        }
    }

    /// The page size actually used, and a clear error for requests out of bounds.
    pub fn checked_size(&self) -> Result<usize, String> {
        if self.size > MAX_PAGE {
            return Err(format!("size must be at most {MAX_PAGE}"));
        }
        if self.from > MAX_FROM {
            return Err(format!(
                "from must be at most {MAX_FROM}; use search_after for deeper pages"
            ));
        }
        if self.search_after.is_some() && self.sort == Sort::Relevance {
            return Err("search_after needs a time sort (newest or oldest)".into());
        }
        // A range that ends before it starts holds nothing, as in Elasticsearch:
        // not an error, since no schema can say which of two parameters is later.
        Ok(if self.size == 0 { 10 } else { self.size })
    }
}

/// Fields that aggregations may group or measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Kind,
    Service,
    Status,
    UserId,
    Endpoint,
    ErrorCode,
    ErrorType,
    Currency,
    PaymentMethod,
    Country,
    Action,
    Severity,
    Logger,
    StatusCode,
    Amount,
    ResponseTimeMs,
    DbQueryTimeMs,
    Pattern,
    Issue,
    Env,
    Host,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::Service => "service",
            Field::Status => "status",
            Field::UserId => "user_id",
            Field::Endpoint => "endpoint",
            Field::ErrorCode => "error_code",
            Field::ErrorType => "error_type",
            Field::Currency => "currency",
            Field::PaymentMethod => "payment_method",
            Field::Country => "country",
            Field::Action => "action",
            Field::Severity => "severity",
            Field::Logger => "logger",
            Field::StatusCode => "status_code",
            Field::Amount => "amount",
            Field::ResponseTimeMs => "response_time_ms",
            Field::DbQueryTimeMs => "db_query_time_ms",
            Field::Pattern => "pattern",
            Field::Issue => "issue",
            Field::Env => "env",
            Field::Host => "host",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::ErrorCode
                | Field::StatusCode
                | Field::Amount
                | Field::ResponseTimeMs
                | Field::DbQueryTimeMs
        )
    }
}

/// One aggregation. Requests are named; results come back under the same names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Agg {
    /// The most frequent values, most frequent first (ties by key).
    Terms {
        field: Field,
        size: usize,
    },
    /// The most frequent values, most frequent first (ties by key), each with
    /// `aggs` over its own documents.
    Groups {
        field: Field,
        size: usize,
        aggs: BTreeMap<String, Agg>,
    },
    /// Counts per fixed interval of `occurred_at`, in seconds.
    DateHistogram {
        interval_secs: u64,
    },
    Avg {
        field: Field,
    },
    Sum {
        field: Field,
    },
    Min {
        field: Field,
    },
    Max {
        field: Field,
    },
    /// The given percentiles (50, 90, 95, 99...) of a numeric field.
    Percentiles {
        field: Field,
        percents: Vec<f64>,
    },
    /// Approximate number of distinct values.
    Cardinality {
        field: Field,
    },
    /// When the first of the documents happened.
    Earliest,
    /// When the last of the documents happened.
    Latest,
    /// The most frequent text values of a log record's attribute (`http.route`).
    AttributeTerms {
        attribute: String,
        size: usize,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AggRequest {
    /// Which documents to aggregate (text and filters; paging is ignored).
    pub query: SearchRequest,
    pub aggs: BTreeMap<String, Agg>,
}

/// The name [`AggRequest::grouped`] gives its one aggregation.
const GROUPED: &str = "groups";

impl AggRequest {
    /// One [`Agg::Groups`] over the documents of `query`: the `size` most
    /// frequent values of `field`, each with `aggs`.
    pub fn grouped(
        query: SearchRequest,
        field: Field,
        size: usize,
        aggs: BTreeMap<String, Agg>,
    ) -> Self {
        Self {
            query,
            aggs: BTreeMap::from([(GROUPED.to_owned(), Agg::Groups { field, size, aggs })]),
        }
    }
}

/// The groups of an answer to [`AggRequest::grouped`].
pub fn groups_of(mut results: BTreeMap<String, AggResult>) -> Vec<Group> {
    match results.remove(GROUPED) {
        Some(AggResult::Groups(g)) => g,
        _ => Vec::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggResult {
    Buckets(Vec<Bucket>),
    /// Per value, its count and its own aggregations.
    Groups(Vec<Group>),
    /// `None` when there was no document.
    Time(#[serde(with = "time::serde::rfc3339::option")] Option<OffsetDateTime>),
    /// `None` when no document had the field.
    Value(Option<f64>),
    /// Percent (as written in the request, e.g. "95.0") to value.
    Percentiles(BTreeMap<String, Option<f64>>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The term, or the bucket start as RFC 3339 for date histograms.
    pub key: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    pub count: u64,
    /// The group's aggregations, under the request's names.
    pub aggs: BTreeMap<String, AggResult>,
}

impl Group {
    /// The buckets of aggregation `name` (empty when it is not buckets).
    pub fn buckets(&mut self, name: &str) -> Vec<Bucket> {
        match self.aggs.remove(name) {
            Some(AggResult::Buckets(b)) => b,
            _ => Vec::new(),
        }
    }

    /// The time of aggregation `name` (`Earliest`, `Latest`).
    pub fn time(&self, name: &str) -> Option<OffsetDateTime> {
        match self.aggs.get(name) {
            Some(AggResult::Time(t)) => *t,
            _ => None,
        }
    }

    /// The value of aggregation `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        match self.aggs.get(name) {
            Some(AggResult::Value(v)) => *v,
            _ => None,
        }
    }
}

/// The percent key used in results: `95.0`, `99.9`.
pub fn percent_key(p: f64) -> String {
    format!("{p:.1}")
}
