//! `sightline replay --projection fraud --rescore`: after a rule change, LOGS is
//! scored again under the new rules into a new version of the detections store,
//! exactly as a straight scoring under those rules says, while the live scorer
//! keeps running; analysts' verdicts carry over to the same transactions.

use std::collections::HashMap;
use std::time::Duration;

use sightline_fraud::store::configured::{Access, ConfiguredDetections};
use sightline_fraud::store::{DetectionQuery, DetectionStore};
use sightline_fraud::{Rates, Rules, Scorer};
use sightline_node::stores::live_version;
use sightline_runtime::versions::Target;
use sightline_schemas::{Event, Uuid, VerdictKind};
use sightline_tests::{eventually, fraud_traffic, straight_scoring, Redis, Stack};

/// The built-in rules under another version, reporting only from `report_score`.
fn changed_rules(dir: &std::path::Path, report_score: u8) -> (std::path::PathBuf, Rules) {
    let builtin = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/fraud-rules.toml"
    ))
    .unwrap();
    let version = Rules::default().version;
    let text = builtin
        .replace(
            &format!("version = \"{version}\""),
            "version = \"rescore-test.2\"",
        )
        .replace(
            "report_score = 30",
            &format!("report_score = {report_score}"),
        );
    let path = dir.join("rules-v2.toml");
    std::fs::write(&path, text).unwrap();
    let rules = Rules::load(&path, Rates::default()).unwrap();
    assert_eq!(rules.version, "rescore-test.2");
    (path, rules)
}

fn scored_under(rules: &Rules, events: &[Event]) -> HashMap<Uuid, (u32, u8, String)> {
    let mut scorer = Scorer::new(rules.clone());
    let mut out = HashMap::new();
    for e in events {
        for d in scorer.observe(e) {
            out.insert(d.id, (d.revision, d.score, d.transaction_id));
        }
    }
    out
}

async fn live_store(stack: &Stack) -> Option<ConfiguredDetections> {
    let s = &stack.settings;
    let version = live_version(s, Target::Fraud).await.ok()?;
    ConfiguredDetections::open(&s.fraud, &s.data_dir, version, Access::ReadOnly)
        .await
        .ok()
}

async fn stored(stack: &Stack) -> u64 {
    match live_store(stack).await {
        Some(store) => store.count().await.unwrap_or(0),
        None => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescore_rebuilds_detections_under_new_rules_and_keeps_verdicts() {
    let stack = Stack::start().await;
    let (events, scored) = fraud_traffic(47, 8_000);
    stack.publish(&events).await;
    let before = straight_scoring(&scored);
    assert!(before.len() > 50, "the traffic has fraud: {}", before.len());
    let store_worker = stack.worker("fraud-store", &[]);
    let scorer = stack.worker("fraud", &[]);
    let all = eventually(Duration::from_secs(120), || async {
        stored(&stack).await == before.len() as u64
    })
    .await;
    assert!(all, "stored {} of {}", stored(&stack).await, before.len());

    // An analyst's verdict on one detection under the old rules.
    let store = live_store(&stack).await.unwrap();
    let query = DetectionQuery {
        min_score: Some(50),
        limit: 1,
        ..Default::default()
    };
    let judged = store.list(&query).await.unwrap().remove(0);
    let id = judged.id.to_string();
    let out = stack.sightline(
        &["fraud", "verdict", &id, "confirmed", "--analyst", "ana"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The rules change; the whole of LOGS is scored again under them.
    let (path, rules) = changed_rules(&stack.path(""), 45);
    let expected = scored_under(&rules, &scored);
    assert!(expected.len() < before.len(), "the new rules report fewer");
    // Slowed down, so `status` can be seen saying the next version is being built.
    let replay = stack
        .command(&[
            "replay",
            "--projection",
            "fraud",
            "--rescore",
            "--rate",
            "1500",
        ])
        .env("SIGHTLINE_FRAUD__RULES_FILE", &path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let redis = Redis::start(false);
    let last = std::sync::Mutex::new(String::new());
    let seen = eventually(Duration::from_secs(30), || async {
        let mut status = stack.command(&["status", "--json"]);
        let out = status
            .env("SIGHTLINE_REDIS__URL", redis.url())
            .output()
            .unwrap();
        *last.lock().unwrap() = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        status["rebuilding"]["fraud"]
            .as_str()
            .is_some_and(|by| by.contains("--rescore"))
            && status["versions"]["fraud"]["version"] == 0
    })
    .await;
    assert!(
        seen,
        "status shows the live version and the rescore building the next: {}",
        last.lock().unwrap()
    );
    let replay = replay.wait_with_output().unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );

    let store = live_store(&stack).await.expect("the new version");
    assert_eq!(
        live_version(&stack.settings, Target::Fraud).await.unwrap(),
        1
    );
    assert_eq!(store.count().await.unwrap(), expected.len() as u64);
    for (id, (revision, score, _)) in &expected {
        let d = store
            .get(id)
            .await
            .unwrap()
            .expect("every detection of the new rules");
        assert_eq!(
            (d.revision, d.score, d.rules_version.as_str()),
            (*revision, *score, "rescore-test.2")
        );
    }
    // The verdict belongs to the transaction: it is on its detection under the new rules.
    // (Only the report score changed, so a payment that scored 50 is reported again.)
    let renewed = expected
        .iter()
        .find(|(_, (_, _, tx))| *tx == judged.transaction_id)
        .map(|(id, _)| *id)
        .expect("the judged payment is reported under the new rules");
    assert_ne!(renewed, judged.id, "a new detection id under the new rules");
    let d = store.get(&renewed).await.unwrap().unwrap();
    assert_eq!(d.verdict.map(|v| v.verdict), Some(VerdictKind::Confirmed));
    let verdicts = store.verdicts(None).await.unwrap();
    assert_eq!(verdicts.len(), 1, "carried over from FRAUD");
    assert_eq!(verdicts[0].transaction_id, judged.transaction_id);
    // The live scorer kept running through it.
    assert!(stack.consumer_caught_up("LOGS", "fraud").await);
    scorer.stop();
    store_worker.stop();
}
