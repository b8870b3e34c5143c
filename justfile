# Sightline tasks. `ops/install.sh` puts just itself in .tools/venv/bin.
set shell := ["bash", "-euo", "pipefail", "-c"]
export PATH := justfile_directory() + "/.tools/venv/bin:" + env_var("PATH")

# Install the servers and tools the tests need (idempotent).
setup:
    ops/install.sh

# Build once, then run every test against real servers.
test: setup
    cargo build --workspace --bins --tests
    cargo test --workspace

# Formatting, lints (warnings are errors) and the stale-JSON-Schema check.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Regenerate schemas/json/ from the Rust types.
schemas:
    UPDATE_JSON_SCHEMAS=1 cargo test -p sightline-schemas --test json_schema

# Benchmarks print JSON; they start their own servers. Not part of CI.
bench: setup
    cargo build --release -p sightline-cli
    ./target/release/sightline bench publish
    ./target/release/sightline bench indexer
    ./target/release/sightline bench fraud
    ./target/release/sightline bench counters

# Start a throwaway NATS server with the streams applied, for trying the CLI by hand.
nats port="4222": setup
    mkdir -p data/nats && nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats

# The main job on one machine, until `sightline up` lands: a NATS server under ./data,
# the streams, the indexer and fraud workers, seeded traffic through the real Publisher,
# then searches and fraud detections.
demo events="20000" port="4222": setup
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p sightline-cli
    sl=./target/release/sightline
    mkdir -p data
    nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats > data/nats.log 2>&1 &
    pids=$!
    trap 'kill $pids 2>/dev/null; wait 2>/dev/null' EXIT
    export SIGHTLINE_NATS__URL=nats://127.0.0.1:{{port}}
    for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/{{port}}) 2>/dev/null && break; sleep 0.1; done
    $sl streams apply
    $sl worker indexer > data/indexer.log 2>&1 &
    pids="$pids $!"
    $sl worker fraud > data/fraud.log 2>&1 &
    pids="$pids $!"
    $sl worker fraud-store > data/fraud-store.log 2>&1 &
    pids="$pids $!"
    $sl generate --count {{events}} --start "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" --publish
    expected=$($sl streams status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["messages"])')
    for _ in $(seq 300); do [ "$($sl search --count 2>/dev/null || echo 0)" -ge "$expected" ] && break; sleep 0.2; done
    $sl streams status
    echo "indexed: $($sl search --count) of $expected events"
    $sl search connection pool --kind error --size 3
    $sl search payment failed --size 3
    # Caught up when the scorer and the store have nothing pending.
    idle='import json,sys; c=[c for s in json.load(sys.stdin) for c in s["consumers"] if c["name"] in ("fraud","fraud-store")]; print(int(len(c)==2 and all(x["pending"]+x["ack_pending"]==0 for x in c)))'
    for _ in $(seq 300); do [ "$($sl streams status --json | python3 -c "$idle")" = 1 ] && break; sleep 0.2; done
    $sl fraud stats
    $sl fraud list --min-score 80 --limit 3
