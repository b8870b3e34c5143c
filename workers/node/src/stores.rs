//! The live version of a projection, the counters at a version, and dropping a
//! version once it is replaced. The index and the detections store are opened by
//! their factories (`ConfiguredIndex::open`, `ConfiguredDetections::open`), which
//! live workers, rebuilds and readers all call, so all agree on where version N
//! lives.

use sightline_counters::{Layout, RedisStore};
use sightline_fraud::store::configured::ConfiguredDetections;
use sightline_runtime::versions::{Target, Versions};
use sightline_runtime::Settings;
use sightline_search::store::configured::ConfiguredIndex;

use crate::Error;

/// The version of `target` readers should read now.
pub async fn live_version(settings: &Settings, target: Target) -> Result<u64, Error> {
    let bus = crate::connect(settings).await?;
    Ok(Versions::open(&bus).await?.current(target).await?.0.version)
}

/// `version` of the counters.
pub async fn counters(settings: &Settings, version: u64) -> Result<RedisStore, Error> {
    let url = crate::redis_url(settings)?;
    let layout = Layout::at_version(&settings.counters, version)?;
    Ok(RedisStore::connect(url, layout).await?)
}

/// Deletes `version` of `target` for good: a replaced version once its readers
/// have moved, or what a failed rebuild left.
pub async fn drop_version(settings: &Settings, target: Target, version: u64) -> Result<(), Error> {
    let dir = settings.data_dir.as_path();
    match target {
        Target::Search => ConfiguredIndex::drop_version(&settings.search, dir, version).await?,
        Target::Fraud => ConfiguredDetections::drop_version(&settings.fraud, dir, version).await?,
        Target::Counters => {
            counters(settings, version).await?.drop_keys().await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use sightline_runtime::config::Secret;
    use sightline_runtime::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn a_bad_redis_url_is_a_configuration_error_that_keeps_the_password_out() {
        let mut settings = Settings::default();
        settings.redis.url = Some(Secret("redis//user:hunter2@nowhere".into()));
        let e = counters(&settings, 0).await.err().expect("refused");
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.to_string().contains("redis.url"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
