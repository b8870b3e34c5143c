//! Reading the counters' Redis back whole, to compare two builds of it, and what
//! a straight single pass of the planner says it should hold.

use std::collections::BTreeMap;

use sightline_counters::layout::Layout;
use sightline_counters::plan::{Op, Planner};
use sightline_patterns::{Miner, MinerConfig};
use sightline_schemas::{headline, Event, OffsetDateTime};

/// Every counter hash under the prefix (keys `<prefix>:{shard}:...`): key -> field
/// -> value (watermarks, HyperLogLog sketches and the sets of counted detections
/// left out).
pub type Dump = BTreeMap<String, BTreeMap<String, i64>>;

pub async fn dump(url: &str, prefix: &str) -> Dump {
    let client = redis::Client::open(url).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connects");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:{{*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    let mut out = Dump::new();
    for key in keys {
        if key.contains(":wm:") || key.contains(":users:") || key.contains(":seen:") {
            continue;
        }
        let fields: BTreeMap<String, i64> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("a counter hash");
        out.insert(key, fields);
    }
    out
}

/// The hashes one pass of the planner over all `events` writes, without patterns.
pub fn expected(layout: &Layout, events: &[Event]) -> Dump {
    planned(layout, events, None)
}

/// The hashes one pass of the planner writes with each event's pattern found
/// by one fresh miner reading the events in order, as the counters worker does.
pub fn expected_with_patterns(layout: &Layout, events: &[Event]) -> Dump {
    planned(layout, events, Some(Miner::new(MinerConfig::default())))
}

fn planned(layout: &Layout, events: &[Event], mut miner: Option<Miner>) -> Dump {
    let mut planner = Planner::new(layout, OffsetDateTime::now_utc().unix_timestamp());
    for e in events {
        let message = e.message();
        let pattern = miner
            .as_mut()
            .zip(headline(&message))
            .map(|(m, line)| m.assign(line).to_owned());
        planner.add_event(e, pattern.as_deref());
    }
    let mut out = Dump::new();
    for write in planner.finish().into_iter().flat_map(|s| s.keys) {
        if let Op::Incr(fields) = write.op {
            let entry = out.entry(write.key).or_default();
            for (field, n) in fields {
                *entry.entry(field).or_default() += n;
            }
        }
    }
    out
}

/// Deletes every key of the database (a projection thrown away).
pub async fn flush(url: &str) {
    let client = redis::Client::open(url).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connects");
    let _: () = redis::cmd("FLUSHDB")
        .query_async(&mut conn)
        .await
        .expect("FLUSHDB");
}
