//! The scale-out detections store: one MongoDB collection, upserted by detection id,
//! indexed on user, score and detection time, and beside it `<collection>_verdicts`,
//! one analyst's verdict per transaction.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use mongodb::bson::{self, doc, DateTime as BsonDateTime, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::{Client, Collection, IndexModel};
use sightline_runtime::config::MongoSettings;
use sightline_schemas::{Detection, OffsetDateTime, Uuid, Verdict};

use super::{
    add_amount, latest_revisions, score_bucket, DetectionQuery, DetectionStats, DetectionStore,
    StatsQuery, Written,
};
use crate::error::FraudError;
use crate::score::evidence;

const DUPLICATE_KEY: i32 = 11000;

#[derive(Clone)]
pub struct MongoStore {
    detections: Collection<Document>,
    verdicts: Collection<Document>,
    in_flight: usize,
}

fn failed(e: mongodb::error::Error) -> FraudError {
    match *e.kind {
        ErrorKind::Io(_)
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::ConnectionPoolCleared { .. } => FraudError::Unavailable(e.to_string()),
        _ => FraudError::Backend(e.to_string()),
    }
}

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    matches!(&*e.kind, ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == DUPLICATE_KEY)
}

fn millis(at: OffsetDateTime) -> BsonDateTime {
    BsonDateTime::from_millis((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl MongoStore {
    /// Connects and makes sure the indexes exist.
    pub async fn connect(settings: &MongoSettings) -> Result<Self, FraudError> {
        let client = Client::with_uri_str(&settings.uri.0)
            .await
            .map_err(|e| FraudError::Config(format!("fraud.mongodb.uri: {}", e.kind)))?;
        let database = client.database(&settings.database);
        let detections = database.collection::<Document>(&settings.collection);
        let verdicts =
            database.collection::<Document>(&format!("{}_verdicts", settings.collection));
        let indexes = [
            doc! { "user_id": 1, "detected_at": -1 },
            doc! { "score": 1, "detected_at": -1 },
            doc! { "detected_at": -1 },
            doc! { "indicator_names": 1, "detected_at": -1 },
            doc! { "body.transaction_id": 1 },
        ]
        .map(|keys| IndexModel::builder().keys(keys).build());
        detections.create_indexes(indexes).await.map_err(failed)?;
        Ok(Self {
            detections,
            verdicts,
            in_flight: settings.in_flight.max(1),
        })
    }

    /// Drops the collections: a replaced or failed version of the store.
    pub async fn drop_collection(&self) -> Result<(), FraudError> {
        self.verdicts.drop().await.map_err(failed)?;
        self.detections.drop().await.map_err(failed)
    }

    /// Keeps `v` unless the stored verdict on its transaction supersedes it.
    async fn record_one(&self, v: &Verdict) -> Result<bool, FraudError> {
        let body = bson::to_document(v).map_err(|e| FraudError::Backend(e.to_string()))?;
        let (at, kind) = (
            v.decided_at.unix_timestamp_nanos() as i64,
            v.verdict.as_str(),
        );
        let row = doc! { "_id": &v.transaction_id, "decided_at": at, "kind": kind, "body": body };
        // The same order as `Verdict::supersedes`; a stored verdict that is not
        // older collides on _id, which means "keep it".
        let filter = doc! {
            "_id": &v.transaction_id,
            "$or": [ { "decided_at": { "$lt": at } }, { "decided_at": at, "kind": { "$lt": kind } } ],
        };
        match self.verdicts.replace_one(filter, row).upsert(true).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(failed(e)),
        }
    }

    async fn rows(
        collection: &Collection<Document>,
        filter: Document,
    ) -> Result<Vec<Document>, FraudError> {
        collection
            .find(filter)
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)
    }

    async fn upsert_one(&self, d: &Detection) -> Result<bool, FraudError> {
        let body = bson::to_document(d).map_err(|e| FraudError::Backend(e.to_string()))?;
        let names: Vec<&str> = d.indicators.iter().map(|i| i.name.as_str()).collect();
        let row = doc! {
            "_id": d.id.to_string(),
            "revision": i64::from(d.revision),
            "user_id": &d.user_id,
            "score": i32::from(d.score),
            "detected_at": millis(d.detected_at),
            "indicator_names": names,
            "currency": &d.currency,
            "amount": d.amount.to_string(),
            "body": body,
        };
        // Only a lower stored revision matches; a missing row is inserted; an equal
        // or higher one makes the upsert collide on _id, which means "already newer".
        let filter = doc! { "_id": d.id.to_string(), "revision": { "$lt": i64::from(d.revision) } };
        match self.detections.replace_one(filter, row).upsert(true).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(failed(e)),
        }
    }

    fn range(since: Option<OffsetDateTime>, until: Option<OffsetDateTime>) -> Document {
        let mut at = Document::new();
        if let Some(since) = since {
            at.insert("$gte", millis(since));
        }
        if let Some(until) = until {
            at.insert("$lt", millis(until));
        }
        match at.is_empty() {
            true => Document::new(),
            false => doc! { "detected_at": at },
        }
    }
}

fn parse(row: Document) -> Result<Detection, FraudError> {
    let body = row
        .get_document("body")
        .map_err(|e| FraudError::Backend(format!("stored detection without body: {e}")))?;
    bson::from_document(body.clone())
        .map_err(|e| FraudError::Backend(format!("unreadable stored detection: {e}")))
}

impl DetectionStore for MongoStore {
    async fn upsert(&self, batch: &[Detection]) -> Result<Written, FraudError> {
        let latest = latest_revisions(batch);
        let mut written = Written {
            stale: batch.len() - latest.len(),
            ..Written::default()
        };
        let upserts: Vec<_> = latest.iter().map(|d| self.upsert_one(d)).collect();
        let results: Vec<Result<bool, FraudError>> = futures::stream::iter(upserts)
            .buffer_unordered(self.in_flight)
            .collect()
            .await;
        for result in results {
            match result? {
                true => written.written += 1,
                false => written.stale += 1,
            }
        }
        Ok(written)
    }

    async fn get(&self, id: &Uuid) -> Result<Option<Detection>, FraudError> {
        let row = self
            .detections
            .find_one(doc! { "_id": id.to_string() })
            .await
            .map_err(failed)?;
        let found = row.map(parse).transpose()?;
        let attached = super::verdicts::attach(self, found.into_iter().collect()).await?;
        Ok(attached.into_iter().next())
    }

    async fn list(&self, query: &DetectionQuery) -> Result<Vec<Detection>, FraudError> {
        query.check()?;
        let mut filter = Self::range(query.since, query.until);
        if let Some(min) = query.min_score {
            filter.insert("score", doc! { "$gte": i32::from(min) });
        }
        if let Some(user) = &query.user {
            filter.insert("user_id", user);
        }
        if let Some(name) = &query.indicator {
            filter.insert("indicator_names", name);
        }
        let rows: Vec<Document> = self
            .detections
            .find(filter)
            .sort(doc! { "detected_at": -1, "_id": -1 })
            .limit(query.limit() as i64)
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        let found = rows.into_iter().map(parse).collect::<Result<_, _>>()?;
        super::verdicts::attach(self, found).await
    }

    async fn stats(&self, query: &StatsQuery) -> Result<DetectionStats, FraudError> {
        let range = Self::range(query.since, query.until);
        let mut stats = DetectionStats::default();
        let pipeline = [
            doc! { "$match": range.clone() },
            doc! { "$group": { "_id": "$score", "n": { "$sum": 1 } } },
        ];
        let groups: Vec<Document> = self
            .detections
            .aggregate(pipeline)
            .await
            .map_err(failed)?
            .try_collect()
            .await
            .map_err(failed)?;
        for g in groups {
            let score = g.get_i32("_id").unwrap_or(0).clamp(0, 100) as u8;
            let n = match g.get("n") {
                Some(bson::Bson::Int32(n)) => *n as u64,
                Some(bson::Bson::Int64(n)) => *n as u64,
                _ => 0,
            };
            stats.detections += n;
            stats.score_histogram[score_bucket(score)] += n;
            if score >= query.suspicious_score {
                stats.suspicious += n;
            }
        }
        for name in evidence::ALL {
            let mut filter = range.clone();
            filter.insert("indicator_names", name);
            let n = self
                .detections
                .count_documents(filter)
                .await
                .map_err(failed)?;
            if n > 0 {
                stats.by_indicator.insert(name.to_owned(), n);
            }
        }
        let mut risky = range;
        risky.insert("score", doc! { "$gte": i32::from(query.suspicious_score) });
        let mut cursor = self
            .detections
            .find(risky)
            .projection(doc! { "currency": 1, "amount": 1 })
            .await
            .map_err(failed)?;
        let mut sums = BTreeMap::new();
        while let Some(row) = cursor.try_next().await.map_err(failed)? {
            let currency = row.get_str("currency").unwrap_or("").to_owned();
            add_amount(&mut sums, currency, row.get_str("amount").unwrap_or(""))?;
        }
        stats.amount_at_risk = sums;
        stats.verdicts = super::verdicts::stats(self, query.since, query.until).await?;
        Ok(stats)
    }

    async fn count(&self) -> Result<u64, FraudError> {
        self.detections
            .count_documents(doc! {})
            .await
            .map_err(failed)
    }

    async fn record_verdicts(&self, batch: &[Verdict]) -> Result<usize, FraudError> {
        let mut changed = 0;
        for v in batch {
            changed += usize::from(self.record_one(v).await?);
        }
        Ok(changed)
    }

    async fn verdicts(
        &self,
        transactions: Option<Vec<String>>,
    ) -> Result<Vec<Verdict>, FraudError> {
        let filter = match transactions {
            None => doc! {},
            Some(ids) => doc! { "_id": { "$in": ids } },
        };
        let rows = Self::rows(&self.verdicts, filter).await?;
        rows.into_iter()
            .map(|row| {
                let body = row
                    .get_document("body")
                    .map_err(|e| FraudError::Backend(e.to_string()))?;
                bson::from_document(body.clone())
                    .map_err(|e| FraudError::Backend(format!("unreadable stored verdict: {e}")))
            })
            .collect()
    }

    async fn of_transactions(
        &self,
        transactions: Vec<String>,
    ) -> Result<Vec<Detection>, FraudError> {
        let filter = doc! { "body.transaction_id": { "$in": transactions } };
        Self::rows(&self.detections, filter)
            .await?
            .into_iter()
            .map(parse)
            .collect()
    }
}
