//! The Redis key layout (docs/counters.md). Every key is
//! `<prefix>:{<shard>}:<family>:...`; the braces are a Redis Cluster hash tag, so
//! the keys of one shard share a slot and one script can write them atomically
//! together with that shard's watermark.

use std::time::Duration;

use sightline_runtime::config::CountersSettings;
pub use sightline_runtime::consumer::Source;
use sightline_runtime::versions::versioned_name;

use crate::error::CountersError;

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Hash: events per dimension selector (`total`, `kind=error`, ...).
    Counts,
    /// Hash: amounts in 1/10,000 of a major unit per `status=..,currency=..`.
    Revenue,
    /// Hash: latency histogram counts per `<series>#<bucket index>`.
    Latency,
    /// HyperLogLog: user ids seen in the hour.
    Users,
    /// Set: the members already counted in the counts bucket of the same step
    /// and start (detection ids), on that bucket's shard.
    Seen,
}

impl Family {
    pub fn tag(self) -> &'static str {
        match self {
            Family::Counts => "c",
            Family::Revenue => "rev",
            Family::Latency => "lat",
            Family::Users => "users",
            Family::Seen => "seen",
        }
    }
}

/// A bucket width and how long its buckets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub secs: i64,
    pub keep_secs: i64,
}

impl Step {
    /// The start of the bucket holding `unix_secs`.
    pub fn bucket(self, unix_secs: i64) -> i64 {
        unix_secs.div_euclid(self.secs) * self.secs
    }

    /// When a bucket's key expires: its end plus the retention.
    pub fn expire_at(self, bucket: i64) -> i64 {
        bucket + self.secs + self.keep_secs
    }
}

/// Where every counter lives. Pure: the writer and every reader derive the same
/// keys from the same settings.
#[derive(Debug, Clone)]
pub struct Layout {
    prefix: String,
    shards: u16,
    steps: Vec<Step>,
    users: Step,
}

impl Layout {
    /// The layout of `version` of the counters: keys under `<prefix>:v<N>`.
    pub fn at_version(settings: &CountersSettings, version: u64) -> Result<Self, CountersError> {
        let mut settings = settings.clone();
        settings.prefix = versioned_name(&settings.prefix, version, ":");
        Self::new(&settings)
    }

    pub fn new(settings: &CountersSettings) -> Result<Self, CountersError> {
        let invalid = |m: String| CountersError::Config(format!("counters settings: {m}"));
        if settings.prefix.is_empty() || settings.prefix.contains(['{', '}', ' ']) {
            return Err(invalid(format!(
                "prefix {:?} must be non-empty, without braces or spaces",
                settings.prefix
            )));
        }
        if settings.shards == 0 {
            return Err(invalid("shards must be at least 1".into()));
        }
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let mut steps = Vec::new();
        for r in &settings.resolutions {
            let step = Step {
                secs: secs(r.step),
                keep_secs: secs(r.keep),
            };
            if step.secs == 0 || r.step.subsec_nanos() != 0 {
                return Err(invalid(format!(
                    "resolution step {:?} must be whole seconds",
                    r.step
                )));
            }
            if steps
                .last()
                .is_some_and(|last: &Step| step.secs <= last.secs)
            {
                return Err(invalid("resolutions must be listed finest first".into()));
            }
            // Coarser buckets are summed from the finest ones.
            if steps
                .first()
                .is_some_and(|first: &Step| step.secs % first.secs != 0)
            {
                return Err(invalid(format!(
                    "resolution step {:?} must be a multiple of the finest",
                    r.step
                )));
            }
            steps.push(step);
        }
        if steps.is_empty() {
            return Err(invalid("at least one resolution is needed".into()));
        }
        Ok(Self {
            prefix: settings.prefix.clone(),
            shards: settings.shards,
            steps,
            users: Step {
                secs: 3600,
                keep_secs: secs(settings.users_keep),
            },
        })
    }

    /// What every key of this layout starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn shards(&self) -> u16 {
        self.shards
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn users_step(&self) -> Step {
        self.users
    }

    /// The shard of a bucket: spread by family, width and time, so one busy
    /// second does not land on one node. Unique-user sketches all share one shard
    /// so a multi-hour count can merge them (PFCOUNT needs one slot).
    pub fn shard(&self, family: Family, step: i64, bucket: i64) -> u16 {
        let family = match family {
            Family::Users => return 0,
            Family::Seen => Family::Counts,
            other => other,
        };
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in family
            .tag()
            .bytes()
            .chain(step.to_le_bytes())
            .chain(bucket.to_le_bytes())
        {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % u64::from(self.shards)) as u16
    }

    /// The key of one bucket of a family.
    pub fn key(&self, family: Family, step: i64, bucket: i64) -> String {
        let shard = self.shard(family, step, bucket);
        match family {
            Family::Users => format!("{}:{{{shard}}}:users:{bucket}", self.prefix),
            _ => format!(
                "{}:{{{shard}}}:{}:{step}:{bucket}",
                self.prefix,
                family.tag()
            ),
        }
    }

    /// The watermark of a shard for a source stream: the last stream sequence
    /// whose counts are in that shard.
    pub fn watermark_key(&self, shard: u16, source: Source) -> String {
        format!("{}:{{{shard}}}:wm:{}", self.prefix, source.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(shards: u16) -> Layout {
        Layout::new(&CountersSettings {
            shards,
            ..CountersSettings::default()
        })
        .unwrap()
    }

    #[test]
    fn keys_carry_their_shard_as_a_hash_tag() {
        let l = layout(4);
        let key = l.key(Family::Counts, 60, 1_700_000_040);
        let shard = l.shard(Family::Counts, 60, 1_700_000_040);
        assert_eq!(key, format!("sightline:{{{shard}}}:c:60:1700000040"));
        assert_eq!(l.watermark_key(3, Source::Logs), "sightline:{3}:wm:logs");
        assert_eq!(l.key(Family::Users, 3600, 7200), "sightline:{0}:users:7200");
        assert_eq!(
            l.key(Family::Seen, 60, 1_700_000_040),
            format!("sightline:{{{shard}}}:seen:60:1700000040")
        );
    }

    #[test]
    fn buckets_spread_over_every_shard() {
        let l = layout(4);
        let mut seen = [0; 4];
        for second in 0..400 {
            seen[usize::from(l.shard(Family::Counts, 1, 1_700_000_000 + second))] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
        assert!((0..100).all(|b| layout(1).shard(Family::Latency, 60, b * 60) == 0));
    }

    #[test]
    fn buckets_align_before_the_epoch_too() {
        let step = Step {
            secs: 60,
            keep_secs: 3600,
        };
        assert_eq!(step.bucket(119), 60);
        assert_eq!(step.bucket(-1), -60);
        assert_eq!(step.expire_at(60), 60 + 60 + 3600);
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let bad = |s: CountersSettings| Layout::new(&s).unwrap_err().to_string();
        let base = CountersSettings::default;
        assert!(bad(CountersSettings {
            shards: 0,
            ..base()
        })
        .contains("shards"));
        assert!(bad(CountersSettings {
            prefix: "a{b}".into(),
            ..base()
        })
        .contains("prefix"));
        let mut reversed = base();
        reversed.resolutions.reverse();
        assert!(bad(reversed).contains("finest first"));
    }
}
