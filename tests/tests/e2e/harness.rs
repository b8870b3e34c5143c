//! The test kit itself: servers come up on random ports and are gone after drop.

use std::io::{Read, Write};
use std::net::TcpStream;

use sightline_tests::{Redis, Stack};

#[test]
fn redis_answers_on_a_random_port_and_stops_on_drop() {
    let a = Redis::start(false);
    let b = Redis::start(true);
    assert_ne!(a.server.port(), b.server.port());
    let addr = a.server.addr();
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.write_all(b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    conn.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");
    let dir = a.dir.path().to_owned();
    drop(conn);
    drop(a);
    assert!(
        TcpStream::connect(addr).is_err(),
        "redis still listening after drop"
    );
    assert!(!dir.exists(), "temporary data dir left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_runs_jetstream_and_stops_on_drop() {
    let stack = Stack::start().await;
    assert_eq!(stack.stream_messages("LOGS").await, 0);
    let addr = stack.nats.addr();
    drop(stack);
    assert!(
        TcpStream::connect(addr).is_err(),
        "nats-server still listening after drop"
    );
}
