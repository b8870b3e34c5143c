# Sightline in a container: one image, every role (`sightline worker <kind>`,
# `sightline api`, `sightline streams apply`...), chosen by the command.
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sightline-cli \
    && cp target/release/sightline /usr/local/bin/sightline

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/sightline --create-home sightline
COPY --from=build /usr/local/bin/sightline /usr/local/bin/sightline
USER sightline
WORKDIR /var/lib/sightline
ENV SIGHTLINE_DATA_DIR=/var/lib/sightline \
    SIGHTLINE_TELEMETRY__LOG_FORMAT=json \
    SIGHTLINE_CONSUMER__METRICS_ADDR=0.0.0.0:9100
EXPOSE 8080 9100
ENTRYPOINT ["sightline"]
CMD ["--help"]
