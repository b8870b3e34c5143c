//! POST /api/fraud/detect: scores a payment against what the scorer knows now,
//! without publishing or storing anything. "What it knows" is the scorer's last
//! saved state, reloaded when the file changes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sightline_fraud::project::read_snapshot;
use sightline_fraud::{Rules, Scorer};
use sightline_schemas::{Body, Detection, Event, Validate};
use tokio::sync::Mutex;

use crate::error::ApiError;

/// The saved state is looked at no more often than this.
const CHECK_EVERY: Duration = Duration::from_secs(1);

pub struct Assessor {
    rules: Rules,
    snapshot: PathBuf,
    loaded: Mutex<Loaded>,
}

struct Loaded {
    checked: Option<Instant>,
    modified: Option<SystemTime>,
    /// The LOGS sequence the state reflects (0: no saved state).
    seq: u64,
    scorer: Arc<Scorer>,
}

/// A verdict and the scorer state it was reached with.
#[derive(Debug, serde::Serialize)]
pub struct Assessment {
    #[serde(flatten)]
    pub detection: Detection,
    /// Always false: this endpoint never publishes or stores a detection.
    pub persisted: bool,
    /// The LOGS sequence of the scorer state used (0: no state saved yet).
    pub state_seq: u64,
}

impl Assessor {
    pub fn new(rules: Rules, snapshot: PathBuf) -> Self {
        let scorer = Arc::new(Scorer::new(rules.clone()));
        Self {
            rules,
            snapshot,
            loaded: Mutex::new(Loaded {
                checked: None,
                modified: None,
                seq: 0,
                scorer,
            }),
        }
    }

    /// The score from which a detection counts as suspicious, per the rules.
    pub fn suspicious_score(&self) -> u8 {
        self.rules.suspicious_score
    }

    pub async fn assess(&self, event: &Event) -> Result<Assessment, ApiError> {
        event
            .validate()
            .map_err(|e| ApiError::unprocessable(e.to_string()))?;
        let Body::Transaction(tx) = &event.payload else {
            return Err(ApiError::unprocessable(format!(
                "kind: only transactions are scored, this event is a {}",
                event.kind.as_str()
            )));
        };
        let (seq, scorer) = self.scorer().await?;
        Ok(Assessment {
            detection: scorer.assess(event, tx),
            persisted: false,
            state_seq: seq,
        })
    }

    async fn scorer(&self) -> Result<(u64, Arc<Scorer>), ApiError> {
        let mut loaded = self.loaded.lock().await;
        if loaded.checked.is_none_or(|at| at.elapsed() >= CHECK_EVERY) {
            loaded.checked = Some(Instant::now());
            let modified = std::fs::metadata(&self.snapshot)
                .and_then(|m| m.modified())
                .ok();
            if modified.is_some() && modified != loaded.modified {
                let (path, rules) = (self.snapshot.clone(), self.rules.clone());
                let read = tokio::task::spawn_blocking(move || read_snapshot(&path, &rules))
                    .await
                    .map_err(|e| ApiError::internal(format!("reading the scorer state: {e}")))??;
                if let Some((seq, state)) = read {
                    loaded.seq = seq;
                    loaded.scorer = Arc::new(Scorer::with_state(self.rules.clone(), state));
                }
                loaded.modified = modified;
            }
        }
        Ok((loaded.seq, loaded.scorer.clone()))
    }
}
