//! Connecting to NATS with the configured credentials.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::kv;

use crate::config::NatsSettings;
use crate::error::Error;

/// A connected client and its JetStream context.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
}

impl Bus {
    pub async fn connect(settings: &NatsSettings, max_ack_inflight: usize) -> Result<Self, Error> {
        let url = settings
            .url
            .as_deref()
            .ok_or_else(|| Error::Config("nats.url is not set".into()))?;
        let mut opts = async_nats::ConnectOptions::new()
            .name("sightline")
            .connection_timeout(settings.connect_timeout)
            .request_timeout(Some(settings.request_timeout));
        if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
            opts = opts.user_and_password(user.clone(), password.0.clone());
        }
        if let Some(token) = &settings.token {
            opts = opts.token(token.0.clone());
        }
        if let Some(path) = &settings.credentials_file {
            opts = opts
                .credentials_file(path)
                .await
                .map_err(|e| Error::Config(format!("nats.credentials_file: {e}")))?;
        }
        let client = opts
            .connect(url)
            .await
            .map_err(|e| Error::nats("connect", e))?;
        let js = jetstream::ContextBuilder::new()
            .timeout(settings.request_timeout)
            .ack_timeout(settings.request_timeout)
            .max_ack_inflight(max_ack_inflight.max(1))
            .build(client.clone());
        Ok(Self { client, js })
    }
}

/// The key-value bucket `name`, created when missing.
pub async fn bucket(
    bus: &Bus,
    name: &str,
    description: &str,
    max_age: Duration,
    history: i64,
) -> Result<kv::Store, Error> {
    if let Ok(store) = bus.js.get_key_value(name).await {
        return Ok(store);
    }
    bus.js
        .create_key_value(kv::Config {
            bucket: name.into(),
            description: description.into(),
            history,
            max_age,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::nats("create key-value bucket", e))
}
