//! How far each projection has got, read in the background a few times a second.
//! Every response says which watermark it was read at (`Sightline-Watermark`), and a
//! client that has just written sends `Sightline-Wait-For: <sequence>` to be
//! answered only once the projection it reads holds that sequence: read your writes.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::watch;

use crate::error::ApiError;

/// Request header: wait until the projection has applied this stream sequence.
pub const WAIT_FOR: &str = "sightline-wait-for";
/// Response header: the sequence the projection had applied when it answered.
pub const WATERMARK: &str = "sightline-watermark";

/// Stream heads and projection watermarks. LOGS projections count in LOGS
/// sequences; the detections store counts in FRAUD sequences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Marks {
    /// The last sequence stored in LOGS.
    pub logs: u64,
    /// The last sequence stored in FRAUD.
    pub fraud: u64,
    /// LOGS sequence searchable in the index.
    pub search: Option<u64>,
    /// FRAUD sequence searchable in the index (detections).
    pub search_fraud: Option<u64>,
    /// LOGS sequence applied by every counter shard.
    pub counters: Option<u64>,
    /// FRAUD sequence applied by every counter shard (fraud detection counts).
    pub counters_fraud: Option<u64>,
    /// FRAUD sequence applied to the detections store.
    pub detections: Option<u64>,
    /// LOGS sequence through which the fraud scorer has scored every event of its
    /// kinds: the progress it records, as it acks nothing (the LOGS head once it
    /// has nothing left; none before its first batch).
    pub scorer: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    Search,
    Counters,
    Detections,
}

impl Projection {
    pub fn name(self) -> &'static str {
        match self {
            Projection::Search => "search",
            Projection::Counters => "counters",
            Projection::Detections => "detections",
        }
    }

    pub fn of(self, marks: &Marks) -> Option<u64> {
        match self {
            Projection::Search => marks.search,
            Projection::Counters => marks.counters,
            Projection::Detections => marks.detections,
        }
    }
}

pub struct Watermarks {
    tx: watch::Sender<Marks>,
}

impl Default for Watermarks {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(Marks::default()),
        }
    }
}

impl Watermarks {
    pub fn current(&self) -> Marks {
        *self.tx.borrow()
    }

    pub fn set(&self, marks: Marks) {
        self.tx.send_if_modified(|old| {
            let changed = *old != marks;
            *old = marks;
            changed
        });
    }

    pub fn subscribe(&self) -> watch::Receiver<Marks> {
        self.tx.subscribe()
    }

    /// Honours `Sightline-Wait-For`: returns once `projection` has applied the
    /// sequence asked for, or a 503 after `timeout`.
    pub async fn wait_for(
        &self,
        projection: Projection,
        headers: &HeaderMap,
        timeout: Duration,
    ) -> Result<(), ApiError> {
        let Some(value) = headers.get(WAIT_FOR) else {
            return Ok(());
        };
        let seq: u64 = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!("{WAIT_FOR} must be a stream sequence number"))
            })?;
        let mut rx = self.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            rx.wait_for(|m| projection.of(m).is_some_and(|w| w >= seq)),
        )
        .await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ApiError::not_caught_up(format!(
                "the {} projection has not reached sequence {seq} within {}s (it is at {})",
                projection.name(),
                timeout.as_secs_f64(),
                projection
                    .of(&self.current())
                    .map_or("nothing yet".to_owned(), |w| w.to_string())
            ))),
        }
    }
}

/// A JSON answer stamped with the watermark it was read at.
pub fn stamped<T: Serialize>(watermark: Option<u64>, body: T) -> Response {
    let mut response = axum::Json(body).into_response();
    stamp(&mut response, watermark);
    response
}

pub fn stamp(response: &mut Response, watermark: Option<u64>) {
    if let Some(w) = watermark {
        response
            .headers_mut()
            .insert(WATERMARK, HeaderValue::from(w));
    }
}
