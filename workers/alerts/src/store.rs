//! Alert state and silences in Redis, beside the counters: the evaluator's book
//! and grouping timers survive a restart, and the CLI and API share silences.

use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ack::Ack;
use crate::error::AlertError;
use crate::escalate::Escalated;
use crate::group::Grouper;
use crate::silence::Silence;
use crate::state::AlertBook;

/// What the evaluator keeps between evaluations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub book: AlertBook,
    pub grouper: Grouper,
    /// Absent from state saved before escalations existed.
    #[serde(default)]
    pub escalated: Escalated,
}

#[derive(Clone)]
pub struct AlertStore {
    conn: ConnectionManager,
    prefix: String,
}

impl AlertStore {
    /// `prefix` is the counters' key prefix (`counters.prefix`).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, AlertError> {
        Ok(Self {
            conn: sightline_counters::store::connection(url).await?,
            prefix: prefix.to_owned(),
        })
    }

    /// The notification log, beside the state.
    pub fn notification_log(&self) -> crate::nflog::NotificationLog {
        crate::nflog::NotificationLog::new(self.conn.clone(), &self.prefix)
    }

    fn key(&self, name: &str) -> String {
        format!("{}:alerts:{name}", self.prefix)
    }

    pub async fn load(&self) -> Result<Saved, AlertError> {
        let text: Option<String> = self.conn.clone().get(self.key("state")).await?;
        match text {
            None => Ok(Saved::default()),
            Some(t) => serde_json::from_str(&t)
                .map_err(|e| AlertError::Invalid(format!("saved alert state: {e}"))),
        }
    }

    pub async fn save(&self, saved: &Saved) -> Result<(), AlertError> {
        let text = serde_json::to_string(saved)
            .map_err(|e| AlertError::Invalid(format!("alert state: {e}")))?;
        let _: () = self.conn.clone().set(self.key("state"), text).await?;
        Ok(())
    }

    pub async fn silences(&self) -> Result<Vec<Silence>, AlertError> {
        let all: Vec<String> = self.conn.clone().hvals(self.key("silences")).await?;
        let mut out: Vec<Silence> = all
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect();
        out.sort_by_key(|s: &Silence| s.starts_at);
        Ok(out)
    }

    pub async fn add_silence(&self, silence: &Silence) -> Result<(), AlertError> {
        let text = serde_json::to_string(silence)
            .map_err(|e| AlertError::Invalid(format!("silence: {e}")))?;
        let _: () = self
            .conn
            .clone()
            .hset(self.key("silences"), silence.id.to_string(), text)
            .await?;
        Ok(())
    }

    /// Expires a silence now; false when there is no such silence.
    pub async fn remove_silence(&self, id: Uuid) -> Result<bool, AlertError> {
        let removed: u64 = self
            .conn
            .clone()
            .hdel(self.key("silences"), id.to_string())
            .await?;
        Ok(removed > 0)
    }

    /// The acknowledgements, whether they still hold or not.
    pub async fn acks(&self) -> Result<Vec<Ack>, AlertError> {
        let all: Vec<String> = self.conn.clone().hvals(self.key("acks")).await?;
        Ok(all
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }

    /// Records an acknowledgement (a second one of the same alert replaces it).
    pub async fn add_ack(&self, ack: &Ack) -> Result<(), AlertError> {
        let text =
            serde_json::to_string(ack).map_err(|e| AlertError::Invalid(format!("ack: {e}")))?;
        let _: () = self
            .conn
            .clone()
            .hset(self.key("acks"), &ack.fingerprint, text)
            .await?;
        Ok(())
    }

    /// Acknowledges the active alert `fingerprint` (its episode now); `None`
    /// when no alert of that fingerprint is pending or firing.
    pub async fn acknowledge(
        &self,
        fingerprint: &str,
        by: &str,
        comment: &str,
        now: time::OffsetDateTime,
    ) -> Result<Option<(crate::state::Alert, Ack)>, AlertError> {
        let saved = self.load().await?;
        let Some(alert) = crate::ack::active(&saved.book, fingerprint) else {
            return Ok(None);
        };
        let ack = Ack::of(alert, by, comment, now)?;
        self.add_ack(&ack).await?;
        Ok(Some((alert.clone(), ack)))
    }

    /// Forgets the acknowledgements of these alerts.
    pub async fn remove_acks(&self, fingerprints: &[&str]) -> Result<(), AlertError> {
        if fingerprints.is_empty() {
            return Ok(());
        }
        let _: () = self
            .conn
            .clone()
            .hdel(self.key("acks"), fingerprints)
            .await?;
        Ok(())
    }

    /// Whether a replay is rebuilding projections: notifications are held then.
    pub async fn replaying(&self) -> Result<bool, AlertError> {
        Ok(self.conn.clone().exists(self.key("replaying")).await?)
    }

    /// Marks a replay in progress for at most `ttl` (a crashed replay cannot
    /// silence notifications for ever); `None` clears the mark.
    pub async fn set_replaying(&self, ttl: Option<std::time::Duration>) -> Result<(), AlertError> {
        let mut conn = self.conn.clone();
        match ttl {
            Some(ttl) => {
                let _: () = conn
                    .set_ex(self.key("replaying"), "1", ttl.as_secs().max(1))
                    .await?;
            }
            None => {
                let _: () = conn.del(self.key("replaying")).await?;
            }
        }
        Ok(())
    }
}
