//! `sightline alerts test-route` as an operator runs it, over a configured route
//! tree: where an alert goes, and a tree that names a missing receiver refused.

use std::process::Command;

const CONFIG: &str = r#"
[[alerts.receivers]]
name = "ops"
url = "http://127.0.0.1:9/ops"
format = "webhook"

[[alerts.receivers]]
name = "pager"
url = "http://127.0.0.1:9/pager"
format = "alertmanager"

[[alerts.time_intervals]]
name = "always"
times = ["00:00-24:00"]

[alerts.route]
receiver = "ops"

[[alerts.route.routes]]
matchers = ["severity=P1"]
receiver = "pager"
group_by = ["service"]
repeat_interval = "1h"
continue = true

[[alerts.route.routes]]
matchers = ["service=~check.*"]
mute_time_intervals = ["always"]
"#;

fn test_route(config: &str, labels: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sightline.toml");
    std::fs::write(&path, config).unwrap();
    Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("--config")
        .arg(&path)
        .args(["alerts", "test-route", "--json"])
        .args(labels)
        .output()
        .unwrap()
}

fn routes(labels: &[&str]) -> Vec<serde_json::Value> {
    let out = test_route(CONFIG, labels);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["routes"].as_array().unwrap().clone()
}

#[test]
fn an_alert_reaches_the_routes_its_labels_match() {
    // A P1 on checkout pages, then (continue) the checkout route takes it too,
    // inheriting the root's receiver, muted now.
    let r = routes(&["alertname=HighErrorRate", "severity=P1", "service=checkout"]);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0]["route"], "0");
    assert_eq!(r[0]["receiver"], "pager");
    assert_eq!(r[0]["group_by"], serde_json::json!(["service"]));
    assert_eq!(r[0]["repeat_interval"], "1h");
    assert_eq!(r[0]["muted_now"], false);
    assert_eq!(r[1]["route"], "1");
    assert_eq!(r[1]["receiver"], "ops");
    assert_eq!(r[1]["muted_now"], true);
    // Nothing else matches: the root.
    let r = routes(&["severity=P3", "service=search"]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["route"], "root");
    assert_eq!(r[0]["receiver"], "ops");
}

#[test]
fn a_route_to_a_missing_receiver_is_refused_by_name() {
    let broken = CONFIG.replace("receiver = \"pager\"", "receiver = \"pagr\"");
    let out = test_route(&broken, &["severity=P1"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"pagr\""), "{stderr}");
}
