//! `sightline up` from an empty data dir: its own nats-server and redis-server, every
//! worker and the API in one process; ready within 10 s, events flow through to the
//! API, and a SIGTERM stops everything cleanly, servers included.

use std::process::Command;
use std::time::{Duration, Instant};

use sightline_tests::up::Up;
use sightline_tests::{eventually, sightline_bin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_is_ready_within_10_s_carries_events_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();
    // Killed on drop, so a failing assertion leaves no server behind.
    let started_up = Up::start(dir.path(), &data).await;
    let (dashboard, nats, redis) = (
        started_up.dashboard.clone(),
        started_up.nats.clone(),
        started_up.redis.clone(),
    );
    let http = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(10), || async {
        let r = http.get(format!("{dashboard}readyz")).send().await;
        r.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(ready, "/readyz answers 200");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ready in {:?}",
        started.elapsed()
    );

    started_up.generate(dir.path(), 500, 7);
    let mut up = started_up.process;
    let json = |path: &str| {
        let (http, url) = (http.clone(), format!("{dashboard}{path}"));
        async move {
            let r = http.get(url).send().await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&r.bytes().await.unwrap()).unwrap()
        }
    };
    assert!(
        eventually(Duration::from_secs(30), || async {
            let events = "transaction,error,user_behavior,performance,security";
            let searched =
                json(&format!("api/search?size=1&kind={events}")).await["total"].as_u64();
            let counted = json("api/logs/stats?window=1h").await["total"].as_u64();
            searched == Some(500) && counted == Some(500)
        })
        .await,
        "the events are searchable and counted"
    );

    // `sightline status` reads the same watermarks from outside.
    let status = Command::new(sightline_bin())
        .args(["status", "--json"])
        .env("SIGHTLINE_NATS__URL", &nats)
        .env("SIGHTLINE_REDIS__URL", &redis)
        .env("SIGHTLINE_DATA_DIR", &data)
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["watermarks"]["logs"], 500, "{status}");
    assert_eq!(status["lag"]["search"], 0, "{status}");
    assert_eq!(status["lag"]["counters"], 0, "{status}");

    let nats_addr = nats.trim_start_matches("nats://").to_owned();
    let term = Command::new("kill")
        .args(["-TERM", &up.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = up.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "sightline up stops within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean stop exits 0: {status}");
    assert!(
        std::net::TcpStream::connect(&nats_addr).is_err(),
        "its nats-server stopped with it"
    );
    for part in [
        "nats",
        "redis",
        "search/tantivy/meta.json",
        "fraud/detections.sqlite",
    ] {
        assert!(data.join(part).exists(), "{part} under the data dir");
    }
}
