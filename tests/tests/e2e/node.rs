//! The node in process: `Up::start` is what `sightline up` runs, called here as a
//! library (its own nats-server and redis-server, every role, the API). Events
//! published to it reach the index and the counters; asked to stop, it stops the
//! workers and the API, then its servers.

use std::time::Duration;

use sightline_generator::Generator;
use sightline_node::up::{Ports, Up};
use sightline_runtime::publisher::Publisher;
use sightline_runtime::{Bus, Settings};
use sightline_schemas::OffsetDateTime;

const EVENTS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_in_process_carries_events_to_the_api_and_stops_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().join("data"),
        ..Settings::default()
    };
    settings.consumer.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    settings.consumer.batch_linger = Duration::from_millis(20);
    let ports = Ports {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        nats: 0,
        redis: 0,
    };
    let up = Up::start(settings.clone(), ports).await.expect("up starts");
    assert!(
        up.started_redis.is_some(),
        "it started its own redis-server"
    );
    let (dashboard, nats) = (up.dashboard.clone(), up.nats.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(up.run_until(async {
        let _ = stopped.await;
    }));

    settings.nats.url = Some(nats.clone());
    let in_flight = settings.publisher.max_in_flight;
    let bus = Bus::connect(&settings.nats, in_flight)
        .await
        .expect("its NATS");
    let start = OffsetDateTime::now_utc() - Duration::from_secs(60);
    let events: Vec<_> = Generator::new(5, start, 200).take(EVENTS).collect();
    let publisher = Publisher::new(&bus, &settings.publisher);
    let mut pipeline = publisher.pipeline();
    for event in &events {
        pipeline.send(event).await.unwrap();
    }
    let last = pipeline.finish().await.unwrap().last_sequence;
    assert_eq!(last, EVENTS as u64);

    let http = reqwest::Client::new();
    let kinds = "transaction,error,user_behavior,performance,security";
    let get = |path: String| {
        let request = http
            .get(format!("{dashboard}{path}"))
            .header("Sightline-Wait-For", last.to_string());
        async move {
            let answer = request.send().await.expect("the API answers");
            assert_eq!(answer.status(), 200);
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let searched = get(format!("api/search?size=1&kind={kinds}")).await;
    assert_eq!(searched["total"], EVENTS, "{searched}");
    let counted = get("api/logs/stats?window=1h".into()).await;
    assert_eq!(counted["total"], EVENTS, "{counted}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("stops within 30 s")
        .unwrap()
        .expect("a clean stop");
    let nats_addr = nats.trim_start_matches("nats://");
    assert!(
        std::net::TcpStream::connect(nats_addr).is_err(),
        "its nats-server stopped"
    );
}
