//! The two fraud projections. The scorer reads LOGS, keeps its windows, publishes
//! detections to FRAUD and saves its state with the LOGS sequence it covers; the
//! store projection reads FRAUD and upserts detections.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sightline_runtime::consumer::{
    Decode, Outcome, Position, Projection, Record, Source, WorkerSpec,
};
use sightline_runtime::pii::PiiHasher;
use sightline_runtime::publisher::{Prepared, Publisher};
use sightline_runtime::topology::LOGS;
use sightline_runtime::versions::Versioned;
use sightline_runtime::Error;
use sightline_schemas::{subject, Detection, Encoding, Event, Verdict};

use crate::error::FraudError;
use crate::rules::Rules;
use crate::score::Scorer;
use crate::state::State;
use crate::store::DetectionStore;

/// The kinds of event the scorer reads: those that teach it or get scored.
const SCORED_KINDS: [&str; 3] = ["transaction", "security", "user_behavior"];

/// The scorer's consumer: its kinds only.
pub fn scorer_spec(consumer: &str) -> WorkerSpec {
    WorkerSpec {
        stream: LOGS.into(),
        consumer: consumer.into(),
        filter_subjects: SCORED_KINDS
            .map(|kind| format!("{}.{kind}.>", subject::LOGS_PREFIX))
            .to_vec(),
        parts: Vec::new(),
    }
}

/// The subjects analysts' verdicts travel on.
pub fn verdict_subjects() -> String {
    format!("{}.verdict.>", subject::FRAUD_PREFIX)
}

/// The detections store's consumer: detections, and analysts' verdicts on them.
pub fn store_spec(consumer: &str) -> WorkerSpec {
    let mut spec = Source::Fraud.spec(consumer);
    spec.filter_subjects.push(verdict_subjects());
    spec
}

/// What the detections store reads from FRAUD. Nearly every record is a
/// detection: boxing it would cost an allocation per message for nothing.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum FraudRecord {
    Detection(Detection),
    Verdict(Verdict),
}

impl Decode for FraudRecord {
    fn decode(
        subject: &str,
        headers: Option<&async_nats::HeaderMap>,
        payload: &[u8],
    ) -> Result<Self, sightline_schemas::EventError> {
        let encoding = sightline_runtime::consumer::encoding(headers)?;
        let verdicts = format!("{}.verdict.", subject::FRAUD_PREFIX);
        Ok(match subject.starts_with(&verdicts) {
            true => FraudRecord::Verdict(Verdict::decode(payload, encoding)?),
            false => FraudRecord::Detection(Detection::decode(payload, encoding)?),
        })
    }

    fn occurred_at(&self) -> Option<sightline_schemas::OffsetDateTime> {
        Some(match self {
            FraudRecord::Detection(d) => d.detected_at,
            FraudRecord::Verdict(v) => v.decided_at,
        })
    }
}

/// What the scorer saves: its state and the last LOGS sequence folded into it.
#[derive(Deserialize)]
struct Snapshot {
    rules_version: String,
    seq: u64,
    state: State,
}

/// [`Snapshot`] as written, borrowing the live state.
#[derive(Serialize)]
struct SnapshotRef<'a> {
    rules_version: &'a str,
    seq: u64,
    state: &'a State,
}

/// The scorer's saved state and the LOGS sequence it reflects, if one was saved.
/// Used by the scorer on start and by the API to assess payments read-only.
pub fn read_snapshot(path: &Path, rules: &Rules) -> Result<Option<(u64, State)>, FraudError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(path, e)),
    };
    let snapshot: Snapshot = rmp_serde::from_slice(&bytes).map_err(|e| {
        FraudError::Backend(format!(
            "{} is unreadable ({e}); delete it to rebuild the state by replaying LOGS",
            path.display()
        ))
    })?;
    let mut state = snapshot.state;
    if snapshot.rules_version != rules.version {
        // Windows are rule-agnostic; verdicts under the old rules are not.
        state.recent.clear();
        state.recent_order.clear();
    }
    Ok(Some((snapshot.seq, state)))
}

/// What a published detection carries of the payer's IP.
#[derive(Debug, Clone)]
pub enum PayerIp {
    /// The address, where the configuration asks for it (`fraud.keep_raw_ip`).
    Clear,
    /// Its keyed reference (`ip_ref`), the one the search index holds: FRAUD and
    /// the detections stores never see the address.
    Referenced(PiiHasher),
}

impl PayerIp {
    /// `d` as it may be published.
    pub fn apply(&self, mut d: Detection) -> Detection {
        if let (PayerIp::Referenced(pii), Some(ip)) = (self, d.ip) {
            d.ip_ref = Some(pii.reference("ip", &ip.to_string()));
            d.ip = None;
        }
        d
    }
}

pub struct ScorerProjection {
    scorer: Scorer,
    payer_ip: PayerIp,
    publisher: Publisher,
    /// The last LOGS sequence observed; state and `pending` reflect exactly the
    /// records up to it.
    seq: Option<u64>,
    /// Detections observed but not yet stored by FRAUD (kept across a failed publish).
    pending: Vec<Detection>,
    snapshot_path: PathBuf,
    snapshot_every: Duration,
    /// `None` until the first save, so the first batch after a start is saved at once.
    last_snapshot: Option<Instant>,
    /// The sequence of the snapshot on disk (restored or written); 0 for none.
    saved: u64,
    loaded: bool,
    published: u64,
}

impl ScorerProjection {
    pub fn new(
        rules: Rules,
        publisher: Publisher,
        snapshot_path: PathBuf,
        snapshot_every: Duration,
        payer_ip: PayerIp,
    ) -> Self {
        Self {
            scorer: Scorer::new(rules),
            payer_ip,
            publisher,
            seq: None,
            pending: Vec::new(),
            snapshot_path,
            snapshot_every,
            last_snapshot: None,
            saved: 0,
            loaded: false,
            published: 0,
        }
    }

    /// Detections published by this process (duplicates included).
    pub fn published(&self) -> u64 {
        self.published
    }

    /// The scorer's state: what it remembers, and what a snapshot holds.
    pub fn state(&self) -> &crate::state::State {
        self.scorer.state()
    }

    /// Loads the saved state once, on the first position query.
    fn load(&mut self) -> Result<(), FraudError> {
        let rules = self.scorer.rules().clone();
        let Some((seq, state)) = read_snapshot(&self.snapshot_path, &rules)? else {
            return Ok(());
        };
        tracing::info!(seq, path = %self.snapshot_path.display(), "fraud scorer state restored");
        self.scorer = Scorer::with_state(rules, state);
        self.seq = Some(seq);
        self.saved = seq;
        Ok(())
    }

    /// Writes the state beside a temporary name, syncs it and renames it over the
    /// old one, so a crash leaves either snapshot whole.
    pub fn save(&mut self) -> Result<(), FraudError> {
        let Some(seq) = self.seq.filter(|_| self.pending.is_empty()) else {
            return Ok(());
        };
        let snapshot = SnapshotRef {
            rules_version: &self.scorer.rules().version,
            seq,
            state: self.scorer.state(),
        };
        let bytes = rmp_serde::to_vec_named(&snapshot)
            .map_err(|e| FraudError::Backend(format!("encoding the scorer state: {e}")))?;
        write_atomically(&self.snapshot_path, &bytes)?;
        self.last_snapshot = Some(Instant::now());
        self.saved = seq;
        Ok(())
    }

    /// The sequence of the snapshot on disk: where a restart resumes.
    pub fn saved_seq(&self) -> u64 {
        self.saved
    }

    fn save_when_due(&mut self) -> Result<(), FraudError> {
        if self
            .last_snapshot
            .is_none_or(|at| at.elapsed() >= self.snapshot_every)
        {
            self.save()?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut pipeline = self.publisher.pipeline();
        for d in &self.pending {
            let payload = d.encode(Encoding::MsgPack)?;
            pipeline
                .send_prepared(Prepared {
                    subject: d.subject(),
                    message_id: d.message_id(),
                    encoding: Encoding::MsgPack,
                    payload: Bytes::from(payload),
                })
                .await?;
        }
        pipeline.finish().await?;
        self.published += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

fn io_error(path: &Path, e: std::io::Error) -> FraudError {
    FraudError::Unavailable(format!("{}: {e}", path.display()))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FraudError> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
    file.write_all(bytes).map_err(|e| io_error(&tmp, e))?;
    file.sync_all().map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

impl Projection for ScorerProjection {
    type Item = Event;

    /// The saved sequence on start; after a failure, the in-memory one (state and
    /// pending detections stay consistent with it).
    async fn position(&mut self) -> Result<Position, Error> {
        if !std::mem::replace(&mut self.loaded, true) {
            self.load()?;
        }
        Ok(self.seq.map_or(Position::Start, Position::After))
    }

    /// The snapshot holds the state with the sequence it covers; after a restart
    /// the scorer scores again from there (detections dedupe by message id).
    fn durable_watermark(&self) -> bool {
        true
    }

    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        for record in batch {
            if self.seq.is_some_and(|seq| record.stream_seq <= seq) {
                continue;
            }
            // Beside other projections on one read of LOGS (a fan-out), the other
            // kinds arrive too: passed over, they leave the state exactly as its
            // own filtered consumer would.
            if SCORED_KINDS.contains(&record.item.kind().as_str()) {
                let found = self.scorer.observe(&record.item);
                self.pending
                    .extend(found.into_iter().map(|d| self.payer_ip.apply(d)));
            }
            self.seq = Some(record.stream_seq);
        }
        self.flush().await?;
        self.save_when_due()?;
        Ok(Outcome::default())
    }

    fn saved_through(&self, _part: usize) -> Option<u64> {
        Some(self.saved)
    }

    /// Traffic stopped: the state is saved now rather than when next due, which
    /// may be never. A crash after this replays nothing (and so republishes no
    /// detection and files no dead letter again).
    async fn idle(&mut self) -> Result<bool, Error> {
        if self.seq.is_none_or(|seq| seq <= self.saved) {
            return Ok(false);
        }
        self.flush().await?;
        self.save()?;
        Ok(self.seq.is_some_and(|seq| seq <= self.saved))
    }

    /// Dead letters hold nothing to observe: the snapshot's sequence moves over them.
    async fn pass(&mut self, through: u64) -> Result<(), Error> {
        if self.seq.is_none_or(|seq| seq < through) {
            self.seq = Some(through);
            self.save_when_due()?;
        }
        Ok(())
    }
}

/// Projects detection events into a store. Upserts by id make it idempotent.
pub struct DetectionProjection<S> {
    /// The version this projection writes, until it follows a switch.
    store: S,
    versions: Versioned<S>,
}

impl<S: DetectionStore + Clone> DetectionProjection<S> {
    pub fn new(store: S) -> Self {
        Self {
            versions: Versioned::fixed(store.clone()),
            store,
        }
    }

    /// A projection that follows the live version of the store.
    pub async fn versioned(versions: Versioned<S>) -> Self {
        Self {
            store: versions.get().await,
            versions,
        }
    }
}

impl<S: DetectionStore + Clone> Projection for DetectionProjection<S> {
    type Item = FraudRecord;

    async fn position(&mut self) -> Result<Position, Error> {
        Ok(Position::Untracked)
    }

    /// Upserts detections by id and revision and keeps each transaction's latest
    /// verdict: both idempotent, so redelivery and replay change nothing.
    async fn apply(&mut self, batch: &[Record<FraudRecord>]) -> Result<Outcome, Error> {
        let (mut detections, mut verdicts) = (Vec::new(), Vec::new());
        for r in batch {
            match &r.item {
                FraudRecord::Detection(d) => detections.push(d.clone()),
                FraudRecord::Verdict(v) => verdicts.push(v.clone()),
            }
        }
        if !detections.is_empty() {
            self.store.upsert(&detections).await?;
        }
        if !verdicts.is_empty() {
            self.store.record_verdicts(&verdicts).await?;
        }
        Ok(Outcome::default())
    }

    async fn follow(&mut self, version: u64) -> Result<(), Error> {
        self.store = self.versions.switch_to(version).await?;
        Ok(())
    }
}
