//! docker-compose.yml cannot run here (no Docker engine), but it must validate:
//! Debian's docker-compose (1.29) accepts it, refuses to start without the PII key,
//! runs every Sightline role, Prometheus scrapes each of them, and the Sightline
//! configuration it mounts loads.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sightline_runtime::config::{FraudBackend, SearchBackend};
use sightline_runtime::Settings;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn compose(args: &[&str], pii_key: Option<&str>) -> Output {
    let mut cmd = Command::new("docker-compose");
    cmd.args(args)
        .current_dir(repo())
        .env_remove("SIGHTLINE_PII_KEY");
    if let Some(key) = pii_key {
        cmd.env("SIGHTLINE_PII_KEY", key);
    }
    cmd.output()
        .expect("docker-compose installed (ops/install.sh)")
}

#[test]
fn docker_compose_config_accepts_the_stack() {
    let key = "ab".repeat(32);
    let valid = compose(&["config", "-q"], Some(&key));
    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stderr)
    );

    let missing = compose(&["config", "-q"], None);
    assert!(!missing.status.success(), "the PII key is required");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("SIGHTLINE_PII_KEY"));

    let services = compose(&["config", "--services"], Some(&key));
    let services: Vec<String> = String::from_utf8_lossy(&services.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let roles = [
        "indexer",
        "fraud",
        "fraud-store",
        "counters",
        "alerts",
        "api",
    ];
    for name in [
        "nats",
        "elasticsearch",
        "mongodb",
        "redis",
        "prometheus",
        "grafana",
        "streams",
    ]
    .into_iter()
    .chain(roles)
    {
        assert!(services.iter().any(|s| s == name), "{name} in {services:?}");
    }

    let scrape = std::fs::read_to_string(repo().join("ops/prometheus/prometheus.yml")).unwrap();
    for role in roles {
        let port = if role == "api" { 8080 } else { 9100 };
        assert!(
            scrape.contains(&format!("- {role}:{port}")),
            "Prometheus scrapes {role}"
        );
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("ops/grafana/dashboards/sightline.json")).unwrap(),
    )
    .expect("the Grafana dashboard is JSON");
    assert!(dashboard["panels"].as_array().unwrap().len() >= 8);
}

#[test]
fn the_mounted_configuration_loads_with_the_scale_out_backends() {
    let settings = Settings::load(Some(&repo().join("ops/compose/sightline.toml")))
        .expect("ops/compose/sightline.toml loads");
    assert_eq!(settings.search.backend, SearchBackend::Elasticsearch);
    assert_eq!(settings.fraud.backend, FraudBackend::Mongodb);
    assert_eq!(settings.nats.url.as_deref(), Some("nats://nats:4222"));
    assert!(settings.redis.url.is_some());
}
