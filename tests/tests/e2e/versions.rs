//! The version records behind blue/green rebuilds against a real nats-server,
//! including a fault it can be made to produce: a compare-and-set whose answer is
//! lost (the server paused past the request timeout) but which lands.

use std::time::Duration;

use sightline_runtime::versions::{Current, Target, Versions};
use sightline_tests::Stack;

/// A stack, its version records, and the revision of `target`'s as read now.
async fn records(target: Target) -> (Stack, Versions, u64) {
    let stack = Stack::start().await;
    let versions = Versions::open(&stack.bus).await.unwrap();
    let (_, revision) = versions.current(target).await.unwrap();
    (stack, versions, revision)
}

/// Version `version` with no floors yet.
fn version(version: u64) -> Current {
    Current {
        version,
        ..Current::default()
    }
}

/// A switch whose compare-and-set times out but lands (the server was paused, then
/// resumed) is read back and reported as done, not as "nothing was switched" (after
/// which replay would delete a version readers may already be on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_that_lands_after_a_timeout_is_read_back_as_done() {
    let (stack, versions, revision) = records(Target::Counters).await;
    let next = version(7);
    let pid = stack.nats.pid().to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let switching = {
        let versions = versions.clone();
        let next = next.clone();
        tokio::spawn(async move { versions.switch(Target::Counters, revision, &next).await })
    };
    // Past the request timeout, the write still waiting in the paused server.
    tokio::time::sleep(Duration::from_secs(7)).await;
    signal("-CONT");
    switching
        .await
        .unwrap()
        .expect("the switch landed and is read back");
    assert_eq!(versions.current(Target::Counters).await.unwrap().0, next);
}

/// Two rebuilds read the same record; the second to switch loses the
/// compare-and-set and is told so by a kind of its own: a conflict (nothing was
/// switched, its version will never be live), not a configuration error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_switch_is_a_conflict_and_changes_nothing() {
    use sightline_runtime::ErrorKind;
    let (_stack, versions, revision) = records(Target::Search).await;
    let (first, second) = (version(1), version(2));
    versions
        .switch(Target::Search, revision, &first)
        .await
        .unwrap();
    let lost = versions
        .switch(Target::Search, revision, &second)
        .await
        .expect_err("the record changed since it was read");
    assert_eq!(lost.kind(), ErrorKind::Conflict, "{lost}");
    assert_eq!(versions.current(Target::Search).await.unwrap().0, first);
}
