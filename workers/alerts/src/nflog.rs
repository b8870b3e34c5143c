//! The notification log: what each group last told each receiver, in Redis,
//! shared by every evaluator. The grouper's timers live in the evaluator's saved
//! state, which a crash can leave a notification behind, and which a standby
//! taking over may read before the active one has saved; the log is checked and
//! claimed, atomically, right before every send, and written right after a
//! delivery. So a restart or a takeover does not repeat a notification within
//! its `repeat_interval`, and two evaluators running at once (a lease lost
//! during a long pause) send each one once.

use std::time::Duration;

use redis::aio::ConnectionManager;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::AlertError;

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody said it yet (or long enough ago): this evaluator sends it.
    Send,
    /// The same was said within the repeat interval (a resolution: at all).
    AlreadySaid,
    /// Another evaluator is sending it right now.
    InFlight,
}

/// How long a claim stands without its delivery being recorded: longer than a
/// delivery with all its retries takes, short enough that a crashed sender does
/// not keep the notification from being sent by the next evaluator.
const CLAIM: Duration = Duration::from_secs(300);

/// Checks the entry and, unless it says the notification was already sent or is
/// being sent, claims it. ARGV: digest, now (s), repeat interval (s), firing
/// (1/0), claim until (s), keep (ms).
const CLAIM_SCRIPT: &str = r#"
local e = redis.call('HMGET', KEYS[1], 'digest', 'sent_at', 'claimed_until')
local now = tonumber(ARGV[2])
if e[3] and tonumber(e[3]) > now then return 2 end
if e[1] == ARGV[1] and e[2] then
  if ARGV[4] == '0' or now - tonumber(e[2]) < tonumber(ARGV[3]) then return 1 end
end
redis.call('HSET', KEYS[1], 'claimed_until', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 0
"#;

/// One notification of a group to one receiver.
#[derive(Debug, Clone, Copy)]
pub struct Said<'a> {
    pub group_key: &'a str,
    pub receiver: &'a str,
    /// What the notification says (the grouper's digest of fingerprints and statuses).
    pub digest: u64,
    pub firing: bool,
    pub repeat_interval: Duration,
}

#[derive(Clone)]
pub struct NotificationLog {
    conn: ConnectionManager,
    prefix: String,
    claim: redis::Script,
}

impl NotificationLog {
    /// The log under `<prefix>:alerts:nflog:`.
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: format!("{prefix}:alerts:nflog:"),
            claim: redis::Script::new(CLAIM_SCRIPT),
        }
    }

    fn key(&self, said: &Said) -> String {
        const LOG: Uuid = Uuid::from_u128(0x5f1d_92a0_6c3e_4b8b_a7d4_21c9_0e6f_b3a8);
        let entry = format!("{}\u{1f}{}", said.group_key, said.receiver);
        format!(
            "{}{}",
            self.prefix,
            Uuid::new_v5(&LOG, entry.as_bytes()).simple()
        )
    }

    /// An entry outlives its repeat interval by an hour: within it, a repeated
    /// resolution or an unchanged firing group is recognised.
    fn keep(said: &Said) -> u64 {
        (said.repeat_interval + Duration::from_secs(3600)).as_millis() as u64
    }

    /// Whether to send `said` now; when so, it is claimed for this evaluator.
    pub async fn claim(&self, said: &Said<'_>, now: OffsetDateTime) -> Result<Claim, AlertError> {
        let now_s = now.unix_timestamp();
        let found: i64 = self
            .claim
            .key(self.key(said))
            .arg(said.digest.to_string())
            .arg(now_s)
            .arg(said.repeat_interval.as_secs())
            .arg(u8::from(said.firing))
            .arg(now_s + CLAIM.as_secs() as i64)
            .arg(Self::keep(said))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(match found {
            0 => Claim::Send,
            1 => Claim::AlreadySaid,
            _ => Claim::InFlight,
        })
    }

    /// Records a delivery of `said` at `now`, ending the claim.
    pub async fn delivered(&self, said: &Said<'_>, now: OffsetDateTime) -> Result<(), AlertError> {
        let key = self.key(said);
        let _: () = redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("digest", said.digest.to_string()),
                    ("sent_at", now.unix_timestamp().to_string()),
                ],
            )
            .hdel(&key, "claimed_until")
            .pexpire(&key, Self::keep(said) as i64)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// Gives up a claim after a failed delivery: the next due time tries again.
    pub async fn failed(&self, said: &Said<'_>) -> Result<(), AlertError> {
        let _: () = redis::cmd("HDEL")
            .arg(self.key(said))
            .arg("claimed_until")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
