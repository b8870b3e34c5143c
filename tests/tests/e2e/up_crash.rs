//! `sightline up` killed with SIGKILL ten times on one data dir, at different
//! moments (right after it is up, while events arrive, once they are in): its
//! nats-server and redis-server die with it every time, every restart comes up, and
//! the projections end with every event counted and indexed once.

use std::path::Path;
use std::time::Duration;

use sightline_tests::eventually;
use sightline_tests::up::Up;

const CYCLES: u64 = 10;
const PER_CYCLE: u64 = 300;

/// The pid a child server wrote in its pid file.
fn server_pid(data: &Path, file: &str) -> u32 {
    std::fs::read_to_string(data.join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: u32) -> bool {
    // A zombie has an empty command line: it is gone but for its parent's wait.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Events the API reports as searchable and as counted.
async fn projected(up: &Up) -> (Option<u64>, Option<u64>) {
    let kinds = "transaction,error,user_behavior,performance,security";
    let searched = up.json(&format!("api/search?size=1&kind={kinds}")).await;
    let counted = up.json("api/logs/stats?window=1h").await;
    (
        searched.and_then(|s| s["total"].as_u64()),
        counted.and_then(|c| c["total"].as_u64()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_kills_and_restarts_on_one_data_dir_end_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for cycle in 1..=CYCLES {
        let mut up = Up::start(dir.path(), &data).await;
        assert!(
            up.ready_within(Duration::from_secs(30)).await,
            "cycle {cycle}: up answers /readyz"
        );
        let servers = [
            server_pid(&data, "nats/nats-server.pid"),
            server_pid(&data, "redis/redis-server.pid"),
        ];
        up.generate(dir.path(), PER_CYCLE, cycle);
        let published = cycle * PER_CYCLE;
        // Crash points: at once, while the workers are still applying, or with
        // everything projected.
        match cycle % 3 {
            0 => {}
            1 => tokio::time::sleep(Duration::from_millis(300)).await,
            _ => assert!(
                eventually(Duration::from_secs(60), || async {
                    projected(&up).await == (Some(published), Some(published))
                })
                .await,
                "cycle {cycle}: {:?} of {published}",
                projected(&up).await
            ),
        }
        up.process.kill();
        assert!(
            eventually(Duration::from_secs(15), || async {
                servers.iter().all(|pid| !alive(*pid))
            })
            .await,
            "cycle {cycle}: the servers die with up"
        );
    }
    let up = Up::start(dir.path(), &data).await;
    assert!(up.ready_within(Duration::from_secs(30)).await);
    let all = CYCLES * PER_CYCLE;
    assert!(
        eventually(Duration::from_secs(90), || async {
            projected(&up).await == (Some(all), Some(all))
        })
        .await,
        "every event once: {:?} of {all}",
        projected(&up).await
    );
}
