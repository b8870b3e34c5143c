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

# Start a throwaway NATS server with the streams applied, for trying the CLI by hand.
nats port="4222": setup
    mkdir -p data/nats && nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats

# The main job on one machine, until `sightline up` lands: a NATS server under ./data,
# the streams, and seeded traffic published through the real Publisher.
demo events="20000" port="4222": setup
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p sightline-cli
    mkdir -p data
    nats-server -js -a 127.0.0.1 -p {{port}} -sd data/nats > data/nats.log 2>&1 &
    trap 'kill $!' EXIT
    export SIGHTLINE_NATS__URL=nats://127.0.0.1:{{port}}
    for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/{{port}}) 2>/dev/null && break; sleep 0.1; done
    ./target/release/sightline streams apply
    ./target/release/sightline generate --count {{events}} --start "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" --publish
    ./target/release/sightline streams status
