//! The scale-out search store: Elasticsearch 8 (or OpenSearch), one index per day
//! behind a read alias, written with `_bulk` using the event id as `_id`, so writes
//! are idempotent upserts and no watermark is needed.

mod bulk;
pub mod lang;
mod query;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderValue, CONTENT_TYPE};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{Method, Url};
use elasticsearch::Elasticsearch;
use futures::FutureExt;
use serde_json::{json, Value};
use sightline_runtime::config::ElasticsearchSettings;
use sightline_schemas::OffsetDateTime;

use super::{prefix_pattern, Indexed, SearchStore, Sequenced, Source};
use crate::document::SearchDoc;
use crate::error::SearchError;
use crate::query::{AggRequest, AggResult, SearchRequest, SearchResponse};

#[derive(Clone)]
pub struct ElasticsearchStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Elasticsearch,
    settings: ElasticsearchSettings,
    /// The alias outside readers (Kibana, dashboards) use, when it is not the read
    /// alias itself: on the live version of a rebuilt index.
    public_alias: Option<String>,
}

impl ElasticsearchStore {
    /// Connects and applies the index template (idempotent).
    pub async fn connect(settings: &ElasticsearchSettings) -> Result<Self, SearchError> {
        Self::connect_with(settings, None).await
    }

    /// Connects to the live version of an index whose outside readers use
    /// `public_alias`: daily indices created from now on join that alias too.
    pub async fn connect_live(
        settings: &ElasticsearchSettings,
        public_alias: &str,
    ) -> Result<Self, SearchError> {
        let public = (public_alias != settings.index_prefix).then(|| public_alias.to_owned());
        Self::connect_with(settings, public).await
    }

    async fn connect_with(
        settings: &ElasticsearchSettings,
        public_alias: Option<String>,
    ) -> Result<Self, SearchError> {
        let url = Url::parse(&settings.url)
            .map_err(|e| SearchError::invalid(format!("search.elasticsearch.url: {e}")))?;
        let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(settings.request_timeout);
        if let Some(key) = &settings.api_key {
            let (id, secret) = key.0.split_once(':').ok_or_else(|| {
                SearchError::invalid("search.elasticsearch.api_key must be id:secret")
            })?;
            transport = transport.auth(Credentials::ApiKey(id.into(), secret.into()));
        } else if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            transport = transport.auth(Credentials::Basic(user.clone(), password.0.clone()));
        }
        if settings.tls_insecure {
            transport = transport.cert_validation(CertificateValidation::None);
        } else if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                SearchError::invalid(format!(
                    "search.elasticsearch.ca_file {}: {e}",
                    path.display()
                ))
            })?;
            let ca = Certificate::from_pem(&pem)
                .map_err(|e| SearchError::invalid(format!("search.elasticsearch.ca_file: {e}")))?;
            transport = transport.cert_validation(CertificateValidation::Full(ca));
        }
        let transport = transport
            .build()
            .map_err(|e| SearchError::invalid(format!("elasticsearch client: {e}")))?;
        let store = Self {
            inner: Arc::new(Inner {
                client: Elasticsearch::new(transport),
                settings: settings.clone(),
                public_alias,
            }),
        };
        let s = &store.inner.settings;
        let also = store.inner.public_alias.as_deref();
        let template = query::template(&s.index_prefix, also, s.shards, s.replicas);
        let body = Bytes::from(template.to_string());
        store
            .inner
            .request(
                Method::Put,
                &format!("/_index_template/{}", s.index_prefix),
                &[],
                Some(body),
                false,
            )
            .await?;
        // The template shapes only indices made from now on: the fields a newer
        // Sightline indexes are added to the existing ones too (adding a field is
        // the one mapping change an index accepts).
        let mappings = &template["template"]["mappings"];
        let mapping = Bytes::from(
            json!({
                "properties": mappings["properties"],
                "dynamic_templates": mappings["dynamic_templates"],
            })
            .to_string(),
        );
        for index in store.indices().await? {
            store
                .inner
                .request(
                    Method::Put,
                    &format!("/{index}/_mapping"),
                    &[],
                    Some(mapping.clone()),
                    false,
                )
                .await?;
        }
        Ok(store)
    }

    /// Deletes every index of this prefix and its template: a replaced or failed
    /// version of the index. Returns how many indices were deleted.
    pub async fn drop_indices(&self) -> Result<usize, SearchError> {
        let prefix = &self.inner.settings.index_prefix;
        let names = self.indices().await?;
        for name in &names {
            self.inner
                .request(Method::Delete, &format!("/{name}"), &[], None, false)
                .await?;
        }
        let template = format!("/_index_template/{prefix}");
        match self
            .inner
            .request(Method::Delete, &template, &[], None, false)
            .await
        {
            Err(SearchError::Invalid(m)) if m.contains("not_found") => {}
            other => {
                other?;
            }
        }
        Ok(names.len())
    }

    /// The daily indices of this prefix.
    async fn indices(&self) -> Result<Vec<String>, SearchError> {
        let prefix = &self.inner.settings.index_prefix;
        let found = self
            .inner
            .request(Method::Get, &format!("/{prefix}-*"), &[], None, false)
            .await?;
        Ok(found
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Points the public alias at this version's indices and away from every other
    /// index in one `_aliases` call, so outside readers move at once. Nothing to do
    /// where the public alias is this version's own (version 0).
    pub async fn take_public_alias(&self) -> Result<(), SearchError> {
        let Some(public) = &self.inner.public_alias else {
            return Ok(());
        };
        let all = self
            .inner
            .request(Method::Get, "/_alias", &[], None, false)
            .await?;
        let own = self.indices().await?;
        let held = all.as_object().into_iter().flatten().filter(|(index, v)| {
            v["aliases"].get(public.as_str()).is_some() && !own.contains(index)
        });
        let mut actions: Vec<Value> = held
            .map(|(index, _)| json!({ "remove": { "index": index, "alias": public } }))
            .collect();
        actions.extend(
            own.iter()
                .map(|index| json!({ "add": { "index": index, "alias": public } })),
        );
        if !actions.is_empty() {
            let body = Bytes::from(json!({ "actions": actions }).to_string());
            self.inner
                .request(Method::Post, "/_aliases", &[], Some(body), false)
                .await?;
        }
        Ok(())
    }

    fn alias(&self) -> &str {
        &self.inner.settings.index_prefix
    }

    /// POST to the read alias; an alias with no index yet reads as empty.
    async fn read(&self, endpoint: &str, body: Value) -> Result<Option<Value>, SearchError> {
        let path = format!("/{}/{endpoint}", self.alias());
        match self
            .inner
            .request(
                Method::Post,
                &path,
                &[],
                Some(Bytes::from(body.to_string())),
                false,
            )
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(SearchError::Invalid(m)) if m.contains("index_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Inner {
    /// One HTTP request. Throttling, server errors and connection failures are
    /// transient; other 4xx answers are the request's fault.
    async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Bytes>,
        ndjson: bool,
    ) -> Result<Value, SearchError> {
        let mut headers = HeaderMap::new();
        if ndjson {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
        }
        let response = self
            .client
            .send(method, path, headers, Some(query), body, None)
            .await
            .map_err(|e| SearchError::Unavailable(format!("{path}: {e}")))?;
        let status = response.status_code().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| SearchError::Unavailable(format!("{path}: {e}")))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        match status {
            200..=299 => Ok(value),
            429 | 500..=599 => Err(SearchError::Unavailable(format!(
                "{path}: {status} {}",
                reason(&value)
            ))),
            _ => Err(SearchError::Invalid(format!(
                "{path}: {status} {}",
                reason(&value)
            ))),
        }
    }
}

fn reason(v: &Value) -> String {
    let e = &v["error"];
    match (e["type"].as_str(), e["reason"].as_str()) {
        (Some(t), Some(r)) => format!("{t}: {r}"),
        _ => v.to_string().chars().take(300).collect(),
    }
}

impl SearchStore for ElasticsearchStore {
    async fn index(&self, _source: Source, batch: Vec<Sequenced>) -> Result<Indexed, SearchError> {
        let s = &self.inner.settings;
        let items = batch
            .iter()
            .enumerate()
            .map(|(i, d)| bulk::item(i, &s.index_prefix, &d.doc))
            .collect::<Result<Vec<_>, _>>()?;
        let inner = self.inner.clone();
        let send = move |body: Bytes| {
            let inner = inner.clone();
            async move {
                inner
                    .request(Method::Post, "/_bulk", &[], Some(body), true)
                    .await
            }
            .boxed()
        };
        let run = |items| {
            bulk::run(
                items,
                s.bulk_max_bytes,
                s.bulk_in_flight,
                s.retries,
                s.retry_backoff,
                &send,
            )
        };
        // A record whose attributes the index cannot take (past its field limit)
        // is indexed without them: found by everything else, still shown whole.
        let (bare, mut rejected): (Vec<_>, Vec<_>) =
            run(items).await?.into_iter().partition(|(i, reason)| {
                !batch[*i].doc.attributes.is_empty() && bulk::refused_for_attributes(reason)
            });
        if let Some((_, reason)) = bare.first() {
            tracing::warn!(documents = bare.len(), %reason, "indexing documents without their attributes");
            let items = bare
                .iter()
                .map(|(i, _)| {
                    let doc = SearchDoc {
                        attributes: Vec::new(),
                        ..batch[*i].doc.clone()
                    };
                    bulk::item(*i, &s.index_prefix, &doc)
                })
                .collect::<Result<Vec<_>, _>>()?;
            rejected.extend(run(items).await?);
        }
        if s.refresh_on_write {
            self.inner
                .request(
                    Method::Post,
                    &format!("/{}/_refresh", self.alias()),
                    &[],
                    None,
                    false,
                )
                .await?;
        }
        Ok(Indexed { rejected })
    }

    async fn advance(&self, _source: Source, _seq: u64) -> Result<(), SearchError> {
        Ok(())
    }

    async fn watermark(&self, _source: Source) -> Result<Option<u64>, SearchError> {
        Ok(None)
    }

    fn keeps_watermark(&self) -> bool {
        false
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let size = request.checked_size().map_err(SearchError::Invalid)?;
        let Some(response) = self
            .read("_search", query::search_body(request, size)?)
            .await?
        else {
            return Ok(SearchResponse {
                total: 0,
                hits: Vec::new(),
                next: None,
            });
        };
        let (total, hits, next) = query::parse_hits(request, size, &response)?;
        Ok(SearchResponse { total, hits, next })
    }

    async fn aggregate(
        &self,
        request: &AggRequest,
    ) -> Result<BTreeMap<String, AggResult>, SearchError> {
        let body = json!({ "size": 0, "query": query::query(&request.query)?, "aggs": crate::aggs::request(&request.aggs, &crate::aggs::Names { attribute: &|a| format!("{}.{}", lang::ATTRIBUTES_TEXT, lang::attribute_key(a)), time_metric: "occurred_at_us" })? });
        let response = self
            .read("_search", body)
            .await?
            .unwrap_or_else(|| json!({ "aggregations": {} }));
        crate::aggs::parse(&request.aggs, &response["aggregations"])
    }

    async fn suggest(&self, prefix: &str, size: usize) -> Result<Vec<String>, SearchError> {
        let pattern = prefix_pattern(prefix)?;
        let prefix = pattern.trim_end_matches(".*").to_owned();
        // `include` keeps only matching words; the prefix query and the filter below
        // cover engines that ignore `include`.
        let body = json!({
            "size": 0,
            "query": { "prefix": { "words": prefix } },
            "aggs": { "words": { "terms": { "field": "words", "size": size.clamp(1, 50) * 10, "include": pattern } } },
        });
        let Some(response) = self.read("_search", body).await? else {
            return Ok(Vec::new());
        };
        let mut words: Vec<(u64, String)> = response["aggregations"]["words"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| Some((b["doc_count"].as_u64()?, b["key"].as_str()?.to_owned())))
            .filter(|(_, w)| w.starts_with(&prefix))
            .collect();
        words.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        words.truncate(size.clamp(1, 50));
        Ok(words.into_iter().map(|(_, w)| w).collect())
    }

    async fn count(&self) -> Result<u64, SearchError> {
        let response = self
            .read("_count", json!({ "query": { "match_all": {} } }))
            .await?;
        Ok(response.and_then(|r| r["count"].as_u64()).unwrap_or(0))
    }

    async fn delete_before(&self, cutoff: OffsetDateTime) -> Result<u64, SearchError> {
        let ns = i64::try_from(cutoff.unix_timestamp_nanos()).unwrap_or(i64::MAX);
        let path = format!("/{}/_delete_by_query", self.alias());
        let body = json!({ "query": { "range": { "occurred_at_ns": { "lt": ns } } } });
        match self
            .inner
            .request(
                Method::Post,
                &path,
                &[("refresh", "true"), ("conflicts", "proceed")],
                Some(Bytes::from(body.to_string())),
                false,
            )
            .await
        {
            Ok(r) => Ok(r["deleted"].as_u64().unwrap_or(0)),
            Err(SearchError::Invalid(m)) if m.contains("index_not_found") => Ok(0),
            Err(e) => Err(e),
        }
    }
}
